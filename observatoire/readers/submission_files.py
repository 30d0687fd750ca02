"""What does each received file contain, cell by cell, and could it be read at all?

One reader per container (submission-template.md): the per-centre workbook (four
sheets) and the regional export (CSV or one-sheet workbook). Readers do not interpret
values: they return every (label, value) pair as text with where it was found, plus an
*outcome* record per file, so that nothing silently vanishes. Unreadable files get a
French reason instead of an exception, and are never decompressed beyond a bound.
"""
from __future__ import annotations

import csv
import errno
import functools
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from observatoire.readers import xls_extent
from schemas.fields import EXPORT_REQUIRED, FORM_SHEETS, SHEET_PERSONNEL
from schemas.registry import all_field_label_keys, personnel_labels, templates
from transforms.labels import label_key
from transforms.submissions import ISSUE_SCHEMA

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv"}
MANIFEST_NAME = "reception.csv"


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost, whatever the file claims. Each bound is far above any
    real submission (a centre's form is tens of rows, a regional export a few thousand, a
    workbook a few hundred kB once unzipped) and far below what a broken or hostile file
    asks for (a sheet formatted down to row 1,048,576, a zip whose directory lies)."""

    seconds_per_file: float = 30.0  # wall time, enforced by killing the reader process
    memory_mb: int = 768  # address space a reader process may add to what it holds at rest
    file_mb: int = 64  # size on disk
    inflated_mb: int = 100  # a workbook's content once really inflated (not as announced)
    export_rows: int = 20_000  # data rows of a regional export (CSV or sheet)
    form_rows: int = 2_000  # rows of one sheet of a centre's workbook
    columns: int = 200  # columns of a sheet (an export has about 100)

    @classmethod
    def from_env(cls) -> "ReadLimits":
        """Defaults, or `OBSERVATOIRE_READ_<FIELD>` (e.g. OBSERVATOIRE_READ_SECONDS_PER_FILE=60)."""
        values = {}
        for name, default in cls().__dict__.items():
            text = os.environ.get(f"OBSERVATOIRE_READ_{name.upper()}")
            if text:
                values[name] = type(default)(text)
        return cls(**values)


LIMITS = ReadLimits.from_env()  # replaced in each reader process by the pool's limits


def set_limits(limits: ReadLimits) -> None:
    global LIMITS
    LIMITS = limits


def _thousands(number: int | float) -> str:
    return f"{number:,}".replace(",", " ")


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
    """Every entry below `folder` that is not a folder walked into, in `Path` order (what
    `sorted(rglob("*"))` gives), except the `reception.csv` manifests: submissions, and
    also what cannot be read (a link that is broken or loops, a linked folder, which is not
    entered, a folder this account may not list, a file of another kind), so that reading
    gives each its outcome and nothing silently vanishes. With `os.scandir`, whose entries
    know their type without a `stat` per file: listing 24,164 files took 0.29 s through
    pathlib, while the reader processes waited for it."""
    found: list[tuple[str, ...]] = []

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:  # a folder this account may not list: reading it says so
            if parts:
                found.append(parts)
            return
        for entry in entries:
            name = entry.name
            if not entry.is_symlink() and _entry_is(entry.is_dir):
                walk(entry.path, (*parts, name))
            elif name.lower() != MANIFEST_NAME or not _entry_is(entry.is_file):
                found.append((*parts, name))

    walk(os.fspath(folder), ())
    base = Path(folder)
    return [base.joinpath(*parts) for parts in sorted(found)]


def is_submission_name(name: str) -> bool:
    return (os.path.splitext(name)[1].lower() in SUBMISSION_SUFFIXES | set(EXTRA_READERS)
            and not name.startswith("~$"))


def _entry_is(test) -> bool:
    """`entry.is_dir` or `entry.is_file`, False where following the entry fails (a link
    that loops, an entry gone meanwhile), as pathlib answers: one odd entry in a shared
    folder never stops the listing."""
    try:
        return test()
    except OSError:
        return False


def printable_name(name: str) -> str:
    """A file name as it is shown and stored: itself when it is printable UTF-8, else with
    each byte that is not UTF-8 written `\\xe9` (the name's bytes, from `os.fsdecode`'s
    surrogates) and each control or invisible character `\\n`, `\\x1b`, `\\u202e`; a
    backslash is doubled, so the form is faithful (one name, one form, and back). A name
    then never breaks a line of a log, a summary or a table."""
    if name.isprintable() and "\\" not in name:
        return name
    shown = []
    for char in name:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\":
            shown.append("\\\\")
        elif char.isprintable():
            shown.append(char)
        elif char == "\n":
            shown.append("\\n")
        elif char == "\t":
            shown.append("\\t")
        elif char == "\r":
            shown.append("\\r")
        else:
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(shown)


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to the submissions folder, `/`-separated, printable (`printable_name`)."""
    return "/".join(printable_name(part) for part in Path(path).relative_to(root).parts)


