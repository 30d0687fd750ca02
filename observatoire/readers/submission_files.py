"""What does each received file contain, cell by cell, and could it be read at all?

One reader per container (submission-template.md): the per-centre workbook (four
sheets) and the regional export (CSV or one-sheet workbook). Readers do not interpret
values: they return every (label, value) pair as text with where it was found, plus an
*outcome* record per file, so that nothing silently vanishes. Unreadable files get a
French reason instead of an exception, and are never decompressed beyond a bound.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from schemas.fields import EXPORT_REQUIRED, FORM_SHEETS, SHEET_PERSONNEL
from schemas.registry import all_field_label_keys, personnel_labels, templates
from transforms.labels import label_key
from transforms.submissions import ISSUE_SCHEMA

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv"}
MANIFEST_NAME = "reception.csv"
# A 300-centre export is a few hundred kB once unzipped: anything announcing more than
# this is refused from the zip directory alone, before any decompression.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
# Spreadsheet XML compresses ~10x; a member beyond this ratio and size is a bomb, not a form.
MAX_COMPRESSION_RATIO = 200
_RATIO_CHECK_FROM_BYTES = 10 * 1024 * 1024

CELLS_SCHEMA = {
    "submission_key": pl.String, "source_file": pl.String, "source_row": pl.Int64,
    "sheet": pl.String, "location": pl.String, "label": pl.String, "value": pl.String,
    # "." when the file's decimal mark is a point (CSV with `,` as separator), else null:
    # the value parser then accepts both `1 234,56` and spreadsheet numbers `1234.56`.
    "decimal_mark": pl.String,
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
    format: str | None = None  # xlsx | xls | ods | csv, from the bytes, not the name
    encoding: str | None = None
    separator: str | None = None
    decimal_mark: str | None = None
    sheets: list[str] = field(default_factory=list)
    submissions: int = 0
    rows_in: int = 0  # non-empty data lines read (form lines + personnel lines, or export rows)
    notes: list[str] = field(default_factory=list)  # French remarks on a readable file
    reason: str | None = None  # French, when not readable


@dataclass
class FileContent:
    outcome: FileOutcome
    # Columns as Python lists, in the schema's order ([] when nothing was read), not frames:
    # a national campaign has tens of thousands of files and a frame per file cost more than
    # reading it; `pool.read_batch` builds one frame per batch of files, column by column.
    cell_columns: list[list]  # CELLS_SCHEMA: one row per (submission, label) pair found
    personnel_columns: list[list]  # PERSONNEL_SCHEMA: one row per profession row of a workbook
    issues: pl.DataFrame = None  # ISSUE_SCHEMA: what reading itself noticed (formulas without value)

    def __post_init__(self):
        if self.issues is None:
            self.issues = _empty(ISSUE_SCHEMA)

    @property
    def cells(self) -> pl.DataFrame:
        return cells_frame(self.cell_columns)

    @property
    def personnel(self) -> pl.DataFrame:
        return personnel_frame(self.personnel_columns)


def _frame(columns: list[list], schema: dict) -> pl.DataFrame:
    if not columns or not columns[0]:
        return _empty(schema)
    return pl.DataFrame(dict(zip(schema, columns)), schema=schema)


def cells_frame(columns: list[list]) -> pl.DataFrame:
    return _frame(columns, CELLS_SCHEMA)


def personnel_frame(columns: list[list]) -> pl.DataFrame:
    return _frame(columns, PERSONNEL_SCHEMA)


def concat_columns(parts: list[list[list]], schema: dict) -> list[list]:
    """The columns of several files, one after the other."""
    parts = [part for part in parts if part]
    return [[value for part in parts for value in part[j]] for j in range(len(schema))] if parts else []


def _columns(records: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*records)] if records else []


class UnreadableFile(Exception):
    """The file is not a readable submission; the message is French and user-facing."""


def list_submission_files(folder: Path) -> list[Path]:
    """Every submission file below `folder`, in `Path` order (what `sorted(rglob("*"))`
    gives): files reached through a link are listed, linked folders are not entered.
    With `os.scandir`, whose entries know their type without a `stat` per file: listing
    24,164 files took 0.29 s through pathlib, while the reader processes waited for it."""
    found: list[tuple[str, ...]] = []

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(directory))
        except PermissionError:  # as rglob: a folder this account may not list is passed over
            return
        for entry in entries:
            name = entry.name
            if not entry.is_symlink() and _entry_is(entry.is_dir):
                walk(entry.path, (*parts, name))
            elif (os.path.splitext(name)[1].lower() in SUBMISSION_SUFFIXES and name.lower() != MANIFEST_NAME
                  and not name.startswith("~$") and _entry_is(entry.is_file)):
                found.append((*parts, name))

    walk(os.fspath(folder), ())
    base = Path(folder)
    return [base.joinpath(*parts) for parts in sorted(found)]


def _entry_is(test) -> bool:
    """`entry.is_dir` or `entry.is_file`, False where following the entry fails (a link
    that loops, an entry gone meanwhile), as pathlib answers: one odd entry in a shared
    folder never stops the listing."""
    try:
        return test()
    except OSError:
        return False


def read_submission_file(path: Path, root: Path) -> FileContent:
    relative = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return FileContent(FileOutcome(relative, "", 0, reason=f"fichier illisible sur le disque ({exc.strerror})"),
                           [], [])
    outcome = FileOutcome(relative, hashlib.sha256(raw).hexdigest(), len(raw))
    issues = _empty(ISSUE_SCHEMA)
    try:
        if path.suffix.lower() == ".csv":
            try:
                cells, personnel = _read_csv_export(raw, outcome)
            except csv.Error as exc:  # e.g. a quote never closed swallows the rest of the file
                raise UnreadableFile(
                    "CSV illisible : guillemet non fermé ou cellule de plus de 131 072 caractères"
                ) from exc
        else:
            cells, personnel, issues = _read_workbook(raw, outcome)
    except UnreadableFile as exc:
        outcome.reason = str(exc)
        return FileContent(outcome, [], [])
    outcome.readable = True
    outcome.submissions = len(set(cells[0])) if cells else 0
    if outcome.submissions == 0:
        outcome.readable = False
        outcome.reason = "aucun envoi trouvé : le fichier ne contient que des en-têtes ou des lignes vides"
        return FileContent(outcome, [], [])
    return FileContent(outcome, cells, personnel, issues)


_EMPTY: dict[int, pl.DataFrame] = {}


def _empty(schema: dict) -> pl.DataFrame:
    """One shared empty frame per schema: frames are never modified in place, and building
    thousands of empty frames was a visible share of reading a national campaign."""
    if id(schema) not in _EMPTY:
        _EMPTY[id(schema)] = pl.DataFrame(schema=schema)
    return _EMPTY[id(schema)]


def _quoted(names) -> str:
    return ", ".join(f"« {name} »" for name in names)


# ---------------------------------------------------------------- CSV regional export
def _decode(raw: bytes, outcome: FileOutcome) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        outcome.encoding = "utf-8-sig"
        try:
            return raw[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"fichier marqué UTF-8 mais octet invalide à la position {exc.start + 3} : "
                "enregistrer le fichier en CSV UTF-8"
            ) from exc
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


_SEPARATORS = (";", "\t", ",")  # order breaks ties: `;` is what French Excel writes


def _split(line: str, separator: str) -> list[str]:
    return next(csv.reader([line], delimiter=separator), [])


def _detect_separator(header_line: str) -> str:
    counts = {sep: sum(1 for cell in _split(header_line, sep) if cell.strip()) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] >= 2 else ";"


def _header_line(lines: list[str]) -> int | None:
    """The first line that splits into at least two labels: a title line above the header
    (`Export ARS 2024;;;`) is skipped."""
    for index, line in enumerate(lines[:30]):
        if line.strip() and max(sum(1 for c in _split(line, sep) if c.strip()) for sep in _SEPARATORS) >= 2:
            return index
    return None


def _read_csv_export(raw: bytes, outcome: FileOutcome) -> tuple[list[list], list[list]]:
    outcome.format, outcome.container = "csv", "export_csv"
    if not raw.strip(b" \t\r\n\xef\xbb\xbf"):
        raise UnreadableFile("fichier vide")
    text = _decode(raw, outcome)
    lines = text.splitlines()
    header_index = _header_line(lines)
    if header_index is None:
        raise UnreadableFile(
            "une seule colonne trouvée : attendu un export régional avec un séparateur « ; », « , » "
            "ou tabulation et une ligne d'en-tête"
        )
    separator = _detect_separator(lines[header_index])
    outcome.separator = separator
    # With `,` separating columns, numbers can only use a decimal point.
    outcome.decimal_mark = "." if separator == "," else ","
    reader = csv.reader(io.StringIO("\n".join(lines[header_index:])), delimiter=separator)
    header = next(reader)
    grid = []
    consumed = reader.line_num
    for row in reader:
        # line of the row's first physical line in the file (a quoted cell may span lines)
        line = header_index + consumed + 1
        consumed = reader.line_num
        if any(cell.strip() for cell in row):
            grid.append((line, row))
    _check_export_header(header)
    outcome.rows_in = len(grid)
    return _export_cells(
        outcome.source_file, None, header, grid, lambda line, col: f"ligne {line}", outcome.decimal_mark
    ), []


def _check_export_header(header: list) -> None:
    found = {label_key(cell) for cell in header if cell is not None and str(cell).strip()}
    keys = all_field_label_keys(label_key)
    missing = [name for name in EXPORT_REQUIRED if not keys.get(name, {name}) & found]
    if missing:
        latest = templates()[-1].labels
        raise UnreadableFile(
            "colonne(s) obligatoire(s) absente(s) de l'en-tête : " + _quoted(latest.get(n, n) for n in missing)
        )


def _export_cells(source_file, sheet, header, grid, locate, decimal_mark=None) -> list[list]:
    records = []
    mark = "." if decimal_mark == "." else None
    for data_row, (line, row) in enumerate(grid, start=1):
        key = f"{source_file}#{data_row}"
        for col, label in enumerate(header):
            if label is None or not str(label).strip():
                continue
            value = row[col] if col < len(row) else None
            records.append((key, source_file, data_row, sheet, locate(line, col), str(label), value, mark))
    return _columns(records)


# ---------------------------------------------------------------- workbooks
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class _Archive:
    """The zip directory of a workbook: members with their sizes and offsets, read from the
    central directory with `struct` (zipfile's bookkeeping cost a fifth of reading a small
    workbook). Anything unusual (zip64, data before the archive, inconsistent records) is
    left to `zipfile`, which then decides."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        try:
            self.members = _central_directory(raw)
        except (struct.error, ValueError, UnicodeDecodeError):
            self.members = None
        if self.members is None:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # BadZipFile for the caller
                self.members = archive.infolist()
        self._by_name = {member.filename: member for member in self.members}

    def names(self) -> set[str]:
        return set(self._by_name)

    def read(self, name: str) -> bytes:
        member = self._by_name.get(name)
        if member is None:
            raise KeyError(name)
        return _member_bytes(self.raw, member)


