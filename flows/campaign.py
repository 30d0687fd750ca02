"""Prefect wiring of a campaign: which stage runs after which, with retries on IO and no
result caching (a rerun redoes the work; the warehouse load makes it idempotent).

files ─read─▶ cells ─validate─▶ typed + issues ─┐
FINESS extracts ─▶ referential history ─▶ reconcile ─▶ statuses ─▶ load
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from observatoire import stages, warehouse
from observatoire.errors import CampaignError
from observatoire.readers.calendar import read_calendar
from transforms.referential import referential_regions

READ_BATCH = 250  # files per read task: Prefect overhead per batch, not per file


@task(name="référentiel FINESS", cache_policy=NO_CACHE, retries=1)
def load_referential(paths: list[str]) -> stages.Referential:
    return stages.load_referential([Path(p) for p in paths])


@task(name="lecture des fichiers", cache_policy=NO_CACHE, retries=1, task_run_name="lecture-{first}")
def read_batch(paths: list[str], root: str, first: int):
    contents = stages.read_files([Path(p) for p in paths], Path(root))
    logger = get_run_logger()
    for content in contents:
        outcome = content.outcome
        if outcome.readable:
            logger.info("%s : %s, %d envoi(s)", outcome.source_file, outcome.container, outcome.submissions)
        else:
            logger.warning("%s : illisible (%s)", outcome.source_file, outcome.reason)
    return contents


@task(name="validation", cache_policy=NO_CACHE)
def validate(received: stages.ReceivedFiles, year: int, run_at: dt.datetime) -> stages.ValidatedSubmissions:
    return stages.validate(received, year, run_at)


@task(name="rapprochement FINESS", cache_policy=NO_CACHE)
def reconcile(validated, ref):
    return stages.reconcile(validated, ref)


@task(name="statuts", cache_policy=NO_CACHE)
def compute_statuses(validated, resolution, ref, calendar, year, regions):
    return stages.statuses(validated, resolution, ref, calendar, year, regions)


@task(name="chargement de l'entrepôt", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def load(engine_url: str, campaign_load) -> None:
    warehouse.load_campaign(warehouse.connect(engine_url), campaign_load)


def _run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    regions = params.get("regions") or []
    return f"campagne-{params['year']}" + ("".join(f"-r{r}" for r in regions) if regions else "")


@flow(name="consolidation-campagne", flow_run_name=_run_name)
def consolidate_campaign(
    year: int,
    submissions: str,
    finess: list[str],
    regions: list[str] | None = None,
    calendar: str | None = None,
    warehouse_url: str | None = None,
) -> str:
    """Consolide une campagne : lit les envois, les valide, rapproche les FINESS, calcule
    le statut de chaque centre attendu et charge l'entrepôt. Renvoie le résumé."""
    run_id = str(uuid.uuid4())
    started_at = dt.datetime.now(dt.timezone.utc)
    url = warehouse.warehouse_url(warehouse_url)
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    parameters = {"year": year, "regions": regions, "submissions": str(submissions), "finess": list(finess),
                  "calendar": calendar, "warehouse": warehouse.redact(url)}
    warehouse.record_run_start(engine, {
        "run_id": run_id, "campaign_year": year, "regions": ",".join(regions or []),
        "parameters": json.dumps(parameters, ensure_ascii=False), "started_at": started_at, "outcome": "running",
    })
    try:
        summary, end = _consolidate(year, submissions, finess, regions, calendar, url, run_id, started_at)
    except Exception as exc:
        message = str(exc) if isinstance(exc, CampaignError) else f"{type(exc).__name__}: {exc}"
        warehouse.record_run_end(engine, run_id, {"finished_at": dt.datetime.now(dt.timezone.utc),
                                                  "outcome": "failed", "message": message})
        raise
    warehouse.record_run_end(engine, run_id, end)
    get_run_logger().info(summary)
    return summary


def _consolidate(year, submissions, finess, regions, calendar, url, run_id, started_at):
    ref = load_referential(finess)
    regions = sorted(regions) if regions else referential_regions(ref.history)
    calendar_frame = read_calendar(Path(calendar) if calendar else None)
    files = [str(p) for p in stages.list_files(Path(submissions))]
    batches = [
        read_batch.submit(files[i:i + READ_BATCH], str(submissions), i) for i in range(0, len(files), READ_BATCH)
    ]
    received = stages.gather([content for batch in batches for content in batch.result()], Path(submissions))
    validated = validate(received, year, started_at)
    resolution = reconcile(validated, ref)
    status_rows, submission_rows = compute_statuses(validated, resolution, ref, calendar_frame, year, regions)
    campaign_load = stages.build_load(year, regions, received, validated, status_rows, submission_rows, run_id,
                                      dt.datetime.now(dt.timezone.utc))
    load(url, campaign_load)
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
    return stages.summary_text(year, campaign_load.statuses, received), end
