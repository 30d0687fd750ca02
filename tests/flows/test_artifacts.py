"""What the run page shows: the markdown summary, the table of centres to chase and the
workbook locations, built from small status and issue frames."""
from __future__ import annotations

import datetime as dt

import polars as pl

from flows import artifacts
from observatoire.readers.batches import read_batches

STATUSES = pl.DataFrame({
    "region_code": ["84", "84", "84", "84", "11", None],
    "departement": ["69", "69", "01", "69", "75", None],
    "finess_et": ["690000013", "690000039", "010000016", "690000070", "750000010", None],
    "raison_sociale": ["A", "B", "C", "D", "E", "?"],
    "status": ["on_time", "invalid", "missing", "late", "missing", "unexpected"],
    "status_reason": ["r1", "r2", "r3", "r4", "r5", "r6"],
    "days_late": [None, None, None, 3, None, None],
    "telephone": ["0478000000", None, None, None, None, None],
})
ISSUES = pl.DataFrame({
    "source_file": ["a.csv", "b.csv", "b.csv", "c.csv"],
    "field": ["file_active", "file_active", "nb_actes", None],
    "label": ["File active", "File active", None, None],
    "severity": ["error", "error", "warning", "error"],
    "message": ["« beaucoup » n'est pas un nombre", "« x » n'est pas un nombre", "valeur élevée",
                "fichier illisible : PDF"],
})


def test_pivot_counts_each_region_and_status():
    pivot = artifacts.status_pivot(STATUSES)
    assert pivot.select("region_code", "on_time", "late", "invalid", "missing", "unexpected", "total").rows() == [
        ("11", 0, 0, 0, 1, 0, 1), ("84", 1, 1, 1, 1, 0, 4), ("?", 0, 0, 0, 0, 1, 1)]


def test_top_issues_errors_first_most_frequent_first():
    top = artifacts.top_issues(ISSUES)
    assert top.select("severity", "what", "occurrences", "files").rows() == [
        ("error", "File active", 2, 2), ("error", "fichier", 1, 1), ("warning", "nb_actes", 1, 1)]


def test_summary_markdown_has_counts_files_and_issues():
    text = artifacts.summary_markdown(2024, ["11", "84"], STATUSES, ISSUES, 3, [("bad.xlsx", "PDF renommé")],
                                      "run-1", "sqlite:///w.db")
    # named as everywhere else (observatoire.vocabulary): by the exercise year, with when it is due
    assert text.startswith("# Campagne 2024 (exercice 2024, rapports dus avant le 1er mars 2025)")
    assert "| 84 | 1 | 1 | 1 | 1 | 0 | 0 | 4 |" in text
    assert "| **Total** | **1** | **1** | **1** | **2** | **0** | **1** | **6** |" in text
    assert "**4 centre(s) à relancer**" in text
    assert "- `bad.xlsx` : PDF renommé" in text
    # severities in the words of the workbooks (observatoire.vocabulary)
    assert "| bloquant | File active | 2 | 2 | « beaucoup » n'est pas un nombre |" in text


def test_chase_rows_missing_then_invalid_then_late():
    rows = artifacts.chase_rows(STATUSES)
    assert [(r["FINESS ET"], r["Statut"], r["Jours de retard"]) for r in rows] == [
        ("750000010", "manquant", None), ("010000016", "manquant", None),
        ("690000039", "invalide", None), ("690000070", "en retard", 3)]
    assert len(artifacts.chase_rows(STATUSES, limit=2)) == 2


def test_workbooks_markdown_says_where_or_why_not(tmp_path):
    written = artifacts.workbooks_markdown("Classeurs", [tmp_path / "r84.xlsx"], None)
    assert f"`{tmp_path / 'r84.xlsx'}`" in written and "1 classeur(s)" in written
    assert "Aucun classeur écrit : module absent" in artifacts.workbooks_markdown("C", [], "module absent")


def test_artifact_keys_are_valid_prefect_keys():
    assert artifacts.artifact_key("campagne-2024-r84", "synthese") == "campagne-2024-r84-synthese"
    assert artifacts.artifact_key("Campagne 2024_r84", "à relancer") == "campagne-2024-r84-relancer"


