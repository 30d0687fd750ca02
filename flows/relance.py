"""Prefect wiring of the pre-deadline reminder (mid-February): who has not submitted
yet for the campaign in progress? It consolidates the campaign as it stands (so the
warehouse shows today's statuses; the March run replaces them) and then writes the
relance workbooks from the warehouse.
"""
from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import artifacts, engine
from flows.campaign import consolidate_campaign, resolve_warehouse_url
from flows.parameters import CampaignParameters
from observatoire import warehouse


@task(name="classeurs de relance", task_run_name="classeurs de relance", cache_policy=NO_CACHE, retries=1,
      retry_delay_seconds=5)
def write_relance(url: str, year: int, regions: list[str] | None, out_dir: str) -> list[str]:
    from observatoire.reports.relance import write_relance_workbooks

    engine = warehouse.connect(url)
    try:
        paths = write_relance_workbooks(engine, year, regions, Path(out_dir))
    finally:
        engine.dispose()
    for path in paths:
        get_run_logger().info("Classeur de relance écrit : %s", path)
    return [str(path) for path in paths]


def _run_name() -> str:
    from prefect.runtime import flow_run

    return CampaignParameters.model_validate(flow_run.parameters.get("params") or {}).run_name("relance")


@engine.flow(name="relance-pre-echeance", flow_run_name=_run_name)
def relance_pre_echeance(params: CampaignParameters = CampaignParameters()) -> list[str]:
    """Avant la date limite : consolide la campagne en cours (exercice de l'année
    précédente par défaut) puis écrit les classeurs de relance des centres qui n'ont pas
    encore transmis, par région. Renvoie les chemins des classeurs."""
    year = params.exercise_year()
    # Pin the year: a run started on 31 December must not relaunch another campaign.
    params = params.model_copy(update={"year": year})
    # the consolidation writes no workbook here: this run's product is the relance
    consolidate_campaign(params.model_copy(update={"output_dir": None}))
    url = resolve_warehouse_url(params)
    folder = params.output_folder(year)
    written, not_written = [], None
    if folder is None:
        not_written = "aucun dossier des classeurs n'est donné (paramètre « Dossier des classeurs »)."
    else:
        written = write_relance(url, year, params.regions or None, str(folder))
    artifacts.publish_workbooks(
        artifacts.artifact_key(params.run_name("relance"), "classeurs"),
        artifacts.workbooks_markdown("Classeurs de relance", [Path(p) for p in written], not_written))
    return written

