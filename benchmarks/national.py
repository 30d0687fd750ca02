"""How long does a user wait for a campaign, and how far is it from what the files cost?

Every measure is a whole process started cold, timed from its start to its exit, as a user
waits for it, on a generated national campaign (datasets/national.py, cached
under --out/datasets):

- command: `observatoire run` with no Prefect API configured (its own PREFECT_HOME, no
  PREFECT_* variable, run in a folder without .env or prefect.toml);
- rerun: the same command into a copy of a warehouse where the same run was already
  loaded (the FINESS extract is stored, the campaign's rows are replaced), as after a
  correction;
- server: the same command with PREFECT_API_URL pointing at a `prefect server start` that
  this script started beforehand on a free port (its own PREFECT_HOME), stopped at the end.
  The server runs only during these measures: it is paused (SIGSTOP, its whole process
  group) during the others, which a user without a server runs on a machine without one,
  and resumed before each of its own, once it is quiet again (its CPU below 5 % of a core
  over half a second). Each measure records the server's CPU time over its span;
- analyst: benchmarks/analyst.py (openpyxl + pandas + to_sql), the way it is done today;
- floor: benchmarks/floor.py (fastexcel/Polars reads every file, then COPY or executemany
  of exactly the rows a run of the command left in the warehouse).

Rounds alternate (round r runs the measures in the order rotated by r), each measure into a
fresh warehouse; medians, minimum and maximum are reported. Memory is the peak resident
memory of the measured process and all its descendants (reader processes; Prefect's
temporary server when the command starts one), sampled from /proc by this script.

Configurations (one JSON file each in --results-dir): `national-x<k>` (3,000 centres,
every file sent k times) and `region-<code>` (one region's submissions of the ×1 campaign,
with the national FINESS extract, run with --region).

    .venv/bin/python benchmarks/national.py [--files-multiplier 1 10] [--region 04] [--rounds 5]
        [--large-rounds N] [--analyst-rounds N] [--measures command rerun server analyst floor]
        [--large-measures …]
        [--warehouse sqlite|postgresql|both] [--stages] [--out DIR] [--results-dir DIR]
    .venv/bin/python benchmarks/national.py --report benchmarks/results/*.json
    .venv/bin/python benchmarks/national.py [--timeout S] --measure-process -- CMD [ARG …]

`--stages`: after the rounds, one more run of the pipeline in a process of this script,
with the time each stage takes (diagnostics, not a measure of what users wait for);
`--child-stages SPEC` is that run alone (benchmarks/bad_files.py uses it).

`--measure-process -- CMD [ARG …]`: one command measured as the measures are (wall and CPU
time, peak memory of its whole process tree), run in the current folder with the caller's
environment; prints the measure as one JSON object (the command's own output is not shown,
its last line is the object's "output"); exit code 1 if the command failed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
MEASURES = ("command", "server", "analyst", "floor", "rerun")
LABELS = {"command": "observatoire run, sans serveur Prefect",
          "server": "observatoire run, serveur Prefect déjà lancé",
          "rerun": "observatoire run, relance (entrepôt déjà chargé)",
          "analyst": "script de l'analyste (openpyxl + pandas + to_sql)",
          "floor": "plancher (fastexcel + COPY/executemany)"}
TARGETS = {"analyst_over_command_min": 5.0, "command_over_floor_max": 4.0, "server_minus_command_max_s": 2.0,
           "small_campaign_max_s": 2.5, "x10_over_x1_max": 11.0, "peak_tree_max_bytes": 1.5e9,
           "peak_tree_min_files": 30_000}
YEAR = 2024
MiB = 1024 * 1024


# ====================================================================== one process, measured
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 once it has ended), from its one-line `statm`."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _tree(pid: int) -> list[int]:
    """The process and its descendants, through /proc/<pid>/task/<tid>/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", "rb") as children:
                    todo += [int(c) for c in children.read().split()]
            except OSError:
                continue
    return found


