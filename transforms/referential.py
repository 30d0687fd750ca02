"""Which establishments of the FINESS referential are centres de santé, in which region,
and which of them were open during a given exercise year?

Input frames come from `observatoire.readers.finess_extract` or
`observatoire.readers.finess_plus` (every field as text, the same columns); snapshots are
the dated files loaded so far. An extract lists open ETs only: an ET that disappears closed
between the last snapshot holding it and the first one without it. A FINESS+ file also lists
closed ETs with their closing date (`datefermeture`), which then says exactly when.
"""
from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.geography import commune_departement

CENTRE_DE_SANTE_CATEGORIES = ("124", "125", "130", "289")
# their labels (finess.md), which a FINESS+ file does not carry
CENTRE_DE_SANTE_LABELS = {"124": "Centre de Santé", "125": "Centre de Santé Dentaire",
                          "130": "Centre de Soins Médicaux", "289": "Centre de Soins Infirmiers"}

# FINESS codes overseas départements with a letter; 9E (Saint-Pierre-et-Miquelon) and
# 9J (Wallis-et-Futuna) have no ARS region (finess.md).
FINESS_TO_COG_DEPARTEMENT = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
# INSEE overseas départements (first three characters of a commune code) as FINESS codes
# them: Saint-Barthélemy (977) and Saint-Martin (978) were Guadeloupe communes and FINESS
# still files them under 9A (the 2026 extract: "97133 ST BARTHELEMY", département 9A).
INSEE_TO_FINESS_DEPARTEMENT = {"971": "9A", "972": "9B", "973": "9C", "974": "9D", "975": "9E", "976": "9F",
                               "977": "9A", "978": "9A", "986": "9J"}
_INSEE_PREFIX_OVERSEAS = {"9A": "97", "9B": "97", "9C": "97", "9D": "97", "9E": "97", "9F": "97", "9J": "98"}

ESTABLISHMENT_COLUMNS = [
    "finess_et", "finess_ej", "raison_sociale", "raison_sociale_longue", "departement",
    "cog_departement", "region_code", "commune_insee", "code_postal", "commune_libelle",
    "telephone", "categetab", "libcategetab", "is_centre_de_sante", "dateouv", "datefermeture",
]


def departement_of_cog_commune(cog_commune: pl.Expr) -> pl.Expr:
    """The FINESS département of a 5-character INSEE commune code (FINESS+ `cogCommune`):
    its COG département (`transforms.geography`), written as FINESS writes it overseas
    (9A…9J, as in the extract); null for anything that is not a commune code."""
    code = cog_commune.str.strip_chars().str.to_uppercase()
    cog = commune_departement(code)
    return (
        pl.when(~code.str.contains(r"^(?:\d{2}|2[AB])\d{3}$")).then(None)
        .when(cog.str.len_chars() == 3)
        .then(cog.replace_strict(INSEE_TO_FINESS_DEPARTEMENT, default=None, return_dtype=pl.String))
        .otherwise(cog)
    )


def normalise_establishments(raw: pl.DataFrame, departement_regions: pl.DataFrame) -> pl.DataFrame:
    """Rename and derive: COG département and region, INSEE commune, postal code, CDS flag."""
    regions = departement_regions.select(
        pl.col("code_departement").alias("cog_departement"), pl.col("code_region").alias("region_code")
    )
    departement = pl.col("departement").str.strip_chars().str.to_uppercase()
    acheminement = pl.col("ligneacheminement").fill_null("").str.strip_chars()
    if "datefermeture" not in raw.columns:  # an extract: open ETs only, no closing date
        raw = raw.with_columns(pl.lit(None, pl.String).alias("datefermeture"))
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
            pl.col("datefermeture").str.to_date("%Y-%m-%d", strict=False).alias("datefermeture"),
        )
        .join(regions, on="cog_departement", how="left")
        .rename({
            "nofinesset": "finess_et", "nofinessej": "finess_ej",
            "rs": "raison_sociale", "rslongue": "raison_sociale_longue",
        })
        .select(ESTABLISHMENT_COLUMNS)
    )


