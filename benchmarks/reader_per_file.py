"""Cost of reading one received file, against the floor (fastexcel opening the same file
and loading every sheet to Polars), on one core: what the reader adds per file.

    .venv/bin/python benchmarks/reader_per_file.py [SUBMISSIONS_DIR] [--repeat 3]

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
DEFAULT = BENCH_DIR / ".cache" / "datasets" / "national-v2-c3000-x1-f100000-s2025" / "2024" / "submissions"


def _floor(path: Path) -> None:
    import fastexcel
    import polars as pl

    raw = path.read_bytes()
    if path.suffix.lower() == ".csv":
        pl.read_csv(raw, separator=";", infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy")
        return
    reader = fastexcel.read_excel(raw)
    for name in reader.sheet_names:
        reader.load_sheet(name, header_row=None, dtypes="string").to_polars()


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
    args = parser.parse_args(argv)
    from observatoire.readers.submission_files import list_submission_files, read_submission_file

    root = Path(args.submissions)
    if not root.is_dir():
        print(f"dossier introuvable : {root} (lancer d'abord benchmarks/national.py)", file=sys.stderr)
        return 2
    files = list_submission_files(root)
    reader = _best(lambda path: read_submission_file(path, root), files, args.repeat)
    floor = _best(_floor, files, args.repeat)
    print(f"{len(files)} fichiers : lecteur {reader:.0f} µs/fichier, plancher {floor:.0f} µs/fichier, "
          f"rapport {reader / floor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
