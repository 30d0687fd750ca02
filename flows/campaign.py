"""Prefect wiring of a campaign: which stage runs after which, with retries on IO and no
result caching (a rerun redoes the work; the warehouse load makes it idempotent).

files ─read─▶ cells ─validate─▶ typed + issues ─┐        (on Dask when `dask_address`)
FINESS extracts ─▶ referential history ─▶ reconcile ─▶ statuses ─▶ load ─▶ artifacts, workbooks

One run per campaign year at a time: the flow holds the global concurrency limit
`campagne-<year>` (created with one slot when missing), so a rerun from the UI waits for
the scheduled run of the same year instead of interleaving with it.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows import artifacts
from flows.parameters import CampaignParameters
from observatoire import stages, warehouse
from observatoire.errors import CampaignError
from observatoire.readers.calendar import read_calendar
from observatoire.readers.pool import ReaderPool
from transforms.changes import DECLARATION_FIELDS
from transforms.referential import referential_regions

from observatoire.reports.feedback import write_run_feedback
from observatoire.reports.relance import write_relance_workbooks
from observatoire.review_store import read_decisions

# Files per read task: Prefect's cost (task runs, state changes, logs) is per batch, not per
# file. The reader processes get the files in smaller chunks (ReaderPool.prefetch).
READ_BATCH_MAX = 2500
# Each task run costs the Prefect server ~25 ms of CPU, shared with the reader processes on
# a small machine: a campaign that reads in two seconds needs no 12-step progress bar.
READ_BATCH_MIN = 500
PROGRESS_STEPS = 12  # about this many read tasks and progress updates while files are read
LOG_LINES = 2000  # lines per log record of per-file results


def read_batches(files: list[str]) -> list[list[str]]:
    """Batches small enough for the progress bar to move, large enough to keep the
    per-task overhead low."""
    size = max(READ_BATCH_MIN, min(READ_BATCH_MAX, math.ceil(len(files) / PROGRESS_STEPS)))
    return [files[i:i + size] for i in range(0, len(files), size)]


# ------------------------------------------------------------------ warehouse engines
# One engine per warehouse for the runs in progress in this process: a new engine costs a
# connection, the dialect's first queries and a probe (0.1 s on PostgreSQL), and every task
# used to make its own, never disposed. A task run elsewhere (another process) connects.
_ENGINES: dict[str, list] = {}  # url -> [engine, runs using it]
_ENGINES_LOCK = threading.Lock()


@contextmanager
def shared_engine(url: str):
    """The engine of `url` for the duration of a run; disposed when its last run ends."""
    with _ENGINES_LOCK:
        entry = _ENGINES.get(url)
        if entry is None:
            entry = _ENGINES[url] = [warehouse.connect(url), 0]
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _ENGINES_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                _ENGINES.pop(url, None)
                entry[0].dispose()


def run_engine(url: str):
    """The engine shared by the run in progress, else a new one."""
    entry = _ENGINES.get(url)
    return entry[0] if entry is not None else warehouse.connect(url)


# ------------------------------------------------------------------ tasks
def _transient(task, task_run, state) -> bool:
    """Retry IO hiccups, not a referential that is wrong: that one fails the same way again."""
    try:
        state.result()
    except CampaignError:
        return False
    except Exception:
        return True
    return False


@task(name="référentiel FINESS", task_run_name="référentiel FINESS", cache_policy=NO_CACHE, retries=1,
      retry_delay_seconds=5, retry_condition_fn=_transient)
def load_referential(paths: list[str], engine_url: str) -> stages.Referential:
    ref = stages.load_referential([Path(p) for p in paths], run_engine(engine_url))
    logger = get_run_logger()
    for extract in ref.extracts:
        logger.info("Extrait FINESS %s : instantané du %s", extract["file"], extract["extract_date"].isoformat())
    logger.info("Référentiel : %d instantané(s) dans l'entrepôt, du %s au %s", len(ref.snapshot_dates),
                min(ref.snapshot_dates).isoformat(), max(ref.snapshot_dates).isoformat())
    return ref


# Reader pools of the runs in progress in this process, by token: a pool of processes is
# not a parameter Prefect can record, so tasks receive its token. A task run elsewhere
# (on Dask) finds no pool and reads in its own process.
_READER_POOLS: dict[str, ReaderPool] = {}


@contextmanager
def reader_pool(workers: int | None):
    pool, token = ReaderPool(workers), str(uuid.uuid4())
    _READER_POOLS[token] = pool
    try:
        yield token
    finally:
        _READER_POOLS.pop(token, None)
        pool.close()


@task(name="lecture des fichiers", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5,
      task_run_name="lecture-{first}")
def read_batch(paths: list[str], root: str, first: int, pool_token: str | None = None):
    pool = _READER_POOLS.get(pool_token) if pool_token else None
    batch = pool.read(paths, root) if pool is not None else stages.read_batch(paths, root)
    # one log record per batch, one line per file: a record per file costs more to ship
    # to the Prefect server than reading the file
    lines = [
        f"{o.source_file} : lu ({o.container}), {o.submissions} envoi(s)" if o.readable
        else f"{o.source_file} : illisible ({o.reason})"
        for o in batch.outcomes
    ]
    logger = get_run_logger()
    logger.info("Lot de %d fichier(s) :\n%s", len(lines), "\n".join(lines))
    unreadable = [line for line, outcome in zip(lines, batch.outcomes) if not outcome.readable]
    if unreadable:
        logger.warning("%d fichier(s) illisible(s) :\n%s", len(unreadable), "\n".join(unreadable))
    return batch


@task(name="validation", task_run_name="validation", cache_policy=NO_CACHE)
def validate(received: stages.ReceivedFiles, year: int, run_at: dt.datetime) -> stages.ValidatedSubmissions:
    validated = stages.validate(received, year, run_at)
    per_file = (
        validated.typed.group_by("source_file")
        .agg(pl.len().alias("n"), pl.col("is_valid").sum().alias("valid"), pl.col("n_errors").sum().alias("errors"),
             pl.col("n_warnings").sum().alias("warnings"))
        .sort("source_file")
    )
    lines = [
        f"{source_file} : {n} envoi(s), {valid} valide(s), {errors} erreur(s), {warnings} alerte(s)"
        for source_file, n, valid, errors, warnings in per_file.iter_rows()
    ]
    # one record per LOG_LINES lines: Prefect drops a log record over 1 MB (PREFECT_LOGGING_TO_API_MAX_LOG_SIZE),
    # which the list of a national campaign is
    logger = get_run_logger()
    for start in range(0, len(lines), LOG_LINES):
        logger.info("Validation, par fichier (%d à %d sur %d) :\n%s", start + 1, min(start + LOG_LINES, len(lines)),
                    len(lines), "\n".join(lines[start:start + LOG_LINES]))
    return validated


@task(name="rapprochement FINESS", task_run_name="rapprochement FINESS", cache_policy=NO_CACHE)
def reconcile(validated, ref, engine_url: str):
    return stages.reconcile(validated, ref, read_decisions(run_engine(engine_url)))


@task(name="statuts", task_run_name="statuts", cache_policy=NO_CACHE)
def compute_statuses(validated, resolution, ref, calendar, year, regions):
    return stages.statuses(validated, resolution, ref, calendar, year, regions)


@task(name="changements à signaler", task_run_name="changements à signaler", cache_policy=NO_CACHE)
def detect_changes(submission_rows, ref, year: int, regions: list[str], engine_url: str):
    previous = warehouse.read_current_declarations(run_engine(engine_url), year - 1, list(DECLARATION_FIELDS))
    found = stages.changes(submission_rows, ref, previous, year, regions)
    get_run_logger().info("%s", stages.changes_line(found))
    return found


@task(name="chargement de l'entrepôt", task_run_name="chargement de l'entrepôt", cache_policy=NO_CACHE,
      retries=2, retry_delay_seconds=5)
def load(engine_url: str, campaign_load) -> None:
    warehouse.load_campaign(run_engine(engine_url), campaign_load)
    get_run_logger().info("Entrepôt %s : %d statut(s), %d envoi(s), %d problème(s) chargés",
                          warehouse.redact(engine_url), campaign_load.statuses.height,
                          campaign_load.submissions.height, campaign_load.issues.height)


@task(name="classeurs de relance", task_run_name="classeurs de relance", cache_policy=NO_CACHE, retries=1,
      retry_delay_seconds=5)
def write_relance(url: str, year: int, regions: list[str] | None, out_dir: str) -> list[str]:
    paths = write_relance_workbooks(run_engine(url), year, regions, Path(out_dir))
    logger = get_run_logger()
    for path in paths:
        logger.info("Classeur de relance écrit : %s", path)
    return [str(path) for path in paths]


@task(name="classeur de retour", task_run_name="classeur de retour", cache_policy=NO_CACHE, retries=1,
      retry_delay_seconds=5)
def write_feedback(received: stages.ReceivedFiles, validated: stages.ValidatedSubmissions, path: str) -> str:
    written = write_run_feedback(received, validated, Path(path))
    get_run_logger().info("Classeur de retour écrit : %s", written)
    return str(written)


# ------------------------------------------------------------------ read + validate
def dask_task_runner(dask_address: str):
    """The Dask cluster at `dask_address` (reading and validation only)."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=dask_address)


