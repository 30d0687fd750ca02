"""Which run may consolidate campaign N now? One at a time per campaign year, whoever
starts it (the command, a Prefect worker, on any machine writing the same warehouse), and
a run that died never keeps the year.

The lock lives where the runs meet, in the warehouse, and is of a kind the system frees
when its holder dies, so there is no lease to renew and no clock to trust: each engine's
own kind, from its object in `sql_dialects` (`run_lock`: a session advisory lock on
PostgreSQL, a `flock` on a file beside the database on SQLite).
A run waiting for the year says, when it starts waiting and then every `REMIND_S`, which
run holds it, since when, and until when it will wait.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError
from observatoire.sql_dialects import dialect_of

POLL_S = 0.5
REMIND_S = 30
# A live run of a national campaign takes minutes at most; a waiting run gives up after
# this long and says so, rather than waiting for ever behind a stuck one.
WAIT_MAX_S = 6 * 3600


def lock_name(year: int) -> str:
    return f"campagne-{year}"


def _clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%d/%m/%Y %H:%M:%S UTC")


def _holder(engine: Engine, year: int) -> str:
    """Who holds the year, from its `running` row of pipeline_run (when it has written it)."""
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.text(
                "SELECT run_id, started_at, parameters FROM pipeline_run WHERE campaign_year = :y "
                "AND outcome = 'running' ORDER BY started_at DESC LIMIT 1"), {"y": year}).first()
    except sa.exc.SQLAlchemyError:
        row = None
    if row is None:
        return "une autre exécution (elle ne s'est pas encore enregistrée dans pipeline_run)"
    try:
        process = json.loads(row.parameters).get("process") or "?"
    except (TypeError, ValueError, AttributeError):
        process = "?"
    started = dialect_of(engine).read_instant(row.started_at)
    return f"l'exécution {row.run_id} (processus {process}, démarrée le {_clock(started)})"


def _waiting_message(engine: Engine, year: int, since: dt.datetime, deadline: dt.datetime) -> str:
    dead = dialect_of(engine).lock_freed
    return (f"Campagne {year} occupée par {_holder(engine, year)} : attente de sa fin depuis le {_clock(since)}, "
            f"au plus jusqu'au {_clock(deadline)}. Une exécution tuée libère la campagne {dead}.")


@contextmanager
def campaign_lock(engine: Engine, year: int, on_wait=None, wait_max_s: float = WAIT_MAX_S):
    """Hold campaign `year` for the body; `on_wait(message)` is told while waiting."""
    take, release = dialect_of(engine).run_lock(engine, lock_name(year))
    since = dt.datetime.now(dt.timezone.utc)
    deadline = since + dt.timedelta(seconds=wait_max_s)
    told = None
    try:
        while not take():
            now = time.monotonic()
            if told is None or now - told >= REMIND_S:
                if on_wait is not None:
                    on_wait(_waiting_message(engine, year, since, deadline))
                told = now
            if dt.datetime.now(dt.timezone.utc) >= deadline:
                raise CampaignError(f"Campagne {year} toujours occupée par {_holder(engine, year)} après "
                                    f"{wait_max_s / 3600:g} h d'attente : exécution abandonnée.")
            time.sleep(POLL_S)
        yield
    finally:
        release()


@contextmanager
def lock_if_free(engine: Engine, year: int):
    """Hold campaign `year` for the body if no run holds it now (True), else do nothing
    (False): a run that finds another year free knows that year's `running` rows are dead."""
    take, release = dialect_of(engine).run_lock(engine, lock_name(year))
    try:
        yield take()
    finally:
        release()
