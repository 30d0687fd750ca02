"""Who reported on time, who is late, invalid, missing or covered, and which submissions
match no expected centre? (campaign-rules.md)

The deadline rule (date limite, extensions, days late) is transforms/campaign_calendar.py's.
"""
from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.campaign_calendar import campaign_deadlines, days_after_deadline
from transforms.referential import open_during, open_during_reason

STATUSES = ("on_time", "late", "invalid", "missing", "covered", "unexpected")
UNEXPECTED_REASONS = {
    "unknown_finess": "FINESS inconnu du référentiel (ni ET, ni EJ, ni raison sociale reconnue)",
    "review": "rapprochement ambigu : à arbitrer par un analyste",
    "decided_none": "rattaché à aucun centre par décision d'un analyste (observatoire decision --aucun)",
    "closed": "centre fermé avant l'exercice ou ouvert après",
    "not_centre_de_sante": "l'établissement n'est pas un centre de santé",
    "other_region": "centre d'une autre région que celles de la campagne",
}


def order_versions(submissions: pl.DataFrame) -> pl.DataFrame:
    """Add `version_rank`, `is_first_valid`, `is_current` (latest valid version) per
    resolved centre. `submissions`: submission_key, finess_et, is_valid, date_transmission."""
    ordered = submissions.sort(["finess_et", "date_transmission", "submission_key"], nulls_last=True)
    by_centre = pl.col("finess_et").is_not_null()
    valid_rank = pl.when(pl.col("is_valid")).then(pl.int_range(pl.len()).over("finess_et", "is_valid"))
    valid_count = pl.col("is_valid").sum().over("finess_et")
    return ordered.with_columns(
        pl.int_range(1, pl.len() + 1).over("finess_et").alias("version_rank"),
        (by_centre & pl.col("is_valid") & (valid_rank == 0)).fill_null(False).alias("is_first_valid"),
        # an unmatched submission is no centre's data: never current
        (by_centre & pl.col("is_valid") & (valid_rank == valid_count - 1)).fill_null(False).alias("is_current"),
    )


def centre_statuses(
    expected: pl.DataFrame, versions: pl.DataFrame, history: pl.DataFrame, calendar: pl.DataFrame,
    year: int, regions: list[str],
) -> pl.DataFrame:
    """One row per expected centre, plus one per unexpected submission.

    `expected`: transforms.referential.expected_centres. `versions`: the submissions as
    `order_versions` returns them, with submission_key,
    source_file, source_row, finess_et (resolved or null), reconciliation_method,
    is_valid, date_transmission (Paris), antennes (list of FINESS), region_code
    (`attribute_region`), declared_name, declared_departement, finess_ej. `history`:
    every ET ever seen, for the reasons of unexpected submissions."""
    deadline, extensions = campaign_deadlines(calendar, year)
    expected_ids = expected.select("finess_et")
    of_expected = versions.join(expected_ids, on="finess_et", how="semi")

    per_centre = of_expected.group_by("finess_et").agg(
        pl.len().alias("submissions_received"),
        pl.col("date_transmission").filter(pl.col("is_first_valid")).first().alias("first_valid_at"),
        pl.col("reconciliation_method").filter(pl.col("is_current")).first().alias("current_method"),
        pl.col("reconciliation_method").first().alias("first_method"),
        pl.col("submission_key").filter(pl.col("is_current")).first().alias("current_submission_key"),
    )
    covered = (
        versions.filter(pl.col("is_current") & pl.col("finess_et").is_in(expected_ids["finess_et"].implode()))
        .select(pl.col("finess_et").alias("principal"), pl.col("antennes"))
        .explode("antennes")
        .select(pl.col("antennes").alias("finess_et"), "principal")
        .drop_nulls()
        .unique("finess_et", keep="first")
    )
    first_valid_day = pl.col("first_valid_at").dt.convert_time_zone("Europe/Paris").dt.date()
    rows = (
        expected.join(per_centre, on="finess_et", how="left")
        .join(extensions, on="finess_et", how="left")
        .join(covered, on="finess_et", how="left")
        .with_columns(
            pl.col("deadline").fill_null(pl.lit(deadline)).alias("deadline"),
            pl.col("submissions_received").fill_null(0),
        )
        .with_columns(days_after_deadline(first_valid_day, pl.col("deadline")).alias("delay"))
        .with_columns(
            pl.when(pl.col("first_valid_at").is_not_null() & (pl.col("delay") <= 0)).then(pl.lit("on_time"))
            .when(pl.col("first_valid_at").is_not_null()).then(pl.lit("late"))
            .when(pl.col("principal").is_not_null()).then(pl.lit("covered"))
            .when(pl.col("submissions_received") > 0).then(pl.lit("invalid"))
            .otherwise(pl.lit("missing")).alias("status"),
        )
        .with_columns(
            pl.when(pl.col("status") == "late").then(pl.col("delay")).alias("days_late"),
            pl.coalesce("current_method", "first_method").alias("reconciliation_method"),
            _status_reason(year).alias("status_reason"),
            pl.lit(None, pl.String).alias("unexpected_reason"),
            pl.lit(None, pl.String).alias("source_file"),
            pl.lit(None, pl.Int64).alias("source_row"),
            pl.col("current_submission_key").alias("submission_key"),
        )
    )
    unexpected = _unexpected(versions.join(expected_ids, on="finess_et", how="anti"), history, year, regions,
                             deadline)
    return pl.concat([rows.select(STATUS_COLUMNS), unexpected.select(STATUS_COLUMNS)], how="vertical_relaxed")


