"""What a run shows in the Prefect UI once it is over: a markdown summary (counts by
region and status, most frequent issues), the table of centres to chase, and where the
workbooks were written. The builders are plain functions of the warehouse frames
(tested without Prefect); `publish_*` only hand their output to Prefect.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from observatoire.vocabulary import CHASE_ORDER, SEVERITY_LABELS, STATUS_LABELS
from transforms.campaign_calendar import campaign_title
from transforms.changes import KIND_LABELS, SOURCE_LABELS

TO_CHASE = tuple(CHASE_ORDER)
CHASE_ROWS_MAX = 2000  # a table artifact is for reading, the warehouse has them all
TOP_ISSUES = 10


def artifact_key(run_name: str, suffix: str) -> str:
    """Artifact keys allow lower-case letters, digits and dashes; one key per campaign
    and kind, so the Artifacts page keeps the history of reruns."""
    return re.sub(r"[^a-z0-9]+", "-", f"{run_name}-{suffix}".lower()).strip("-")


def status_pivot(statuses: pl.DataFrame) -> pl.DataFrame:
    """One row per region (null region shown as `?`), one column per status, in the
    order of STATUS_LABELS, plus `total`."""
    counts = (
        statuses.with_columns(pl.col("region_code").fill_null("?"))
        .group_by("region_code", "status").len()
    )
    regions = sorted(counts["region_code"].unique().to_list())
    rows = []
    for region in regions:
        of_region = dict(counts.filter(pl.col("region_code") == region).select("status", "len").iter_rows())
        row = {"region_code": region, **{status: int(of_region.get(status, 0)) for status in STATUS_LABELS}}
        row["total"] = sum(row[status] for status in STATUS_LABELS)
        rows.append(row)
    schema = {"region_code": pl.String, **{status: pl.Int64 for status in STATUS_LABELS}, "total": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def top_issues(issues: pl.DataFrame, limit: int = TOP_ISSUES) -> pl.DataFrame:
    """The most frequent problems, errors first: (severity, label or field, occurrences,
    files, one example message)."""
    if issues.is_empty():
        return pl.DataFrame(schema={"severity": pl.String, "what": pl.String, "occurrences": pl.Int64,
                                    "files": pl.Int64, "example": pl.String})
    return (
        issues.with_columns(pl.coalesce("label", "field", pl.lit("fichier")).alias("what"))
        .group_by("severity", "what")
        .agg(pl.len().cast(pl.Int64).alias("occurrences"), pl.col("source_file").n_unique().cast(pl.Int64)
             .alias("files"), pl.col("message").first().alias("example"))
        .sort([pl.col("severity") != "error", pl.col("occurrences")], descending=[False, True])
        .head(limit)
    )


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    year: int, regions: list[str], statuses: pl.DataFrame, issues: pl.DataFrame, files_read: int,
    unreadable: list[tuple[str, str]], run_id: str, warehouse: str, changes: pl.DataFrame | None = None,
    deadline: dt.date | None = None,
) -> str:
    pivot = status_pivot(statuses)
    chase = statuses.filter(pl.col("status").is_in(TO_CHASE)).height
    lines = [
        f"# {campaign_title(year, deadline)}",
        "",
        f"Régions : {', '.join(regions) or 'aucune'} · entrepôt : `{warehouse}` · exécution `{run_id}`",
        "",
        "## Statuts par région",
        "",
        "| Région | " + " | ".join(STATUS_LABELS.values()) + " | Total |",
        "|---|" + "---:|" * (len(STATUS_LABELS) + 1),
    ]
    for row in pivot.iter_rows(named=True):
        lines.append(f"| {row['region_code']} | " + " | ".join(str(row[s]) for s in STATUS_LABELS)
                     + f" | {row['total']} |")
    totals = [int(pivot[s].sum()) for s in (*STATUS_LABELS, "total")]
    lines.append("| **Total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    lines += ["", f"**{chase} centre(s) à relancer** (manquants, en retard ou invalides) : "
                  "voir l'artefact « centres à relancer »."]
    lines += ["", "## Fichiers reçus", "", f"Lus : {files_read} ; illisibles : {len(unreadable)}."]
    for name, reason in unreadable[:TOP_ISSUES]:
        lines.append(f"- `{_cell(name)}` : {_cell(reason)}")
    if len(unreadable) > TOP_ISSUES:
        lines.append(f"- … et {len(unreadable) - TOP_ISSUES} autre(s) (table `file_outcome`)")
    if changes is not None:
        lines += ["", *changes_markdown(changes)]
    top = top_issues(issues)
    lines += ["", "## Problèmes les plus fréquents", ""]
    if top.is_empty():
        lines.append("Aucune anomalie (ni bloquante ni avertissement).")
    else:
        lines += ["| Gravité | Champ | Occurrences | Fichiers | Exemple |", "|---|---|---:|---:|---|"]
        for row in top.iter_rows(named=True):
            severity = SEVERITY_LABELS.get(row["severity"], row["severity"])
            lines.append(f"| {severity} | {_cell(row['what'])} | {row['occurrences']} | {row['files']} | "
                         f"{_cell(row['example'])} |")
        lines.append("")
        lines.append("Détail complet : table `submission_issue` de l'entrepôt.")
    return "\n".join(lines)


CHANGE_ROWS_MAX = 200  # the table is for reading; v_changements and the workbooks have them all


def changes_markdown(changes: pl.DataFrame, limit: int = CHANGE_ROWS_MAX) -> list[str]:
    """The « Changements à signaler » section: how many, and the table of them."""
    lines = ["## Changements à signaler", ""]
    if changes.is_empty():
        return lines + ["Aucun changement ni écart avec FINESS relevé dans les envois de la campagne."]
    by_source = dict(changes.group_by("source").len().iter_rows())
    lines += [f"**{changes.height} changement(s) ou écart(s)** pour {changes['finess_et'].n_unique()} centre(s) : "
              f"{by_source.get('envoi_precedent', 0)} par rapport à l'exercice précédent, "
              f"{by_source.get('finess', 0)} par rapport à FINESS (vue `v_changements`, feuille « Changements à "
              "signaler » des classeurs de relance).", "",
              "| Région | FINESS ET | Nature | Comparé à | Avant / FINESS | Déclaré | Message |",
              "|---|---|---|---|---|---|---|"]
    for row in changes.head(limit).iter_rows(named=True):
        lines.append(f"| {_cell(row['region_code'])} | {_cell(row['finess_et'])} | "
                     f"{_cell(KIND_LABELS.get(row['kind'], row['kind']))} | "
                     f"{_cell(SOURCE_LABELS.get(row['source'], row['source']))} | "
                     f"{_cell(row['previous_value'])} | {_cell(row['new_value'])} | {_cell(row['message'])} |")
    if changes.height > limit:
        lines += ["", f"… et {changes.height - limit} autre(s) (vue `v_changements`)."]
    return lines


def chase_rows(statuses: pl.DataFrame, limit: int = CHASE_ROWS_MAX) -> list[dict]:
    """The centres to chase, worst first (missing, then invalid, then late), with what a
    person needs to call them."""
    order = {"missing": 0, "invalid": 1, "late": 2}
    frame = (
        statuses.filter(pl.col("status").is_in(TO_CHASE))
        .with_columns(pl.col("status").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("_order", "region_code", "departement", "finess_et", nulls_last=True)
        .head(limit)
    )
    return [
        {
            "Région": row["region_code"], "Département": row["departement"], "FINESS ET": row["finess_et"],
            "Raison sociale": row["raison_sociale"], "Statut": STATUS_LABELS[row["status"]],
            "Jours de retard": row["days_late"], "Téléphone": row.get("telephone"),
            "Motif": row["status_reason"],
        }
        for row in frame.iter_rows(named=True)
    ]


def workbooks_markdown(title: str, written: list[Path], not_written: str | None) -> str:
    lines = [f"# {title}", ""]
    if not_written:
        lines.append(f"Aucun classeur écrit : {not_written}")
    elif not written:
        lines.append("Aucun classeur à écrire pour cette campagne.")
    else:
        lines.append(f"{len(written)} classeur(s) écrit(s) sur le worker :")
        lines.append("")
        lines += [f"- `{Path(path).resolve()}`" for path in written]
    return "\n".join(lines)


# ------------------------------------------------------------------ Prefect
def publish_summary(key: str, markdown: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=key, description="Synthèse de la campagne")


def publish_chase_table(key: str, rows: list[dict], total: int) -> None:
    from prefect.artifacts import create_table_artifact

    shown = "" if len(rows) >= total else f" ({len(rows)} premiers sur {total})"
    create_table_artifact(table=rows or [{"Statut": "aucun centre à relancer"}], key=key,
                          description=f"Centres manquants, en retard ou invalides{shown}")


def publish_workbooks(key: str, markdown: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=key, description="Où sont les classeurs")
