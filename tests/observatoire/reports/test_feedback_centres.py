"""One feedback workbook per centre (`observatoire retours`): what an ARS sends back to each
centre, its anomalies only, laid out as the centres' sheet of the campaign's feedback
workbook, with a file name that travels by mail."""
from __future__ import annotations

import openpyxl
import polars as pl
import pytest

from observatoire import warehouse
from observatoire.cli import main
from observatoire.reports.feedback import (CENTRE_FOLDER, centre_file_name, read_centre_issues,
                                           write_feedback_workbook)
from tests.support import warehouse_builder as build

A, B, D, I = "690000013", "690000021", "690000039", "750000010"
NAME_A = "Centre de santé l'Arbre/de vie « Sud »"
FORMULA = '=HYPERLINK("http://x","clic")'


def _issue(submission_id, region, label, value, severity, message, location="B7", source=None) -> dict:
    return {"issue_id": f"{submission_id}-{label}", "campaign_year": 2024, "region_code": region,
            "submission_id": submission_id, "source_file": source or f"{submission_id}.xlsx", "sheet": "Finances",
            "location": location, "field": "x", "label": label, "value": value, "severity": severity,
            "message": message, "run_id": "r"}


@pytest.fixture
def url(engine_url):
    """A: on time after an invalid first version (its error corrected since) and a warning on
    the current one; B: on time, nothing to correct; D: invalid, two invalid versions; I:
    region 11, invalid; an unmatched submission and an unreadable file with errors. On SQLite
    and PostgreSQL (a boolean there, 0/1 here)."""
    statuses = [
        build.status(2024, A, "84", "69", "on_time", submission_id="a2", received=2, name=NAME_A),
        build.status(2024, B, "84", "69", "on_time", submission_id="b", received=1),
        build.status(2024, D, "84", "69", "invalid", received=2),
        build.status(2024, I, "11", "75", "invalid", received=1),
        build.status(2024, None, "84", "69", "unexpected", submission_id="u", received=1),
    ]
    submissions = [
        build.submission(2024, "a1", A, "84", valid=False, current=False, rank=1, errors=1, raison_sociale="CDS A v1"),
        build.submission(2024, "a2", A, "84", rank=2, raison_sociale="CDS A"),
        build.submission(2024, "b", B, "84", raison_sociale="CDS B"),
        build.submission(2024, "d1", D, "84", valid=False, current=False, rank=1, errors=1, raison_sociale="CDS D"),
        build.submission(2024, "d2", D, "84", valid=False, current=False, rank=2, errors=2, raison_sociale="CDS D"),
        build.submission(2024, "i", I, "11", valid=False, current=False, errors=1, raison_sociale="CDS I"),
        build.submission(2024, "u", None, "84", errors=1, raison_sociale="CDS INCONNU"),
    ]
    issues = [
        _issue("a1", "84", "Total des charges (€)", "-1", "error", "valeur négative"),
        _issue("a2", "84", "Courriel de contact", FORMULA, "warning", "attendu une adresse électronique valide"),
        _issue("d1", "84", "Jours d'ouverture dans l'année", "400", "error", "attendu au plus 366"),
        _issue("d2", "84", "File active (nombre de patients)", "beaucoup", "error", "attendu un nombre entier"),
        _issue("d2", "84", "Téléphone", "04 78", "warning", "attendu 10 chiffres", location="B9"),
        _issue("i", "11", "Type de centre", "clinique", "error", "attendu un type de centre du modèle"),
        _issue("u", "84", "Raison sociale", None, "error", "valeur obligatoire"),
        {**_issue(None, "84", None, None, "error", "fichier illisible : fichier vide (0 octet)"),
         "issue_id": "vide", "source_file": "69/vide.xlsx"},
    ]
    engine = warehouse.connect(engine_url)
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.campaign(2024, ["84", "11"], statuses, submissions, "r", issues=issues))
    engine.dispose()
    return engine_url


def _rows(path):
    sheet = openpyxl.load_workbook(path)["Anomalies"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]


def test_one_workbook_per_centre_with_anomalies_holding_only_its_own(url, tmp_path, capsys):
    out = tmp_path / "rapports" / "{annee}"
    assert main(["retours", "--year", "2024", "--warehouse", url, "--out", str(out)]) == 0
    folder = tmp_path / "rapports" / "2024" / CENTRE_FOLDER
    files = sorted(p.name for p in folder.iterdir())
    # B has nothing to correct; the unmatched submission and the unreadable file are no centre's
    assert files == [f"{A}-centre-de-sante-l-arbre-de-vie-sud.xlsx", f"{D}-centre-de-sante-{D}.xlsx",
                     f"{I}-centre-de-sante-{I}.xlsx"]
    a, d, i = (_rows(folder / name) for name in files)
    # A's first version was corrected by the current one: only the current one's warning
    assert [(r["Libellé"], r["Gravité"], r["Fichier"]) for r in a] == [("Courriel de contact", "avertissement", "a2.xlsx")]
    # D has no valid report: every anomaly of both versions, by file
    assert [(r["Fichier"], r["Libellé"]) for r in d] == [
        ("d1.xlsx", "Jours d'ouverture dans l'année"), ("d2.xlsx", "File active (nombre de patients)"),
        ("d2.xlsx", "Téléphone")]
    assert {r["N° FINESS ET déclaré"] for r in a + d + i} == {A, D, I}
    assert [r["Libellé"] for r in i] == ["Type de centre"]
    printed = capsys.readouterr().out
    assert "3 classeur(s)" in printed and "(5 anomalie(s) sur 8" in printed


