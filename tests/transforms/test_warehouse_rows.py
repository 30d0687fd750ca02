"""Warehouse rows of a campaign (transforms/warehouse_rows.py): stable keys, a file's
region, which files and submissions a run limited to some regions loads, column order.

The fixture is one campaign, 2024, read by a run limited to region 84 and by a run over
the whole campaign:
- a.xlsx: one submission of region 84 (key k1, row 2), FINESS A;
- b.csv: an export of two submissions, k2 (row 2, region 84, to review) and k3 (row 3,
  region 11): a file of two regions;
- c.xlsx: one submission of region 11 (k4);
- d.xlsx: unreadable (corrupted archive);
- e.xlsx: readable, no submission in it.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl
import pytest

from schemas.registry import PersonnelLabels
from transforms.warehouse_rows import campaign_rows

YEAR, RUN = 2024, "run-1"
LOADED_AT = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.timezone.utc)
A, B = "690000013", "750000010"
LABELS = PersonnelLabels(profession="Profession", effectif="Effectif", etp="ETP",
                         professions={"medecin_generaliste": "Médecin généraliste", "infirmier": "Infirmier",
                                      "secretaire_medical": "Secrétaire médical"},
                         groups={"sante": ("medecin_generaliste", "infirmier"), "medecin": ("medecin_generaliste",)})


def sha20(*parts) -> str:
    """The key rule, written out: sha256 of the parts joined by | (None as empty), 20 hex digits."""
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:20]


ID = {"k1": sha20(YEAR, "a.xlsx", 2), "k2": sha20(YEAR, "b.csv", 2), "k3": sha20(YEAR, "b.csv", 3),
      "k4": sha20(YEAR, "c.xlsx", 2)}


def _files() -> pl.DataFrame:
    """outcomes_frame's columns: one row per received file."""
    rows = [
        # source_file, sha256, readable, container, submissions, rows_set_aside, reason
        ("a.xlsx", "sha-a", True, "xlsx", 1, 0, None),
        ("b.csv", "sha-b", True, "csv", 2, 1, None),
        ("c.xlsx", "sha-c", True, "xlsx", 1, 0, None),
        ("d.xlsx", "sha-d", False, "xlsx", 0, None, "archive corrompue"),
        ("e.xlsx", "sha-e", True, "xlsx", 0, 0, None),
    ]
    return pl.DataFrame([
        {"source_file": f, "sha256": sha, "size_bytes": 100, "readable": ok, "container": kind, "format": kind,
         "encoding": None, "separator": ";" if kind == "csv" else None, "sheets": None, "submissions": n,
         "rows_in": n, "notes": None, "reason": reason, "rows_set_aside": aside,
         "template_version": "2024" if ok else None}
        for f, sha, ok, kind, n, aside, reason in rows
    ], schema={"source_file": pl.String, "sha256": pl.String, "size_bytes": pl.Int64, "readable": pl.Boolean,
               "container": pl.String, "format": pl.String, "encoding": pl.String, "separator": pl.String,
               "sheets": pl.String, "submissions": pl.Int64, "rows_in": pl.Int64, "notes": pl.String,
               "reason": pl.String, "rows_set_aside": pl.Int64, "template_version": pl.String})


def _submissions(scoped: bool) -> pl.DataFrame:
    """What the statuses stage returns: every submission read, with its attributed region,
    `in_scope` (of the run's regions, or all of them for a run over the whole campaign) and
    `region_code` (the attributed region when it is one of the run's)."""
    rows = [
        # key, file, row, finess_et, method, attributed region
        ("k1", "a.xlsx", 2, A, "exact", "84"),
        ("k2", "b.csv", 2, None, "review", "84"),
        ("k3", "b.csv", 3, B, "exact", "11"),
        ("k4", "c.xlsx", 2, B, "exact", "11"),
    ]
    regions = ["84"] if scoped else ["84", "11"]
    return pl.DataFrame([
        {"submission_key": key, "source_file": file, "source_row": row, "declared_finess_et": et,
         "finess_et": et, "reconciliation_method": method, "reconciliation_score": 1.0 if et else None,
         "candidates": f"{A} (0.9)" if method == "review" else None,
         "date_transmission": dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc), "transmission_source": "fichier",
         "is_valid": True, "is_current": True, "version_rank": 1, "n_errors": 0, "n_warnings": 0,
         "attributed_region": region, "in_scope": region in regions,
         "region_code": region if region in regions else None,
         "declared_key": f"FINESS:{et}" if et else "NOM:CDS|69123", "raison_sociale": f"CDS {key}",
         "commune_insee": "69123", "contact_telephone": "0478000000"}
        for key, file, row, et, method, region in rows
    ], schema_overrides={"version_rank": pl.UInt32, "reconciliation_score": pl.Float64, "declared_finess_et": pl.String,
                         "finess_et": pl.String, "candidates": pl.String})


