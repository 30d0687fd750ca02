"""The campaign as a Prefect flow: the same run as `observatoire run` without a server
(observatoire/pipeline.py holds the order of the stages), each stage a task with its
retries, the reading's progress and the run's summary as artifacts, and per-file logs.

files ─read─▶ cells ─validate─▶ typed + issues ─┐
FINESS extracts ─▶ referential history ─────────▶ reconcile ─▶ statuses ─▶ changes ─▶ load ─▶ publish
calendar ─────────────────────────────────────────────────────────┘          ▲
previous exercise's reports (warehouse) ──────────────────────────────────────┘
(reading and validation on a Dask cluster when `dask_address` is given)

One run per campaign year at a time, a run that died never holding it: the pipeline takes
the year's lock in the warehouse (observatoire/run_lock.py), whichever way it is run.
"""
from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows import artifacts, engine
from flows.parameters import CampaignParameters
from observatoire import pipeline, stages, warehouse
from observatoire.errors import CampaignError

LOG_LINES = 2000  # lines per log record of per-file results: Prefect drops a record over 1 MB


def _transient(task, task_run, state) -> bool:
    """Retry IO hiccups, not a referential that is wrong: that one fails the same way again."""
    try:
        state.result()
    except CampaignError:
        return False
    except Exception:
        return True
    return False


# How each stage runs as a task: IO stages retry, computations do not (they would fail the
# same way). No caching anywhere: a rerun redoes the work, the load makes it idempotent.
TASK_OPTIONS = {
    "referential": {"retries": 1, "retry_delay_seconds": 5, "retry_condition_fn": _transient},
    "read": {},  # the reader pool reads again a batch whose process died
    "validate": {},
    "reconcile": {},
    "statuses": {},
    "changes": {},
    "load": {"retries": 2, "retry_delay_seconds": 5},
    "publish": {"retries": 1, "retry_delay_seconds": 5},
}


@task(cache_policy=NO_CACHE)
def _stage(call):
    function, args = call
    return function(*args)


def _stage_task(stage: str):
    label = pipeline.STAGE_LABELS.get(stage, stage)
    return _stage.with_options(name=label, task_run_name=label, **TASK_OPTIONS.get(stage, {}))


class PrefectHooks(pipeline.Hooks):
    """Each stage a task run of this flow; progress, logs and artifacts in the Prefect UI."""

    def __init__(self, run_name: str) -> None:
        self.run_name = run_name
        self.progress_id = None

    # quote: Prefect would otherwise walk every object of the frames' containers (tens of
    # thousands of file outcomes) looking for futures, for each task they are given to
    def step(self, stage, function, *args):
        return _stage_task(stage)(quote((function, args)))

    def step_in_background(self, stage, function, *args):
        return _stage_task(stage).submit(quote((function, args)))

    def started(self, stage):
        if stage == "read":
            from prefect.artifacts import create_progress_artifact

            self.progress_id = create_progress_artifact(
                progress=0.0, key=artifacts.artifact_key(self.run_name, "lecture"),
                description="Lecture des fichiers")

    def files_read(self, batch, done, total):
        from prefect.artifacts import update_progress_artifact

        # one log record per batch, one line per file: a record per file costs more to ship
        # to the Prefect server than reading the file
        lines = [f"{o.source_file} : lu ({o.container}), {o.submissions} envoi(s)" if o.readable
                 else f"{o.source_file} : illisible ({o.reason})" for o in batch.outcomes]
        logger = get_run_logger()
        logger.info("Lot de %d fichier(s) :\n%s", len(lines), "\n".join(lines))
        unreadable = [line for line, o in zip(lines, batch.outcomes) if not o.readable]
        if unreadable:
            logger.warning("%d fichier(s) illisible(s) :\n%s", len(unreadable), "\n".join(unreadable))
        if self.progress_id is not None:
            update_progress_artifact(self.progress_id, progress=100.0 * done / max(total, 1),
                                     description=f"Lecture des fichiers : {done} / {total}")

    def done(self, stage, result):
        logger = get_run_logger()
        if stage == "read" and self.progress_id is not None:  # also when there was no file to read
            from prefect.artifacts import update_progress_artifact

            n_files = sum(len(batch.outcomes) for batch in result)
            update_progress_artifact(self.progress_id, progress=100.0,
                                     description=f"Lecture des fichiers : {n_files} / {n_files}")
        elif stage == "referential":
            for extract in result.extracts:
                logger.info("Extrait FINESS %s : instantané du %s", extract["file"],
                            extract["extract_date"].isoformat())
            logger.info("Référentiel : %d instantané(s) dans l'entrepôt, du %s au %s", len(result.snapshot_dates),
                        min(result.snapshot_dates).isoformat(), max(result.snapshot_dates).isoformat())
        elif stage == "validate":
            _log_validation(logger, result)
        elif stage == "changes":
            logger.info("%s", stages.changes_line(result))
        elif stage == "publish":
            for path in result[0]:
                logger.info("Classeur écrit : %s", path)

    def waiting(self, message):
        get_run_logger().warning(message)

    def finished(self, run: pipeline.CampaignRun):
        statuses = run.load.statuses
        unreadable = [(o.source_file, o.reason) for o in run.received.outcomes if not o.readable]
        artifacts.publish_summary(artifacts.artifact_key(run.run_name, "synthese"), artifacts.summary_markdown(
            run.year, run.regions, statuses, run.load.issues, len(run.received.outcomes) - len(unreadable),
            unreadable, run.run_id, run.warehouse, changes=run.load.changes, deadline=run.deadline))
        artifacts.publish_chase_table(
            artifacts.artifact_key(run.run_name, "a-relancer"), artifacts.chase_rows(statuses),
            statuses.filter(pl.col("status").is_in(artifacts.TO_CHASE)).height)
        artifacts.publish_workbooks(artifacts.artifact_key(run.run_name, "classeurs"), artifacts.workbooks_markdown(
            "Classeurs de retour et de relance", run.workbooks, run.workbooks_not_written))
        get_run_logger().info("Entrepôt %s : %d statut(s), %d envoi(s), %d problème(s) chargés\n%s", run.warehouse,
                              statuses.height, run.load.submissions.height, run.load.issues.height, run.summary)


