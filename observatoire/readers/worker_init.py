"""Set up a reader process before it imports anything heavy (kept free of imports of
Polars on purpose): reader processes parallelise by files, so each Polars runs on one
thread, which also keeps each process's memory small. A spawned process unpickles its
target and arguments before running it: both are plain here, so that Polars is imported
only once the variable is set. A reader process never outlives the run that started it:
killed with -9 or by the OOM killer, that run cannot stop them."""
import multiprocessing
import os
import threading
import time

PARENT_CHECK_S = 0.5


def _exit_with_parent(parent: int) -> None:
    # A thread that looks, rather than PR_SET_PDEATHSIG: that signal follows the *thread*
    # that started the process, and a pool may start its processes from any thread.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def init_reader_process() -> None:
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    # the pid the pool recorded, not getppid(): the parent may be dead already
    parent = multiprocessing.parent_process()
    threading.Thread(target=_exit_with_parent, args=(parent.pid if parent else os.getppid(),), daemon=True,
                     name="observatoire-parent-watch").start()


def reader_process(connection, progress, limits: dict) -> None:
    """The body of a reader process (`pool.ReaderPool`); `limits` are `ReadLimits` fields."""
    init_reader_process()
    from observatoire.readers import pool

    pool.reader_loop(connection, progress, limits)
