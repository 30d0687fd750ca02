"""A national FINESS+ file against the equivalent extract: load time and peak memory.

    .venv/bin/python benchmarks/finess_plus.py [--runs 5] [--url URL]

Builds once (cached under benchmarks/.cache/finess_plus/) the national referential of
benchmarks/national.py (100,000 ET), closes a third of them during 2024 (closing date drawn
after the 2024 extract), and writes the same reality twice for 12 January 2025: the FINESS+
file (every ET, the closed ones with their date; gzip, about 400 MB inflated) and the extract
of that day (the open ET only: an extract lists no closed one), and, for comparison, the
national extract of benchmarks/national.py (the same 100,000 ET before the closures). The
comparison is checked fair once: both files, read as a run reads them, give the same ET and
centres de santé open on that day (same numbers). Each measure is a whole new
process (interpreter, imports, connect, migrate, `stages.load_referential` into an empty
warehouse, as a run's first load of that file), the two sources alternated, medians
reported; peak memory is the process's RSS high-water mark (VmHWM). URL defaults to a
new SQLite file per run; a PostgreSQL URL names a server database to create and drop per run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:
    sys.path.append(str(BENCH_DIR.parent))

CACHE = BENCH_DIR / ".cache" / "finess_plus"
VERSION = 2  # part of the cache key: bump when the files written change

CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
from observatoire import stages, warehouse
imported = time.perf_counter()
engine = warehouse.connect(sys.argv[2])
warehouse.migrate(engine)
before = time.perf_counter()
ref = stages.load_referential([Path(sys.argv[1])], engine)
after = time.perf_counter()
engine.dispose()
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM: this process's own peak; ru_maxrss would keep the parent's across fork and exec
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"imports": imported - started, "load": after - before, "process_inner": after - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "establishments": ref.history.height,
                  "peak_mib": peak_kib / 1024}))
"""


def build(seed: int = 2025, lines: int = 100_000) -> tuple[Path, Path, dict]:
    """(FINESS+ file, equivalent extract, what was written), generated once; beside them the
    national extract of benchmarks/national.py (the same 100,000 ET, all open)."""
    from observatoire.sample.extract_writer import render_extract
    from observatoire.sample.finess_plus_writer import listed, write_finess_plus
    from datasets.national import EXTRACT, build_national_referential

    folder = CACHE / f"v{VERSION}-f{lines}-s{seed}"
    marker = folder / "summary.json"
    if marker.exists():
        summary = json.loads(marker.read_text())
        if "open_on_the_date" not in summary:  # cached before the check was added
            summary["open_on_the_date"] = open_on_the_date(folder / summary["finess_plus"], folder / summary["extract"])
            marker.write_text(json.dumps(summary, indent=2))
        return folder / summary["finess_plus"], folder / summary["extract"], summary
    started = time.perf_counter()
    referential = build_national_referential(seed, 3000, lines)
    folder.mkdir(parents=True, exist_ok=True)
    national = folder / f"national-{EXTRACT.file_name}"  # before the closures: benchmarks/national.py's extract
    national.write_bytes(render_extract(referential, EXTRACT, seed))
    rng = random.Random(f"finess-plus-bench-{seed}")
    current = [e for e in referential.establishments if e.snapshots[-1] == EXTRACT.label]
    closable = [e for e in current if e.dateouv < dt.date(2024, 1, 1)]
    for establishment in rng.sample(closable, len(current) // 3):
        establishment.snapshots = tuple(s for s in establishment.snapshots if s != EXTRACT.label) or ("S1",)
        establishment.datefermeture = dt.date(2024, 1, 11) + dt.timedelta(days=rng.randrange(355))
    extract = folder / EXTRACT.file_name
    extract.write_bytes(render_extract(referential, EXTRACT, seed))
    finess_plus = write_finess_plus(referential, EXTRACT, folder, seed)
    listed_now = listed(referential, EXTRACT)
    with gzip.open(finess_plus, "rb") as handle:
        inflated = sum(len(chunk) for chunk in iter(lambda: handle.read(1 << 22), b""))
    summary = {
        "seed": seed, "finess_plus": finess_plus.name, "extract": extract.name, "national_extract": national.name,
        "finess_plus_et": len(listed_now),
        "finess_plus_closed": sum(1 for e in listed_now if e.datefermeture is not None),
        "extract_lines": len(referential.in_snapshot(EXTRACT.label)),
        "finess_plus_bytes": finess_plus.stat().st_size, "finess_plus_inflated_bytes": inflated,
        "extract_bytes": extract.stat().st_size, "generation_seconds": round(time.perf_counter() - started, 1),
        "open_on_the_date": open_on_the_date(finess_plus, extract),
    }
    marker.write_text(json.dumps(summary, indent=2))
    return finess_plus, extract, summary


def open_on_the_date(finess_plus: Path, extract: Path) -> dict:
    """The comparison is fair when both files describe the same open establishments on the
    day: ET and centres de santé open on the snapshot's date, read from each file as a run
    reads them (a FINESS+ file also lists the closed ones, with their closing date)."""
    import polars as pl

    from observatoire.readers.finess_extract import read_finess_extract
    from observatoire.readers.finess_plus import read_finess_plus
    from observatoire.readers.reference_data import departement_regions
    from transforms.referential import normalise_establishments

    counts = {}
    for name, read in (("finess_plus", read_finess_plus(finess_plus)), ("extract", read_finess_extract(extract))):
        frame = normalise_establishments(read.establishments, departement_regions())
        open_ = frame.filter(pl.col("datefermeture").is_null() | (pl.col("datefermeture") > read.extract_date))
        counts[name] = {"date": read.extract_date.isoformat(), "et": open_.height,
                        "centres_de_sante": open_.filter(pl.col("is_centre_de_sante")).height,
                        "ids": hashlib.sha256("\n".join(sorted(open_["finess_et"])).encode()).hexdigest()[:16]}
    if counts["finess_plus"] != counts["extract"]:
        raise SystemExit(f"comparaison inéquitable : les deux fichiers ne décrivent pas les mêmes ET ouverts {counts}")
    return counts["extract"]


def _warehouse(url: str | None) -> tuple[str, callable]:
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="finess-plus-bench-"))
        return f"sqlite:///{folder / 'w.db'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"finess_plus_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}", drop


