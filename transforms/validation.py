"""Which submissions break a rule of the template, where exactly, and how badly?

Runs the Pandera models of `schemas.submission` on typed submissions and turns each
failure case into an issue naming the sheet, the cell, the template label, the value as
received and what was expected, in French a centre can act on.
"""
from __future__ import annotations

import datetime as dt
import re

import pandera.polars as pa
import polars as pl

from schemas.fields import FIELDS, SHEET_PERSONNEL
from schemas.registry import PersonnelLabels, Template
from schemas.submission import ANTENNE_MODELS, PERSONNEL_MODELS, SUBMISSION_MODELS
from transforms.campaign_calendar import campaign_opens_at
from transforms.submissions import empty_issues, issue_frame, numbered_submissions, split_antennes, submission_pair

_FIELD_PATTERN_EXPECTATIONS = {
    "commune_insee": "un code commune INSEE de 5 caractères (ex. 69123 ou 2A004)",
    "code_postal": "un code postal de 5 chiffres",
    "contact_courriel": "une adresse électronique valide (nom@domaine.fr)",
}


# our dataframe-level checks name their field as `field|message`; built-in checks such as
# str_matches('^(?:[0-9]{5}|2[AB]...)') may contain a pipe too, but never start with a name
_OWN_CHECK = re.compile(r"^[a-z_]+\|")


def _expectation(check: str, field: str) -> str:
    if check == "not_nullable":
        return "valeur obligatoire absente"
    if match := re.fullmatch(r"greater_than_or_equal_to\((.*)\)", check):
        return f"attendu un nombre supérieur ou égal à {match.group(1)}"
    if match := re.fullmatch(r"less_than_or_equal_to\((.*)\)", check):
        return f"attendu un nombre inférieur ou égal à {int(float(match.group(1))):,} (valeur invraisemblable)".replace(
            ",", " ")
    if match := re.fullmatch(r"in_range\((.*), (.*)\)", check):
        return f"attendu une valeur entre {match.group(1)} et {match.group(2)}"
    if check.startswith("isin("):
        allowed = ", ".join(re.findall(r"'([^']*)'", check))
        return f"attendu une des valeurs : {allowed}"
    if check.startswith("str_matches("):
        return "attendu " + _FIELD_PATTERN_EXPECTATIONS.get(field, "une valeur au format du modèle")
    if check.startswith("str_length("):
        return "valeur vide : une valeur est attendue"
    return check


_FAILURE_SCHEMA = {"row_index": pl.Int64, "field": pl.String, "severity": pl.String, "message": pl.String}


def run_models(frame: pl.DataFrame, models) -> pl.DataFrame:
    """(row index, field, severity, message) for every failure of `models` on `frame`."""
    found = []
    for severity, model in models:
        try:
            model.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases.filter(pl.col("index").is_not_null()).select("column", "check", "index")
            found.append(_described(cases, severity))
    return pl.concat(found) if found else pl.DataFrame(schema=_FAILURE_SCHEMA)


def _described(cases: pl.DataFrame, severity: str) -> pl.DataFrame:
    """Failure cases as (row index, field, severity, message), in their order: the field and
    message of each distinct (column, check) are worked out once, not once per failing row."""
    pairs = cases.select("column", "check").unique(maintain_order=True)
    rows = []
    for column, check in pairs.iter_rows():
        if _OWN_CHECK.match(check):
            field, message = check.split("|", 1)
        else:
            field, message = column, _expectation(check, column)
        rows.append((column, check, field, message))
    meaning = pl.DataFrame(rows, schema={"column": cases.schema["column"], "check": cases.schema["check"],
                                         "field": pl.String, "message": pl.String}, orient="row")
    return cases.join(meaning, on=["column", "check"], how="left", nulls_equal=True, maintain_order="left").select(
        pl.col("index").cast(pl.Int64).alias("row_index"), "field", pl.lit(severity, pl.String).alias("severity"),
        "message",
    )


def with_campaign_context(typed: pl.DataFrame, year: int, run_at: dt.datetime) -> pl.DataFrame:
    return typed.with_columns(
        pl.lit(year).alias("campaign_year"),
        pl.lit(campaign_opens_at(year)).dt.convert_time_zone("Europe/Paris").alias("campaign_opens_at"),
        pl.lit(run_at).dt.convert_time_zone("Europe/Paris").alias("run_at"),
    )


def validate_submissions(
    typed: pl.DataFrame, mapped: pl.DataFrame, cast_issues: pl.DataFrame, template: Template,
    year: int, run_at: dt.datetime,
) -> pl.DataFrame:
    """Issues of every section rule, located in the file thanks to `mapped` cells."""
    context = with_campaign_context(typed, year, run_at).with_row_index("row_index")
    failures = run_models(context.drop("row_index"), SUBMISSION_MODELS)
    failed = (
        failures.join(context.select(pl.col("row_index").cast(pl.Int64), "submission_key", "source_file"),
                      on="row_index")
        # a cell that could not be read was reported already; do not report it as missing too
        .join(cast_issues.select("submission_key", "field"), on=["submission_key", "field"], how="anti")
    )
    located = (
        failed.join(_failed_cells(mapped, failed), on=["submission_key", "field"], how="left", maintain_order="left")
        .with_columns(
            pl.col("sheet").fill_null(pl.col("field").replace_strict(
                {name: spec.sheet for name, spec in FIELDS.items()}, default=None, return_dtype=pl.String)),
            pl.col("field").replace_strict(template.labels, default=pl.col("field"), return_dtype=pl.String)
            .alias("label"),
        )
    )
    return pl.concat([
        issue_frame(located.filter(pl.col("severity") == "error"), "error", pl.col("message")),
        issue_frame(located.filter(pl.col("severity") == "warning"), "warning", pl.col("message")),
    ]) if not located.is_empty() else empty_issues()


