"""Reading files on every core, each file at the cost of that file alone.

A national campaign is tens of thousands of small workbooks made by hundreds of tools, and
opening one is CPU work (inflate, parse XML) that holds the GIL, so files are read in
reader processes (threads do not help: two threads read the national campaign no faster
than one). A reader is native code (calamine, through fastexcel) that a broken file can
make panic, crash, allocate without end or loop: so whatever happens to one file, it gets
an outcome saying so, and every other file is read as if it were absent.

- `read_batch` reads a list of files into one `FileBatch` (frames, not rows, so that a
  batch crosses a process boundary as Arrow buffers); any exception a reader raises, even
  a `BaseException` such as pyo3's `PanicException`, becomes that file's outcome.
- A `ReaderPool` runs it in reader processes, always (even with one worker, so that a
  segfault never takes the caller with it). Each process writes, in shared memory, which
  file it is on and since when; a supervising thread kills a process past the time limit
  per file, replaces a process that died, and queues the files its batch had not finished
  again: the file it died on is read once more, alone in a fresh process (a process may
  die of what earlier files left in it), and gets an outcome if it kills that one too.
  Reader processes have their address space bounded (`ReadLimits.memory_mb` above what
  they hold at rest), so a file that inflates without end makes its own reader fail.

Processes are *spawned*, not forked: the parent holds Prefect's threads and event loop,
which a fork would copy half-locked. They import only the readers (about 0.25 s) and are
started as soon as the pool is made, while the caller does other work.
"""
from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import types
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from observatoire.readers import submission_files
from observatoire.readers.submission_files import (
    CELLS_SCHEMA, PERSONNEL_SCHEMA, FileContent, FileOutcome, ReadLimits, cells_frame, concat_columns,
    outcome_without_reading, personnel_frame, printable_name, read_submission_file,
)
from observatoire.readers.worker_init import reader_process
from transforms.submissions import empty_issues


@dataclass(frozen=True)
class FileBatch:
    outcomes: list[FileOutcome]
    cells: pl.DataFrame  # CELLS_SCHEMA
    personnel: pl.DataFrame  # PERSONNEL_SCHEMA
    issues: pl.DataFrame  # ISSUE_SCHEMA: what reading noticed (formula without cached value)


_SEND_AGAIN = ("l'ouvrir dans un tableur, l'enregistrer au format .xlsx (classeur Excel) et le renvoyer ; "
               "pour un export, l'enregistrer en CSV UTF-8")


def _read_one(path: str | Path, root: str | Path, in_reader_process: bool = False) -> FileContent:
    """`read_submission_file`, whatever the reader raises: an exception of any kind is the
    file's outcome. In a reader process, running out of memory ends the process instead
    (the pool then reads the file again alone, in a fresh one: earlier files may have
    left the memory taken)."""
    try:
        return read_submission_file(Path(path), Path(root))
    except KeyboardInterrupt:
        raise
    except MemoryError:
        if in_reader_process:
            os._exit(_EXIT_MEMORY)
        reason = "mémoire épuisée pendant la lecture : fichier démesuré ou endommagé ; " + _SEND_AGAIN
    except BaseException as exc:  # pyo3's PanicException (calamine panicked) is no Exception
        detail = printable_name(str(exc))[:200]
        reason = (f"le lecteur de tableur a échoué sur ce fichier ({type(exc).__name__}"
                  f"{' : ' + detail if detail else ''}) : fichier endommagé ou d'un format inattendu ; " + _SEND_AGAIN)
    return FileContent(outcome_without_reading(Path(path), Path(root), reason), [], [])


def batch_of(contents: list[FileContent]) -> FileBatch:
    issues = [content.issues for content in contents if content.issues.height]
    return FileBatch(
        outcomes=[content.outcome for content in contents],
        cells=cells_frame(concat_columns([content.cell_columns for content in contents], CELLS_SCHEMA)),
        personnel=personnel_frame(concat_columns([content.personnel_columns for content in contents],
                                                 PERSONNEL_SCHEMA)),
        issues=pl.concat(issues) if issues else empty_issues(),
    )


def read_batch(paths: list[str | Path], root: str | Path) -> FileBatch:
    """Read `paths` (below `root`) in this process; never raises for a bad file (its outcome
    says why), but cannot survive a reader that crashes the process: `ReaderPool` can."""
    return batch_of([_read_one(path, root) for path in paths])


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


# ------------------------------------------------------------------ reader processes
_EXIT_MEMORY = 86  # a reader process that ran out of memory exits with this code
_FILE_AT, _SINCE = 0, 1  # the shared progress of a reader process: file index in its batch, start time


def _bound_memory(megabytes: int) -> None:
    """Bound this process's address space to what it holds now plus `megabytes`: an
    allocation past it fails (MemoryError in Python, an abort in native code) instead of
    the kernel's OOM killer choosing a victim on a shared machine."""
    try:
        import resource

        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = (size_kb * 1024) + megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, StopIteration, ValueError):  # not on Linux: the time limit still holds
        pass