def _log_validation(logger, validated) -> None:
    per_file = (
        validated.typed.group_by("source_file")
        .agg(pl.len().alias("n"), pl.col("is_valid").sum().alias("valid"), pl.col("n_errors").sum().alias("errors"),
             pl.col("n_warnings").sum().alias("warnings"))
        .sort("source_file")
    )
    lines = [f"{source_file} : {n} envoi(s), {valid} valide(s), {errors} erreur(s), {warnings} alerte(s)"
             for source_file, n, valid, errors, warnings in per_file.iter_rows()]
    for start in range(0, len(lines), LOG_LINES):
        logger.info("Validation, par fichier (%d à %d sur %d) :\n%s", start + 1, min(start + LOG_LINES, len(lines)),
                    len(lines), "\n".join(lines[start:start + LOG_LINES]))


# ------------------------------------------------------------------ the flow
def _run_name() -> str:
    from prefect.runtime import flow_run

    return CampaignParameters.model_validate(flow_run.parameters.get("params") or {}).run_name("campagne")


engine.install()  # heartbeats that stop with the flow run (flows/engine.py)


@engine.flow(name="consolidation-campagne", flow_run_name=_run_name)
def consolidate_campaign(params: CampaignParameters = CampaignParameters()) -> str:
    """Consolide une campagne : lit les envois, les valide, rapproche les FINESS, calcule
    le statut de chaque centre attendu, charge l'entrepôt et publie la synthèse, la liste
    des centres à relancer et le classeur de retour. Renvoie le résumé texte."""
    params = checked_parameters(params, params.exercise_year())  # a wrong path fails here, at once
    url = resolve_warehouse_url(params)
    get_run_logger().info("Campagne %d, régions %s, envois %s, entrepôt %s", params.exercise_year(),
                          ", ".join(params.regions) or "toutes", params.submissions_dir(params.exercise_year()),
                          warehouse.redact(url))
    return pipeline.run_campaign(params, PrefectHooks(params.run_name("campagne")), warehouse_url=url).summary


# ------------------------------------------------------------------ arguments, secrets, concurrency
def checked_parameters(params: CampaignParameters, year: int) -> CampaignParameters:
    """The run's paths checked at once (observatoire/preflight.py), one French line for a
    mistake. The calendar the deployment sets (the data layout's, deploy/prefect.yaml) may
    be absent: the run then applies the default deadline and says so; any other calendar,
    typed in the run form or given to `observatoire run`, must exist."""
    from observatoire import preflight

    optional = params.calendar is not None and params.calendar == deployment_calendar()
    checked = preflight.check_run(year, params.submissions, params.finess, params.calendar, params.warehouse_url,
                                  calendar_optional=optional, names=preflight.FORM)
    for note in checked.notes:
        get_run_logger().warning(note)
    return params.model_copy(update={"calendar": checked.calendar, "warehouse_url": checked.warehouse_url})


def deployment_calendar() -> str | None:
    """The `calendar` parameter of the deployment this run belongs to (None outside a
    deployment). The deployment is the flow run's own, as the engine holds it: asking
    `prefect.runtime.deployment.id` would read the flow run from the server again."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    deployment_id = context.flow_run.deployment_id if context and context.flow_run else None
    if not deployment_id:
        return None
    with get_client(sync_client=True) as client:
        defaults = client.read_deployment(deployment_id).parameters.get("params") or {}
    return (defaults.get("calendar") or "").strip() or None


def resolve_warehouse_url(params: CampaignParameters) -> str:
    """The URL given, else the Secret block named, else OBSERVATOIRE_WAREHOUSE_URL, else
    the local SQLite file; always as it may be shown (password masked): `warehouse.connect`
    finds the password in this process (`warehouse.hand_off`)."""
    if params.warehouse_url:
        return warehouse.hand_off(params.warehouse_url)
    if params.warehouse_secret:
        from prefect.blocks.system import Secret

        try:
            return warehouse.hand_off(str(Secret.load(params.warehouse_secret).get()))
        except ValueError as exc:  # Prefect's "Unable to find block document named …"
            raise CampaignError(f"Bloc Secret « {params.warehouse_secret} » introuvable sur le serveur Prefect "
                                f"(créez-le : voir deploy/README.md).") from exc
    return warehouse.hand_off(warehouse.warehouse_url(None))