_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")


class _Member:  # the attributes of zipfile.ZipInfo that the reader uses
    __slots__ = ("filename", "compress_type", "flag_bits", "compress_size", "file_size", "header_offset")

    def __init__(self, filename, compress_type, flag_bits, compress_size, file_size, header_offset):
        self.filename, self.compress_type, self.flag_bits = filename, compress_type, flag_bits
        self.compress_size, self.file_size, self.header_offset = compress_size, file_size, header_offset


def _central_directory(raw: bytes) -> list[_Member] | None:
    """Members from the end-of-central-directory record; None when zipfile should decide."""
    end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 65_557))
    if end < 0 or end + _EOCD.size > len(raw):
        return None
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(raw, end)
    if disk or cd_disk or count == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_offset + cd_size != end:
        return None  # multi-disk, zip64 or bytes before the archive
    members, at = [], cd_offset
    for _ in range(count):
        (signature, _, _, flags, method, _, _, _, compressed, size, name_length, extra_length, comment_length,
         _, _, _, offset) = _CENTRAL.unpack_from(raw, at)
        if signature != b"PK\x01\x02" or 0xFFFFFFFF in (compressed, size, offset):
            return None
        name = raw[at + 46:at + 46 + name_length].decode("utf-8" if flags & 0x800 else "cp437")
        members.append(_Member(name, method, flags, compressed, size, offset))
        at += 46 + name_length + extra_length + comment_length
    return members if at == end else None


