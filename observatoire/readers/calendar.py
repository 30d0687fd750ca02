"""Which date limite applies this campaign, and which centres have an extension?

The ARS edits `calendrier.csv` (interfaces.md): `annee;finess_et;date_limite`, `;`,
UTF-8 or windows-1252, dates `dd/mm/yyyy` or ISO.
"""
from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from observatoire.errors import CampaignError
from transforms.finess_key import valid_finess_expr
from transforms.finess_key import repair_finess
from transforms.guards import calendar_problem

# `line`: the row's line in the file, for the messages about it
CALENDAR_SCHEMA = {"annee": pl.Int64, "finess_et": pl.String, "date_limite": pl.Date, "line": pl.Int64}


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
    rows = [(number, row) for number, row in enumerate(csv.reader(text.splitlines(), delimiter=";"), start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise CampaignError(f"Calendrier invalide : {path} : fichier vide (attendu l'en-tête annee;finess_et;date_limite).")
    (_, header), body = rows[0], rows[1:]
    for number, row in body:
        if len(row) != len(header):
            raise CampaignError(
                f"Calendrier invalide : {path}, ligne {number} : {len(row)} champ(s) au lieu de {len(header)} "
                "(attendu annee;finess_et;date_limite sur chaque ligne)."
            )
    names = [name.strip().lower() for name in header]
    if len(set(names)) != len(names) or not {"annee", "finess_et", "date_limite"} <= set(names):
        raise CampaignError(
            f"Calendrier invalide : {path}, en-tête attendu « annee;finess_et;date_limite », "
            f"reçu « {';'.join(header)} »."
        )
    frame = pl.DataFrame([[cell if cell.strip() else None for cell in row] for _, row in body],
                         schema={name: pl.String for name in names}, orient="row")
    frame = frame.with_columns(pl.Series("line", [number for number, _ in body], dtype=pl.Int64))
    text_date = pl.col("date_limite").str.strip_chars()
    parsed = frame.with_columns(
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
    calendar = parsed.select(list(CALENDAR_SCHEMA)).cast(CALENDAR_SCHEMA)
    problem = calendar_problem(calendar)
    if problem:
        raise CampaignError(f"Calendrier invalide : {path}, {problem}.")
    return calendar
