"""What does one campaign run do, in which order? Written once, as plain Python that runs
in the command's own process; the Prefect flow (flows/campaign.py) runs the same function
and only says how each stage is run and shown (tasks, retries, artifacts, logs).

files ─read─▶ cells ─validate─▶ typed + issues ─┐
FINESS extracts ─▶ referential history ─────────▶ reconcile ─▶ statuses ─▶ changes ─▶ load ─▶ publish
calendar ─────────────────────────────────────────────────────────┘          ▲
previous exercise's reports (warehouse) ──────────────────────────────────────┘

Around the stages, the life of a run: the reader processes (or Dask client) it starts go
with it, it holds its campaign year alone (run_lock), it closes the `running` rows of the
runs of its year that died, and it closes its own row however it ends (SIGTERM
included: it stops the run within seconds, as `interrupted`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import uuid
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from flows.parameters import CampaignParameters
from observatoire import run_lock, stages, warehouse
from observatoire.errors import CampaignError, RunRefused
from observatoire.readers.batches import read_batches, read_in_batches, reader_count, reader_processes
from observatoire.readers.calendar import read_calendar
from observatoire.review_store import read_decisions
from observatoire.run_guards import check_arguments
from transforms.campaign_calendar import campaign_deadline
from transforms.changes import DECLARATION_FIELDS
from transforms.referential import referential_regions

STAGES = ("referential", "read", "validate", "reconcile", "statuses", "changes", "load", "publish")
STAGE_LABELS = {
    "referential": "référentiel FINESS", "read": "lecture des fichiers", "validate": "validation",
    "reconcile": "rapprochement FINESS", "statuses": "statuts", "changes": "changements à signaler",
    "load": "chargement de l'entrepôt",
    "publish": "classeurs de retour et de relance",
}


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM during a run. Not an Exception, so that no `except Exception` on the way (a
    retry, a fallback) takes it for a failure to work around; handled like Ctrl-C."""


@dataclass
class CampaignRun:
    """What a run did: its row of pipeline_run, and the frames the publication needs."""
    run_id: str
    year: int
    regions: list[str]
    run_name: str
    warehouse: str  # redacted URL
    received: stages.ReceivedFiles
    validated: stages.ValidatedSubmissions
    referential: stages.Referential
    load: object  # warehouse.CampaignLoad
    workbooks: list[Path] = field(default_factory=list)
    workbooks_not_written: str | None = None
    summary: str = ""
    # a run limited to some regions: the submissions of other regions (or of none) it left
    # alone, and every file it looked at (`received` shows only its regions')
    left_alone: int = 0
    input_outcomes: list | None = None
    deadline: dt.date | None = None  # the campaign's date limite, as its statuses show it


class Background:
    """A stage running on a thread of its own, beside the main line of the run. A daemon
    thread: a run stopped by SIGTERM does not wait for it to finish."""

    def __init__(self, function, *args) -> None:
        self._future: Future = Future()
        threading.Thread(target=self._run, args=(function, args), daemon=True,
                         name=f"observatoire-{getattr(function, '__name__', 'stage')}").start()

    def _run(self, function, args) -> None:
        try:
            self._future.set_result(function(*args))
        except BaseException as exc:
            self._future.set_exception(exc)

    def wait(self) -> None:
        self._future.exception()

    def result(self):
        return self._future.result()

    def add_done_callback(self, function) -> None:
        """`function(self)` when the stage has ended (at once if it has)."""
        self._future.add_done_callback(lambda _future: function(self))


class Handoff:
    """What a stage running in the background hands to the main line before it ends: the
    value it gives as soon as it knows it (`give`), else its own outcome when it ends
    (`stage_ended`; a stage that fails before giving it, after its retries). The first of
    the two counts."""

    def __init__(self) -> None:
        self._future: Future = Future()
        self._lock = threading.Lock()

    def give(self, value) -> None:
        with self._lock:
            if not self._future.done():
                self._future.set_result(value)

    def stage_ended(self, stage) -> None:
        with self._lock:
            if self._future.done():
                return
            try:
                self._future.set_result(stage.result())
            except BaseException as exc:
                self._future.set_exception(exc)

    def result(self):
        return self._future.result()


class Hooks:
    """How a runner runs and shows the stages. These defaults run each stage here, in
    this process, and show nothing; the command's terminal progress and the Prefect flow
    override what they need."""

    def step(self, stage: str, function, *args):
        """Run one stage, `function(*args)`, and return its result."""
        return function(*args)

    def step_in_background(self, stage: str, function, *args):
        """Start a stage beside the main line; the result has `.result()`, `.wait()` and
        `.add_done_callback(function)`."""
        return Background(function, *args)

    def started(self, stage: str) -> None:
        """A stage starts (`STAGES`)."""

    def done(self, stage: str, result) -> None:
        """A stage is over, with its result."""

    def files_read(self, batch, done: int, total: int) -> None:
        """A batch of files is read: `done` files of `total` so far."""

    def waiting(self, message: str) -> None:
        """The run waits for its campaign year, held by another run (message in French)."""

    def waiting_for(self, stage: str) -> None:
        """The main line has nothing left to do before `stage`, running beside it, ends."""

    def finished(self, run: CampaignRun) -> None:
        """The run is over and recorded (the Prefect flow publishes its artifacts here)."""