# Readers added for a suffix of their own: empty in production. Tests set the environment
# variable OBSERVATOIRE_EXTRA_READERS to a module whose `READERS` maps a suffix (".essai")
# to a function (raw bytes, FileOutcome) -> (cell columns, personnel columns); reader
# processes inherit the variable, so such a reader runs where real ones run (it may crash
# a process, sleep, allocate: what the pool must survive).
EXTRA_READERS: dict = {}


def _load_extra_readers() -> None:
    import importlib

    for module in filter(None, os.environ.get("OBSERVATOIRE_EXTRA_READERS", "").split(",")):
        EXTRA_READERS.update(importlib.import_module(module.strip()).READERS)


_load_extra_readers()


def _sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def outcome_without_reading(path: Path, root: Path, reason: str) -> FileOutcome:
    """The outcome of a file refused before or without being parsed (what killed a reader
    process, what took too long): its checksum when its bytes can be read at all."""
    try:
        sha256, size = _sha256_of(path) if os.path.isfile(path) else ("", 0)
    except OSError:
        sha256, size = "", 0
    return FileOutcome(relative_name(path, root), sha256, size, reason=reason)


_ERRNO_REASONS = {
    errno.EACCES: "droits insuffisants : le compte qui lance la campagne ne peut pas le lire ; "
                  "lui donner le droit de lecture",
    errno.EPERM: "droits insuffisants : le compte qui lance la campagne ne peut pas le lire ; "
                 "lui donner le droit de lecture",
    errno.ENOENT: "disparu pendant la campagne (supprimé ou déplacé) : le déposer à nouveau",
    errno.ELOOP: "lien symbolique qui boucle (il mène à lui-même) : déposer le fichier lui-même",
    errno.EIO: "erreur d'entrée-sortie du disque : copier le fichier à nouveau",
}


def _os_reason(exc: OSError) -> str:
    return _ERRNO_REASONS.get(exc.errno, f"illisible sur le disque ({errno.errorcode.get(exc.errno, exc.errno)})")