def _read_and_validate(root: str, year: int, run_at: dt.datetime, progress_id=None, pool_token: str | None = None,
                       batches: list[list[str]] | None = None, on_dask: bool = False):
    """Read the received files by batches (one task each), then validate the submissions.
    With a reader pool, the batches were queued to it when the files were listed
    (`_stages`): each task collects its own."""
    from prefect.artifacts import update_progress_artifact

    if batches is None:
        batches = read_batches([str(p) for p in stages.list_files(Path(root))])
    n_files = sum(len(batch) for batch in batches)
    pool = _READER_POOLS.get(pool_token) if pool_token else None
    futures, starts = [], 0
    for batch in batches:
        futures.append(read_batch.submit(batch, root, starts, pool_token))
        starts += len(batch)
    contents, done = [], 0
    for batch, future in zip(batches, futures):
        contents.append(future.result())
        done += len(batch)
        if progress_id is not None:
            update_progress_artifact(progress_id, progress=100.0 * done / n_files,
                                     description=f"Lecture des fichiers : {done} / {n_files}")
    if pool is not None:  # every file is read: give the reader processes' memory back before validating
        pool.close()
    received = stages.gather(contents, Path(root))
    # quote: Prefect would otherwise walk every object of these frames' containers (tens of
    # thousands of file outcomes) looking for futures, for each task they are given to. Not
    # on Dask, whose serialisation turns the quote into a plain tuple.
    return received, validate.submit(received if on_dask else quote(received), year, run_at).result()


