"""What does a data.gouv FINESS extract say, and of which date is it?

Reads the `etalab-cs1100507-stock-*.csv` format of finess.md: windows-1252, `;`,
standard quoting, a `finess;etalab;<n>;YYYY-MM-DD` first line, `structureet` lines of
32 fields, then `geolocalisation` lines whose source field holds unquoted `;` (so they
cannot go through the same CSV parse and are split apart first).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from observatoire.errors import CampaignError

STRUCTUREET_FIELDS = [
    "section", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib",
    "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement",
    "libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab",
    "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft",
    "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
]
_HEADER_RE = re.compile(r"^finess;etalab;\d+;(\d{4}-\d{2}-\d{2})\s*$")


@dataclass(frozen=True)
class FinessExtractHeader:
    source_file: str
    sha256: str
    extract_date: dt.date
    raw: bytes = field(default=b"", repr=False, compare=False)  # the file's bytes, read once
    encoding: str = "cp1252"


@dataclass(frozen=True)
class FinessExtract:
    source_file: str
    sha256: str
    extract_date: dt.date
    establishments: pl.DataFrame  # one row per structureet line, every field as text
    geolocation_text: str = ""  # the lines after the structureet block, split only when asked
    encoding: str = "cp1252"  # how the file was decoded (`file_encoding`)

    @property
    def geolocations(self) -> pl.DataFrame:  # nofinesset, x, y, source, datemaj
        return _parse_geolocations(self.geolocation_text.splitlines())


def _raw(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CampaignError(f"Référentiel FINESS illisible : {path} ({exc.strerror}).") from exc


def _extract_date(path: Path, first_line: str) -> dt.date:
    header = _HEADER_RE.match(first_line)
    if header is None:
        raise CampaignError(
            f"Référentiel FINESS invalide : {path}, ligne 1 : attendu "
            f"« finess;etalab;<n>;AAAA-MM-JJ », reçu « {first_line[:60]} »."
        )
    return dt.date.fromisoformat(header.group(1))


def file_encoding(raw: bytes) -> str:
    """data.gouv publishes windows-1252; an extract opened and saved again by a tool is
    often UTF-8. A windows-1252 French text is almost never valid UTF-8 (an accented letter
    is one byte >= 0x80 between ASCII ones), so a file that decodes as UTF-8 is one:
    decoding it as windows-1252 would store « Centre de SantÃ© »."""
    if raw.isascii():
        return "cp1252"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


_GEOLOCALISATION_END = re.compile(rb"^geolocalisation;.*;\d{4}-\d{2}-\d{2}\r?$")


def _check_not_cut(path: Path, raw: bytes) -> None:
    """data.gouv ends every line, the last one included, with a newline. A file without one
    is accepted when its last line is whole (a structureet line of 32 fields, which the
    parse does not check on a last line: it pads it with nulls; a geolocalisation line
    ending with its datemaj); else the file was cut while copied or downloaded, and the
    lines after the cut are lost."""
    first_end = raw.find(b"\n")
    if first_end < 0 or raw.endswith(b"\n"):
        return  # a header alone is refused as empty later
    last, line = raw[raw.rfind(b"\n") + 1:], raw.count(b"\n") + 1
    text = last.decode("cp1252", errors="replace").rstrip("\r")
    whole_structure = text.startswith("structureet;") and len(next(csv.reader([text], delimiter=";"))) == len(
        STRUCTUREET_FIELDS)
    if whole_structure or _GEOLOCALISATION_END.match(last):
        return
    raise CampaignError(
        f"Référentiel FINESS invalide : {path} est coupé, sa dernière ligne ({line}) est "
        f"incomplète (« {last[:40].decode('cp1252', errors='replace')}… », sans fin de ligne) : "
        "télécharger l'extrait à nouveau."
    )


def peek_finess_extract(path: Path) -> FinessExtractHeader:
    """Date and checksum of an extract from its first line and its bytes, without parsing
    it: a run can skip the extracts its warehouse already holds."""
    raw = _raw(path)
    encoding = file_encoding(raw)
    first_line = raw[:200].split(b"\n", 1)[0].decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
    return FinessExtractHeader(str(path), hashlib.sha256(raw).hexdigest(), _extract_date(path, first_line), raw,
                               encoding)


def read_finess_extract(path: Path, header: FinessExtractHeader | None = None) -> FinessExtract:
    """Parse one extract (from the bytes of `header` when it was peeked at already); raise
    CampaignError (French) if it is not one."""
    raw = header.raw if header is not None and header.raw else _raw(path)
    _check_not_cut(path, raw)
    encoding = file_encoding(raw)
    if encoding == "utf-8" and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # windows-1252 gives one character per byte and keeps ASCII as is: the `\n`, `;` and
    # section names are found in the bytes at the places they have in the decoded text, so
    # only the parts kept are decoded (once)
    first_end = raw.find(b"\n")
    extract_date = _extract_date(
        path, (raw if first_end < 0 else raw[:first_end]).decode(encoding, errors="replace").rstrip("\r"))
    # data.gouv writes every structureet line, then every geolocalisation line: the first
    # block is parsed by Polars in one go. Anything else (interleaved lines, other
    # sections) takes the line-by-line path, which gives the same result.
    start = len(raw) if first_end < 0 else first_end + 1  # the body: raw[start:]
    geo_at = raw.find(b"\ngeolocalisation;", start)
    end = len(raw) if geo_at < 0 else geo_at + 1  # the structureet block: raw[start:end]
    n_block = raw.count(b"\nstructureet;", start, end) + raw.startswith(b"structureet;", start, end)
    # no "\nstructureet;" straddles `end`: the byte before it is the "\n" of "\ngeolocalisation;"
    n_structure = n_block + (raw.count(b"\nstructureet;", end) if geo_at >= 0 else 0)
    n_lines = raw.count(b"\n", start, end) + (not raw.endswith(b"\n", start, end))
    clean = n_structure == n_block == n_lines and raw.find(b"\r", start, end) < 0
    if clean:  # holds at least one structureet line
        structure_block = raw[start:end] if encoding == "utf-8" else \
            raw[start:end].decode(encoding, errors="replace").encode("utf-8")
        rest = "" if geo_at < 0 else raw[end:].decode(encoding, errors="replace")
    else:  # the general path: keep only the structureet lines
        body = raw[start:].decode(encoding, errors="replace")
        text_block = "\n".join(line for line in body.splitlines() if line.startswith("structureet;"))
        if not text_block.strip():
            raise CampaignError(f"Référentiel FINESS vide : {path} ne contient aucune ligne structureet.")
        structure_block = text_block.encode("utf-8")
        rest = body
    try:
        establishments = pl.read_csv(
            structure_block,
            has_header=False,
            separator=";",
            quote_char='"',
            new_columns=STRUCTUREET_FIELDS,
            schema_overrides={name: pl.String for name in STRUCTUREET_FIELDS},
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:  # a line with more or fewer than 32 fields
        raise CampaignError(
            f"Référentiel FINESS invalide : {path} : ligne structureet de {len(STRUCTUREET_FIELDS)} champs "
            "attendue (ligne coupée ou guillemet non fermé)."
        ) from exc
    return FinessExtract(
        source_file=str(path),
        sha256=header.sha256 if header is not None and header.raw else hashlib.sha256(raw).hexdigest(),
        extract_date=extract_date,
        establishments=establishments,
        geolocation_text=rest,
        encoding=encoding,
    )


def _parse_geolocations(lines) -> pl.DataFrame:
    rows = []
    for line in lines:
        if line.startswith("geolocalisation;"):
            parts = line.split(";")
            rows.append((parts[1], parts[2], parts[3], ";".join(parts[4:-1]), parts[-1]))
    return pl.DataFrame(
        rows, schema=["nofinesset", "x", "y", "source", "datemaj"], orient="row"
    ) if rows else pl.DataFrame(schema={k: pl.String for k in ["nofinesset", "x", "y", "source", "datemaj"]})
