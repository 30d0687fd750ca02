"""Files that claim or hold more than any real submission, files whose encoding changes
inside them, names that are bytes on disk, manifests in subfolders: each is read or
refused with a French reason naming the limit, and never costs more than its limits.
The big files are generated here, in a temporary folder."""
from __future__ import annotations

import io
import itertools
import os
import zipfile
from pathlib import Path

import polars as pl
import pytest

from observatoire import stages
from observatoire.readers import submission_files as sf
from observatoire.readers.pool import ReaderPool
from observatoire.readers.submission_files import read_reception_manifest, read_submission_file
from tests.support.submission_files import (
    PERSONNEL, csv_bytes, export_header, export_row, ods_bytes, outcome_of, run, save, values, workbook,
)
from tests.support.workbook_xml import announce_size as _announce, cell as _cell, export_rows as _export_rows, \
    write_xlsx as _xlsx

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

@pytest.fixture
def limits(monkeypatch):
    def use(**changes):
        monkeypatch.setattr(sf, "LIMITS", sf.ReadLimits(**changes), raising=False)
    use()
    return use


def _reason(path: Path) -> str | None:
    return read_submission_file(path, path.parent).outcome.reason


def test_a_real_export_written_by_hand_is_read(tmp_path, limits):
    content = read_submission_file(_xlsx(tmp_path / "export.xlsx", _export_rows(3)), tmp_path)
    assert content.outcome.readable and content.outcome.rows_in == 3


def test_one_value_at_row_a_million_is_refused_before_calamine_builds_its_grid(tmp_path, limits):
    rows = [*_export_rows(2), '<row r="1000000">' + _cell("A1000000", "x") + "</row>"]
    assert _reason(_xlsx(tmp_path / "creux.xlsx", rows)) == (
        "fichier refusé : la feuille « Export » a des valeurs jusqu'à la ligne 1 000 000 (limite 20 100 lignes par "
        "feuille) ; un export régional fait quelques milliers de lignes : supprimer les lignes en trop (ou découper "
        "l'export) et le renvoyer")


def test_one_value_past_the_column_limit_is_refused(tmp_path, limits):
    rows = [*_export_rows(2), '<row r="5">' + _cell("XFD5", "x") + "</row>"]
    assert _reason(_xlsx(tmp_path / "large.xlsx", rows)).startswith(
        "fichier refusé : la feuille « Export » a des valeurs au-delà de la colonne GR (limite 200 colonnes)")


def test_a_zip_that_lies_about_its_sizes_is_measured_by_inflating_it(tmp_path, limits):
    padding = ['<row r="5"><c r="A5" s="1"/></row>'] + [f'<row r="{r}" s="1"/>' for r in range(6, 400_000)]
    path = _xlsx(tmp_path / "menteur.xlsx", [*_export_rows(2), *padding])
    with zipfile.ZipFile(path) as archive:
        real = archive.getinfo("xl/worksheets/sheet1.xml").file_size
    assert real > 8 * 1024 * 1024
    _announce(path, "xl/worksheets/sheet1.xml", 3_000)
    limits(inflated_mb=4)
    assert _reason(path).startswith(
        "classeur refusé : son contenu décompressé dépasse 4 Mo (limite par fichier, mesurée en décompressant "
        "« xl/worksheets/sheet1.xml », quelles que soient les tailles annoncées)")
    limits()  # within the limit, a size that is not the announced one is a damaged archive
    assert _reason(path) == "classeur tronqué ou corrompu : l'archive .xlsx ne s'ouvre pas"


def test_a_personnel_sheet_of_three_thousand_rows_is_refused(tmp_path, limits):
    book, _ = workbook(values(), personnel=[*PERSONNEL, *[("Infirmier", 1, "0,5")] * 3_000])
    path = save(book, tmp_path / "cds.xlsx")
    assert _reason(path).startswith(
        "fichier refusé : la feuille dépasse la limite de 2 000 lignes par feuille de classeur de centre "
        "(atteinte feuille « Personnel »)")


def test_an_export_of_more_rows_than_the_limit_is_refused(tmp_path, limits):
    limits(export_rows=500)
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(export_header(), [export_row(number=n) for n in range(1, 502)]))
    assert _reason(path).startswith(
        "fichier refusé : l'export dépasse la limite de 500 lignes de données par export (atteinte ligne 502)")
    limits()
    assert read_submission_file(path, tmp_path).outcome.rows_in == 501


