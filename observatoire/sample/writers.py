"""How does each built submission land on disk, in which container and format?

Per-centre workbooks (`<département>/<name>.xlsx`, four sheets), regional exports
(`export_r<region>.csv|.xlsx`, one row per submission, in the format each region's
tool produces that year), unreadable files, the `reception.csv` manifest and the
calendar. Workbooks are made with openpyxl and then re-zipped with fixed timestamps so
that the same seed gives byte-identical files.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from observatoire.outputs import write_output
from observatoire.sample.campaign import WORKBOOK, Campaign, Submission, UnreadableCase, departement_folder
from observatoire.sample.content import StaffRow
from observatoire.sample.template import (
    FIELD_ORDER, FORM_LAYOUT, PERSONNEL, PERSONNEL_HEADER, PROFESSIONS, labels_for,
)
from observatoire.sample.values import CASE_AND_ACCENTS, Dialect, render, strip_accents, vary_label

FIXED_MOMENT = dt.datetime(2025, 1, 1, 0, 0, 0)
_ZIP_TIME = (2025, 1, 1, 0, 0, 0)
PDF_BYTES = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


@dataclass(frozen=True)
class ExportFormat:
    kind: str  # csv | xlsx
    header: str  # labels | canonical
    encoding: str = "utf-8-sig"
    separator: str = ";"

    @property
    def decimal_mark(self) -> str:
        return "." if self.separator == "," else ","

    @property
    def extension(self) -> str:
        return self.kind


# What each region's tool exports, per campaign.
EXPORT_FORMATS: dict[int, dict[str, ExportFormat]] = {
    2023: {
        "84": ExportFormat("csv", "labels", "cp1252", ";"),
        "11": ExportFormat("xlsx", "labels"),
        "93": ExportFormat("csv", "canonical", "utf-8-sig", ";"),
        "94": ExportFormat("csv", "labels", "utf-8-sig", ";"),
        "01": ExportFormat("csv", "labels", "utf-8", ","),
        "04": ExportFormat("csv", "canonical", "cp1252", ";"),
    },
    2024: {
        "84": ExportFormat("csv", "labels", "utf-8-sig", ";"),
        "11": ExportFormat("csv", "labels", "cp1252", ";"),
        "93": ExportFormat("csv", "canonical", "utf-8", ","),
        "94": ExportFormat("xlsx", "labels"),
        "01": ExportFormat("csv", "canonical", "utf-8-sig", "\t"),
        "04": ExportFormat("csv", "canonical", "utf-8-sig", ";"),
    },
}


# ------------------------------------------------------------------ xlsx plumbing
def reproducible_xlsx(workbook: Workbook) -> bytes:
    """Save, then re-zip with fixed entry times and a fixed `modified` property."""
    workbook.properties.created = FIXED_MOMENT
    workbook.properties.modified = FIXED_MOMENT
    workbook.properties.creator = "Observatoire des centres de santé"
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>2025-01-01T00:00:00Z\g<2>", content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


# ------------------------------------------------------------------ per-centre workbook
def workbook_rows(submission: Submission, year: int, rng: random.Random) -> dict[str, list[list[object]]]:
    """The rows of each sheet of a per-centre workbook, in sheet order (values as rendered
    for a spreadsheet). Shared by the openpyxl writer below and the fast national writer (datasets/national.py)."""
    labels = labels_for(year)
    dialect = Dialect(spreadsheet=True)
    sheets: dict[str, list[list[object]]] = {}
    for sheet_name, sections in FORM_LAYOUT.items():
        rows: list[list[object]] = [[f"Rapport d'activité {year} des centres de santé — {sheet_name}"], []]
        shuffled = rng.random() < 0.2
        for section, names in sections:
            present = [name for name in names if name in labels and name in submission.fields]
            if not present:
                continue
            if shuffled:
                rng.shuffle(present)
            rows.append([section])
            for name in present:
                rows.append([vary_label(labels[name], rng), render(submission.fields[name], dialect, rng)])
            rows.append([])
        sheets[sheet_name] = rows
    sheets[PERSONNEL] = _personnel_rows(submission.staff, year, rng)
    return sheets


def workbook_bytes(submission: Submission, year: int, rng: random.Random) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet_name, rows in workbook_rows(submission, year, rng).items():
        sheet = workbook.create_sheet(sheet_name)
        for row in rows:
            sheet.append(row)
        if sheet_name == PERSONNEL:
            sheet.column_dimensions["A"].width = 32
        else:
            sheet.column_dimensions["A"].width = 58
            sheet.column_dimensions["B"].width = 32
    return reproducible_xlsx(workbook)


def _personnel_rows(staff: list[StaffRow], year: int, rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    if rng.random() < 0.5:
        rows += [[f"Personnel au 31/12/{year}"], []]
    rows.append(list(PERSONNEL_HEADER))
    for row in staff:
        etp: object = float(row.etp) if rng.random() < 0.8 else f"{row.etp:f}".replace(".", ",")
        rows.append([vary_label(row.label, rng, 0.15, CASE_AND_ACCENTS), row.effectif, etp])
    return rows


def workbook_name(submission: Submission, year: int, rng: random.Random) -> str:
    if submission.workbook_name:
        return submission.workbook_name
    if submission.case == "exact" and rng.random() < 0.6:
        return f"{submission.declared_finess}.xlsx"
    name = str(submission.fields.get("raison_sociale") or "centre")
    name = re.sub(r"[^\w' -]", " ", name, flags=re.UNICODE)
    name = re.sub(r"\s+", " ", name).strip()
    return rng.choice([
        f"RA {year} - {name}.xlsx", f"rapport_activite_{year}_{strip_accents(name).replace(' ', '_').lower()}.xlsx",
        f"Rapport d'activité {year} {name}.xlsx",
    ])


# ------------------------------------------------------------------ regional exports
def export_columns(year: int) -> list[str]:
    labels = labels_for(year)
    personnel = [f"{kind}_{code}" for code in PROFESSIONS for kind in ("effectif", "etp")]
    return [name for name in FIELD_ORDER if name in labels] + personnel


def _staff_columns(staff: list[StaffRow]) -> dict[str, object]:
    totals: dict[str, list] = {}
    for row in staff:
        if row.profession is None:
            continue
        total = totals.setdefault(row.profession, [0, 0])
        total[0] += row.effectif
        total[1] += row.etp
    columns: dict[str, object] = {}
    for code, (effectif, etp) in totals.items():
        columns[f"effectif_{code}"], columns[f"etp_{code}"] = effectif, etp
    return columns


def export_header(year: int, fmt: ExportFormat, rng: random.Random) -> list[str]:
    labels = labels_for(year)
    header = []
    for column in export_columns(year):
        if fmt.header == "labels" and column in labels:
            header.append(vary_label(labels[column], rng, 0.35))
        else:
            header.append(column)
    return header


def export_row(submission: Submission, year: int, fmt: ExportFormat, rng: random.Random) -> list[object]:
    dialect = Dialect(fmt.kind == "xlsx", fmt.decimal_mark, fmt.encoding != "cp1252")
    values = {**submission.fields, **_staff_columns(submission.staff)}
    return [render(values.get(column), dialect, rng) for column in export_columns(year)]


def export_bytes(rows: list[list[object]], header: list[str], fmt: ExportFormat, encoding: str | None = None) -> bytes:
    if fmt.kind == "xlsx":
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Export"
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        return reproducible_xlsx(workbook)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.separator, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode(encoding or fmt.encoding)


# ------------------------------------------------------------------ one campaign
def write_campaign(campaign: Campaign, submissions_dir: Path, seed: int) -> None:
    """Write every file of a campaign and set `source_file`/`source_row` on its submissions."""
    rng = random.Random(f"files-{seed}-{campaign.year}")
    year = campaign.year
    formats = EXPORT_FORMATS[year]
    taken = {case.relative_path.lower() for case in campaign.unreadable}
    export_rows: dict[str, list[Submission]] = {}
    for submission in campaign.submissions:
        if submission.container == WORKBOOK:
            relative = _unique(f"{departement_folder(submission.departement)}/{workbook_name(submission, year, rng)}", taken)
            submission.source_file = relative
            _write(submissions_dir, relative, workbook_bytes(submission, year, rng))
        else:
            export_rows.setdefault(submission.region, []).append(submission)
    for region in sorted(export_rows):
        fmt = formats[region]
        rows = export_rows[region]
        rng.shuffle(rows)
        relative = f"export_r{region}.{fmt.extension}"
        taken.add(relative)
        for number, submission in enumerate(rows, start=1):
            submission.source_file, submission.source_row = relative, number
        header = export_header(year, fmt, rng)
        _write(submissions_dir, relative,
               export_bytes([export_row(s, year, fmt, rng) for s in rows], header, fmt))
    for case in campaign.unreadable:
        _write(submissions_dir, case.relative_path, unreadable_bytes(case, year, formats[case.region], rng))
    _write(submissions_dir, "reception.csv", manifest_bytes(campaign.submissions))


def unreadable_bytes(case: UnreadableCase, year: int, fmt: ExportFormat, rng: random.Random) -> bytes:
    if case.reason == "empty":
        return b""
    if case.reason == "not_a_spreadsheet":
        return PDF_BYTES
    if case.reason == "truncated":
        assert case.payload is not None
        return workbook_bytes(case.payload, year, rng)[:300]
    if case.reason == "utf16_encoding":
        assert case.payload is not None
        csv_format = ExportFormat("csv", fmt.header, "utf-16", ";")
        row = export_row(case.payload, year, csv_format, rng)
        return export_bytes([row], export_header(year, csv_format, rng), csv_format)
    raise ValueError(case.reason)


def manifest_bytes(submissions: list[Submission]) -> bytes:
    lines = ["fichier;date_reception"]
    listed = sorted((s.source_file, s.received_at) for s in submissions if s.received_at is not None)
    lines += [f"{name};{moment:%d/%m/%Y %H:%M}" for name, moment in listed]
    return ("\n".join(lines) + "\n").encode("utf-8")


def calendar_bytes(campaign: Campaign) -> bytes:
    lines = ["annee;finess_et;date_limite"]
    lines += [f"{campaign.year};{row.finess_et};{row.text}" for row in campaign.calendar]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _unique(relative: str, taken: set[str]) -> str:
    candidate, number = relative, 2
    while candidate.lower() in taken:
        stem, _, extension = relative.rpartition(".")
        candidate, number = f"{stem} ({number}).{extension}", number + 1
    taken.add(candidate.lower())
    return candidate


def _write(folder: Path, relative, data: bytes) -> None:
    # inside `folder` only, never through a link planted there (observatoire.outputs)
    write_output(folder, relative, data)

