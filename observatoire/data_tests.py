"""Does the warehouse hold what the rules promise? Runs the queries of `sql/tests/`, each
of which must return no row (the rows it returns are what is wrong)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.warehouse import SQL_DIR


def data_test_names() -> list[str]:
    return sorted(path.stem for path in (SQL_DIR / "tests").glob("*.sql"))


def failed_data_tests(engine: Engine) -> dict[str, list[tuple]]:
    """The data tests that return rows, with (up to 20 of) those rows."""
    failed = {}
    with engine.connect() as connection:
        for name in data_test_names():
            sql = (SQL_DIR / "tests" / f"{name}.sql").read_text("utf-8")
            rows = connection.execute(sa.text(sql)).fetchmany(20)
            if rows:
                failed[name] = [tuple(row) for row in rows]
    return failed