def test_a_file_bigger_on_disk_than_the_limit_is_not_read(tmp_path, limits):
    limits(file_mb=1)
    path = tmp_path / "gros.xlsx"
    path.write_bytes(b"PK" + b"\0" * (2 * 1024 * 1024))
    outcome = read_submission_file(path, tmp_path).outcome
    assert outcome.reason.startswith("fichier refusé : 2 Mo sur le disque (limite 1 Mo par fichier)")
    assert outcome.size_bytes == 2 * 1024 * 1024 + 2 and len(outcome.sha256) == 64


def test_an_export_formatted_down_to_row_a_million_is_read_within_the_memory_limit(tmp_path):
    # three real rows, then a million rows formatted but empty: calamine skips empty cells
    padding = (f'<row r="{r}" s="1" customFormat="1"><c r="A{r}" s="1"/><c r="B{r}" s="1"/></row>'
               for r in range(5, 1_000_001))
    _xlsx(tmp_path / "mis-en-forme.xlsx", itertools.chain(_export_rows(3), padding), dimension="A1:CZ1000000")
    with ReaderPool(1, sf.ReadLimits(memory_mb=300)) as pool:
        batch = pool.read([tmp_path / "mis-en-forme.xlsx"], tmp_path)
    assert batch.outcomes[0].readable, batch.outcomes[0].reason
    assert batch.outcomes[0].rows_in == 3


# ------------------------------------------------------------------ encodings
def test_a_csv_whose_encoding_changes_inside_is_refused_with_its_lines(tmp_path):
    header, rows = export_header(), [export_row(number=n, type_centre="médical") for n in (1, 2, 3)]
    text_lines = csv_bytes(header, rows).decode("utf-8").split("\r\n")
    # a UTF-8 header (accented labels), rows 2-3 appended by a tool writing windows-1252, row 4 in UTF-8 again
    mixed = "\r\n".join(text_lines[:1]).encode("utf-8") + b"\r\n" + "\r\n".join(text_lines[1:3]).replace(
        "\u202f", "\u00a0").encode("cp1252") + b"\r\n" + "\r\n".join(text_lines[3:]).encode("utf-8")
    (tmp_path / "melange.csv").write_bytes(mixed)
    assert _reason(tmp_path / "melange.csv").startswith(
        "encodage mélangé dans le fichier : lignes 1, 4 en UTF-8 ; lignes 2 à 3 en Windows-1252 : les accents "
        "seraient lus de travers")


def test_a_csv_with_lines_encoded_twice_is_refused_not_loaded_garbled(tmp_path):
    header, rows = export_header(), [export_row(number=n, type_centre="médical") for n in (1, 2, 3)]
    lines = csv_bytes(header, rows).decode("utf-8").split("\r\n")
    lines[2] = lines[2].encode("utf-8").decode("cp1252")  # « mÃ©dical »: UTF-8 read as windows-1252, saved as UTF-8
    (tmp_path / "double.csv").write_bytes("\r\n".join(lines).encode("utf-8"))
    reason = _reason(tmp_path / "double.csv")
    assert reason.startswith("encodage mélangé dans le fichier : lignes 1 à 2, 4 en UTF-8 ; ligne 3 en UTF-8 "
                             "doublement encodé (« Ã© » au lieu de « é ») : les accents seraient lus de travers")


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("cp1252", False)])
def test_a_csv_in_one_encoding_is_still_read(tmp_path, encoding, bom):
    rows = [export_row(number=n, type_centre="médical") for n in (1, 2)]
    (tmp_path / "un.csv").write_bytes(csv_bytes(export_header(), rows, encoding=encoding, bom=bom))
    content = read_submission_file(tmp_path / "un.csv", tmp_path)
    assert content.outcome.readable and "médical" in content.cells["value"].to_list()


# ------------------------------------------------------------------ names
def test_a_name_that_is_not_utf8_is_read_and_shown_faithfully(tmp_path):
    root = tmp_path / "envois"
    root.mkdir()
    book, _ = workbook(values())
    save(book, root / "modele.xlsx")
    os.rename(root / "modele.xlsx", os.path.join(os.fsencode(root), b"rapport activit\xe9 2024.xlsx"))
    forged = os.path.join(os.fsencode(root), b"envoi\nFichiers lus : 999 ; illisibles : 0\x1b[2J.xlsx")
    Path(os.fsdecode(forged)).write_bytes(b"pas un classeur")
    received, validated = run(root)
    names = [o.source_file for o in received.outcomes]
    assert names == ["envoi\\nFichiers lus : 999 ; illisibles : 0\\x1b[2J.xlsx", "rapport activit\\xe9 2024.xlsx"]
    assert outcome_of(received, "rapport activit\\xe9 2024.xlsx").readable
    assert validated.typed["source_file"].to_list() == ["rapport activit\\xe9 2024.xlsx"]
    assert validated.typed["is_valid"].to_list() == [True]
    statuses = pl.DataFrame({"region_code": ["84"], "status": ["on_time"]})
    summary = stages.summary_text(2024, statuses, received)
    assert [line for line in summary.splitlines() if line.startswith("Fichiers lus")] == [
        "Fichiers lus : 1 ; illisibles : 1"] and "\x1b" not in summary
    assert "  - envoi\\nFichiers lus : 999" in summary
    outcomes = stages.outcomes_frame(received.outcomes)  # the names are storable text
    assert outcomes["source_file"].to_list() == names