def _entry_problem(path: Path) -> str | None:
    """Why the entry at `path` is no file to read (a link, a folder, a pipe…), or None."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return "entrée " + _os_reason(exc)
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return (f"lien symbolique cassé : sa cible « {printable_name(target)} » n'existe pas ; "
                        "déposer le fichier lui-même")
            return _os_reason(exc) if exc.errno == errno.ELOOP else "lien symbolique " + _os_reason(exc)
        if stat.S_ISDIR(info.st_mode):
            return ("lien vers un dossier, non suivi (un lien peut mener hors du dossier des envois ou y boucler) : "
                    "y déposer les fichiers eux-mêmes")
    if stat.S_ISDIR(info.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            return "dossier dont les fichiers ne sont pas lus : " + _os_reason(exc)
        return "dossier non parcouru"
    if not stat.S_ISREG(info.st_mode):
        return "ni fichier ni dossier (tube, socket ou périphérique) : déposer un classeur ou un CSV"
    name = path.name
    if name.startswith("~$"):
        return "fichier de verrouillage d'Excel (le classeur était ouvert pendant la copie) : ignoré"
    if not is_submission_name(name):
        suffix = os.path.splitext(name)[1]
        return (f"type de fichier non pris en charge ({'extension « ' + printable_name(suffix) + ' »' if suffix else 'sans extension'}) : "
                "envoyer le classeur Excel du modèle (.xlsx) ou un export .csv, .xls, .ods")
    if info.st_size > LIMITS.file_mb * 1024 * 1024:
        return (f"fichier refusé : {_thousands(info.st_size // (1024 * 1024))} Mo sur le disque "
                f"(limite {LIMITS.file_mb} Mo par fichier) ; un envoi fait quelques centaines de ko : "
                "supprimer les lignes, images ou feuilles en trop et le renvoyer")
    return None


def read_submission_file(path: Path, root: Path) -> FileContent:
    path = Path(path)
    relative = relative_name(path, root)
    problem = _entry_problem(path)
    if problem is not None:
        outcome = outcome_without_reading(path, root, problem)
        outcome.source_file = relative
        return FileContent(outcome, [], [])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return FileContent(FileOutcome(relative, "", 0, reason="fichier " + _os_reason(exc)), [], [])
    outcome = FileOutcome(relative, hashlib.sha256(raw).hexdigest(), len(raw))
    issues = _empty(ISSUE_SCHEMA)
    suffix = path.suffix.lower()
    try:
        if suffix in EXTRA_READERS:
            cells, personnel = EXTRA_READERS[suffix](raw, outcome)
        elif suffix == ".csv":
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
    """The file's text in its one encoding (UTF-8, with or without BOM, or Windows-1252).
    A file whose encoding changes from line to line (rows appended by another tool, or
    UTF-8 read as Windows-1252 and saved again: « mÃ©dical ») is refused with the lines in
    each encoding: decoding it either way would load garbled text as data."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise UnreadableFile(
            "encodage non pris en charge (UTF-16 ou binaire) : enregistrer le fichier en CSV "
            "UTF-8 ou Windows-1252 (« CSV séparateur point-virgule »)"
        )
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    try:
        text = body.decode("utf-8")
        outcome.encoding = "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if _MOJIBAKE_HINT.search(text):
            _refuse_mixed(body.split(b"\n"), outcome.encoding)
        return text
    lines = body.split(b"\n")
    _refuse_mixed(lines, "windows-1252")
    try:
        text = body.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"encodage non reconnu (octet {body[exc.start]:#04x} à la position {exc.start + 3 * bom}) : "
            "attendu UTF-8 ou Windows-1252"
        ) from exc
    if bom:  # a BOM says UTF-8, yet no line is UTF-8 with accents: the BOM lies
        raise UnreadableFile(
            f"fichier marqué UTF-8 mais octet invalide à la position {_first_invalid_utf8(raw)} : "
            "enregistrer le fichier en CSV UTF-8"
        )
    outcome.encoding = "windows-1252"
    return text


# Windows-1252 renderings of UTF-8 lead bytes followed by a continuation byte: how an
# accented letter looks once UTF-8 was read as Windows-1252 (é -> Ã©, ’ -> â€™).
_MOJIBAKE_HINT = re.compile("[\u00c2-\u00c3\u00c5\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178"
                            "\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022"
                            "\u2026\u2030\u2039\u203a\u20ac\u2122]")


def _first_invalid_utf8(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return -1


def _line_encoding(line: bytes) -> str | None:
    """"utf-8", "windows-1252" or "utf-8-double" (UTF-8 read as Windows-1252 and saved as
    UTF-8 again) for a line with accents, None for a plain ASCII line (both encodings)."""
    if line.isascii():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1252"
    if _MOJIBAKE_HINT.search(text):
        try:
            if not text.encode("cp1252").decode("utf-8").isascii():
                return "utf-8-double"
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return "utf-8"


_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "windows-1252": "Windows-1252",
                   "utf-8-double": "UTF-8 doublement encodé (« Ã© » au lieu de « é »)"}


