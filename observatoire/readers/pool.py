"""Reading files on every core: a national campaign is tens of thousands of small
workbooks, and opening one is CPU work (inflate, parse XML) that holds the GIL, so
threads do not help (measured: two threads read the national campaign no faster than one).

`read_batch` reads a list of files into one `FileBatch` (frames, not rows, so that a batch
crosses a process boundary as Arrow buffers). A `ReaderPool` runs it in worker processes;
with one worker, or none given, it runs in the calling process. Workers are *spawned*, not
forked: the parent holds Prefect's threads and event loop, which a fork would copy
half-locked. They import only the readers (about 0.25 s) and are started as soon as the
pool is made, while the caller does other work (the FINESS referential).
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import types
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from observatoire.readers.submission_files import (
    CELLS_SCHEMA, PERSONNEL_SCHEMA, FileOutcome, cells_frame, concat_columns, personnel_frame, read_submission_file,
)
from observatoire.readers.worker_init import init_reader_process
from transforms.submissions import empty_issues


@dataclass(frozen=True)
class FileBatch:
    outcomes: list[FileOutcome]
    cells: pl.DataFrame  # CELLS_SCHEMA
    personnel: pl.DataFrame  # PERSONNEL_SCHEMA
    issues: pl.DataFrame  # ISSUE_SCHEMA: what reading noticed (formula without cached value)


def read_batch(paths: list[str | Path], root: str | Path) -> FileBatch:
    """Read `paths` (below `root`); never raises for a bad file: its outcome says why."""
    root = Path(root)
    contents = [read_submission_file(Path(path), root) for path in paths]
    issues = [content.issues for content in contents if content.issues.height]
    return FileBatch(
        outcomes=[content.outcome for content in contents],
        cells=cells_frame(concat_columns([content.cell_columns for content in contents], CELLS_SCHEMA)),
        personnel=personnel_frame(concat_columns([content.personnel_columns for content in contents],
                                                 PERSONNEL_SCHEMA)),
        issues=pl.concat(issues) if issues else empty_issues(),
    )


def concat_batches(batches: list[FileBatch]) -> FileBatch:
    if not batches:
        return read_batch([], ".")
    if len(batches) == 1:
        return batches[0]
    return FileBatch(
        outcomes=[outcome for batch in batches for outcome in batch.outcomes],
        cells=pl.concat([batch.cells for batch in batches]),
        personnel=pl.concat([batch.personnel for batch in batches]),
        issues=pl.concat([batch.issues for batch in batches]),
    )


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _ready() -> int:
    return os.getpid()


@contextmanager
def _main_module_hidden():
    """`multiprocessing.spawn` skips re-importing the parent's main module when that module
    is named `__main__` with no file: show it such a module while the workers start."""
    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


class ReaderPool:
    """`read(paths, root)` in worker processes (`workers` > 1) or in this process."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self._executor = None
        self._prefetched: dict[tuple, list[Future]] = {}
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=init_reader_process)
            # Start every worker now, without waiting for them: they import the readers while
            # the caller goes on. A spawned worker re-runs the caller's main script unless it
            # is guarded by `if __name__ == "__main__"`; the workers need nothing from it, so
            # they are started with the main module hidden and work from any caller.
            with _main_module_hidden():
                for _ in range(self.workers):
                    self._executor.submit(_ready)

    def submit(self, paths: list[str | Path], root: str | Path) -> Future:
        if self._executor is None:
            future: Future = Future()
            try:
                future.set_result(read_batch(paths, root))
            except BaseException as exc:  # same contract as a worker: the error is in the future
                future.set_exception(exc)
            return future
        return self._executor.submit(read_batch, [str(p) for p in paths], str(root))

    def prefetch(self, batches: list[list[str | Path]], root: str | Path, chunk: int = 50) -> None:
        """Queue every batch now, in chunks of `chunk` files, so that the workers never wait
        for the caller and share the last files evenly; `read` of one of these batches then
        collects its chunks. A batch already queued is not queued again. Without worker
        processes there is nothing to queue: `read` reads each batch when it is asked for."""
        if self._executor is None:
            return
        for paths in batches:
            key = (tuple(str(p) for p in paths), str(root))
            if key not in self._prefetched:
                chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
                self._prefetched[key] = [self.submit(c, root) for c in chunks]

    def read(self, paths: list[str | Path], root: str | Path) -> FileBatch:
        futures = self._prefetched.pop((tuple(str(p) for p in paths), str(root)), None)
        if futures is not None:
            try:
                return concat_batches([future.result() for future in futures])
            except Exception:  # a worker that died: read the batch again (and raise if it fails again)
                pass
        return self.submit(paths, root).result()

    def close(self) -> None:
        self._prefetched.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> "ReaderPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
