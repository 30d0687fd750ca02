"""How many reader processes a run starts: one per core for a large campaign, one per
FILES_PER_READER files at most (a small campaign does not pay for processes it keeps
idle), what the parameters say when they say it."""
from __future__ import annotations

import pytest

from observatoire.readers import batches


def _campaign(root, n_files: int):
    """`n_files` files spread over two département folders and the top folder."""
    folder = root / "2024"
    for index in range(n_files):
        place = folder / ("01", "974", "")[index % 3]
        place.mkdir(parents=True, exist_ok=True)
        (place / f"envoi-{index}.xlsx").write_bytes(b"x")
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("n_files, cores, expected", [
    (31, 2, 1),  # region 04 of the benchmark: one reader is enough
    (batches.FILES_PER_READER, 2, 1),
    (batches.FILES_PER_READER + 1, 2, 2),
    (5 * batches.FILES_PER_READER, 2, 2),  # never more than the cores
    (5 * batches.FILES_PER_READER, 4, 4),
    (0, 2, 1),  # an empty folder: the run says so, with one reader started
])
def test_one_reader_per_core_at_most_one_per_files_per_reader(tmp_path, monkeypatch, n_files, cores, expected):
    monkeypatch.setattr(batches, "default_workers", lambda: cores)
    assert batches.reader_count(_campaign(tmp_path, n_files)) == expected


def test_a_missing_folder_is_the_runs_to_report(tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "default_workers", lambda: 2)
    assert batches.reader_count(tmp_path / "absent") == 1


def test_the_parameters_say_how_many(tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "default_workers", lambda: 2)
    folder = _campaign(tmp_path, 31)
    assert batches.reader_count(folder, workers=3) == 3
    # a Dask cluster reads: no local reader process is sized here
    assert batches.reader_count(folder, dask_address="tcp://dask:8786") is None