def _refuse_mixed(lines: list[bytes], expected: str) -> None:
    """Raise when the lines with accents are not all in one encoding, listing which are which."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(lines, start=1):
        encoding = _line_encoding(line)
        if encoding is not None:
            found.setdefault(encoding, []).append(number)
    if len(found) <= 1 and "utf-8-double" not in found:
        return
    parts = [f"{_line_ranges(numbers)} en {_ENCODING_NAMES[encoding]}"
             for encoding, numbers in sorted(found.items(), key=lambda item: item[1][0])]
    raise UnreadableFile(
        "encodage mélangé dans le fichier : " + " ; ".join(parts)
        + " : les accents seraient lus de travers ; enregistrer tout le fichier dans un seul encodage "
        "(« CSV UTF-8 » de préférence) et le renvoyer"
    )


def _line_ranges(numbers: list[int], shown: int = 6) -> str:
    ranges: list[list[int]] = []
    for number in numbers:
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    text = ", ".join(f"{a}" if a == b else f"{a} à {b}" for a, b in ranges[:shown])
    more = f" et {len(ranges) - shown} autre(s) plage(s)" if len(ranges) > shown else ""
    return ("ligne " if len(numbers) == 1 else "lignes ") + text + more


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
            if len(grid) > LIMITS.export_rows:
                raise UnreadableFile(_too_many_rows("export", LIMITS.export_rows, f"ligne {line}"))
    _check_columns(len(header), None)
    _check_export_header(header)
    outcome.rows_in = len(grid)
    return _export_cells(
        outcome.source_file, None, header, grid, lambda line, col: f"ligne {line}", outcome.decimal_mark
    ), []


def _too_many_rows(what: str, limit: int, where: str) -> str:
    kind = {"export": "l'export", "form": "la feuille"}[what]
    per = "lignes de données par export" if what == "export" else "lignes par feuille de classeur de centre"
    return (f"fichier refusé : {kind} dépasse la limite de {_thousands(limit)} {per} (atteinte {where}) ; "
            "un export régional fait quelques milliers de lignes et un classeur de centre quelques dizaines : "
            "supprimer les lignes vides ou mises en forme en trop (ou découper l'export) et le renvoyer")


def _check_columns(width: int, sheet: str | None) -> None:
    if width > LIMITS.columns:
        place = f"la feuille « {sheet} »" if sheet else "l'en-tête"
        raise UnreadableFile(
            f"fichier refusé : {place} compte {_thousands(width)} colonnes (limite {LIMITS.columns}) ; "
            "supprimer les colonnes vides ou mises en forme en trop et le renvoyer"
        )


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
    """A workbook's zip archive: its directory as `zipfile` reads it, its members inflated
    here from their stored bytes and never beyond a bound, whatever sizes the directory
    announces (a zip may announce 3,000 bytes for gigabytes of XML)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # BadZipFile for the caller
            self.members = archive.infolist()
        self._by_name = {member.filename: member for member in self.members}

    def names(self) -> set[str]:
        return set(self._by_name)

    def read(self, name: str, limit: int | None = None) -> bytes:
        member = self._by_name.get(name)
        if member is None:
            raise KeyError(name)
        return _member_bytes(self.raw, member, LIMITS.inflated_mb * 1024 * 1024 if limit is None else limit)


class _InflatedTooBig(Exception):
    pass


def _member_bytes(raw: bytes, info, limit: int) -> bytes:
    """A member's content inflated from the archive bytes, at most `limit` bytes (else
    `_InflatedTooBig`); a content whose real size or checksum is not the announced one is
    a damaged (or forged) archive."""
    if info.flag_bits & 0x1:
        raise zipfile.BadZipFile(f"membre chiffré : {info.filename}")
    payload = _member_payload(raw, info)
    if info.compress_type == zipfile.ZIP_STORED:
        data = payload
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-15).decompress(payload, limit + 1)
        except zlib.error as exc:
            raise zipfile.BadZipFile(str(exc)) from exc
    else:  # bzip2, lzma…: no spreadsheet tool writes them
        raise zipfile.BadZipFile(f"compression {info.compress_type} non prise en charge")
    if len(data) > limit:
        raise _InflatedTooBig(info.filename)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"taille ou somme de contrôle annoncée fausse : {info.filename}")
    return data


