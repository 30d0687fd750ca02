"""Cost of reading one received file, against the floor (fastexcel opening the same file
and loading every sheet to Polars), on one core: what the reader adds per file.

    .venv/bin/python benchmarks/reader_per_file.py [SUBMISSIONS_DIR] [--repeat 3] [--phases]
        [--listing] [--pool-chunks 50 200]

SUBMISSIONS_DIR defaults to the cached 1x national campaign of benchmarks/national.py
(run it once first). Prints the best of --repeat passes over every file, in microseconds
per file. Run it with PYTHONPATH pointing at another checkout to compare two versions.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH, which may point at another checkout to compare

from floor import read_file as floor_read_file  # noqa: E402  (the floor of benchmarks/national.py, file by file)
from datasets.national import YEAR, cache_key  # noqa: E402

DEFAULT = BENCH_DIR / ".cache" / "datasets" / cache_key(3000, 2025, 1, 100_000) / str(YEAR) / "submissions"


def _best(function, files: list[Path], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for path in files:
            try:
                function(path)
            except Exception:  # unreadable files cost their opening, as in the pipeline
                pass
        best = min(best, (time.perf_counter() - started) / len(files) * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="the timed parts of reading a workbook")
    parser.add_argument("--listing", action="store_true", help="listing the folder, now and before")
    parser.add_argument("--pool-chunks", type=int, nargs="*", default=[],
                        help="read every file with two processes, in chunks of these sizes")
    args = parser.parse_args(argv)
    from observatoire.readers.submission_files import list_submission_files, read_submission_file

    root = Path(args.submissions)
    if not root.is_dir():
        print(f"dossier introuvable : {root} (lancer d'abord benchmarks/national.py)", file=sys.stderr)
        return 2
    files = list_submission_files(root)
    reader = _best(lambda path: read_submission_file(path, root), files, args.repeat)
    floor = _best(floor_read_file, files, args.repeat)
    print(f"{len(files)} fichiers : lecteur {reader:.0f} µs/fichier, plancher {floor:.0f} µs/fichier, "
          f"rapport {reader / floor:.2f}")
    if args.phases:
        _phases([path for path in files if path.suffix.lower() == ".xlsx"], args.repeat)
    if args.listing:
        _listing(root, args.repeat)
    for chunk in args.pool_chunks:
        _pool(root, [str(path) for path in files], chunk)
    return 0


def _phases(files: list[Path], repeat: int) -> None:
    """The parts of reading a workbook that can be timed apart, one core, per file."""
    import hashlib

    import fastexcel

    from observatoire.readers import submission_files as sf

    raws = [path.read_bytes() for path in files]
    readers = []
    for raw in raws:
        try:
            readers.append(fastexcel.read_excel(raw))
        except Exception:  # damaged workbooks of the campaign
            pass

    def each(function, items):
        def run(_):
            for item in items:
                try:
                    function(item)
                except Exception:
                    pass
        return run

    def sheets(to_polars: bool):
        def load(reader):
            for name in reader.sheet_names:
                sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0)
                if to_polars:
                    sheet.to_polars()
        return load

    one = [None]
    for label, function in (
        ("lecture des octets / read bytes", each(Path.read_bytes, files)),
        ("SHA-256", each(lambda raw: hashlib.sha256(raw).hexdigest(), raws)),
        ("tri et répertoire zip / sniff, zip directory", each(lambda raw: sf._sniff_workbook(raw, sf.FileOutcome("", "", 0)), raws)),
        ("ouverture fastexcel / fastexcel opening", each(fastexcel.read_excel, raws)),
        ("feuilles chargées / sheets loaded", each(sheets(False), readers)),
        ("feuilles chargées + Polars / sheets loaded + to_polars", each(sheets(True), readers)),
        ("lecteur entier / whole reader", each(lambda path: sf.read_submission_file(path, path.parent), files)),
    ):
        print(f"  {label:55s} {_best(function, one, repeat) / len(files):7.1f} µs/fichier")
    print(f"  ({len(files)} classeurs .xlsx)")


def _listing(root: Path, repeat: int) -> None:
    """The folder listed as the reader lists it, and as it was listed before (pathlib)."""
    from observatoire.readers.submission_files import MANIFEST_NAME, SUBMISSION_SUFFIXES, list_submission_files

    def former(_):
        sorted(path for path in root.rglob("*") if path.is_file() and path.suffix.lower() in SUBMISSION_SUFFIXES
               and path.name.lower() != MANIFEST_NAME and not path.name.startswith("~$"))

    now = _best(lambda _: list_submission_files(root), [None], repeat) / 1e6
    before = _best(former, [None], repeat) / 1e6
    print(f"  liste des fichiers / listing : os.scandir {now:.3f} s, pathlib (avant / before) {before:.3f} s")


def _pool(root: Path, files: list[str], chunk: int) -> None:
    """Every file read by two reader processes, queued in chunks of `chunk` files."""
    import resource

    from observatoire.readers.pool import ReaderPool

    batches = [files[i:i + 2014] for i in range(0, len(files), 2014)]
    with ReaderPool(2) as pool:
        time.sleep(0.5)  # the workers have started
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        pool.prefetch(batches, str(root), chunk=chunk)
        for batch in batches:
            pool.read(batch, str(root))
        wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"  deux processus, lots de {chunk} fichiers / two processes, chunks of {chunk}: {wall:.2f} s, "
          f"CPU des lecteurs {after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
