"""What does each received file contain, cell by cell, and could it be read at all?

One reader per container (submission-template.md): the per-centre workbook (four
sheets) and the regional export (CSV or one-sheet workbook). Readers do not interpret
values: they return every (label, value) pair as text with where it was found, plus an
*outcome* record per file, so that nothing silently vanishes. Unreadable files get a
French reason instead of an exception.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from schemas.fields import FORM_SHEETS, SHEET_PERSONNEL
from schemas.registry import personnel_labels
from transforms.labels import label_key

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv"}
MANIFEST_NAME = "reception.csv"
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # a 300-centre form is a few hundred kB

CELLS_SCHEMA = {
    "submission_key": pl.String, "source_file": pl.String, "source_row": pl.Int64,
    "sheet": pl.String, "location": pl.String, "label": pl.String, "value": pl.String,
}
PERSONNEL_SCHEMA = {
    "submission_key": pl.String, "source_file": pl.String, "sheet": pl.String,
    "location": pl.String, "profession_label": pl.String, "effectif": pl.String, "etp": pl.String,
}


@dataclass
class FileOutcome:
    source_file: str  # path relative to the submissions folder, `/`-separated
    sha256: str
    size_bytes: int
    readable: bool = False
    container: str | None = None  # classeur | export_csv | export_tableur
    encoding: str | None = None
    separator: str | None = None
    sheets: list[str] = field(default_factory=list)
    submissions: int = 0
    reason: str | None = None  # French, when not readable


@dataclass
class FileContent:
    outcome: FileOutcome
    cells: pl.DataFrame  # CELLS_SCHEMA: one row per (submission, label) pair found
    personnel: pl.DataFrame  # PERSONNEL_SCHEMA: one row per profession row of a workbook


class UnreadableFile(Exception):
    """The file is not a readable submission; the message is French and user-facing."""


def list_submission_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in Path(folder).rglob("*")
        if path.is_file() and path.suffix.lower() in SUBMISSION_SUFFIXES
        and path.name.lower() != MANIFEST_NAME and not path.name.startswith("~$")
    )


def read_submission_file(path: Path, root: Path) -> FileContent:
    relative = path.relative_to(root).as_posix()
    raw = path.read_bytes()
    outcome = FileOutcome(relative, hashlib.sha256(raw).hexdigest(), len(raw))
    try:
        if path.suffix.lower() == ".csv":
            cells, personnel = _read_csv_export(raw, outcome)
        else:
            cells, personnel = _read_workbook(path, raw, outcome)
    except UnreadableFile as exc:
        outcome.reason = str(exc)
        return FileContent(outcome, _empty(CELLS_SCHEMA), _empty(PERSONNEL_SCHEMA))
    outcome.readable = True
    outcome.submissions = cells.get_column("submission_key").n_unique()
    return FileContent(outcome, cells, personnel)


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# ---------------------------------------------------------------- CSV regional export
def _decode(raw: bytes, outcome: FileOutcome) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        outcome.encoding = "utf-8-sig"
        return raw[3:].decode("utf-8", errors="strict")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise UnreadableFile(
            "encodage non pris en charge (UTF-16 ou binaire) : enregistrer le fichier en CSV "
            "UTF-8 ou Windows-1252 (« CSV séparateur point-virgule »)"
        )
    try:
        text = raw.decode("utf-8")
        outcome.encoding = "utf-8"
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"encodage non reconnu (octet {raw[exc.start]:#04x} à la position {exc.start}) : "
                "attendu UTF-8 ou Windows-1252"
            ) from exc
        outcome.encoding = "windows-1252"
    return text


def _detect_separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (";", "\t", ",")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _read_csv_export(raw: bytes, outcome: FileOutcome) -> tuple[pl.DataFrame, pl.DataFrame]:
    if not raw.strip():
        raise UnreadableFile("fichier vide")
    text = _decode(raw, outcome)
    lines = text.splitlines()
    header_index = next(i for i, line in enumerate(lines) if line.strip())
    separator = _detect_separator(lines[header_index])
    outcome.container, outcome.separator = "export_csv", separator
    rows = list(csv.reader(io.StringIO("\n".join(lines[header_index:])), delimiter=separator))
    header, body = rows[0], rows[1:]
    if len(header) < 2:
        raise UnreadableFile(
            "une seule colonne trouvée : attendu un export régional avec un séparateur « ; », « , » "
            "ou tabulation et une ligne d'en-tête"
        )
    # Spreadsheet line numbers: the header is on line header_index + 1.
    grid = [(header_index + 2 + offset, row) for offset, row in enumerate(body) if any(c.strip() for c in row)]
    return _export_cells(outcome.source_file, None, header, grid, lambda line, col: f"ligne {line}"), _empty(
        PERSONNEL_SCHEMA
    )


def _export_cells(source_file, sheet, header, grid, locate) -> pl.DataFrame:
    records = []
    for data_row, (line, row) in enumerate(grid, start=1):
        key = f"{source_file}#{data_row}"
        for col, label in enumerate(header):
            if not str(label or "").strip():
                continue
            value = row[col] if col < len(row) else None
            records.append((key, source_file, data_row, sheet, locate(line, col), str(label), value))
    return pl.DataFrame(records, schema=CELLS_SCHEMA, orient="row")


# ---------------------------------------------------------------- workbooks
def _sniff_workbook(raw: bytes, suffix: str) -> None:
    if not raw:
        raise UnreadableFile("fichier vide (0 octet)")
    head = raw[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        raise UnreadableFile("ce fichier est un PDF renommé en tableur : envoyer le classeur Excel du modèle")
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in head:
        raise UnreadableFile("ce fichier est une page HTML renommée en tableur : envoyer le classeur Excel du modèle")
    if raw.startswith(b"\xd0\xcf\x11\xe0") and suffix != ".xls":
        raise UnreadableFile(
            "classeur protégé par mot de passe (ou ancien format .xls renommé) : "
            "enregistrer le classeur sans mot de passe au format .xlsx"
        )
    if suffix in {".xlsx", ".xlsm", ".ods"}:
        if not raw.startswith(b"PK"):
            raise UnreadableFile("ce fichier n'est pas un classeur Excel (.xlsx) valide")
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                total = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile as exc:
            raise UnreadableFile("classeur tronqué ou corrompu : l'archive .xlsx ne s'ouvre pas") from exc
        if total > MAX_UNCOMPRESSED_BYTES:
            raise UnreadableFile(
                f"classeur refusé : son contenu décompressé annonce {total // (1024 * 1024)} Mo "
                f"(limite {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} Mo), possible bombe de décompression"
            )


def _read_workbook(path: Path, raw: bytes, outcome: FileOutcome) -> tuple[pl.DataFrame, pl.DataFrame]:
    _sniff_workbook(raw, path.suffix.lower())
    try:
        reader = fastexcel.read_excel(raw)
        outcome.sheets = list(reader.sheet_names)
        sheets = {label_key(name): name for name in outcome.sheets}
        form_sheets = [sheets.get(label_key(name)) for name in FORM_SHEETS]
        if form_sheets[0] is not None:
            outcome.container = "classeur"
            return _read_centre_workbook(reader, outcome, sheets)
        outcome.container = "export_tableur"
        return _read_export_workbook(reader, outcome), _empty(PERSONNEL_SCHEMA)
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own types for every kind of damage
        raise UnreadableFile(f"classeur illisible ou corrompu ({type(exc).__name__})") from exc


def _sheet_grid(reader, name: str) -> list[list[str | None]]:
    """Every row of a sheet as text, row i of the list = spreadsheet row i + 1."""
    frame = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0).to_polars()
    return [list(row) for row in frame.iter_rows()]


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _read_centre_workbook(reader, outcome: FileOutcome, sheets: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    key = outcome.source_file
    missing = [name for name in (*FORM_SHEETS, SHEET_PERSONNEL) if label_key(name) not in sheets]
    if missing:
        raise UnreadableFile(
            "feuille(s) manquante(s) : " + ", ".join(f"« {name} »" for name in missing)
            + " ; le classeur doit contenir les feuilles Identification, Activité, Finances et Personnel"
        )
    records = []
    for sheet in FORM_SHEETS:
        actual = sheets[label_key(sheet)]
        for number, row in enumerate(_sheet_grid(reader, actual), start=1):
            label = row[0] if row else None
            if label is None or not str(label).strip():
                continue
            value = row[1] if len(row) > 1 else None
            records.append((key, key, None, sheet, f"B{number}", str(label), value))
    cells = pl.DataFrame(records, schema=CELLS_SCHEMA, orient="row")
    return cells, _read_personnel(reader, sheets[label_key(SHEET_PERSONNEL)], key)


def _read_personnel(reader, sheet_name: str, key: str) -> pl.DataFrame:
    labels = personnel_labels()
    grid = _sheet_grid(reader, sheet_name)
    header_at = next(
        (i for i, row in enumerate(grid) if row and label_key(row[0]) == label_key(labels.profession)), None
    )
    if header_at is None:
        raise UnreadableFile(
            f"feuille « {SHEET_PERSONNEL} » : ligne d'en-tête « {labels.profession} | {labels.effectif} | "
            f"{labels.etp} » introuvable"
        )
    header = [label_key(cell) for cell in grid[header_at]]
    try:
        effectif_col = header.index(label_key(labels.effectif))
        etp_col = header.index(label_key(labels.etp))
    except ValueError as exc:
        raise UnreadableFile(
            f"feuille « {SHEET_PERSONNEL} » : colonnes « {labels.effectif} » et « {labels.etp} » attendues"
        ) from exc
    records = []
    for number, row in enumerate(grid[header_at + 1:], start=header_at + 2):
        if not row or not any(cell is not None and str(cell).strip() for cell in row):
            continue
        records.append((
            key, key, SHEET_PERSONNEL, f"ligne {number}", row[0],
            row[effectif_col] if effectif_col < len(row) else None,
            row[etp_col] if etp_col < len(row) else None,
        ))
    return pl.DataFrame(records, schema=PERSONNEL_SCHEMA, orient="row")


def _read_export_workbook(reader, outcome: FileOutcome) -> pl.DataFrame:
    visible = [name for name in outcome.sheets]
    if len(visible) != 1:
        raise UnreadableFile(
            "classeur non reconnu : ni feuille « Identification » (classeur de centre), ni une feuille "
            f"unique (export régional) ; feuilles trouvées : {', '.join(visible) or 'aucune'}"
        )
    grid = _sheet_grid(reader, visible[0])
    header_index = next((i for i, row in enumerate(grid) if sum(1 for c in row if c) >= 2), None)
    if header_index is None:
        raise UnreadableFile("feuille vide : aucune ligne d'en-tête trouvée")
    header = [cell or "" for cell in grid[header_index]]
    rows = [
        (header_index + 2 + offset, row)
        for offset, row in enumerate(grid[header_index + 1:])
        if any(cell is not None and str(cell).strip() for cell in row)
    ]
    return _export_cells(
        outcome.source_file, visible[0], header, rows, lambda line, col: f"{column_letter(col)}{line}"
    )


# ---------------------------------------------------------------- reception manifest
_MANIFEST_COLUMNS = {"fichier", "date_reception"}


def read_reception_manifest(folder: Path) -> tuple[pl.DataFrame, list[str]]:
    """(source_file, date_reception as text) from `reception.csv`, and French problems found."""
    path = Path(folder) / MANIFEST_NAME
    empty = pl.DataFrame(schema={"source_file": pl.String, "date_reception": pl.String})
    if not path.exists():
        return empty, []
    outcome = FileOutcome(MANIFEST_NAME, "", 0)
    try:
        text = _decode(path.read_bytes(), outcome)
    except UnreadableFile as exc:
        return empty, [f"{MANIFEST_NAME} : {exc}"]
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return empty, []
    separator = _detect_separator(lines[0])
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=separator))
    header = [label_key(cell) or "" for cell in rows[0]]
    if not _MANIFEST_COLUMNS <= set(header):
        return empty, [f"{MANIFEST_NAME} : en-tête attendu « fichier;date_reception », reçu « {lines[0]} »"]
    at_file, at_date = header.index("fichier"), header.index("date_reception")
    records = [
        (re.sub(r"^\./", "", row[at_file].strip().replace("\\", "/")), row[at_date].strip())
        for row in rows[1:] if len(row) > max(at_file, at_date)
    ]
    return pl.DataFrame(records, schema=empty.schema, orient="row"), []
