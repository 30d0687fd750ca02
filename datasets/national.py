"""What does a national campaign look like at full size, to measure the pipeline on?

`generate_national` writes, for the 2024 campaign, the centres de santé of all 18 ARS
regions (about 3,000 by default, with gestionnaires and antennes), one full-size FINESS
extract in the exact data.gouv format (the centres plus ~97,000 other establishments,
windows-1252), the submissions (a per-centre workbook for most centres, regional exports
for a fifth of the centres of the six regions whose ARS has an export tool, the deliberate cases of
`CampaignPlanner`: damaged FINESS, lateness, invalid, unreadable files…), the reception
manifest and the calendar. It reuses the sample's referential builder, planner and
writers; only the centre distribution and the workbook writer differ.

`file_multiplier` k > 1 means every file is sent k times: each centre re-sends its
workbook k − 1 more times (corrections dated one day apart, `… - envoi 2.xlsx`) and each
regional tool exports k times (`export_r84 - envoi 2.csv`). The referential keeps its
national size (France has about 3,000 centres de santé, not 30,000): k multiplies
files and rows, which is what the pipeline's cost depends on.

Workbooks are written by patching a template made once with openpyxl: the four sheet
XMLs are generated from the same rows `writers.workbook_rows` gives openpyxl (inline
strings, numbers, date cells with the template's date style), an order of magnitude faster,
and still read alike by openpyxl and fastexcel. No expected answer is written: this is a
benchmark dataset, the 6-region sample carries the answers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import random
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook

from observatoire.outputs import write_output
from observatoire.sample.campaign import WORKBOOK, Campaign, CampaignPlanner, Submission, departement_folder
from observatoire.sample.extract_writer import render_extract
from observatoire.sample.geography import CDS_COMMUNES, OTHER_COMMUNES, Commune
from observatoire.sample.referential import SNAPSHOTS, Referential, ReferentialBuilder
from observatoire.sample.template import ACTIVITE, FINANCES, IDENTIFICATION, PERSONNEL
from observatoire.sample.writers import (
    EXPORT_FORMATS, _ZIP_TIME, _unique, _write, calendar_bytes, export_bytes, export_header, export_row,
    manifest_bytes, reproducible_xlsx, unreadable_bytes, workbook_name, workbook_rows,
)

YEAR = 2024
GENERATOR_VERSION = 2  # part of the cache key: bump when the files written change
MARKER = "national.json"
EXTRACT = SNAPSHOTS[-1]  # the full-size extract of 2025-01-12, the one a 2024 campaign runs on

# Share of the centres de santé per region: illustrative weights (Île-de-France and the
# large southern regions hold most centres), not official counts.
REGION_WEIGHTS = {
    "11": 24, "84": 12, "93": 10, "76": 8, "32": 7, "44": 6, "75": 7, "52": 4, "53": 3,
    "28": 3, "27": 3, "24": 3, "94": 0.6, "01": 1.2, "02": 0.8, "03": 0.5, "04": 1.5, "06": 0.4,
}
# The planner's deliberate cases take centres from these regions: they need a floor.
MIN_CENTRES = {"84": 30, "11": 30, "93": 30, "01": 3, "04": 3, "94": 3}
# Other establishments per département, relative to a metropolitan one: overseas
# territories are smaller, and a FINESS number there has only 1,000 possible values.
NOISE_WEIGHTS = {"9A": 0.3, "9B": 0.3, "9C": 0.2, "9D": 0.4, "9F": 0.1, "9E": 0.02, "9J": 0.02}
_SYNTHETIC_TOWNS = ("BEAUMONT", "VILLENEUVE", "ST GEORGES", "LA CHAPELLE", "MONTFORT", "BELLEVUE")


@dataclass(frozen=True)
class NationalManifest:
    out_dir: Path
    year: int
    extract: Path
    submissions_dir: Path
    calendar: Path
    summary: dict  # what was written: counts, parameters, generation time

    def finess(self) -> list[Path]:
        return [self.extract]


# ------------------------------------------------------------------ referential
class NationalReferentialBuilder(ReferentialBuilder):
    """Centres de santé in every département of the 18 regions."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._communes: dict[str, list[Commune]] = {}

    def centre_communes(self, departement: str) -> list[Commune]:
        if departement in CDS_COMMUNES:
            return super().centre_communes(departement)
        if departement not in self._communes:
            self._communes[departement] = _synthetic_communes(OTHER_COMMUNES[departement][0])
        return self._communes[departement]

    def build_national_centres(self, n_centres: int) -> None:
        by_region: dict[str, list[str]] = {}
        for code, departement in self.departements.items():
            if departement.region_code in REGION_WEIGHTS:
                by_region.setdefault(departement.region_code, []).append(code)
        total = sum(REGION_WEIGHTS.values())
        for region, weight in REGION_WEIGHTS.items():
            count = max(MIN_CENTRES.get(region, 1), round(n_centres * weight / total))
            departements = by_region[region]
            # départements with big towns (hand-picked communes) draw more centres
            weights = [4 if code in CDS_COMMUNES else 1 for code in departements]
            made = 0
            while made < count:
                departement = self.rng.choices(departements, weights=weights)[0]
                sites = 1
                if count > 20 and self.rng.random() < 0.10:
                    sites = min(count - made, self.rng.choice((2, 2, 3, 4)))
                made += len(self._gestionnaire(departement, sites))


