"""Mistakes in a command's arguments are answered at once, in one French line, exit 2:
the real `observatoire` command in a subprocess (the paths, the warehouse URL, a warehouse
that is not there, a PostgreSQL host that accepts and never answers).

"At once" is measured as the child's CPU time (under a second: no Prefect, no reader
process, no FINESS extract was started), with a looser bound on wall time, the test
machine being shared.
"""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.small_campaign import write_small_campaign

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

OBSERVATOIRE = str(Path(sys.executable).with_name("observatoire"))


def observatoire(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60):
    """Run the command; its stdout, stderr lines, exit status, wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        completed = subprocess.run([OBSERVATOIRE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                   env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"observatoire {' '.join(args)} : pas de réponse en {timeout} s")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return completed.stdout, completed.stderr.strip().splitlines(), completed.returncode, wall, cpu


@pytest.fixture
def campaign(tmp_path):
    return write_small_campaign(tmp_path / "data")


def _run_args(campaign, **change) -> list[str]:
    args = {"--year": "2024", "--submissions": str(campaign.submissions), "--finess": str(campaign.finess),
            **change}
    return [part for key, value in args.items() if value is not None for part in (key, value)]


@pytest.mark.parametrize("change, expected", [
    ({"--submissions": "{root}/envois/2042"}, "Dossier des envois introuvable : {root}/envois/2042 (--submissions"),
    ({"--submissions": "{root}/finess/finess_2025-01-12.csv"}, "{root}/finess/finess_2025-01-12.csv n'est pas un dossier"),
    ({"--finess": "{root}/finess/finess_2024.csv"}, "Extrait FINESS introuvable : {root}/finess/finess_2024.csv (--finess)"),
    ({"--finess": "{root}/finess/*.json"}, "Aucun extrait FINESS ne correspond à « {root}/finess/*.json » (--finess)"),
    ({"--finess": "{root}/finess"}, "{root}/finess est un dossier (--finess attend un fichier"),
    ({"--calendar": "{root}/calendrier/calendrier-2024.csv"},
     "Calendrier introuvable : {root}/calendrier/calendrier-2024.csv (--calendar"),
    ({"--warehouse": "postgresql+psycopg://chargeur:secret@db:port/observatoire"},
     "URL d'entrepôt illisible : « postgresql+psycopg://chargeur:***@db:port/observatoire »"),
    ({"--warehouse": "postgres://chargeur:secret@db/observatoire"}, "URL d'entrepôt inconnue"),
])
def test_a_wrong_argument_is_one_line_at_once(campaign, tmp_path, change, expected):
    root = str(campaign.root)
    args = _run_args(campaign, **{key: value.format(root=root) for key, value in change.items()})
    stdout, stderr, code, wall, cpu = observatoire("run", *args, cwd=tmp_path)
    assert code == 2 and stdout == ""
    assert stderr == [stderr[0]] and stderr[0].startswith("observatoire : " + expected.format(root=root)), stderr
    assert "secret" not in stderr[0]
    assert cpu < 1.0, f"{cpu:.2f} s de CPU : quelque chose de lourd a démarré avant la vérification"
    assert wall < 10
    assert not (tmp_path / "warehouse.db").exists()


def test_a_plain_path_as_warehouse_is_the_sqlite_file_and_said_so(tmp_path):
    from observatoire import warehouse

    engine = warehouse.connect(f"sqlite:///{tmp_path / 'entrepot.db'}")
    warehouse.migrate(engine)
    engine.dispose()
    stdout, stderr, code, _, _ = observatoire("sql", "SELECT count(*) AS n FROM v_conformite_region",
                                              "--warehouse", "entrepot.db", "--format", "csv", cwd=tmp_path)
    assert code == 0, stderr
    assert stderr == ["observatoire : « entrepot.db » n'est pas une URL : pris comme le fichier SQLite "
                      "sqlite:///entrepot.db", "1 ligne"]  # the note, then `sql`'s own row count
    assert stdout.splitlines() == ["n", "0"]  # the views of the migrated, empty warehouse


@pytest.mark.parametrize("command", [
    ["sql", "SELECT 1"], ["revue"], ["relance", "--year", "2024"], ["decision", "--declare", "x", "--aucun"],
])
@pytest.mark.parametrize("warehouse_arg", ["sqlite:///entrpot.db", "entrpot.db"])
def test_reading_commands_never_create_a_warehouse(tmp_path, command, warehouse_arg):
    stdout, stderr, code, _, _ = observatoire(*command, "--warehouse", warehouse_arg, cwd=tmp_path)
    assert code == 2, stdout
    assert stderr[-1].endswith("Entrepôt introuvable : entrpot.db (fichier SQLite absent ; vérifier --warehouse, "
                               "ou le créer avec observatoire run)."), stderr
    assert len(stderr) == (2 if warehouse_arg == "entrpot.db" else 1)  # the plain path's note first
    assert not (tmp_path / "entrpot.db").exists()


def test_a_postgresql_database_without_the_schema_is_one_line(tmp_path, postgres_url):
    for command in (["sql", "SELECT 1"], ["revue"], ["relance", "--year", "2024"]):
        stdout, stderr, code, _, _ = observatoire(*command, "--warehouse", postgres_url, cwd=tmp_path)
        assert code == 2, stdout
        assert len(stderr) == 1 and "Entrepôt vide" in stderr[0] and "schema_migration absente" in stderr[0], stderr


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts every connection and never says a word
    (a PostgreSQL host behind a broken proxy, a firewall that swallows packets)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)  # held open, never read nor answered

    def close(self):
        self.socket.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.parametrize("setting", ["env", "url"])
def test_postgresql_that_never_answers_times_out_in_one_line(tmp_path, silent_server, setting):
    url = f"postgresql+psycopg://observatoire:secret@127.0.0.1:{silent_server.port}/observatoire"
    env = {"OBSERVATOIRE_DB_TIMEOUT": "3"} if setting == "env" else {"OBSERVATOIRE_DB_TIMEOUT": "100"}
    if setting == "url":
        url += "?connect_timeout=3"
    stdout, stderr, code, wall, _ = observatoire("sql", "SELECT 1", "--warehouse", url, cwd=tmp_path, env=env,
                                                 timeout=60)
    assert code == 2, stdout
    assert len(stderr) == 1 and stderr[0].startswith(
        f"observatoire : Entrepôt injoignable : postgresql+psycopg://observatoire:***@127.0.0.1:{silent_server.port}"
    ) and "timeout" in stderr[0], stderr
    assert silent_server.accepted, "the command never reached the listener"
    assert 3 <= wall < 3 + 20  # the timeout, plus the command's start on a shared machine


def test_default_connect_timeout_is_ten_seconds(monkeypatch):
    from observatoire import sql_dialects

    monkeypatch.delenv("OBSERVATOIRE_DB_TIMEOUT", raising=False)
    assert sql_dialects.connect_timeout() == 10
    monkeypatch.setenv("OBSERVATOIRE_DB_TIMEOUT", "dix")
    from observatoire.errors import CampaignError

    with pytest.raises(CampaignError, match="OBSERVATOIRE_DB_TIMEOUT=dix"):
        sql_dialects.connect_timeout()


def test_the_flow_checks_its_paths_before_anything_else(prefect_harness, campaign, tmp_path):
    """A run from the UI with a wrong folder fails at once: no warehouse touched, no slot taken."""
    from flows.campaign import consolidate_campaign
    from flows.parameters import CampaignParameters
    from observatoire.errors import CampaignError

    db = tmp_path / "entrepot.db"
    params = CampaignParameters(year=2024, submissions=str(campaign.root / "envoi" / "{annee}"),
                                finess=[str(campaign.finess)], warehouse_url=f"sqlite:///{db}")
    with pytest.raises(CampaignError, match=r"^Dossier des envois introuvable : .*/envoi/2024 \(« Dossier des envois »"):
        consolidate_campaign(params)
    assert not db.exists()
    # outside a deployment, a calendar is the user's: it must exist
    params = params.model_copy(update={"submissions": str(campaign.submissions),
                                       "calendar": str(campaign.root / "calendrier" / "calendrier-{annee}.csv")})
    with pytest.raises(CampaignError, match=r"^Calendrier introuvable : .*/calendrier/calendrier-2024.csv"):
        consolidate_campaign(params)
    assert not db.exists()