STATUS_COLUMNS = [
    "region_code", "departement", "finess_et", "finess_ej", "raison_sociale", "status", "status_reason",
    "unexpected_reason", "deadline", "first_valid_at", "days_late", "submissions_received",
    "reconciliation_method", "source_file", "source_row", "submission_key", "telephone",
]


def _status_reason(year: int) -> pl.Expr:
    expected = pl.format("centre de santé (catégorie {}) de la région {}, ouvert en {} {}",
                         pl.col("categetab"), pl.col("region_code"), pl.lit(year), open_during_reason(year))
    deadline = pl.col("deadline").dt.strftime("%d/%m/%Y")
    first = pl.col("first_valid_at").dt.strftime("%d/%m/%Y %H:%M")
    return (
        pl.when(pl.col("status") == "on_time").then(pl.format("{} ; transmis le {}, date limite {}", expected, first, deadline))
        .when(pl.col("status") == "late").then(pl.format("{} ; transmis le {}, {} jour(s) après la date limite {}",
                                                         expected, first, pl.col("delay"), deadline))
        .when(pl.col("status") == "covered").then(pl.format("{} ; antenne déclarée par le centre principal {}",
                                                            expected, pl.col("principal")))
        .when(pl.col("status") == "invalid").then(pl.format("{} ; {} envoi(s) reçu(s), aucun valide", expected,
                                                            pl.col("submissions_received")))
        .otherwise(pl.format("{} ; aucun envoi reçu", expected))
    )


def _unexpected(versions: pl.DataFrame, history: pl.DataFrame, year: int, regions: list[str],
                deadline: dt.date) -> pl.DataFrame:
    known = history.select(
        "finess_et", pl.col("finess_ej").alias("referential_ej"), "telephone",
        pl.col("raison_sociale").alias("referential_name"),
        pl.col("departement").alias("referential_departement"), "is_centre_de_sante", "dateouv", "datefermeture",
        "last_seen",
    )
    open_in_year = open_during(year)
    reason = (
        pl.when(pl.col("reconciliation_method") == "review").then(pl.lit("review"))
        .when((pl.col("reconciliation_method") == "decision") & pl.col("finess_et").is_null())
        .then(pl.lit("decided_none"))
        .when(pl.col("finess_et").is_null() | pl.col("is_centre_de_sante").is_null()).then(pl.lit("unknown_finess"))
        .when(~pl.col("is_centre_de_sante")).then(pl.lit("not_centre_de_sante"))
        .when(~open_in_year).then(pl.lit("closed"))
        .otherwise(pl.lit("other_region"))
    )
    return (
        versions.join(known, on="finess_et", how="left")
        .with_columns(reason.alias("unexpected_reason"))
        .with_columns(
            pl.lit("unexpected").alias("status"),
            pl.col("unexpected_reason").replace_strict(UNEXPECTED_REASONS, return_dtype=pl.String)
            .alias("status_reason"),
            pl.coalesce("referential_name", "declared_name").alias("raison_sociale"),
            pl.coalesce("referential_ej", "finess_ej").alias("finess_ej"),
            pl.coalesce("referential_departement", "declared_departement").alias("departement"),
            pl.lit(deadline).alias("deadline"),
            pl.when(pl.col("is_valid")).then(pl.col("date_transmission")).alias("first_valid_at"),
            pl.lit(None, pl.Int64).alias("days_late"),
            pl.lit(1, pl.UInt32).alias("submissions_received"),
        )
    )


def attribute_region(et_region: pl.Expr, declared_region: pl.Expr) -> pl.Expr:
    """The region a submission belongs to (campaign-rules.md): its centre's region when it
    was resolved to one, else the region of its declared commune, else none."""
    return pl.coalesce(et_region, declared_region)
