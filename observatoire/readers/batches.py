"""Who reads the received files, and in what batches: the reader processes of this
machine (`ReaderPool`) or the workers of a Dask cluster, behind one small interface the
pipeline uses the same way (`queue` every batch as soon as the files are listed, `read`
each batch back in order, `close`). Either way a file is read in a reader process under
the run's limits, so that whatever it does to its reader costs that file alone: on Dask,
each worker process reads its tasks' files through reader processes of its own.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from observatoire.errors import CampaignError
from observatoire.readers.pool import FileBatch, ReaderPool, concat_batches, default_workers
from observatoire.readers.submission_files import ReadLimits

# Files per batch: a batch is one progress step (and one task run under Prefect, whose cost
# is per batch, not per file). The reader processes get the files in smaller chunks
# (ReaderPool.prefetch).
READ_BATCH_MAX = 2500
# Each Prefect task run costs the server ~25 ms of CPU, shared with the reader processes on
# a small machine: a campaign that reads in two seconds needs no 12-step progress bar.
READ_BATCH_MIN = 500
PROGRESS_STEPS = 12  # about this many batches, hence progress updates, while files are read
DASK_CHUNK = 50  # files per Dask task: enough work to pay for the round trip to a worker
DASK_CONNECT_TIMEOUT_S = 10


def read_batches(files: list[str]) -> list[list[str]]:
    """Batches small enough for the progress to move, large enough to keep the per-batch
    overhead low."""
    size = max(READ_BATCH_MIN, min(READ_BATCH_MAX, math.ceil(len(files) / PROGRESS_STEPS)))
    return [files[i:i + size] for i in range(0, len(files), size)]


class LocalReaders:
    """The reader processes of this machine (one per core by default, at least one: a file is
    never read in the run's own process)."""

    where = "local"

    def __init__(self, workers: int | None) -> None:
        self.pool = ReaderPool(workers)

    def queue(self, batches: list[list[str]], root: str) -> None:
        self.pool.prefetch(batches, root)

    def read(self, paths: list[str], root: str) -> FileBatch:
        return self.pool.read(paths, root)

    def done_reading(self) -> None:
        self.pool.close()

    def call(self, function, *args):
        return function(*args)

    def close(self) -> None:
        self.pool.close()


# ------------------------------------------------------------------ on a Dask worker
_WORKER_POOLS: dict[ReadLimits, ReaderPool] = {}
_WORKER_POOLS_LOCK = threading.Lock()


def read_in_reader_processes(paths: list[str], root: str, limits: dict) -> FileBatch:
    """A Dask task: `paths` read by the reader processes of this Dask worker process under
    `limits` (the run's `ReadLimits` fields), never in the worker itself: a file that makes
    its reader panic, crash, hang or allocate without end costs that file alone, as on one
    machine, instead of the worker and every file of its tasks. The worker keeps its reader
    processes for the tasks that follow (starting them costs about a second); they end
    with it."""
    return _worker_pool(ReadLimits(**limits)).submit(paths, root).result()


def _worker_pool(limits: ReadLimits) -> ReaderPool:
    with _WORKER_POOLS_LOCK:
        pool = _WORKER_POOLS.get(limits)
        if pool is None:
            _allow_reader_processes()
            pool = _WORKER_POOLS[limits] = ReaderPool(_worker_threads(), limits)
        return pool


def _worker_threads() -> int | None:
    """As many reader processes as the Dask worker runs tasks at once (`--nthreads`)."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):  # not in a Dask worker (a test calling it)
        return None


def _allow_reader_processes() -> None:
    """A `dask worker` process is started as a daemonic process (distributed.worker.daemon,
    true by default), and multiprocessing refuses to start processes from one, lest they
    outlive it. Reader processes never outlive the process that started them (they watch
    it: worker_init.py) and are daemonic themselves (ended by multiprocessing when the
    worker exits), so that flag of this process's own record is lifted; the nanny that
    started the worker does not read it."""
    current = multiprocessing.current_process()
    if current._config.get("daemon"):
        current._config["daemon"] = False


class DaskReaders:
    """The workers of the Dask cluster at `address` read the files (each through reader
    processes of its own, `read_in_reader_processes`) and validate them; this process only
    collects the frames. The client is this process's: it goes with it."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is in requirements.lock
            raise CampaignError("Cluster Dask demandé mais le paquet distributed n'est pas installé.") from exc
        self.where = address
        try:
            self.client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:  # distributed's "Timed out trying to connect to …"
            raise CampaignError(f"Cluster Dask injoignable : {address} ({exc}).") from exc
        self._queued: dict[tuple, list] = {}
        self._limits = dict(ReadLimits.from_env().__dict__)  # the run's limits, wherever its files are read

    def _submit(self, paths: list[str], root: str):
        return self.client.submit(read_in_reader_processes, list(paths), str(root), self._limits, pure=False)

    def queue(self, batches: list[list[str]], root: str) -> None:
        for paths in batches:
            chunks = [paths[i:i + DASK_CHUNK] for i in range(0, len(paths), DASK_CHUNK)]
            self._queued[(tuple(paths), str(root))] = [self._submit(chunk, root) for chunk in chunks]

    def read(self, paths: list[str], root: str) -> FileBatch:
        futures = self._queued.pop((tuple(paths), str(root)), None)
        if futures is None:
            futures = [self._submit(paths, root)]
        return concat_batches([future.result() for future in futures])

    def done_reading(self) -> None:
        """The client stays: the validation runs on the cluster too."""

    def call(self, function, *args):
        return self.client.submit(function, *args, pure=False).result()

    def close(self) -> None:
        self._queued.clear()
        self.client.close()


# A reader process costs about 0.3 s of CPU to start (its imports), what reading 100 files
# costs: a campaign of fewer files than this per process does not pay for one more.
FILES_PER_READER = 200


def reader_count(folder: Path, workers: int | None = None, dask_address: str | None = None) -> int | None:
    """The reader processes of a run reading `folder`: `workers` when given (None on a Dask
    cluster, whose workers read), else one per core but no more than one per
    FILES_PER_READER files (a small campaign reads as fast on one, and the processes it
    would start compete with its other work for the cores). Counted before the run starts,
    without failing: a folder that cannot be listed is the run's to report, at its place."""
    if workers or dask_address:
        return workers
    cores = default_workers()
    found = _count_entries(folder, cores * FILES_PER_READER)
    return min(cores, max(1, -(-found // FILES_PER_READER)))


def _count_entries(folder: Path, enough: int) -> int:
    """Entries below `folder` that are not folders (what reading will be given), counted up
    to `enough`; 0 when it cannot be listed."""
    found, todo = 0, [os.fspath(folder)]
    while todo and found < enough:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    try:
                        is_folder = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_folder = False
                    if is_folder:
                        todo.append(entry.path)
                    else:
                        found += 1
        except OSError:
            continue
    return found


@contextmanager
def reader_processes(workers: int | None, dask_address: str | None = None):
    """The readers of one run, started now (they import the readers while the caller goes
    on) and stopped when the run ends, whichever way it ends."""
    readers = DaskReaders(dask_address) if dask_address else LocalReaders(workers)
    try:
        yield readers
    finally:
        readers.close()


def read_in_batches(readers, batches: list[list[str]], root: Path | str, on_batch=None) -> list[FileBatch]:
    """Every batch, in order; `on_batch(batch, files_done, files_total)` after each."""
    total, done, contents = sum(len(batch) for batch in batches), 0, []
    for paths in batches:
        contents.append(readers.read(paths, str(root)))
        done += len(paths)
        if on_batch is not None:
            on_batch(contents[-1], done, total)
    return contents