def _synthetic_communes(prefecture: Commune) -> list[Commune]:
    """The préfecture and a few plausible towns (codes and postal codes derived from it)."""
    communes = [prefecture]
    base = int(prefecture.code)
    for index, name in enumerate(_SYNTHETIC_TOWNS, start=1):
        code = f"{(base + 97 * index) % 999 + 1:03d}"
        postal = prefecture.postal_code[:2] + f"{(int(prefecture.postal_code[2:]) + 110 * index) % 1000:03d}"
        communes.append(Commune(prefecture.departement, code, name, postal))
    return communes


def build_national_referential(seed: int, n_centres: int, finess_lines: int) -> Referential:
    builder = NationalReferentialBuilder(random.Random(f"national-referential-{seed}"))
    builder.build_national_centres(n_centres)
    builder.build_noise(max(finess_lines - len(builder.establishments), 200), NOISE_WEIGHTS)
    builder.decorate_names()
    builder.apply_history()
    return Referential(builder.establishments)


# ------------------------------------------------------------------ fast workbooks
class FastWorkbookWriter:
    """Writes per-centre workbooks from rows by patching a template made by openpyxl."""

    SHEETS = (IDENTIFICATION, ACTIVITE, FINANCES, PERSONNEL)
    _MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"

    def __init__(self) -> None:
        workbook = Workbook()
        workbook.remove(workbook.active)
        for name in self.SHEETS:
            sheet = workbook.create_sheet(name)
            sheet.append(["x", dt.datetime(2025, 1, 1, 12, 0)])
            sheet.column_dimensions["A"].width = 32 if name == PERSONNEL else 58
            if name != PERSONNEL:
                sheet.column_dimensions["B"].width = 32
        archive = zipfile.ZipFile(io.BytesIO(reproducible_xlsx(workbook)))
        self.members: list[tuple[zipfile.ZipInfo, bytes]] = [(i, archive.read(i.filename)) for i in archive.infolist()]
        names = [info.filename for info, _ in self.members]
        # openpyxl writes sheets as xl/worksheets/sheet<n>.xml in creation order
        self.sheet_members = {f"xl/worksheets/sheet{n}.xml": name for n, name in enumerate(self.SHEETS, start=1)}
        assert set(self.sheet_members) <= set(names), names
        first = dict(self.members_by_name())["xl/worksheets/sheet1.xml"]
        self.date_style = re.search(rb'<c r="B1"[^>]*\bs="(\d+)"', first).group(1).decode()
        self.frames = {}
        for member in self.sheet_members:
            xml = dict(self.members_by_name())[member]
            head, rest = xml.split(b"<sheetData>", 1)
            tail = rest.split(b"</sheetData>", 1)[1]
            self.frames[member] = (re.sub(rb'<dimension ref="[^"]*"\s*/>', b"{dimension}", head), tail)

    def members_by_name(self) -> list[tuple[str, bytes]]:
        return [(info.filename, data) for info, data in self.members]

    def workbook(self, sheets: dict[str, list[list[object]]]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info, data in self.members:
                if info.filename in self.sheet_members:
                    data = self._sheet_xml(info.filename, sheets[self.sheet_members[info.filename]])
                elif info.filename == "xl/sharedStrings.xml":
                    data = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="'
                            + self._MAIN_NS + b'" count="0" uniqueCount="0"/>')
                entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = info.external_attr
                target.writestr(entry, data)
        return out.getvalue()

    def _sheet_xml(self, member: str, rows: list[list[object]]) -> bytes:
        head, tail = self.frames[member]
        parts, width = [], 1
        for number, row in enumerate(rows, start=1):
            cells = [self._cell(f"{chr(65 + col)}{number}", value) for col, value in enumerate(row)
                     if value is not None]
            if cells:
                width = max(width, len(row))
                parts.append(f'<row r="{number}">{"".join(cells)}</row>')
        dimension = f'<dimension ref="A1:{chr(64 + width)}{max(len(rows), 1)}"/>'.encode()
        return head.replace(b"{dimension}", dimension) + b"<sheetData>" + "".join(parts).encode("utf-8") \
            + b"</sheetData>" + tail

    def _cell(self, ref: str, value: object) -> str:
        if isinstance(value, bool):
            return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, (int, float)):
            return f'<c r="{ref}"><v>{value!r}</v></c>'
        if isinstance(value, dt.datetime):
            serial = (value - dt.datetime(1899, 12, 30)).total_seconds() / 86400
            return f'<c r="{ref}" s="{self.date_style}"><v>{serial!r}</v></c>'
        text = escape(str(value))
        space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
        return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


