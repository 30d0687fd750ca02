"""A corpus of malformed and odd-but-valid submission files, built here in tmp_path, each
with the exact outcome or issue a careful ARS agent would give it; and a campaign mixing
300 good submissions with every malformed file."""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from observatoire.readers.submission_files import read_submission_file
from tests.support.submission_files import (
    LABELS, PERSONNEL, csv_bytes, export_header, export_row, export_workbook, finess, issues_of, ods_bytes,
    ods_workbook_sheets, outcome_of, patch_zip, run, save, sheet_member, values, workbook,
)


def _good_xlsx_bytes(tmp_path: Path) -> bytes:
    return save(workbook(values())[0], tmp_path / "_good" / "good.xlsx").read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _ratio_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(24):
                member.write(b"\0" * (1 << 20))
    return buffer.getvalue()


def _declared_bomb() -> bytes:
    """A small zip whose directory announces a 4 GB member: refused from the directory alone
    (decompressing it would fail, so a crash or a hang would show)."""
    raw = bytearray(_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}))
    central = raw.rfind(b"PK\x01\x02")  # last central directory entry: xl/workbook.xml
    raw[central + 24:central + 28] = (0xFFFFFFF0).to_bytes(4, "little")  # uncompressed size
    return bytes(raw)


def _ole2(extra: bytes) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + extra + b"\0" * 1024


def _without_header_column(header, rows, label):
    at = header.index(label)
    return [h for i, h in enumerate(header) if i != at], [[v for i, v in enumerate(r) if i != at] for r in rows]


