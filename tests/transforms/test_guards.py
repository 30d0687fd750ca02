"""The guards of campaign-rules.md, "Reruns and mistakes", as rules (transforms/guards.py)
and at the edges that apply them before anything heavy or anything stored: the command's
arguments, a FINESS extract cut short or re-encoded, an implausible calendar, and the
withdrawal of a snapshot stored by mistake."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import polars as pl
import pytest
import sqlalchemy as sa

from observatoire import referential_store, warehouse
from observatoire.errors import CampaignError, RunRefused
from observatoire.readers.calendar import read_calendar
from observatoire.readers.finess_extract import read_finess_extract
from observatoire.run_guards import check_arguments
from observatoire.stages import load_referential
from tests.conftest import shared_data
from transforms import guards
from transforms.finess_key import finess_check_digit

PARIS_WINTER = dt.timezone(dt.timedelta(hours=1))


# ------------------------------------------------------------------ the run's arguments
@pytest.mark.parametrize("year, now, refused", [
    (2024, dt.datetime(2025, 1, 1, 0, 30, tzinfo=PARIS_WINTER), False),  # 1 January 2025 in Paris: 2024 is over
    (2024, dt.datetime(2024, 12, 31, 23, 30, tzinfo=dt.timezone.utc), False),  # 00:30 on 1 January in Paris
    (2024, dt.datetime(2024, 12, 31, 22, 30, tzinfo=dt.timezone.utc), True),  # 23:30 on 31 December in Paris
    (2030, dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc), True),
])
def test_an_exercise_not_over_in_paris_is_refused(year, now, refused):
    if not refused:
        check_arguments(year, ["84"], now=now)
        return
    with pytest.raises(RunRefused, match=f"l'exercice {year} n'est pas terminé.*--force exercice-en-cours"):
        check_arguments(year, ["84"], now=now)
    check_arguments(year, ["84"], forced=["exercice-en-cours"], now=now)


def test_a_region_outside_the_cog_is_refused():
    now = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    for code in ("01", "02", "03", "04", "06", "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84",
                 "93", "94"):  # the 18 regions of the COG 2024 (shared/data/geo/cog_regions_2024.csv)
        check_arguments(2024, [code], now=now)
    for codes in (["99"], ["84", "05"], ["20"]):
        with pytest.raises(RunRefused, match=r"pas une région du COG.*--force region-inconnue"):
            check_arguments(2024, codes, now=now)
    check_arguments(2024, ["99"], forced=["region-inconnue"], now=now)


def test_the_command_refuses_bad_arguments_before_loading_prefect(tmp_path):
    """As a user runs it: exit 2, one French line, and nothing of a run was even imported
    (no Prefect, no stage, no reader process)."""
    code = ("import sys; from observatoire.cli import main; rc = main(sys.argv[1:]); "
            "heavy = sorted(m for m in ('prefect', 'flows.campaign', 'observatoire.pipeline', 'observatoire.stages') "
            "if m in sys.modules); print(rc, heavy)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    extract = _write(tmp_path, "2025-01-12", _extract_text("2025-01-12", 3).encode("cp1252"))  # paths that exist
    for args, fragment in ((["--year", "2030"], "l'exercice 2030 n'est pas terminé"),
                           (["--year", "2024", "--region", "99"], "la région 99 n'est pas une région du COG")):
        done = subprocess.run([sys.executable, "-c", code, "run", *args, "--submissions", str(tmp_path),
                               "--finess", str(extract)],
                              capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
        assert done.stdout.strip() == "2 []", done.stdout + done.stderr[-2000:]
        err = done.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("observatoire : Exécution refusée") and fragment in err[0]


def test_an_unknown_guard_name_is_a_bad_parameter():
    from pydantic import ValidationError

    from flows.parameters import CampaignParameters

    assert CampaignParameters(force=["aucun-envoi", "aucun-envoi"]).force == ["aucun-envoi"]
    with pytest.raises(ValidationError, match="garde inconnue « tout »"):
        CampaignParameters(force=["tout"])
    # the run form offers exactly the guards a refusal can name
    schema = CampaignParameters.model_json_schema()["properties"]["force"]
    assert schema["title"] == "Gardes à passer outre (facultatif)"
    assert set(schema["items"]["enum"]) == set(guards.GUARDS)


# ------------------------------------------------------------------ the run's data
def test_most_submissions_of_another_exercise():
    assert guards.other_exercise(pl.Series([2024, 2024, 2023, None]), 2024) is None
    assert guards.other_exercise(pl.Series([2024, 2023]), 2024) is None  # half is not most
    refusal = guards.other_exercise(pl.Series([2024, 2023, 2023, None, None]), 2024)
    assert refusal.guard == "autre-exercice" and "2 envoi(s) sur 3" in refusal.problem and "2023" in refusal.problem
    assert guards.other_exercise(pl.Series([None], dtype=pl.Int64), 2024) is None


def test_most_on_time_centres_turning_missing():
    previous = pl.DataFrame({"finess_et": ["a", "b", "c", "d"], "status": ["on_time", "on_time", "on_time", "late"]})
    new = pl.DataFrame({"finess_et": ["a", "b", "c", "d"], "status": ["missing", "on_time", "late", "missing"]})
    assert guards.on_time_lost(previous, new) is None  # 1 of 3 on-time centres
    new = new.with_columns(pl.when(pl.col("finess_et") == "c").then(pl.lit("missing")).otherwise("status")
                           .alias("status"))
    refusal = guards.on_time_lost(previous, new)
    assert refusal.guard == "centres-perdus" and "2 des 3 centres à l'heure" in refusal.problem
    assert guards.on_time_lost(previous.head(0), new) is None  # a first load replaces nothing


def test_a_refusal_is_one_line_that_says_how_to_go_on():
    refusal = guards.no_submission_files(0, "/data/envois/2024")
    line = refusal.message()
    assert "\n" not in line and "rien n'est remplacé" in line and "/data/envois/2024" in line
    assert "--force aucun-envoi" in line and "« Gardes à passer outre »" in line
    assert guards.first_refusal([None, refusal], forced=["aucun-envoi"]) is None
    assert guards.first_refusal([refusal], forced=["autre-exercice"]) is refusal
    assert guards.no_submission_files(1, "x") is None


# ------------------------------------------------------------------ FINESS extracts
def _line(et8: str, category: str = "124", label: str = "Centre de Santé") -> str:
    et = et8 + finess_check_digit(et8)
    ej = "69" + et8[2:7] + "9"
    ej = ej[:8] + finess_check_digit(ej[:8])
    return ";".join(["structureet", et, ej, f"CDS {et}", f"CENTRE DE SANTÉ {et}", "", "", "1", "R", "DE LA PAIX", "",
                     "", "266", "69", "RHONE", "69100 VILLEURBANNE", "0478000000", "", category, label, "2206",
                     "Centres de Santé", "", "", "", "", "", "", "2001-01-01", "2001-01-01", "2023-01-01", ""])


def _extract_text(date: str, n: int) -> str:
    lines = [f"finess;etalab;111;{date}"] + [_line(f"690{i:05d}") for i in range(n)]
    return "\n".join(lines) + "\n"


def _write(tmp_path, date: str, data: bytes):
    path = tmp_path / f"etalab-cs1100507-stock-{date.replace('-', '')}-0400.csv"
    path.write_bytes(data)
    return path


def _snapshots(engine) -> dict:
    with engine.connect() as connection:
        return {str(d)[:10]: sha for d, sha in connection.execute(sa.text(
            "SELECT extract_date, source_sha256 FROM finess_snapshot")).all()}


def test_a_utf8_extract_is_decoded_as_utf8(tmp_path):
    # the same extract as data.gouv writes it and as a tool saves it again
    text = _extract_text("2025-01-12", 3)
    for name in ("cp1252", "utf8", "bom"):
        (tmp_path / name).mkdir()
    cp1252 = read_finess_extract(_write(tmp_path / "cp1252", "2025-01-12", text.encode("cp1252")))
    utf8 = read_finess_extract(_write(tmp_path / "utf8", "2025-01-12", text.encode("utf-8")))
    bom = read_finess_extract(_write(tmp_path / "bom", "2025-01-12", b"\xef\xbb\xbf" + text.encode("utf-8")))
    assert (cp1252.encoding, utf8.encoding, bom.encoding) == ("cp1252", "utf-8", "utf-8")
    assert utf8.establishments.equals(cp1252.establishments) and bom.establishments.equals(cp1252.establishments)
    assert set(utf8.establishments["libcategetab"]) == {"Centre de Santé"}
    real = read_finess_extract(shared_data("finess/etalab_excerpt_20260512.csv"))  # the real file: windows-1252
    assert real.encoding == "cp1252"


def test_a_doubly_encoded_extract_is_refused_and_stored_nowhere(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    mangled = _extract_text("2025-01-12", 3).encode("utf-8").decode("cp1252").encode("utf-8")  # « SantÃ© »
    with pytest.raises(CampaignError, match=r"rien n'est enregistré.*texte mal décodé.*SantÃ©"):
        load_referential([_write(tmp_path, "2025-01-12", mangled)], engine)
    assert _snapshots(engine) == {}


@pytest.mark.parametrize("cut", ["mid_line", "after_section", "mid_geolocalisation"])
def test_an_extract_cut_in_the_middle_is_one_french_line_on_a_new_warehouse(tmp_path, cut):
    text = _extract_text("2025-01-12", 40)
    data = {
        "mid_line": text.encode("cp1252")[: len(text) // 2],
        "after_section": text.encode("cp1252") + b"structureet",
        "mid_geolocalisation": text.encode("cp1252") + b"geolocalisation;690000013;882538.9;654",
    }[cut]
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    with pytest.raises(CampaignError, match=r"Référentiel FINESS invalide : .* est coupé, sa dernière ligne"):
        load_referential([_write(tmp_path, "2025-01-12", data)], engine)
    assert _snapshots(engine) == {}


def test_an_extract_with_far_fewer_centres_is_refused_unless_forced(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    (tmp_path / "bon").mkdir()
    previous = _write(tmp_path / "bon", "2024-01-10", _extract_text("2024-01-10", 100).encode("cp1252"))
    load_referential([previous], engine)
    before = _snapshots(engine)
    # cut at a line end: 79 of the 100 centres (under 80 %), every line whole
    cut = _write(tmp_path, "2025-01-12", _extract_text("2025-01-12", 79).encode("cp1252"))
    with pytest.raises(RunRefused, match=r"79 centres de santé contre 100 .*10/01/2024.*--force finess-reduit"):
        load_referential([cut], engine)
    assert _snapshots(engine) == before
    # given in the same run as its neighbour, on a new warehouse: refused the same way
    engine2 = warehouse.connect(f"sqlite:///{tmp_path / 'w2.db'}")
    warehouse.migrate(engine2)
    with pytest.raises(RunRefused, match="79 centres de santé contre 100"):
        load_referential([previous, cut], engine2)
    assert _snapshots(engine2) == {}
    # 80 of 100 is a plausible year of closures; forcing takes the 79
    fine = _write(tmp_path / "bon", "2025-01-12", _extract_text("2025-01-12", 80).encode("cp1252"))
    assert load_referential([fine], engine2).snapshot_dates == [dt.date(2025, 1, 12)]
    assert load_referential([cut], engine, forced=["finess-reduit"]).snapshot_dates[-1] == dt.date(2025, 1, 12)


def test_withdrawing_a_snapshot_rebuilds_the_history_and_names_the_runs(engine_url, tmp_path):
    engine = warehouse.connect(engine_url)
    warehouse.migrate(engine)
    (tmp_path / "bon").mkdir()
    s1 = _write(tmp_path / "bon", "2024-01-10", _extract_text("2024-01-10", 30).encode("cp1252"))
    good = _write(tmp_path / "bon", "2025-01-12", _extract_text("2025-01-12", 29).encode("cp1252"))
    load_referential([s1], engine)
    only_s1 = referential_store.read_history(engine)[0]
    bad = _write(tmp_path, "2025-01-12", _extract_text("2025-01-12", 20).encode("cp1252"))
    load_referential([bad], engine, forced=["finess-reduit"])  # stored by mistake
    with pytest.raises(CampaignError, match="un autre extrait daté du 12/01/2025 est déjà chargé"):
        load_referential([good], engine)
    started = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    for run_id, extracts, at in (
        ("avant", [], started - dt.timedelta(days=1)),
        ("avec", [{"file": bad.name, "extract_date": "2025-01-12", "sha256": "x"}], started),
    ):
        warehouse.record_run_start(engine, {
            "run_id": run_id, "campaign_year": 2024, "regions": "84", "parameters": "{}", "started_at": at,
            "outcome": "succeeded", "finess_extracts": __import__("json").dumps(extracts)})
    from observatoire.cli import main

    assert main(["finess", "retirer", "--date", "12/01/2025", "--warehouse", engine_url]) == 0
    assert _snapshots(engine) == {"2024-01-10": referential_store.known_snapshots(engine)[dt.date(2024, 1, 10)]}
    assert referential_store.read_history(engine)[0].equals(only_s1)
    # the right extract of that date is taken now
    assert load_referential([good], engine).snapshot_dates == [dt.date(2024, 1, 10), dt.date(2025, 1, 12)]
    with pytest.raises(CampaignError, match=r"Aucun instantané FINESS du 01/02/2025 .*10/01/2024, 12/01/2025"):
        referential_store.withdraw_snapshot(engine, dt.date(2025, 2, 1))
    engine.dispose()


def test_the_withdraw_command_says_which_runs_used_the_snapshot(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    bad = _write(tmp_path, "2025-01-12", _extract_text("2025-01-12", 5).encode("cp1252"))
    warehouse.record_run_start(engine, {
        "run_id": "ancienne", "campaign_year": 2023, "regions": "84", "parameters": "{}",
        "started_at": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), "outcome": "succeeded"})
    load_referential([bad], engine)
    warehouse.record_run_start(engine, {
        "run_id": "suivante", "campaign_year": 2024, "regions": "11,84", "parameters": "{}",
        "started_at": dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1), "outcome": "succeeded"})
    from observatoire.cli import main

    assert main(["finess", "retirer", "--date", "2025-01-12", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert "Instantané FINESS du 12/01/2025 retiré" in out and bad.name in out
    assert "suivante" in out and "exercice 2024" in out and "ancienne" not in out
    assert main(["finess", "retirer", "--date", "2025-01-12", "--warehouse", url]) == 2
    assert "Aucun instantané FINESS du 12/01/2025" in capsys.readouterr().err


# ------------------------------------------------------------------ calendar
@pytest.mark.parametrize("content, fragment", [
    ("annee;finess_et;date_limite\n2024;;28/02/2025\n2024;690000013;01/03/1900\n",
     "ligne 3 : date limite 01/03/1900 pour l'exercice 2024, attendu une date de l'année 2025"),
    ("annee;finess_et;date_limite\n2024;;28/02/2024\n", "ligne 2 : date limite 28/02/2024"),
    ("annee;finess_et;date_limite\n2024;;28/02/2025\n2023;;29/02/2024\n2024;;15/03/2025\n",
     "lignes 2 et 4 : deux dates limites différentes de la campagne pour l'exercice 2024"),
    ("annee;finess_et;date_limite\n2024;690000013;15/03/2025\n2024;690000013;31/03/2025\n",
     "lignes 2 et 3 : deux dates limites différentes du centre 690000013"),
    ("annee;finess_et;date_limite\n2024;;15/03/2025\n2024;690000013;10/03/2025\n",
     "ligne 3 : dérogation du centre 690000013 au 10/03/2025, avant la date limite de la campagne 2024 (15/03/2025)"),
    ("annee;finess_et;date_limite\n2024;690000013;20/02/2025\n",
     "ligne 2 : dérogation du centre 690000013 au 20/02/2025, avant la date limite de la campagne 2024 (28/02/2025)"),
    ("annee;finess_et;date_limite\n2024;;28/02/2025\n2024;690000013\n", "ligne 3 : 2 champ"),
    ("annee;finess_et;date_limite\n2024;;28/02/2025;x\n", "ligne 2 : 4 champ"),
])
def test_an_implausible_calendar_is_refused_naming_the_line(tmp_path, content, fragment):
    path = tmp_path / "calendrier.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CampaignError, match="Calendrier invalide") as caught:
        read_calendar(path)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_plausible_calendar_is_read_with_its_lines(tmp_path):
    path = tmp_path / "calendrier.csv"
    path.write_text("annee;finess_et;date_limite\n2024;;28/02/2025\n\n2024;;2025-02-28\n2024;690000013;31/12/2025\n"
                    "2023;;15/03/2024\n", encoding="utf-8")
    assert read_calendar(path).rows() == [
        (2024, None, dt.date(2025, 2, 28), 2), (2024, None, dt.date(2025, 2, 28), 4),
        (2024, "690000013", dt.date(2025, 12, 31), 5), (2023, None, dt.date(2024, 3, 15), 6)]


def test_an_extension_for_a_centre_the_referential_does_not_know_is_a_warning():
    calendar = pl.DataFrame({"annee": [2024, 2024, 2024, 2023], "finess_et": [None, "690000013", "010000024",
                                                                            "010000024"],
                             "date_limite": [dt.date(2025, 2, 28)] * 4, "line": [2, 3, 4, 5]})
    history = pl.DataFrame({"finess_et": ["690000013"]})
    assert guards.unknown_extension_centres(calendar, history, 2024) == [
        "Calendrier, ligne 4 : dérogation pour le FINESS 010000024, que le référentiel ne connaît pas "
        "(dérogation sans effet)"]
