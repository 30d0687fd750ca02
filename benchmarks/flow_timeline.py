"""When does each step of a flow run start and end, and where does its CPU time go?

    .venv/bin/python benchmarks/flow_timeline.py [--multiplier 1] [--url URL] [--runs 2]
                                                 [--gc-before-run]

Runs `consolidate_campaign` on the cached national campaign of benchmarks/national.py (run
it once first) `--runs` times into the same warehouse (default: a new SQLite file; a
PostgreSQL URL must name an empty database), after a warm-up flow that starts Prefect's
temporary server. The stage functions the flow calls are wrapped with timers, so each line
gives a step's start and end in seconds after the flow was called, and the thread it ran
on. "heartbeat" is Prefect's heartbeat context: the run's work is inside it, and the call
returns when its thread has been joined. Then the CPU time of the flow's process, of the
reader processes (ended during the run) and of Prefect's server. `--gc-before-run` times a
full garbage collection before each run (what a rerun in the same process starts with).
PREFECT_LOGGING_TO_API_ENABLED=false in the environment runs without shipping logs.
"""
from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:
    sys.path.append(str(BENCH_DIR.parent))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from observatoire.sample.national import YEAR, cache_key  # noqa: E402

_EVENTS: list[tuple[str, float, float, str]] = []
_ORIGIN = [0.0]


def _timed(owner, name: str) -> None:
    function = getattr(owner, name)
    label = function.__qualname__ if "." in function.__qualname__ else name

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _EVENTS.append((label, started - _ORIGIN[0], time.perf_counter() - _ORIGIN[0],
                            threading.current_thread().name))

    setattr(owner, name, wrapper)


def _instrument() -> None:
    import prefect.flow_engine as flow_engine

    import flows.campaign as campaign
    from observatoire import referential_store, stages, warehouse
    from observatoire.readers import pool

    for owner, names in (
        (stages, ["load_referential", "read_finess_extract", "_normalised", "list_files", "gather", "validate",
                  "reconcile", "statuses", "build_load"]),
        (warehouse, ["migrate", "record_run_start", "load_campaign", "record_run_end"]),
        (referential_store, ["store_snapshots", "read_history"]),
        (campaign, ["read_calendar", "_publish"]),
        (pool.ReaderPool, ["__init__", "prefetch", "read", "close"]),
    ):
        for name in names:
            _timed(owner, name)
    heartbeats = flow_engine._send_heartbeats

    @contextmanager
    def timed_heartbeats(engine, join_on_exit=True):
        started = time.perf_counter() - _ORIGIN[0]
        with heartbeats(engine, join_on_exit) as value:
            try:
                yield value
            finally:
                _EVENTS.append(("heartbeat: work", started, time.perf_counter() - _ORIGIN[0], "flow"))
        _EVENTS.append(("heartbeat: joined", started, time.perf_counter() - _ORIGIN[0], "flow"))

    flow_engine._send_heartbeats = timed_heartbeats


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _children_cpu() -> dict[int, float]:
    import psutil  # a Prefect dependency

    return {child.pid: sum(child.cpu_times()[:2]) for child in psutil.Process().children(recursive=True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiplier", type=int, default=1)
    parser.add_argument("--url", default=None)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--gc-before-run", action="store_true")
    args = parser.parse_args(argv)
    dataset = BENCH_DIR / ".cache" / "datasets" / cache_key(3000, 2025, args.multiplier, 100_000)
    if not dataset.is_dir():
        print(f"jeu introuvable : {dataset} (lancer d'abord benchmarks/national.py)", file=sys.stderr)
        return 2
    from prefect import flow

    from flows.campaign import consolidate_campaign
    from flows.parameters import CampaignParameters

    _instrument()

    @flow(name="echauffement-chronologie")
    def warm_up() -> int:
        return 1

    warm_up()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/chronologie.db"
    params = CampaignParameters(
        year=YEAR, submissions=str(dataset / str(YEAR) / "submissions"),
        finess=[str(next((dataset / "finess").glob("*.csv")))], calendar=str(dataset / str(YEAR) / "calendrier.csv"),
        warehouse_url=url)
    for run in range(args.runs):
        if args.gc_before_run:
            import gc

            rss, started = _rss_mib(), time.perf_counter()
            found = gc.collect()
            print(f"gc.collect() : {time.perf_counter() - started:.3f} s, {found} objets, mémoire résidente "
                  f"{rss:.0f} -> {_rss_mib():.0f} Mio")
        _EVENTS.clear()
        own, ended, running = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN), _children_cpu()
        _ORIGIN[0] = time.perf_counter()
        consolidate_campaign(params=params)
        total = time.perf_counter() - _ORIGIN[0]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = sum(cpu - running.get(pid, 0.0) for pid, cpu in _children_cpu().items())
        print(f"--- exécution {run + 1} : {total:.3f} s ; CPU : processus du flow {time.process_time() - own:.2f} s, "
              f"lecteurs {after.ru_utime + after.ru_stime - ended.ru_utime - ended.ru_stime:.2f} s, "
              f"serveur Prefect {server:.2f} s")
        for name, start, end, thread in sorted(_EVENTS, key=lambda event: event[1]):
            print(f"  {name:24s} {start:7.3f} → {end:7.3f}  ({end - start:6.3f})  {thread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
