"""How does each database engine do what the warehouse needs and SQL does not say the same
way: bulk insert, delete by a list of keys, serialising writers, holding a campaign for a
run, reading a table back as JSON arrays, binding dates and instants?

One object per engine, chosen from the warehouse URL when connecting (`for_url`) and found
again from any engine or connection (`dialect_of`); the rest of the code asks it and never
names an engine. SQLite is the embedded warehouse (a file, the default), PostgreSQL the
production one; the same SQL files serve both.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Callable

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire.errors import CampaignError

# Execution option asking the SQLite "begin" hook for BEGIN IMMEDIATE (write transactions).
WRITE_OPTION = "observatoire_write"
# Execution option of a large write during which the run's other connections must still
# read (they read the database as it was before it): see SqliteDialect.prepare.
READERS_NOT_BLOCKED_OPTION = "observatoire_readers_not_blocked"
SQLITE_BUSY_TIMEOUT_S = 120
DB_TIMEOUT_ENV = "OBSERVATOIRE_DB_TIMEOUT"
DB_TIMEOUT_S = 10
INSERT_BATCH = 5000
# Variables bound by one SQLite INSERT of many rows: SQLite's default limit. A build may allow
# more (250,000 for the sqlite3 of this Python), but a prepared statement grows with its
# variables and the driver keeps it in its statement cache: 13,888 rows of 18 columns per
# statement kept 130 MB more at the peak of a run of 24,164 files.
SQLITE_INSERT_VARIABLES = 32766
# Server-side TCP keepalives of a run lock's connection: idle 10 s, then 3 probes 5 s apart.
PG_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}
PG_DEAD_PEER_S = 30  # 10 + 3 x 5 s, rounded up

Lock = tuple[Callable[[], bool], Callable[[], None]]  # take() -> held now?, release()


def connect_timeout() -> int:
    """Seconds PostgreSQL gets to answer a new connection: OBSERVATOIRE_DB_TIMEOUT, else
    10 (a host that accepts and never answers hung runs for ever)."""
    text = os.environ.get(DB_TIMEOUT_ENV, "").strip()
    if not text:
        return DB_TIMEOUT_S
    try:
        seconds = int(float(text))
    except ValueError:
        raise CampaignError(f"{DB_TIMEOUT_ENV}={text} : un nombre de secondes est attendu (défaut {DB_TIMEOUT_S}).") \
            from None
    return max(seconds, 1)


def advisory_key(name: str) -> int:
    """The PostgreSQL advisory lock key of a lock name (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class SqlDialect:
    """What every engine shares; the engines below override what they do their own way."""

    name: str
    # Where a killed run's campaign lock is freed, in the French of the waiting message.
    lock_freed: str
    # SQL aggregate making one JSON array text of a column (rows in scan order).
    json_array_agg: str
    has_roles = False

    # ------------------------------------------------------------------ connecting
    def connect_args(self, url: sa.engine.URL, shown: str, existing: bool) -> dict:
        """Driver arguments of a new engine; `existing`: refuse a warehouse that is not there."""
        return {}

    def prepare(self, engine: Engine) -> None:
        """Set up a new engine before its first connection."""

    def check(self, engine: Engine, shown: str) -> None:
        """Refuse, in one French line, an engine that lacks what the warehouse needs."""

    # ------------------------------------------------------------------ values
    def bind_values(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame as the driver is given it."""
        return frame

    def parameters(self, values: dict) -> dict:
        """One statement's parameters, bound like a row of `insert_rows`."""
        return self.bind_values(pl.DataFrame([values])).to_dicts()[0]

    def read_date(self, value) -> dt.date | None:
        """A DATE column's value as the driver hands it back, as a date."""
        return value

    def read_instant(self, value) -> dt.datetime | None:
        """A TIMESTAMPTZ column's value as the driver hands it back, as an instant in UTC."""
        return None if value is None else value.astimezone(dt.timezone.utc)

    # ------------------------------------------------------------------ writing
    def insert_rows(self, connection: Connection, table: str, frame: pl.DataFrame) -> None:
        """Bulk insert inside the caller's transaction (executemany through SQLAlchemy, by batches)."""
        if frame.is_empty():
            return
        columns = frame.columns
        statement = sa.text(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        records = self.bind_values(frame).to_dicts()
        for start in range(0, len(records), INSERT_BATCH):
            connection.execute(statement, records[start:start + INSERT_BATCH])

    def delete_keys(self, connection: Connection, table: str, key: str, values: list, where: str = "",
                    params: dict | None = None) -> None:
        """Delete the rows whose `key` is one of `values` (and `where`), in one set-based
        statement. Never one statement per value: right after a load, before PostgreSQL
        has analysed the table, each of those scanned the whole table (24,164 files: 55 s);
        nor chunks of named parameters, which SQLAlchemy took 0.36 s to compile for 24,164
        files on SQLite."""
        raise NotImplementedError

    def writer_lock(self, connection: Connection, scope: str) -> None:
        """Serialise writers of the same scope until the transaction ends."""

    # ------------------------------------------------------------------ schema
    def schema_owner(self, connection: Connection) -> str | None:
        """The role to migrate as, when it is not the current user."""
        return None

    def views_up_to_date(self, connection: Connection, marks: dict[str, str]) -> bool:
        """Whether every view (name -> mark of its file) already has its file's definition;
        False when the engine cannot tell (the views are then re-created)."""
        return False

    def mark_view(self, connection: Connection, name: str, mark: str) -> None:
        """Remember which file definition view `name` was created from, where the engine can."""

    # ------------------------------------------------------------------ run lock
    def run_lock(self, engine: Engine, name: str) -> Lock:
        """A lock named `name` that the system frees when its holder dies."""
        raise NotImplementedError


# ---------------------------------------------------------------------- SQLite
# A SQLite built without its JSON functions (an option before 3.38, SQLITE_OMIT_JSON since)
# answers "no such function" here.
_SQLITE_JSON_PROBE = "SELECT count(*) FROM json_each('[1]')"


class SqliteDialect(SqlDialect):
    """A file beside the command. One writer at a time: a write transaction starts with
    BEGIN IMMEDIATE, which takes the database write lock before reading anything, and the
    busy timeout makes a second writer wait for it. Instants and dates are ISO-8601 text."""

    name = "sqlite"
    lock_freed = "aussitôt, même si sa machine s'arrête"
    json_array_agg = "json_group_array"

    def connect_args(self, url, shown, existing):
        database = url.database or ""
        if existing and (database in ("", ":memory:") or not Path(database).is_file()):
            raise CampaignError(f"Entrepôt introuvable : {database or shown} (fichier SQLite absent ; "
                                "vérifier --warehouse, ou le créer avec observatoire run).")
        return {"timeout": SQLITE_BUSY_TIMEOUT_S}

    def prepare(self, engine):
        """pysqlite opens transactions lazily, at the first write; a load must instead hold
        the write lock from its first statement so that two loads queue up (busy timeout)
        rather than interleave or fail. SQLAlchemy's documented recipe: turn pysqlite's own
        BEGIN off and emit ours, IMMEDIATE for the write transactions (WRITE_OPTION)."""

        @sa.event.listens_for(engine, "connect")
        def _no_driver_begin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(connection):
            options = connection.get_execution_options()
            # A writer whose changes outgrow the page cache (2 MB) spills them into the file,
            # for which it locks every reader out until it commits: writing the 100,000
            # versions of a national FINESS extract (about 25 MB) would stop the run's own
            # reads meanwhile. For such a write its pages stay in memory instead. (Set before
            # BEGIN: changed inside a transaction, it did not take effect.) Sent only when the
            # pooled connection's setting changes, not before every transaction.
            spill = "OFF" if options.get(READERS_NOT_BLOCKED_OPTION, False) else "ON"
            held = connection.connection.info  # lives as long as the driver's connection
            if held.get("cache_spill", "ON") != spill:
                connection.exec_driver_sql(f"PRAGMA cache_spill = {spill}")
                held["cache_spill"] = spill
            connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")

    def check(self, engine, shown):
        """The deletes of a load and the FINESS versions read back use SQLite's JSON
        functions: say so before a run reads its files, rather than fail at the load."""
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(_SQLITE_JSON_PROBE)
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            raise CampaignError(
                f"Entrepôt {shown} : le SQLite de ce Python ({sqlite3.sqlite_version}) n'a pas les "
                "fonctions JSON dont l'entrepôt a besoin (incluses dans SQLite depuis la version 3.38). "
                "Utiliser un Python dont le SQLite les fournit, ou un entrepôt PostgreSQL."
            ) from exc

    def bind_values(self, frame):
        """SQLite stores instants and dates as ISO-8601 text, instants with their offset."""
        return frame.with_columns(
            pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
            pl.col(pl.Date).dt.to_string("%Y-%m-%d"),
        )

    def read_date(self, value):
        return None if value is None else dt.date.fromisoformat(str(value)[:10])

    def read_instant(self, value):
        if value is None:
            return None
        instant = dt.datetime.fromisoformat(str(value))
        return (instant.replace(tzinfo=dt.timezone.utc) if instant.tzinfo is None
                else instant.astimezone(dt.timezone.utc))

    def delete_keys(self, connection, table, key, values, where="", params=None):
        """The keys travel as one JSON array parameter."""
        if not values:
            return
        condition = f" AND {where}" if where else ""
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} IN (SELECT value FROM json_each(:keys))"
                                   f"{condition}"), {**(params or {}), "keys": json.dumps(list(values))})

    def run_lock(self, engine, name):
        """An exclusive `flock` on a file beside the database (`lock_path`); the kernel frees
        it when the process dies, and no lock survives a reboot."""
        path = self.lock_path(engine, name)
        if path is None:
            return (lambda: True), (lambda: None)
        import fcntl

        try:  # never through a link planted there: take() truncates the file it opens
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise CampaignError(f"Fichier de verrou refusé : {path} "
                                f"({'lien symbolique' if os.path.islink(path) else exc}) ; le supprimer puis "
                                "relancer.") from exc

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

    @staticmethod
    def lock_path(engine: Engine, name: str) -> Path | None:
        """The file of lock `name` beside the SQLite file (None for a database in memory,
        which no other process can see)."""
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            return None
        return Path(database).with_name(f"{Path(database).name}.{name}.lock")