def _issues() -> pl.DataFrame:
    rows = [
        # submission_key, source_file, sheet, location, field, severity, message
        ("k1", "a.xlsx", "Identification", "B7", "telephone", "warning", "téléphone incomplet"),
        ("k1", "a.xlsx", "Identification", "B7", "telephone", "warning", "téléphone incomplet"),  # read twice
        ("k4", "c.xlsx", "Identification", "B3", "finess_et", "error", "FINESS invalide"),
        (None, "a.xlsx", None, None, None, "warning", "onglet inconnu ignoré"),
        (None, "c.xlsx", None, None, None, "warning", "onglet inconnu ignoré"),
    ]
    return pl.DataFrame([
        {"submission_key": k, "source_file": f, "sheet": sh, "location": loc, "field": fld, "label": None,
         "value": None, "severity": sev, "message": msg} for k, f, sh, loc, fld, sev, msg in rows
    ], schema={"submission_key": pl.String, "source_file": pl.String, "sheet": pl.String, "location": pl.String,
               "field": pl.String, "label": pl.String, "value": pl.String, "severity": pl.String,
               "message": pl.String})


def _statuses(scoped: bool) -> pl.DataFrame:
    rows = [  # finess_et, status, submission_key, region (not in the order of their keys)
        (None, "unexpected", "k2", "84"),
        ("690000021", "missing", None, "84"),
        (A, "on_time", "k1", "84"),
    ] + ([] if scoped else [(B, "on_time", "k4", "11")])
    return pl.DataFrame([
        {"region_code": region, "departement": "69", "finess_et": et, "finess_ej": None, "raison_sociale": "CDS",
         "status": status, "status_reason": None, "unexpected_reason": "inconnu" if status == "unexpected" else None,
         "deadline": dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc), "first_valid_at": None, "days_late": None,
         "submissions_received": 0 if key is None else 1, "reconciliation_method": None, "submission_key": key,
         "source_file": None, "source_row": None, "telephone": None}
        for et, status, key, region in rows
    ], schema_overrides={"finess_et": pl.String, "submission_key": pl.String, "submissions_received": pl.UInt32,
                         "first_valid_at": pl.Datetime("us", "UTC"), "days_late": pl.Int64, "source_file": pl.String,
                         "source_row": pl.Int64, "telephone": pl.String, "status_reason": pl.String,
                         "finess_ej": pl.String, "reconciliation_method": pl.String})


def _personnel() -> pl.DataFrame:
    return pl.DataFrame({"submission_key": ["k1", "k1", "k1", "k4"],
                         "profession": ["secretaire_medical", "medecin_generaliste", "infirmier", "infirmier"],
                         "effectif": [1, 2, 3, 4], "etp": [0.5, 1.5, 2.5, 3.5]})


def _changes() -> pl.DataFrame:
    change = {"finess_et": A, "region_code": "84", "kind": "gestionnaire", "source": "finess", "field": "finess_ej",
              "previous_value": "690000047", "new_value": "690000054", "message": "EJ différent de FINESS",
              "submission_key": "k1"}
    return pl.DataFrame([change, change, {**change, "field": "telephone", "kind": "telephone",
                                          "previous_value": None, "new_value": "0478000000"}])


def _rows(scoped: bool, changes: pl.DataFrame | None = None):
    return campaign_rows(YEAR, RUN, LOADED_AT, files=_files(), submissions=_submissions(scoped), issues=_issues(),
                         statuses=_statuses(scoped), personnel=_personnel(), changes=changes,
                         template_version="2024", field_columns=["raison_sociale", "contact_telephone"], labels=LABELS,
                         scoped=scoped)


