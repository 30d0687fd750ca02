"""Where the warehouse is written: schema migrations, analyst views, roles, and one
transaction per campaign.

Storage is chosen by the URL only (SQLite file by default, PostgreSQL in production);
the same SQL files and the same code serve both. A load replaces the campaign's rows for
the regions it covers inside one transaction, serialised against concurrent loads of
the same campaign (PostgreSQL advisory lock; on SQLite the load's transaction starts with
`BEGIN IMMEDIATE`, i.e. it takes the database write lock before reading anything). Rows go
in bulk: COPY on PostgreSQL, batched executemany on SQLite.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire.errors import CampaignError

DEFAULT_URL_ENV = "OBSERVATOIRE_WAREHOUSE_URL"
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
TABLES_BY_SCOPE = ("centre_year_status", "submission", "submission_personnel", "submission_issue",
                   "reconciliation_review", "centre_change")
SQLITE_BUSY_TIMEOUT_S = 120
INSERT_BATCH = 5000
# Execution option asking the SQLite "begin" hook for BEGIN IMMEDIATE (write transactions).
_WRITE = "observatoire_write"


def warehouse_url(url: str | None) -> str:
    return url or os.environ.get(DEFAULT_URL_ENV) or "sqlite:///warehouse.db"


def redact(url: str) -> str:
    """The URL without its password, for logs and pipeline_run."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def connect(url: str | None) -> Engine:
    resolved = warehouse_url(url)
    try:
        engine = sa.create_engine(
            resolved,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if resolved.startswith("sqlite") else {},
        )
        if engine.dialect.name == "sqlite":
            _take_over_sqlite_transactions(engine)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # driver errors vary; the user needs one clear line
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise CampaignError(
            f"Entrepôt injoignable : {redact(resolved)} ({type(exc).__name__}: {cause[0] if cause else ''})"
        ) from exc
    return engine


def _take_over_sqlite_transactions(engine: Engine) -> None:
    """pysqlite opens transactions lazily, at the first write; a load must instead hold
    the write lock from its first statement so that two loads queue up (busy timeout)
    rather than interleave or fail. SQLAlchemy's documented recipe: turn pysqlite's own
    BEGIN off and emit ours, IMMEDIATE for the write transactions of this module."""

    @sa.event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def write_transaction(engine: Engine):
    """`engine.begin()` for a writer: same on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    return engine.execution_options(**{_WRITE: True}).begin()


# ------------------------------------------------------------------ schema
def _statements(sql: str) -> list[str]:
    """Split an SQL file on `;`, leaving `$$ … $$` bodies (PostgreSQL DO blocks) whole and
    dropping `--` comment lines."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, current, quoted = [], [], False
    for piece in re.split(r"(\$\$|;)", "\n".join(lines)):
        if piece == "$$":
            quoted = not quoted
        if piece == ";" and not quoted:
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(piece)
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]


def _checksum(sql: str) -> str:
    """Of the statements only: editing a comment of an applied file is harmless."""
    return hashlib.sha256("\n;\n".join(_statements(sql)).encode()).hexdigest()


def migrate(engine: Engine, until: str | None = None) -> list[str]:
    """Apply the `sql/migrations/*.sql` files not applied yet, in order, and re-create the
    analyst views of `sql/views/*.sql`; returns the migrations applied now. An applied
    migration whose statements have changed since is refused: add a new file instead.
    `until` (a migration file name) stops after that one: how a test builds the warehouse
    of an earlier version."""
    applied_now = []
    with write_transaction(engine) as connection:
        writer_lock(connection, "migrations")
        connection.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            "name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT)"
        ))
        done = dict(connection.execute(sa.text("SELECT name, checksum FROM schema_migration")).all())
        # Views hold no data and may read columns a migration changes: dropped first (in
        # reverse order, since a view may read another one), re-created after.
        view_files = sorted((SQL_DIR / "views").glob("*.sql"))
        for path in reversed(view_files):
            connection.execute(sa.text(f"DROP VIEW IF EXISTS {path.stem}"))
        for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
            if until is not None and path.name > until:
                break
            sql = path.read_text("utf-8")
            if path.name in done:
                if done[path.name] not in (None, _checksum(sql)):
                    raise CampaignError(
                        f"Migration {path.name} modifiée après avoir été appliquée à l'entrepôt : "
                        "ajouter une nouvelle migration au lieu de modifier celle-ci."
                    )
                continue
            for statement in _statements(sql):
                connection.execute(sa.text(statement))
            connection.execute(
                sa.text("INSERT INTO schema_migration (name, applied_at, checksum) VALUES (:n, :t, :c)"),
                {"n": path.name, "t": dt.datetime.now(dt.timezone.utc).isoformat(), "c": _checksum(sql)},
            )
            applied_now.append(path.name)
        if until is not None:  # an earlier version's views would need its columns
            return applied_now
        # Views re-created on every run, so that they follow the SQL files.
        for path in view_files:
            for statement in _statements(path.read_text("utf-8")):
                connection.execute(sa.text(statement))
    return applied_now


