"""Which run may consolidate campaign N now? One at a time per campaign year, whoever
starts it (the command, a Prefect worker, on any machine writing the same warehouse), and
a run that died never keeps the year.

The lock lives where the runs meet, in the warehouse, and is of a kind the system frees
when its holder dies, so there is no lease to renew and no clock to trust:
- PostgreSQL: a session advisory lock held by a connection of the run. The server frees
  it when that connection ends: at once when the process dies (kill -9, OOM killer: the
  kernel closes its socket), within `PG_DEAD_PEER_S` when its machine is gone (reboot,
  cable), thanks to the TCP keepalives this connection asks the server for.
- SQLite: an exclusive `flock` on a file beside the database; the kernel frees it when
  the process dies, and no lock survives a reboot.
A run waiting for the year says, when it starts waiting and then every `REMIND_S`, which
run holds it, since when, and until when it will wait.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError

POLL_S = 0.5
REMIND_S = 30
# A live run of a national campaign takes minutes at most; a waiting run gives up after
# this long and says so, rather than waiting for ever behind a stuck one.
WAIT_MAX_S = 6 * 3600
# Server-side TCP keepalives of the lock's connection: idle 10 s, then 3 probes 5 s apart.
PG_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}
PG_DEAD_PEER_S = 30  # 10 + 3 x 5 s, rounded up


def lock_name(year: int) -> str:
    return f"campagne-{year}"


def _pg_key(year: int) -> int:
    return int.from_bytes(hashlib.sha256(f"observatoire:run:{lock_name(year)}".encode()).digest()[:8], "big",
                          signed=True)


def sqlite_lock_path(engine: Engine, year: int) -> Path | None:
    """The lock file of campaign `year` beside the SQLite file (None for a database in
    memory, which no other process can see)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(f"{Path(database).name}.{lock_name(year)}.lock")


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
    started = row.started_at if isinstance(row.started_at, dt.datetime) else dt.datetime.fromisoformat(
        str(row.started_at))
    return f"l'exécution {row.run_id} (processus {process}, démarrée le {_clock(started)})"


def _waiting_message(engine: Engine, year: int, since: dt.datetime, deadline: dt.datetime) -> str:
    dead = ("au plus tard 30 s après l'arrêt de sa machine" if engine.dialect.name == "postgresql"
            else "aussitôt, même si sa machine s'arrête")
    return (f"Campagne {year} occupée par {_holder(engine, year)} : attente de sa fin depuis le {_clock(since)}, "
            f"au plus jusqu'au {_clock(deadline)}. Une exécution tuée libère la campagne {dead}.")


@contextmanager
def campaign_lock(engine: Engine, year: int, on_wait=None, wait_max_s: float = WAIT_MAX_S):
    """Hold campaign `year` for the body; `on_wait(message)` is told while waiting."""
    take, release = (_pg_lock if engine.dialect.name == "postgresql" else _file_lock)(engine, year)
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
    take, release = (_pg_lock if engine.dialect.name == "postgresql" else _file_lock)(engine, year)
    try:
        yield take()
    finally:
        release()


def _file_lock(engine: Engine, year: int):
    path = sqlite_lock_path(engine, year)
    if path is None:
        return (lambda: True), (lambda: None)
    import fcntl

    try:  # never through a link planted there: take() truncates the file it opens
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise CampaignError(f"Fichier de verrou refusé : {path} ({'lien symbolique' if os.path.islink(path) else exc})"
                            " ; le supprimer puis relancer.") from exc

    def take() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(fd, 0)  # for a person looking: who holds it
        os.write(fd, f"{os.uname().nodename}:{os.getpid()}\n".encode())
        return True

    def release() -> None:
        os.close(fd)  # frees the lock if held

    return take, release


def _pg_lock(engine: Engine, year: int):
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    for name, value in PG_KEEPALIVES.items():
        connection.execute(sa.text(f"SET {name} = {int(value)}"))
    key = _pg_key(year)

    def take() -> bool:
        return bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())

    def release() -> None:
        # closing the server session is what frees the lock, whatever state it is in
        connection.invalidate()
        connection.close()

    return take, release