def _unreadable_cases(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    good = _good_xlsx_bytes(tmp_path)
    header, rows = export_header(), [export_row(number=n) for n in (1, 2)]
    no_type_header, no_type_rows = _without_header_column(header, rows, "Type de centre")
    no_type_xlsx = save(export_workbook(no_type_header, no_type_rows), tmp_path / "_x" / "no_type.xlsx").read_bytes()
    two_sheets = openpyxl.Workbook()
    two_sheets.active.title = "Feuil1"
    two_sheets.create_sheet("Feuil2")
    two_sheets_bytes = save(two_sheets, tmp_path / "_x" / "two.xlsx").read_bytes()
    no_finances = save(workbook(values(), drop_sheets=("Finances",))[0], tmp_path / "_x" / "nf.xlsx").read_bytes()
    no_personnel_header = save(workbook(values(), personnel_header=["Métier", "Nombre", "ETP"])[0],
                               tmp_path / "_x" / "nph.xlsx").read_bytes()
    no_etp = save(workbook(values(), personnel_header=["Profession", "Effectif (personnes physiques)", "Temps"])[0],
                  tmp_path / "_x" / "netp.xlsx").read_bytes()
    return {
        "vide.xlsx": (b"", "fichier vide"),
        "vide.csv": (b"", "fichier vide"),
        "blancs.csv": (b"  \r\n\r\n  ", "fichier vide"),
        "tronque.xlsx": (good[: len(good) // 2], "classeur tronqué ou corrompu"),
        "corrompu.xlsx": (b"PK\x03\x04" + b"\x00garbage" * 50, "classeur tronqué ou corrompu"),
        "protege.xlsx": (_ole2("EncryptedPackage".encode("utf-16-le")), "protégé par mot de passe"),
        "ancien_casse.xls": (_ole2(b"Workbook"), "ancien format .xls illisible"),
        "page.xlsx": (b"<!DOCTYPE html><html><body>Erreur 404</body></html>", "page HTML renommée"),
        "rapport.xlsx": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF renommé"),
        "texte.xlsx": ("Année d'exercice;2024\n".encode(), "n'est pas un classeur"),
        "archive.xlsx": (_zip({"lisezmoi.txt": b"bonjour"}), "archive zip qui n'est pas un classeur"),
        "bombe.xlsx": (_ratio_bomb(), "possible bombe de décompression"),
        "bombe_annoncee.xlsx": (_declared_bomb(), "possible bombe de décompression"),
        "utf16.csv": ("\ufeffAnnée d'exercice;Raison sociale\n2024;CDS\n".encode("utf-16"), "UTF-16"),
        "octet_inconnu.csv": (b"Ann\xe9e d'exercice;Raison\x81\n2024;x\n", "encodage non reconnu (octet 0x81"),
        "bom_invalide.csv": (b"\xef\xbb\xbfAnn\xe9e;x\n", "marqué UTF-8"),
        "une_colonne.csv": ("Bonjour\nVoici notre rapport\n".encode(), "une seule colonne"),
        "sans_type.csv": (csv_bytes(no_type_header, no_type_rows), "« Type de centre »"),
        "sans_type.xlsx": (no_type_xlsx, "colonne(s) obligatoire(s) absente(s) de l'en-tête : « Type de centre »"),
        "entete_seul.csv": (csv_bytes(header, []), "aucun envoi trouvé"),
        "deux_feuilles.xlsx": (two_sheets_bytes, "classeur non reconnu"),
        "sans_finances.xlsx": (no_finances, "feuille(s) manquante(s) : « Finances »"),
        "personnel_sans_entete.xlsx": (no_personnel_header, "ligne d'en-tête « Profession"),
        "personnel_sans_etp.xlsx": (no_etp, "colonne(s) « Effectif (personnes physiques) » et « ETP »"),
    }


UNREADABLE_NAMES = [
    "vide.xlsx", "vide.csv", "blancs.csv", "tronque.xlsx", "corrompu.xlsx", "protege.xlsx", "ancien_casse.xls",
    "page.xlsx", "rapport.xlsx", "texte.xlsx", "archive.xlsx", "bombe.xlsx", "bombe_annoncee.xlsx", "utf16.csv",
    "octet_inconnu.csv", "bom_invalide.csv", "une_colonne.csv", "sans_type.csv", "sans_type.xlsx",
    "entete_seul.csv", "deux_feuilles.xlsx", "sans_finances.xlsx", "personnel_sans_entete.xlsx",
    "personnel_sans_etp.xlsx",
]


@pytest.fixture(scope="module")
def unreadable_folder(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("illisibles")
    cases = _unreadable_cases(folder / "_build")
    for name, (data, _) in cases.items():
        (folder / name).write_bytes(data)
    return folder, {name: reason for name, (_, reason) in cases.items()}


@pytest.mark.parametrize("name", UNREADABLE_NAMES)
def test_unreadable_file_gets_a_french_reason_and_checksum(unreadable_folder, name):
    import hashlib

    unreadable_folder, reasons = unreadable_folder
    expected = reasons[name]
    started = time.perf_counter()
    content = read_submission_file(unreadable_folder / name, unreadable_folder)
    assert time.perf_counter() - started < 2  # a bomb is refused, not decompressed
    outcome = content.outcome
    assert not outcome.readable
    assert expected in outcome.reason, outcome.reason
    assert outcome.sha256 == hashlib.sha256((unreadable_folder / name).read_bytes()).hexdigest()
    assert content.cells.is_empty() and content.personnel.is_empty()


# ------------------------------------------------------------------ odd but valid files
def _single(tmp_path: Path, name: str, data_or_book, year: int = 2024):
    folder = tmp_path / "envois"
    folder.mkdir(exist_ok=True)
    path = folder / name
    if isinstance(data_or_book, bytes):
        path.write_bytes(data_or_book)
    else:
        save(data_or_book, path)
    received, validated = run(folder, year)
    return outcome_of(received, name), validated


def _assert_valid(outcome, validated, submissions: int = 1):
    assert outcome.readable, outcome.reason
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    assert validated.typed.height == submissions
    assert validated.typed["is_valid"].all()


def test_good_workbook_outcome_record(tmp_path):
    outcome, validated = _single(tmp_path, "cds.xlsx", workbook(values())[0])
    _assert_valid(outcome, validated)
    assert (outcome.container, outcome.format) == ("classeur", "xlsx")
    assert outcome.sheets == ["Identification", "Activité", "Finances", "Personnel"]
    # every field of values() is one form line, plus the three Personnel lines
    assert outcome.rows_in == len(values()) + len(PERSONNEL)
    row = validated.typed.row(0, named=True)
    assert row["total_produits"] == 1250000.5 and row["file_active"] == 3200 and row["part_css_pct"] == 12.5
    team = {r["profession"]: (r["effectif"], r["etp"]) for r in validated.personnel.iter_rows(named=True)}
    assert team["medecin_generaliste"][0] == 3 and team["infirmier"][1] == 1.8
    assert validated.template_version == "2024"


def test_template_2023_for_exercise_2023(tmp_path):
    outcome, validated = _single(tmp_path, "cds2023.xlsx", workbook(values(2023), year=2023)[0], year=2023)
    _assert_valid(outcome, validated)
    assert validated.template_version == "2023"
    assert validated.typed["remuneration_forfaitaire"].to_list() == [100000.0]


def test_extra_sheet_is_noted_not_refused(tmp_path):
    outcome, validated = _single(tmp_path, "extra.xlsx", workbook(values(), extra_sheets=("Notes",))[0])
    _assert_valid(outcome, validated)
    assert any("Notes" in note and "ignorée" in note for note in outcome.notes)


def test_hidden_row_is_still_read(tmp_path):
    book, where = workbook(values())
    sheet, cell = where["file_active"]
    book[sheet].row_dimensions[int(cell[1:])].hidden = True
    outcome, validated = _single(tmp_path, "masque.xlsx", book)
    _assert_valid(outcome, validated)
    assert validated.typed["file_active"].to_list() == [3200]


def test_no_title_rows_and_labels_typed_loosely(tmp_path):
    loose = {name: label.upper().replace("É", "E").replace("(€)", "").replace(" ", "  ") + " :"
             for name, label in LABELS[2024].items()}
    outcome, validated = _single(tmp_path, "libelles.xlsx", workbook(values(), labels=loose, title_rows=False)[0])
    _assert_valid(outcome, validated)


def test_numbers_and_dates_as_spreadsheet_cells(tmp_path):
    import datetime as dt

    book, _ = workbook(values(
        finess_et=int(finess("01000001")), finess_ej=int(finess("01000002")), code_postal=1000, commune_insee=1053,
        date_transmission=dt.datetime(2025, 2, 15, 10, 30), total_charges=1200000.5, total_produits=1250000.5,
        resultat=50000, part_css_pct=12.5, tiers_payant_integral="VRAI", permanence_soins="N",
    ))
    outcome, validated = _single(tmp_path, "nombres.xlsx", book)
    _assert_valid(outcome, validated)
    row = validated.typed.row(0, named=True)
    # text, never `10000016.0`; the lost leading zero of the FINESS is repaired at
    # reconciliation (declared value kept as sent), and judged repaired (no warning on EJ)
    assert row["finess_et"] == finess("01000001").lstrip("0")
    assert (row["code_postal"], row["commune_insee"]) == ("01000", "01053")
    assert row["date_transmission"].isoformat() == "2025-02-15T10:30:00+01:00"
    assert row["tiers_payant_integral"] is True and row["permanence_soins"] is False


@pytest.mark.parametrize("typed, iso", [
    ("45703", "2025-02-15T00:00:00+01:00"),  # serial typed as text
    ("2025-02-15T09:30:00Z", "2025-02-15T10:30:00+01:00"),
    ("2025-02-15T10:30:00+01:00", "2025-02-15T10:30:00+01:00"),
    ("2025-02-15 10:30", "2025-02-15T10:30:00+01:00"),  # no zone: Europe/Paris
    ("15/02/2025", "2025-02-15T00:00:00+01:00"),
])
def test_date_transmission_forms(tmp_path, typed, iso):
    outcome, validated = _single(tmp_path, "date.xlsx", workbook(values(date_transmission=typed))[0])
    _assert_valid(outcome, validated)
    assert validated.typed["date_transmission"][0].isoformat() == iso


def test_formula_with_cached_value_is_read(tmp_path):
    book, where = workbook(values(resultat="=B4-B3"))
    source = save(book, tmp_path / "src" / "f.xlsx")
    sheet, cell = where["resultat"]
    patched = patch_zip(source, tmp_path / "src" / "g.xlsx", sheet_member(source, sheet),
                        (f'<c r="{cell}"><f>B4-B3</f><v />'.encode(), f'<c r="{cell}"><f>B4-B3</f><v>50000</v>'.encode()))
    outcome, validated = _single(tmp_path, "formule.xlsx", patched.read_bytes())
    _assert_valid(outcome, validated)
    assert validated.typed["resultat"].to_list() == [50000.0]


def test_formula_without_cached_value_is_flagged(tmp_path):
    book, where = workbook(values(resultat="=B4-B3"))
    outcome, validated = _single(tmp_path, "formule_vide.xlsx", book)
    sheet, cell = where["resultat"]
    issues = issues_of(validated, "formule_vide.xlsx")
    warning = issues.filter(pl.col("severity") == "warning")
    assert warning.select("sheet", "location", "label").rows() == [("Finances", cell, "Résultat de l'exercice (€)")]
    assert "formule sans valeur calculée" in warning["message"][0]
    error = issues.filter(pl.col("severity") == "error")
    assert error.select("field", "location").rows() == [("resultat", cell)]
    assert "obligatoire" in error["message"][0]


def test_formula_check_reads_each_workbooks_own_sheet_order(tmp_path):
    # the sheet -> XML member map is kept per template: a workbook whose sheets were
    # reordered (another workbook.xml) must not be checked against the first one's map
    for name, move in (("ordre_modele.xlsx", 0), ("ordre_change.xlsx", -2)):
        book, where = workbook(values(resultat="=B4-B3"))
        book.move_sheet("Finances", offset=move)
        (tmp_path / name).mkdir()
        outcome, validated = _single(tmp_path / name, name, book)
        sheet, cell = where["resultat"]
        warning = issues_of(validated, name).filter(pl.col("severity") == "warning")
        assert warning.select("sheet", "location").rows() == [("Finances", cell)], name


def test_ods_workbook_is_read(tmp_path):
    outcome, validated = _single(tmp_path, "cds.ods", ods_bytes(ods_workbook_sheets(values())))
    _assert_valid(outcome, validated)
    assert (outcome.container, outcome.format) == ("classeur", "ods")


def test_csv_windows_1252_semicolon_decimal_comma(tmp_path):
    data = csv_bytes(export_header(), [export_row(number=n) for n in (1, 2)], encoding="cp1252")
    assert "é".encode("cp1252") in data and b"\xc3\xa9" not in data
    outcome, validated = _single(tmp_path, "export.csv", data)
    _assert_valid(outcome, validated, submissions=2)
    assert (outcome.encoding, outcome.separator, outcome.container, outcome.rows_in) == (
        "windows-1252", ";", "export_csv", 2)
    assert validated.typed["raison_sociale"].to_list() == ["Centre de santé des Tilleuls 1",
                                                          "Centre de santé des Tilleuls 2"]
    medecins = validated.personnel.filter(pl.col("profession") == "medecin_generaliste")
    assert medecins["etp"].to_list() == [1.5, 1.5]


def test_csv_utf8_bom(tmp_path):
    outcome, validated = _single(tmp_path, "bom.csv", csv_bytes(export_header(), [export_row()], bom=True))
    _assert_valid(outcome, validated)
    assert outcome.encoding == "utf-8-sig"
    assert validated.typed["annee_exercice"].to_list() == [2024]  # the BOM did not eat the first label


def test_csv_utf8_tab_separated_with_canonical_header(tmp_path):
    data = csv_bytes(export_header(canonical=True), [export_row()], separator="\t")
    outcome, validated = _single(tmp_path, "tab.csv", data)
    _assert_valid(outcome, validated)
    assert (outcome.encoding, outcome.separator) == ("utf-8", "\t")


def test_csv_comma_separator_means_decimal_point(tmp_path):
    row = export_row(total_charges="1,200,000.50", total_produits="1250000.5", amplitude_hebdo_h="50.5",
                     part_css_pct="12.5", file_active="3,200")
    outcome, validated = _single(tmp_path, "virgule.csv", csv_bytes(export_header(), [row], separator=","))
    assert outcome.separator == "," and outcome.decimal_mark == "."
    # the personnel columns of export_row use decimal commas: with `,` as separator they
    # are thousands separators, so `1,5` reads 15 (> effectif 2): a warning, not a crash
    typed = validated.typed.row(0, named=True)
    assert (typed["total_charges"], typed["amplitude_hebdo_h"], typed["file_active"]) == (1200000.5, 50.5, 3200)
    assert validated.issues.filter(pl.col("severity") == "error").is_empty()


def test_csv_title_line_and_multiline_cell_keep_line_numbers(tmp_path):
    rows = [export_row(number=1, antennes=f"{finess('69900001')}\n{finess('69900002')}"),
            export_row(number=2, file_active="beaucoup")]
    outcome, validated = _single(tmp_path, "titre.csv", csv_bytes(export_header(), rows, title="Export ARS 2024"))
    # title line 1, header line 2, first row lines 3-4 (quoted new line), second row line 5
    bad = validated.issues.filter(pl.col("field") == "file_active")
    assert bad.select("location", "value", "severity").rows() == [("ligne 5", "beaucoup", "error")]
    assert outcome.rows_in == 2


def test_export_workbook_with_hidden_list_sheet(tmp_path):
    book = export_workbook(export_header(), [export_row(number=n) for n in (1, 2, 3)], hidden_sheet=True)
    outcome, validated = _single(tmp_path, "export.xlsx", book)
    _assert_valid(outcome, validated, submissions=3)
    assert outcome.container == "export_tableur" and any("Listes" in n for n in outcome.notes)


def test_export_workbook_locates_cells(tmp_path):
    header = export_header()
    book = export_workbook(header, [export_row(number=1), export_row(number=2, jours_ouverture=400)])
    outcome, validated = _single(tmp_path, "export.xlsx", book)
    column = openpyxl.utils.get_column_letter(header.index("Jours d'ouverture dans l'année") + 1)
    issue = validated.issues.row(0, named=True)
    assert validated.issues.height == 1
    # title row 1, header row 2, second submission on row 4
    assert (issue["sheet"], issue["location"], issue["value"], issue["severity"]) == (
        "Export ARS", f"{column}4", "400", "error")
    assert "entre 0 et 366" in issue["message"]
    assert validated.typed["is_valid"].to_list() == [True, False]


# ------------------------------------------------------------------ the campaign
def test_campaign_of_300_good_submissions_among_every_malformed_file(tmp_path):
    folder = tmp_path / "campagne"
    for name, (data, _) in _unreadable_cases(tmp_path / "_build").items():
        (folder / "rejets").mkdir(parents=True, exist_ok=True)
        (folder / "rejets" / name).write_bytes(data)
    for number in range(1, 61):  # 60 centre workbooks
        book, _ = workbook(values(number=number))
        save(book, folder / "centres" / f"cds_{number:03d}.xlsx")
    (folder / "export_84.csv").write_bytes(
        csv_bytes(export_header(), [export_row(number=n) for n in range(61, 201)], encoding="cp1252"))
    save(export_workbook(export_header(), [export_row(number=n) for n in range(201, 301)]), folder / "export_11.xlsx")
    # odd and partly invalid files beside them
    save(workbook(values(number=900, file_active="beaucoup"))[0], folder / "invalide.xlsx")
    started = time.perf_counter()
    received, validated = run(folder)
    elapsed = time.perf_counter() - started
    unreadable = [o.source_file for o in received.outcomes if not o.readable]
    assert sorted(unreadable) == sorted(f"rejets/{n}" for n in UNREADABLE_NAMES)
    good = validated.typed.filter(~pl.col("source_file").is_in(["invalide.xlsx"]))
    assert good.height == 300 and good["is_valid"].all()
    assert validated.typed.filter(pl.col("source_file") == "invalide.xlsx")["is_valid"].to_list() == [False]
    assert good["raison_sociale"].n_unique() == 300
    assert elapsed < 15, elapsed