def _sniff_workbook(raw: bytes, outcome: FileOutcome) -> _Archive | None:
    """Refuse from the first bytes and the zip directory what is not a workbook, before
    calamine sees it (and before anything is decompressed). Returns the zip archive (None
    for a legacy OLE2 .xls), so that its directory is parsed once per file."""
    if not raw.strip():
        raise UnreadableFile("fichier vide (0 octet)" if not raw else "fichier vide")
    head = raw[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        raise UnreadableFile("ce fichier est un PDF renommé en tableur : envoyer le classeur Excel du modèle")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise UnreadableFile("ce fichier est une page HTML renommée en tableur : envoyer le classeur Excel du modèle")
    if raw.startswith(_OLE2):
        # An OLE2 container is either a legacy .xls or an encrypted (password) .xlsx: Excel
        # stores password-protected workbooks as OLE2 with an `EncryptedPackage` stream.
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in raw:
            raise UnreadableFile(
                "classeur protégé par mot de passe : l'enregistrer sans mot de passe au format .xlsx et le renvoyer"
            )
        outcome.format = "xls"
        return None
    if not raw.startswith(b"PK"):
        raise UnreadableFile(
            "ce fichier n'est pas un classeur (ni .xlsx, ni .xls, ni .ods) : envoyer le classeur Excel du modèle"
        )
    try:
        archive = _Archive(raw)
        members = archive.members
        names = archive.names()
        mimetype = archive.read("mimetype")[:100] if "mimetype" in names and \
            archive._by_name["mimetype"].file_size < 200 else b""
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, zlib.error) as exc:
        raise UnreadableFile("classeur tronqué ou corrompu : l'archive .xlsx ne s'ouvre pas") from exc
    total = sum(info.file_size for info in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableFile(
            f"classeur refusé : son contenu décompressé annonce {total // (1024 * 1024)} Mo "
            f"(limite {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} Mo), possible bombe de décompression"
        )
    for info in members:
        if info.file_size > _RATIO_CHECK_FROM_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1):
            raise UnreadableFile(
                f"classeur refusé : « {info.filename} » se décompresse {info.file_size // max(info.compress_size, 1)} "
                "fois sa taille, possible bombe de décompression"
            )
    if b"opendocument.spreadsheet" in mimetype:
        outcome.format = "ods"
    elif "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        outcome.format = "xlsx"
    else:
        raise UnreadableFile(
            "archive zip qui n'est pas un classeur (.xlsx ou .ods) : envoyer le classeur Excel du modèle"
        )
    return archive


