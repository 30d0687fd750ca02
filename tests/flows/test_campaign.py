"""The campaign flow run in-process against the session's Prefect test harness: reads
and validates on a Dask LocalCluster, loads the warehouse, publishes the artifacts (the
small campaign is tests/support/small_campaign.py)."""
from __future__ import annotations

import sqlite3

import pytest

from tests.support.small_campaign import (
    EXPECTED_CHASE, EXPECTED_STATUSES, run_artifacts, warehouse_statuses, write_small_campaign,
)

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out


def test_small_campaign_on_a_dask_cluster(prefect_harness, tmp_path):
    from distributed import LocalCluster

    from flows.campaign import consolidate_campaign
    from flows.parameters import CampaignParameters

    campaign = write_small_campaign(tmp_path / "campagne")
    db = tmp_path / "entrepot.db"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp",
                      dashboard_address=":0") as cluster:
        params = CampaignParameters(
            year=2024, regions=["84"], submissions=str(campaign.root / "envois" / "{annee}"),
            finess=[str(campaign.root / "finess" / "*.csv")], warehouse_url=f"sqlite:///{db}",
            dask_address=cluster.scheduler_address, output_dir=str(tmp_path / "sorties"),
        )
        state = consolidate_campaign(params=params, return_state=True)
        dask_prefixes = set(cluster.scheduler.task_prefixes)
    assert state.is_completed(), state.message

    assert warehouse_statuses(db) == EXPECTED_STATUSES
    # the read and validation tasks went through the Dask scheduler
    assert dask_prefixes, "aucune tâche n'a été soumise au cluster Dask"

    found = run_artifacts(state.state_details.flow_run_id)
    assert set(found) >= {"campagne-2024-r84-synthese", "campagne-2024-r84-a-relancer",
                          "campagne-2024-r84-lecture", "campagne-2024-r84-classeurs"}
    summary = found["campagne-2024-r84-synthese"].data
    assert "| 84 | 1 | 1 | 1 | 1 | 0 | 0 | 4 |" in summary
    assert "bad.xlsx" in summary and "Lus : 2 ; illisibles : 1." in summary
    table = found["campagne-2024-r84-a-relancer"].data
    rows = __import__("json").loads(table) if isinstance(table, str) else table
    assert [(row["FINESS ET"], row["Statut"]) for row in rows] == EXPECTED_CHASE
    assert found["campagne-2024-r84-lecture"].data == pytest.approx(100.0)
    feedback = tmp_path / "sorties" / "campagne-2024-r84-retours.xlsx"
    relance = tmp_path / "sorties" / "relance_2024_region_84.xlsx"
    for workbook in (feedback, relance):
        assert workbook.stat().st_size > 0 and str(workbook) in found["campagne-2024-r84-classeurs"].data
    with sqlite3.connect(db) as connection:
        outcome, parameters = connection.execute("SELECT outcome, parameters FROM pipeline_run").fetchone()
    assert outcome == "succeeded" and cluster.scheduler_address in parameters


def test_unknown_secret_block_fails_with_one_french_line(prefect_harness, tmp_path):
    from flows.campaign import resolve_warehouse_url
    from flows.parameters import CampaignParameters
    from observatoire.errors import CampaignError

    with pytest.raises(CampaignError, match="Bloc Secret « pas-de-tel-bloc » introuvable"):
        resolve_warehouse_url(CampaignParameters(warehouse_secret="pas-de-tel-bloc"))


def test_secret_block_supplies_the_warehouse_url(prefect_harness, tmp_path):
    from prefect.blocks.system import Secret

    from flows.campaign import resolve_warehouse_url
    from flows.parameters import CampaignParameters
    from observatoire import warehouse

    url = "postgresql+psycopg://observatoire:s3cret@db.example:5432/observatoire"
    Secret(value=url).save("secret-entrepot-test", overwrite=True)
    # what the flow passes around is the masked URL; the password stays in this process
    shown = resolve_warehouse_url(CampaignParameters(warehouse_secret="secret-entrepot-test"))
    assert shown == "postgresql+psycopg://observatoire:***@db.example:5432/observatoire"
    assert warehouse._full_url(shown) == url
    # an explicit URL wins over the secret
    assert resolve_warehouse_url(CampaignParameters(warehouse_url="sqlite:///x.db",
                                                    warehouse_secret="secret-entrepot-test")) == "sqlite:///x.db"


def test_relance_consolidates_then_writes_one_workbook_per_region(prefect_harness, tmp_path):
    from flows.parameters import CampaignParameters
    from flows.relance import relance_pre_echeance

    campaign = write_small_campaign(tmp_path / "campagne")
    db = tmp_path / "entrepot.db"
    params = CampaignParameters(
        year=2024, regions=["84"], submissions=str(campaign.submissions), finess=[str(campaign.finess)],
        warehouse_url=f"sqlite:///{db}", output_dir=str(tmp_path / "rapports" / "{annee}"),
    )
    state = relance_pre_echeance(params=params, return_state=True)
    assert state.is_completed(), state.message
    assert warehouse_statuses(db) == EXPECTED_STATUSES
    found = run_artifacts(state.state_details.flow_run_id)
    workbooks = found["relance-2024-r84-classeurs"].data
    # the consolidation ran as a subflow and published its own artifacts
    assert "campagne-2024-r84-synthese" in found
    expected = tmp_path / "rapports" / "2024" / "relance_2024_region_84.xlsx"
    assert state.result() == [str(expected)] and expected.stat().st_size > 0
    assert str(expected) in workbooks
    from openpyxl import load_workbook

    chased = {row for sheet in load_workbook(expected).worksheets for r in sheet.iter_rows(values_only=True)
              for row in r if row in {"690000054", "690000039", "690000070", "690000013"}}
    assert chased == {"690000054", "690000039", "690000070"}
