"""A run that dies never blocks or haunts the next one, as a user meets it: real
`observatoire run` processes, a real kill -9 in the middle of the reading, a real SIGTERM,
the process tree read from /proc. Without a Prefect server, as the command runs by
default (PREFECT_HOME is the test's: nothing a run leaves there can leak to the next)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from datasets.national import cached_national

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

STATED_WAIT_S = 60  # what the README promises at most, after a run killed at any point


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    # big enough that the reading lasts a few seconds on two reader processes
    return cached_national(tmp_path_factory.mktemp("national"), n_centres=600, file_multiplier=1, finess_lines=5000)


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env


def _start(campaign, url: str, tmp_path: Path, name: str, own_group: bool = False
           ) -> tuple[subprocess.Popen, Path]:
    err = tmp_path / f"{name}.err"
    args = [sys.executable, "-m", "observatoire.cli", "run", "--year", str(campaign.year),
            "--submissions", str(campaign.submissions_dir), "--finess", str(campaign.extract),
            "--calendar", str(campaign.calendar), "--warehouse", url, "--output-dir", ""]
    with open(tmp_path / f"{name}.out", "wb") as out, open(err, "wb") as errors:
        process = subprocess.Popen(args, stdout=out, stderr=errors, env=_env(tmp_path), cwd=tmp_path,
                                   start_new_session=own_group)
    return process, err


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _descendants(pid: int) -> set[int]:
    todo, seen = [pid], set()
    while todo:
        for child in _children(todo.pop()) - seen:
            seen.add(child)
            todo.append(child)
    return seen


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _rows(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).all()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # the table is not there yet
        return []
    finally:
        engine.dispose()


def _wait_until_reading(process: subprocess.Popen, url: str, timeout: float = 240) -> set[int]:
    """Wait until the run has recorded itself and its reader processes work; their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be stopped"
        running = _rows(url, "SELECT run_id FROM pipeline_run WHERE outcome = 'running'")
        readers = _descendants(process.pid)
        if running and len(readers) >= 2:
            return readers
        time.sleep(0.1)
    raise AssertionError("the run never started reading")


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    """The pids still alive after `seconds`; killed then, so that a failing test leaves no
    process behind either."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    left = {p for p in pids if _alive(p)}
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


@pytest.mark.parametrize("database, killed", [("sqlite", "run"), ("sqlite", "tree"), ("postgresql", "run")])
def test_a_run_killed_while_reading_blocks_nothing_and_leaves_nothing(campaign, database, killed, tmp_path, request):
    """`run`: the run's process alone, as the OOM killer does (its children must see it);
    `tree`: the run and every process it started, as `kill -9 -<group>` or a reboot does."""
    url = (f"sqlite:///{tmp_path / 'entrepot.db'}" if database == "sqlite"
           else request.getfixturevalue("postgres_url"))
    first, _ = _start(campaign, url, tmp_path, "premier", own_group=killed == "tree")
    try:
        readers = _wait_until_reading(first, url)
        if killed == "tree":
            os.killpg(first.pid, signal.SIGKILL)
        else:
            os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        # its reader processes (and multiprocessing's helper) do not outlive it
        assert _gone_within(readers, 10) == set()
        started = time.monotonic()
        second, second_err = _start(campaign, url, tmp_path, "second")
        try:
            assert second.wait(timeout=STATED_WAIT_S + 240) == 0, second_err.read_text()
        finally:
            second.kill()
        # it did not wait for the dead run's year at all
        assert "occupée" not in second_err.read_text()
        assert time.monotonic() - started < STATED_WAIT_S + 240
    finally:
        first.kill()
    rows = _rows(url, "SELECT outcome, finished_at, message FROM pipeline_run ORDER BY started_at")
    assert [row.outcome for row in rows] == ["interrupted", "succeeded"]
    dead = rows[0]
    assert dead.finished_at is not None and "constaté le" in dead.message
    assert _rows(url, "SELECT count(*) FROM centre_year_status")[0][0] > 0


def test_sigterm_stops_a_run_within_seconds_and_closes_its_row(campaign, tmp_path):
    url = f"sqlite:///{tmp_path / 'entrepot.db'}"
    run, err = _start(campaign, url, tmp_path, "arrete")
    try:
        readers = _wait_until_reading(run, url)
        sent = time.monotonic()
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        run.kill()
    assert took < 10, f"{took:.1f} s after SIGTERM"
    assert code == 128 + signal.SIGTERM
    lines = err.read_text().strip().splitlines()
    assert lines == ["observatoire : exécution interrompue (SIGTERM) ; elle est notée « interrupted » dans "
                     "pipeline_run"], lines
    assert _gone_within(readers, 5) == set()
    [(outcome, finished_at, message)] = _rows(url, "SELECT outcome, finished_at, message FROM pipeline_run")
    assert outcome == "interrupted" and finished_at is not None and "SIGTERM" in message


def test_a_waiting_run_says_what_it_waits_for_then_closes_the_dead_rows(campaign, tmp_path):
    """The year held by another live run (here, this test): the new run says who holds it,
    since when and until when it waits; once free it runs, and closes the `running` row the
    holder left behind, and that of a dead run of another year."""
    from observatoire import run_lock, warehouse

    url = f"sqlite:///{tmp_path / 'entrepot.db'}"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    warehouse.record_run_start(engine, {
        "run_id": "run-tenant", "campaign_year": campaign.year, "regions": "",
        "parameters": '{"process": "serveur-a:4242"}', "started_at": __import__("datetime").datetime(
            2025, 3, 2, 5, 0, tzinfo=__import__("datetime").timezone.utc), "outcome": "running"})
    # and a run of another year that died: nobody holds that year, so its row is dead too
    warehouse.record_run_start(engine, {
        "run_id": "run-mort-2019", "campaign_year": 2019, "regions": "", "parameters": "{}",
        "started_at": __import__("datetime").datetime(2020, 3, 2, 5, 0, tzinfo=__import__("datetime").timezone.utc),
        "outcome": "running"})
    with run_lock.campaign_lock(engine, campaign.year):
        run, err = _start(campaign, url, tmp_path, "attente")
        try:
            deadline = time.monotonic() + 120
            while "occupée" not in err.read_text() and time.monotonic() < deadline:
                assert run.poll() is None, err.read_text()
                time.sleep(0.2)
            time.sleep(1)
            assert run.poll() is None  # still waiting
        except BaseException:
            run.kill()
            raise
    try:
        assert run.wait(timeout=240) == 0, err.read_text()
    finally:
        run.kill()
        engine.dispose()
    said = err.read_text().strip().splitlines()
    assert len(said) == 1, said
    assert said[0].startswith(f"observatoire : Campagne {campaign.year} occupée par l'exécution run-tenant "
                              "(processus serveur-a:4242, démarrée le 02/03/2025 05:00:00 UTC) : attente de sa fin "
                              "depuis le ")
    assert ", au plus jusqu'au " in said[0]
    outcomes = dict(_rows(url, "SELECT run_id, outcome FROM pipeline_run"))
    assert outcomes.pop("run-tenant") == "interrupted" and outcomes.pop("run-mort-2019") == "interrupted"
    assert list(outcomes.values()) == ["succeeded"]