@contextmanager
def stopped_by_sigterm():
    """SIGTERM raises RunInterrupted in the run's thread, so that the run closes what it
    started and records how it ended. Only where signals are delivered: the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, _frame):
        # once: a second SIGTERM must not break the closing of what the run started
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise RunInterrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_campaign(params: CampaignParameters, hooks: Hooks | None = None,
                 warehouse_url: str | None = None) -> CampaignRun:
    """Consolidate the campaign of `params` into the warehouse (`warehouse_url`, else the
    one `params` names) and write its workbooks. Raises CampaignError with a French
    message when it cannot; the run's row of pipeline_run says how it ended."""
    hooks = hooks or Hooks()
    year = params.exercise_year()
    check_arguments(year, params.regions, params.force)  # before anything starts (transforms/guards.py)
    url = warehouse_url or warehouse.warehouse_url(params.warehouse_url)
    started_at = dt.datetime.now(dt.timezone.utc)
    run_id = str(uuid.uuid4())
    # the reader processes start first: they import the readers while this run migrates
    # the warehouse and waits for its year
    workers = reader_count(params.submissions_dir(year), params.read_workers, params.dask_address)
    with stopped_by_sigterm(), reader_processes(workers, params.dask_address) as readers, \
            warehouse.shared_engine(url) as engine:
        warehouse.migrate(engine)
        with run_lock.campaign_lock(engine, year, on_wait=hooks.waiting):
            _close_dead_runs(engine, year, run_id)
            warehouse.record_run_start(engine, {
                "run_id": run_id, "campaign_year": year, "regions": ",".join(params.regions),
                "parameters": json.dumps(_recorded_parameters(params, year, url), ensure_ascii=False),
                "started_at": started_at, "outcome": "running",
            })
            try:
                run = _consolidate(params, year, run_id, started_at, url, engine, readers, hooks)
            except BaseException as exc:
                interrupted = isinstance(exc, KeyboardInterrupt)  # RunInterrupted (SIGTERM) too
                message = (f"exécution interrompue ({exc or 'SIGINT'})" if interrupted
                           else str(exc) if isinstance(exc, CampaignError) else f"{type(exc).__name__}: {exc}")
                outcome = "interrupted" if interrupted else "refused" if isinstance(exc, RunRefused) else "failed"
                warehouse.record_run_end(engine, run_id, {
                    "finished_at": dt.datetime.now(dt.timezone.utc), "outcome": outcome, "message": message})
                raise
            warehouse.record_run_end(engine, run_id, _end_of_run(run))
    hooks.finished(run)
    return run


def _close_dead_runs(engine, year: int, run_id: str) -> None:
    """The `running` rows of this year are dead (this run holds the year); those of another
    year are when no run holds that year now."""
    warehouse.close_dead_runs(engine, year, noticed_by=run_id)
    for other in warehouse.years_with_running_rows(engine):
        if other != year:
            with run_lock.lock_if_free(engine, other) as free:
                if free:
                    warehouse.close_dead_runs(engine, other, noticed_by=run_id)


def _recorded_parameters(params: CampaignParameters, year: int, url: str) -> dict:
    calendar = params.calendar_file(year)
    return {
        "year": year, "regions": params.regions or None, "submissions": str(params.submissions_dir(year)),
        "finess": list(params.finess), "calendar": str(calendar) if calendar else None,
        "warehouse": warehouse.redact(url), "warehouse_secret": params.warehouse_secret,
        "output_dir": params.output_dir, "dask_address": params.dask_address,
        "process": f"{os.uname().nodename}:{os.getpid()}",
    }