# ------------------------------------------------------------------ campaign files
def write_national_campaign(campaign: Campaign, submissions_dir: Path, seed: int, multiplier: int) -> dict:
    """Every file of the campaign, each sent `multiplier` times; returns what was written."""
    rng = random.Random(f"national-files-{seed}-{campaign.year}")
    year, formats, writer = campaign.year, EXPORT_FORMATS[campaign.year], FastWorkbookWriter()
    taken = {case.relative_path.lower() for case in campaign.unreadable}
    counts = {"workbooks": 0, "exports": 0, "export_rows": 0, "unreadable": 0}
    export_rows: dict[str, list[Submission]] = {}
    for submission in campaign.submissions:
        if submission.container != WORKBOOK:
            export_rows.setdefault(submission.region, []).append(submission)
            continue
        name = workbook_name(submission, year, rng)
        folder = departement_folder(submission.departement)
        for number in range(1, multiplier + 1):
            version = submission if number == 1 else _resent(submission, number)
            stem = name[:-5] if number == 1 else f"{name[:-5]} - envoi {number}"
            relative = _unique(f"{folder}/{stem}.xlsx", taken)
            if number == 1:
                submission.source_file = relative
            _write(submissions_dir, relative, writer.workbook(workbook_rows(version, year, rng)))
            counts["workbooks"] += 1
    for region in sorted(export_rows):
        fmt, rows = formats[region], export_rows[region]
        rng.shuffle(rows)
        for copy in range(1, multiplier + 1):
            relative = f"export_r{region}.{fmt.extension}" if copy == 1 else \
                f"export_r{region} - envoi {copy}.{fmt.extension}"
            taken.add(relative.lower())
            if copy == 1:
                for number, submission in enumerate(rows, start=1):
                    submission.source_file, submission.source_row = relative, number
            sent = rows if copy == 1 else [_resent(s, copy) for s in rows]
            _write(submissions_dir, relative, export_bytes(
                [export_row(s, year, fmt, rng) for s in sent], export_header(year, fmt, rng), fmt))
            counts["exports"] += 1
            counts["export_rows"] += len(rows)
    for case in campaign.unreadable:
        _write(submissions_dir, case.relative_path, unreadable_bytes(case, year, formats[case.region], rng))
        counts["unreadable"] += 1
    _write(submissions_dir, "reception.csv", manifest_bytes(campaign.submissions))
    return counts


