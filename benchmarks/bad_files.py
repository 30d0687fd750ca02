"""What do the worst files cost a national campaign? The national campaign (×1) is run
as a user runs it (`observatoire run`, SQLite warehouse, reader processes on every core),
once as generated and once with every kind of bad file beside it (a reader that panics, segfaults, aborts,
hangs, spins or allocates without end — through tests/support/fake_readers.py —, a value at row
1,000,000, a zip lying about its sizes, a million-row export, an export formatted down to
row 1,000,000, a value in column XFD, legacy .xls files whose DIMENSIONS record lies or
with a value at row 65,536 or at column 65,000, CSVs whose encoding changes inside, a name that is
not UTF-8, a name holding a newline, links broken or looping). Prints the wall time and
the peak memory of the whole process tree (sampled every 50 ms) of each run, and what
each bad file got.

    .venv/bin/python benchmarks/bad_files.py [--out DIR]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path[:0] = [str(REPO)]

from datasets.national import cached_national  # noqa: E402
from tests.support.legacy_xls import xls_bytes  # noqa: E402
from tests.support.workbook_xml import announce_size as _announce, cell as _cell, export_rows as _export_rows, \
    write_xlsx as _xlsx  # noqa: E402


def bad_files(folder: Path, good_workbook: Path) -> None:
    bad = folder / "zz-mauvais"
    bad.mkdir()
    for name in ("panique", "segfault", "abort", "dort", "boucle", "alloue"):
        (bad / f"{name}.essai").write_bytes(name.encode())
    _xlsx(bad / "creux.xlsx", [*_export_rows(2), '<row r="1000000">' + _cell("A1000000", "x") + "</row>"])
    _xlsx(bad / "colonne-xfd.xlsx", [*_export_rows(2), '<row r="5">' + _cell("XFD5", "x") + "</row>"])
    padding = (f'<row r="{r}" s="1"><c r="A{r}" s="1"/><c r="B{r}" s="1"/></row>' for r in range(5, 1_000_001))
    _xlsx(bad / "mis-en-forme.xlsx", itertools.chain(_export_rows(3), padding), dimension="A1:CZ1000000")
    rows = (f'<row r="{r}">' + _cell(f"A{r}", r) + _cell(f"B{r}", "Centre") + "</row>" for r in range(4, 1_000_001))
    _xlsx(bad / "million.xlsx", itertools.chain(_export_rows(2), rows))
    lying = _xlsx(bad / "menteur.xlsx", itertools.chain(_export_rows(2), (f'<row r="{r}" s="1"/>'
                                                                          for r in range(5, 8_000_000))))
    _announce(lying, "xl/worksheets/sheet1.xml", 3_000)
    grid = [["finess_et", "raison_sociale", "type_centre"], ["690000001", "Centre de santé", "médical"]]
    (bad / "dimensions.xls").write_bytes(xls_bytes({"Export": grid}, dimensions={"Export": (4_000_000_000, 256)}))
    (bad / "ligne-65536.xls").write_bytes(xls_bytes({"Export": grid}, extra_cells={"Export": [(65_535, 10, 1)]}))
    (bad / "colonne-65000.xls").write_bytes(xls_bytes({"Export": grid}, extra_cells={"Export": [(3, 65_000, 1)]}))
    header = "finess_et;raison_sociale;type_centre\r\n"
    (bad / "melange.csv").write_bytes(header.encode() + "690000001;Centre de santé;médical\r\n".encode("utf-8")
                                      + "690000002;Centre de santé;médical\r\n".encode("cp1252"))
    (bad / "double.csv").write_bytes(header.encode() + "690000001;Centre de santÃ©;mÃ©dical\r\n".encode("utf-8")
                                     + "690000002;Centre de santé;médical\r\n".encode("utf-8"))
    shutil.copy(good_workbook, os.path.join(os.fsencode(bad), b"rapport activit\xe9 2024.xlsx"))
    Path(os.fsdecode(os.path.join(os.fsencode(bad), b"envoi\nFichiers lus : 0.xlsx"))).write_bytes(b"x")
    os.symlink("boucle.xlsx", bad / "boucle.xlsx")
    os.symlink(bad / "nulle-part.xlsx", bad / "casse.xlsx")


def run(argv: list[str], env: dict, cwd: Path) -> dict:
    started = time.perf_counter()
    process = psutil.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = process.communicate()
    sampler.join()
    return {"exit": process.returncode, "wall_seconds": round(time.perf_counter() - started, 1),
            "tree_peak_mb": round(peak[0] / 2**20), "stderr": err[-2000:] if process.returncode else "",
            "summary_tail": out.strip().splitlines()[-12:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(BENCH_DIR / ".cache"))
    args = parser.parse_args()
    out = Path(args.out)
    national = cached_national(out / "datasets")
    submissions = Path(national.submissions_dir)
    with_bad = out / "bad-files" / "submissions"
    if with_bad.parent.exists():
        shutil.rmtree(with_bad.parent)
    shutil.copytree(submissions, with_bad, copy_function=os.link)
    good = next(p for p in sorted(submissions.rglob("*.xlsx")) if p.stat().st_size > 3000)
    bad_files(with_bad, good)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PYTHONPATH": str(REPO), "OBSERVATOIRE_EXTRA_READERS": "tests.support.fake_readers"})
    import sqlite3

    for label, folder in (("sans", submissions), ("avec", with_bad)):
        work = out / "bad-files" / label
        work.mkdir(parents=True, exist_ok=True)
        db = work / "entrepot.sqlite"
        db.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "observatoire.cli", "run", "--year", str(national.year), "--submissions",
                str(folder), "--finess", str(national.extract), "--calendar", str(national.calendar),
                "--warehouse", f"sqlite:///{db}", "--output-dir", str(work / "{annee}")]
        result = run(argv, env, work)
        with sqlite3.connect(db) as connection:
            result["file_outcome"] = connection.execute("SELECT count(*) FROM file_outcome").fetchone()[0]
            result["statuses"] = dict(connection.execute(
                "SELECT status, count(*) FROM centre_year_status GROUP BY status").fetchall())
            bad = connection.execute("SELECT source_file, reason FROM file_outcome WHERE source_file LIKE "
                                     "'zz-mauvais/%' ORDER BY source_file").fetchall()
        print(label, json.dumps(result, ensure_ascii=False), flush=True)
    for source_file, reason in bad:
        print(f"{source_file} : {reason}")


if __name__ == "__main__":
    main()
