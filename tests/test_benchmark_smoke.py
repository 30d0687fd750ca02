"""The national benchmark harness runs end to end on a tiny national campaign and writes
every measurement it promises. No timing is asserted: a timed test is no performance
evidence; the figures live in benchmarks/README.md and benchmarks/results/."""
from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import fastexcel
import openpyxl
import pytest

from observatoire.readers.submission_files import read_submission_file
from observatoire.sample.national import cached_national

REPO = Path(__file__).resolve().parents[1]


def _harness():
    spec = importlib.util.spec_from_file_location("benchmark_national", REPO / "benchmarks" / "national.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_harness_writes_every_stage_and_both_references(tmp_path):
    harness = _harness()
    result, path = harness.run_benchmark(
        [1], ["sqlite"], tmp_path / "bench", n_centres=120, seed=2025, finess_lines=2000,
        results_dir=tmp_path / "results", quiet=True, skip_flow=True,  # Prefect's server start: ~10 s
    )
    saved = json.loads(path.read_text(encoding="utf-8"))
    run = saved["runs"]["x1-sqlite"]
    assert set(run["stages"]["stages"]) == set(harness.STAGES)
    assert all(stage["seconds"] > 0 and stage["peak_rss_mb"] > 0 for stage in run["stages"]["stages"].values())
    assert run["flow"] == {"skipped": "--skip-flow"}
    assert run["floor"]["seconds"] > 0 and run["floor"]["rows_loaded"] == sum(
        run["stages"]["counts"]["warehouse_rows"].values())
    analyst = run["analyst"]
    assert analyst.get("skipped") or analyst["seconds"] > 0
    assert saved["finess_extract"]["structureet_lines"] > 0
    assert "x1-sqlite" in saved["ratios"]
    assert "plancher / floor" in harness.table(saved)