class TreePeak:
    """Peak of the summed RSS of process trees, sampled every `interval` seconds on a thread
    of this script (not in the measured process); the trees are walked again every
    `walk_every` seconds, in between each sample reads one statm line per known process.
    A sum of RSS counts pages shared between processes once per process: an upper bound."""

    def __init__(self, roots: dict[str, int], interval: float = 0.02, walk_every: float = 0.1) -> None:
        self.roots, self.interval, self.walk_every = roots, interval, walk_every
        self.peaks = {name: 0 for name in roots}
        self.processes = {name: 1 for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pids: dict[str, list[int]] = {}
        walked = 0.0
        while True:
            now = time.monotonic()
            if now - walked >= self.walk_every:
                pids, walked = {name: _tree(root) for name, root in self.roots.items()}, now
                for name, found in pids.items():
                    self.processes[name] = max(self.processes[name], len(found))
            for name, found in pids.items():
                self.peaks[name] = max(self.peaks[name], sum(_rss_bytes(pid) for pid in found))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.peaks


def run_process(argv: list[str], env: dict, cwd: Path, timeout: float, also: dict[str, int] | None = None,
                capture_dir: Path | None = None) -> dict:
    """Start `argv`, wait for it to exit; wall time from start to exit, CPU time of the
    process and of the descendants it waited for, peak memory of its process tree (and of
    the `also` trees, e.g. a Prefect server, over the same span). Its output goes to a
    file of `capture_dir` (default `cwd`), removed afterwards."""
    out = (capture_dir or cwd) / f"out-{time.monotonic_ns()}.txt"
    with open(out, "wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        sampler = TreePeak({"tree": process.pid, **(also or {})})
        timer = threading.Timer(timeout, lambda: _kill_group(process.pid))
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        peaks = sampler.stop()
    _kill_group(process.pid)  # nothing it started outlives the measure
    text = out.read_text(encoding="utf-8", errors="replace")
    out.unlink()
    result = {"seconds": round(seconds, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
              "peak_tree_mb": round(peaks.pop("tree") / MiB, 1), "processes": sampler.processes["tree"],
              **{f"{name}_peak_mb": round(peak / MiB, 1) for name, peak in peaks.items()}}
    if process.returncode != 0:
        result["error"] = f"code {process.returncode}: " + " | ".join(text.strip().splitlines()[-6:])[-800:]
    else:
        result["output"] = text.strip().splitlines()[-1] if text.strip() else ""
    return result


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """The process group of a process this script started (start_new_session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of the live processes of a process group, from /proc."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state: pgrp is field 5 of stat, utime 14, stime 15
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# ====================================================================== Prefect server
class PrefectServer:
    """`prefect server start` on a free port with its own PREFECT_HOME, for the measures
    that run with a server already running; stopped (its whole process group) at the end."""

    def __init__(self, home: Path, timeout: float = 240) -> None:
        self.home, self.timeout, self.process, self.url = home, timeout, None, None
        self.start_seconds, self.paused = None, False

    def __enter__(self) -> "PrefectServer":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**clean_env(), "PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_UI_ENABLED": "false"}
        prefect = Path(sys.executable).with_name("prefect")
        started = time.perf_counter()
        self.log = open(self.home / "server.log", "wb")
        self.process = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}/api"
        while time.perf_counter() - started < self.timeout:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.start_seconds = round(time.perf_counter() - started, 2)
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"le serveur Prefect n'a pas démarré (journal : {self.home / 'server.log'})")

    def pause(self) -> None:
        """Stop the server's whole process group (SIGSTOP) while other measures run."""
        if self.process is not None and not self.paused:
            _kill_group(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self, quiet_share: float = 0.05, window: float = 0.5, at_most: float = 15.0) -> None:
        """Let it run again, and come back once it is quiet: its CPU below `quiet_share` of a
        core over `window` seconds (what it does for the previous run is not the next one's)."""
        if self.process is None:
            return
        if self.paused:
            _kill_group(self.process.pid, signal.SIGCONT)
            self.paused = False
        until = time.monotonic() + at_most
        before = group_cpu_seconds(self.process.pid)
        while time.monotonic() < until:
            time.sleep(window)
            now = group_cpu_seconds(self.process.pid)
            if now - before < quiet_share * window:
                return
            before = now

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        if self.paused:
            _kill_group(self.process.pid, signal.SIGCONT)
            self.paused = False
        _kill_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait(10)
        _kill_group(self.process.pid)  # what it started and left behind
        self.log.close()
        self.process = None


# ====================================================================== datasets
def clean_env() -> dict:
    """The caller's environment without any Prefect setting: each measure says its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def region_campaign(national, region: str, root: Path) -> dict:
    """One region's submissions of the ×1 national campaign (its départements' folders, its
    regional export, the reception manifest's lines for them), with the national extract."""
    from observatoire.readers.reference_data import departement_regions

    folders = sorted(d for d, r in departement_regions().select("code_departement", "code_region").iter_rows()
                     if r == region)
    out = root / f"region-{region}-{national.out_dir.name}"
    marker = out / "region.json"
    if not marker.exists():
        shutil.rmtree(out, ignore_errors=True)
        submissions = out / "submissions"
        submissions.mkdir(parents=True)
        for folder in folders:
            if (national.submissions_dir / folder).is_dir():
                shutil.copytree(national.submissions_dir / folder, submissions / folder)
        for export in national.submissions_dir.glob(f"export_r{region}.*"):
            shutil.copy2(export, submissions / export.name)
        manifest = (national.submissions_dir / "reception.csv").read_text(encoding="utf-8").splitlines(True)
        kept = [line for line in manifest[1:] if line.split("/", 1)[0] in folders]
        (submissions / "reception.csv").write_text("".join(manifest[:1] + kept), encoding="utf-8")
        files = sum(1 for p in submissions.rglob("*") if p.is_file() and p.name != "reception.csv")
        marker.write_text(json.dumps({"region": region, "departements": folders, "files": files,
                                      "from": national.out_dir.name}), encoding="utf-8")
    summary = json.loads(marker.read_text(encoding="utf-8"))
    return {"submissions": out / "submissions", "extracts": [national.extract], "calendar": national.calendar,
            "regions": [region], "summary": summary}


# ====================================================================== warehouses
class Warehouses:
    """A fresh warehouse per measure: an SQLite file, or a PostgreSQL database dropped after."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder, self.created = kind, folder, []

    def new(self, name: str) -> str:
        if self.kind == "sqlite":
            path = self.folder / f"{name}.db"
            self._remove(path)
            return f"sqlite:///{path}"
        import psycopg

        db = f"bench_{name}".lower().replace("-", "_")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}"')
        self.created.append(db)
        return PG_URL.format(db=db)

    @staticmethod
    def _remove(path: Path) -> None:
        for file in path.parent.glob(path.name + "*"):  # its journal, and the run's lock file beside it
            file.unlink(missing_ok=True)

    def copy(self, source: str, name: str) -> str:
        """A new warehouse holding what `source` holds (no connection to it may be open)."""
        if self.kind == "sqlite":
            url = self.new(name)
            shutil.copyfile(source.removeprefix("sqlite:///"), url.removeprefix("sqlite:///"))
            return url
        import psycopg

        db = f"bench_{name}".lower().replace("-", "_")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}" TEMPLATE "{source.rsplit("/", 1)[1]}"')
        self.created.append(db)
        return PG_URL.format(db=db)

    def drop(self, url: str) -> None:
        if self.kind == "sqlite":
            self._remove(Path(url.removeprefix("sqlite:///")))
            return
        import psycopg

        db = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.created.remove(db)

    def drop_all(self) -> None:
        for db in list(self.created):
            self.drop(PG_URL.format(db=db))


def dump_tables(url: str, folder: Path) -> dict[str, int]:
    """Every table a run left in the warehouse, as text, one Parquet file each: the rows
    the floor writes."""
    import polars as pl
    import sqlalchemy as sa

    folder.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    counts = {}
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars().all()
        else:
            names = connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars().all()
        cursor = connection.connection.driver_connection.cursor()
        for name in sorted(set(names) - {"schema_migration", "sqlite_sequence"}):
            cursor.execute(f"SELECT * FROM {name}")
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            if rows:
                frame = pl.DataFrame([[None if v is None else str(v) for v in row] for row in rows],
                                     schema={c: pl.String for c in columns}, orient="row")
                frame.write_parquet(folder / f"{name}.parquet")
                counts[name] = len(rows)
    engine.dispose()
    return counts


# ====================================================================== one configuration
def _summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    out: dict = {"runs": runs, "failures": len(runs) - len(ok)}
    if ok:
        seconds = [r["seconds"] for r in ok]
        peaks = [r["peak_tree_mb"] for r in ok]
        out.update(median_seconds=round(statistics.median(seconds), 3), min_seconds=min(seconds),
                   max_seconds=max(seconds), median_peak_tree_mb=round(statistics.median(peaks), 1),
                   max_peak_tree_mb=max(peaks),
                   median_cpu_seconds=round(statistics.median(r["cpu_seconds"] for r in ok), 2))
        if all("server_cpu_seconds" in r for r in ok):  # the Prefect server's CPU over the measure
            out["median_server_cpu_seconds"] = round(statistics.median(r["server_cpu_seconds"] for r in ok), 2)
    return out


def measure_configuration(name: str, campaign: dict, kind: str, work: Path, rounds: int, analyst_rounds: int,
                          measures: tuple[str, ...], server: PrefectServer | None, stages: bool, timeout: float,
                          log, analyst_site: Path | None = None, warm_up: bool = True) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    warehouses = Warehouses(kind, work)
    observatoire = Path(sys.executable).with_name("observatoire")
    command_line = [str(observatoire), "run", "--year", str(YEAR), "--submissions", str(campaign["submissions"]),
                    *[a for e in campaign["extracts"] for a in ("--finess", str(e))],
                    "--calendar", str(campaign["calendar"]),
                    *[a for r in campaign.get("regions") or [] for a in ("--region", r)]]
    homes = {m: work / f"prefect-home-{m}" for m in ("command", "server")}
    for home in homes.values():
        home.mkdir(exist_ok=True)
    envs = {"command": {**clean_env(), "PREFECT_HOME": str(homes["command"])},
            "server": {**clean_env(), "PREFECT_HOME": str(homes["server"]),
                       "PREFECT_API_URL": server.url if server else ""}}

    def argv_for(measure: str, url: str, round_dir: Path) -> tuple[list[str], dict]:
        if measure in ("command", "server", "rerun"):
            return [*command_line, "--warehouse", url, "--output-dir", str(round_dir / f"classeurs-{measure}")], \
                envs["server" if measure == "server" else "command"]
        if measure == "analyst":
            env = clean_env()
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(analyst_site), env.get("PYTHONPATH")]))
            return [sys.executable, str(BENCH_DIR / "analyst.py"), str(campaign["submissions"]), url], env
        return [sys.executable, str(BENCH_DIR / "floor.py"), str(campaign["submissions"]), str(work / "rows"), url,
                *map(str, campaign["extracts"])], clean_env()

    result: dict = {"configuration": name, "warehouse": kind, "command_line": command_line + [
        "--warehouse", "URL", "--output-dir", "DOSSIER"], "rounds": rounds}

    def measured(measure: str, argv: list[str], env: dict, cwd: Path) -> dict:
        """One measure, the Prefect server running only for the measures with a server."""
        if server is None:
            return run_process(argv, env, cwd=cwd, timeout=timeout)
        if measure == "server":
            server.resume()
        else:
            server.pause()
        before = server.cpu_seconds()
        also = {"prefect_server": server.process.pid} if measure == "server" else None
        run = run_process(argv, env, cwd=cwd, timeout=timeout, also=also)
        run["server_cpu_seconds"] = round(server.cpu_seconds() - before, 2)
        return run

    try:
        loaded = None
        if warm_up:
            # a first run, not counted: the page cache holds the files for every measure alike, and
            # its warehouse gives the rows the floor writes
            log(f"  {name} : exécution préalable (non comptée) …")
            for attempt in range(2):  # a second try if the first fails (recorded either way)
                url = warehouses.new(f"{name}-warm")
                warm = measured("command", *argv_for("command", url, work), work)
                result.setdefault("warm_up", []).append(warm)
                if "error" not in warm:
                    break
            if "error" in warm:
                log(f"  ! échec de l'exécution préalable : {warm['error']}")
                return result
            shutil.rmtree(work / "rows", ignore_errors=True)
            result["warehouse_rows"] = dump_tables(url, work / "rows")
            loaded = url  # kept: each rerun starts from a copy of it
            if "server" in measures and server:  # the server's first flow run of this flow, not counted either
                url = warehouses.new(f"{name}-warm-server")
                result["warm_up_server"] = measured("server", *argv_for("server", url, work), work)
                warehouses.drop(url)
        else:  # the first measured run of the command gives the floor's rows (it runs first in round 1)
            result["warm_up"] = "aucune"
            measures = ("command", *(m for m in measures if m not in ("command", "rerun")))
        runs: dict[str, list[dict]] = {m: [] for m in measures}
        for r in range(rounds):
            order = list(measures[r % len(measures):] + measures[:r % len(measures)])
            for measure in order:
                if measure == "analyst" and r >= analyst_rounds:
                    continue
                round_dir = work / f"round-{r}"
                round_dir.mkdir(exist_ok=True)
                url = warehouses.copy(loaded, f"{name}-{measure}-{r}") if measure == "rerun" else \
                    warehouses.new(f"{name}-{measure}-{r}")
                run = measured(measure, *argv_for(measure, url, round_dir), round_dir)
                run["round"] = r
                runs[measure].append(run)
                if measure == "command" and "warehouse_rows" not in result and "error" not in run:
                    result["warehouse_rows"] = dump_tables(url, work / "rows")
                warehouses.drop(url)
                shutil.rmtree(round_dir, ignore_errors=True)
                shown = "échec : " + run["error"] if "error" in run else \
                    f"{run['seconds']:.2f} s, {run['peak_tree_mb']:.0f} Mio, CPU {run['cpu_seconds']:.1f} s" + (
                        f", serveur CPU {run['server_cpu_seconds']:.1f} s" if "server_cpu_seconds" in run else "")
                log(f"  {name} tour {r + 1}/{rounds} {measure} : {shown}")
        result["measures"] = {m: _summary(v) for m, v in runs.items()}
        if stages:
            log(f"  {name} : durées des étapes (diagnostic) …")
            if server is not None:
                server.pause()
            url = warehouses.new(f"{name}-stages")
            result["stages"] = stage_timings(campaign, url, work, timeout)
            warehouses.drop(url)
    finally:
        warehouses.drop_all()
    return result


def stage_timings(campaign: dict, url: str, work: Path, timeout: float) -> dict:
    spec = {"submissions": str(campaign["submissions"]), "extracts": [str(e) for e in campaign["extracts"]],
            "calendar": str(campaign["calendar"]), "regions": campaign.get("regions") or [], "url": url,
            "output_dir": str(work / "classeurs-stages")}
    env = {**clean_env(), "PREFECT_HOME": str(work / "prefect-home-command")}
    run = run_process([sys.executable, __file__, "--child-stages", json.dumps(spec)], env, cwd=work, timeout=timeout)
    if "error" in run:
        return {"error": run["error"]}
    return {**json.loads(run.pop("output")), "process": run}


def child_stages(spec: dict) -> dict:
    """The pipeline run in this process, each stage timed where it runs: seconds after this
    interpreter started its imports (the referential runs beside the reading)."""
    t0 = time.perf_counter()
    try:
        from observatoire import pipeline
    except ImportError as exc:
        return {"error": f"pas de pipeline hors Prefect dans ce code ({exc})"}
    from flows.parameters import CampaignParameters

    imported, imported_cpu = time.perf_counter() - t0, time.process_time()
    spans: dict[str, dict] = {}

    def timed(stage, function):
        def run(*args):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args)
            finally:  # the CPU of this process meanwhile (every thread), not of the reader processes
                spans[stage] = {"start": round(start - t0, 3), "end": round(time.perf_counter() - t0, 3),
                                "seconds": round(time.perf_counter() - start, 3),
                                "process_cpu_seconds": round(time.process_time() - cpu, 3)}
        return run

    class Timing(pipeline.Hooks):
        def step(self, stage, function, *args):
            return super().step(stage, timed(stage, function), *args)

        def step_in_background(self, stage, function, *args):
            return super().step_in_background(stage, timed(stage, function), *args)

    params = CampaignParameters(year=spec.get("year", YEAR), regions=spec.get("regions") or [],
                                submissions=spec["submissions"], finess=spec["extracts"], calendar=spec["calendar"],
                                warehouse_url=spec["url"], output_dir=spec.get("output_dir"),
                                read_workers=spec.get("read_workers"))
    started = time.perf_counter()
    pipeline.run_campaign(params, Timing())
    result = {"import_seconds": round(imported, 3), "import_cpu_seconds": round(imported_cpu, 3),
              "run_seconds": round(time.perf_counter() - started, 3), "stages": spans}
    if spec.get("dump"):  # the warehouse's tables, for a caller that looks at the rows (bad_files.py)
        result["warehouse_rows"] = dump_tables(spec["url"], Path(spec["dump"]))
    return result


# ====================================================================== ratios and targets
def _median(result: dict, measure: str) -> float | None:
    return ((result.get("measures") or {}).get(measure) or {}).get("median_seconds")


def ratios(result: dict) -> dict:
    command, server = _median(result, "command"), _median(result, "server")
    analyst, floor = _median(result, "analyst"), _median(result, "floor")
    return {
        "analyst_over_command": round(analyst / command, 2) if analyst and command else None,
        "command_over_floor": round(command / floor, 2) if command and floor else None,
        "server_minus_command_s": round(server - command, 2) if server and command else None,
        "server_over_floor": round(server / floor, 2) if server and floor else None,
        "analyst_over_server": round(analyst / server, 2) if analyst and server else None,
    }


def verdicts(result: dict, x1: dict | None) -> dict:
    """The issue's targets that apply to this configuration: True (met), False (missed)."""
    r, out = result.get("ratios") or {}, {}
    name = result["configuration"]
    if name == "national-x1":
        if r.get("analyst_over_command") is not None:
            out["analyst_over_command >= 5"] = r["analyst_over_command"] >= TARGETS["analyst_over_command_min"]
        if r.get("command_over_floor") is not None:
            out["command_over_floor <= 4"] = r["command_over_floor"] <= TARGETS["command_over_floor_max"]
        if r.get("server_minus_command_s") is not None:
            out["server_minus_command <= 2 s"] = r["server_minus_command_s"] <= TARGETS["server_minus_command_max_s"]
    if name.startswith("region-") and _median(result, "command") is not None:
        out["command <= 2.5 s"] = _median(result, "command") <= TARGETS["small_campaign_max_s"]
    if name == "national-x10" and x1 and _median(result, "command") and _median(x1, "command"):
        result["ratios"]["x10_over_x1_command"] = round(_median(result, "command") / _median(x1, "command"), 2)
        out["x10_over_x1 <= 11"] = result["ratios"]["x10_over_x1_command"] <= TARGETS["x10_over_x1_max"]
    files = (result.get("dataset") or {}).get("files", 0)
    if files >= TARGETS["peak_tree_min_files"]:
        for measure in ("command", "server"):
            peak = ((result.get("measures") or {}).get(measure) or {}).get("max_peak_tree_mb")
            if peak is not None:
                out[f"{measure} peak tree < 1.5 GB"] = peak * MiB < TARGETS["peak_tree_max_bytes"]
    return out


# ====================================================================== the whole benchmark
def measured_code() -> Path:
    """The clone whose code the measures run: where the `observatoire` package that this
    Python imports lives (the venv's own install; not always this script's clone)."""
    found = subprocess.run([sys.executable, "-c", "import observatoire, pathlib; "
                            "print(pathlib.Path(observatoire.__file__).resolve().parents[1])"],
                           capture_output=True, text=True, timeout=60).stdout.strip()
    return Path(found) if found else REPO


def _git(*args: str, cwd: Path = REPO) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().splitlines() if Path("/proc/meminfo").exists() else []
    total = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")), 0)
    import sqlite3

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "memory_gb": round(total / 1024 / 1024, 1), "sqlite": sqlite3.sqlite_version,
            "load_average": os.getloadavg()}


def run_benchmark(multipliers: list[int], region: str | None, out: Path, results_dir: Path, *, rounds: int = 5,
                  large_rounds: int | None = None, analyst_rounds: int | None = None,
                  measures: tuple[str, ...] = MEASURES, large_measures: tuple[str, ...] | None = None,
                  large_warm_up: bool = True,
                  warehouses: tuple[str, ...] = ("sqlite",), n_centres: int = 3000, seed: int = 2025,
                  finess_lines: int = 100_000, stages: bool = False, timeout: float = 1800,
                  quiet: bool = False) -> list[Path]:
    from datasets.national import cached_national

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    out, results_dir = out.resolve(), results_dir.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix="work-", dir=out if out.exists() else _mkdir(out)))
    configurations = []
    if region:
        configurations.append((f"region-{region}", 1))
    configurations += [(f"national-x{k}", k) for k in multipliers]
    large_measures = measures if large_measures is None else large_measures
    analyst_site = None
    if "analyst" in measures + large_measures:
        analyst_site = analyst_packages(log)
        if analyst_site is None:
            measures = tuple(m for m in measures if m != "analyst")
            large_measures = tuple(m for m in large_measures if m != "analyst")
    written: list[Path] = []
    code = measured_code()
    commit = _git("rev-parse", "HEAD", cwd=code)
    try:
        server = PrefectServer(work_root / "prefect-server-home") if "server" in measures + large_measures else None
        if server:
            log("Serveur Prefect (lancé une fois pour toutes les mesures « server ») …")
            server.__enter__()
            log(f"  prêt en {server.start_seconds} s sur {server.url}")
        try:
            x1_by_kind: dict[str, dict] = {}
            for name, multiplier in configurations:
                national = cached_national(out / "datasets", n_centres, seed, multiplier, finess_lines)
                if name.startswith("region-"):
                    campaign = region_campaign(national, region, out / "datasets")
                    dataset = {**campaign["summary"], "finess_structureet_lines":
                               national.summary["finess_structureet_lines"]}
                else:
                    campaign = {"submissions": national.submissions_dir, "extracts": [national.extract],
                                "calendar": national.calendar, "regions": []}
                    dataset = national.summary
                log(f"{name} : {dataset['files']} fichiers")
                n_rounds = rounds if multiplier == 1 or large_rounds is None else large_rounds
                config_measures = measures if multiplier == 1 else large_measures
                for kind in warehouses:
                    analyst_n = analyst_rounds if analyst_rounds is not None else (n_rounds if multiplier == 1 else 1)
                    started = dt.datetime.now(dt.timezone.utc)
                    machine = _machine()
                    result = measure_configuration(name, campaign, kind, work_root / f"{name}-{kind}", n_rounds,
                                                   min(analyst_n, n_rounds), config_measures, server, stages,
                                                   timeout, log, analyst_site,
                                                   warm_up=multiplier == 1 or large_warm_up)
                    result.update(dataset=dataset, started_at=started.isoformat(timespec="seconds"),
                                  finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                  machine={**machine, "load_average_after": os.getloadavg()},
                                  code={"commit": commit, "clone": str(code),
                                        "changed_files": len(_git("status", "--porcelain", cwd=code).splitlines()),
                                        "pipeline_without_prefect": (code / "observatoire" / "pipeline.py").exists()},
                                  prefect_server_start_seconds=server.start_seconds if server else None,
                                  prefect_server_url=server.url if server else None,
                                  analyst_rounds=min(analyst_n, n_rounds) if "analyst" in config_measures else 0)
                    result["ratios"] = ratios(result)
                    if name == "national-x1":
                        x1_by_kind[kind] = result
                    result["targets"] = verdicts(result, x1_by_kind.get(kind))
                    suffix = "" if kind == "sqlite" else f"-{kind}"
                    path = results_dir / f"{name}{suffix}.json"
                    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
                    written.append(path)
                    log(table(result))
                    log(f"→ {path}")
        finally:
            if server:
                server.__exit__()
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    return written


