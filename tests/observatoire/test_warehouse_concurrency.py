"""A load killed with SIGKILL in the middle leaves the previous content; two loads of the
same campaign started together are serialised. Real child processes, real databases."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from observatoire import warehouse


from tests.support import warehouse_builder as build
import pytest

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

BUILDER = Path(build.__file__)
CENTRES = 8000  # a load of this size lasts a few tenths of a second on both backends


def _child(url, run_id, *extra):
    return subprocess.Popen([sys.executable, str(BUILDER), "load", url, "2024", "84", str(CENTRES), run_id, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _content(engine):
    with engine.connect() as connection:
        return {table: connection.execute(sa.text(
            f"SELECT count(*), count(DISTINCT {key}), min(run_id), max(run_id) FROM {table}")).one()
            for table, key in (("centre_year_status", "status_id"), ("submission", "submission_id"))}


def _wait_until(condition, child, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert child.poll() is None, f"the load ended before being killed: {child.communicate()}"
        time.sleep(0.005)
    raise AssertionError("the load never reached the point where it is killed")


def test_sigkill_in_the_middle_of_a_load_leaves_the_previous_content(engine_url, engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.big_campaign(2024, "84", CENTRES, "previous"))
    before = _content(engine)
    n_submissions = CENTRES - CENTRES // 4  # every fourth centre is missing
    assert before == {"centre_year_status": (CENTRES, CENTRES, "previous", "previous"),
                      "submission": (n_submissions, n_submissions, "previous", "previous")}
    if engine.dialect.name == "postgresql":
        url = engine_url + "?application_name=observatoire_kill_test"
        child = _child(url, "killed")

        def deleted_and_copying():  # the DELETEs are done once the COPY runs
            with engine.connect() as connection:
                return connection.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'observatoire_kill_test' "
                    "AND state = 'active' AND query LIKE 'COPY%'")).scalar() > 0
        _wait_until(deleted_and_copying, child)
    else:
        child = _child(engine_url, "killed")
        journal = Path(engine.url.database + "-journal")
        _wait_until(journal.exists, child)  # the transaction has started writing pages
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    engine.dispose()
    assert _content(engine) == before
    # and the warehouse is not left locked: the next load goes through
    warehouse.load_campaign(engine, build.big_campaign(2024, "84", 10, "after"))
    assert _content(engine)["centre_year_status"] == (10, 10, "after", "after")


def test_two_loads_of_the_same_campaign_at_once_are_serialised(engine_url, engine, tmp_path):
    warehouse.migrate(engine)
    go = tmp_path / "go"
    children = [_child(engine_url, run_id, str(go)) for run_id in ("load-a", "load-b")]
    for child in children:
        assert child.stdout.readline().strip() == "ready", child.communicate()
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    ends = {run_id: float(out.split()[2]) for run_id, (out, _) in zip(("load-a", "load-b"), outputs)}
    starts = {run_id: float(out.split()[1]) for run_id, (out, _) in zip(("load-a", "load-b"), outputs)}
    assert abs(starts["load-a"] - starts["load-b"]) < 1.0  # they really did start together
    last = max(ends, key=ends.get)
    n_submissions = CENTRES - CENTRES // 4
    assert _content(engine) == {"centre_year_status": (CENTRES, CENTRES, last, last),
                                "submission": (n_submissions, n_submissions, last, last)}