def _member_payload(raw: bytes, info) -> bytes:
    """A member's bytes as stored (compressed) in the archive."""
    start = info.header_offset
    if raw[start:start + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("en-tête local absent")
    name_length, extra_length = struct.unpack_from("<HH", raw, start + 26)
    begin = start + 30 + name_length + extra_length
    return raw[begin:begin + info.compress_size]


_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_VALUE_TAGS = (b"<v>", b"<v ", b"<is>", b":v>", b":is>")
_ROW_NUMBER = re.compile(rb'\br="([0-9]+)"')


def _columns_beyond(limit: int) -> re.Pattern:
    """Cell references of a column past the `limit`-th (26 <= limit < 702), e.g. ` r="GS12"`."""
    limit = min(max(limit, 26), 701)
    first, second = divmod(limit - 1, 26)  # the last allowed column is letters (first, second)
    a, b = chr(64 + first), chr(65 + second)
    options = [b"[A-Z]{3}"]
    if a < "Z":
        options.append(f"[{chr(ord(a) + 1)}-Z][A-Z]".encode())
    if b < "Z":
        options.append(f"{a}[{chr(ord(b) + 1)}-Z]".encode())
    return re.compile(rb' r="(?:' + b"|".join(options) + rb')[0-9]')


def _sheet_extent(xml: bytes, columns: re.Pattern) -> tuple[int, bool]:
    """(the last row holding a value, whether a cell past the column limit holds one) of a
    worksheet's XML, without parsing it: calamine builds a dense grid from the first to
    the last cell with a value, so one value at row 1,000,000 (or column XFD) costs the
    memory of a million rows, while rows merely formatted (no value) cost nothing."""
    last = max(xml.rfind(tag) for tag in _VALUE_TAGS)
    if last < 0:
        return 0, False
    row_at = max(xml.rfind(b"<row", 0, last), xml.rfind(b":row", 0, last))
    match = _ROW_NUMBER.search(xml, row_at, xml.find(b">", row_at)) if row_at >= 0 else None
    last_row = int(match.group(1)) if match else xml.count(b"row", 0, last)
    wide = False
    for seen, cell in enumerate(columns.finditer(xml)):
        closing = xml.find(b">", cell.end())
        if xml[closing - 1:closing] != b"/":
            end = xml.find(b"</", closing)
            if any(tag in xml[closing:end + 4] for tag in (b"<v", b"<is", b":v", b":is")):
                wide = True
                break
        if seen > 10_000:  # ten thousand formatted cells past the limit: a sheet to clean anyway
            wide = True
            break
    return last_row, wide


_ODS_REPEATED = re.compile(rb'number-(rows|columns)-repeated="([0-9]+)"')


def _ods_extent(xml: bytes) -> tuple[int, bool]:
    """What an OpenDocument sheet repeats: a row (or cell) holding a value repeated past the
    limits, which calamine would expand, as `_sheet_extent` answers; repeated empty rows and
    cells (a sheet formatted to its end) cost nothing."""
    rows = LIMITS.export_rows + _TITLE_ROWS
    for seen, match in enumerate(_ODS_REPEATED.finditer(xml)):
        count, is_row = int(match.group(2)), match.group(1) == b"rows"
        if count > (rows if is_row else LIMITS.columns):
            closing = xml.find(b">", match.end())
            end = closing if xml[closing - 1:closing] == b"/" else xml.find(
                b"</table:table-row>" if is_row else b"</table:table-cell>", closing)
            if b"office:value" in xml[closing:end] or b"<text:p>" in xml[closing:end]:
                return (count, False) if is_row else (0, True)
        if seen > 100_000:
            break
    return 0, False


def _sniff_workbook(raw: bytes, outcome: FileOutcome) -> _Archive | None:
    """Refuse from the first bytes and the zip archive what is not a workbook or would
    cost more than the limits, before calamine sees it: every member is inflated once here,
    counting its real size, and each worksheet's extent is bounded. Returns the zip archive
    (None for a legacy OLE2 .xls), so that its directory is read once per file."""
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
        _check_xls_extents(raw)
        return None
    if not raw.startswith(b"PK"):
        raise UnreadableFile(
            "ce fichier n'est pas un classeur (ni .xlsx, ni .xls, ni .ods) : envoyer le classeur Excel du modèle"
        )
    budget = LIMITS.inflated_mb * 1024 * 1024
    columns = _columns_beyond(LIMITS.columns)
    extents: dict[str, tuple[int, bool]] = {}
    mimetype = b""
    try:
        archive = _Archive(raw)
        announced = sum(info.file_size for info in archive.members)
        if announced > budget:  # no need to inflate what says it is too big
            raise UnreadableFile(
                f"classeur refusé : son contenu décompressé annonce {_thousands(announced // (1024 * 1024))} Mo "
                f"(limite {LIMITS.inflated_mb} Mo), possible bombe de décompression"
            )
        for info in archive.members:
            if info.is_dir():
                continue
            data = archive.read(info.filename, budget)
            budget -= len(data)
            if len(data) > _RATIO_CHECK_FROM_BYTES and len(data) > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise UnreadableFile(
                    f"classeur refusé : « {printable_name(info.filename)} » se décompresse "
                    f"{len(data) // max(info.compress_size, 1)} fois sa taille, possible bombe de décompression"
                )
            if info.filename == "mimetype":
                mimetype = data[:100]
            elif _WORKSHEET.match(info.filename):
                extents[info.filename] = _sheet_extent(data, columns)
            elif info.filename == "content.xml":
                extents[info.filename] = _ods_extent(data)
            del data
    except _InflatedTooBig as exc:
        raise UnreadableFile(
            f"classeur refusé : son contenu décompressé dépasse {LIMITS.inflated_mb} Mo (limite par fichier, "
            f"mesurée en décompressant « {printable_name(str(exc))} », quelles que soient les tailles annoncées) ; "
            "possible bombe de décompression, ou classeur plein de lignes mises en forme : le nettoyer et le renvoyer"
        ) from exc
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, zlib.error, NotImplementedError,
            RuntimeError) as exc:
        raise UnreadableFile("classeur tronqué ou corrompu : l'archive .xlsx ne s'ouvre pas") from exc
    names = archive.names()
    if b"opendocument.spreadsheet" in mimetype:
        outcome.format = "ods"
    elif "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        outcome.format = "xlsx"
    else:
        raise UnreadableFile(
            "archive zip qui n'est pas un classeur (.xlsx ou .ods) : envoyer le classeur Excel du modèle"
        )
    _check_extents(archive, extents)
    return archive


