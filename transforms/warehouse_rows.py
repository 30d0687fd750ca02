"""Which rows does a campaign put in each warehouse table, under which keys and regions?

`campaign_rows` shapes what a run found (its files, its submissions with their resolution
and region, their issues, the statuses, the personnel, the changes) into the tables of
`sql/migrations` (interfaces.md), column for column, in their order:
- keys are stable, so that a rerun replaces rows rather than adding some: a submission is
  its year, file and row (`stable_id`); an issue, a change, what they say; a status is
  `<year>:<finess_et>`, or `<year>:unexpected:<submission_id>` for a submission that no
  expected centre stands for;
- a file's region is that of its submissions when they all have the same one (those of
  other regions included, so that every run gives the file the same region); a file of
  several regions, or unreadable, has none;
- a run limited to some regions (`scoped`) loads its submissions (`in_scope`), the files
  holding at least one of them, and every unreadable file (which tells no region); a run
  over the whole campaign loads every file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import polars as pl

from schemas.fields import FIELDS
from schemas.registry import PersonnelLabels
from transforms.submissions import unreadable_file_issues

SUBMISSION_COLUMNS = [
    "submission_id", "campaign_year", "region_code", "source_file", "source_row", "source_sha256", "container",
    "template_version", "declared_finess_et", "finess_et", "reconciliation_method", "reconciliation_score",
    "reconciliation_candidates", "date_transmission", "transmission_source", "is_valid", "is_current",
    "version_rank", "n_errors", "n_warnings",
]
# Declared fields kept as columns of `submission` (finess_et and date_transmission are
# among SUBMISSION_COLUMNS, as resolved and as received).
TABLE_FIELDS = frozenset(FIELDS) - {"finess_et", "date_transmission"}
ISSUE_COLUMNS = ["issue_id", "campaign_year", "region_code", "submission_id", "source_file", "sheet", "location",
                 "field", "label", "value", "severity", "message", "run_id"]
FILE_COLUMNS = ["campaign_year", "source_file", "region_code", "source_sha256", "size_bytes", "readable",
                "container", "format", "encoding", "separator", "sheets", "template_version", "submissions",
                "rows_in", "rows_set_aside", "notes", "reason", "run_id"]
STATUS_COLUMNS = ["status_id", "campaign_year", "region_code", "departement", "finess_et", "finess_ej",
                  "raison_sociale", "status", "status_reason", "unexpected_reason", "deadline", "first_valid_at",
                  "days_late", "submissions_received", "reconciliation_method", "submission_id", "source_file",
                  "source_row", "telephone", "run_id", "loaded_at"]
PERSONNEL_COLUMNS = ["submission_id", "campaign_year", "region_code", "profession", "effectif", "etp",
                     "is_health_profession", "is_medecin", "run_id"]
CHANGE_COLUMNS = ["change_id", "campaign_year", "region_code", "finess_et", "kind", "source", "field",
                  "previous_value", "new_value", "message", "submission_id", "run_id"]
REVIEW_COLUMNS = ["campaign_year", "submission_id", "region_code", "declared_key", "declared_finess_et",
                  "raison_sociale", "commune_insee", "candidates", "source_file", "run_id"]


@dataclass(frozen=True)
class CampaignRows:
    """One frame per warehouse table a campaign load writes."""
    statuses: pl.DataFrame  # centre_year_status, sorted by status_id
    submissions: pl.DataFrame  # submission, sorted by submission_id
    issues: pl.DataFrame  # submission_issue
    files: pl.DataFrame  # file_outcome: the files this run loads
    reviews: pl.DataFrame  # reconciliation_review
    personnel: pl.DataFrame  # submission_personnel, sorted by submission_id, profession
    changes: pl.DataFrame | None  # centre_change (None when the run looked for none)


def stable_id(*parts) -> str:
    """20 hex digits of the sha256 of the parts joined by `|` (None as empty): the same
    parts give the same key in every run."""
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:20]


def stored_fields(columns: list[str]) -> list[str]:
    """The declared fields among `columns` (a typed submissions frame's) that `submission`
    keeps as columns, in that order."""
    return [c for c in columns if c in TABLE_FIELDS]


def campaign_rows(
    year: int, run_id: str, loaded_at: dt.datetime, *, files: pl.DataFrame, submissions: pl.DataFrame,
    issues: pl.DataFrame, statuses: pl.DataFrame, personnel: pl.DataFrame, changes: pl.DataFrame | None,
    template_version: str | None, field_columns: list[str], labels: PersonnelLabels, scoped: bool,
) -> CampaignRows:
    """The rows of campaign `year` for the warehouse tables.

    files: one row per received file (`source_file`, `sha256`, `readable`, `reason`,
    `container` and the other file_outcome columns); submissions: one row per submission
    with `submission_key`, `source_file`, `source_row`, `attributed_region`, `in_scope`,
    `region_code`, `candidates` and the other submission columns; issues: ISSUE_SCHEMA;
    statuses: one row per status with `submission_key`; personnel: `submission_key`,
    `profession`, `effectif`, `etp`; changes: `transforms.changes` rows with
    `submission_key`; field_columns: `stored_fields` of the typed frame."""
    files = files.rename({"sha256": "source_sha256"})
    ids = pl.struct("source_file", "source_row").map_elements(
        lambda key: stable_id(year, key["source_file"], key["source_row"]), return_dtype=pl.String
    )
    loaded = pl.lit(loaded_at)
    file_regions = submissions.group_by("source_file").agg(
        pl.col("attributed_region").unique().alias("regions"), pl.col("in_scope").any().alias("in_scope"))
    submissions = submissions.filter(pl.col("in_scope"))
    subs_rows = (
        submissions.join(files.select("source_file", "source_sha256", "container"), on="source_file", how="left")
        .with_columns(
            ids.alias("submission_id"), pl.lit(year).alias("campaign_year"),
            pl.lit(template_version).alias("template_version"),
            pl.col("candidates").alias("reconciliation_candidates"),
            pl.col("version_rank").cast(pl.Int64),
        )
    )
    submission_table = subs_rows.select(*SUBMISSION_COLUMNS, *field_columns).with_columns(
        pl.lit(run_id).alias("run_id"), loaded.alias("loaded_at")
    )
    key_to_id = subs_rows.select("submission_key", "submission_id", "region_code")
    files = files.join(file_regions, on="source_file", how="left").filter(
        ~pl.col("readable") | pl.col("in_scope").fill_null(not scoped))  # the files this run loads
    of_run = pl.col("submission_key").is_in(key_to_id["submission_key"].implode()) | (
        pl.col("submission_key").is_null() & pl.col("source_file").is_in(files["source_file"].implode()))
    issue_table = (
        pl.concat([issues.filter(of_run), unreadable_file_issues(files)])
        .join(key_to_id, on="submission_key", how="left")
        .with_columns(
            pl.struct("source_file", "submission_key", "sheet", "location", "field", "message")
            .map_elements(lambda r: stable_id(year, *r.values()), return_dtype=pl.String).alias("issue_id"),
            pl.lit(year).alias("campaign_year"), pl.lit(run_id).alias("run_id"),
        )
        .unique("issue_id", keep="first", maintain_order=True)
        .select(ISSUE_COLUMNS)
    )
    file_table = (
        files.with_columns(
            pl.when(pl.col("regions").list.len() == 1).then(pl.col("regions").list.first())
            .alias("region_code"),
            pl.col("rows_set_aside").fill_null(0).cast(pl.Int64),
            pl.lit(year).alias("campaign_year"), pl.lit(run_id).alias("run_id"),
        )
        .select(FILE_COLUMNS)
    )
    status_table = (
        statuses.join(key_to_id.select("submission_key", "submission_id"), on="submission_key", how="left")
        .with_columns(
            pl.when(pl.col("status") == "unexpected")
            .then(pl.format("{}:unexpected:{}", pl.lit(year), pl.col("submission_id")))
            .otherwise(pl.format("{}:{}", pl.lit(year), pl.col("finess_et"))).alias("status_id"),
            pl.lit(year).alias("campaign_year"), pl.col("submissions_received").cast(pl.Int64),
            pl.lit(run_id).alias("run_id"), loaded.alias("loaded_at"),
        )
        .select(STATUS_COLUMNS)
        .sort("status_id")
    )
    reviews = subs_rows.filter(pl.col("reconciliation_method") == "review").with_columns(
        pl.lit(run_id).alias("run_id")).select(REVIEW_COLUMNS)
    return CampaignRows(
        statuses=status_table, submissions=submission_table.sort("submission_id"), issues=issue_table,
        files=file_table, reviews=reviews, personnel=personnel_rows(personnel, key_to_id, year, run_id, labels),
        changes=None if changes is None else change_rows(year, changes, key_to_id, run_id),
    )


def personnel_rows(personnel: pl.DataFrame, key_to_id: pl.DataFrame, year: int, run_id: str,
                   labels: PersonnelLabels) -> pl.DataFrame:
    """`submission_personnel` rows: one per submission and profession, with the groups of
    the registry each profession belongs to (so that the views count them by group).
    `key_to_id`: submission_key, submission_id, region_code of the submissions loaded."""
    return (
        personnel.join(key_to_id, on="submission_key", how="inner")
        .with_columns(
            pl.lit(year).alias("campaign_year"),
            pl.col("profession").is_in(labels.in_group("sante")).alias("is_health_profession"),
            pl.col("profession").is_in(labels.in_group("medecin")).alias("is_medecin"),
            pl.lit(run_id).alias("run_id"),
        )
        .select(PERSONNEL_COLUMNS)
        .sort("submission_id", "profession")
    )


def change_rows(year: int, changes: pl.DataFrame, key_to_id: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """`centre_change` rows from `transforms.changes`' frame (with `submission_key`), one
    per distinct change (keyed on what it says)."""
    keyed = ("finess_et", "kind", "source", "field", "previous_value", "new_value")
    return (
        changes.join(key_to_id.select("submission_key", "submission_id"), on="submission_key", how="left")
        .with_columns(
            pl.struct(*keyed).map_elements(lambda r: stable_id(year, *r.values()), return_dtype=pl.String)
            .alias("change_id"),
            pl.lit(year, pl.Int64).alias("campaign_year"), pl.lit(run_id).alias("run_id"),
        )
        .unique("change_id", keep="first", maintain_order=True)
        .select(CHANGE_COLUMNS)
    )