def _read_workbook(raw: bytes, outcome: FileOutcome) -> tuple[list[list], list[list], pl.DataFrame]:
    archive = _sniff_workbook(raw, outcome)
    try:
        reader = fastexcel.read_excel(raw)
        outcome.sheets = list(reader.sheet_names)
        sheets = {label_key(name): name for name in outcome.sheets}
        if sheets.get(label_key(FORM_SHEETS[0])) is not None:
            outcome.container = "classeur"
            return _read_centre_workbook(reader, archive, outcome, sheets)
        outcome.container = "export_tableur"
        return _read_export_workbook(reader, outcome), [], _empty(ISSUE_SCHEMA)
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own types for every kind of damage
        kind = {"xls": "ancien format .xls", "ods": "classeur .ods"}.get(outcome.format, "classeur")
        raise UnreadableFile(
            f"{kind} illisible ou corrompu ({type(exc).__name__}) : l'ouvrir et l'enregistrer au format .xlsx"
        ) from exc


def _sheet_grid(reader, name: str) -> list[list[str | None]]:
    """Every row of a sheet as text, row i of the list = spreadsheet row i + 1 (hidden rows
    included: a hidden line still holds what the centre declared)."""
    sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0)
    if sheet.width == 0:
        return []
    return sheet.to_polars().rows()


def _label_value_columns(reader, name: str) -> tuple[list, list]:
    """Columns A (labels) and B (values) of a form sheet as lists, item i = row i + 1."""
    sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0)
    if sheet.width == 0:
        return [], []
    frame = sheet.to_polars()
    labels = frame.to_series(0).to_list()
    return labels, (frame.to_series(1).to_list() if frame.width > 1 else [None] * len(labels))


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _blank(value) -> bool:
    return value is None or not str(value).strip()


