"""The stages of a campaign, each a plain function from inputs to frames, so the Prefect
flow (flows/campaign.py) only wires them: referential -> read -> validate -> reconcile
-> statuses -> load. Business rules stay in `transforms/`; files are read by `readers/`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from observatoire.errors import CampaignError, RunRefused
from observatoire.vocabulary import STATUS_LABELS
from observatoire.readers.finess_extract import FinessExtract, peek_finess_extract, read_finess_extract
from observatoire.readers.finess_plus import (
    FinessPlusFile, FinessPlusHeader, is_finess_plus, peek_finess_plus, read_finess_plus,
)
from observatoire.readers.pool import FileBatch, ReaderPool, concat_batches
from observatoire.readers.reference_data import departement_regions
from observatoire.run_guards import refuse_unless_forced
from observatoire.readers.submission_files import (
    FileOutcome, list_submission_files, read_reception_manifest,
)
from schemas.registry import personnel_labels, template_for_year
from transforms import changes as change_rules, compliance, guards, referential, submissions as subs, validation
from transforms import warehouse_rows
from transforms.campaign_calendar import campaign_title
from transforms.geography import commune_departement
from transforms.reconcile import reconcile_finess
from transforms.values import parse_datetime


# ------------------------------------------------------------------ referential
@dataclass(frozen=True)
class Referential:
    history: pl.DataFrame
    extracts: list[dict]  # file, extract_date, sha256 of the extracts given to this run
    snapshot_dates: list[dt.date]  # every snapshot the history is built from

    @property
    def latest_date(self) -> dt.date:
        return max(self.snapshot_dates)


def load_referential(paths: list[Path], engine=None, forced=(), on_history=None) -> Referential:
    """Parse the extracts (data.gouv extracts or FINESS+ files, told apart by content);
    with a warehouse, add them to its snapshots and use its whole history (so a run given
    only the newest extract still knows earlier closures). An extract the warehouse already
    holds (same date, same bytes) is not parsed again. An extract that looks damaged
    (`check_extracts`) is refused before anything is stored. `on_history(referential)` is
    called as soon as the referential is known, before the new snapshots are written: the
    run reconciles with it meanwhile."""
    from observatoire import referential_store

    if engine is None:
        extracts = [_read_referential(Path(path)) for path in paths]
        if not extracts:
            raise CampaignError("Aucun référentiel FINESS donné (--finess).")
        parsed = _normalised(extracts)
        check_extracts(parsed, {}, forced)
        history = referential.establishment_history([(p["extract_date"], p["frame"]) for p in parsed])
        return _handed_over(Referential(history, [_described(p) for p in parsed],
                                        sorted(p["extract_date"] for p in parsed)), on_history)
    known = referential_store.known_snapshots(engine)
    headers = [_peek_referential(Path(path)) for path in paths]
    described = [{"file": Path(h.source_file).name, "extract_date": h.extract_date, "sha256": h.sha256}
                 for h in headers]
    new = [h for h in headers if not referential_store.check_not_conflicting(
        known, h.extract_date, h.sha256, Path(h.source_file).name)]
    parsed = _normalised([_read_referential(Path(h.source_file), h) for h in new])
    if parsed:
        check_extracts(parsed, referential_store.snapshot_centres(engine), forced)

    def known_now(history, dates) -> Referential:
        return _handed_over(Referential(history=history, extracts=described, snapshot_dates=sorted(dates)), on_history)

    def versions_known(versions, dates) -> Referential:  # about to be written: not read back
        return known_now(referential.history_from_versions(versions, dates), dates)

    stored = referential_store.store_snapshots(engine, parsed, versions_known) if parsed else None
    return stored if stored is not None else known_now(*referential_store.read_history(engine))


def _handed_over(ref: Referential, on_history) -> Referential:
    if on_history is not None:
        on_history(ref)
    return ref


def check_extracts(parsed: list[dict], stored_centres: dict[dt.date, int], forced=()) -> None:
    """Refuse (CampaignError, one French line) an extract whose text was wrongly decoded or
    that holds no centre de santé, and (RunRefused, unless `finess-reduit` is forced) one
    with far fewer centres de santé than its neighbouring snapshot: the latest earlier one,
    else the earliest later one, among the warehouse's (`stored_centres`: date -> centres)
    and the run's other extracts."""
    centres = dict(stored_centres)
    for extract in parsed:
        centres.setdefault(extract["extract_date"], _open_centres(extract["frame"], extract["extract_date"]))
    for extract in parsed:
        file, date, frame = extract["file"], extract["extract_date"], extract["frame"]
        problem = (guards.referential_without_numbers(frame) or guards.referential_misencoded(frame)
                   or guards.referential_without_centres(frame))
        if problem:
            raise CampaignError(f"Référentiel FINESS refusé, rien n'est enregistré : {file} : {problem}.")
        earlier = [d for d in centres if d < date]
        later = [d for d in centres if d > date]
        neighbour = max(earlier) if earlier else (min(later) if later else None)
        n_centres = _open_centres(frame, date)
        refusal = guards.first_refusal([guards.referential_shrunk(
            n_centres, date, centres.get(neighbour), neighbour, file)], forced)
        if refusal is not None:
            raise RunRefused(refusal)


