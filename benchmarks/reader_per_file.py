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
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH, which may point at another checkout to compare

from national import _floor_read_file  # noqa: E402  (the floor of benchmarks/national.py, file by file)
from observatoire.sample.national import YEAR, cache_key  # noqa: E402

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
    args = parser.parse_args(argv)
    from observatoire.readers.submission_files import list_submission_files, read_submission_file

    root = Path(args.submissions)
    if not root.is_dir():
        print(f"dossier introuvable : {root} (lancer d'abord benchmarks/national.py)", file=sys.stderr)
        return 2
    files = list_submission_files(root)
    reader = _best(lambda path: read_submission_file(path, root), files, args.repeat)
    floor = _best(_floor_read_file, files, args.repeat)
    print(f"{len(files)} fichiers : lecteur {reader:.0f} µs/fichier, plancher {floor:.0f} µs/fichier, "
          f"rapport {reader / floor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
