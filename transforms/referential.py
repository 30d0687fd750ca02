"""Which establishments of the FINESS referential are centres de santé, in which region,
and which of them were open during a given exercise year?

Input frames come from `observatoire.readers.finess_extract` (every field as text);
snapshots are the dated extracts loaded so far, which is the only way to know closures
(an ET that disappears from the extracts closed between the last snapshot holding it and
the first one without it).
"""
from __future__ import annotations

import datetime as dt

import polars as pl

CENTRE_DE_SANTE_CATEGORIES = ("124", "125", "130", "289")

# FINESS codes overseas départements with a letter; 9E (Saint-Pierre-et-Miquelon) and
# 9J (Wallis-et-Futuna) have no ARS region (finess.md).
FINESS_TO_COG_DEPARTEMENT = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
_INSEE_PREFIX_OVERSEAS = {"9A": "97", "9B": "97", "9C": "97", "9D": "97", "9E": "97", "9F": "97", "9J": "98"}

ESTABLISHMENT_COLUMNS = [
    "finess_et", "finess_ej", "raison_sociale", "raison_sociale_longue", "departement",
    "cog_departement", "region_code", "commune_insee", "code_postal", "commune_libelle",
    "telephone", "categetab", "libcategetab", "is_centre_de_sante", "dateouv",
]


def normalise_establishments(raw: pl.DataFrame, departement_regions: pl.DataFrame) -> pl.DataFrame:
    """Rename and derive: COG département and region, INSEE commune, postal code, CDS flag."""
    regions = departement_regions.select(
        pl.col("code_departement").alias("cog_departement"), pl.col("code_region").alias("region_code")
    )
    departement = pl.col("departement").str.strip_chars().str.to_uppercase()
    acheminement = pl.col("ligneacheminement").fill_null("").str.strip_chars()
    return (
        raw.with_columns(departement.alias("departement"))
        .with_columns(
            pl.col("departement").replace(FINESS_TO_COG_DEPARTEMENT).alias("cog_departement"),
            (
                pl.col("departement").replace_strict(
                    _INSEE_PREFIX_OVERSEAS, default=pl.col("departement"), return_dtype=pl.String
                )
                + pl.col("commune").str.strip_chars().str.zfill(3)
            ).alias("commune_insee"),
            acheminement.str.extract(r"^(\d{5})").alias("code_postal"),
            acheminement.str.replace(r"^\d{5}\s*", "").alias("commune_libelle"),
            pl.col("categetab").is_in(CENTRE_DE_SANTE_CATEGORIES).alias("is_centre_de_sante"),
            pl.col("dateouv").str.to_date("%Y-%m-%d", strict=False).alias("dateouv"),
        )
        .join(regions, on="cog_departement", how="left")
        .rename({
            "nofinesset": "finess_et", "nofinessej": "finess_ej",
            "rs": "raison_sociale", "rslongue": "raison_sociale_longue",
        })
        .select(ESTABLISHMENT_COLUMNS)
    )


def establishment_history(snapshots: list[tuple[dt.date, pl.DataFrame]]) -> pl.DataFrame:
    """One row per ET ever seen: its attributes from the latest snapshot holding it, and
    `first_seen`, `last_seen`, `closed_before` (date of the first later snapshot without it)."""
    if not snapshots:
        raise ValueError("at least one snapshot is needed")
    stacked = pl.concat(
        [frame.with_columns(pl.lit(date).alias("snapshot_date")) for date, frame in snapshots],
        how="vertical_relaxed",
    )
    dates = sorted({date for date, _ in snapshots})
    latest = stacked.sort("snapshot_date").unique("finess_et", keep="last")
    seen = stacked.group_by("finess_et").agg(
        pl.col("snapshot_date").min().alias("first_seen"),
        pl.col("snapshot_date").max().alias("last_seen"),
    )
    following = pl.DataFrame({"last_seen": dates[:-1], "closed_before": dates[1:]}, schema={
        "last_seen": pl.Date, "closed_before": pl.Date,
    })
    return (
        latest.drop("snapshot_date")
        .join(seen, on="finess_et")
        .join(following, on="last_seen", how="left")
        .sort("finess_et")
    )


def expected_centres(history: pl.DataFrame, year: int, regions: list[str]) -> pl.DataFrame:
    """Centres de santé of `regions` open during exercise `year` (campaign-rules.md):
    CDS category, opened on or before 31 December, present in a snapshot dated on or after
    1 January of the year."""
    return history.filter(
        pl.col("is_centre_de_sante"),
        pl.col("region_code").is_in(regions),
        pl.col("dateouv").is_null() | (pl.col("dateouv") <= dt.date(year, 12, 31)),
        pl.col("last_seen") >= dt.date(year, 1, 1),
    )


def referential_regions(history: pl.DataFrame) -> list[str]:
    """Regions that hold at least one centre de santé in the referential."""
    return sorted(
        history.filter(pl.col("is_centre_de_sante") & pl.col("region_code").is_not_null())
        .get_column("region_code").unique().to_list()
    )