def test_region_option_writes_only_that_regions_centres(url, tmp_path):
    assert main(["retours", "--year", "2024", "--region", "11", "--warehouse", url, "--out", str(tmp_path)]) == 0
    assert [p.name for p in (tmp_path / CENTRE_FOLDER).iterdir()] == [f"{I}-centre-de-sante-{I}.xlsx"]


def test_same_layout_as_the_centres_sheet_printable_and_no_formula(url, tmp_path):
    """Headers, widths, frozen panes and print setup are those of the campaign workbook's
    centres' sheet, written from the same anomalies; a centre's text stays text."""
    assert main(["retours", "--year", "2024", "--warehouse", url, "--out", str(tmp_path)]) == 0
    issues, _ = read_centre_issues(warehouse.connect(url, existing=True), 2024, None)
    campaign = write_feedback_workbook(issues.drop("centre_et", "centre_name", "centre_status", "is_current",
                                                   "region_code"),
                                       pl.DataFrame({"source_file": ["a.xlsx"]}), tmp_path / "campagne.xlsx")
    reference = openpyxl.load_workbook(campaign)["Anomalies"]
    for path in sorted((tmp_path / CENTRE_FOLDER).iterdir()):
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == ["Anomalies"]
        sheet = book["Anomalies"]
        assert [c.value for c in sheet[1]] == [c.value for c in reference[1]]
        assert [c.value for c in sheet[1]][:3] == ["Centre", "N° FINESS ET déclaré", "Gravité"]
        assert [c.value for c in sheet[1]][-1] == "Fichier"
        letters = [openpyxl.utils.get_column_letter(i) for i in range(1, sheet.max_column + 1)]
        assert [sheet.column_dimensions[x].width for x in letters] == \
               [reference.column_dimensions[x].width for x in letters]
        assert sheet.freeze_panes == reference.freeze_panes == "C2"
        setup = sheet.page_setup
        assert (setup.orientation, int(setup.paperSize), setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
        assert "campagne 2024" in sheet.oddHeader.center.text and path.name[:9] in sheet.oddHeader.center.text
        cells = [c for row in sheet.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
    a = openpyxl.load_workbook(next((tmp_path / CENTRE_FOLDER).glob(f"{A}-*.xlsx")))["Anomalies"]
    header = [c.value for c in a[1]]
    value = a.cell(row=2, column=header.index("Valeur reçue") + 1)
    assert value.value == "'" + FORMULA and value.data_type == "s"


@pytest.mark.parametrize("finess, name, expected", [
    (A, NAME_A, f"{A}-centre-de-sante-l-arbre-de-vie-sud.xlsx"),
    ("2A0000014", "C.D.S. DENTAIRE ÎLE-ROUSSE", "2A0000014-cds-dentaire-ile-rousse.xlsx"),
    (A, None, f"{A}.xlsx"),
    (A, "../../etc/passwd", f"{A}-etc-passwd.xlsx"),
    (A, "x" * 200, f"{A}-" + "x" * 65 + ".xlsx"),
])
def test_file_names_are_safe(finess, name, expected):
    assert centre_file_name(finess, name) == expected


def test_a_missing_warehouse_is_one_line(tmp_path, capsys):
    assert main(["retours", "--year", "2024", "--warehouse", str(tmp_path / "absent.db"),
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("observatoire retours : Entrepôt introuvable")
    assert not (tmp_path / "absent.db").exists()


def test_a_new_pass_removes_the_workbooks_of_centres_with_nothing_left_to_correct(url, tmp_path, capsys):
    folder = tmp_path / CENTRE_FOLDER
    folder.mkdir()
    stale = folder / "690000047-cds-corrige-depuis.xlsx"  # written by an earlier pass
    stale.write_bytes(b"old")
    mine = folder / "notes de l'ARS.xlsx"  # not a name `retours` writes: left alone
    mine.write_bytes(b"mine")
    target = tmp_path / "ailleurs.xlsx"
    target.write_bytes(b"keep")
    (folder / "690000054-lien.xlsx").symlink_to(target)
    assert main(["retours", "--year", "2024", "--region", "84", "--warehouse", url, "--out", str(tmp_path)]) == 0
    assert stale.exists()  # a pass limited to a region leaves the others' workbooks alone
    assert main(["retours", "--year", "2024", "--warehouse", url, "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{A}-centre-de-sante-l-arbre-de-vie-sud.xlsx", f"{D}-centre-de-sante-{D}.xlsx",
        f"{I}-centre-de-sante-{I}.xlsx", "notes de l'ARS.xlsx"]
    assert target.read_bytes() == b"keep" and mine.read_bytes() == b"mine"
    assert "2 classeur(s) d'un passage précédent retiré(s)" in capsys.readouterr().out