def test_a_submission_is_keyed_by_its_year_file_and_row():
    rows = _rows(scoped=False)
    assert sorted(rows.submissions["submission_id"]) == sorted(ID.values())
    assert rows.submissions["submission_id"].to_list() == sorted(ID.values())  # sorted by key
    by_key = dict(zip(rows.submissions["source_file"] + ":" + rows.submissions["source_row"].cast(pl.String),
                      rows.submissions["submission_id"]))
    assert by_key["b.csv:3"] == ID["k3"] and by_key["a.xlsx:2"] == ID["k1"]


def test_a_run_limited_to_a_region_loads_its_submissions_and_the_files_holding_them():
    rows = _rows(scoped=True)
    assert sorted(rows.submissions["submission_id"]) == sorted([ID["k1"], ID["k2"]])
    # c.xlsx holds region 11 only, e.xlsx nothing: left to the runs over region 11 or the campaign;
    # d.xlsx, unreadable, tells no region: every run loads it
    assert sorted(rows.files["source_file"]) == ["a.xlsx", "b.csv", "d.xlsx"]


def test_a_run_over_the_whole_campaign_loads_every_file():
    rows = _rows(scoped=False)
    assert sorted(rows.files["source_file"]) == ["a.xlsx", "b.csv", "c.xlsx", "d.xlsx", "e.xlsx"]
    assert rows.submissions.height == 4


@pytest.mark.parametrize("scoped", [True, False])
def test_a_file_has_the_region_of_its_submissions_when_they_agree(scoped):
    regions = dict(_rows(scoped).files.select("source_file", "region_code").iter_rows())
    # b.csv: submissions of 84 and 11 (in every run, the out-of-scope one included)
    expected = {"a.xlsx": "84", "b.csv": None, "d.xlsx": None}
    if not scoped:
        expected.update({"c.xlsx": "11", "e.xlsx": None})
    assert regions == expected


def test_file_rows_carry_checksum_and_set_aside_rows_of_the_campaign():
    files = {row["source_file"]: row for row in _rows(scoped=True).files.iter_rows(named=True)}
    assert files["b.csv"]["source_sha256"] == "sha-b" and files["b.csv"]["rows_set_aside"] == 1
    assert files["d.xlsx"]["rows_set_aside"] == 0 and files["d.xlsx"]["template_version"] is None
    assert {row["campaign_year"] for row in files.values()} == {YEAR}
    assert {row["run_id"] for row in files.values()} == {RUN}


def test_issues_of_the_run_once_each_with_their_submission_and_the_unreadable_files():
    issues = _rows(scoped=True).issues
    got = sorted(((r["source_file"], r["submission_id"], r["region_code"], r["severity"], r["message"])
                  for r in issues.iter_rows(named=True)), key=lambda row: (row[0], row[1] or ""))
    assert got == [
        ("a.xlsx", None, None, "warning", "onglet inconnu ignoré"),
        ("a.xlsx", ID["k1"], "84", "warning", "téléphone incomplet"),  # read twice, kept once
        ("d.xlsx", None, None, "error", "fichier illisible : archive corrompue"),
    ]  # c.xlsx's issues are region 11's
    ids = dict(zip(issues["message"], issues["issue_id"]))
    assert ids["téléphone incomplet"] == sha20(YEAR, "a.xlsx", "k1", "Identification", "B7", "telephone",
                                               "téléphone incomplet")
    assert ids["fichier illisible : archive corrompue"] == sha20(YEAR, "d.xlsx", None, None, None, None,
                                                                  "fichier illisible : archive corrompue")


def test_a_status_is_keyed_by_year_and_centre_or_by_its_unexpected_submission():
    statuses = _rows(scoped=True).statuses
    assert statuses["status_id"].to_list() == sorted([f"{YEAR}:{A}", f"{YEAR}:690000021",
                                                      f"{YEAR}:unexpected:{ID['k2']}"])
    by_id = dict(zip(statuses["status_id"], statuses["submission_id"]))
    assert by_id[f"{YEAR}:{A}"] == ID["k1"] and by_id[f"{YEAR}:690000021"] is None
    assert statuses["loaded_at"].unique().to_list() == [LOADED_AT]


