"""The password of `observatoire run --warehouse postgresql+psycopg://user:PASSWORD@…` reaches
the warehouse connection and nothing else: not the flow run's parameters, logs or artifacts
as a real Prefect server's API returns them, not that server's database file, not the
warehouse's rows, not the workbooks or any other file written, not the command's output.

A real `prefect server` (free port, its own PREFECT_HOME and database in tmp, bounded waits,
killed at the end) and a real PostgreSQL login with a password, created for the test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from observatoire import warehouse
from tests.support.small_campaign import write_small_campaign
from tests.conftest import PG_ADMIN_URL
from tests.support.prefect_server import prefect_server

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

REPO = Path(__file__).resolve().parents[2]
OBSERVATOIRE = str(Path(sys.executable).with_name("observatoire"))


@pytest.fixture
def pg_login(postgres_admin):
    """A login with a password and its own database; both dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    login, database, password = f"etl_secret_{suffix}", f"observatoire_secret_{suffix}", f"SECRETPW{suffix}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f"CREATE ROLE \"{login}\" LOGIN PASSWORD '{password}'"))
        connection.execute(sa.text(f'CREATE DATABASE "{database}" OWNER "{login}"'))
    host = PG_ADMIN_URL.rsplit("/", 1)[0].split("@", 1)[1]
    yield {"url": f"postgresql+psycopg://{login}:{password}@{host}/{database}", "password": password,
           "admin_url": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}"}
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(sa.text(f'DROP ROLE IF EXISTS "{login}"'))


def _files_holding(root: Path, secret: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and secret in path.read_bytes()]



def _run_with_password_url(campaign, url: str, password: str, out, env: dict, cwd, timeout: float):
    """`observatoire run` on the small campaign's region 84 with a warehouse URL that holds
    the password: it succeeds, and the password is in none of what it prints."""
    done = subprocess.run(
        [OBSERVATOIRE, "run", "--year", "2024", "--region", "84", "--submissions", str(campaign.submissions),
         "--finess", str(campaign.finess), "--warehouse", url, "--output-dir", str(out)],
        env=env, cwd=cwd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")[-3000:]
    assert password.encode() not in done.stdout + done.stderr
    return done

def test_the_warehouse_password_reaches_no_parameter_log_artifact_or_file(pg_login, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    password = pg_login["password"]
    campaign = write_small_campaign(tmp_path / "data")
    with prefect_server(tmp_path / "server") as (api_url, server_database):
        out = tmp_path / "rapports"
        run_env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(tmp_path / "client-home"),
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "DEBUG"}
        run_env.pop("OBSERVATOIRE_WAREHOUSE_URL", None)
        done = _run_with_password_url(campaign, pg_login["url"], password, out, run_env, tmp_path, timeout=480)

        # the run did reach the warehouse with the password: the campaign is there
        admin = sa.create_engine(pg_login["admin_url"])
        with admin.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM centre_year_status")).scalar() == 4
            tables = [name for (name,) in connection.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
            dumped = {name: json.dumps([list(map(str, row)) for row in connection.execute(
                sa.text(f"SELECT * FROM {name}"))]) for name in tables}
        admin.dispose()
        assert not [name for name, text in dumped.items() if password in text]
        assert "***" in dumped["pipeline_run"]

        with temporary_settings({PREFECT_API_URL: api_url}):
            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs()
                assert runs, "aucune exécution enregistrée par le serveur"
                ids = [run.id for run in runs]
                # the CLI flushed its logs on exit; the server may still be writing them
                logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
                artifacts = client.read_artifacts()
                task_runs = client.read_task_runs()
        campaign_run = next(run for run in runs if run.name == "campagne-2024-r84")
        shown = campaign_run.parameters["params"]["warehouse_url"]
        assert shown == warehouse.redact(pg_login["url"]) and "***" in shown
        assert logs and artifacts
        for label, payload in (
            ("paramètres", [run.model_dump(mode="json") for run in runs]),
            ("journaux", [log.model_dump(mode="json") for log in logs]),
            ("artefacts", [artifact.model_dump(mode="json") for artifact in artifacts]),
            ("tâches", [task_run.model_dump(mode="json") for task_run in task_runs]),
        ):
            assert password not in json.dumps(payload), label
    # everything the server stored (its SQLite database, journal included), the command's
    # Prefect home, the workbooks and any other file written under tmp
    assert server_database.stat().st_size > 0
    assert _files_holding(tmp_path, password.encode()) == []
    assert sorted(p.name for p in out.iterdir()) == ["campagne-2024-r84-retours.xlsx", "relance_2024_region_84.xlsx"]


def test_a_masked_url_without_its_password_here_is_refused_in_one_line():
    from observatoire.errors import CampaignError

    with pytest.raises(CampaignError, match=r"mot de passe est masqué.*bloc Secret"):
        warehouse.connect("postgresql+psycopg://chargeur:***@127.0.0.1:1/observatoire")


@pytest.mark.parametrize("url", ["postgresql+psycopg://u:S3cr%40t@h/db", "postgresql+psycopg://u@h/db?password=S3cr",
                                 "pas une url u:S3cr@h"])
def test_redact_hides_every_form_of_password(url):
    assert "S3cr" not in warehouse.redact(url)


def test_without_prefect_the_password_still_reaches_only_the_connection(pg_login, tmp_path):
    """The command without a Prefect server (in-process run): the masked URL of the
    parameters gets its password back at the connection, and nothing else holds it."""
    password = pg_login["password"]
    campaign = write_small_campaign(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API") and k != "OBSERVATOIRE_WAREHOUSE_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    _run_with_password_url(campaign, pg_login["url"], password, tmp_path / "out", env, tmp_path, timeout=300)
    admin = sa.create_engine(pg_login["admin_url"])
    with admin.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM centre_year_status")).scalar() == 4
        recorded = connection.execute(sa.text("SELECT parameters FROM pipeline_run")).scalar()
    admin.dispose()
    assert password not in recorded and "***" in recorded
    assert _files_holding(tmp_path, password.encode()) == []