@flow(name="lecture-et-validation", flow_run_name="lecture-{year}", validate_parameters=False)
def read_and_validate(root: str, year: int, run_at: dt.datetime, progress_id=None, pool_token: str | None = None):
    """Lit les fichiers reçus par lots et valide les envois, sur le cluster Dask donné."""
    # the folder, not the file list, is the parameter: a flow run's parameters are stored
    # by the server, which refuses more than 512 kB (about 3,800 paths)
    return quote(_read_and_validate(root, year, run_at, progress_id, pool_token, on_dask=True))


# ------------------------------------------------------------------ the flow
def _run_name() -> str:
    from prefect.runtime import flow_run

    return CampaignParameters.model_validate(flow_run.parameters.get("params") or {}).run_name("campagne")


@flow(name="consolidation-campagne", flow_run_name=_run_name)
def consolidate_campaign(params: CampaignParameters = CampaignParameters()) -> str:
    """Consolide une campagne : lit les envois, les valide, rapproche les FINESS, calcule
    le statut de chaque centre attendu, charge l'entrepôt et publie la synthèse, la liste
    des centres à relancer et le classeur de retour. Renvoie le résumé texte."""
    year = params.exercise_year()
    with campaign_slot(year):
        return _consolidate(params, year)


def _consolidate(params: CampaignParameters, year: int) -> str:
    started_at = dt.datetime.now(dt.timezone.utc)
    url = resolve_warehouse_url(params)
    # the reader processes start first: they import the readers while this run migrates
    # and records itself
    with reader_pool(params.read_workers if not params.dask_address else 1) as token, \
            shared_engine(url) as engine:
        return _consolidate_into(params, year, started_at, url, engine, token)


