"""The floor, as one process: every file opened and read the cheapest way (fastexcel to
Polars for every sheet of a workbook, Polars for a CSV and for the FINESS extracts), then
exactly the rows a run of the pipeline left in the warehouse written into plain text
tables in one transaction (COPY on PostgreSQL, one executemany per table on SQLite). No
check, no rule: what opening the files and writing the rows cost at least.

    .venv/bin/python benchmarks/floor.py SUBMISSIONS_FOLDER ROWS_FOLDER DATABASE_URL EXTRACT [EXTRACT…]

ROWS_FOLDER holds one Parquet file per warehouse table (benchmarks/national.py writes it
from the warehouse of a run of the pipeline). Prints one JSON line: files, files fastexcel
could not open, rows read, rows written.
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import fastexcel
import polars as pl

SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv"}


def submission_files(folder: Path) -> list[Path]:
    """The files the pipeline reads: spreadsheets and CSV, without the reception manifest."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and p.name.lower() != "reception.csv" and not p.name.startswith("~$"))


def read_file(path: Path) -> int:
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
        return pl.read_csv(text.encode(), separator=separator, infer_schema=False,
                           truncate_ragged_lines=True).height
    reader = fastexcel.read_excel(raw)
    return sum(reader.load_sheet(name, header_row=None, dtypes="string").to_polars().height
               for name in reader.sheet_names)


def read_extract(path: Path) -> int:
    text = path.read_bytes().decode("cp1252")
    return pl.read_csv(text.encode(), separator=";", has_header=False, skip_rows=1, infer_schema=False,
                       truncate_ragged_lines=True).height


def load(frames: dict[str, pl.DataFrame], url: str) -> int:
    total = 0
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            with connection.cursor() as cursor:
                for name, frame in frames.items():
                    cursor.execute(f"CREATE TABLE floor_{name} ({', '.join(f'{c} text' for c in frame.columns)})")
                    with cursor.copy(f"COPY floor_{name} FROM STDIN (FORMAT csv)") as copy:
                        copy.write(frame.write_csv(include_header=False))
                    total += frame.height
        return total
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    with connection:
        for name, frame in frames.items():
            connection.execute(f"CREATE TABLE floor_{name} ({', '.join(f'{c} text' for c in frame.columns)})")
            marks = ", ".join("?" * frame.width)
            connection.executemany(f"INSERT INTO floor_{name} VALUES ({marks})", frame.iter_rows())
            total += frame.height
    connection.close()
    return total


def main(argv: list[str]) -> int:
    folder, rows_folder, url, extracts = Path(argv[0]), Path(argv[1]), argv[2], [Path(a) for a in argv[3:]]
    files = submission_files(folder)
    rows_read, failed = sum(read_extract(path) for path in extracts), 0
    for path in files:
        try:
            rows_read += read_file(path)
        except Exception:  # the pipeline's unreadable files: trying to open them is the cost
            failed += 1
    frames = {p.stem: pl.read_parquet(p).select(pl.all().cast(pl.String))
              for p in sorted(rows_folder.glob("*.parquet"))}
    loaded = load(frames, url)
    print(json.dumps({"files": len(files), "files_failed": failed, "rows_read": rows_read, "rows_loaded": loaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