def _open_centres(frame: pl.DataFrame, date: dt.date) -> int:
    """Centres de santé open on the snapshot's date: a FINESS+ file also lists closed ones
    (with their closing date), an extract only open ones."""
    closed = pl.col("datefermeture").is_not_null() & (pl.col("datefermeture") <= date) \
        if "datefermeture" in frame.columns else pl.lit(False)
    return frame.filter(pl.col("is_centre_de_sante") & ~closed).height


def _peek_referential(path: Path):
    """Date and checksum of a data.gouv extract or a FINESS+ file, told apart by content."""
    return peek_finess_plus(path) if is_finess_plus(path) else peek_finess_extract(path)


def _read_referential(path: Path, header=None) -> FinessExtract | FinessPlusFile:
    if isinstance(header, FinessPlusHeader) or (header is None and is_finess_plus(path)):
        return read_finess_plus(path, header)
    return read_finess_extract(path, header)


def _normalised(extracts: list[FinessExtract | FinessPlusFile]) -> list[dict]:
    regions = departement_regions()
    return [{"file": Path(e.source_file).name, "extract_date": e.extract_date, "sha256": e.sha256,
             "frame": referential.normalise_establishments(e.establishments, regions)} for e in extracts]


def _described(parsed: dict) -> dict:
    return {k: parsed[k] for k in ("file", "extract_date", "sha256")}


# ------------------------------------------------------------------ read
@dataclass(frozen=True)
class ReceivedFiles:
    outcomes: list[FileOutcome]
    cells: pl.DataFrame
    personnel: pl.DataFrame
    manifest: pl.DataFrame
    manifest_problems: list[str]
    # what reading noticed in readable files (formula without cached value), ISSUE_SCHEMA
    reader_issues: pl.DataFrame


def list_files(folder: Path) -> list[Path]:
    if not Path(folder).is_dir():
        raise CampaignError(f"Dossier des envois introuvable : {folder}")
    return list_submission_files(Path(folder))


def read_files(paths: list[Path], root: Path, workers: int | None = 1, batch_size: int = 50) -> list[FileBatch]:
    """Read files by batches, on `workers` reader processes (None: one per core); never
    raises for a bad file, and a reader that crashes or hangs on one costs that file alone
    (`ReaderPool`), even with one worker."""
    batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    if not batches:
        return []
    with ReaderPool(workers) as pool:
        return pool.map(batches, root)


def gather(batches: list[FileBatch], root: Path) -> ReceivedFiles:
    manifest, problems = read_reception_manifest(Path(root))
    files = concat_batches(batches)
    return ReceivedFiles(
        outcomes=files.outcomes, cells=files.cells, personnel=files.personnel,
        manifest=manifest, manifest_problems=problems, reader_issues=files.issues,
    )


# ------------------------------------------------------------------ validate
@dataclass(frozen=True)
class ValidatedSubmissions:
    typed: pl.DataFrame  # one row per submission: fields, is_valid
    issues: pl.DataFrame  # ISSUE_SCHEMA, every error and warning of readable files
    rows_set_aside: pl.DataFrame  # source_file, rows_set_aside
    template_version: str
    # one row per submission and profession declared: submission_key, profession, effectif, etp
    personnel: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={
        "submission_key": pl.String, "profession": pl.String, "effectif": pl.Int64, "etp": pl.Float64}))


