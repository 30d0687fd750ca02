"""How the referential stage hands its history to the run before its snapshots are
written."""
from __future__ import annotations

import datetime as dt

import pytest

from flows.parameters import CampaignParameters
from observatoire import pipeline


# ---------------------------------------------------------------------- the referential's handoff
def test_a_handoff_takes_what_the_stage_gives_first():
    handoff = pipeline.Handoff()
    handoff.give("history")
    handoff.give("again, by a retry of the stage")  # not taken: the run already went on with the first
    stage = pipeline.Background(lambda: "stored")
    stage.add_done_callback(handoff.stage_ended)
    assert stage.result() == "stored" and handoff.result() == "history"


def test_a_stage_that_fails_before_giving_hands_its_failure_over():
    handoff = pipeline.Handoff()

    def fails():
        raise RuntimeError("extrait illisible")

    stage = pipeline.Background(fails)
    stage.add_done_callback(handoff.stage_ended)
    with pytest.raises(RuntimeError, match="extrait illisible"):
        handoff.result()


def _small_run(tmp_path):
    from tests.support.small_campaign import write_small_campaign

    campaign = write_small_campaign(tmp_path / "data")
    return CampaignParameters(year=2024, submissions=str(campaign.submissions), finess=[str(campaign.finess)],
                              warehouse_url=f"sqlite:///{tmp_path / 'w.db'}", regions=["84"])


def _warehouse_after(tmp_path):
    """(status rows, FINESS snapshots, (outcome, message) of each run) of the small run's warehouse."""
    import sqlite3

    with sqlite3.connect(tmp_path / "w.db") as connection:
        return (connection.execute("SELECT count(*) FROM centre_year_status").fetchone()[0],
                connection.execute("SELECT count(*) FROM finess_snapshot").fetchone()[0],
                connection.execute("SELECT outcome, message FROM pipeline_run").fetchall())


def _warehouse_after_failing(tmp_path, exception: type[BaseException], message: str):
    """The small run, which must raise `exception` matching `message`; then `_warehouse_after`."""
    with pytest.raises(exception, match=message):
        pipeline.run_campaign(_small_run(tmp_path))
    return _warehouse_after(tmp_path)


def _before_the_history_is_written(monkeypatch, action) -> None:
    """`action()` runs in the referential stage just before it writes the FINESS history
    (raising there fails the write)."""
    from observatoire import referential_store

    written = referential_store.insert_rows

    def insert_rows(connection, table, frame):
        if table == "finess_et_history":
            action()
        written(connection, table, frame)

    monkeypatch.setattr(referential_store, "insert_rows", insert_rows)


def test_a_run_goes_on_while_the_snapshots_are_written_and_fails_if_they_cannot_be(tmp_path, monkeypatch):
    """The run reconciles with the referential handed over before its snapshots are
    written; when writing them fails, the run fails and loads nothing."""
    import sqlite3

    reconciled_before_written = []

    def history_cannot_be_written():
        with sqlite3.connect(tmp_path / "w.db", timeout=0.5) as reader:  # the warehouse read meanwhile
            reader.execute("SELECT count(*) FROM reconciliation_decision").fetchone()
        raise sqlite3.OperationalError("disk I/O error")  # the snapshots cannot be written

    stages_reconcile = pipeline.stages.reconcile

    def reconcile(*args):
        reconciled_before_written.append(True)
        return stages_reconcile(*args)

    _before_the_history_is_written(monkeypatch, history_cannot_be_written)
    monkeypatch.setattr(pipeline.stages, "reconcile", reconcile)
    statuses, snapshots, runs = _warehouse_after_failing(tmp_path, Exception, "disk I/O error")
    assert statuses == 0 and snapshots == 0
    assert [outcome for outcome, _ in runs] == ["failed"]
    assert reconciled_before_written == [True]


def test_a_run_refused_while_the_snapshots_are_written_waits_for_them_and_says_refused(tmp_path, monkeypatch):
    """The main line refuses the run (a guard) while the referential stage is still writing:
    the run records its end after that write, as `refused`, and loads nothing; the new
    snapshot is kept (the referential does not depend on the campaign's data)."""
    import threading
    from types import SimpleNamespace

    from observatoire.errors import RunRefused

    refused = threading.Event()

    def check_data(*args):
        refused.set()
        raise RunRefused(SimpleNamespace(message=lambda: "refus de la garde"))

    def after_the_refusal():
        assert refused.wait(60)  # the write goes on after the main line has refused the run

    _before_the_history_is_written(monkeypatch, after_the_refusal)
    monkeypatch.setattr(pipeline.stages, "check_data", check_data)
    statuses, snapshots, runs = _warehouse_after_failing(tmp_path, RunRefused, "refus de la garde")
    assert statuses == 0 and snapshots == 1
    assert runs == [("refused", "refus de la garde")]


# ---------------------------------------------------------------------- the campaign's name
def test_a_run_whose_calendar_moves_the_date_limite_names_that_date(tmp_path):
    """The summary named the default « avant le 1er mars » whatever the calendar said; a
    dérogation (later, for one centre) does not change the campaign's date."""
    params = _small_run(tmp_path)
    calendar = tmp_path / "calendrier.csv"
    calendar.write_text("annee;finess_et;date_limite\n2024;;14/03/2025\n2024;690000070;01/04/2025\n",
                        encoding="utf-8")
    run = pipeline.run_campaign(params.model_copy(update={"calendar": str(calendar)}))
    assert run.deadline == dt.date(2025, 3, 14)
    assert run.summary.splitlines()[0] == ("Campagne 2024 (exercice 2024, rapports dus au plus tard le 14 mars 2025) "
                                           ": consolidation terminée")
    default = pipeline.run_campaign(params.model_copy(update={"warehouse_url": f"sqlite:///{tmp_path / 'w2.db'}"}))
    assert default.summary.splitlines()[0] == ("Campagne 2024 (exercice 2024, rapports dus avant le 1er mars 2025) "
                                               ": consolidation terminée")