ATTRIBUTE_COLUMNS = [c for c in ESTABLISHMENT_COLUMNS if c != "finess_et"]


def snapshot_versions(snapshots: list[tuple[dt.date, pl.DataFrame]]) -> pl.DataFrame:
    """The referential as periods of unchanged attributes (SCD type 2): one row per ET and
    period, `valid_from` = first snapshot of the period, `valid_to` = first later snapshot
    where the ET is absent or changed (null while it is current). Loading the same
    snapshot twice, or snapshots in any order, gives the same periods."""
    if not snapshots:
        raise ValueError("at least one snapshot is needed")
    by_date = {date: frame for date, frame in snapshots}  # the same date twice: one snapshot
    dates = sorted(by_date)
    if len(dates) == 1:  # one snapshot (a first load): one current period per ET
        return _single_snapshot_versions(dates[0], by_date[dates[0]])
    return _versions_of_snapshots(by_date, dates)


def _versions_of_snapshots(by_date: dict[dt.date, pl.DataFrame], dates: list[dt.date]) -> pl.DataFrame:
    """`snapshot_versions` by the general machinery, for any number of snapshots."""
    memberships = pl.concat(
        [by_date[date].select(ESTABLISHMENT_COLUMNS).with_columns(pl.lit(index, pl.Int32).alias("snapshot_index"))
         for index, date in enumerate(dates)],
        how="vertical_relaxed",
    ).unique(["finess_et", "snapshot_index"], keep="first")
    digest = pl.struct(ATTRIBUTE_COLUMNS).hash(seed=0)
    ordered = memberships.with_columns(digest.alias("digest")).sort("finess_et", "snapshot_index")
    # rows are sorted by ET then snapshot: a new period starts at a new ET, after a gap, or
    # when an attribute changed (plain shifts: no per-ET window over 100,000 groups)
    starts = (
        (pl.col("finess_et").shift(1) != pl.col("finess_et"))
        | (pl.col("snapshot_index").shift(1) != pl.col("snapshot_index") - 1)
        | (pl.col("digest").shift(1) != pl.col("digest"))
    ).fill_null(True)
    date_of = pl.DataFrame({"index": list(range(len(dates) + 1)), "date": [*dates, None]},
                           schema={"index": pl.Int32, "date": pl.Date})
    return (
        ordered.with_columns(starts.cum_sum().alias("version"))
        .group_by("finess_et", "version")
        .agg(pl.col(ATTRIBUTE_COLUMNS).first(), pl.col("snapshot_index").min().alias("first_index"),
             pl.col("snapshot_index").max().alias("last_index"))
        .join(date_of.rename({"index": "first_index", "date": "valid_from"}), on="first_index")
        .with_columns((pl.col("last_index") + 1).alias("next_index"))
        .join(date_of.rename({"index": "next_index", "date": "valid_to"}), on="next_index", how="left")
        .select("finess_et", "valid_from", "valid_to", *ATTRIBUTE_COLUMNS)
        .sort("finess_et", "valid_from")
    )


def _single_snapshot_versions(date: dt.date, frame: pl.DataFrame) -> pl.DataFrame:
    """`snapshot_versions` of a single snapshot without its general machinery: every ET
    (its first line when listed twice) opens a period at `date` that is still current."""
    et = pl.col("finess_et")
    return (
        frame.select(ESTABLISHMENT_COLUMNS)
        .sort("finess_et", maintain_order=True)  # stable: an ET's first line comes first
        .filter(et.ne_missing(et.shift(1)) | (pl.int_range(pl.len()) == 0))
        .select("finess_et", pl.lit(date, pl.Date).alias("valid_from"), pl.lit(None, pl.Date).alias("valid_to"),
                *ATTRIBUTE_COLUMNS)
    )


def snapshot_members(versions: pl.DataFrame, dates: list[dt.date]) -> list[tuple[dt.date, pl.DataFrame]]:
    """The snapshots that `versions` were built from (inverse of `snapshot_versions`)."""
    return [
        (date, versions.filter((pl.col("valid_from") <= date) & (pl.col("valid_to").is_null()
                                                                 | (pl.col("valid_to") > date)))
         .select(ESTABLISHMENT_COLUMNS))
        for date in sorted(dates)
    ]