def test_printable_names_are_one_to_one():
    names = ["a\\xe9", "a\udce9", "a\\\\xe9", "a\n", "a\\n", "é ç.xlsx", "a\u202eb"]
    shown = [sf.printable_name(name) for name in names]
    assert len(set(shown)) == len(names)
    assert shown[1] == "a\\xe9" and shown[0] == "a\\\\xe9" and shown[5] == "é ç.xlsx" and shown[6] == "a\\u202eb"


# ------------------------------------------------------------------ manifests
def test_a_manifest_in_a_subfolder_dates_the_files_beside_it(tmp_path):
    root = tmp_path / "envois"
    book, _ = workbook(values(date_transmission=None))
    save(book, root / "r84" / "cds.xlsx")
    (root / "r84" / "reception.csv").write_text("fichier;date_reception\ncds.xlsx;15/02/2025 10:00\n", "utf-8")
    book, _ = workbook(values(number=2, date_transmission=None))
    save(book, root / "r84" / "sous" / "autre.xlsx")
    (root / "reception.csv").write_text("fichier;date_reception\nr84/sous/autre.xlsx;16/02/2025\n", "utf-8")
    manifest, problems = read_reception_manifest(root)
    assert problems == []
    assert sorted(manifest.rows()) == [("r84/cds.xlsx", "15/02/2025 10:00"), ("r84/sous/autre.xlsx", "16/02/2025")]
    received, validated = run(root)
    typed = validated.typed.sort("source_file")
    assert typed.select("source_file", "transmission_source", "is_valid").rows() == [
        ("r84/cds.xlsx", "manifeste", True), ("r84/sous/autre.xlsx", "manifeste", True)]
    assert [o.source_file for o in received.outcomes] == ["r84/cds.xlsx", "r84/sous/autre.xlsx"]


def _ods_with(tmp_path: Path, name: str, last_row_opening: str) -> Path:
    """An export as OpenDocument whose last row opens with `last_row_opening`."""
    raw = ods_bytes({"Export": [export_header(), export_row(number=1), export_row(number=2)]})
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    content = members["content.xml"]
    at = content.rfind(b"<table:table-row>")
    members["content.xml"] = content[:at] + last_row_opening.encode() + content[at + len(b"<table:table-row>"):]
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data, zipfile.ZIP_STORED if member == "mimetype" else zipfile.ZIP_DEFLATED)
    return path


def test_an_ods_row_with_values_repeated_a_million_times_is_refused(tmp_path, limits):
    path = _ods_with(tmp_path, "repete.ods", '<table:table-row table:number-rows-repeated="1000000">')
    assert _reason(path).startswith(
        "fichier refusé : une feuille a des valeurs jusqu'à la ligne 1 000 000 (limite 20 100 lignes par feuille)")
    path = _ods_with(tmp_path, "normal.ods", '<table:table-row table:number-rows-repeated="2">')
    content = read_submission_file(path, tmp_path)
    assert content.outcome.readable and content.outcome.rows_in == 3


def test_a_manifest_names_a_file_whose_name_on_disk_is_windows_1252(tmp_path):
    root = tmp_path / "envois"
    book, _ = workbook(values(date_transmission=None))
    save(book, root / "r84" / "cds.xlsx")
    os.rename(root / "r84" / "cds.xlsx", os.path.join(os.fsencode(root / "r84"), "activité.xlsx".encode("cp1252")))
    (root / "r84" / "reception.csv").write_bytes("fichier;date_reception\nactivité.xlsx;15/02/2025\n".encode("cp1252"))
    received, validated = run(root)
    assert validated.typed.select("source_file", "transmission_source", "is_valid").rows() == [
        ("r84/activit\\xe9.xlsx", "manifeste", True)]
