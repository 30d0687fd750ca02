"""A whole campaign, files in, warehouse out, through the Prefect flow: every centre's
status (and days late), every submission's FINESS resolution and every change a centre did
not tell equal the answer the sample generator wrote from how it built each case; on SQLite and on PostgreSQL; a rerun
leaves the same rows and one more pipeline_run."""
from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from observatoire.data_tests import failed_data_tests
from observatoire.sample import generate_sample
from tests.support.sample_runs import consolidate_sample, warehouse_rows

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

RUN_COLUMNS = {"run_id", "loaded_at"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample") / "sample")


def _expected(sample, year: int, name: str) -> list[dict]:
    with open(sample.campaigns[year].expected_dir / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _assert_statuses(sample, year: int, url: str) -> None:
    rows = warehouse_rows(url, f"SELECT * FROM centre_year_status WHERE campaign_year = {year}")
    expected = _expected(sample, year, "centre_year_status.csv")
    centres = {e["finess_et"]: e for e in expected if e["status"] != "unexpected"}
    got = {r["finess_et"]: r for r in rows if r["status"] != "unexpected"}
    assert set(got) == set(centres)
    mismatches = [
        (et, (e["status"], e["days_late"], e["deadline"], e["region_code"]),
         (got[et]["status"], got[et]["days_late"], str(got[et]["deadline"]), got[et]["region_code"]))
        for et, e in centres.items()
        if (e["status"], int(e["days_late"]) if e["days_late"] else None, e["deadline"], e["region_code"])
        != (got[et]["status"], got[et]["days_late"], str(got[et]["deadline"])[:10], got[et]["region_code"])
    ]
    assert not mismatches, mismatches[:10]
    unexpected = sorted((e["source_file"], int(e["source_row"]) if e["source_row"] else None, e["finess_et"] or None,
                         e["unexpected_reason"], e["region_code"]) for e in expected if e["status"] == "unexpected")
    got_unexpected = sorted((r["source_file"], r["source_row"], r["finess_et"], r["unexpected_reason"],
                             r["region_code"]) for r in rows if r["status"] == "unexpected")
    assert got_unexpected == unexpected


def _assert_submissions(sample, year: int, url: str) -> None:
    rows = warehouse_rows(url, "SELECT source_file, source_row, declared_finess_et, finess_et, reconciliation_method, "
                      f"is_valid, is_current FROM submission WHERE campaign_year = {year}")
    got = {(r["source_file"], r["source_row"]): r for r in rows}
    expected = _expected(sample, year, "submissions.csv")
    assert len(got) == len(expected)
    mismatches = []
    for e in expected:
        key = (e["source_file"], int(e["source_row"]) if e["source_row"] else None)
        r = got[key]
        want = (e["finess_et"] or None, e["reconciliation_method"], e["is_valid"] == "true", e["is_current"] == "true")
        have = (r["finess_et"], r["reconciliation_method"], bool(r["is_valid"]), bool(r["is_current"]))
        if want != have:
            mismatches.append((key, e["case"], want, have))
    assert not mismatches, mismatches[:10]


def _assert_unreadable(sample, year: int, url: str) -> None:
    unreadable = {e["source_file"] for e in _expected(sample, year, "unreadable.csv")}
    outcomes = warehouse_rows(url, f"SELECT source_file, readable, reason FROM file_outcome WHERE campaign_year = {year}")
    assert {o["source_file"] for o in outcomes if not o["readable"]} == unreadable
    issues = warehouse_rows(url, "SELECT source_file, severity, message FROM submission_issue "
                        f"WHERE campaign_year = {year} AND submission_id IS NULL")
    assert {i["source_file"] for i in issues} == unreadable
    assert all(i["severity"] == "error" and i["message"].startswith("fichier illisible") for i in issues)


def _assert_changes(sample, year: int, url: str) -> None:
    """Every change the generator built (and only those: unchanged centres get no row)."""
    columns = ("region_code", "finess_et", "kind", "source", "field", "previous_value", "new_value")
    expected = sorted(tuple(e[c] or None for c in columns) for e in _expected(sample, year, "changes.csv"))
    got = sorted(tuple(r[c] for c in columns) for r in warehouse_rows(url, f"SELECT * FROM centre_change WHERE campaign_year = {year}"))
    assert got == expected
    assert expected and all(r["message"] and r["run_id"] for r in warehouse_rows(url, "SELECT message, run_id FROM centre_change"))
    # the view names each centre and its département
    view = warehouse_rows(url, f"SELECT finess_et, raison_sociale, departement FROM v_changements WHERE campaign_year = {year}")
    assert len(view) == len(expected) and all(r["raison_sociale"] and r["departement"] for r in view)


def _snapshot(url: str, year: int) -> dict[str, list[tuple]]:
    tables = {}
    for table in ("centre_year_status", "submission", "submission_issue", "file_outcome", "centre_change"):
        rows = warehouse_rows(url, f"SELECT * FROM {table} WHERE campaign_year = {year}")
        tables[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items() if k not in RUN_COLUMNS)) for r in rows)
    return tables


def _check_campaign(sample, url: str, rerun: bool) -> None:
    for year in (2023, 2024):
        consolidate_sample(sample, year, url)
        _assert_statuses(sample, year, url)
        _assert_submissions(sample, year, url)
        _assert_unreadable(sample, year, url)
        _assert_changes(sample, year, url)
    runs = warehouse_rows(url, "SELECT count(*) AS n FROM pipeline_run")[0]["n"]
    assert runs == 2
    if rerun:
        before = _snapshot(url, 2024)
        consolidate_sample(sample, 2024, url)
        assert _snapshot(url, 2024) == before
        assert warehouse_rows(url, "SELECT count(*) AS n FROM pipeline_run")[0]["n"] == runs + 1
        assert {r["outcome"] for r in warehouse_rows(url, "SELECT outcome FROM pipeline_run")} == {"succeeded"}
    # the SQL data tests of sql/tests/ hold after real loads (and reruns)
    engine = sa.create_engine(url)
    try:
        assert failed_data_tests(engine) == {}
    finally:
        engine.dispose()


def test_campaign_end_to_end_sqlite(sample, prefect_harness, tmp_path):
    _check_campaign(sample, f"sqlite:///{tmp_path / 'warehouse.db'}", rerun=True)


@pytest.mark.postgres
def test_campaign_end_to_end_postgresql(sample, prefect_harness, postgres_url):
    _check_campaign(sample, postgres_url, rerun=True)