def _failed_cells(mapped: pl.DataFrame, failed: pl.DataFrame) -> pl.DataFrame:
    """The cells (sheet, location, value) of the (submission, field) pairs of `failed`,
    found by probing the million cells against the few failures (a left join onto all the
    cells hashed all of them: +500 MB at national scale); the cells of the failed
    submissions first, probing one key instead of two (3x less)."""
    wanted = failed.select("submission_key", "field").unique()
    return (
        mapped.lazy().select("submission_key", "field", "sheet", "location", "value")
        .filter(pl.col("submission_key").is_in(wanted.get_column("submission_key").unique().implode()))
        .join(wanted.lazy(), on=["submission_key", "field"], how="semi", maintain_order="left")
        .collect(engine="in-memory")
    )


def antenne_rows(typed: pl.DataFrame) -> pl.DataFrame:
    """One row per FINESS listed in `antennes` (separated by `;`, `,` or new lines)."""
    return (
        typed.select("submission_key", split_antennes(pl.col("antennes")).alias("antenne"))
        .explode("antenne")
        .filter(pl.col("antenne").is_not_null())
    ) if "antennes" in typed.columns else pl.DataFrame(schema={"submission_key": pl.String, "antenne": pl.String})


def validate_antennes(typed: pl.DataFrame, mapped: pl.DataFrame, template: Template) -> pl.DataFrame:
    """A warning for each bad FINESS of the antennes list, naming that FINESS."""
    rows = antenne_rows(typed).with_row_index("row_index")
    if rows.is_empty():
        return empty_issues()
    failures = run_models(rows.drop("row_index"), ANTENNE_MODELS).join(
        rows.select(pl.col("row_index").cast(pl.Int64), "submission_key", "antenne"), on="row_index"
    )
    located = failures.join(
        mapped.filter(pl.col("field") == "antennes").select("submission_key", "source_file", "sheet", "location"),
        on="submission_key", how="left",
    ).with_columns(
        pl.col("antenne").alias("value"),
        pl.col("sheet").fill_null(FIELDS["antennes"].sheet),
        pl.lit(template.labels.get("antennes", "antennes")).alias("label"),
    )
    return issue_frame(located, "warning", pl.col("message"))


def validate_personnel(
    rows: pl.DataFrame, submissions: pl.DataFrame, labels: PersonnelLabels
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-row rules (a failing row is set aside, W), duplicates summed (W), and the
    submission-level rule: at least one health professional with ETP > 0 (E).
    Returns (one row per submission and profession declared: submission_key, profession,
    effectif, etp; issues)."""
    indexed = rows.with_row_index("row_index")
    failures = run_models(indexed.drop("row_index"), PERSONNEL_MODELS).join(
        indexed.select(pl.col("row_index").cast(pl.Int64), "submission_key", "source_file", "location",
                       "effectif_text", "etp_text"),
        on="row_index",
    )
    label_of = {"profession": labels.profession, "effectif": labels.effectif, "etp": labels.etp}
    failures = failures.with_columns(
        pl.col("field").replace_strict(label_of, default=pl.col("field"), return_dtype=pl.String).alias("label"),
        pl.when(pl.col("field") == "etp").then(pl.col("etp_text")).otherwise(pl.col("effectif_text")).alias("value"),
        pl.lit(SHEET_PERSONNEL).alias("sheet"),
    )
    set_aside = failures.filter(pl.col("severity") == "error")
    # a row set aside is reported once, for why it was set aside; its other remarks are moot
    failures = failures.filter(
        (pl.col("severity") == "error") | ~pl.col("row_index").is_in(set_aside["row_index"].implode())
    )
    kept = indexed.join(set_aside.select(pl.col("row_index").cast(pl.UInt32)), on="row_index", how="anti")
    duplicated, summed = _duplicates_and_sums(kept)
    health = summed.filter(pl.col("profession").is_in(labels.in_group("sante")) & (pl.col("etp") > 0))
    without_health = submissions.select("submission_key", "source_file").join(
        health.select("submission_key").unique(), on="submission_key", how="anti"
    )
    issues = pl.concat([
        issue_frame(set_aside, "warning", pl.format("{} : ligne écartée", pl.col("message"))),
        issue_frame(failures.filter(pl.col("severity") == "warning"), "warning", pl.col("message")),
        issue_frame(duplicated.with_columns(pl.lit("profession").alias("field"), pl.col("profession").alias("value"),
                                            pl.lit(labels.profession).alias("label")),
                    "warning", pl.lit("profession déclarée plusieurs fois : les lignes sont additionnées")),
        issue_frame(without_health.with_columns(pl.lit(SHEET_PERSONNEL).alias("sheet"),
                                                pl.lit("personnel").alias("field"), pl.lit(SHEET_PERSONNEL).alias("label")),
                    "error", pl.lit("aucun professionnel de santé avec un ETP supérieur à 0 : au moins un est attendu")),
    ])
    return summed.select("submission_key", "profession", pl.col("effectif").cast(pl.Int64),
                         pl.col("etp").cast(pl.Float64)), issues


def _duplicates_and_sums(kept: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(every row of a profession after its submission's first one, one row per submission
    and profession with `effectif` and `etp` summed). (submission, profession) is one
    number: a window numbering each group's rows cost 30x more."""
    kept = numbered_submissions(kept).with_columns(
        submission_pair(pl.col("profession").rank("dense").fill_null(0)).alias("_pair"))
    summed = kept.group_by("_pair").agg(
        pl.col("submission_key").first(), pl.col("profession").first(), pl.col("effectif").sum(), pl.col("etp").sum()
    ).drop("_pair")
    return kept.filter(~pl.col("_pair").is_first_distinct()), summed