def _read_centre_workbook(reader, archive: _Archive, outcome: FileOutcome, sheets: dict):
    key = outcome.source_file
    expected = (*FORM_SHEETS, SHEET_PERSONNEL)
    missing = [name for name in expected if label_key(name) not in sheets]
    if missing:
        raise UnreadableFile(
            "feuille(s) manquante(s) : " + _quoted(missing)
            + " ; le classeur doit contenir les feuilles Identification, Activité, Finances et Personnel"
        )
    extra = [name for name in outcome.sheets if label_key(name) not in {label_key(n) for n in expected}]
    if extra:
        outcome.notes.append("feuille(s) supplémentaire(s) ignorée(s) : " + _quoted(extra))
    cells, empty_values = [[] for _ in CELLS_SCHEMA], []
    known_labels = _known_label_keys()
    for sheet in FORM_SHEETS:
        actual = sheets[label_key(sheet)]
        labels, values = _label_value_columns(reader, actual)
        kept = [i for i, label in enumerate(labels) if label is not None and label.strip()]
        locations = [f"B{i + 1}" for i in kept]
        for column, items in zip(cells, ([key] * len(kept), [key] * len(kept), [None] * len(kept),
                                         [sheet] * len(kept), locations, [labels[i] for i in kept],
                                         [values[i] for i in kept], [None] * len(kept))):
            column += items
        empty_values += [  # a known label without value, not a title or section row
            (sheet, actual, location, labels[i]) for i, location in zip(kept, locations)
            if values[i] is None and label_key(labels[i]) in known_labels
        ]
    personnel, personnel_empty = _read_personnel(reader, sheets[label_key(SHEET_PERSONNEL)], key)
    # title and section rows carry a label and no value: they are layout, not data read
    outcome.rows_in = sum(1 for value in cells[6] if not _blank(value)) + len(personnel)
    issues = _formulas_without_value(archive, outcome, key, empty_values + personnel_empty)
    return cells, _columns(personnel), issues


@functools.cache
def _known_label_keys() -> frozenset[str]:
    """Comparison keys of every field label of every template, computed once per process."""
    return frozenset().union(*all_field_label_keys(label_key).values())


def _read_personnel(reader, sheet_name: str, key: str):
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
            f"feuille « {SHEET_PERSONNEL} » : colonne(s) « {labels.effectif} » et « {labels.etp} » attendues "
            "dans la ligne d'en-tête"
        ) from exc
    records, empty_values = [], []
    for number, row in enumerate(grid[header_at + 1:], start=header_at + 2):
        if not row or all(_blank(cell) for cell in row):
            continue
        effectif = row[effectif_col] if effectif_col < len(row) else None
        etp = row[etp_col] if etp_col < len(row) else None
        records.append((key, key, SHEET_PERSONNEL, f"ligne {number}", row[0], effectif, etp))
        for col, value, label in ((effectif_col, effectif, labels.effectif), (etp_col, etp, labels.etp)):
            if value is None and not (_blank(effectif) and _blank(etp)):  # a blank line is no formula
                empty_values.append((SHEET_PERSONNEL, sheet_name, f"{column_letter(col)}{number}", label))
    return records, empty_values


_CELL_RE = re.compile(rb'<c\s[^>]*?r="([A-Z]+[0-9]+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)


def _formulas_without_value(archive: _Archive | None, outcome: FileOutcome, key: str,
                            empty_values: list) -> pl.DataFrame:
    """Calamine gives the cached value of a formula, and null when the workbook was saved
    without one (generated by a script, never opened in Excel). Only when an expected value
    is null, read the XML of that value's sheet (not the others) to tell an empty cell from
    such a formula."""
    if outcome.format != "xlsx" or not empty_values or archive is None:
        return _empty(ISSUE_SCHEMA)
    try:
        paths = _sheet_paths(archive)
        formulas: dict[str, set[str]] = {}
        for _, actual, _, _ in empty_values:
            if actual in formulas or actual not in paths:
                continue
            xml = archive.read(paths[actual])
            formulas[actual] = {
                ref.decode() for ref, body in _CELL_RE.findall(xml)
                if body and b"<f" in body and not re.search(rb"<v>[^<]+</v>", body)
            } if b"<f" in xml else set()
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, struct.error):
        return _empty(ISSUE_SCHEMA)
    records = [
        (key, key, sheet, cell, None, label, None, "warning",
         "la cellule contient une formule sans valeur calculée : ouvrir le classeur dans un tableur, "
         "l'enregistrer puis le renvoyer (ou saisir la valeur)")
        for sheet, actual, cell, label in empty_values if cell in formulas.get(actual, set())
    ]
    return pl.DataFrame(records, schema=ISSUE_SCHEMA, orient="row") if records else _empty(ISSUE_SCHEMA)