def _check_extents(archive: _Archive, extents: dict[str, tuple[int, bool]]) -> None:
    rows = LIMITS.export_rows + _TITLE_ROWS
    too_far = {path: extent for path, extent in extents.items() if extent[0] > rows or extent[1]}
    if not too_far:
        return
    try:
        sheet_of = {path: name for name, path in _sheet_paths(archive).items()}
    except (KeyError, zipfile.BadZipFile, _InflatedTooBig):
        sheet_of = {}
    path, (last_row, wide) = next(iter(too_far.items()))
    sheet = "une feuille" if path == "content.xml" else f"la feuille « {printable_name(sheet_of.get(path, path))} »"
    _refuse_extent(sheet, last_row, wide, rows)


def _refuse_extent(sheet: str, last_row: int, wide: bool, rows: int) -> None:
    if wide:
        raise UnreadableFile(
            f"fichier refusé : {sheet} a des valeurs au-delà de la colonne "
            f"{column_letter(LIMITS.columns - 1)} (limite {LIMITS.columns} colonnes) ; supprimer les colonnes en trop "
            "et le renvoyer"
        )
    raise UnreadableFile(
        f"fichier refusé : {sheet} a des valeurs jusqu'à la ligne {_thousands(last_row)} "
        f"(limite {_thousands(rows)} lignes par feuille) ; un export régional fait "
        "quelques milliers de lignes : supprimer les lignes en trop (ou découper l'export) et le renvoyer"
    )


