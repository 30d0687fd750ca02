"""The national benchmark harness runs end to end on a tiny national campaign and writes
every measurement it promises. No timing is asserted: a timed test is no performance
evidence; the figures live in benchmarks/README.md and benchmarks/results/. The harness is
run as a user runs it, benchmarks/national.py in a process of its own: no test imports it."""
from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import fastexcel
import openpyxl
import pytest

from datasets.national import cached_national
from observatoire.readers.submission_files import read_submission_file

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

REPO = Path(__file__).resolve().parents[2]


def _national(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """benchmarks/national.py with these options, from the clone's root, as documented."""
    done = subprocess.run([sys.executable, "benchmarks/national.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return cached_national(tmp_path_factory.mktemp("national"), n_centres=120, file_multiplier=1, finess_lines=2000)


def test_tiny_national_campaign_covers_every_region_and_is_cached(tiny):
    assert len(tiny.summary["regions"]) == 18
    assert tiny.summary["workbooks"] > tiny.summary["exports"] > 0
    lines = tiny.extract.read_bytes().decode("cp1252").split("\n")
    assert lines[0] == "finess;etalab;106;2025-01-12"
    assert sum(line.startswith("structureet;") for line in lines) == tiny.summary["finess_structureet_lines"]
    again = cached_national(tiny.out_dir.parent, n_centres=120, file_multiplier=1, finess_lines=2000)
    assert again.summary == tiny.summary  # read from the cache, not regenerated


def test_fast_workbooks_read_the_same_with_fastexcel_and_openpyxl(tiny):
    workbook = next(p for p in sorted(tiny.submissions_dir.rglob("*.xlsx")) if p.stat().st_size > 1000)
    content = read_submission_file(workbook, tiny.submissions_dir)
    assert content.outcome.readable and content.outcome.container == "classeur"
    assert content.personnel.height > 0
    by_openpyxl = openpyxl.load_workbook(io.BytesIO(workbook.read_bytes()))
    by_fastexcel = fastexcel.read_excel(workbook.read_bytes())
    assert by_openpyxl.sheetnames == by_fastexcel.sheet_names == ["Identification", "Activité", "Finances",
                                                                  "Personnel"]
    identification = [row for row in by_openpyxl["Identification"].iter_rows(values_only=True) if row[0]]
    frame = by_fastexcel.load_sheet("Identification", header_row=None, dtypes="string").to_polars()
    assert [row[0] for row in frame.iter_rows() if row[0]] == [row[0] for row in identification]


def test_the_peak_memory_is_that_of_the_whole_process_tree(tmp_path):
    # a parent of a few MB whose child holds 300 MB for a second: the tree's peak has both
    child = ("import resource, time; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
             "block = bytearray(300 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep(1)")
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    done = _national("--timeout", "60", "--measure-process", "--", sys.executable, "-c", parent, timeout=120)
    run = json.loads(done.stdout)
    assert "error" not in run
    assert run["processes"] == 2
    assert 300 < run["peak_tree_mb"] < 600
    assert run["cpu_seconds"] > 0 and run["seconds"] >= 1


def _results(results_dir: Path) -> dict:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in results_dir.glob("*.json")}


def test_every_measure_is_a_whole_process_with_medians_ratios_and_targets(tmp_path):
    measures = ("command", "rerun", "analyst", "floor")  # pandas for the analyst: installed apart by the benchmark
    done = _national("--files-multiplier", "1", "--region", "04", "--rounds", "2", "--measures", *measures,
                     "--centres", "120", "--finess-lines", "2000", "--stages", "--out", str(tmp_path / "bench"),
                     "--results-dir", str(tmp_path / "results"), "--timeout", "600")
    results = _results(tmp_path / "results")
    assert sorted(results) == ["national-x1", "region-04"]
    for name, result in results.items():
        assert set(result["measures"]) == set(measures)
        for measure, summary in result["measures"].items():
            expected_runs = 2
            assert [run["round"] for run in summary["runs"]] == list(range(expected_runs)), (name, measure)
            assert summary["failures"] == 0, (name, measure, summary["runs"])
            assert summary["min_seconds"] <= summary["median_seconds"] <= summary["max_seconds"]
            assert summary["max_peak_tree_mb"] > 0
        rows = sum(result["warehouse_rows"].values())
        assert rows > 0 and {"submission", "finess_et_history"} <= set(result["warehouse_rows"])
        floor = json.loads(result["measures"]["floor"]["runs"][0]["output"])
        assert floor["rows_loaded"] == rows and floor["files"] == result["dataset"]["files"]
        assert result["ratios"]["command_over_floor"] is not None
        assert "stages" in result and "machine" in result and result["code"]["commit"]
        assert result["code"]["clone"] == str(REPO)  # the clone whose code was measured
    region = results["region-04"]
    assert region["dataset"]["departements"] == ["974"]
    assert "command <= 2.5 s" in region["targets"]
    assert "--region" in region["command_line"] and "--region" not in results["national-x1"]["command_line"]
    assert "analyst_over_command >= 5" in results["national-x1"]["targets"]
    assert importlib.util.find_spec("pandas") is None  # not in the venv, where pandera would import it
    assert "médiane" in done.stdout  # each configuration's table, printed as it is measured
    report = _national("--report", *map(str, sorted((tmp_path / "results").glob("*.json")))).stdout
    head, rule, *rows = report.splitlines()
    assert head.startswith("| mesure | region-04 (") and "| national-x1 (" in head and rule == "|---|---|---|"
    assert any(row.startswith("| run sans serveur / plancher |") for row in rows)


def _prefect_servers_on(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"prefect" in part for part in cmdline) and str(port).encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_the_command_with_a_prefect_server_already_running_and_without_one(tmp_path):
    # round 1 runs "server" then "command": the server runs for the first only (a user
    # without a server has none on the machine), and is stopped at the end though paused
    _national("--files-multiplier", "--region", "04", "--rounds", "1", "--measures", "server", "command",
              "--centres", "120",
              "--finess-lines", "2000", "--out", str(tmp_path / "bench"), "--results-dir", str(tmp_path / "results"),
              "--timeout", "600")
    results = _results(tmp_path / "results")
    assert sorted(results) == ["region-04"]  # --files-multiplier with no value: no national campaign
    result = results["region-04"]
    run = result["measures"]["server"]["runs"][0]
    assert "error" not in run, run
    assert run["prefect_server_peak_mb"] > 50  # the server's tree, sampled beside the command's
    assert run["server_cpu_seconds"] > 0  # it answered the flow run
    without = result["measures"]["command"]["runs"][0]
    assert "error" not in without, without
    assert without["server_cpu_seconds"] == 0  # paused (SIGSTOP) over the whole measure
    assert result["measures"]["server"]["median_server_cpu_seconds"] == run["server_cpu_seconds"]
    port = int(result["prefect_server_url"].rsplit(":", 1)[1].split("/")[0])
    assert _prefect_servers_on(port) == []  # stopped at the end, with what it started