def _member_bytes(raw: bytes, info) -> bytes:
    """A member's content straight from the archive bytes (sizes were bounded by the sniff)."""
    if info.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED) or info.flag_bits & 0x1:
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                return archive.read(info.filename)
        except (RuntimeError, NotImplementedError) as exc:  # encrypted member, unsupported compression
            raise zipfile.BadZipFile(str(exc)) from exc
    payload = _member_payload(raw, info)
    if info.compress_type == zipfile.ZIP_STORED:
        return payload
    try:
        return zlib.decompressobj(-15).decompress(payload, info.file_size + 1)
    except zlib.error as exc:
        raise zipfile.BadZipFile(str(exc)) from exc


def _member_payload(raw: bytes, info) -> bytes:
    """A member's bytes as stored (compressed) in the archive."""
    start = info.header_offset
    if raw[start:start + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("en-tête local absent")
    name_length, extra_length = struct.unpack_from("<HH", raw, start + 26)
    begin = start + 30 + name_length + extra_length
    return raw[begin:begin + info.compress_size]


def _sheet_paths(archive: _Archive) -> dict[str, str]:
    """Sheet name -> XML member, from workbook.xml and its relationships: parsed once per
    distinct pair of those members (every centre fills the same template), known by their
    stored bytes, without inflating them again."""
    members = [archive._by_name.get(name) for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")]
    if None in members:
        raise KeyError("xl/workbook.xml")
    signature = tuple((m.compress_type, _member_payload(archive.raw, m)) for m in members)
    if signature not in _SHEET_PATHS:
        if len(_SHEET_PATHS) > 256:  # bounded: templates are few, odd workbooks are not kept
            _SHEET_PATHS.clear()
        _SHEET_PATHS[signature] = _parse_sheet_paths(archive)
    return _SHEET_PATHS[signature]


_SHEET_PATHS: dict[tuple, dict[str, str]] = {}


def _parse_sheet_paths(archive: _Archive) -> dict[str, str]:
    workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = {
        rid: target for rid, target in re.findall(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)
    }
    targets.update({
        rid: target for target, rid in re.findall(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)
    })
    paths = {}
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name = re.search(r'\bname="([^"]*)"', tag)
        rid = re.search(r'\br:id="([^"]*)"', tag) or re.search(r'\b\w+:id="([^"]*)"', tag)
        if name and rid and rid.group(1) in targets:
            target = targets[rid.group(1)].lstrip("/")
            paths[_xml_unescape(name.group(1))] = target if target.startswith("xl/") else f"xl/{target}"
    return paths


def _xml_unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def _read_export_workbook(reader, outcome: FileOutcome) -> list[list]:
    visible = [name for name in outcome.sheets if reader.load_sheet(name, n_rows=0).visible == "visible"]
    if len(visible) != 1:
        raise UnreadableFile(
            "classeur non reconnu : ni feuille « Identification » (classeur de centre), ni une feuille "
            f"unique (export régional) ; feuilles trouvées : {', '.join(outcome.sheets) or 'aucune'}"
        )
    if len(outcome.sheets) > 1:
        outcome.notes.append("feuille(s) masquée(s) ignorée(s) : " + _quoted(n for n in outcome.sheets if n not in visible))
    grid = _sheet_grid(reader, visible[0])
    header_index = next((i for i, row in enumerate(grid) if sum(1 for c in row if not _blank(c)) >= 2), None)
    if header_index is None:
        raise UnreadableFile("feuille vide : aucune ligne d'en-tête trouvée")
    header = [cell or "" for cell in grid[header_index]]
    _check_export_header(header)
    rows = [
        (header_index + 2 + offset, row)
        for offset, row in enumerate(grid[header_index + 1:])
        if any(not _blank(cell) for cell in row)
    ]
    outcome.rows_in = len(rows)
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
    try:
        separator = _detect_separator(lines[0])
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=separator))
    except csv.Error:
        return empty, [f"{MANIFEST_NAME} : illisible (guillemet non fermé ou cellule démesurée)"]
    header = [label_key(cell) or "" for cell in rows[0]]
    if not _MANIFEST_COLUMNS <= set(header):
        return empty, [f"{MANIFEST_NAME} : en-tête attendu « fichier;date_reception », reçu « {lines[0]} »"]
    at_file, at_date = header.index("fichier"), header.index("date_reception")
    records = [
        (re.sub(r"^\./", "", row[at_file].strip().replace("\\", "/")), row[at_date].strip())
        for row in rows[1:] if len(row) > max(at_file, at_date)
    ]
    return pl.DataFrame(records, schema=empty.schema, orient="row"), []