def _consolidate_into(params, year, started_at, url, engine, pool_token) -> str:
    logger = get_run_logger()
    run_id = str(uuid.uuid4())
    warehouse.migrate(engine)
    submissions = params.submissions_dir(year)
    calendar = params.calendar_file(year)
    parameters = {
        "year": year, "regions": params.regions or None, "submissions": str(submissions),
        "finess": list(params.finess), "calendar": str(calendar) if calendar else None,
        "warehouse": warehouse.redact(url), "warehouse_secret": params.warehouse_secret,
        "output_dir": params.output_dir, "dask_address": params.dask_address,
    }
    logger.info("Campagne %d, régions %s, envois %s, entrepôt %s", year, ", ".join(params.regions) or "toutes",
                submissions, warehouse.redact(url))
    warehouse.record_run_start(engine, {
        "run_id": run_id, "campaign_year": year, "regions": ",".join(params.regions),
        "parameters": json.dumps(parameters, ensure_ascii=False), "started_at": started_at, "outcome": "running",
    })
    try:
        summary, end = _stages(params, year, submissions, calendar, url, run_id, started_at, pool_token)
    except Exception as exc:
        message = str(exc) if isinstance(exc, CampaignError) else f"{type(exc).__name__}: {exc}"
        warehouse.record_run_end(engine, run_id, {"finished_at": dt.datetime.now(dt.timezone.utc),
                                                  "outcome": "failed", "message": message})
        raise
    warehouse.record_run_end(engine, run_id, end)
    logger.info(summary)
    return summary


def _stages(params, year, submissions: Path, calendar: Path | None, url, run_id, started_at, pool_token):
    from prefect.artifacts import create_progress_artifact

    run_name = params.run_name("campagne")
    # The FINESS referential (parse, snapshot store) runs while the files are read by the
    # reader processes.
    ref_future = load_referential.submit([str(p) for p in params.finess_files()], url)
    try:
        files = [str(p) for p in stages.list_files(submissions)]
        batches = read_batches(files)
        pool = _READER_POOLS.get(pool_token) if not params.dask_address else None
        if pool is not None:  # the reader processes start on the files before anything else is done here
            pool.prefetch(batches, str(submissions))
        calendar_frame = read_calendar(calendar)
        progress_id = create_progress_artifact(progress=0.0, key=artifacts.artifact_key(run_name, "lecture"),
                                               description=f"Lecture des fichiers : 0 / {len(files)}")
        if params.dask_address:  # a subflow, for its Dask task runner
            reader = read_and_validate.with_options(task_runner=dask_task_runner(params.dask_address))
            try:
                received, validated = reader(str(submissions), year, started_at, progress_id).unquote()
            except OSError as exc:  # distributed's "Timed out trying to connect to …"
                raise CampaignError(f"Cluster Dask injoignable : {params.dask_address} ({exc}).") from exc
        else:  # the tasks of this flow; their threads only wait on the reader processes
            received, validated = _read_and_validate(str(submissions), year, started_at, progress_id, pool_token,
                                                     batches)
    finally:
        ref_future.wait()
    ref = ref_future.result()
    regions = list(params.regions) or referential_regions(ref.history)
    resolution = reconcile(quote(validated), quote(ref), url)
    status_rows, submission_rows = compute_statuses(quote(validated), quote(resolution), quote(ref),
                                                    quote(calendar_frame), year, quote(regions))
    # changes: each centre's declarations against its previous exercise and FINESS
    change_rows = detect_changes(quote(submission_rows), quote(ref), year, quote(regions), url)
    campaign_load = stages.build_load(year, regions, received, validated, status_rows, submission_rows, run_id,
                                      dt.datetime.now(dt.timezone.utc), changes=change_rows)
    load(url, quote(campaign_load))
    _publish(params, year, regions, run_name, received, validated, campaign_load, run_id, url)
    counts = stages.status_counts(campaign_load.statuses)
    end = {
        "regions": ",".join(regions),
        "finess_extract_date": ref.latest_date,
        "finess_extracts": json.dumps([{**e, "extract_date": e["extract_date"].isoformat()} for e in ref.extracts]),
        "input_checksums": json.dumps({o.source_file: o.sha256 for o in received.outcomes}, sort_keys=True),
        "files_read": sum(o.readable for o in received.outcomes),
        "files_unreadable": sum(not o.readable for o in received.outcomes),
        "submissions": campaign_load.submissions.height,
        **{f"n_{status}": count for status, count in counts.items()},
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "outcome": "succeeded",
    }
    return stages.summary_text(year, campaign_load.statuses, received, campaign_load.changes), end


