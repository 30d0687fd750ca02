"""Where the warehouse is written: schema migrations, and one transaction per campaign.

Storage is chosen by the URL only (SQLite file by default, PostgreSQL in production);
the same SQL files and the same code serve both. A load replaces the campaign's rows for
the regions it covers, inside one transaction, serialised against concurrent loads of
the same campaign (PostgreSQL advisory lock; SQLite's database write lock).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire.errors import CampaignError

DEFAULT_URL_ENV = "OBSERVATOIRE_WAREHOUSE_URL"
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
TABLES_BY_SCOPE = ("centre_year_status", "submission", "submission_issue")


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
            connect_args={"timeout": 120} if resolved.startswith("sqlite") else {},
        )
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # driver errors vary; the user needs one clear line
        raise CampaignError(f"Entrepôt injoignable : {redact(resolved)} ({type(exc).__name__}: {exc})") from exc
    return engine


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def migrate(engine: Engine) -> list[str]:
    """Apply the `sql/migrations/*.sql` files not applied yet, in order; returns them."""
    applied_now = []
    with engine.begin() as connection:
        _lock(connection, "migrations")
        connection.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        ))
        done = set(connection.execute(sa.text("SELECT name FROM schema_migration")).scalars())
        for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
            if path.name in done:
                continue
            for statement in _statements(path.read_text("utf-8")):
                connection.execute(sa.text(statement))
            connection.execute(sa.text("INSERT INTO schema_migration (name, applied_at) VALUES (:n, :t)"),
                               {"n": path.name, "t": dt.datetime.now(dt.timezone.utc).isoformat()})
            applied_now.append(path.name)
        for path in sorted((SQL_DIR / "views").glob("*.sql")):
            for statement in _statements(path.read_text("utf-8")):
                connection.execute(sa.text(statement))
    return applied_now


def _lock(connection: Connection, scope: str) -> None:
    """Serialise writers of the same scope until the transaction ends."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"observatoire:{scope}".encode()).digest()[:8], "big", signed=True)
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    # SQLite: the first write of the transaction takes the database write lock, and the
    # busy timeout of `connect` makes a second writer wait for it.


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


def _records(frame: pl.DataFrame, dialect: str) -> list[dict]:
    if dialect == "sqlite":  # store instants as ISO-8601 text with their offset
        frame = frame.with_columns(
            pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
            pl.col(pl.Date).dt.to_string("%Y-%m-%d"),
        )
    return frame.to_dicts()


def _insert(connection: Connection, table: str, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    columns = frame.columns
    statement = sa.text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    records = _records(frame, connection.dialect.name)
    for start in range(0, len(records), 5000):
        connection.execute(statement, records[start:start + 5000])


def record_run_start(engine: Engine, run: dict) -> None:
    with engine.begin() as connection:
        _insert(connection, "pipeline_run", pl.DataFrame([run]))


def record_run_end(engine: Engine, run_id: str, values: dict) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE pipeline_run SET {assignments} WHERE run_id = :run_id"),
                           _records(pl.DataFrame([{**values, "run_id": run_id}]), connection.dialect.name)[0])


def load_campaign(engine: Engine, load: CampaignLoad) -> None:
    """Replace the campaign's rows for its regions, atomically."""
    scope = {"year": load.year}
    region_params = {f"r{i}": code for i, code in enumerate(load.regions)}
    in_regions = ", ".join(f":{name}" for name in region_params) or "NULL"
    with engine.begin() as connection:
        _lock(connection, f"campaign:{load.year}")
        for table in TABLES_BY_SCOPE:
            connection.execute(sa.text(
                f"DELETE FROM {table} WHERE campaign_year = :year "
                f"AND (region_code IN ({in_regions}) OR region_code IS NULL)"
            ), {**scope, **region_params})
        files = [{"year": load.year, "f": name} for name in load.source_files]
        if files:
            connection.execute(sa.text("DELETE FROM file_outcome WHERE campaign_year = :year AND source_file = :f"),
                               files)
        _insert(connection, "file_outcome", load.outcomes)
        _insert(connection, "submission", load.submissions)
        _insert(connection, "submission_issue", load.issues)
        _insert(connection, "centre_year_status", load.statuses)