def validate(received: ReceivedFiles, year: int, run_at: dt.datetime) -> ValidatedSubmissions:
    template = template_for_year(year)
    labels = personnel_labels()
    mapped, mapping_issues = subs.map_fields(received.cells, template)
    typed, cast_issues = subs.cast_fields(mapped, template)
    typed = _with_reception_dates(typed, received.manifest)
    rule_issues = validation.validate_submissions(typed, mapped, cast_issues, template, year, run_at)
    antenne_issues = validation.validate_antennes(typed, mapped, template)
    personnel_raw = pl.concat([received.personnel, subs.export_personnel(mapped)])
    personnel_typed, personnel_issues = subs.personnel_rows(personnel_raw, labels)
    personnel, personnel_rule_issues = validation.validate_personnel(personnel_typed, typed, labels)
    known = typed.select("submission_key")
    issues = pl.concat([
        received.reader_issues.join(known, on="submission_key", how="semi"), mapping_issues, cast_issues,
        rule_issues, antenne_issues, personnel_issues, personnel_rule_issues,
    ])
    errors = issues.filter(pl.col("severity") == "error").group_by("submission_key").len("n_errors")
    warnings = issues.filter(pl.col("severity") == "warning").group_by("submission_key").len("n_warnings")
    typed = (
        typed.join(errors, on="submission_key", how="left")
        .join(warnings, on="submission_key", how="left")
        .with_columns(
            pl.col("n_errors").fill_null(0), pl.col("n_warnings").fill_null(0),
            (pl.col("n_errors").fill_null(0) == 0).alias("is_valid"),
        )
    )
    # a Personnel row is set aside once, whatever the number of reasons given for it
    set_aside = (
        pl.concat([personnel_issues, personnel_rule_issues])
        .filter((pl.col("sheet") == subs.SHEET_PERSONNEL) & pl.col("message").str.contains("ligne écartée"))
        .unique(["submission_key", "location"])
        .group_by("source_file").len("rows_set_aside")
        .with_columns(pl.col("rows_set_aside").cast(pl.Int64))
    )
    return ValidatedSubmissions(typed, issues, set_aside, template.version, personnel)


def _with_reception_dates(typed: pl.DataFrame, manifest: pl.DataFrame) -> pl.DataFrame:
    """A submission without a transmission date takes its reception date from the manifest."""
    received = manifest.select("source_file", parse_datetime(pl.col("date_reception")).alias("date_reception"))
    return (
        typed.join(received.unique("source_file", keep="first", maintain_order=True), on="source_file", how="left")
        .with_columns(
            pl.when(pl.col("date_transmission").is_not_null()).then(pl.lit("fichier"))
            .when(pl.col("date_reception").is_not_null()).then(pl.lit("manifeste")).alias("transmission_source"),
            pl.coalesce("date_transmission", "date_reception").alias("date_transmission"),
        )
        .drop("date_reception")
    )


# ------------------------------------------------------------------ reconcile
def reconcile(validated: ValidatedSubmissions, ref: Referential, decisions: pl.DataFrame | None = None
              ) -> pl.DataFrame:
    return reconcile_finess(
        validated.typed.select("submission_key", "finess_et", "raison_sociale", "commune_insee", "code_postal"),
        ref.history, departement_regions(), decisions,
    )


