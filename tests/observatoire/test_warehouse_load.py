"""Loading a campaign: idempotent, scoped to its year and regions, bulk on both backends;
and what the analyst views return for the scenario of tests/support/warehouse_builder.py."""
from __future__ import annotations

import dataclasses

import polars as pl
import pytest
import sqlalchemy as sa

from observatoire import sql_dialects, warehouse
from observatoire.errors import CampaignError
from tests.support import warehouse_builder as build

KEYS = {"centre_year_status": "status_id", "submission": "submission_id", "submission_issue": "issue_id",
        "file_outcome": "source_file", "centre_change": "change_id"}


def _rows(engine, table, where="1 = 1"):
    with engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT * FROM {table} WHERE {where} ORDER BY {KEYS[table]}"))
        return [{k: v for k, v in row._mapping.items() if k not in ("run_id", "loaded_at")} for row in result]


def _run_ids(engine, table):
    with engine.connect() as connection:
        return set(connection.execute(sa.text(f"SELECT DISTINCT run_id FROM {table}")).scalars())


def test_reload_of_the_same_frames_gives_the_same_rows(engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2024("first"))
    first = {table: _rows(engine, table) for table in KEYS}
    warehouse.load_campaign(engine, build.scenario_2024("second"))
    assert {table: _rows(engine, table) for table in KEYS} == first
    assert _run_ids(engine, "centre_year_status") == {"second"}
    assert len(first["centre_year_status"]) == 10 and len(first["submission"]) == 7
    assert len(first["submission_issue"]) == 2  # s24-b1 and s24-d carry errors
    assert len(first["centre_change"]) == 3 and _run_ids(engine, "centre_change") == {"second"}
    statuses = {row["status_id"]: row for row in first["centre_year_status"]}
    assert statuses["2024:690000002"]["status"] == "late" and statuses["2024:690000002"]["days_late"] == 3


def test_a_load_replaces_only_its_year_and_regions(engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2023())
    warehouse.load_campaign(engine, build.scenario_2024())
    before_11 = _rows(engine, "centre_year_status", "region_code = '11'")
    before_2023 = {table: _rows(engine, table, "campaign_year = 2023") for table in KEYS}
    # Region 84 reloaded alone for 2024, with only centre A left and now late.
    only_a = build.campaign(2024, ["84"], [build.status(2024, build.A, "84", "69", "late", days_late=7,
                                                        submission_id="s24-a", received=1)],
                            [build.submission(2024, "s24-a", build.A, "84")], "rerun-84")
    warehouse.load_campaign(engine, only_a)
    assert _rows(engine, "centre_year_status", "region_code = '11'") == before_11
    assert {table: _rows(engine, table, "campaign_year = 2023") for table in KEYS} == before_2023
    rows_84 = _rows(engine, "centre_year_status", "campaign_year = 2024 AND region_code = '84'")
    assert [(r["finess_et"], r["status"], r["days_late"]) for r in rows_84] == [(build.A, "late", 7)]
    subs_84 = _rows(engine, "submission", "campaign_year = 2024 AND region_code = '84'")
    assert [r["submission_id"] for r in subs_84] == ["s24-a"]
    assert _rows(engine, "submission_issue", "campaign_year = 2024 AND region_code = '84'") == []
    # region 84's changes are the rerun's (none now); region 11's stay
    assert _rows(engine, "centre_change", "campaign_year = 2024 AND region_code = '84'") == []
    assert [(r["finess_et"], r["kind"]) for r in _rows(engine, "centre_change", "region_code = '11'")] == [
        (build.I, "gestionnaire")]


def test_a_rerun_replaces_the_file_outcomes_of_its_year_only_however_many_files(engine):
    _rerun_replaces_its_file_outcomes(engine)


def test_a_sqlite_without_json_functions_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    # such a SQLite answers the probe "no such function", as it does here for a made-up name
    monkeypatch.setattr(sql_dialects, "_SQLITE_JSON_PROBE", "SELECT count(*) FROM json_each_absent('[1]')")
    with pytest.raises(CampaignError) as refused:
        warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    assert "fonctions JSON" in str(refused.value) and "3.38" in str(refused.value)
    assert "w.db" in str(refused.value)