def test_personnel_rows_of_the_loaded_submissions_with_the_registry_groups():
    personnel = _rows(scoped=True).personnel
    assert personnel.select("submission_id", "profession", "effectif", "is_health_profession", "is_medecin",
                            "region_code").rows() == [
        (ID["k1"], "infirmier", 3, True, False, "84"),
        (ID["k1"], "medecin_generaliste", 2, True, True, "84"),
        (ID["k1"], "secretaire_medical", 1, False, False, "84"),
    ]  # k4 is region 11's


def test_a_change_found_twice_is_one_row_keyed_by_what_it_says():
    changes = _rows(scoped=True, changes=_changes()).changes
    assert changes.height == 2
    assert sorted(changes["change_id"]) == sorted([
        sha20(YEAR, A, "gestionnaire", "finess", "finess_ej", "690000047", "690000054"),
        sha20(YEAR, A, "telephone", "finess", "telephone", None, "0478000000")])
    assert changes["submission_id"].unique().to_list() == [ID["k1"]]
    assert _rows(scoped=True).changes is None


def test_reviews_are_the_submissions_to_review():
    reviews = _rows(scoped=True).reviews
    assert reviews.select("submission_id", "declared_key", "candidates").rows() == [
        (ID["k2"], "NOM:CDS|69123", f"{A} (0.9)")]


def test_columns_in_the_order_of_the_tables():
    rows = _rows(scoped=False, changes=_changes())
    assert rows.submissions.columns == [
        "submission_id", "campaign_year", "region_code", "source_file", "source_row", "source_sha256", "container",
        "template_version", "declared_finess_et", "finess_et", "reconciliation_method", "reconciliation_score",
        "reconciliation_candidates", "date_transmission", "transmission_source", "is_valid", "is_current",
        "version_rank", "n_errors", "n_warnings", "raison_sociale", "contact_telephone", "run_id", "loaded_at"]
    assert rows.files.columns == [
        "campaign_year", "source_file", "region_code", "source_sha256", "size_bytes", "readable", "container",
        "format", "encoding", "separator", "sheets", "template_version", "submissions", "rows_in", "rows_set_aside",
        "notes", "reason", "run_id"]
    assert rows.statuses.columns == [
        "status_id", "campaign_year", "region_code", "departement", "finess_et", "finess_ej", "raison_sociale",
        "status", "status_reason", "unexpected_reason", "deadline", "first_valid_at", "days_late",
        "submissions_received", "reconciliation_method", "submission_id", "source_file", "source_row", "telephone",
        "run_id", "loaded_at"]
    assert rows.issues.columns == ["issue_id", "campaign_year", "region_code", "submission_id", "source_file",
                                   "sheet", "location", "field", "label", "value", "severity", "message", "run_id"]
    assert rows.personnel.columns == ["submission_id", "campaign_year", "region_code", "profession", "effectif",
                                      "etp", "is_health_profession", "is_medecin", "run_id"]
    assert rows.changes.columns == ["change_id", "campaign_year", "region_code", "finess_et", "kind", "source",
                                    "field", "previous_value", "new_value", "message", "submission_id", "run_id"]
    assert rows.reviews.columns == ["campaign_year", "submission_id", "region_code", "declared_key",
                                    "declared_finess_et", "raison_sociale", "commune_insee", "candidates",
                                    "source_file", "run_id"]
    assert rows.submissions["version_rank"].dtype == pl.Int64
    assert rows.statuses["submissions_received"].dtype == pl.Int64


def test_submission_keeps_the_declared_fields_but_the_resolved_finess_and_the_reception_date():
    from transforms.warehouse_rows import stored_fields

    # finess_et and date_transmission are submission columns of their own (resolved, received);
    # submission_key and is_valid are no declared field
    assert stored_fields(["submission_key", "contact_telephone", "finess_et", "raison_sociale",
                          "date_transmission", "is_valid"]) == ["contact_telephone", "raison_sociale"]