def measure(path: Path, url: str | None) -> dict:
    target, drop = _warehouse(url)
    try:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), target], capture_output=True, text=True,
                              timeout=600, cwd=BENCH_DIR.parent)
        wall = time.perf_counter() - started
    finally:
        drop()
    if done.returncode:
        raise SystemExit(f"échec du chargement de {path.name} : {done.stderr.strip().splitlines()[-1:]}")
    return {"process": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", default=None, help="PostgreSQL server URL (a database per run is created)")
    parser.add_argument("--json", type=Path, default=None, help="write every measure there")
    args = parser.parse_args(argv)
    finess_plus, extract, summary = build()
    print(json.dumps(summary, indent=2))
    files = {"extract": extract, "finess_plus": finess_plus,
             "national_extract": finess_plus.parent / summary["national_extract"]}
    runs: dict[str, list[dict]] = {name: [] for name in files}
    for index in range(args.runs):
        order = list(files) if index % 2 == 0 else list(reversed(files))
        for name in order:
            runs[name].append(measure(files[name], args.url))
            print(name, {k: round(v, 2) for k, v in runs[name][-1].items()}, flush=True)
    medians = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in runs.items()}
    print(f"\n{'':14} | processus entier | CPU du processus | chargement seul | pic mémoire")
    for name, m in medians.items():
        print(f"{name:14} | {m['process']:14.2f} s | {m['cpu']:14.2f} s | {m['load']:13.2f} s | "
              f"{m['peak_mib']:7.0f} Mio")
    ratio = {key: medians["finess_plus"][key] / medians["extract"][key] for key in ("process", "cpu", "load")}
    same = summary["open_on_the_date"]
    print(f"Mêmes ET ouverts le {same['date']} dans les deux fichiers : {same['et']} ET dont "
          f"{same['centres_de_sante']} centres de santé (FINESS+ : {summary['finess_plus_et']} ET listés, "
          f"{summary['finess_plus_closed']} fermés)")
    print(f"FINESS+ / extrait équivalent (ET ouverts) : processus {ratio['process']:.2f}x, CPU {ratio['cpu']:.2f}x, "
          f"chargement {ratio['load']:.2f}x (objectif ≤ 2x), pic {medians['finess_plus']['peak_mib']:.0f} Mio "
          "(objectif < 500)")
    national = {key: medians["finess_plus"][key] / medians["national_extract"][key] for key in ("process", "cpu", "load")}
    print(f"FINESS+ / extrait national de 100 000 ET : processus {national['process']:.2f}x, CPU {national['cpu']:.2f}x, "
          f"chargement {national['load']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": runs, "medians": medians,
                                         "url": "sqlite" if args.url is None else "postgresql"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
