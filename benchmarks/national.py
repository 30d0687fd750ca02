"""How long does a national campaign take, and how far is it from what the files cost?

Runs the real pipeline on a generated national campaign (observatoire/sample/national.py,
cached under --out/datasets) and measures, each in a fresh subprocess so that peak memory
is that of one measurement only:

- stages: the stage functions one after the other (referential, read, validate,
  reconcile, statuses, load), wall time, CPU time and peak RSS of each (VmHWM, reset
  between stages through /proc/self/clear_refs);
- flow: the whole Prefect flow `consolidate_campaign` (after a warm-up flow that starts
  Prefect's temporary server, timed apart), then the same run again into the same warehouse
  (`rerun`: the FINESS extract is already stored, the campaign's rows are replaced);
- floor: opening and reading every file with fastexcel (all sheets, to Polars) or Polars
  for CSV and for the FINESS extract, plus COPY (PostgreSQL) or one executemany transaction (SQLite) of exactly the
  rows the pipeline loads into the warehouse (the campaign's tables and the FINESS versions it stores);
- analyst: what an analyst does today, openpyxl reading each workbook, pandas DataFrames,
  `to_sql` into the same database;
- finess: the full-size FINESS extract alone (parse, normalise, history).

    .venv/bin/python benchmarks/national.py [--files-multiplier 1 10] [--warehouse sqlite|postgresql|both]
                                            [--out DIR] [--profile]

Prints a French/English table and writes benchmarks/results/national-<date>.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH: another checkout can be measured with the same scripts

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
STAGES = ("referential", "read", "validate", "reconcile", "statuses", "load")
STAGE_LABELS = {
    "referential": "référentiel / referential", "read": "lecture / read", "validate": "validation / validate",
    "reconcile": "rapprochement / reconcile", "statuses": "statuts / statuses", "load": "chargement / load",
}
TARGETS = {"vs_floor_max": 2.0, "vs_analyst_min": 5.0, "x10_cost_max": 11.0, "peak_mb_30k_max": 1536}


# ====================================================================== measurements (child side)
class TreeSampler:
    """Memory of the pipeline when it runs on several processes: every 20 ms, the RSS of
    this process plus that of its reader processes (children started by multiprocessing),
    and apart, that of its other children (Prefect's temporary server). The pipeline peak
    reported is the largest of the sampled sum and this process's own high-water mark.

    The sampler runs in the measured process and holds its GIL while it samples, so it is
    kept cheap: the process tree (a walk over every thread of every process, about 1 ms
    with Prefect's forty threads) is looked up every `tree_every` seconds only, and each
    sample reads one `statm` line per known process."""

    def __init__(self, interval: float = 0.02, tree_every: float = 0.25) -> None:
        import threading

        self.interval, self.tree_every, self.pipeline_mb, self.others_mb = interval, tree_every, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.pipeline_mb = self.others_mb = 0.0

    def _run(self) -> None:
        readers, others, looked_up = [], [], 0.0
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            if now - looked_up >= self.tree_every:
                readers, others, looked_up = [], [], now
                for pid in _descendants(os.getpid()):
                    try:
                        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    (readers if b"multiprocessing" in cmdline else others).append(pid)
            pipeline = _rss_kb(os.getpid()) + sum(_rss_kb(pid) for pid in readers)
            self.pipeline_mb = max(self.pipeline_mb, pipeline / 1024)
            self.others_mb = max(self.others_mb, sum(_rss_kb(pid) for pid in others) / 1024)

    def stop(self) -> None:
        self._stop.set()


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int:
    """Resident memory of a process (0 once it has ended), from its one-line `statm`."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


_SAMPLER: "TreeSampler | None" = None


def _sampler() -> TreeSampler:
    global _SAMPLER
    if _SAMPLER is None:
        _SAMPLER = TreeSampler()
    return _SAMPLER


class Meter:
    """Wall time, CPU time and peak RSS of a block; peak reset at the start when possible.
    `peak_rss_mb` counts the reader processes too (see TreeSampler); `own_peak_rss_mb` is
    this process alone, `other_children_peak_mb` Prefect's temporary server when there is one."""

    def __init__(self) -> None:
        self.results: dict[str, dict] = {}

    def __call__(self, name: str):
        meter = self

        class _Block:
            def __enter__(self):
                _reset_peak()
                _sampler().reset()
                self.wall, self.cpu = time.perf_counter(), time.process_time()
                self.reaped, self.live = _reaped_children_cpu(), _live_children_cpu()
                return self

            def __exit__(self, *exc):
                own = _peak_rss_mb()
                live = _live_children_cpu()
                meter.results[name] = {
                    "seconds": round(time.perf_counter() - self.wall, 4),
                    "cpu_seconds": round(time.process_time() - self.cpu, 4),
                    # child processes that ended during the block (the reader processes), and
                    # those still running at its end (Prefect's temporary server)
                    "ended_children_cpu_seconds": round(_reaped_children_cpu() - self.reaped, 4),
                    "running_children_cpu_seconds": round(sum(v - self.live.get(pid, 0.0) for pid, v in live.items()), 4),
                    "peak_rss_mb": round(max(own, _sampler().pipeline_mb), 1),
                    "own_peak_rss_mb": own,
                    "other_children_peak_mb": round(_sampler().others_mb, 1),
                }
                return False

        return _Block()


def _reaped_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_TICKS = os.sysconf("SC_CLK_TCK")


def _live_children_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each running descendant, from /proc/<pid>/stat."""
    found = {}
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15
    return found


_CAN_RESET = None


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    global _CAN_RESET
    if _CAN_RESET is False:
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
        _CAN_RESET = True
    except OSError:
        _CAN_RESET = False


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _process_peak_mb(meter: "Meter | None" = None) -> float:
    """Peak RSS of the process: clear_refs resets ru_maxrss too, so the peak is the largest
    of the blocks' peaks and of the RSS high-water mark since the last reset."""
    peaks = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    if meter is not None:
        peaks += [block["peak_rss_mb"] for block in meter.results.values()]
    return round(max(peaks), 1)


def child_stages(spec: dict) -> dict:
    meter = Meter()
    with meter("import"):
        import polars as pl

        from observatoire import stages, warehouse
        from observatoire.readers.calendar import read_calendar
        from transforms.referential import referential_regions
    submissions, year = Path(spec["submissions"]), spec["year"]
    run_at = dt.datetime.now(dt.timezone.utc)
    with meter("referential"):  # into the warehouse, as the flow does: its versions are rows it loads
        t_connect = time.perf_counter()
        engine = warehouse.connect(spec["url"])
        warehouse.migrate(engine)
        connect_migrate = time.perf_counter() - t_connect
        ref = stages.load_referential([Path(spec["extract"])], engine)
    with meter("read"):
        files = stages.list_files(submissions)
        received = stages.gather(stages.read_files(files, submissions, workers=spec.get("read_workers")),
                                 submissions)
    with meter("validate"):
        validated = stages.validate(received, year, run_at)
    with meter("reconcile"):
        resolution = stages.reconcile(validated, ref)
    with meter("statuses"):
        regions = referential_regions(ref.history)
        calendar = read_calendar(Path(spec["calendar"]))
        status_rows, submission_rows = stages.statuses(validated, resolution, ref, calendar, year, regions)
    with meter("load"):
        t0 = time.perf_counter()
        load = stages.build_load(year, regions, received, validated, status_rows, submission_rows, "bench",
                                 dt.datetime.now(dt.timezone.utc))
        t1 = time.perf_counter()
        warehouse.load_campaign(engine, load)
        t2 = time.perf_counter()
    tables = {"submission": load.submissions, "submission_issue": load.issues,
              "centre_year_status": load.statuses, "file_outcome": load.outcomes,
              # the referential the run stored: the floor loads these rows too
              **{name: _table(engine, name) for name in ("finess_et_history", "finess_snapshot")}}
    if spec.get("dump"):
        dump = Path(spec["dump"])
        dump.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            frame.write_parquet(dump / f"{name}.parquet")
    engine.dispose()
    return {
        "stages": {k: meter.results[k] for k in STAGES},
        "import": meter.results["import"],
        "load_detail": {"build_load_seconds": round(t1 - t0, 4), "load_campaign_seconds": round(t2 - t1, 4)},
        "referential_detail": {"connect_migrate_seconds": round(connect_migrate, 4)},
        "total_seconds": round(sum(meter.results[k]["seconds"] for k in STAGES), 4),
        "peak_rss_mb": _process_peak_mb(meter),
        "counts": {
            "files": len(files), "files_readable": sum(o.readable for o in received.outcomes),
            "cells": received.cells.height, "personnel_rows": received.personnel.height,
            "submissions": validated.typed.height, "issues": validated.issues.height,
            "finess_history_rows": ref.history.height,
            "warehouse_rows": {name: frame.height for name, frame in tables.items()},
        },
    }


def _table(engine, name: str):
    """A warehouse table as the driver returns it, every column as text."""
    import polars as pl

    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute(f"SELECT * FROM {name}")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return pl.DataFrame([[None if v is None else str(v) for v in row] for row in rows],
                        schema={c: pl.String for c in columns}, orient="row")


def child_flow(spec: dict) -> dict:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    meter = Meter()
    with meter("import"):
        from prefect import flow

        from flows.campaign import consolidate_campaign
        from flows.parameters import CampaignParameters

    @flow(name="echauffement-benchmark")
    def warm_up() -> int:
        return 1

    with meter("prefect_warm_up"):  # starts the temporary Prefect server once
        warm_up()
    params = CampaignParameters(year=spec["year"], submissions=spec["submissions"], finess=[spec["extract"]],
                                calendar=spec["calendar"], warehouse_url=spec["url"])
    flow_started = dt.datetime.now(dt.timezone.utc)
    failure, recorded = None, {}
    with meter("flow"):
        try:
            recorded["flow"] = _run_id(consolidate_campaign(params=params, return_state=True))
        except Exception as exc:  # recorded, not hidden: the table shows « échec »
            failure = f"{type(exc).__name__}: {exc}"
    if failure:
        detail = re.search(r"'msg': '([^']*)'", failure)
        return {"error": (detail.group(1) if detail else failure)[:500],
                "failed_after_seconds": meter.results["flow"]["seconds"], "tasks": _task_spans(flow_started),
                "peak_rss_mb": _process_peak_mb(meter)}
    tasks = _task_spans(flow_started)
    peak = _process_peak_mb(meter)  # the first run's (the rerun starts with what the first left in memory)
    rerun, rerun_started = None, dt.datetime.now(dt.timezone.utc)
    with meter("rerun"):  # the same run again into the same warehouse, as after a correction
        try:
            recorded["rerun"] = _run_id(consolidate_campaign(params=params, return_state=True))
        except Exception as exc:
            rerun = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    rerun = rerun or {"seconds": meter.results["rerun"]["seconds"], "tasks": _task_spans(rerun_started),
                      "peak_rss_mb": meter.results["rerun"]["peak_rss_mb"],
                      "prefect_recorded_seconds": _recorded_seconds(recorded["rerun"]),
                      "cpu": _cpu_split(meter.results["rerun"])}
    return {"seconds": meter.results["flow"]["seconds"], "cpu_seconds": meter.results["flow"]["cpu_seconds"],
            "cpu": _cpu_split(meter.results["flow"]),
            "prefect_recorded_seconds": _recorded_seconds(recorded["flow"]),
            "tasks": tasks, "rerun": rerun,
            "peak_rss_mb": peak, "flow_peak_rss_mb": meter.results["flow"]["peak_rss_mb"],
            "flow_own_peak_rss_mb": meter.results["flow"]["own_peak_rss_mb"],
            "prefect_server_peak_mb": meter.results["flow"]["other_children_peak_mb"],
            "prefect_warm_up_seconds": meter.results["prefect_warm_up"]["seconds"],
            "import": meter.results["import"]}


def _cpu_split(block: dict) -> dict:
    """Where a flow run's CPU time went, in seconds: on two cores, a run cannot end sooner
    than half their sum."""
    return {"flow_process": block["cpu_seconds"], "reader_processes": block["ended_children_cpu_seconds"],
            "prefect_server": block["running_children_cpu_seconds"]}


def _run_id(state):
    state.result()  # raises what the flow raised
    return state.state_details.flow_run_id


def _recorded_seconds(flow_run_id) -> float | None:
    """The flow run's duration as the Prefect server records it (Running to Completed): the
    run's own work, without the wait for Prefect's heartbeat thread that follows Completed
    before the call returns (see benchmarks/README.md)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    if run.start_time is None or run.end_time is None:
        return None
    return round((run.end_time - run.start_time).total_seconds(), 3)


_TASK_STAGES = {"référentiel FINESS": "referential", "lecture": "read", "validation": "validate",
                "rapprochement FINESS": "reconcile", "statuts": "statuses", "chargement de l'entrepôt": "load"}


def _task_spans(since: dt.datetime) -> dict:
    """Per stage, the span (first start to last end) of the flow's task runs, read back from
    the Prefect server: where the flow's time goes, Prefect's own work included."""
    from prefect.client.orchestration import get_client

    runs, offset = [], 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_task_runs(limit=200, offset=offset)
            runs += page
            offset += len(page)
            if len(page) < 200:
                break
    spans: dict[str, dict] = {}
    for run in runs:
        if run.start_time is None or run.end_time is None or run.start_time < since:
            continue
        stage = _TASK_STAGES.get(run.name.split("-")[0], run.name)
        span = spans.setdefault(stage, {"start": run.start_time, "end": run.end_time, "task_runs": 0,
                                        "task_seconds": 0.0})
        span["start"], span["end"] = min(span["start"], run.start_time), max(span["end"], run.end_time)
        span["task_runs"] += 1
        span["task_seconds"] += run.total_run_time.total_seconds()
    return {stage: {"seconds": round((v["end"] - v["start"]).total_seconds(), 3), "task_runs": v["task_runs"],
                    "task_seconds_sum": round(v["task_seconds"], 3)} for stage, v in spans.items()}


def _floor_read_file(path: Path) -> int:
    """Rows of every sheet of a file, the cheapest way: fastexcel to Polars, Polars for CSV."""
    import fastexcel
    import polars as pl

    raw = path.read_bytes()
    if path.suffix.lower() == ".csv":
        if raw.startswith(b"\xef\xbb\xbf"):
            text = raw[3:].decode("utf-8")
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
        separator = max((";", "\t", ","), key=lambda s: text[:2000].split("\n", 1)[0].count(s))
        frame = pl.read_csv(text.encode(), separator=separator, infer_schema=False, truncate_ragged_lines=True)
        return frame.height
    reader = fastexcel.read_excel(raw)
    rows = 0
    for name in reader.sheet_names:
        frame = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        rows += frame.height
    return rows


def _floor_read_extract(path: Path) -> int:
    """The FINESS extract into Polars: decode windows-1252, one CSV parse, no checks."""
    import polars as pl

    text = path.read_bytes().decode("cp1252")
    frame = pl.read_csv(text.encode(), separator=";", has_header=False, skip_rows=1, infer_schema=False,
                        truncate_ragged_lines=True)
    return frame.height


def child_floor(spec: dict) -> dict:
    meter = Meter()
    with meter("import"):
        import polars as pl

        from observatoire.readers.submission_files import list_submission_files
    files = list_submission_files(Path(spec["submissions"]))
    rows_read, unreadable = 0, 0
    with meter("read"):
        rows_read += _floor_read_extract(Path(spec["extract"]))
        for path in files:
            try:
                rows_read += _floor_read_file(path)
            except Exception:  # the pipeline's unreadable files: opening them is the cost
                unreadable += 1
    frames = {p.stem: pl.read_parquet(p) for p in sorted(Path(spec["dump"]).glob("*.parquet"))}
    with meter("load"):
        loaded = _floor_load(frames, spec["url"])
    return {"read": meter.results["read"], "load": meter.results["load"],
            "seconds": round(meter.results["read"]["seconds"] + meter.results["load"]["seconds"], 4),
            "peak_rss_mb": _process_peak_mb(meter), "files": len(files), "files_failed": unreadable,
            "rows_read": rows_read, "rows_loaded": loaded, "method": "COPY" if "postgresql" in spec["url"]
            else "executemany"}


def _floor_load(frames: dict, url: str) -> int:
    """The same rows as the warehouse load, into plain text tables, in one transaction."""
    import polars as pl

    total = 0
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            with connection.cursor() as cursor:
                for name, frame in frames.items():
                    frame = frame.select(pl.all().cast(pl.String))
                    cursor.execute(f"CREATE TABLE floor_{name} ({', '.join(f'{c} text' for c in frame.columns)})")
                    with cursor.copy(f"COPY floor_{name} FROM STDIN (FORMAT csv)") as copy:
                        copy.write(frame.write_csv(include_header=False))
                    total += frame.height
        return total
    import sqlite3

    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    with connection:
        for name, frame in frames.items():
            frame = frame.select(pl.all().cast(pl.String))
            connection.execute(f"CREATE TABLE floor_{name} ({', '.join(f'{c} text' for c in frame.columns)})")
            marks = ", ".join("?" * frame.width)
            connection.executemany(f"INSERT INTO floor_{name} VALUES ({marks})", frame.iter_rows())
            total += frame.height
    connection.close()
    return total


def child_analyst(spec: dict) -> dict:
    meter = Meter()
    try:
        import pandas as pd
    except ModuleNotFoundError:
        return {"skipped": "pandas absent : « .venv/bin/pip install pandas » pour mesurer la référence analyste"}
    with meter("import"):
        import openpyxl
        import sqlalchemy as sa

        from observatoire.readers.submission_files import list_submission_files
    files = list_submission_files(Path(spec["submissions"]))
    reports, personnel, exports, failed = [], [], [], 0
    with meter("read"):
        for path in files:
            try:
                if path.suffix.lower() == ".csv":
                    exports.append(_analyst_csv(pd, path))
                    continue
                workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
                sheets = {ws.title: pd.DataFrame(list(ws.iter_rows(values_only=True))) for ws in workbook.worksheets}
                workbook.close()
                if "Identification" not in sheets:
                    exports.append(next(iter(sheets.values())))
                    continue
                report = {"fichier": path.name}
                for title, frame in sheets.items():
                    if title == "Personnel":
                        frame = frame.dropna(how="all").astype(str)
                        frame["fichier"] = path.name
                        personnel.append(frame)
                    elif frame.shape[1] >= 2:
                        for label, value in frame.iloc[:, :2].dropna(subset=[0]).itertuples(index=False):
                            report[_analyst_key(label)] = None if value is None else str(value)
                reports.append(report)
            except Exception:
                failed += 1
    with meter("load"):
        engine = sa.create_engine(spec["url"])
        rows = 0
        frames = {"rapports": pd.DataFrame(reports), "personnel": pd.concat(personnel, ignore_index=True)
                  if personnel else pd.DataFrame()}
        if exports:  # header labels vary by region: the analyst aligns the columns by position
            frames["exports"] = pd.concat([_positional(e.astype(str)) for e in exports], ignore_index=True)
        for name, frame in frames.items():
            _positional(frame).astype(str).to_sql(name, engine, if_exists="replace", index=False)
            rows += len(frame)
        engine.dispose()
    return {"read": meter.results["read"], "load": meter.results["load"],
            "seconds": round(meter.results["read"]["seconds"] + meter.results["load"]["seconds"], 4),
            "peak_rss_mb": _process_peak_mb(meter), "files": len(files), "files_failed": failed, "rows_loaded": rows,
            "pandas": pd.__version__}


def _analyst_key(label) -> str:
    """Labels vary in case, accents, units and a trailing colon: the analyst folds them."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKD", str(label))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)|:", " ", text)).strip()