def _rerun_replaces_its_file_outcomes(engine):
    # 1,201 files; names with quotes, accents and a backslash (the
    # keys travel as an array on PostgreSQL, a JSON text on SQLite); the same names in 2023
    warehouse.migrate(engine)
    names = [f"{n:04d}.xlsx" if n % 3 else f"84/{n:04d} l'été \"bis\" \\ œ.xlsx" for n in range(1201)]

    def load(year: int, run_id: str, files: list[str]):
        base = build.campaign(year, ["84"], [], [], run_id)
        outcomes = pl.DataFrame([{
            "campaign_year": year, "source_file": name, "region_code": "84", "source_sha256": f"sha-{name}",
            "size_bytes": 1, "readable": False, "container": None, "encoding": None, "separator": None,
            "sheets": None, "submissions": 0, "rows_set_aside": 0, "reason": "vide", "run_id": run_id,
        } for name in files], schema=build.OUTCOME_SCHEMA)
        return dataclasses.replace(base, outcomes=outcomes, source_files=files)

    warehouse.load_campaign(engine, load(2023, "y2023", names))
    warehouse.load_campaign(engine, load(2024, "first", names))
    warehouse.load_campaign(engine, load(2024, "second", names[:700]))
    with engine.connect() as connection:
        counts = dict(connection.execute(sa.text(
            "SELECT run_id, count(*) FROM file_outcome GROUP BY run_id")).all())
    # the rerun replaced its 700 files, the 501 it did not see stay, 2023 is untouched
    assert counts == {"y2023": 1201, "first": 501, "second": 700}


def test_a_failing_load_leaves_the_previous_content(engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2024("good"))
    before = {table: _rows(engine, table) for table in KEYS}
    good = build.scenario_2024("broken")
    duplicated = pl.concat([good.statuses, good.statuses.head(1)])  # primary key violated at the very end
    with pytest.raises(sa.exc.IntegrityError):
        warehouse.load_campaign(engine, dataclasses.replace(good, statuses=duplicated))
    assert {table: _rows(engine, table) for table in KEYS} == before
    assert _run_ids(engine, "submission") == {"good"}


def _view(engine, sql):
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def test_views_on_the_scenario(engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2023())
    warehouse.load_campaign(engine, build.scenario_2024())
    # 2024, region 84: expected A B C D (69) E F G (01); on_time A E, late B, invalid D,
    # missing C G, covered F; one unexpected submission U outside every denominator.
    assert _view(engine, "SELECT n_expected, n_on_time, n_late, n_invalid, n_missing, n_covered, n_unexpected, "
                         "compliance_rate_pct, on_time_rate_pct, avg_days_late FROM v_conformite_region "
                         "WHERE campaign_year = 2024 AND region_code = '84'") == [
        (7, 2, 1, 1, 2, 1, 1, round(100 * 4 / 7, 1), round(100 * 2 / 6, 1), 3.0)]
    assert _view(engine, "SELECT departement, n_expected, compliance_rate_pct FROM v_conformite_departement "
                         "WHERE campaign_year = 2023 AND region_code = '84' ORDER BY departement") == [
        ("01", 3, round(100 * 2 / 3, 1)), ("69", 4, 75.0)]
    relance = _view(engine, "SELECT finess_et, status, telephone, email, latest_submission_year "
                            "FROM v_relance WHERE campaign_year = 2024 AND region_code = '84' ORDER BY finess_et")
    assert relance == [
        (build.G, "missing", "0474000007", None, None),
        (build.B, "late", "0478000002", "b@cds-b.fr", 2024),
        (build.C, "missing", "0478000003", "c-2023@cds-c.fr", 2023),
        (build.D, "invalid", "0478000004", "d@cds-d.fr", 2024),
    ]
    assert _view(engine, "SELECT finess_et, previous_status, status, trend, status_changed FROM v_evolution_statut "
                         "WHERE campaign_year = 2024 AND departement = '69' ORDER BY finess_et") == [
        (build.A, "on_time", "on_time", "unchanged", 0), (build.B, "late", "late", "unchanged", 0),
        (build.C, "on_time", "missing", "worsened", 1), (build.D, "missing", "invalid", "improved", 1)]
    assert _view(engine, "SELECT count(*), min(trend) FROM v_evolution_statut WHERE campaign_year = 2023") == [
        (9, "new")]
    indicators = _view(engine, "SELECT n_professions, effectif_total, etp_total, etp_health_professions, "
                               "etp_medecins, medecin_traitant_pct, result_margin_pct, forfait_share_pct, in_deficit, "
                               "departement, status FROM v_indicateurs_centre "
                               "WHERE campaign_year = 2024 AND finess_et = '690000001'")
    # TEAM_A: 2 généralistes ETP, 1.5 infirmier, 0.5 psychologue, 1 secrétaire (7 people).
    assert indicators == [(4, 7, 5.0, 3.5, 2.0, 60.0, -5.0, 20.0, 1, "69", "on_time")]
    assert _view(engine, "SELECT count(*) FROM v_indicateurs_centre WHERE campaign_year = 2024") == [(5,)]