# ------------------------------------------------------------------ statuses
def statuses(
    validated: ValidatedSubmissions, resolution: pl.DataFrame, ref: Referential, calendar: pl.DataFrame,
    year: int, regions: list[str], scoped: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(centre_year_status rows, submissions with resolution, region, version flags and
    `in_scope`). A run limited to some regions (`scoped`, campaign-rules.md "Which region a
    submission belongs to") judges only the submissions of its regions: the others are
    returned with `in_scope` false, never filed as unexpected in its regions. A run over the
    whole campaign judges them all, those of no region of the run without a region."""
    expected = referential.expected_centres(ref.history, year, regions)
    dep_regions = departement_regions().select(
        pl.col("code_departement").alias("declared_cog"), pl.col("code_region").alias("declared_region")
    )
    et_regions = ref.history.select("finess_et", pl.col("region_code").alias("et_region"))
    commune = pl.col("commune_insee").str.to_uppercase()
    region = compliance.attribute_region(pl.col("et_region"), pl.col("declared_region"))
    of_run = region.is_in(regions).fill_null(False)
    resolved = (
        validated.typed.drop("finess_et")
        .join(resolution, on="submission_key", how="left")
        .join(et_regions, on="finess_et", how="left")
        .with_columns(
            commune_departement(commune).alias("declared_cog"),
            subs.declared_antennes(pl.col("antennes")).alias("antennes_list"),
        )
        .join(dep_regions, on="declared_cog", how="left")
        .with_columns(region.alias("attributed_region"), (of_run if scoped else pl.lit(True)).alias("in_scope"),
                      pl.when(of_run).then(region).alias("region_code"))
    )
    submissions = compliance.order_versions(resolved)
    rows = compliance.centre_statuses(
        expected,
        submissions.filter(pl.col("in_scope")).select(
            "submission_key", "source_file", "source_row", "finess_et", "finess_ej", "reconciliation_method",
            "is_valid", "date_transmission", pl.col("antennes_list").alias("antennes"), "region_code",
            pl.col("raison_sociale").alias("declared_name"),
            pl.col("declared_cog").alias("declared_departement"),
            "version_rank", "is_first_valid", "is_current",
        ),
        ref.history, calendar, year, regions,
    )
    return rows, submissions.drop("is_first_valid")


# ------------------------------------------------------------------ changes
def changes(submissions: pl.DataFrame, ref: Referential, previous: pl.DataFrame | None, year: int,
            regions: list[str]) -> pl.DataFrame:
    """What the campaign's centres changed since their previous exercise (`previous`:
    `warehouse.read_current_declarations` of `year - 1`) or declare unlike FINESS
    (`transforms.changes`), for the centres of `regions` with a current submission."""
    current = submissions.filter(
        pl.col("is_current") & pl.col("finess_et").is_not_null() & pl.col("region_code").is_in(regions)
    ).select("finess_et", "region_code", "submission_key",
             *[c for c in change_rules.DECLARATION_FIELDS if c in submissions.columns])
    try:
        before = set(template_for_year(year - 1).labels)
    except ValueError:  # no template that early: no previous exercise to compare with
        before, previous = None, None
    found = change_rules.centre_changes(current, previous, ref.history, year, set(template_for_year(year).labels),
                                        before)
    return found.join(current.select("finess_et", "submission_key"), on="finess_et", how="left")


# ------------------------------------------------------------------ guards
def check_files(files: list, folder: Path, forced=()) -> None:
    """Before reading: a folder without any submission file (a share not mounted)."""
    refuse_unless_forced([guards.no_submission_files(len(files), str(folder))], forced)


def check_data(engine, year: int, regions: list[str], validated: ValidatedSubmissions, status_rows: pl.DataFrame,
               forced=()) -> None:
    """Before the load: most submissions declaring another exercise, most of the centres the
    warehouse holds as on time for these regions turning missing."""
    from observatoire.warehouse import campaign_statuses

    declared = validated.typed.get_column("annee_exercice") if "annee_exercice" in validated.typed.columns \
        else pl.Series([], dtype=pl.Int64)
    refuse_unless_forced([guards.other_exercise(declared, year)], forced)
    refuse_unless_forced([guards.on_time_lost(campaign_statuses(engine, year, regions),
                                              status_rows.select("finess_et", "status"))], forced)


def run_notes(submissions: pl.DataFrame, calendar: pl.DataFrame, ref: Referential, year: int,
              regions: list[str], scoped: bool) -> list[str]:
    """What the summary adds under the counts: the submissions a region-scoped run left
    alone, the extensions for centres the referential does not know."""
    notes = []
    other = submissions.filter(~pl.col("in_scope")).height
    if scoped and other:
        notes.append(f"{other} envoi(s) d'autres régions ou sans région laissé(s) de côté (exécution limitée "
                     f"à {', '.join(regions)})")
    return notes + guards.unknown_extension_centres(calendar, ref.history, year)


# ------------------------------------------------------------------ load
def outcomes_frame(outcomes, rows_set_aside: pl.DataFrame | None = None,
                   template_version: str | None = None) -> pl.DataFrame:
    """One row per received file from `FileOutcome` records, completed with the rows set
    aside during validation and the template version used (unreadable files have none)."""
    frame = pl.DataFrame([{
        "source_file": o.source_file, "sha256": o.sha256, "size_bytes": o.size_bytes, "readable": o.readable,
        "container": o.container, "format": o.format, "encoding": o.encoding, "separator": o.separator,
        "sheets": ", ".join(o.sheets) or None, "submissions": o.submissions, "rows_in": o.rows_in,
        "notes": " ; ".join(o.notes) or None, "reason": o.reason,
    } for o in outcomes], schema={
        "source_file": pl.String, "sha256": pl.String, "size_bytes": pl.Int64, "readable": pl.Boolean,
        "container": pl.String, "format": pl.String, "encoding": pl.String, "separator": pl.String,
        "sheets": pl.String, "submissions": pl.Int64, "rows_in": pl.Int64, "notes": pl.String, "reason": pl.String,
    })
    aside = rows_set_aside if rows_set_aside is not None else pl.DataFrame(
        schema={"source_file": pl.String, "rows_set_aside": pl.Int64})
    return frame.join(aside.select("source_file", pl.col("rows_set_aside").cast(pl.Int64)), on="source_file",
                      how="left").with_columns(
        pl.when(pl.col("readable")).then(pl.col("rows_set_aside").fill_null(0)).alias("rows_set_aside"),
        pl.when(pl.col("readable")).then(pl.lit(template_version, pl.String)).alias("template_version"),
    )


def build_load(
    year: int, regions: list[str], received: ReceivedFiles, validated: ValidatedSubmissions,
    status_rows: pl.DataFrame, submissions: pl.DataFrame, run_id: str, loaded_at: dt.datetime,
    scoped: bool = False,
    changes: pl.DataFrame | None = None,
):
    """What `load_campaign` writes: the run's frames shaped into the warehouse tables by
    `transforms.warehouse_rows` (the submissions `in_scope`, see `statuses`, their issues
    and files, and the unreadable files)."""
    from observatoire.warehouse import CampaignLoad

    rows = warehouse_rows.campaign_rows(
        year, run_id, loaded_at,
        files=outcomes_frame(received.outcomes, validated.rows_set_aside, validated.template_version),
        submissions=submissions, issues=validated.issues, statuses=status_rows, personnel=validated.personnel,
        changes=changes, template_version=validated.template_version,
        field_columns=warehouse_rows.stored_fields(validated.typed.columns), labels=personnel_labels(),
        scoped=scoped,
    )
    return CampaignLoad(
        year=year, regions=regions, source_files=rows.files["source_file"].to_list(), statuses=rows.statuses,
        submissions=rows.submissions, issues=rows.issues, outcomes=rows.files, run={}, reviews=rows.reviews,
        personnel=rows.personnel, whole_campaign=not scoped, changes=rows.changes,
    )


def scoped_view(received: ReceivedFiles, validated: ValidatedSubmissions, submissions: pl.DataFrame
                ) -> tuple[ReceivedFiles, ValidatedSubmissions]:
    """What a run limited to some regions shows (summary, feedback workbook): the files and
    submissions of its regions, and the unreadable files (which tell no region)."""
    kept = submissions.filter(pl.col("in_scope"))
    files = set(kept.get_column("source_file").to_list())
    keys = kept.select("submission_key")
    view = ValidatedSubmissions(
        typed=validated.typed.join(keys, on="submission_key", how="semi"),
        issues=validated.issues.filter(pl.col("submission_key").is_null()
                                       | pl.col("submission_key").is_in(keys["submission_key"].implode())),
        rows_set_aside=validated.rows_set_aside.filter(pl.col("source_file").is_in(list(files))),
        template_version=validated.template_version,
        personnel=validated.personnel.join(keys, on="submission_key", how="semi"),
    )
    outcomes = [o for o in received.outcomes if not o.readable or o.source_file in files]
    return ReceivedFiles(outcomes, received.cells.head(0), received.personnel.head(0), received.manifest,
                         received.manifest_problems, received.reader_issues.head(0)), view


def status_counts(status_table: pl.DataFrame) -> dict[str, int]:
    counts = dict(status_table.group_by("status").len().iter_rows())
    return {status: int(counts.get(status, 0)) for status in compliance.STATUSES}


def changes_line(changes: pl.DataFrame | None) -> str:
    """One French line: how many changes and discrepancies the campaign noticed, by kind."""
    if changes is None or changes.is_empty():
        return "Changements à signaler : aucun (ni par rapport à l'exercice précédent, ni par rapport à FINESS)"
    by_source = dict(changes.group_by("source").len().iter_rows())
    by_kind = changes.group_by("kind").len().sort("len", "kind", descending=[True, False])
    kinds = ", ".join(f"{change_rules.KIND_LABELS.get(kind, kind)} {n}" for kind, n in by_kind.iter_rows())
    return (f"Changements à signaler : {changes.height} pour {changes['finess_et'].n_unique()} centre(s) "
            f"({by_source.get('envoi_precedent', 0)} par rapport à l'exercice précédent, "
            f"{by_source.get('finess', 0)} par rapport à FINESS) : {kinds} (vue v_changements)")


CHANGES_SHOWN = 10  # examples in the summary; the warehouse and the workbooks have them all


def summary_text(year: int, status_table: pl.DataFrame, received: ReceivedFiles, notes=(),
                 changes: pl.DataFrame | None = None, deadline: dt.date | None = None) -> str:
    """A short French summary a person can read: counts by region and status. `deadline`:
    the campaign's date limite (`campaign_calendar.campaign_deadline`), named in its title."""
    pivot = (
        status_table.with_columns(pl.col("region_code").fill_null("?"))
        .group_by("region_code", "status").len()
        .pivot(on="status", index="region_code", values="len")
        .fill_null(0)
        .sort("region_code")
    )
    for status in compliance.STATUSES:
        if status not in pivot.columns:
            pivot = pivot.with_columns(pl.lit(0, pl.UInt32).alias(status))
    pivot = pivot.select("region_code", *compliance.STATUSES)
    header = ["région", *(STATUS_LABELS[status] for status in compliance.STATUSES)]
    widths = [max(len(h), 6) for h in header]
    lines = [f"{campaign_title(year, deadline)} : consolidation terminée", "",
             "  ".join(h.rjust(w) for h, w in zip(header, widths))]
    for row in pivot.iter_rows():
        lines.append("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))
    totals = [sum(pivot[c]) for c in compliance.STATUSES]
    lines.append("  ".join(str(v).rjust(w) for v, w in zip(["total", *totals], widths)))
    in_review = status_table.filter(pl.col("unexpected_reason") == "review").height \
        if "unexpected_reason" in status_table.columns else 0
    if in_review:
        lines += ["", f"Rapprochements à arbitrer : {in_review} envoi(s) en revue, comptés inattendus jusqu'à "
                      f"la décision (observatoire revue --year {year}, puis observatoire decision)"]
    if changes is not None:
        lines += ["", changes_line(changes)]
        for row in changes.head(CHANGES_SHOWN).iter_rows(named=True):
            lines.append(f"  - {row['finess_et']} : {row['message']}")
        if changes.height > CHANGES_SHOWN:
            lines.append(f"  … et {changes.height - CHANGES_SHOWN} autre(s) (vue v_changements, classeurs de relance)")
    unreadable = [o for o in received.outcomes if not o.readable]
    lines += ["", f"Fichiers lus : {len(received.outcomes) - len(unreadable)} ; illisibles : {len(unreadable)}"]
    for outcome in unreadable[:10]:
        lines.append(f"  - {outcome.source_file} : {outcome.reason}")
    if len(unreadable) > 10:
        lines.append(f"  … et {len(unreadable) - 10} autre(s) (table file_outcome)")
    for problem in received.manifest_problems:
        lines.append(f"  ! {problem}")
    for note in notes:
        lines.append(f"  ! {note}")
    return "\n".join(lines)
