"""What does a data.gouv FINESS extract say, and of which date is it?

Reads the `etalab-cs1100507-stock-*.csv` format of finess.md: windows-1252, `;`,
standard quoting, a `finess;etalab;<n>;YYYY-MM-DD` first line, `structureet` lines of
32 fields, then `geolocalisation` lines whose source field holds unquoted `;` (so they
cannot go through the same CSV parse and are split apart first).
"""
from __future__ import annotations

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


@dataclass(frozen=True)
class FinessExtract:
    source_file: str
    sha256: str
    extract_date: dt.date
    establishments: pl.DataFrame  # one row per structureet line, every field as text
    geolocation_text: str = ""  # the lines after the structureet block, split only when asked

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


def peek_finess_extract(path: Path) -> FinessExtractHeader:
    """Date and checksum of an extract from its first line and its bytes, without parsing
    it: a run can skip the extracts its warehouse already holds."""
    raw = _raw(path)
    first_line = raw[:200].split(b"\n", 1)[0].decode("cp1252", errors="replace").rstrip("\r")
    return FinessExtractHeader(str(path), hashlib.sha256(raw).hexdigest(), _extract_date(path, first_line), raw)


def read_finess_extract(path: Path, header: FinessExtractHeader | None = None) -> FinessExtract:
    """Parse one extract (from the bytes of `header` when it was peeked at already); raise
    CampaignError (French) if it is not one."""
    raw = header.raw if header is not None and header.raw else _raw(path)
    text = raw.decode("cp1252", errors="replace")
    first_end = text.find("\n")
    extract_date = _extract_date(path, (text if first_end < 0 else text[:first_end]).rstrip("\r"))
    # data.gouv writes every structureet line, then every geolocalisation line: the first
    # block is parsed by Polars in one go. Anything else (interleaved lines, other
    # sections) takes the line-by-line path, which gives the same result.
    body = "" if first_end < 0 else text[first_end + 1:]
    geo_at = body.find("\ngeolocalisation;")
    structure_block = body if geo_at < 0 else body[:geo_at + 1]
    rest = "" if geo_at < 0 else body[geo_at + 1:]
    n_structure = body.count("\nstructureet;") + body.startswith("structureet;")
    n_block = structure_block.count("\nstructureet;") + structure_block.startswith("structureet;")
    n_lines = structure_block.count("\n") + (not structure_block.endswith("\n"))
    clean = n_structure == n_block == n_lines and "\r" not in structure_block
    if not clean:  # the general path: keep only the structureet lines
        structure_block = "\n".join(line for line in body.splitlines() if line.startswith("structureet;"))
        rest = body
    if not structure_block.strip():
        raise CampaignError(f"Référentiel FINESS vide : {path} ne contient aucune ligne structureet.")
    try:
        establishments = pl.read_csv(
            structure_block.encode("utf-8"),
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
