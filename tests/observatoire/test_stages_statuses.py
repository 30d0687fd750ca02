"""The statuses stage: where an unexpected submission is placed when no centre was found."""
from __future__ import annotations

import polars as pl
import pytest

from observatoire import stages
from observatoire.readers.calendar import read_calendar
from tests.support.small_campaign import extract_line, write_extract
from tests.support.submission_files import finess, run, save, values, workbook

CENTRE, EJ = finess("69000001"), finess("69000002")
UNKNOWN = finess("97400009")  # a valid key, in no referential


def _extract(path):
    return write_extract(path, "2025-01-10", [extract_line(
        CENTRE, EJ, "CDS MUNICIPAL VILLEURBANNE", "266", "69", "RHONE", "69100 VILLEURBANNE",
        "CENTRE DE SANTE MUNICIPAL VILLEURBANNE")])


@pytest.mark.parametrize("commune, postal, departement, region", [
    # Saint-Denis (La Réunion) is commune 97411: département 974 (three characters
    # overseas, geography.py), region 04, not « 97 »
    ("97411", "97400", "974", "04"),
    # Saint-Barthélemy and Saint-Martin: collectivités served by the ARS of Guadeloupe (01)
    ("97701", "97133", "977", "01"),
    ("97801", "97150", "978", "01"),
])
def test_an_unknown_centre_overseas_is_placed_by_its_declared_commune(tmp_path, commune, postal, departement,
                                                                      region):
    declared = values(2024, finess_et=UNKNOWN, finess_ej=None, raison_sociale="Centre de santé du Butor",
                      commune_insee=commune, code_postal=postal, antennes=None)
    book, _ = workbook(declared)
    save(book, tmp_path / "envois" / "rapport.xlsx")
    ref = stages.load_referential([_extract(tmp_path / "finess.csv")])
    _, validated = run(tmp_path / "envois", 2024, in_process=True)
    rows, _ = stages.statuses(validated, stages.reconcile(validated, ref), ref, read_calendar(None), 2024,
                              ["01", "04", "84"])
    unexpected = rows.filter(rows["status"] == "unexpected")
    assert unexpected.select("departement", "region_code").rows() == [(departement, region)]


def test_the_summary_says_how_many_submissions_wait_for_a_decision():
    received = stages.ReceivedFiles([], pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), [], pl.DataFrame())
    statuses = pl.DataFrame({"region_code": ["84", "84", "84", "11"],
                             "status": ["on_time", "unexpected", "unexpected", "unexpected"],
                             "unexpected_reason": [None, "review", "unknown_finess", "review"]})
    lines = stages.summary_text(2024, statuses, received).splitlines()
    assert [line for line in lines if line.startswith("Rapprochements")] == [
        "Rapprochements à arbitrer : 2 envoi(s) en revue, comptés inattendus jusqu'à la décision "
        "(observatoire revue --year 2024, puis observatoire decision)"]
    quiet = stages.summary_text(2024, statuses.filter(pl.col("unexpected_reason") != "review"), received)
    assert "Rapprochements" not in quiet