def _consolidate(params, year: int, run_id: str, started_at: dt.datetime, url: str, engine, readers,
                 hooks: Hooks) -> CampaignRun:
    def step(stage: str, function, *args):
        hooks.started(stage)
        result = hooks.step(stage, function, *args)
        hooks.done(stage, result)
        return result

    submissions = params.submissions_dir(year)
    # FINESS extracts ─▶ referential history, while the reader processes read the files;
    # the history is handed over before the new snapshots are written, which goes on
    hooks.started("referential")
    history = Handoff()
    referential = hooks.step_in_background("referential", stages.load_referential, params.finess_files(), engine,
                                           params.force, history.give)
    referential.add_done_callback(history.stage_ended)
    try:
        files = stages.list_files(submissions)
        stages.check_files(files, submissions, params.force)  # an empty or unmounted folder
        batches = read_batches([str(p) for p in files])
        readers.queue(batches, str(submissions))  # the readers start on every file now
        calendar = read_calendar(params.calendar_file(year))
        # files ─read─▶ cells ─validate─▶ typed + issues
        contents = step("read", read_in_batches, readers, batches, submissions, hooks.files_read)
        readers.done_reading()  # every file is read: the reader processes' memory goes back
        received = stages.gather(contents, submissions)
        validated = step("validate", readers.call, stages.validate, received, year, started_at)
        ref = history.result()
        regions = list(params.regions) or referential_regions(ref.history)
        scoped = bool(params.regions)  # limited to some regions: the others' submissions are left alone
        # ─▶ reconcile ─▶ statuses ─▶ load ─▶ publish
        resolution = step("reconcile", stages.reconcile, validated, ref, read_decisions(engine))
        status_rows, submission_rows = step("statuses", stages.statuses, validated, resolution, ref, calendar, year,
                                            regions, scoped)
        stages.check_data(engine, year, regions, validated, status_rows, params.force)  # before anything is replaced
        # each centre's report against its previous exercise's (in the warehouse) and FINESS
        changes = step("changes", centre_changes, engine, submission_rows, ref, year, regions)
        load = stages.build_load(year, regions, received, validated, status_rows, submission_rows, run_id,
                                 dt.datetime.now(dt.timezone.utc), scoped, changes=changes)
    except KeyboardInterrupt:  # SIGTERM, Ctrl-C: stop now, without waiting for the referential
        raise
    except BaseException:
        referential.wait()  # it writes FINESS snapshots: not after the run has recorded its end
        raise
    hooks.waiting_for("referential")
    hooks.done("referential", referential.result())  # the FINESS snapshots are written before the load
    step("load", warehouse.load_campaign, engine, load)
    input_outcomes = received.outcomes
    if scoped:  # the feedback workbook, the summary and the artifacts show the run's regions only
        received, validated = stages.scoped_view(received, validated, submission_rows)
    run_name = params.run_name("campagne")
    workbooks, not_written = step("publish", write_workbooks, params.output_folder(year), run_name, received,
                                  validated, engine, year, regions)
    notes = stages.run_notes(submission_rows, calendar, ref, year, regions, scoped)
    deadline = campaign_deadline(load.statuses["deadline"])
    return CampaignRun(run_id=run_id, year=year, regions=regions, run_name=run_name, warehouse=warehouse.redact(url),
                       received=received, validated=validated, referential=ref, load=load, workbooks=workbooks,
                       workbooks_not_written=not_written,
                       summary=stages.summary_text(year, load.statuses, received, notes, load.changes, deadline),
                       left_alone=submission_rows.filter(~pl.col("in_scope")).height, input_outcomes=input_outcomes,
                       deadline=deadline)


def centre_changes(engine, submission_rows: pl.DataFrame, ref: stages.Referential, year: int,
                   regions: list[str]) -> pl.DataFrame:
    """The changes stage: the previous exercise's current reports, read from the warehouse,
    then `stages.changes`."""
    previous = warehouse.read_current_declarations(engine, year - 1, list(DECLARATION_FIELDS))
    return stages.changes(submission_rows, ref, previous, year, regions)


def write_workbooks(folder: Path | None, run_name: str, received, validated, engine, year: int,
                    regions: list[str]) -> tuple[list[Path], str | None]:
    """The feedback workbook of the run and one relance workbook per region, in `folder`;
    (paths, why none were written)."""
    if folder is None:
        return [], "aucun dossier des classeurs n'est donné (paramètre « Dossier des classeurs »)."
    from observatoire.reports.feedback import write_run_feedback  # openpyxl: only when workbooks are wanted
    from observatoire.reports.relance import write_relance_workbooks

    written = [write_run_feedback(received, validated, folder / f"{run_name}-retours.xlsx")]
    written += write_relance_workbooks(engine, year, regions, folder)
    return written, None


def _end_of_run(run: CampaignRun) -> dict:
    outcomes, ref = run.input_outcomes or run.received.outcomes, run.referential
    counts = stages.status_counts(run.load.statuses)
    return {
        "regions": ",".join(run.regions),
        "finess_extract_date": ref.latest_date,
        "finess_extracts": json.dumps([{**e, "extract_date": e["extract_date"].isoformat()} for e in ref.extracts]),
        "input_checksums": json.dumps({o.source_file: o.sha256 for o in outcomes}, sort_keys=True),
        "files_read": sum(o.readable for o in outcomes),
        "files_unreadable": sum(not o.readable for o in outcomes),
        "submissions": run.load.submissions.height,
        "submissions_other_regions": run.left_alone,
        **{f"n_{status}": count for status, count in counts.items()},
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "outcome": "succeeded",
    }

