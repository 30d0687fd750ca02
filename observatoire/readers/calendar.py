"""Which date limite applies this campaign, and which centres have an extension?

The ARS edits `calendrier.csv` (interfaces.md): `annee;finess_et;date_limite`, `;`,
UTF-8 or windows-1252, dates `dd/mm/yyyy` or ISO.
"""
from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from observatoire.errors import CampaignError
from transforms.finess_key import valid_finess_expr
from transforms.finess_key import repair_finess

CALENDAR_SCHEMA = {"annee": pl.Int64, "finess_et": pl.String, "date_limite": pl.Date}


def empty_calendar() -> pl.DataFrame:
    return pl.DataFrame(schema=CALENDAR_SCHEMA)


def read_calendar(path: Path | None) -> pl.DataFrame:
    if path is None:
        return empty_calendar()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CampaignError(f"Calendrier illisible : {path} ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    try:
        frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False)
    except pl.exceptions.PolarsError as exc:  # empty file, ragged lines, stray quote
        raise CampaignError(
            f"Calendrier invalide : {path} : fichier vide ou lignes de longueurs inégales "
            "(attendu annee;finess_et;date_limite sur chaque ligne)."
        ) from exc
    frame = frame.rename({name: name.strip().lower() for name in frame.columns})
    if not {"annee", "finess_et", "date_limite"} <= set(frame.columns):
        raise CampaignError(
            f"Calendrier invalide : {path}, en-tête attendu « annee;finess_et;date_limite », "
            f"reçu « {';'.join(frame.columns)} »."
        )
    text_date = pl.col("date_limite").str.strip_chars()
    parsed = frame.with_row_index("line", offset=2).with_columns(
        pl.col("annee").str.strip_chars().cast(pl.Int64, strict=False),
        repair_finess(pl.col("finess_et")).alias("finess_et"),
        pl.coalesce(text_date.str.to_date("%d/%m/%Y", strict=False),
                    text_date.str.to_date("%Y-%m-%d", strict=False)).alias("date_limite"),
    )
    bad = parsed.filter(
        pl.col("annee").is_null() | pl.col("date_limite").is_null()
        | (pl.col("finess_et").is_not_null() & ~valid_finess_expr("finess_et"))
    )
    if not bad.is_empty():
        line = bad["line"][0]
        raise CampaignError(
            f"Calendrier invalide : {path}, ligne {line} : attendu une année, un FINESS ET valide ou vide, "
            "et une date limite jj/mm/aaaa."
        )
    return parsed.select(list(CALENDAR_SCHEMA)).cast(CALENDAR_SCHEMA)