@pytest.mark.parametrize("profession", build.PROFESSIONS)
def test_health_profession_etp_follows_the_registry_groups(tmp_path, profession):
    from schemas.registry import personnel_labels

    assert set(personnel_labels().in_group("sante")) == build.HEALTH
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    load = build.campaign(2024, ["84"], [], [build.submission(2024, "s", build.A, "84", **{f"etp_{profession}": 1.5})],
                          "r")
    warehouse.load_campaign(engine, load)
    expected = 1.5 if profession in build.HEALTH else 0.0
    assert _view(engine, "SELECT etp_total, etp_health_professions FROM v_indicateurs_centre") == [(1.5, expected)]


def test_a_profession_added_to_the_registry_needs_no_code_or_ddl(tmp_path, monkeypatch):
    """A new block line in templates.toml (and its group) is read, validated, loaded and
    counted by the indicators view: no column, no code."""
    from importlib import resources

    from schemas import registry
    from tests.support.submission_files import run, save, values, workbook
    from transforms import warehouse_rows

    text = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    text = text.replace('autre = "Autre"\n', 'autre = "Autre"\nergotherapeute = "Ergothérapeute"\n', 1)
    text = text.replace('"pedicure_podologue", "dieteticien"]', '"pedicure_podologue", "dieteticien", "ergotherapeute"]')
    monkeypatch.setattr(registry, "default_registry", lambda: registry.parse_registry(text))
    save(workbook(values(2024), personnel=[("Ergothérapeute", 2, "1,5"), ("Secrétaire médical", 1, 1)])[0],
         tmp_path / "envois" / "cds.xlsx")
    received, validated = run(tmp_path / "envois", 2024)
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    key = validated.typed["submission_key"][0]
    key_to_id = pl.DataFrame({"submission_key": [key], "submission_id": ["s1"], "region_code": ["84"]})
    rows = warehouse_rows.personnel_rows(validated.personnel, key_to_id, 2024, "r", registry.personnel_labels())
    assert rows.select("profession", "effectif", "etp", "is_health_profession").rows() == [
        ("ergotherapeute", 2, 1.5, True), ("secretaire_medical", 1, 1.0, False)]
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    load = build.campaign(2024, ["84"], [], [build.submission(2024, "s1", build.A, "84")], "r")
    warehouse.load_campaign(engine, dataclasses.replace(load, personnel=rows))
    assert _view(engine, "SELECT n_professions, effectif_total, etp_total, etp_health_professions "
                         "FROM v_indicateurs_centre") == [(2, 3, 2.5, 1.5)]


def test_bulk_insert_keeps_empty_text_nulls_and_awkward_characters(engine):
    """COPY in csv format (PostgreSQL) and the driver's executemany (SQLite) write exactly
    the values given: an empty text is not NULL, separators, quotes and new lines survive."""
    import datetime as dt

    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE bulk_probe (t TEXT, b BOOLEAN, d DATE, ts TIMESTAMP WITH TIME ZONE, f DOUBLE PRECISION, "
            "i INTEGER)"))
    instant = dt.datetime(2025, 2, 28, 23, 59, 30, tzinfo=dt.timezone.utc)
    frame = pl.DataFrame({
        "t": ["", None, "a,b;c", 'il a dit "oui"', "ligne 1\nligne 2", "Saint-Étienne’s œuvre"],
        "b": [True, None, False, True, False, True],
        "d": [dt.date(2024, 12, 31), None, None, None, None, dt.date(2025, 1, 1)],
        "ts": [instant, None, None, None, None, None],
        "f": [1.5, None, 0.0000001, -2.0, 3.25, 1e12],
        "i": [1, None, 3, 4, 5, 6],
    })
    with engine.begin() as connection:
        warehouse.insert_rows(connection, "bulk_probe", frame)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT t, b, d, ts, f, i FROM bulk_probe")).all()
    assert [row[0] for row in rows] == frame["t"].to_list()
    assert [None if row[1] is None else bool(row[1]) for row in rows] == frame["b"].to_list()
    assert [None if row[2] is None else str(row[2])[:10] for row in rows] == [
        None if d is None else d.isoformat() for d in frame["d"].to_list()]
    first = rows[0][3]
    first = first if isinstance(first, dt.datetime) else dt.datetime.fromisoformat(first)
    assert first == instant and rows[1][3] is None
    assert [row[4] for row in rows] == frame["f"].to_list()
    assert [row[5] for row in rows] == frame["i"].to_list()