def _positional(frame):
    frame.columns = [f"c{i}" for i in range(frame.shape[1])]
    return frame


def _analyst_csv(pd, path: Path):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = pd.read_csv(path, sep=None, engine="python", encoding=encoding, dtype=str)
        except UnicodeDecodeError:
            continue
        if frame.shape[1] > 300:  # UTF-16 decoded as windows-1252: garbage the analyst sets aside
            raise ValueError(path)
        return frame
    raise ValueError(path)


def child_finess(spec: dict) -> dict:
    meter = Meter()
    with meter("import"):
        from observatoire.readers.finess_extract import read_finess_extract
        from observatoire.readers.reference_data import departement_regions
        from transforms import referential
    with meter("parse"):
        extract = read_finess_extract(Path(spec["extract"]))
    with meter("normalise"):
        frame = referential.normalise_establishments(extract.establishments, departement_regions())
    with meter("history"):
        history = referential.establishment_history([(extract.extract_date, frame)])
    steps = {k: meter.results[k] for k in ("parse", "normalise", "history")}
    return {"steps": steps, "seconds": round(sum(s["seconds"] for s in steps.values()), 4),
            "peak_rss_mb": _process_peak_mb(meter), "structureet_lines": extract.establishments.height,
            "history_rows": history.height}


CHILDREN = {"stages": child_stages, "flow": child_flow, "floor": child_floor, "analyst": child_analyst,
            "finess": child_finess}


