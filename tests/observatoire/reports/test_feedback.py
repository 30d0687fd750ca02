"""The feedback workbook of a run: every issue by centre and file, every file's outcome,
styled for reading, and nothing a centre typed can become a formula."""
from __future__ import annotations

import openpyxl
import polars as pl

from observatoire.reports.feedback import outcomes_frame, write_feedback_workbook, write_run_feedback
from tests.support.submission_files import csv_bytes, export_header, export_row, run, save, values, workbook
from transforms.submissions import ISSUE_SCHEMA


def _issues(rows):
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA, orient="row")


def test_values_that_look_like_formulas_stay_text(tmp_path):
    dangerous = ["=HYPERLINK(\"http://x\",\"clic\")", "+33 4 78", "-1", "@SUM(A1)", "=1+1"]
    issues = _issues([("k", "cds.xlsx", "Activité", f"B{i}", "file_active", "File active", value, "error", "m")
                      for i, value in enumerate(dangerous, start=3)])
    path = write_feedback_workbook(issues, pl.DataFrame({"source_file": ["=cmd|' /C calc'!A0"]}), tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["Anomalies"]
    header = [c.value for c in sheet[1]]
    column = header.index("Valeur reçue") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, 2 + len(dangerous))]
    assert [c.value for c in cells] == ["'" + value for value in dangerous]  # OWASP: a leading quote
    assert all(c.data_type == "s" for c in cells)
    files = book["Fichiers"]
    assert files["A2"].value == "'=cmd|' /C calc'!A0" and files["A2"].data_type == "s"


def test_layout_frozen_header_filter_widths_and_french_headers(tmp_path):
    issues = _issues([
        ("k2", "b.csv", None, "ligne 3", "nb_actes", "Nombre d'actes et consultations", "-1", "error",
         "attendu un nombre supérieur ou égal à 0"),
        ("k1", "a.xlsx", "Finances", "B5", "resultat", "Résultat de l'exercice (€)", "1000", "warning",
         "doit être égal à total des produits − total des charges (à 1 € près)"),
    ])
    path = write_feedback_workbook(issues, pl.DataFrame({"source_file": ["a.xlsx"], "readable": [True]}),
                                   tmp_path / "sub" / "retour.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["Anomalies"]
    assert sheet.freeze_panes == "C2"
    assert sheet.auto_filter.ref == "A1:G3"  # the seven issue columns present, header + two rows
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=1)]
    # what to correct first, where it is next, the file's path last
    assert rows[0] == ["Gravité", "Libellé", "Valeur reçue", "Anomalie (ce qui est attendu)", "Feuille",
                       "Cellule ou ligne", "Fichier"]
    assert [r[-1] for r in rows[1:]] == ["a.xlsx", "b.csv"]  # sorted by file
    assert rows[1][0] == "avertissement" and rows[2][0] == "bloquant"
    message = sheet.cell(row=2, column=4)
    assert message.alignment.wrap_text
    # the 69-character message wraps on two lines of its 60-character column: the row shows both
    assert sheet.row_dimensions[2].height >= 2 * 15
    assert book["Fichiers"]["B2"].value == "oui"


def test_centres_sheet_shows_the_message_without_scrolling_and_prints_on_a4_landscape(tmp_path):
    """1600 px at 100 %: about 220 characters of Calibri 11 (7 px each) after the row
    numbers; the centre, its FINESS, the severity, the label, the value and the message
    come before any path."""
    issues = _issues([("k1", "envois/2024/r84/un dossier très long/cds-des-tilleuls-2024-v3.xlsx", "Finances", "B5",
                       "resultat", "Résultat de l'exercice (€)", "1000", "warning", "doit être égal à …")])
    issues = issues.with_columns(pl.lit("Centre de santé des Tilleuls").alias("raison_sociale"),
                                 pl.lit("690000013").alias("finess_et"))
    path = write_feedback_workbook(issues, pl.DataFrame({"source_file": ["a.xlsx"], "readable": [True]}),
                                   tmp_path / "retour.xlsx")
    sheet = openpyxl.load_workbook(path)["Anomalies"]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["Centre", "N° FINESS ET déclaré", "Gravité", "Libellé", "Valeur reçue",
                          "Anomalie (ce qui est attendu)"]
    assert header[-1] == "Fichier"
    letters = [openpyxl.utils.get_column_letter(i) for i in range(1, 7)]
    assert sum(sheet.column_dimensions[c].width for c in letters) * 7 <= 1600 - 60
    assert sheet.freeze_panes == "C2"  # the centre and its FINESS stay in view
    setup = sheet.page_setup
    assert (setup.orientation, int(setup.paperSize), setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"


def test_run_feedback_lists_every_issue_and_every_file(tmp_path):
    folder = tmp_path / "envois"
    save(workbook(values(number=1, file_active="beaucoup"))[0], folder / "cds1.xlsx")
    save(workbook(values(number=2), personnel=[("Médecin généraliste", 1, 1), ("Chirurgien", 1, 1)])[0],
         folder / "cds2.xlsx")
    (folder / "export.csv").write_bytes(csv_bytes(export_header(), [export_row(number=3)], encoding="cp1252"))
    (folder / "casse.xlsx").write_bytes(b"%PDF-1.4")
    received, validated = run(folder)
    path = write_run_feedback(received, validated, tmp_path / "retour.xlsx")
    book = openpyxl.load_workbook(path)
    anomalies = [dict(zip([c.value for c in book["Anomalies"][1]], [c.value for c in row]))
                 for row in book["Anomalies"].iter_rows(min_row=2)]
    assert {(a["Fichier"], a["Gravité"]) for a in anomalies} == {
        ("casse.xlsx", "bloquant"), ("cds1.xlsx", "bloquant"), ("cds2.xlsx", "avertissement")}
    cds1 = next(a for a in anomalies if a["Fichier"] == "cds1.xlsx")
    assert (cds1["Centre"], cds1["Valeur reçue"], cds1["Feuille"]) == (
        "Centre de santé des Tilleuls 1", "beaucoup", "Activité")
    files = {row[0].value: [c.value for c in row] for row in book["Fichiers"].iter_rows(min_row=2)}
    header = [c.value for c in book["Fichiers"][1]]
    assert set(files) == {"cds1.xlsx", "cds2.xlsx", "export.csv", "casse.xlsx"}
    at = header.index
    assert files["cds2.xlsx"][at("Lignes écartées")] == 1
    assert files["export.csv"][at("Encodage")] == "windows-1252"
    assert files["export.csv"][at("Version du modèle")] == "2024"
    assert files["casse.xlsx"][at("Lu")] == "non" and "PDF" in files["casse.xlsx"][at("Motif si illisible")]
    assert files["casse.xlsx"][at("Version du modèle")] is None


def test_outcomes_frame_completes_file_outcomes(tmp_path):
    folder = tmp_path / "envois"
    save(workbook(values(), personnel=[("Médecin généraliste", 1, 1), ("Infirmier", "x", 1), ("Infirmier", -1, 1)])[0],
         folder / "cds.xlsx")
    received, validated = run(folder)
    frame = outcomes_frame(received.outcomes, validated.rows_set_aside, validated.template_version)
    row = frame.row(0, named=True)
    assert (row["rows_set_aside"], row["template_version"], row["readable"]) == (2, "2024", True)
    assert row["rows_in"] == len(values()) + 3
