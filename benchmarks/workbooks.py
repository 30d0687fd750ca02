"""CPU time of writing a run's workbooks on the national campaign: the feedback workbook
(`write_run_feedback`) and the relance workbooks of every region (`write_relance_workbooks`),
into a new folder, then again into the same folder (the earlier relance workbooks are read
back for their call logs).

    .venv/bin/python benchmarks/workbooks.py [--cache DIR] [--repeat 5]

The campaign is generated once under --cache (benchmarks/.cache/datasets by default, as
benchmarks/national.py), consolidated once into a temporary SQLite warehouse (about
20 s), then each writer runs --repeat times; prints the median and every measure.
Run it with PYTHONPATH pointing at another checkout to compare two versions.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH, which may point at another checkout to compare

from datasets.national import cached_national  # noqa: E402
from flows.parameters import CampaignParameters  # noqa: E402
from observatoire import warehouse  # noqa: E402
from observatoire.pipeline import run_campaign  # noqa: E402
from observatoire.reports.feedback import write_run_feedback  # noqa: E402
from observatoire.reports.relance import write_relance_workbooks  # noqa: E402

TODAY = dt.date(2025, 3, 10)  # fixed: the same « jours depuis la date limite » every time


def _cpu(function, *args) -> float:
    started = time.process_time()
    function(*args)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache" / "datasets")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    campaign = cached_national(args.cache)
    work = Path(tempfile.mkdtemp(prefix="workbooks-bench-"))
    try:
        url = f"sqlite:///{work / 'w.db'}"
        params = CampaignParameters(year=campaign.year, submissions=str(campaign.submissions_dir),
                                    finess=[str(path) for path in campaign.finess()],
                                    calendar=str(campaign.calendar), warehouse_url=url)
        run = run_campaign(params)
        engine = warehouse.connect(url)
        measures: dict[str, list[float]] = {"feedback": [], "relance, new folder": [], "relance, same folder": []}
        for number in range(args.repeat):
            folder = work / f"rapports-{number}"
            measures["feedback"].append(_cpu(write_run_feedback, run.received, run.validated,
                                             folder / "campagne-retours.xlsx"))
            for label in ("relance, new folder", "relance, same folder"):
                measures[label].append(_cpu(write_relance_workbooks, engine, campaign.year, None, folder, TODAY))
        for label, values in measures.items():
            print(f"{label:22s} median {statistics.median(values):.3f} s CPU  "
                  f"[{' '.join(f'{v:.3f}' for v in values)}]")
        total = [a + b for a, b in zip(measures["feedback"], measures["relance, new folder"])]
        print(f"{'both, new folder':22s} median {statistics.median(total):.3f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