def reader_loop(connection, progress, limits: dict) -> None:
    """A reader process (started by `worker_init.reader_process`): reads the batches it is
    sent, one file after the other, telling through `progress` which file it is on and
    since when."""
    submission_files.set_limits(ReadLimits(**limits))
    pl.DataFrame({"warm": [1]}).sum()  # Polars' thread pool and allocator, before the bound
    _bound_memory(submission_files.LIMITS.memory_mb)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        unit, paths, root = message
        contents = []
        for index, path in enumerate(paths):
            progress[_SINCE] = 0.0
            progress[_FILE_AT] = index
            progress[_SINCE] = time.monotonic()
            contents.append(_read_one(path, root, in_reader_process=True))
        progress[_SINCE] = 0.0
        try:
            connection.send((unit, batch_of(contents)))
        except MemoryError:
            os._exit(_EXIT_MEMORY)


@dataclass
class _Request:
    """What `submit` was asked: its files and the batches read of them so far, by first index."""
    future: Future
    paths: list[str]
    root: str
    parts: dict[int, FileBatch] = field(default_factory=dict)
    covered: int = 0


@dataclass
class _Unit:
    """Consecutive files of a request sent to one reader process."""
    request: _Request
    start: int
    stop: int
    alone_again: bool = False  # this file killed a process: read alone, a second time
    attempts: int = 0


class _Reader:
    def __init__(self, context, limits: ReadLimits) -> None:
        self.progress = context.RawArray("d", 2)
        self.connection, child = context.Pipe()
        self.process = context.Process(target=reader_process, args=(child, self.progress, dict(limits.__dict__)),
                                       daemon=True, name="lecteur")
        with _main_module_hidden():
            self.process.start()
        child.close()
        self.unit: _Unit | None = None

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        try:
            self.connection.close()
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


@contextmanager
def _main_module_hidden():
    """`multiprocessing.spawn` skips re-importing the parent's main module when that module
    is named `__main__` with no file: show it such a module while a process starts (a
    spawned process re-runs the caller's main script unless it is guarded by
    `if __name__ == "__main__"`; readers need nothing from it, so they work from any caller)."""
    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


def _signal_name(code: int | None) -> str:
    if code is None:
        return "arrêt inconnu"
    if code == _EXIT_MEMORY:
        return "mémoire épuisée"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code de sortie {code}"