def _publish(params, year, regions, run_name, received, validated, campaign_load, run_id, url) -> None:
    statuses = campaign_load.statuses
    unreadable = [(o.source_file, o.reason) for o in received.outcomes if not o.readable]
    artifacts.publish_summary(artifacts.artifact_key(run_name, "synthese"), artifacts.summary_markdown(
        year, regions, statuses, campaign_load.issues, len(received.outcomes) - len(unreadable), unreadable,
        run_id, warehouse.redact(url), changes=campaign_load.changes))
    artifacts.publish_chase_table(
        artifacts.artifact_key(run_name, "a-relancer"), artifacts.chase_rows(statuses),
        statuses.filter(pl.col("status").is_in(artifacts.TO_CHASE)).height)
    folder = params.output_folder(year)
    written, not_written = [], None
    if folder is None:
        not_written = "aucun dossier des classeurs n'est donné (paramètre « Dossier des classeurs »)."
    else:
        written = [Path(write_feedback(quote(received), quote(validated), str(folder / f"{run_name}-retours.xlsx")))]
        written += [Path(p) for p in write_relance(url, year, regions, str(folder))]
    artifacts.publish_workbooks(artifacts.artifact_key(run_name, "classeurs"),
                                artifacts.workbooks_markdown("Classeurs de retour et de relance", written, not_written))


# ------------------------------------------------------------------ secrets, concurrency
def resolve_warehouse_url(params: CampaignParameters) -> str:
    """The URL given, else the Secret block named, else OBSERVATOIRE_WAREHOUSE_URL, else
    the local SQLite file. The result may hold a password: log only `warehouse.redact`."""
    if params.warehouse_url:
        return params.warehouse_url
    if params.warehouse_secret:
        from prefect.blocks.system import Secret

        try:
            return str(Secret.load(params.warehouse_secret).get())
        except ValueError as exc:  # Prefect's "Unable to find block document named …"
            raise CampaignError(f"Bloc Secret « {params.warehouse_secret} » introuvable sur le serveur Prefect "
                                f"(créez-le : voir deploy/README.md).") from exc
    return warehouse.warehouse_url(None)


def concurrency_limit_name(year: int) -> str:
    return f"campagne-{year}"


@contextmanager
def campaign_slot(year: int):
    """Hold the one slot of campaign `year` for the whole run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = concurrency_limit_name(year)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:  # another run of the same year created it first
                pass
    get_run_logger().info("Attente du créneau « %s » (une exécution par campagne à la fois)", name)
    with concurrency(name, occupy=1, strict=True):
        yield
