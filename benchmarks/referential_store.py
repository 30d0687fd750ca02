"""Cost of the FINESS referential with a warehouse: the first run of an extract (parse,
normalise, store its versions) and a rerun with the same extract (already stored).

    .venv/bin/python benchmarks/referential_store.py [EXTRACT] [--url URL]

EXTRACT defaults to the cached national extract of benchmarks/national.py (run it once
first); URL defaults to a new SQLite file in a temporary folder (a PostgreSQL URL must name
an empty database). Run it with PYTHONPATH pointing at another checkout to compare versions.
"""
from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:
    sys.path.append(str(BENCH_DIR.parent))  # after PYTHONPATH, which may point at another checkout

from datasets.national import cache_key  # noqa: E402

DEFAULT = BENCH_DIR / ".cache" / "datasets" / cache_key(3000, 2025, 1, 100_000) / "finess"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extract", nargs="?", default=next(iter(sorted(glob.glob(str(DEFAULT / "*.csv")))), None))
    parser.add_argument("--url", default=None)
    args = parser.parse_args(argv)
    if not args.extract or not Path(args.extract).is_file():
        print("extrait FINESS introuvable (lancer d'abord benchmarks/national.py)", file=sys.stderr)
        return 2
    from observatoire import stages, warehouse

    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/referentiel.db"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    timings = []
    for _ in ("first", "rerun"):
        started = time.perf_counter()
        ref = stages.load_referential([Path(args.extract)], engine)
        timings.append(time.perf_counter() - started)
    print(f"{ref.history.height} établissements : premier chargement {timings[0]:.2f} s, "
          f"relance avec le même extrait {timings[1]:.2f} s ({engine.dialect.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
