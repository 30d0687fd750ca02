"""The sample campaign generator: reproducible, in the exact FINESS format, and with an
expected answer that is consistent with the extracts it ships."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from observatoire.sample import generate_sample
from observatoire.sample.extract_writer import render_extract
from observatoire.sample.referential import SNAPSHOTS, build_referential
from transforms.finess_key import is_valid_finess

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

CDS_CATEGORIES = {"124", "125", "130", "289"}
FINESS_REGIONS = {"9A": "01", "9B": "02", "9C": "03", "9D": "04", "9F": "06"}
SEED = 2025
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generations(tmp_path_factory):
    """The sample, generated in this process while the command line generates it again
    with the same seed in another one (both cores: the suite stays fast)."""
    again = tmp_path_factory.mktemp("again")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-m", "observatoire.sample", "--out", str(again), "--seed", str(SEED)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        sample = generate_sample(tmp_path_factory.mktemp("sample"), seed=SEED)
    except BaseException:
        process.kill()
        raise
    yield sample, again, process
    if process.poll() is None:
        process.kill()


@pytest.fixture(scope="module")
def sample(generations):
    return generations[0]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _structureet(path: Path) -> list[list[str]]:
    lines = path.read_bytes().decode("cp1252").split("\n")
    rows = [line for line in lines if line.startswith("structureet;")]
    return list(csv.reader(io.StringIO("\n".join(rows)), delimiter=";"))


def _region_of(departement: str) -> str:
    if departement in FINESS_REGIONS:
        return FINESS_REGIONS[departement]
    text = REPO / "observatoire" / "data" / "cog_departements_regions_2024.csv"
    mapping = {row["code_departement"]: row["code_region"] for row in csv.DictReader(text.open(encoding="utf-8"))}
    return mapping.get(departement, "")


def _read_expected(sample, year: int, name: str) -> list[dict[str, str]]:
    path = sample.campaigns[year].expected_dir / name
    return list(csv.DictReader(path.open(encoding="utf-8", newline=""), delimiter=";"))


# ------------------------------------------------------------------ reproducibility
def test_same_seed_gives_byte_identical_files(generations):
    sample, again, process = generations
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    first, second = _files(sample.out_dir), _files(again)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []
    assert any(name.endswith(".xlsx") for name in first)


def test_another_seed_gives_another_referential(sample):
    other = render_extract(build_referential(SEED + 1), SNAPSHOTS[0], SEED + 1)
    assert other != sample.extracts[0].read_bytes()


# ------------------------------------------------------------------ FINESS extracts
def test_extracts_are_named_and_dated_like_data_gouv(sample):
    names = [path.name for path in sample.extracts]
    assert names == [
        "etalab-cs1100507-stock-20230109-0412.csv",
        "etalab-cs1100507-stock-20240110-0415.csv",
        "etalab-cs1100507-stock-20250112-0420.csv",
    ]
    for path, snapshot in zip(sample.extracts, SNAPSHOTS):
        first_line = path.read_bytes().split(b"\n", 1)[0].decode("cp1252")
        fields = first_line.split(";")
        assert fields[:2] == ["finess", "etalab"] and fields[2].isdigit()
        assert fields[3] == snapshot.extract_date.isoformat()


def test_structureet_lines_have_32_fields_and_valid_numbers(sample):
    for path in sample.extracts:
        rows = _structureet(path)
        assert len(rows) > 2000
        assert {len(row) for row in rows} == {32}
        assert all(row[31] == "" for row in rows)  # numuai empty, line ends with `;`
        bad = [row[1] for row in rows if not is_valid_finess(row[1])]
        bad += [row[2] for row in rows if not is_valid_finess(row[2])]
        assert bad == []
        assert len({row[1] for row in rows}) == len(rows)


def test_extract_is_windows_1252_with_accents_and_quoted_fields(sample):
    raw = sample.extracts[2].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    for needle in ("Centre de Santé", "é", "œ", "Œ", "’", "Mutualité"):
        assert needle in text, needle
    structure = [line for line in text.split("\n") if line.startswith("structureet;")]
    assert any('""' in line for line in structure)  # a `"` inside a quoted field
    assert any(any(";" in field for field in row) for row in _structureet(sample.extracts[2]))
    geolocations = [line for line in text.split("\n") if line.startswith("geolocalisation;")]
    assert geolocations and all(len(line.split(";")) > 6 for line in geolocations)


def test_overseas_and_corsican_numbers_follow_their_departement(sample):
    rows = _structureet(sample.extracts[2])
    prefixes = {"9A": "9701", "9D": "9704", "2A": "2A", "2B": "2B"}
    for row in rows:
        departement = row[13]
        if departement in prefixes:
            assert row[1].startswith(prefixes[departement]), row[1]
        assert len(row[12]) == 3 and row[12].isdigit()
    departements = {row[13] for row in rows}
    assert {"9A", "9D", "2A", "2B", "9E", "9J"} <= departements


def test_regions_84_11_93_have_100_to_300_centres_in_each_extract(sample):
    for path in sample.extracts:
        counts: dict[str, int] = {}
        for row in _structureet(path):
            if row[18] in CDS_CATEGORIES:
                region = _region_of(row[13])
                counts[region] = counts.get(region, 0) + 1
        for region in ("84", "11", "93"):
            assert 100 <= counts[region] <= 300, (path.name, region, counts[region])
        assert {"94", "01", "04"} <= set(counts)
        others = sum(1 for row in _structureet(path) if row[18] not in CDS_CATEGORIES)
        assert others >= 3 * sum(counts.values())


# ------------------------------------------------------------------ expected answer
@pytest.mark.parametrize("year", [2023, 2024])
def test_expected_centres_are_exactly_the_centres_open_that_year(sample, year):
    present: dict[str, dict] = {}
    for path, snapshot in zip(sample.extracts, SNAPSHOTS):
        for row in _structureet(path):
            entry = present.setdefault(row[1], {"row": row, "dates": []})
            entry["dates"].append(snapshot.extract_date)
    should = {
        et for et, entry in present.items()
        if entry["row"][18] in CDS_CATEGORIES and _region_of(entry["row"][13])
        and dt.date.fromisoformat(entry["row"][28]) <= dt.date(year, 12, 31)
        and max(entry["dates"]) >= dt.date(year, 1, 1)
    }
    rows = [r for r in _read_expected(sample, year, "centre_year_status.csv") if r["status"] != "unexpected"]
    assert len(rows) == len({r["finess_et"] for r in rows})
    assert {r["finess_et"] for r in rows} == should
    for row in rows:
        assert row["region_code"] == _region_of(present[row["finess_et"]]["row"][13])
        assert row["campaign_year"] == str(year)


def test_closures_and_openings_between_snapshots(sample):
    sets = [{row[1] for row in _structureet(path) if row[18] in CDS_CATEGORIES} for path in sample.extracts]
    s0, s1, s2 = sets
    assert s0 - s1 - s2, "centres closed during 2023"
    assert (s0 & s1) - s2, "centres closed during 2024"
    assert s2 - s1 - s0, "centres opened during 2024"
    assert (s1 & s2) - s0, "a centre opened during 2023"
    expected_2024 = {r["finess_et"] for r in _read_expected(sample, 2024, "centre_year_status.csv")
                     if r["status"] != "unexpected"}
    expected_2023 = {r["finess_et"] for r in _read_expected(sample, 2023, "centre_year_status.csv")
                     if r["status"] != "unexpected"}
    assert not (s0 - s1 - s2) & expected_2024
    assert (s0 - s1 - s2) <= expected_2023
    assert not (s2 - s1 - s0) & expected_2023
    assert (s2 - s1 - s0) <= expected_2024


def test_expected_answer_covers_every_status_method_and_reason(sample):
    for year in (2023, 2024):
        statuses = _read_expected(sample, year, "centre_year_status.csv")
        assert {r["status"] for r in statuses} == {"on_time", "late", "invalid", "missing", "covered", "unexpected"}
        reasons = {r["unexpected_reason"] for r in statuses if r["status"] == "unexpected"}
        assert {"unknown_finess", "not_centre_de_sante"} <= reasons
        submissions = _read_expected(sample, year, "submissions.csv")
        assert {r["reconciliation_method"] for r in submissions} == {
            "exact", "repaired", "ej_to_et", "name_match", "unmatched"} | ({"review"} if year == 2024 else set())
        assert {r["is_valid"] for r in submissions} == {"true", "false"}
    reasons_2024 = {r["unexpected_reason"] for r in _read_expected(sample, 2024, "centre_year_status.csv")}
    assert "closed" in reasons_2024


@pytest.mark.parametrize("year", [2023, 2024])
def test_statuses_are_internally_consistent(sample, year):
    for row in _read_expected(sample, year, "centre_year_status.csv"):
        if row["status"] == "late":
            assert int(row["days_late"]) >= 1
        else:
            assert row["days_late"] == ""
        if row["status"] == "unexpected":
            assert row["source_file"] and row["unexpected_reason"]
        else:
            dt.date.fromisoformat(row["deadline"])
    current: dict[str, int] = {}
    for row in _read_expected(sample, year, "submissions.csv"):
        if row["is_current"] == "true":
            assert row["is_valid"] == "true" and row["finess_et"]
            current[row["finess_et"]] = current.get(row["finess_et"], 0) + 1
        if row["reconciliation_method"] == "unmatched":
            assert row["finess_et"] == ""
    assert set(current.values()) == {1}


def test_borderline_transmissions_and_calendar(sample):
    statuses = {r["finess_et"]: r for r in _read_expected(sample, 2024, "centre_year_status.csv")}
    days = sorted(int(r["days_late"]) for r in statuses.values() if r["status"] == "late")
    assert days.count(1) >= 3 and 3 in days and 40 in days
    calendar_2024 = (sample.campaigns[2024].calendar).read_text(encoding="utf-8").splitlines()
    assert calendar_2024[0] == "annee;finess_et;date_limite"
    extended = [line.split(";") for line in calendar_2024[1:]]
    assert all(year == "2024" and et for year, et, _ in extended) and len(extended) == 2
    on_time_extension, overrun = (statuses[et] for _, et, _ in extended)
    assert on_time_extension["status"] == "on_time" and on_time_extension["deadline"] == "2025-03-31"
    assert overrun["status"] == "late" and overrun["deadline"] == "2025-03-14" and overrun["days_late"] == "6"
    calendar_2023 = sample.campaigns[2023].calendar.read_text(encoding="utf-8").splitlines()
    assert calendar_2023[1:] == ["2023;;15/03/2024"]
    deadlines_2023 = {r["deadline"] for r in _read_expected(sample, 2023, "centre_year_status.csv")
                      if r["status"] != "unexpected"}
    assert deadlines_2023 == {"2024-03-15"}


@pytest.mark.parametrize("year", [2023, 2024])
def test_every_submission_file_is_accounted_for(sample, year):
    root = sample.campaigns[year].submissions_dir
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    submissions = _read_expected(sample, year, "submissions.csv")
    unreadable = _read_expected(sample, year, "unreadable.csv")
    listed = {r["source_file"] for r in submissions} | {r["source_file"] for r in unreadable}
    assert on_disk - {"reception.csv"} == listed
    assert any(name.startswith("export_r") and name.endswith(".xlsx") for name in on_disk)
    workbooks = [r for r in submissions if r["source_row"] == ""]
    assert len(workbooks) == len({r["source_file"] for r in workbooks})
    for export in {r["source_file"] for r in submissions if r["source_row"]}:
        rows = sorted(int(r["source_row"]) for r in submissions if r["source_file"] == export)
        assert rows == list(range(1, len(rows) + 1))
    manifest = (root / "reception.csv").read_text(encoding="utf-8").splitlines()
    assert manifest[0] == "fichier;date_reception" and len(manifest) > 1
    for line in manifest[1:]:
        name, date = line.split(";")
        assert (root / name).is_file()
        dt.datetime.strptime(date, "%d/%m/%Y %H:%M")


@pytest.mark.parametrize("year", [2023, 2024])
def test_unreadable_files_exist_and_are_unreadable(sample, year):
    root = sample.campaigns[year].submissions_dir
    reasons = {r["reason"]: root / r["source_file"] for r in _read_expected(sample, year, "unreadable.csv")}
    assert set(reasons) == {"empty", "truncated", "not_a_spreadsheet", "utf16_encoding"}
    assert reasons["empty"].stat().st_size == 0
    assert reasons["truncated"].read_bytes().startswith(b"PK") and reasons["truncated"].stat().st_size == 300
    assert reasons["not_a_spreadsheet"].read_bytes().startswith(b"%PDF-1.4")
    assert reasons["utf16_encoding"].read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")


def test_regional_exports_use_the_announced_encodings(sample):
    root = sample.campaigns[2024].submissions_dir
    assert (root / "export_r84.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    cp1252 = (root / "export_r11.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")
    assert "N° FINESS" in cp1252.decode("cp1252")
    assert (root / "export_r93.csv").read_bytes().split(b"\n", 1)[0].startswith(b"annee_exercice,finess_et,")


def test_refuses_to_overwrite_a_folder_it_did_not_generate(tmp_path, capsys):
    from observatoire.sample.cli import main

    (tmp_path / "finess").mkdir()
    (tmp_path / "finess" / "mine.csv").write_text("ne pas effacer", encoding="utf-8")
    assert main(["--out", str(tmp_path)]) == 2
    assert "dossier vide" in capsys.readouterr().err
    assert (tmp_path / "finess" / "mine.csv").exists()


def test_readme_tells_how_to_run_each_campaign(sample):
    text = sample.readme.read_text(encoding="utf-8")
    for year in (2023, 2024):
        assert f"observatoire run --year {year} --submissions {year}/submissions" in text
    assert text.count("--finess finess/etalab-cs1100507-stock-") == 6


# ------------------------------------------------------------------ cases to arbitrate
def _insee(row: list[str]) -> str:
    from observatoire.sample.geography import FINESS_TO_COG

    departement = row[13]
    return (FINESS_TO_COG[departement][:2] if departement in FINESS_TO_COG else departement) + row[12]


def test_the_last_campaign_has_cases_to_arbitrate_and_their_answer(sample):
    """Three submissions whose declared identity is ambiguous by construction, each with
    the centres it hesitates between (read back from the extract) and the decision that
    settles it; until then, its centre is missing and the submission unexpected."""
    assert _read_expected(sample, 2023, "review.csv") == []
    cases = {r["case"]: r for r in _read_expected(sample, 2024, "review.csv")}
    assert set(cases) == {"review_ej_several_centres", "review_two_centres_named", "review_not_a_centre"}
    extract = {row[1]: row for row in _structureet(sample.extracts[2]) if row[18] in CDS_CATEGORIES}
    # an EJ given for the ET: every centre of that EJ in the region is a candidate, the centre itself decided
    ej = cases["review_ej_several_centres"]
    region = _region_of(extract[ej["decision"]][13])
    siblings = sorted(et for et, row in extract.items() if row[2] == ej["declared_finess_et"]
                      and _region_of(row[13]) == region)
    assert len(siblings) >= 2 and ej["candidates"].split() == siblings and ej["decision"] in siblings
    # no FINESS, a name made of two centres' names, both in the declared commune
    named = cases["review_two_centres_named"]
    first, second = (extract[et] for et in named["candidates"].split())
    assert named["declared_finess_et"] == "" and named["decision"] in named["candidates"].split()
    assert _insee(first) == _insee(second) == named["commune_insee"]
    for row in (first, second):
        distinctive = row[4].split(" ", 4)[-1].removesuffix(" - ANTENNE")  # rslongue: CENTRE DE SANTE <KIND> <NAME>
        assert distinctive.split()[-1].title() in named["raison_sociale"], (distinctive, named["raison_sociale"])
    # a maison de santé named like a centre of its commune: no centre
    msp = cases["review_not_a_centre"]
    (namesake,) = msp["candidates"].split()
    assert msp["declared_finess_et"] == "" and msp["decision"] == "" and msp["raison_sociale"].startswith("Maison de santé")
    assert _insee(extract[namesake]) == msp["commune_insee"]
    # the expected answer: submission in review, resolved to nothing; the centre missing
    submissions = {(r["source_file"], r["source_row"]): r for r in _read_expected(sample, 2024, "submissions.csv")}
    statuses = _read_expected(sample, 2024, "centre_year_status.csv")
    by_et = {r["finess_et"]: r for r in statuses if r["status"] != "unexpected"}
    unexpected = {(r["source_file"], r["source_row"]): r for r in statuses if r["status"] == "unexpected"}
    for case in cases.values():
        key = (case["source_file"], case["source_row"])
        assert (submissions[key]["reconciliation_method"], submissions[key]["finess_et"],
                submissions[key]["is_current"], submissions[key]["case"]) == ("review", "", "false", case["case"])
        assert unexpected[key]["unexpected_reason"] == "review" and unexpected[key]["finess_et"] == ""
        if case["decision"]:
            assert by_et[case["decision"]]["status"] == "missing"
            assert not any(r["finess_et"] == case["decision"] for r in submissions.values())