def _resent(submission: Submission, number: int) -> Submission:
    """The same report sent again `number - 1` days later (a correction, a re-send)."""
    shift = dt.timedelta(days=number - 1)
    fields = dict(submission.fields)
    moment = fields.get("date_transmission")
    if isinstance(moment, dt.datetime):
        fields["date_transmission"] = moment + shift
    return dataclasses.replace(
        submission, case=f"{submission.case}_v{number}", fields=fields, staff=list(submission.staff),
        transmitted_at=submission.transmitted_at + shift if submission.transmitted_at else None,
        received_at=None, workbook_name=None,
    )


# ------------------------------------------------------------------ entry points
def generate_national(out_dir: Path, n_centres: int = 3000, seed: int = 2025, file_multiplier: int = 1,
                      finess_lines: int = 100_000) -> NationalManifest:
    """Write the national campaign into `out_dir` (emptied first)."""
    if file_multiplier < 1:
        raise ValueError("file_multiplier must be >= 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    referential = build_national_referential(seed, n_centres, finess_lines)
    extract = out_dir / "finess" / EXTRACT.file_name
    _write(out_dir, extract.relative_to(out_dir), render_extract(referential, EXTRACT, seed))
    campaign = CampaignPlanner(YEAR, referential, seed, workbook_share=0.8,
                               export_regions=set(EXPORT_FORMATS[YEAR])).plan()
    submissions_dir = out_dir / str(YEAR) / "submissions"
    counts = write_national_campaign(campaign, submissions_dir, seed, file_multiplier)
    calendar = out_dir / str(YEAR) / "calendrier.csv"
    write_output(out_dir, calendar.relative_to(out_dir), calendar_bytes(campaign))
    files = sum(1 for p in submissions_dir.rglob("*") if p.is_file() and p.name != "reception.csv")
    summary = {
        "generator_version": GENERATOR_VERSION, "seed": seed, "n_centres_requested": n_centres,
        "file_multiplier": file_multiplier, "year": YEAR,
        "centres_de_sante": len(referential.centres),
        "regions": sorted({c.region_code for c in referential.centres if c.region_code}),
        "finess_structureet_lines": len(referential.in_snapshot(EXTRACT.label)),
        "extract_bytes": extract.stat().st_size,
        "planned_submissions": len(campaign.submissions), "files": files, **counts,
        "submissions_bytes": sum(p.stat().st_size for p in submissions_dir.rglob("*") if p.is_file()),
        "generation_seconds": round(time.perf_counter() - started, 2),
    }
    write_output(out_dir, MARKER, json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"))
    return NationalManifest(out_dir, YEAR, extract, submissions_dir, calendar, summary)


def cache_key(n_centres: int, seed: int, file_multiplier: int, finess_lines: int) -> str:
    return f"national-v{GENERATOR_VERSION}-c{n_centres}-x{file_multiplier}-f{finess_lines}-s{seed}"


def cached_national(cache_root: Path, n_centres: int = 3000, seed: int = 2025, file_multiplier: int = 1,
                    finess_lines: int = 100_000) -> NationalManifest:
    """The national campaign of these parameters under `cache_root`, generated only once."""
    out_dir = Path(cache_root) / cache_key(n_centres, seed, file_multiplier, finess_lines)
    marker = out_dir / MARKER
    if not marker.exists():  # written last: a half-written folder is regenerated
        return generate_national(out_dir, n_centres, seed, file_multiplier, finess_lines)
    return NationalManifest(out_dir, YEAR, out_dir / "finess" / EXTRACT.file_name,
                            out_dir / str(YEAR) / "submissions", out_dir / str(YEAR) / "calendrier.csv",
                            json.loads(marker.read_text(encoding="utf-8")))
