"""Set up a reader process before it imports anything heavy (kept free of imports of
Polars on purpose): reader processes parallelise by files, so each Polars runs on one
thread, which also keeps each process's memory small. A spawned process unpickles its
target and arguments before running it: both are plain here, so that Polars is imported
only once the variable is set."""
import os


def init_reader_process() -> None:
    os.environ.setdefault("POLARS_MAX_THREADS", "1")


def reader_process(connection, progress, limits: dict) -> None:
    """The body of a reader process (`pool.ReaderPool`); `limits` are `ReadLimits` fields."""
    init_reader_process()
    from observatoire.readers import pool

    pool.reader_loop(connection, progress, limits)
