"""What an analyst does today, as one process: openpyxl reads each workbook (read-only,
cached values), pandas makes the tables (labels folded), `to_sql` writes them into a
database; regional CSV exports through `pandas.read_csv`. No validation, no FINESS
reconciliation, no status: only the cost of getting the files into tables.

    .venv/bin/python benchmarks/analyst.py SUBMISSIONS_FOLDER DATABASE_URL

Needs pandas, not a project dependency: benchmarks/national.py installs it apart, in
benchmarks/.cache/analyst-packages. Prints one JSON line: files, files it could not read,
rows written.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import openpyxl
import pandas as pd
import sqlalchemy as sa

SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv"}


def submission_files(folder: Path) -> list[Path]:
    """The files the pipeline reads: spreadsheets and CSV, without the reception manifest."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and p.name.lower() != "reception.csv" and not p.name.startswith("~$"))


def label_key(label) -> str:
    """Labels vary in case, accents, units and a trailing colon: the analyst folds them."""
    text = unicodedata.normalize("NFKD", str(label))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)|:", " ", text)).strip()


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [f"c{i}" for i in range(frame.shape[1])]
    return frame


def read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = pd.read_csv(path, sep=None, engine="python", encoding=encoding, dtype=str)
        except UnicodeDecodeError:
            continue
        if frame.shape[1] > 300:  # UTF-16 decoded as windows-1252: garbage the analyst sets aside
            raise ValueError(path)
        return frame
    raise ValueError(path)


def main(argv: list[str]) -> int:
    folder, url = Path(argv[0]), argv[1]
    files = submission_files(folder)
    reports, personnel, exports, failed = [], [], [], 0
    for path in files:
        try:
            if path.suffix.lower() == ".csv":
                exports.append(read_csv(path))
                continue
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            sheets = {ws.title: pd.DataFrame(list(ws.iter_rows(values_only=True))) for ws in workbook.worksheets}
            workbook.close()
            if "Identification" not in sheets:  # a regional export saved as a workbook
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
                        report[label_key(label)] = None if value is None else str(value)
            reports.append(report)
        except Exception:  # a damaged file: the analyst sets it aside
            failed += 1
    engine = sa.create_engine(url)
    frames = {"rapports": pd.DataFrame(reports),
              "personnel": pd.concat(personnel, ignore_index=True) if personnel else pd.DataFrame()}
    if exports:  # header labels vary by region: the analyst aligns the columns by position
        frames["exports"] = pd.concat([positional(e.astype(str)) for e in exports], ignore_index=True)
    rows = 0
    for name, frame in frames.items():
        positional(frame).astype(str).to_sql(name, engine, if_exists="replace", index=False)
        rows += len(frame)
    engine.dispose()
    print(json.dumps({"files": len(files), "files_failed": failed, "rows_loaded": rows, "pandas": pd.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