ANALYST_PACKAGES = ["pandas==3.1.1"]


def analyst_packages(log) -> Path | None:
    """pandas for the analyst's script, installed once with pip into a folder of its own
    (benchmarks/.cache/analyst-packages): not into the project's venv, where pandera would
    then import it in every run of the command (0.3-0.6 s)."""
    site = BENCH_DIR / ".cache" / "analyst-packages"
    marker = site / ".installed"
    if marker.exists() and marker.read_text() == " ".join(ANALYST_PACKAGES):
        return site
    log(f"Installation de {' '.join(ANALYST_PACKAGES)} pour le script de l'analyste dans {site} …")
    shutil.rmtree(site, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(site), *ANALYST_PACKAGES], capture_output=True, text=True)
    if done.returncode != 0:
        log("Script de l'analyste non mesuré : installation de pandas impossible ("
            + (done.stderr.strip().splitlines() or ["?"])[-1] + ")")
        return None
    marker.write_text(" ".join(ANALYST_PACKAGES))
    return site


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def table(result: dict) -> str:
    lines = [f"{result['configuration']} ({result['warehouse']}, {result['dataset'].get('files')} fichiers, "
             f"{result['rounds']} tours)"]
    for measure, summary in (result.get("measures") or {}).items():
        if "median_seconds" not in summary:
            why = summary["runs"][0].get("error", "?") if summary["runs"] else "non mesuré"
            lines.append(f"  {LABELS[measure]:<52} échec ({why})")
            continue
        lines.append(f"  {LABELS[measure]:<52} médiane {summary['median_seconds']:7.2f} s  "
                     f"[{summary['min_seconds']:.2f}–{summary['max_seconds']:.2f}]  "
                     f"pic {summary['max_peak_tree_mb']:6.0f} Mio  CPU {summary['median_cpu_seconds']:.1f} s  "
                     f"({len(summary['runs'])} mesures)")
    ratios_ = {k: v for k, v in (result.get("ratios") or {}).items() if v is not None}
    if ratios_:
        lines.append("  rapports : " + ", ".join(f"{k} = {v}" for k, v in ratios_.items()))
    for target, met in (result.get("targets") or {}).items():
        lines.append(f"  objectif {target} : {'atteint' if met else 'NON ATTEINT'}")
    stages = result.get("stages")
    if stages:
        if "error" in stages:
            lines.append(f"  étapes : {stages['error']}")
        else:
            lines.append(f"  étapes (diagnostic, s après le début des imports) : imports {stages['import_seconds']} s, "
                         + ", ".join(f"{k} {v['start']}→{v['end']} (CPU {v['process_cpu_seconds']})"
                                     for k, v in stages["stages"].items()))
    return "\n".join(lines)