class ReaderPool:
    """`submit`/`prefetch`/`read` of batches of files, read in `workers` reader processes
    (one per core when None) under `limits` (`ReadLimits.from_env()` when None)."""

    def __init__(self, workers: int | None = None, limits: ReadLimits | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.limits = limits if limits is not None else ReadLimits.from_env()
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._queue: collections.deque[_Unit] = collections.deque()
        self._prefetched: dict[tuple, list[Future]] = {}
        self._closed = False
        self._failed_starts = 0
        self._wake_read, self._wake_write = os.pipe()
        # every reader starts now, without waiting: they import the readers while the caller goes on
        self._readers = [_Reader(self._context, self.limits) for _ in range(self.workers)]
        self._supervisor = threading.Thread(target=self._supervise, name="lecteurs", daemon=True)
        self._supervisor.start()

    # ---------------------------------------------------------------- interface
    def submit(self, paths: list[str | Path], root: str | Path) -> Future:
        """A future of the `FileBatch` of `paths`, in their order; it never fails for a bad file."""
        future: Future = Future()
        request = _Request(future, [os.fspath(p) for p in paths], os.fspath(root))
        if not request.paths:
            future.set_result(read_batch([], root))
            return future
        with self._lock:
            if self._closed:
                raise RuntimeError("ReaderPool fermé")
            self._queue.append(_Unit(request, 0, len(request.paths)))
        self._wake()
        return future

    def prefetch(self, batches: list[list[str | Path]], root: str | Path, chunk: int = 50) -> None:
        """Queue every batch now, in chunks of `chunk` files, so that the readers never wait
        for the caller and share the last files evenly; `read` of one of these batches then
        collects its chunks. A batch already queued is not queued again."""
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
            except Exception:  # the pool could not read them (its readers would not start): try again
                pass
        return self.submit(paths, root).result()

    def map(self, batches: list[list[str | Path]], root: str | Path) -> list[FileBatch]:
        """The `FileBatch` of each batch, in order."""
        futures = [self.submit(paths, root) for paths in batches]
        return [future.result() for future in futures]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = [unit.request.future for unit in self._queue]
            self._queue.clear()
        self._wake()
        self._supervisor.join()
        self._readers = [reader for reader in self._readers if reader is not None]
        for reader in self._readers:
            if reader.unit is not None:
                pending.append(reader.unit.request.future)
            try:
                reader.connection.send(None)
            except (OSError, ValueError):
                pass
        for reader in self._readers:
            reader.stop(kill=reader.unit is not None)
        for future in pending:
            future.cancel()
        self._prefetched.clear()
        self._readers = []
        os.close(self._wake_read)
        os.close(self._wake_write)

    def __enter__(self) -> "ReaderPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- supervision
    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except OSError:
            pass

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                for index, reader in enumerate(self._readers):
                    if reader is None and self._queue:  # a reader replaced when there is work for it
                        reader = self._readers[index] = _Reader(self._context, self.limits)
                    if reader is not None and reader.unit is None and self._queue:
                        self._send(reader, self._queue.popleft())
            readers = [r for r in self._readers if r is not None]
            waited = [self._wake_read] + [r.connection for r in readers if r.unit is not None] + \
                [r.process.sentinel for r in readers]
            ready = set(multiprocessing.connection.wait(waited, timeout=0.25))
            if self._wake_read in ready:
                os.read(self._wake_read, 4096)
            for index, reader in enumerate(self._readers):
                if reader is None:
                    continue
                if reader.unit is not None and reader.connection in ready:
                    self._receive(reader)
                if reader.process.sentinel in ready or not reader.process.is_alive():
                    self._readers[index] = self._replace(reader, died=True)
                elif reader.unit is not None:
                    self._check_time(index, reader)

    def _send(self, reader: _Reader, unit: _Unit) -> None:
        unit.attempts += 1
        reader.unit = unit
        request = unit.request
        try:
            reader.connection.send((id(unit), request.paths[unit.start:unit.stop], request.root))
        except (OSError, ValueError):  # the reader died meanwhile: seen by the loop
            pass

    def _receive(self, reader: _Reader) -> None:
        try:
            _, batch = reader.connection.recv()
        except Exception:  # (EOFError, OSError, a result cut short): the reader died sending it
            return
        unit, reader.unit = reader.unit, None
        self._failed_starts = 0
        self._done(unit, batch)

    def _done(self, unit: _Unit, batch: FileBatch) -> None:
        request = unit.request
        request.parts[unit.start] = batch
        request.covered += unit.stop - unit.start
        if request.covered == len(request.paths):
            request.future.set_result(concat_batches([request.parts[k] for k in sorted(request.parts)]))

    def _check_time(self, index: int, reader: _Reader) -> None:
        since = reader.progress[_SINCE]
        if since and time.monotonic() - since > self.limits.seconds_per_file:
            reader.process.kill()
            at = int(reader.progress[_FILE_AT])
            reason = (f"lecture arrêtée au bout de {self.limits.seconds_per_file:g} s (limite de temps par fichier) : "
                      "fichier démesuré ou endommagé ; " + _SEND_AGAIN)
            self._readers[index] = self._replace(reader, died=False, culprit=(at, reason))

    def _replace(self, reader: _Reader, died: bool, culprit: tuple[int, str] | None = None) -> None:
        """`reader` (dead, or killed for taking too long) stopped, to be replaced when there
        is work, and the files of its batch queued again: those before and after the one it
        was on, and that one alone, or its outcome when it was read alone already."""
        unit, started = reader.unit, reader.progress[_SINCE] != 0.0
        at = int(reader.progress[_FILE_AT])
        reader.stop(kill=True)
        if died and culprit is None and unit is not None and started:
            how = _signal_name(reader.process.exitcode)
            culprit = (at, f"le lecteur de tableur s'est arrêté brutalement sur ce fichier ({how}) : fichier "
                           f"endommagé, ou qui demande plus que la limite de {self.limits.memory_mb} Mo de mémoire ; "
                           + _SEND_AGAIN)
        with self._lock:
            if unit is not None:
                self._requeue(unit, culprit)
        if unit is None or culprit is None:
            self._failed_starts += 1
            if self._failed_starts > 3 * self.workers:
                self._fail_all(RuntimeError(f"les processus de lecture s'arrêtent au démarrage "
                                            f"({_signal_name(reader.process.exitcode)})"))
        return None

    def _requeue(self, unit: _Unit, culprit: tuple[int, str] | None) -> None:
        if culprit is None:  # died before its first file or after its last one: not a file's doing
            if unit.attempts < 3:
                self._queue.appendleft(unit)
                return
            culprit = (0, "le lecteur de tableur s'arrête à chaque lecture de ce lot de fichiers ; " + _SEND_AGAIN)
        at, reason = culprit
        file = unit.start + at
        before, after = _Unit(unit.request, unit.start, file), _Unit(unit.request, file + 1, unit.stop)
        alone = _Unit(unit.request, file, file + 1, alone_again=True)
        later = [u for u in (before, after) if u.stop > u.start]
        timed_out = "limite de temps" in reason
        if unit.alone_again or timed_out or unit.stop - unit.start == 1 and unit.attempts >= 2:
            request = unit.request
            outcome = outcome_without_reading(Path(request.paths[file]), Path(request.root), reason)
            self._done(alone, batch_of([FileContent(outcome, [], [])]))
        else:
            later.append(alone)
        for item in reversed(later):
            self._queue.appendleft(item)

    def _fail_all(self, exc: Exception) -> None:
        with self._lock:
            units, self._queue = list(self._queue), collections.deque()
        for unit in units:
            if not unit.request.future.done():
                unit.request.future.set_exception(exc)
