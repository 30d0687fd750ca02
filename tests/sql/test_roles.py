"""The PostgreSQL roles of deploy/README.md, with real logins (LOGIN roles with a password):
an administrator creates the warehouse and the roles once; a loader login migrates and
loads, run after run; an analyst login reads every table and view and writes nothing (no
table, no temporary table, no large object) and cannot take the advisory locks of a load.

Roles are cluster-wide and other checkouts test on the same server: every role name here is
unique to the test, and the test's database is dropped before its roles."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from observatoire import run_lock, warehouse
from observatoire.cli import main
from observatoire.reports.relance import relance_main
from tests.support.small_campaign import write_small_campaign
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

PASSWORD = "Mdp-essai-7"


@pytest.fixture
def cluster(postgres_admin):
    """A fresh database and unique role names; the database, then the roles, dropped after."""
    suffix = uuid.uuid4().hex[:10]
    names = {"owner": f"obs_prop_{suffix}", "loader": f"obs_charg_{suffix}", "analyst": f"obs_anal_{suffix}"}
    logins = {"loader": f"etl_{suffix}", "analyst": f"ars_{suffix}"}
    database = f"observatoire_roles_{suffix}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    host = base.split("@", 1)[1]
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    engines = []

    def login_url(kind: str) -> str:
        return f"postgresql+psycopg://{logins[kind]}:{PASSWORD}@{host}/{database}"

    def engine(url: str):
        engines.append(warehouse.connect(url))
        return engines[-1]

    yield {"names": names, "logins": logins, "admin_url": f"{base}/{database}", "login_url": login_url,
           "engine": engine, "create_logins": lambda: _create_logins(postgres_admin, names, logins)}
    for opened in engines:
        opened.dispose()
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        for role in [*logins.values(), names["analyst"], names["loader"], names["owner"]]:
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))


def _create_logins(admin, names, logins) -> None:
    with admin.connect() as connection:
        for kind, login in logins.items():
            connection.execute(sa.text(
                f"CREATE ROLE \"{login}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE \"{names[kind]}\""))


def _relations(engine) -> list[str]:
    inspector = sa.inspect(engine)
    return sorted(inspector.get_table_names() + inspector.get_view_names())


def _denied(engine, statement: str, params: dict | None = None) -> None:
    with engine.connect() as connection:
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
            connection.execute(sa.text(statement), params or {})
        connection.rollback()


def _run(campaign, url: str, out) -> int:
    return main(["run", "--year", "2024", "--region", "84", "--submissions", str(campaign.submissions),
                 "--finess", str(campaign.finess), "--warehouse", url, "--output-dir", str(out)])


@pytest.mark.parametrize("admin_migrates_first", [True, False], ids=["entrepot-cree-par-admin", "roles-d-abord"])
def test_loader_login_migrates_and_loads_and_analyst_login_only_reads(cluster, prefect_harness, tmp_path,
                                                                      admin_migrates_first):
    admin = cluster["engine"](cluster["admin_url"])
    if admin_migrates_first:  # the warehouse exists before the roles: the "must be owner of view"
        warehouse.migrate(admin)
    warehouse.apply_roles(admin, **cluster["names"])
    warehouse.apply_roles(admin, **cluster["names"])  # the administrator may run it again
    cluster["create_logins"]()
    loader_url, analyst_url = cluster["login_url"]("loader"), cluster["login_url"]("analyst")

    campaign = write_small_campaign(tmp_path / "data")
    assert _run(campaign, loader_url, tmp_path / "out") == 0  # migrations, FINESS snapshot, load, workbooks
    # a rerun without Prefect (the command's in-process path: its run lock is a session advisory lock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run([str(Path(sys.executable).with_name("observatoire")), "run", "--year", "2024", "--region",
                           "84", "--submissions", str(campaign.submissions), "--finess", str(campaign.finess),
                           "--warehouse", loader_url, "--output-dir", str(tmp_path / "out")],
                          env={**env, "PREFECT_HOME": str(tmp_path / "prefect-home")}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert warehouse.migrate(admin) == []  # an administrator's migrate keeps the same owner

    with admin.connect() as connection:
        owners = dict(connection.execute(sa.text(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')")).all())
    assert set(owners.values()) == {cluster["names"]["owner"]}, owners

    analyst = cluster["engine"](analyst_url)
    relations = _relations(analyst)
    assert set(warehouse.view_names()) <= set(relations) and "centre_year_status" in relations
    with analyst.connect() as connection:
        counts = {name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() for name in relations}
    # the four centres of region 84 in write_small_campaign; three of them to chase
    assert counts["centre_year_status"] == 4 and counts["v_relance"] == 3 and counts["pipeline_run"] == 2
    # the analyst's own tools read: the relance workbooks
    assert relance_main(["--year", "2024", "--warehouse", analyst_url, "--out", str(tmp_path / "relance")]) == 0

    # ... and write nothing
    _denied(analyst, "INSERT INTO pipeline_run (run_id, campaign_year, regions, parameters, started_at, outcome) "
                     "VALUES ('x', 2024, '84', '{}', now(), 'running')")
    _denied(analyst, "DELETE FROM centre_year_status")
    _denied(analyst, "UPDATE reconciliation_decision SET comment = 'x'")
    _denied(analyst, "TRUNCATE submission")
    _denied(analyst, "CREATE TABLE mes_notes (x int)")
    _denied(analyst, "CREATE VIEW ma_vue AS SELECT 1 AS x")
    _denied(analyst, "CREATE TEMPORARY TABLE brouillon (x int)")
    _denied(analyst, "DROP VIEW v_relance")
    for large_object in ("SELECT lo_create(0)", "SELECT lo_creat(-1)", "SELECT lo_from_bytea(0, 'x'::bytea)",
                         "SELECT lo_import('/etc/hostname')"):
        _denied(analyst, large_object)
    # the keys of the loads' locks are public (warehouse.writer_lock): holding one would stop every run
    for scope in ("migrations", "campaign:2024", "referential"):
        key = int.from_bytes(hashlib.sha256(f"observatoire:{scope}".encode()).digest()[:8], "big", signed=True)
        for function in ("pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock",
                         "pg_advisory_lock_shared", "pg_try_advisory_xact_lock_shared"):
            _denied(analyst, f"SELECT {function}(:k)", {"k": key})
        _denied(analyst, "SELECT pg_advisory_lock(1, 2)")
    # the run lock of a campaign (run_lock: a session lock held for the whole run)
    run_key = int.from_bytes(hashlib.sha256(f"observatoire:run:{run_lock.lock_name(2024)}".encode()).digest()[:8],
                             "big", signed=True)
    _denied(analyst, "SELECT pg_try_advisory_lock(:k)", {"k": run_key})
    _denied(analyst, "SELECT pg_advisory_lock(:k)", {"k": run_key})


def test_a_login_outside_the_loader_role_gets_one_french_line(cluster):
    admin = cluster["engine"](cluster["admin_url"])
    warehouse.apply_roles(admin, **cluster["names"])
    cluster["create_logins"]()
    analyst = cluster["engine"](cluster["login_url"]("analyst"))
    with pytest.raises(warehouse.CampaignError, match="n'est pas membre du rôle propriétaire"):
        warehouse.migrate(analyst)


def test_role_names_are_checked(cluster):
    admin = cluster["engine"](cluster["admin_url"])
    with pytest.raises(warehouse.CampaignError, match="Nom de rôle"):
        warehouse.apply_roles(admin, analyst='x"; DROP DATABASE postgres; --')


def test_an_analyst_transaction_left_open_does_not_hold_a_load(cluster):
    """A BI tool that read every view and table and left its transaction open: the next
    migration and load still go through (re-creating the views at each run waited on it)."""
    import threading

    from tests.support import warehouse_builder as build

    admin = cluster["engine"](cluster["admin_url"])
    warehouse.apply_roles(admin, **cluster["names"])
    cluster["create_logins"]()
    loader = cluster["engine"](cluster["login_url"]("loader"))
    warehouse.migrate(loader)
    warehouse.load_campaign(loader, build.scenario_2023())
    analyst = cluster["engine"](cluster["login_url"]("analyst"))
    reader = analyst.connect()
    reader.begin()
    for name in _relations(analyst):
        reader.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
    reader.execute(sa.text("LOCK TABLE centre_year_status, submission, v_relance IN ACCESS SHARE MODE"))
    outcome: list = []

    def load():
        try:
            warehouse.migrate(loader)
            warehouse.load_campaign(loader, build.scenario_2024())
            outcome.append("chargé")
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    try:
        worker.start()
        worker.join(timeout=60)
        held = worker.is_alive()
    finally:
        reader.rollback()
        reader.close()
        worker.join(timeout=60)
    assert not held and outcome == ["chargé"], outcome
    with analyst.connect() as connection:
        assert connection.execute(sa.text(
            "SELECT count(*) FROM v_relance WHERE campaign_year = 2024")).scalar() > 0