def view_names() -> list[str]:
    """The analyst views, one per `sql/views/<name>.sql`."""
    return [path.stem for path in sorted((SQL_DIR / "views").glob("*.sql"))]


def apply_roles(engine: Engine) -> None:
    """Create or update the PostgreSQL roles of `sql/roles/postgresql_roles.sql` (loader
    and read-only analyst). Not run by `migrate`: roles are cluster-wide and need an
    administrator; run it once per database, as the role that will run the migrations."""
    if engine.dialect.name != "postgresql":
        raise CampaignError("Les rôles ne concernent que PostgreSQL (SQLite n'a pas de droits d'accès).")
    with engine.begin() as connection:
        driver_connection = connection.connection.driver_connection
        for statement in _statements((SQL_DIR / "roles" / "postgresql_roles.sql").read_text("utf-8")):
            driver_connection.execute(statement)  # no parameters: `%I` of format() stays as is


def writer_lock(connection: Connection, scope: str) -> None:
    """Serialise writers of the same scope until the transaction ends."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"observatoire:{scope}".encode()).digest()[:8], "big", signed=True)
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    # SQLite: a write transaction of this module starts with BEGIN IMMEDIATE, which takes
    # the database write lock (one writer at a time, whatever the scope); the busy timeout
    # of `connect` makes a second writer wait for it.


# ------------------------------------------------------------------ load
@dataclass(frozen=True)
class CampaignLoad:
    year: int
    regions: list[str]
    source_files: list[str]  # every file this run looked at
    statuses: pl.DataFrame
    submissions: pl.DataFrame
    issues: pl.DataFrame
    outcomes: pl.DataFrame
    run: dict
    reviews: pl.DataFrame | None = None  # reconciliation_review rows of this run
    personnel: pl.DataFrame | None = None  # submission_personnel rows of this run
    changes: pl.DataFrame | None = None  # centre_change rows of this run


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """SQLite stores instants and dates as ISO-8601 text, instants with their offset."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
        pl.col(pl.Date).dt.to_string("%Y-%m-%d"),
    )


def _records(frame: pl.DataFrame, dialect: str) -> list[dict]:
    return (_sqlite_values(frame) if dialect == "sqlite" else frame).to_dicts()