def _check_xls_extents(raw: bytes) -> None:
    """A legacy .xls bounded like an .xlsx (`_check_extents`) before calamine opens it, from
    its structure (`xls_extent`): calamine parses every sheet of a .xls when it opens it,
    reserving the cells its DIMENSIONS record announces and building a dense grid up to its
    last cell, so the rows and columns of every sheet are checked here, and what the
    DIMENSIONS record announces too (a lie there makes calamine ask for terabytes)."""
    try:
        extents = xls_extent.sheet_extents(raw)
    except xls_extent.XlsStructureError as exc:
        raise UnreadableFile(
            f"ancien format .xls illisible ou corrompu ({exc}) : l'ouvrir et l'enregistrer au format .xlsx"
        ) from exc
    rows = LIMITS.export_rows + _TITLE_ROWS
    for extent in extents:
        sheet = f"la feuille « {printable_name(extent.name)} »"
        wide = extent.last_column >= LIMITS.columns
        if extent.last_row > rows or wide:
            _refuse_extent(sheet, extent.last_row, wide, rows)
        if extent.declared_rows * extent.declared_columns > rows * LIMITS.columns:
            raise UnreadableFile(
                f"fichier refusé : {sheet} annonce {_thousands(extent.declared_rows)} lignes sur "
                f"{_thousands(extent.declared_columns)} colonnes (enregistrement DIMENSIONS du .xls), au-delà de "
                f"la limite de {_thousands(rows)} lignes et {LIMITS.columns} colonnes par feuille ; l'ouvrir dans "
                "un tableur, supprimer les lignes et colonnes mises en forme en trop et l'enregistrer au format .xlsx"
            )


# Spreadsheet XML compresses ~10x (a sheet formatted down to its last row ~50x): a member
# past this ratio, really inflated, and this size is a bomb, not a form.
MAX_COMPRESSION_RATIO = 200
_RATIO_CHECK_FROM_BYTES = 10 * 1024 * 1024

# rows a sheet may have above its header (title, notes) beyond the rows limit
_TITLE_ROWS = 100


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
    except (UnreadableFile, MemoryError):
        raise
    except Exception as exc:  # calamine raises its own types for every kind of damage
        kind = {"xls": "ancien format .xls", "ods": "classeur .ods"}.get(outcome.format, "classeur")
        raise UnreadableFile(
            f"{kind} illisible ou corrompu ({type(exc).__name__}) : l'ouvrir et l'enregistrer au format .xlsx"
        ) from exc


def _loaded(reader, name: str, limit: int, what: str):
    """A sheet as text, refused past `limit` rows or the column limit (a workbook's sheets
    were bounded to the export's limit by `_sniff_workbook`; a form's sheet is smaller)."""
    sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0, n_rows=limit + 1)
    if sheet.height > limit:
        shown = LIMITS.export_rows if what == "export" else limit
        raise UnreadableFile(_too_many_rows(what, shown, f"feuille « {printable_name(name)} »"))
    _check_columns(sheet.width, printable_name(name))
    return sheet


def _sheet_grid(reader, name: str, limit: int, what: str = "form") -> list[list[str | None]]:
    """Every row of a sheet as text, row i of the list = spreadsheet row i + 1 (hidden rows
    included: a hidden line still holds what the centre declared)."""
    sheet = _loaded(reader, name, limit, what)
    if sheet.width == 0:
        return []
    return sheet.to_polars().rows()


def _label_value_columns(reader, name: str) -> tuple[list, list]:
    """Columns A (labels) and B (values) of a form sheet as lists, item i = row i + 1."""
    sheet = _loaded(reader, name, LIMITS.form_rows, "form")
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
    grid = _sheet_grid(reader, sheet_name, LIMITS.form_rows)
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
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, struct.error, _InflatedTooBig):
        return _empty(ISSUE_SCHEMA)
    records = [
        (key, key, sheet, cell, None, label, None, "warning",
         "la cellule contient une formule sans valeur calculée : ouvrir le classeur dans un tableur, "
         "l'enregistrer puis le renvoyer (ou saisir la valeur)")
        for sheet, actual, cell, label in empty_values if cell in formulas.get(actual, set())
    ]
    return pl.DataFrame(records, schema=ISSUE_SCHEMA, orient="row") if records else _empty(ISSUE_SCHEMA)


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
    grid = _sheet_grid(reader, visible[0], LIMITS.export_rows + _TITLE_ROWS, "export")
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
    if len(rows) > LIMITS.export_rows:
        raise UnreadableFile(_too_many_rows("export", LIMITS.export_rows, f"ligne {rows[LIMITS.export_rows][0]}"))
    outcome.rows_in = len(rows)
    return _export_cells(
        outcome.source_file, visible[0], header, rows, lambda line, col: f"{column_letter(col)}{line}"
    )


