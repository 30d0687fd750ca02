"""The engine objects of observatoire/sql_dialects.py: which one a URL gets, and the few
values they decide that other programs or people depend on (lock keys and files, how
SQLite stores instants). What they do to a warehouse is tested on both engines by the
warehouse tests (test_warehouse_load, test_warehouse_concurrency, tests/sql/test_roles…)."""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import polars as pl
import pytest
import sqlalchemy as sa

from observatoire import sql_dialects, warehouse
from observatoire.errors import CampaignError


@pytest.mark.parametrize("url, kind", [
    ("sqlite:///w.db", sql_dialects.PysqliteDialect),
    ("postgresql+psycopg://u@h/db", sql_dialects.PsycopgDialect),
    ("postgresql+psycopg2://u@h/db", sql_dialects.PostgresDialect),  # COPY only through psycopg 3
])
def test_the_url_chooses_the_engine_object(url, kind):
    assert type(sql_dialects.for_url(sa.engine.make_url(url))) is kind


def test_an_engine_that_is_neither_sqlite_nor_postgresql_is_one_french_line():
    with pytest.raises(CampaignError, match="moteur « mysql » n'est pas pris en charge"):
        warehouse.connect("mysql://u@127.0.0.1/db")


def test_the_engine_of_an_open_connection_is_found_again(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as connection:
        assert type(sql_dialects.dialect_of(connection)) is sql_dialects.PysqliteDialect
    engine.dispose()


def test_postgresql_lock_keys_are_the_first_8_bytes_of_the_sha256_of_their_name():
    # other loaders, the roles (sql/roles) and an administrator looking at pg_locks rely on them
    digest = hashlib.sha256(b"observatoire:campaign:2024").digest()
    assert sql_dialects.advisory_key("observatoire:campaign:2024") == int.from_bytes(digest[:8], "big", signed=True)


def test_the_sqlite_run_lock_is_a_file_beside_the_database(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'entrepot.db'}")
    assert sql_dialects.SqliteDialect.lock_path(engine, "campagne-2024") == tmp_path / "entrepot.db.campagne-2024.lock"
    assert sql_dialects.SqliteDialect.lock_path(sa.create_engine("sqlite://"), "campagne-2024") is None


def test_sqlite_is_given_instants_with_their_offset_and_dates_as_iso_text():
    instant = dt.datetime(2025, 2, 28, 23, 59, 30, tzinfo=dt.timezone.utc)
    values = {"at": instant, "day": dt.date(2025, 3, 1), "n": 3}
    assert sql_dialects.PysqliteDialect().parameters(values) == {
        "at": "2025-02-28T23:59:30+00:00", "day": "2025-03-01", "n": 3}
    assert sql_dialects.PsycopgDialect().parameters(values) == values
    frame = pl.DataFrame({"day": [dt.date(2024, 12, 31)]})
    assert sql_dialects.SqliteDialect().bind_values(frame)["day"].to_list() == ["2024-12-31"]


def test_dates_and_instants_read_back_the_same_from_either_engine():
    sqlite, postgres = sql_dialects.PysqliteDialect(), sql_dialects.PsycopgDialect()
    paris = dt.timezone(dt.timedelta(hours=1))
    # SQLite hands back the ISO text it was given; PostgreSQL a date and an aware datetime
    assert sqlite.read_date("2025-03-01") == postgres.read_date(dt.date(2025, 3, 1)) == dt.date(2025, 3, 1)
    in_utc = dt.datetime(2025, 2, 28, 23, 0, tzinfo=dt.timezone.utc)
    for read in (sqlite.read_instant("2025-03-01T00:00:00+01:00"), sqlite.read_instant("2025-02-28T23:00:00"),
                 postgres.read_instant(dt.datetime(2025, 3, 1, 0, 0, tzinfo=paris))):
        assert read == in_utc and read.tzinfo == dt.timezone.utc
    assert sqlite.read_date(None) is None and postgres.read_instant(None) is None


def _bulk_insert(tmp_path, table: str, frame: pl.DataFrame, variable_limit: int, query: str):
    """PysqliteDialect.insert_rows of `frame` into a new table (`table`: its definition)
    where SQLite binds `variable_limit` variables: (rows of each INSERT run, `query`'s rows)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    statements = []
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE t ({table})")
        driver = connection.connection.driver_connection
        driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
        driver.set_trace_callback(statements.append)
        sql_dialects.PysqliteDialect().insert_rows(connection, "t", frame)
        driver.set_trace_callback(None)
        rows = connection.exec_driver_sql(query).all()
    engine.dispose()
    # the trace shows each statement run with the values bound
    return [s.count("), (") + 1 for s in statements if s.startswith("INSERT")], rows


def test_sqlite_bulk_insert_binds_many_rows_per_statement_and_keeps_every_value(tmp_path):
    # executemany runs one statement per row, each giving the GIL back and waiting to win it
    # again while another thread of the run works in Python: the FINESS history written
    # beside the validation crawled. Here SQLite binds at most 40 variables: 13 rows of 3
    # columns per statement, so 30 rows take 3 statements (13 + 13 + 4).
    frame = pl.DataFrame({
        "code": [f"{i:09d}" for i in range(30)],
        "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i) if i % 7 else None for i in range(30)],
        "flag": [i % 2 == 0 for i in range(30)],
    })
    per_insert, rows = _bulk_insert(tmp_path, "code TEXT PRIMARY KEY, day DATE, flag BOOLEAN NOT NULL", frame, 40,
                                    "SELECT code, day, flag FROM t ORDER BY code")
    assert per_insert == [13, 13, 4]
    assert rows == [(f"{i:09d}", (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat() if i % 7 else None,
                     int(i % 2 == 0)) for i in range(30)]


def test_sqlite_bulk_insert_binds_no_more_than_sqlites_default_limit_where_a_build_allows_more(tmp_path):
    # this Python's SQLite binds 250,000 variables: statements of 13,888 rows of 18 columns,
    # kept in the driver's statement cache, held 130 MB more at the peak of a large run
    per_statement = sql_dialects.SQLITE_INSERT_VARIABLES // 3
    frame = pl.DataFrame({"a": list(range(per_statement + 1)), "b": "x", "c": "y"})
    per_insert, rows = _bulk_insert(tmp_path, "a INTEGER PRIMARY KEY, b TEXT, c TEXT", frame, 250_000,
                                    "SELECT count(*), sum(a) FROM t")
    assert per_insert == [per_statement, 1]
    assert rows == [(per_statement + 1, per_statement * (per_statement + 1) // 2)]


def test_sqlite_bulk_insert_failure_is_the_sqlalchemy_exception_of_the_driver_error(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (code TEXT PRIMARY KEY)")
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE constraint failed: t.code"):
        with engine.begin() as connection:
            sql_dialects.PysqliteDialect().insert_rows(connection, "t", pl.DataFrame({"code": ["a", "b", "a"]}))
    engine.dispose()
