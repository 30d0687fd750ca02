"""What does a data.gouv FINESS extract say, and of which date is it?

Reads the `etalab-cs1100507-stock-*.csv` format of finess.md: windows-1252, `;`,
standard quoting, a `finess;etalab;<n>;YYYY-MM-DD` first line, `structureet` lines of
32 fields, then `geolocalisation` lines whose source field holds unquoted `;` (so they
cannot go through the same CSV parse and are split apart first).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
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
class FinessExtract:
    source_file: str
    sha256: str
    extract_date: dt.date
    establishments: pl.DataFrame  # one row per structureet line, every field as text
    geolocations: pl.DataFrame  # nofinesset, x, y, source, datemaj


def read_finess_extract(path: Path) -> FinessExtract:
    """Parse one extract; raise CampaignError (French) if it is not one."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CampaignError(f"Référentiel FINESS illisible : {path} ({exc.strerror}).") from exc
    text = raw.decode("cp1252", errors="replace")
    lines = text.splitlines()
    header = _HEADER_RE.match(lines[0]) if lines else None
    if header is None:
        raise CampaignError(
            f"Référentiel FINESS invalide : {path}, ligne 1 : attendu "
            f"« finess;etalab;<n>;AAAA-MM-JJ », reçu « {(lines[0] if lines else '')[:60]} »."
        )
    extract_date = dt.date.fromisoformat(header.group(1))
    structure_lines = [line for line in lines[1:] if line.startswith("structureet;")]
    if not structure_lines:
        raise CampaignError(f"Référentiel FINESS vide : {path} ne contient aucune ligne structureet.")
    establishments = pl.read_csv(
        io.StringIO("\n".join(structure_lines)),
        has_header=False,
        separator=";",
        quote_char='"',
        new_columns=STRUCTUREET_FIELDS,
        schema_overrides={name: pl.String for name in STRUCTUREET_FIELDS},
        infer_schema=False,
        truncate_ragged_lines=False,
    )
    return FinessExtract(
        source_file=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        extract_date=extract_date,
        establishments=establishments,
        geolocations=_parse_geolocations(lines),
    )


def _parse_geolocations(lines: list[str]) -> pl.DataFrame:
    rows = []
    for line in lines:
        if line.startswith("geolocalisation;"):
            parts = line.split(";")
            rows.append((parts[1], parts[2], parts[3], ";".join(parts[4:-1]), parts[-1]))
    return pl.DataFrame(
        rows, schema=["nofinesset", "x", "y", "source", "datemaj"], orient="row"
    ) if rows else pl.DataFrame(schema={k: pl.String for k in ["nofinesset", "x", "y", "source", "datemaj"]})
