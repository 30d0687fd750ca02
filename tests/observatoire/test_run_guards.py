"""Runs that look like a mistake, as an operator makes them (campaign-rules.md, "Reruns and
mistakes", "Which region a submission belongs to"): the command, through the Prefect flow,
on a warehouse that holds a consolidated campaign. A refused run exits 2 with one French
line naming the guard to force, replaces nothing and is recorded as refused; a run limited
to a region over a folder shared by several leaves the other regions' rows as they were."""
from __future__ import annotations

import json

import sqlalchemy as sa

from observatoire.cli import main
from tests.support.small_campaign import EXPORT_HEADER, export_row, write_small_campaign
from transforms.finess_key import finess_check_digit
import pytest

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

TABLES = ("centre_year_status", "submission", "submission_issue", "file_outcome", "reconciliation_review",
          "finess_snapshot", "finess_et_history")


def _rows(url: str, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def _content(url: str) -> dict[str, list[tuple]]:
    return {table: sorted(_rows(url, f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def _last_run(url: str) -> tuple:
    # SQLite keeps instants to the second and two refused runs can start within one: the
    # later insertion (rowid) breaks the tie
    return _rows(url, "SELECT outcome, message, campaign_year FROM pipeline_run "
                      "ORDER BY started_at DESC, rowid DESC")[0]


def _run(capsys, url, campaign, *extra, year="2024", submissions=None, finess=None) -> tuple[int, str, str]:
    args = ["run", "--year", year, "--submissions", str(submissions or campaign.submissions),
            "--finess", str(finess or campaign.finess), "--warehouse", url,
            "--output-dir", str(campaign.root / "sorties" / "{annee}"), *extra]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _command_lines(err: str) -> list[str]:
    """The command's own lines on stderr (in-process, the test session's Prefect logging
    writes there too; the command as a user runs it: `test_an_empty_folder_as_a_user_runs_it`)."""
    return [line for line in err.strip().splitlines() if line.startswith("observatoire : ")]


def _refused(code: int, err: str, guard: str, fragment: str) -> None:
    lines = _command_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("observatoire : Exécution refusée, rien n'est remplacé : ")
    assert fragment in lines[0] and f"--force {guard}" in lines[0]


def test_mistaken_runs_are_refused_and_replace_nothing(prefect_harness, tmp_path, capsys):
    campaign = write_small_campaign(tmp_path / "campagne")
    url = f"sqlite:///{tmp_path / 'entrepot.db'}"
    calendar = tmp_path / "calendrier.csv"
    # 010000024: a valid FINESS (finess.md) that the small referential does not hold
    calendar.write_text("annee;finess_et;date_limite\n2024;690000070;15/03/2025\n2024;010000024;15/03/2025\n",
                        encoding="utf-8")
    code, out, err = _run(capsys, url, campaign, "--region", "84", "--calendar", str(calendar))
    assert code == 0, err
    # the extension of an unknown centre: a warning in the summary, nothing else
    assert ("Calendrier, ligne 3 : dérogation pour le FINESS 010000024, que le référentiel ne connaît pas" in out)
    consolidated = _content(url)
    statuses = dict(_rows(url, "SELECT finess_et, status FROM centre_year_status"))
    assert statuses == {"690000013": "on_time", "690000039": "invalid", "690000054": "missing",
                        "690000070": "on_time"}  # D is on time with its extension

    empty = tmp_path / "partage-non-monte"
    empty.mkdir()
    code, out, err = _run(capsys, url, campaign, "--region", "84", submissions=empty)
    _refused(code, err, "aucun-envoi", f"le dossier des envois {empty} ne contient aucun fichier d'envoi")
    assert _content(url) == consolidated
    outcome, message, _ = _last_run(url)
    assert outcome == "refused" and message == _command_lines(err)[0].removeprefix("observatoire : ")

    only_bad = tmp_path / "seulement-illisible"
    only_bad.mkdir()
    (only_bad / "bad.xlsx").write_bytes((campaign.submissions / "bad.xlsx").read_bytes())
    code, out, err = _run(capsys, url, campaign, "--region", "84", submissions=only_bad)
    _refused(code, err, "centres-perdus", "2 des 2 centres à l'heure dans l'entrepôt deviendraient manquants")
    assert _content(url) == consolidated and _last_run(url)[0] == "refused"

    # the 2024 folder run as 2023: every submission declares 2024
    code, out, err = _run(capsys, url, campaign, "--region", "84", year="2023")
    _refused(code, err, "autre-exercice", "3 envoi(s) sur 3 déclarent un autre exercice que 2023 (le plus souvent 2024)")
    assert _content(url) == consolidated and _rows(url, "SELECT outcome FROM pipeline_run WHERE campaign_year = 2023")[0][0] == "refused"

    # going on anyway, as the message says
    code, out, err = _run(capsys, url, campaign, "--region", "84", "--force", "autre-exercice", year="2023")
    assert code == 0, err
    assert dict(_rows(url, "SELECT finess_et, status FROM centre_year_status WHERE campaign_year = 2023")) == {
        "690000013": "invalid", "690000039": "invalid", "690000054": "missing", "690000070": "invalid"}
    code, out, err = _run(capsys, url, campaign, "--region", "84", "--force", "aucun-envoi", "--force",
                          "centres-perdus", submissions=empty)
    assert code == 0, err
    assert {s for (s,) in _rows(url, "SELECT status FROM centre_year_status WHERE campaign_year = 2024")} == {
        "missing"}
    assert _last_run(url)[0] == "succeeded"


def test_a_cut_extract_alone_on_a_new_warehouse_is_one_line(prefect_harness, tmp_path, capsys):
    campaign = write_small_campaign(tmp_path / "campagne")
    cut = tmp_path / "finess_2025-01-12.csv"
    data = campaign.finess.read_bytes()
    cut.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 40])  # in the middle of the last line
    url = f"sqlite:///{tmp_path / 'neuf.db'}"
    code, out, err = _run(capsys, url, campaign, "--region", "84", finess=cut)
    lines = _command_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"observatoire : Référentiel FINESS invalide : {cut} est coupé")
    assert _rows(url, "SELECT count(*) FROM finess_snapshot") == [(0,)]
    assert _last_run(url)[0] == "failed"


def test_an_empty_folder_as_a_user_runs_it(tmp_path):
    """A separate process with the command's own logging settings: exit 2, one line."""
    import os
    import subprocess
    import sys

    campaign = write_small_campaign(tmp_path / "campagne")
    empty = tmp_path / "vide"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}
    # its own ephemeral Prefect server, given time to start on a busy machine
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="240")
    done = subprocess.run([sys.executable, "-m", "observatoire.cli", "run", "--year", "2024", "--region", "84",
                           "--submissions", str(empty), "--finess", str(campaign.finess),
                           "--warehouse", f"sqlite:///{tmp_path / 'w.db'}"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("observatoire : Exécution refusée, rien n'est remplacé : le dossier des envois")
    assert lines[0].endswith("relancer avec --force aucun-envoi (formulaire Prefect : « Gardes à passer outre »).")


def _et(prefix8: str) -> str:
    return prefix8 + finess_check_digit(prefix8)


def test_a_region_run_over_a_shared_folder_leaves_other_regions_alone(prefect_harness, engine_url, tmp_path,
                                                                        capsys):
    """The folder holds region 84's files and a Paris export: 750000010 (a centre of region
    11, on time), a FINESS no referential knows declared in Paris (unexpected, region 11),
    and one with neither a known FINESS nor a known commune (no region)."""
    campaign = write_small_campaign(tmp_path / "campagne")
    unknown = _et("75009999")
    nowhere = _et("75008888")
    paris = [EXPORT_HEADER,
             export_row("750000010", "Centre de santé Belleville", "75120", "10/02/2025 10:00"),
             export_row(unknown, "Centre de santé inconnu", "75111", "12/02/2025 10:00"),
             export_row(nowhere, "Centre de santé nulle part", "99999", "12/02/2025 10:00")]
    (campaign.submissions / "paris.csv").write_bytes(("\n".join(paris) + "\n").encode("cp1252"))

    code, out, err = _run(capsys, engine_url, campaign)  # the whole campaign: regions 11 and 84
    assert code == 0, err
    other = {table: sorted(_rows(engine_url, f"SELECT * FROM {table} WHERE region_code = '11'"), key=repr)
             for table in TABLES[:5]}
    assert len(other["centre_year_status"]) == 2 and len(other["submission"]) == 2
    no_region = {table: sorted(_rows(engine_url, f"SELECT * FROM {table} WHERE region_code IS NULL"), key=repr)
                 for table in ("centre_year_status", "submission")}
    assert _rows(engine_url, "SELECT declared_finess_et FROM submission WHERE region_code IS NULL") == [(nowhere,)]
    assert len(no_region["centre_year_status"]) == 1
    first_runs = _rows(engine_url, "SELECT run_id FROM pipeline_run")

    code, out, err = _run(capsys, engine_url, campaign, "--region", "84")
    assert code == 0, err
    # not one row of region 11 (nor of no region) changed, to the byte
    for table, rows in other.items():
        assert sorted(_rows(engine_url, f"SELECT * FROM {table} WHERE region_code = '11'"), key=repr) == rows, table
    for table, rows in no_region.items():
        assert sorted(_rows(engine_url, f"SELECT * FROM {table} WHERE region_code IS NULL"), key=repr) == rows
    # region 84 holds its own centres only, none of Paris
    region_84 = _rows(engine_url, "SELECT departement, finess_et, status FROM centre_year_status "
                                  "WHERE region_code = '84' AND campaign_year = 2024")
    assert {dep for dep, _, _ in region_84} == {"69"} and len(region_84) == 4
    assert _rows(engine_url, "SELECT count(*) FROM submission WHERE region_code = '84' AND source_file = 'paris.csv'"
                 ) == [(0,)]
    # the region run is the row the first run did not leave (two runs may start within the
    # same second: not found by started_at)
    (regions, left, loaded, parameters), = [
        row[1:] for row in _rows(engine_url, "SELECT run_id, regions, submissions_other_regions, submissions, "
                                             "parameters FROM pipeline_run") if (row[0],) not in first_runs]
    assert (regions, left, loaded) == ("84", 3, 3) and json.loads(parameters)["regions"] == ["84"]
    assert "3 envoi(s) d'autres régions ou sans région laissé(s) de côté (exécution limitée à 84)" in out
    assert "paris.csv" not in out
    from openpyxl import load_workbook

    feedback = load_workbook(campaign.root / "sorties" / "2024" / "campagne-2024-r84-retours.xlsx")
    cells = {str(value) for sheet in feedback.worksheets for row in sheet.iter_rows(values_only=True)
             for value in row if value is not None}
    assert "paris.csv" not in cells and "export.csv" in cells
