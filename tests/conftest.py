"""Shared fixtures: real data paths, a throw-away PostgreSQL database, one Prefect test
harness per session (it costs ~10 s)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("OBSERVATOIRE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


PUBLIC_DATA = Path(__file__).resolve().parent / "data" / "public"


def shared_data(relative: str) -> Path:
    """A real public file of shared/data (finess/…), kept byte for byte in tests/data/public
    so that the tests never depend on a folder beside the clone."""
    return PUBLIC_DATA / Path(relative).name


@pytest.fixture(scope="session")
def postgres_admin():
    """An engine on the PostgreSQL server; skipped without one, except under CI where a
    missing PostgreSQL is a failure."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        message = f"PostgreSQL injoignable sur {PG_ADMIN_URL} : {type(exc).__name__}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (sous CI, PostgreSQL est requis)")
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin):
    """A fresh database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"observatoire_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    sa.create_engine(url).dispose()
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request, tmp_path):
    """The same warehouse test on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(engine_url):
    from observatoire import warehouse

    engine = warehouse.connect(engine_url)
    yield engine
    engine.dispose()