def history_from_versions(versions: pl.DataFrame, dates: list[dt.date]) -> pl.DataFrame:
    """One row per ET ever seen: attributes of its latest period, `first_seen`, `last_seen`
    (last snapshot holding it) and `closed_before` (first later snapshot without it)."""
    dates = sorted(dates)
    previous = pl.DataFrame({"valid_to": dates[1:], "last_seen_if_closed": dates[:-1]},
                            schema={"valid_to": pl.Date, "last_seen_if_closed": pl.Date})
    return (
        _latest_versions(versions).join(previous, on="valid_to", how="left")
        .with_columns(
            pl.coalesce("last_seen_if_closed", pl.lit(dates[-1])).alias("last_seen"),
            pl.col("valid_to").alias("closed_before"),
        )
        .select(*ESTABLISHMENT_COLUMNS, "first_seen", "last_seen", "closed_before")
        .sort("finess_et")
    )


def _latest_versions(versions: pl.DataFrame) -> pl.DataFrame:
    """Each ET's latest period, with `first_seen`, the start of its first one."""
    if versions.get_column("valid_from").null_count():  # never from the warehouse or `snapshot_versions`
        return versions.sort("valid_from").group_by("finess_et").agg(pl.all().last(), pl.col("valid_from").min()
                                                                     .alias("first_seen"))
    # sorted by ET then period (as stored): an ET's last line, with the start of its first one
    et, row = pl.col("finess_et"), pl.int_range(pl.len())
    return (
        versions.sort("finess_et", "valid_from")
        .with_columns(pl.when(et.ne_missing(et.shift(1)) | (row == 0)).then(pl.col("valid_from"))
                      .forward_fill().alias("first_seen"))
        .filter(et.ne_missing(et.shift(-1)) | (row == pl.len() - 1))
    )


def establishment_history(snapshots: list[tuple[dt.date, pl.DataFrame]]) -> pl.DataFrame:
    """History straight from in-memory snapshots (see `history_from_versions`)."""
    return history_from_versions(snapshot_versions(snapshots), [date for date, _ in snapshots])


def open_during(year: int) -> pl.Expr:
    """An ET open during exercise `year` (campaign-rules.md): opened on or before
    31 December, and not closed before 1 January of the year. Closed is known from the
    closing date when the source gives one (FINESS+), from the snapshots otherwise: present
    in a snapshot dated on or after 1 January."""
    return (pl.col("dateouv").is_null() | (pl.col("dateouv") <= dt.date(year, 12, 31))) & ~closed_before(year)


def closed_before(year: int) -> pl.Expr:
    """An ET closed before 1 January of `year`: by its closing date when the source gives
    one (FINESS+), else by the snapshots (no snapshot dated on or after 1 January holds it)."""
    return (
        pl.when(pl.col("datefermeture").is_not_null()).then(pl.col("datefermeture") < dt.date(year, 1, 1))
        .otherwise(pl.col("last_seen") < dt.date(year, 1, 1))
    )


def open_during_reason(year: int) -> pl.Expr:
    """Which rule of `open_during` said the ET was open (or not) during `year`, in French."""
    return (
        pl.when(pl.col("datefermeture").is_not_null())
        .then(pl.format("d'après sa date de fermeture FINESS ({})", pl.col("datefermeture").dt.strftime("%d/%m/%Y")))
        .otherwise(pl.format("d'après les instantanés FINESS (dernier le contenant : {})",
                             pl.col("last_seen").dt.strftime("%d/%m/%Y")))
    )


def expected_centres(history: pl.DataFrame, year: int, regions: list[str]) -> pl.DataFrame:
    """Centres de santé of `regions` open during exercise `year`."""
    return history.filter(pl.col("is_centre_de_sante"), pl.col("region_code").is_in(regions), open_during(year))


def referential_regions(history: pl.DataFrame) -> list[str]:
    """Regions that hold at least one centre de santé in the referential."""
    return sorted(
        history.filter(pl.col("is_centre_de_sante") & pl.col("region_code").is_not_null())
        .get_column("region_code").unique().to_list()
    )