# ---------------------------------------------------------------- reception manifest
_MANIFEST_COLUMNS = {"fichier", "date_reception"}


def read_reception_manifest(folder: Path) -> tuple[pl.DataFrame, list[str]]:
    """(source_file, date_reception as text) from every `reception.csv` below `folder`, at
    any depth, each dating the files of its own folder (campaign-rules.md: beside the
    files), and the French problems found."""
    empty = pl.DataFrame(schema={"source_file": pl.String, "date_reception": pl.String})
    frames, problems = [], []
    for path in _manifest_paths(Path(folder)):
        prefix = "/".join(printable_name(part) for part in path.parent.relative_to(folder).parts)
        name = f"{prefix}/{MANIFEST_NAME}" if prefix else MANIFEST_NAME
        records, problem = _manifest_records(path, name)
        if problem:
            problems.append(problem)
        frames.append(pl.DataFrame([(f"{prefix}/{file}" if prefix else file, date) for file, date in records],
                                   schema=empty.schema, orient="row"))
    return (pl.concat(frames) if frames else empty), problems


def _manifest_paths(folder: Path) -> list[Path]:
    """Every `reception.csv` below `folder` (any case), shallowest first, links not followed."""
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders.sort()
        found += [Path(directory) / name for name in files if name.lower() == MANIFEST_NAME]
    return sorted(found, key=lambda path: (len(path.parts), path))


def _manifest_records(path: Path, name: str) -> tuple[list[tuple[str, str]], str | None]:
    outcome = FileOutcome(name, "", 0)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe would block the run
            return [], f"{name} : ce n'est pas un fichier ordinaire"
        if os.path.getsize(path) > LIMITS.file_mb * 1024 * 1024:
            return [], f"{name} : plus de {LIMITS.file_mb} Mo, non lu"
        text = _decode(path.read_bytes(), outcome)
    except OSError as exc:
        return [], f"{name} : {_os_reason(exc)}"
    except UnreadableFile as exc:
        return [], f"{name} : {exc}"
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], None
    try:
        separator = _detect_separator(lines[0])
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=separator))
    except csv.Error:
        return [], f"{name} : illisible (guillemet non fermé ou cellule démesurée)"
    header = [label_key(cell) or "" for cell in rows[0]]
    if not _MANIFEST_COLUMNS <= set(header):
        return [], f"{name} : en-tête attendu « fichier;date_reception », reçu « {printable_name(lines[0])} »"
    at_file, at_date = header.index("fichier"), header.index("date_reception")
    records = []
    for row in rows[1:]:
        if len(row) > max(at_file, at_date):
            file = re.sub(r"^\./", "", row[at_file].strip().replace("\\", "/"))
            for alias in _disk_forms(file):
                records.append((alias, row[at_date].strip()))
    return records, None


def _disk_forms(name: str) -> list[str]:
    """`name` as a manifest writes it, and as `printable_name` shows the file it means when
    the tool that extracted the files wrote the name in Windows-1252 or in the DOS code page
    850 (« rapport activité.xlsx » on disk as b"rapport activit\\xe9.xlsx")."""
    forms = [name]
    for codec in ("cp1252", "cp850"):
        try:
            raw = name.encode(codec)
        except UnicodeEncodeError:
            continue
        try:
            raw.decode("utf-8")
            continue  # the same bytes as UTF-8: the name itself
        except UnicodeDecodeError:
            pass
        shown = "/".join(printable_name(os.fsdecode(part)) for part in raw.split(b"/"))
        if shown not in forms:
            forms.append(shown)
    return forms