class PysqliteDialect(SqliteDialect):
    """SQLite through Python's own sqlite3 module (the default driver)."""

    def insert_rows(self, connection, table, frame):
        """Multi-row INSERTs, as many rows per statement as SQLITE_INSERT_VARIABLES variables
        hold, in the caller's transaction. SQLAlchemy's per-row parameter processing cost 3x the
        insert itself for the FINESS history. Not the driver's executemany either: it lets go
        of the GIL for each row and must win it back before the next one, and while another
        thread of the run works in Python each win waits for the interpreter's switch
        interval (5 ms). The FINESS history, written beside the reading and the validation,
        then crawled: 100,000 rows took 0.79 s alone and 245 s beside a busy thread. One
        statement per 1,800 rows leaves the GIL for the whole of its work (1.16 s beside
        that thread)."""
        if frame.is_empty():
            return
        columns = frame.columns
        driver = connection.connection.driver_connection
        variables = min(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), SQLITE_INSERT_VARIABLES)
        per_statement = max(1, variables // len(columns))
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        row = f"({', '.join('?' * len(columns))})"
        bound = self.bind_values(frame)
        width = bound.width
        for start in range(0, bound.height, per_statement):
            chunk = bound.slice(start, per_statement)  # Python values for one statement at a time
            flat = [None] * (chunk.height * width)  # the rows one after the other, column by column
            for i, column in enumerate(chunk.get_columns()):
                flat[i::width] = column.to_list()
            try:
                driver.execute(head + ", ".join([row] * chunk.height), flat)
            except sqlite3.Error as exc:  # same exception classes as the SQLAlchemy path (IntegrityError…)
                raise sa.exc.DBAPIError.instance(head + row, None, exc, sqlite3.Error) from exc


# ---------------------------------------------------------------------- PostgreSQL
_FLAT_DTYPES = (pl.String, pl.Boolean, pl.Date)
_VIEW_COMMENTS = ("SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                  "WHERE c.relkind = 'v' AND c.relnamespace = current_schema()::regnamespace")


class PostgresDialect(SqlDialect):
    """The production warehouse: writers serialised by transaction advisory locks, a run's
    campaign held by a session advisory lock, roles for loaders and analysts."""

    name = "postgresql"
    lock_freed = f"au plus tard {PG_DEAD_PEER_S} s après l'arrêt de sa machine"
    json_array_agg = "json_agg"
    has_roles = True

    def connect_args(self, url, shown, existing):
        # libpq's own parameter (psycopg and psycopg2); `?connect_timeout=N` in the URL wins
        return {} if "connect_timeout" in url.query else {"connect_timeout": connect_timeout()}

    def delete_keys(self, connection, table, key, values, where="", params=None):
        """The keys travel as one array parameter."""
        if not values:
            return
        condition = f" AND {where}" if where else ""
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} = ANY(:keys){condition}"),
                           {**(params or {}), "keys": list(values)})

    def writer_lock(self, connection, scope):
        try:
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": advisory_key(f"observatoire:{scope}")})
        except sa.exc.ProgrammingError as exc:  # the roles keep these locks to loaders
            if "permission denied" not in str(exc.orig):
                raise
            raise CampaignError(
                "Écriture refusée : l'utilisateur PostgreSQL de cette URL n'est pas un chargeur de l'entrepôt "
                "(rôle observatoire_chargeur ; voir deploy/README.md, « Rôles PostgreSQL »)."
            ) from exc

    def schema_owner(self, connection):
        """With the roles of `warehouse.apply_roles`, the schema belongs to a NOLOGIN owner
        role (the owner of `schema_migration`): a loader login, a member of it, migrates as
        it for the transaction, so that every table and view keeps that one owner (and its
        default privileges: the analyst can read what the loader re-creates)."""
        owner, me = connection.execute(sa.text(
            "SELECT (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'schema_migration'), current_user")).one()
        if owner is None or owner == me:
            return None
        if not connection.execute(sa.text("SELECT pg_has_role(:owner, 'MEMBER')"), {"owner": owner}).scalar():
            raise CampaignError(
                f"L'utilisateur PostgreSQL « {me} » ne peut pas mettre à jour le schéma de l'entrepôt : il n'est pas "
                f"membre du rôle propriétaire « {owner} » (charger avec un membre du rôle observatoire_chargeur ; "
                "voir deploy/README.md, « Rôles PostgreSQL »)."
            )
        return owner

    def views_up_to_date(self, connection, marks):
        """The mark of each view is its comment. DROP VIEW waits for every session reading
        the view, and an analyst's transaction left open in a BI tool would hold a run there
        for good (and queue every reader behind it): a run re-creates the views only when
        they change."""
        comments = dict(connection.execute(sa.text(_VIEW_COMMENTS)).all())
        return all(comments.get(name) == mark for name, mark in marks.items())

    def mark_view(self, connection, name, mark):
        connection.execute(sa.text(f"COMMENT ON VIEW {name} IS '{mark}'"))  # marks are hex digits: safe

    def run_lock(self, engine, name):
        """A session advisory lock held by a connection of the run. The server frees it
        when that connection ends: at once when the process dies (kill -9, OOM killer: the
        kernel closes its socket), within PG_DEAD_PEER_S when its machine is gone (reboot,
        cable), thanks to the TCP keepalives this connection asks the server for."""
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for setting, value in PG_KEEPALIVES.items():
            connection.execute(sa.text(f"SET {setting} = {int(value)}"))
        key = advisory_key(f"observatoire:run:{name}")

        def take() -> bool:
            return bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())

        def release() -> None:
            # closing the server session is what frees the lock, whatever state it is in
            connection.invalidate()
            connection.close()

        return take, release


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    """`frame.write_csv(include_header=False).encode("utf-8")` without the text in between."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return buffer.getvalue()


class PsycopgDialect(PostgresDialect):
    """PostgreSQL through psycopg 3, whose `cursor.copy()` streams rows with COPY."""

    def insert_rows(self, connection, table, frame):
        """COPY inside the caller's transaction: flat frames go as one CSV text written by
        Polars (a quoted "" is an empty string, an unquoted empty field is NULL: the same
        rule as COPY's csv format); nested columns row by row."""
        if frame.is_empty():
            return
        import psycopg

        flat = all(dtype.is_numeric() or dtype in _FLAT_DTYPES or isinstance(dtype, pl.Datetime)
                   for dtype in frame.dtypes)
        statement = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN" + (" (FORMAT csv)" if flat else "")
        try:
            with connection.connection.driver_connection.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    if flat:  # as bytes when they are what psycopg would encode the text to
                        copy.write(_csv_bytes(frame) if cursor.connection.info.encoding == "utf-8"
                                   else frame.write_csv(include_header=False))
                    else:
                        for row in frame.iter_rows():
                            copy.write_row(row)
        except psycopg.Error as exc:  # same exception classes as the SQLAlchemy path (IntegrityError…)
            raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


# ---------------------------------------------------------------------- choice
# (backend, driver) -> dialect; a backend's other drivers get its generic object.
_BY_DRIVER: dict[tuple[str, str], SqlDialect] = {("sqlite", "pysqlite"): PysqliteDialect(),
                                                 ("postgresql", "psycopg"): PsycopgDialect()}
_BY_BACKEND: dict[str, SqlDialect] = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect()}


def _dialect(backend: str, driver: str) -> SqlDialect:
    found = _BY_DRIVER.get((backend, driver)) or _BY_BACKEND.get(backend)
    if found is None:
        raise CampaignError(f"Entrepôt : le moteur « {backend} » n'est pas pris en charge "
                            "(attendu sqlite:///fichier.db ou postgresql+psycopg://utilisateur@hôte/base).")
    return found


def for_url(url: sa.engine.URL) -> SqlDialect:
    """The dialect of a warehouse URL, chosen when connecting."""
    return _dialect(url.get_backend_name(), url.get_driver_name())


def dialect_of(bind: Engine | Connection) -> SqlDialect:
    """The dialect of an open engine or connection."""
    return _dialect(bind.dialect.name, bind.dialect.driver)
