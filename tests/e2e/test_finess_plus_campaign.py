"""An ARS that switches from the data.gouv extracts to FINESS+ gets the same statuses.

The sample writes its referential both ways: three dated extracts (S0, S1, S2; a closure
shows as an ET missing from the next one) and one FINESS+ file dated like S2 that lists
every establishment of the three, the closed ones with the day they closed, drawn between
the last extract holding them and the end of that year (`ReferentialBuilder.date_closures`).
Both describe the same reality, so the same campaign run through the flow on either source
must give the same centre_year_status rows and the same resolutions; only the reason's
clause that names the rule that found the centre open differs (snapshots or closing date).
"""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from observatoire.sample import generate_sample
from tests.support.sample_runs import consolidate_sample, warehouse_rows
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

RULE = re.compile(r" d'après (?:sa date de fermeture FINESS \(\d\d/\d\d/\d{4}\)"
                  r"|les instantanés FINESS \(dernier le contenant : \d\d/\d\d/\d{4}\))")
IGNORED = {"run_id", "loaded_at", "status_reason"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample") / "sample")


def _statuses(url: str, year: int) -> dict[str, dict]:
    rows = warehouse_rows(url, f"SELECT * FROM centre_year_status WHERE campaign_year = {year}")
    return {r["status_id"]: r for r in rows}


def _check_same_statuses(sample, extracts_url: str, finess_plus_url: str) -> None:
    closed = {e.finess_et: e.datefermeture for e in _referential(sample).establishments
              if e.datefermeture is not None and e.is_centre_de_sante}
    assert closed, "the sample must hold centres closed between two extracts"
    for year in (2023, 2024):
        consolidate_sample(sample, year, extracts_url)
        consolidate_sample(sample, year, finess_plus_url, [sample.finess_plus])
        by_extracts, by_finess_plus = _statuses(extracts_url, year), _statuses(finess_plus_url, year)
        assert by_extracts.keys() == by_finess_plus.keys()
        assert {r["status"] for r in by_extracts.values()} >= {"on_time", "late", "missing", "unexpected"}
        for key, row in by_extracts.items():
            other = by_finess_plus[key]
            assert {k: str(v) for k, v in row.items() if k not in IGNORED} == \
                   {k: str(v) for k, v in other.items() if k not in IGNORED}, key
            assert RULE.sub("", row["status_reason"] or "") == RULE.sub("", other["status_reason"] or ""), key
        # centres closed during the year are expected, those closed before are not; the FINESS+
        # run found them open by their closing date, the extracts' run by the snapshots
        dated = {r["finess_et"]: r for r in by_finess_plus.values()
                 if r["finess_et"] in closed and r["status"] != "unexpected"}
        assert any(closed[et].year == year for et in dated)
        assert all(closed[et].year >= year for et in dated)
        for et, row in dated.items():
            assert f"d'après sa date de fermeture FINESS ({closed[et]:%d/%m/%Y})" in row["status_reason"]
            assert "d'après les instantanés FINESS" in by_extracts[row["status_id"]]["status_reason"]
        resolutions = ("SELECT source_file, source_row, finess_et, reconciliation_method, region_code, is_current "
                       f"FROM submission WHERE campaign_year = {year} ORDER BY 1, 2")
        assert warehouse_rows(extracts_url, resolutions) == warehouse_rows(finess_plus_url, resolutions)


def _referential(sample):
    from observatoire.sample.referential import build_referential

    return build_referential(sample.seed)


def test_same_statuses_from_the_extracts_or_finess_plus_sqlite(sample, prefect_harness, tmp_path):
    _check_same_statuses(sample, f"sqlite:///{tmp_path / 'extraits.db'}", f"sqlite:///{tmp_path / 'finess_plus.db'}")


@pytest.mark.postgres
def test_same_statuses_from_the_extracts_or_finess_plus_postgresql(sample, prefect_harness, postgres_admin):
    names = [f"observatoire_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with postgres_admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        _check_same_statuses(sample, *(f"{base}/{name}" for name in names))
    finally:
        with postgres_admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
