"""Set up a reader process before it imports anything heavy (kept free of imports of
Polars on purpose): reader processes parallelise by files, so each Polars runs on one
thread, which also keeps each process's memory small."""
import os


def init_reader_process() -> None:
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