def test_read_batches_cover_every_file_once():
    files = [f"f{i}.csv" for i in range(7003)]
    batches = read_batches(files)
    assert [f for batch in batches for f in batch] == files
    # about 12 batches (one read task and one progress step each): ceil(7003 / 12) = 584 files
    assert max(map(len, batches)) == 584 and len(batches) == 12
    # but at least 500 files per task: 1,003 files make 3 tasks (500, 500, 3), not 12 of 84
    assert [len(batch) for batch in read_batches(files[:1003])] == [500, 500, 3]
    assert read_batches(files[:3]) == [files[:3]]
    # at most 2,500 files per task: 100,000 files make 40 tasks, not 12 of 8,334
    big = read_batches([f"f{i}" for i in range(100_000)])
    assert max(map(len, big)) == 2500 and len(big) == 40


def test_a_run_shares_one_warehouse_engine_and_disposes_it(tmp_path):
    from observatoire.warehouse import run_engine, shared_engine

    url = f"sqlite:///{tmp_path / 'entrepot.db'}"
    with shared_engine(url) as engine:
        assert run_engine(url) is engine  # the tasks of the run use it
        with shared_engine(url) as second_run:  # another run in the same process, same warehouse
            assert second_run is engine
        assert run_engine(url) is engine  # still used by the first run
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        assert engine.pool.checkedin() == 1
    assert engine.pool.checkedin() == 0  # disposed with the last run
    assert run_engine(url) is not engine  # outside a run: a new engine


CHANGES = pl.DataFrame({
    "campaign_year": [2024, 2024, 2024], "region_code": ["84", "84", "11"],
    "finess_et": ["690000013", "690000013", "750000010"], "kind": ["adresse", "adresse", "antenne_retiree"],
    "source": ["envoi_precedent", "finess", "envoi_precedent"], "field": ["commune_insee", "commune_insee", "antennes"],
    "previous_value": ["69123", "69123", "750000028"], "new_value": ["69266", "69266", None],
    "message": ["déménagement | non signalé ?", "adresse à mettre à jour dans FINESS ?", "antenne fermée ?"],
})


def test_summary_counts_and_lists_the_changes_to_report():
    text = artifacts.summary_markdown(2024, ["84", "11"], STATUSES, ISSUES, 3, [], "run-1", "sqlite:///w.db",
                                      changes=CHANGES)
    section = text.split("## Changements à signaler", 1)[1].split("## Problèmes", 1)[0]
    assert "**3 changement(s) ou écart(s)** pour 2 centre(s) : 2 par rapport à l'exercice précédent, 1 par " \
           "rapport à FINESS" in section
    rows = [line for line in section.splitlines() if line.startswith("| 84") or line.startswith("| 11")]
    assert rows[0] == ("| 84 | 690000013 | adresse | exercice précédent | 69123 | 69266 | "
                       "déménagement \\| non signalé ? |")
    assert rows[2].startswith("| 11 | 750000010 | antenne retirée | exercice précédent | 750000028 |  |")
    empty = artifacts.summary_markdown(2024, ["84"], STATUSES, ISSUES, 3, [], "r", "w", changes=CHANGES.head(0))
    assert "Aucun changement ni écart avec FINESS" in empty


def test_command_summary_has_a_line_of_changes():
    from observatoire import stages

    line = stages.changes_line(CHANGES)
    assert line.startswith("Changements à signaler : 3 pour 2 centre(s) (2 par rapport à l'exercice précédent, "
                           "1 par rapport à FINESS) : adresse 2, antenne retirée 1")
    assert stages.changes_line(CHANGES.head(0)).startswith("Changements à signaler : aucun")


def test_the_summary_names_the_date_limite_its_calendar_set():
    text = artifacts.summary_markdown(2024, ["84"], STATUSES, ISSUES, 3, [], "r", "w", deadline=dt.date(2025, 3, 14))
    assert text.startswith("# Campagne 2024 (exercice 2024, rapports dus au plus tard le 14 mars 2025)")
