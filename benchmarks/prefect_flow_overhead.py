"""Prefect's own cost for one flow run that does nothing: from the call to the first line
of the flow, and from its return to the caller getting the result (Prefect 3's flow-run
heartbeat thread is joined there and sleeps in 1-second steps).

    .venv/bin/python benchmarks/prefect_flow_overhead.py [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow

    entered: list[float] = []

    @flow(name="vide-benchmark")
    def empty() -> int:
        entered.append(time.perf_counter())
        return 1

    empty()  # starts Prefect's temporary server
    for _ in range(args.runs):
        started = time.perf_counter()
        empty()
        ended = time.perf_counter()
        print(f"appel -> flow {entered[-1] - started:.3f} s, retour du flow -> appelant {ended - entered[-1]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