_FLAT_DTYPES = (pl.String, pl.Boolean, pl.Date)


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    """`frame.write_csv(include_header=False).encode("utf-8")` without the text in between."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return buffer.getvalue()


def insert_rows(connection: Connection, table: str, frame: pl.DataFrame) -> None:
    """Bulk insert: COPY on PostgreSQL (through psycopg, inside the caller's transaction),
    executemany by batches elsewhere."""
    if frame.is_empty():
        return
    columns = frame.columns
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        import psycopg

        # flat frames go as one CSV text written by Polars (a quoted "" is an empty string,
        # an unquoted empty field is NULL: the same rule as COPY's csv format); nested
        # columns row by row
        flat = all(dtype.is_numeric() or dtype in _FLAT_DTYPES or isinstance(dtype, pl.Datetime)
                   for dtype in frame.dtypes)
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (" (FORMAT csv)" if flat else "")
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
        return
    if connection.dialect.name == "sqlite" and connection.dialect.driver == "pysqlite":
        # the driver's own executemany on tuples, in the caller's transaction: SQLAlchemy's
        # per-row parameter processing cost 3x the insert itself for the FINESS history
        frame = _sqlite_values(frame)
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        try:
            connection.connection.driver_connection.executemany(statement, frame.iter_rows())
        except sqlite3.Error as exc:  # same exception classes as the SQLAlchemy path (IntegrityError…)
            raise sa.exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
        return
    statement = sa.text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    records = _records(frame, connection.dialect.name)
    for start in range(0, len(records), INSERT_BATCH):
        connection.execute(statement, records[start:start + INSERT_BATCH])


def record_run_start(engine: Engine, run: dict) -> None:
    with write_transaction(engine) as connection:
        insert_rows(connection, "pipeline_run", pl.DataFrame([run]))


def record_run_end(engine: Engine, run_id: str, values: dict) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    with write_transaction(engine) as connection:
        connection.execute(sa.text(f"UPDATE pipeline_run SET {assignments} WHERE run_id = :run_id"),
                           _records(pl.DataFrame([{**values, "run_id": run_id}]), connection.dialect.name)[0])


def sqlite_has_json(connection: Connection) -> bool:
    """SQLite has its JSON functions unless it was built without them (an option before
    3.38, SQLITE_OMIT_JSON since): the paths that use them (set-based deletes here, the
    FINESS versions read back in referential_store) fall back on plain SQL without them."""
    try:
        connection.exec_driver_sql("SELECT json('[]')")
    except sa.exc.OperationalError:
        return False
    return True


def _delete_keys(connection: Connection, table: str, key: str, values: list[str], chunk: int = 500,
                 where: str = "", params: dict | None = None) -> None:
    """Delete the rows whose `key` is one of `values` (and `where`), in one set-based
    statement per table: the keys as an array on PostgreSQL, as a JSON array on SQLite,
    chunks of `chunk` elsewhere. Never one statement per value: right after a load, before
    PostgreSQL has analysed the table, each of those scanned the whole table (24,164 files:
    55 s); and SQLAlchemy compiling 500 named parameters per chunk cost 0.36 s for 24,164
    files on SQLite."""
    if not values:
        return
    condition = f" AND {where}" if where else ""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} = ANY(:keys){condition}"),
                           {**(params or {}), "keys": list(values)})
        return
    if connection.dialect.name == "sqlite" and sqlite_has_json(connection):
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} IN (SELECT value FROM json_each(:keys))"
                                   f"{condition}"), {**(params or {}), "keys": json.dumps(list(values))})
        return
    for start in range(0, len(values), chunk):
        part = values[start:start + chunk]
        names = {f"k{i}": value for i, value in enumerate(part)}
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} IN ({', '.join(':' + n for n in names)})"
                                   f"{condition}"), {**(params or {}), **names})


def load_campaign(engine: Engine, load: CampaignLoad) -> None:
    """Replace the campaign's rows for its regions, atomically: either every row of the
    new load is there, or the previous content is, whatever happens to the process.

    Rows of the campaign year without a region (unattributable submissions, unreadable
    files of a multi-region run) are the year's, replaced by any run of that year: the same
    file gets the same submission_id in every run, so keeping them would collide."""
    scope = {"year": load.year}
    region_params = {f"r{i}": code for i, code in enumerate(load.regions)}
    in_regions = ", ".join(f":{name}" for name in region_params) or "NULL"
    with write_transaction(engine) as connection:
        writer_lock(connection, f"campaign:{load.year}")
        for table in TABLES_BY_SCOPE:
            connection.execute(sa.text(
                f"DELETE FROM {table} WHERE campaign_year = :year "
                f"AND (region_code IN ({in_regions}) OR region_code IS NULL)"
            ), {**scope, **region_params})
        # A submission folder shared by single-region runs: the same key may sit in another
        # region's rows; the last run to read it owns it.
        reviews = load.reviews if load.reviews is not None else load.submissions.head(0).select("submission_id")
        for table, key, frame in (("centre_year_status", "status_id", load.statuses),
                                  ("submission", "submission_id", load.submissions),
                                  ("submission_personnel", "submission_id", load.submissions),
                                  ("submission_issue", "issue_id", load.issues),
                                  ("reconciliation_review", "submission_id", reviews)):
            _delete_keys(connection, table, key, frame.get_column(key).to_list())
        _delete_keys(connection, "file_outcome", "source_file", load.source_files, where="campaign_year = :year",
                     params=scope)
        insert_rows(connection, "file_outcome", load.outcomes)
        insert_rows(connection, "submission", load.submissions)
        if load.personnel is not None:
            insert_rows(connection, "submission_personnel", load.personnel)
        insert_rows(connection, "submission_issue", load.issues)
        insert_rows(connection, "centre_year_status", load.statuses)
        if load.reviews is not None:
            insert_rows(connection, "reconciliation_review", load.reviews)
        if load.changes is not None:
            _delete_keys(connection, "centre_change", "change_id", load.changes.get_column("change_id").to_list())
            insert_rows(connection, "centre_change", load.changes)


def read_current_declarations(engine: Engine, year: int, columns: list[str]) -> pl.DataFrame:
    """What each centre declared in its current (latest valid) submission of exercise
    `year`: `finess_et`, `region_code` and `columns`, as text; empty when the warehouse
    holds no such exercise. The migrations are applied: every column exists."""
    names = ["finess_et", "region_code", *columns]
    with engine.connect() as connection:
        result = connection.execute(sa.text(
            f"SELECT {', '.join(names)} FROM submission "
            "WHERE campaign_year = :year AND is_current AND is_valid AND finess_et IS NOT NULL "
            "ORDER BY finess_et, submission_id"), {"year": year})
        rows = [tuple(None if value is None else str(value) for value in row) for row in result]
    return pl.DataFrame(rows, schema={name: pl.String for name in names}, orient="row")