def _fr(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def report(paths: list[Path]) -> str:
    """The results of `paths` as the Markdown table of benchmarks/README.md (French)."""
    results = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    order = lambda r: (r["warehouse"], not r["configuration"].startswith("region"), r["dataset"].get("files", 0))
    results.sort(key=order)
    head = ["mesure"] + [f"{r['configuration']}{'' if r['warehouse'] == 'sqlite' else ' ' + r['warehouse']} "
                         f"({_fr(r['dataset'].get('files', 0), 0)} fichiers)" for r in results]
    rows = []
    for measure in ("command", "rerun", "server", "analyst", "floor"):
        cells = []
        for r in results:
            summary = (r.get("measures") or {}).get(measure)
            if not summary:
                cells.append("—")
            elif "median_seconds" not in summary:
                cells.append("échec")
            else:
                cells.append(f"**{_fr(summary['median_seconds'])} s** [{_fr(summary['min_seconds'])}–"
                             f"{_fr(summary['max_seconds'])}] ×{len(summary['runs'])} ; CPU "
                             f"{_fr(summary['median_cpu_seconds'], 1)} s ; {_fr(summary['max_peak_tree_mb'], 0)} Mio")
        if any(cell != "—" for cell in cells):
            rows.append([LABELS[measure]] + cells)
    for key, label in (("analyst_over_command", "analyste / run sans serveur"),
                       ("command_over_floor", "run sans serveur / plancher"),
                       ("server_minus_command_s", "run avec serveur − sans serveur (s)"),
                       ("x10_over_x1_command", "×10 / ×1 (run sans serveur)")):
        values = [(r.get("ratios") or {}).get(key) for r in results]
        if any(v is not None for v in values):
            rows.append([label] + ["—" if v is None else _fr(v) for v in values])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    for r in results:
        for target, met in (r.get("targets") or {}).items():
            verdict = "atteint" if met else "**non atteint**"
            lines.append(f"- {r['configuration']} ({r['warehouse']}) : {target} : {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc d'essai : ce qu'attend l'utilisateur d'observatoire run")
    parser.add_argument("--files-multiplier", type=int, nargs="*", default=[1, 10],
                        help="campagnes nationales, chaque fichier envoyé k fois (défaut : 1 10)")
    parser.add_argument("--region", default="04",
                        help="petite campagne : une région de la campagne ×1 (défaut : 04) ; "
                             "« aucune » pour ne pas la mesurer")
    parser.add_argument("--rounds", type=int, default=5, help="tours alternés (défaut : 5)")
    parser.add_argument("--large-rounds", type=int, default=None,
                        help="tours des campagnes ×k, k > 1 (défaut : autant que --rounds)")
    parser.add_argument("--analyst-rounds", type=int, default=None,
                        help="tours où le script de l'analyste est mesuré (défaut : tous à ×1, 1 au-delà)")
    parser.add_argument("--measures", nargs="+", default=list(MEASURES), choices=MEASURES)
    parser.add_argument("--large-measures", nargs="+", default=None, choices=MEASURES,
                        help="mesures des campagnes ×k, k > 1 (défaut : celles de --measures)")
    parser.add_argument("--no-large-warm-up", action="store_true",
                        help="campagnes ×k, k > 1 : sans exécution préalable (le premier run mesuré donne "
                             "les lignes du plancher)")
    parser.add_argument("--warehouse", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--stages", action="store_true", help="durées des étapes en plus (diagnostic)")
    parser.add_argument("--out", default=str(BENCH_DIR / ".cache"), help="jeux générés (cache) et dossiers de travail")
    parser.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--centres", type=int, default=3000)
    parser.add_argument("--finess-lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--timeout", type=float, default=1800, help="secondes au plus par mesure")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="tableau Markdown de résultats déjà écrits")
    parser.add_argument("--child-stages", help=argparse.SUPPRESS)
    parser.add_argument("--measure-process", action="store_true",
                        help="mesure une seule commande, donnée après -- (arbre de processus entier), "
                             "et écrit la mesure en JSON")
    parser.add_argument("command", nargs="*", metavar="CMD", help="avec --measure-process : la commande, après --")
    args = parser.parse_args(argv)
    if args.measure_process != bool(args.command):
        parser.error("--measure-process attend une commande après -- (et une commande n'a de sens qu'avec lui)")
    if args.measure_process:
        with tempfile.TemporaryDirectory(prefix="measure-") as capture:
            run = run_process(args.command, dict(os.environ), Path.cwd(), args.timeout, capture_dir=Path(capture))
        print(json.dumps(run, ensure_ascii=False))
        return 1 if "error" in run else 0
    if args.report:
        print(report([Path(p) for p in args.report]))
        return 0
    if args.child_stages:
        print(json.dumps(child_stages(json.loads(args.child_stages))))
        return 0
    kinds = ("sqlite", "postgresql") if args.warehouse == "both" else (args.warehouse,)
    run_benchmark(args.files_multiplier, None if args.region in ("aucune", "none", "") else args.region,
                  Path(args.out), Path(args.results_dir), rounds=args.rounds, large_rounds=args.large_rounds,
                  analyst_rounds=args.analyst_rounds, measures=tuple(args.measures),
                  large_measures=tuple(args.large_measures) if args.large_measures else None,
                  large_warm_up=not args.no_large_warm_up, warehouses=kinds,
                  n_centres=args.centres, seed=args.seed, finess_lines=args.finess_lines, stages=args.stages,
                  timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