def run_child(spec: dict) -> dict:
    """`spec["kind"]` measured in a fresh interpreter; optionally under cProfile."""
    if spec.get("profile"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(CHILDREN[spec["kind"]], spec)
        profiler.dump_stats(spec["profile"])
        with open(spec["profile"] + ".txt", "w", encoding="utf-8") as out:
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            out.write("== tottime ==\n")
            stats.sort_stats("tottime").print_stats(40)
            out.write("== cumulative ==\n")
            stats.sort_stats("cumulative").print_stats(60)
        return result
    return CHILDREN[spec["kind"]](spec)


# ====================================================================== orchestration (parent side)
def measure(spec: dict, log) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", str(os.cpu_count() or 1))}
    if spec.get("prefect_home"):
        env["PREFECT_HOME"] = spec["prefect_home"]
    started = time.perf_counter()
    process = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], cwd=spec["workdir"], env=env,
                             capture_output=True, text=True)
    wall = round(time.perf_counter() - started, 2)
    if process.returncode != 0:
        lines = [line[:400] for line in process.stderr.strip().splitlines()] or ["?"]
        log(f"  ! {spec['kind']} a échoué / failed (code {process.returncode})")
        log("    " + "\n    ".join(lines[-12:]))
        return {"error": lines[-1], "process_seconds": wall}
    result = json.loads(process.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall  # interpreter start and imports included
    return result


class Databases:
    """One fresh database (SQLite file or PostgreSQL database) per measurement."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.created = workdir, []

    def url(self, kind: str, name: str) -> str:
        if kind == "sqlite":
            path = self.workdir / f"{name}.db"
            path.unlink(missing_ok=True)
            return f"sqlite:///{path}"
        import psycopg

        db = f"bench_{name}".lower()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}"')
        self.created.append(db)
        return PG_URL.format(db=db)

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for db in self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.created = []


def run_benchmark(multipliers: list[int], warehouses: list[str], out: Path, n_centres: int, seed: int,
                  finess_lines: int, profile: bool = False, results_dir: Path | None = None,
                  quiet: bool = False, skip_flow: bool = False,
                  measures: tuple[str, ...] = ("stages", "flow", "floor", "analyst")) -> tuple[dict, Path]:
    from observatoire.sample.national import cached_national

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    out = out.resolve()
    workdir = out / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "prefect-home", ignore_errors=True)  # a fresh Prefect database per benchmark run
    databases = Databases(workdir)
    result: dict = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "memory_gb": _memory_gb()},
        "parameters": {"files_multipliers": multipliers, "warehouses": warehouses, "n_centres": n_centres,
                       "seed": seed, "finess_lines": finess_lines},
        "datasets": {}, "finess_extract": None, "runs": {},
    }
    try:
        for multiplier in multipliers:
            started = time.perf_counter()
            dataset = cached_national(out / "datasets", n_centres, seed, multiplier, finess_lines)
            summary = {**dataset.summary, "cache_dir": str(dataset.out_dir),
                       "ready_seconds": round(time.perf_counter() - started, 2)}
            result["datasets"][str(multiplier)] = summary
            log(f"Jeu national ×{multiplier} : {summary['files']} fichiers, {summary['centres_de_sante']} centres, "
                f"{summary['finess_structureet_lines']} lignes FINESS ({dataset.out_dir})")
            base = {"workdir": str(workdir), "year": dataset.year, "submissions": str(dataset.submissions_dir),
                    "extract": str(dataset.extract), "calendar": str(dataset.calendar),
                    "prefect_home": str(out / "prefect-home")}
            if result["finess_extract"] is None:
                log("  extrait FINESS seul / FINESS extract alone …")
                result["finess_extract"] = measure({**base, "kind": "finess"}, log)
            for kind in warehouses:
                key = f"x{multiplier}-{kind}"
                run: dict = {}
                dump = workdir / f"dump-{key}"
                log(f"  {key} : étapes / stages …")
                run["stages"] = measure({**base, "kind": "stages", "url": databases.url(kind, f"stages_{key}"),
                                         "dump": str(dump)}, log)
                if profile:
                    log(f"  {key} : profil cProfile des étapes / stage profile …")
                    prof = (results_dir or BENCH_DIR / "results") / f"profile-stages-{key}.prof"
                    prof.parent.mkdir(parents=True, exist_ok=True)
                    measure({**base, "kind": "stages", "url": databases.url(kind, f"prof_{key}"),
                             "profile": str(prof)}, log)
                    run["profile"] = str(prof) + ".txt"
                if skip_flow or "flow" not in measures:
                    run["flow"] = {"skipped": "--skip-flow"}
                else:
                    log(f"  {key} : flow Prefect …")
                    run["flow"] = measure({**base, "kind": "flow", "url": databases.url(kind, f"flow_{key}")}, log)
                if "floor" in measures:
                    log(f"  {key} : plancher / floor (fastexcel + "
                        f"{'COPY' if kind == 'postgresql' else 'executemany'}) …")
                    run["floor"] = measure({**base, "kind": "floor", "url": databases.url(kind, f"floor_{key}"),
                                            "dump": str(dump)}, log) if dump.exists() else {"error": "no dump"}
                if "analyst" in measures:
                    log(f"  {key} : analyste / analyst (openpyxl + pandas + to_sql) …")
                    run["analyst"] = measure({**base, "kind": "analyst",
                                              "url": databases.url(kind, f"analyst_{key}")}, log)
                result["runs"][key] = run
                databases.drop_all()
    finally:
        databases.drop_all()
    result["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    result["ratios"] = ratios(result)
    results_dir = results_dir or BENCH_DIR / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = results_dir / f"national-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result, path


def _memory_gb() -> float | None:
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        return round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        return None


def _seconds(entry: dict | None) -> float | None:
    return entry.get("seconds") if entry and "error" not in entry and "skipped" not in entry else None


def ratios(result: dict) -> dict:
    """The issue's ratios, per warehouse (None when a measurement is missing)."""
    out: dict = {}
    for key, run in result["runs"].items():
        flow, floor, analyst = _seconds(run.get("flow")), _seconds(run.get("floor")), _seconds(run.get("analyst"))
        stages_total = run.get("stages", {}).get("total_seconds")
        out[key] = {
            "flow_vs_floor": round(flow / floor, 2) if flow and floor else None,
            "stages_vs_floor": round(stages_total / floor, 2) if stages_total and floor else None,
            "analyst_vs_flow_speedup": round(analyst / flow, 2) if flow and analyst else None,
            "analyst_vs_stages_speedup": round(analyst / stages_total, 2) if stages_total and analyst else None,
            "flow_peak_rss_mb": run.get("flow", {}).get("peak_rss_mb"),
            "stages_peak_rss_mb": run.get("stages", {}).get("peak_rss_mb"),
        }
    for kind in ("sqlite", "postgresql"):
        one, ten = result["runs"].get(f"x1-{kind}"), result["runs"].get(f"x10-{kind}")
        if one and ten:
            entry = {}
            for name, getter in (("flow", lambda r: _seconds(r.get("flow"))),
                                 ("stages", lambda r: r.get("stages", {}).get("total_seconds")),
                                 ("floor", lambda r: _seconds(r.get("floor")))):
                a, b = getter(one), getter(ten)
                entry[name] = round(b / a, 2) if a and b else None
            out[f"x10_vs_x1-{kind}"] = entry
    for key, run in result["runs"].items():  # the memory target is set at 30,000 files
        multiplier = key.split("-")[0].removeprefix("x")
        files = (result["datasets"].get(multiplier) or {}).get("files", 0)
        if files >= 30_000:
            peaks = [run.get(m, {}).get("peak_rss_mb") for m in ("flow", "stages")]
            peaks = [p for p in peaks if p is not None]
            out[f"memory_30k-{key}"] = {
                "files": files, "flow_peak_rss_mb": run.get("flow", {}).get("peak_rss_mb"),
                "stages_peak_rss_mb": run.get("stages", {}).get("peak_rss_mb"),
                "prefect_server_peak_mb": run.get("flow", {}).get("prefect_server_peak_mb"),
                "under_target": bool(peaks) and max(peaks) < TARGETS["peak_mb_30k_max"],
            }
    out["targets"] = TARGETS
    return out


# ====================================================================== report
def _cell(entry: dict | None) -> str:
    if not entry:
        return "—"
    if "skipped" in entry:
        return "non mesuré"
    if "error" in entry:
        return "échec"
    peak = entry.get("peak_rss_mb")
    return f"{entry['seconds']:8.2f} s {peak:6.0f} Mo" if peak is not None else f"{entry['seconds']:8.2f} s"


def table(result: dict) -> str:
    keys = list(result["runs"])
    head = ["mesure / measure"] + [k.replace("x", "×", 1).replace("sqlite", "SQLite").replace("postgresql",
                                                                                                "PostgreSQL")
                                   for k in keys]
    rows: list[list[str]] = []
    for stage in STAGES:
        rows.append([f"  {STAGE_LABELS[stage]}"] + [_cell(result["runs"][k].get("stages", {}).get("stages", {})
                                                          .get(stage)) for k in keys])
    rows.append(["étapes, total / stages, total"] + [
        _cell({"seconds": r["stages"]["total_seconds"], "peak_rss_mb": r["stages"]["peak_rss_mb"]})
        if "total_seconds" in r.get("stages", {}) else "échec" for r in result["runs"].values()])
    rows.append(["flow Prefect de bout en bout / end-to-end"] + [_cell(r.get("flow")) for r in result["runs"].values()])
    rows.append(["flow, relance identique / same run again"] + [_cell((r.get("flow") or {}).get("rerun"))
                                                                  for r in result["runs"].values()])
    rows.append(["flow tel que Prefect l'enregistre / as recorded"] + [
        " / ".join(f"{v:.2f} s" if v is not None else "—" for v in (
            (r.get("flow") or {}).get("prefect_recorded_seconds"),
            ((r.get("flow") or {}).get("rerun") or {}).get("prefect_recorded_seconds")))
        for r in result["runs"].values()])
    rows.append(["plancher / floor (fastexcel + COPY)"] + [_cell(r.get("floor")) for r in result["runs"].values()])
    rows.append(["analyste / analyst (openpyxl+pandas)"] + [_cell(r.get("analyst")) for r in result["runs"].values()])
    widths = [max(len(row[i]) for row in rows + [head]) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(head, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    for key, run in result["runs"].items():
        tasks = (run.get("flow") or {}).get("tasks")
        if tasks:
            spans = ", ".join(f"{stage} {v['seconds']:.2f} s" for stage, v in tasks.items())
            lines.append(f"flow {key}, tâches Prefect / task spans : {spans}")
    for key, run in result["runs"].items():
        flow_run = run.get("flow") or {}
        for label, cpu in (("", flow_run.get("cpu")), (", relance / rerun", (flow_run.get("rerun") or {}).get("cpu"))):
            if cpu:
                lines.append(f"flow {key}{label}, CPU : processus du flow / flow process {cpu['flow_process']:.2f} s, "
                             f"lecteurs / readers {cpu['reader_processes']:.2f} s, serveur Prefect / server "
                             f"{cpu['prefect_server']:.2f} s, total {sum(cpu.values()):.2f} s")
    finess = result.get("finess_extract") or {}
    if "steps" in finess:
        steps = ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in finess["steps"].items())
        lines += ["", f"Extrait FINESS seul / FINESS extract alone ({finess['structureet_lines']} lignes) : "
                      f"{finess['seconds']:.2f} s ({steps}), pic {finess['peak_rss_mb']:.0f} Mo"]
    lines += ["", "Ratios (cibles / targets : ≤ 2× plancher, ≥ 5× plus rapide que l'analyste, ×10 fichiers ≤ 11×, "
                  "pic < 1,5 Go à 30 000 fichiers)"]
    for key, value in result["ratios"].items():
        if key != "targets":
            lines.append(f"  {key} : " + ", ".join(f"{k}={v}" for k, v in value.items()))
    return "\n".join(lines)


# ====================================================================== command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc d'essai national / national benchmark")
    parser.add_argument("--files-multiplier", type=int, nargs="+", default=[1, 10],
                        help="multiplicateur(s) de fichiers (défaut : 1 10)")
    parser.add_argument("--warehouse", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--out", default=str(BENCH_DIR / ".cache"),
                        help="dossier des jeux générés (cache) et des bases de travail")
    parser.add_argument("--centres", type=int, default=3000, help="nombre de centres de santé (défaut : 3000)")
    parser.add_argument("--finess-lines", type=int, default=100_000, help="lignes de l'extrait FINESS")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--profile", action="store_true", help="profil cProfile des étapes (en plus)")
    parser.add_argument("--skip-flow", action="store_true", help="ne pas mesurer le flow Prefect")
    parser.add_argument("--measures", nargs="+", default=["stages", "flow", "floor", "analyst"],
                        choices=["stages", "flow", "floor", "analyst"], help="mesures à faire (défaut : toutes)")
    parser.add_argument("--results-dir", default=None, help="dossier du JSON (défaut : benchmarks/results)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0
    try:
        import pandas  # noqa: F401
    except ModuleNotFoundError:
        print("Référence analyste non mesurée : pandas absent. Installez-le dans le venv pour la mesurer : "
              ".venv/bin/pip install pandas (pas une dépendance du projet).")
    warehouses = ["sqlite", "postgresql"] if args.warehouse == "both" else [args.warehouse]
    result, path = run_benchmark(args.files_multiplier, warehouses, Path(args.out), args.centres, args.seed,
                                 args.finess_lines, args.profile,
                                 Path(args.results_dir) if args.results_dir else None, skip_flow=args.skip_flow,
                                 measures=tuple(args.measures))
    print()
    print(table(result))
    print(f"\nRésultats / results : {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
