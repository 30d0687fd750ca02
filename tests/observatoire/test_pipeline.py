"""How many reader processes a run starts: one per core for a large campaign, one per
FILES_PER_READER files at most (a small campaign does not pay for processes it keeps
idle), what the parameters say when they say it. No process is started here."""
from __future__ import annotations

import pytest

from flows.parameters import CampaignParameters
from observatoire import pipeline


def _campaign(root, n_files: int):
    """`n_files` files spread over two département folders and the top folder."""
    folder = root / "2024"
    for index in range(n_files):
        place = folder / ("01", "974", "")[index % 3]
        place.mkdir(parents=True, exist_ok=True)
        (place / f"envoi-{index}.xlsx").write_bytes(b"x")
    folder.mkdir(exist_ok=True)
    return CampaignParameters(submissions=str(root / "{annee}"))


@pytest.mark.parametrize("n_files, cores, expected", [
    (31, 2, 1),  # region 04 of the benchmark: one reader is enough
    (pipeline.FILES_PER_READER, 2, 1),
    (pipeline.FILES_PER_READER + 1, 2, 2),
    (5 * pipeline.FILES_PER_READER, 2, 2),  # never more than the cores
    (5 * pipeline.FILES_PER_READER, 4, 4),
    (0, 2, 1),  # an empty folder: the run says so, with one reader started
])
def test_one_reader_per_core_at_most_one_per_files_per_reader(tmp_path, monkeypatch, n_files, cores, expected):
    monkeypatch.setattr(pipeline, "default_workers", lambda: cores)
    assert pipeline.reader_count(_campaign(tmp_path, n_files), 2024) == expected


def test_a_missing_folder_is_the_runs_to_report(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "default_workers", lambda: 2)
    assert pipeline.reader_count(CampaignParameters(submissions=str(tmp_path / "absent")), 2024) == 1


def test_the_parameters_say_how_many(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "default_workers", lambda: 2)
    params = _campaign(tmp_path, 31)
    assert pipeline.reader_count(params.model_copy(update={"read_workers": 3}), 2024) == 3
    # a Dask cluster reads: no local reader process is sized here
    assert pipeline.reader_count(params.model_copy(update={"dask_address": "tcp://dask:8786"}), 2024) is None
