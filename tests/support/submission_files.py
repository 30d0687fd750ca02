"""Builders of submission files for the submission tests, written from
submission-template.md (not from the pipeline's registry, so that a mistake there cannot
hide itself); tests/schemas/test_registry.py checks they produce what a centre would send."""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import polars as pl

from transforms.finess_key import finess_check_digit

PARIS = ZoneInfo("Europe/Paris")
RUN_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=PARIS)

# Labels copied from submission-template.md.
COMMON = {
    "annee_exercice": "Année d'exercice", "raison_sociale": "Raison sociale", "type_centre": "Type de centre",
    "type_gestionnaire": "Type de gestionnaire", "commune_insee": "Code commune INSEE",
    "code_postal": "Code postal", "antennes": "N° FINESS des antennes",
    "date_transmission": "Date de transmission", "contact_courriel": "Courriel de contact",
    "contact_telephone": "Téléphone", "file_active": "File active (nombre de patients)",
    "patients_medecin_traitant": "Patients ayant déclaré un médecin traitant du centre",
    "nb_actes": "Nombre d'actes et consultations", "jours_ouverture": "Jours d'ouverture dans l'année",
    "amplitude_hebdo_h": "Amplitude horaire hebdomadaire (heures)",
    "actions_prevention": "Actions de prévention menées (nombre)",
    "permanence_soins": "Participation à la permanence des soins (oui/non)",
    "stagiaires": "Stagiaires accueillis (nombre)",
    "specialites_second_recours": "Spécialités de second recours proposées (nombre)",
    "total_charges": "Total des charges (€)", "total_produits": "Total des produits (€)",
    "resultat": "Résultat de l'exercice (€)",
    "recettes_assurance_maladie": "Recettes des actes facturés à l'assurance maladie (€)",
    "subventions": "Subventions publiques (€)", "masse_salariale": "Masse salariale (€)",
}
LABELS = {
    2023: {**COMMON, "finess_et": "N° FINESS", "tiers_payant_integral": "Tiers payant (oui/non)",
           "part_css_pct": "Part des patients CMU-C / CSS (%)",
           "remuneration_forfaitaire": "Forfait accord national (€)"},
    2024: {**COMMON, "finess_et": "N° FINESS établissement (ET)", "finess_ej": "N° FINESS juridique (EJ)",
           "tiers_payant_integral": "Tiers payant intégral (oui/non)",
           "part_css_pct": "Part des patients bénéficiaires de la CSS (%)",
           "part_ame_pct": "Part des patients bénéficiaires de l'AME (%)",
           "remuneration_forfaitaire": "Rémunération forfaitaire accord national (€)"},
}
SHEETS = {
    "Identification": ["annee_exercice", "finess_et", "finess_ej", "raison_sociale", "type_centre",
                       "type_gestionnaire", "commune_insee", "code_postal", "antennes", "date_transmission",
                       "contact_courriel", "contact_telephone"],
    "Activité": ["file_active", "patients_medecin_traitant", "nb_actes", "jours_ouverture", "amplitude_hebdo_h",
                 "tiers_payant_integral", "part_css_pct", "part_ame_pct", "actions_prevention",
                 "permanence_soins", "stagiaires", "specialites_second_recours"],
    "Finances": ["total_charges", "total_produits", "resultat", "recettes_assurance_maladie",
                 "remuneration_forfaitaire", "subventions", "masse_salariale"],
}
PERSONNEL_HEADER = ["Profession", "Effectif (personnes physiques)", "ETP"]
PERSONNEL = [("Médecin généraliste", 3, "2,5"), ("Infirmier", 2, "1,8"), ("Secrétaire médical", 2, 2)]


def finess(first_eight: str) -> str:
    return first_eight + finess_check_digit(first_eight)


def values(year: int = 2024, number: int = 1, **overrides) -> dict:
    """A valid submission as a centre types it; `field=None` drops that line."""
    base = {
        "annee_exercice": year, "finess_et": finess(f"69{number:06d}"), "finess_ej": finess(f"69{number + 500000:06d}"),
        "raison_sociale": f"Centre de santé des Tilleuls {number}", "type_centre": "polyvalent",
        "type_gestionnaire": "organisme à but non lucratif", "commune_insee": "69123", "code_postal": "69003",
        "antennes": f"{finess('69900001')} ; {finess('69900002')}",
        "date_transmission": f"15/02/{year + 1} 10:30", "contact_courriel": "contact@cds-tilleuls.fr",
        "contact_telephone": "04 78 12 34 56",
        "file_active": "3 200", "patients_medecin_traitant": 1500, "nb_actes": 15000, "jours_ouverture": 250,
        "amplitude_hebdo_h": "50,5", "tiers_payant_integral": "oui", "part_css_pct": "12,5 %", "part_ame_pct": 3,
        "actions_prevention": 4, "permanence_soins": "non", "stagiaires": 2, "specialites_second_recours": 1,
        "total_charges": "1 200 000,50", "total_produits": "1\u202f250\u00a0000,50", "resultat": "50 000",
        "recettes_assurance_maladie": 800000, "remuneration_forfaitaire": 100000, "subventions": 50000,
        "masse_salariale": 900000,
    }
    if year < 2024:
        base.pop("finess_ej"), base.pop("part_ame_pct")
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def workbook(values_: dict, *, year: int = 2024, personnel=PERSONNEL, labels: dict | None = None,
             title_rows: bool = True, drop_sheets=(), extra_sheets=(), personnel_header=PERSONNEL_HEADER):
    """An openpyxl workbook of the per-centre template; returns (workbook, {field: cell})."""
    labels = labels or LABELS[year]
    book = openpyxl.Workbook()
    book.remove(book.active)
    where = {}
    for sheet_name, names in SHEETS.items():
        if sheet_name in drop_sheets:
            continue
        sheet = book.create_sheet(sheet_name)
        if title_rows:
            sheet.append([f"Rapport d'activité {year} — {sheet_name}"])
            sheet.merge_cells("A1:C1")
            sheet.append([])
        for name in names:
            if name in values_:
                sheet.append([labels.get(name, name), values_[name]])
                where[name] = (sheet_name, f"B{sheet.max_row}")
    if "Personnel" not in drop_sheets:
        sheet = book.create_sheet("Personnel")
        if title_rows:
            sheet.append(["Personnel au 31 décembre"])
        sheet.append(list(personnel_header))
        for row in personnel:
            sheet.append(list(row))
    for name in extra_sheets:
        book.create_sheet(name).append(["Notes libres du centre"])
    return book, where


def save(book, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def export_header(year: int = 2024, canonical: bool = False, personnel: bool = True) -> list[str]:
    names = [n for sheet in SHEETS.values() for n in sheet if n in LABELS[year]]
    header = names if canonical else [LABELS[year][n] for n in names]
    if personnel:
        header += ["effectif_medecin_generaliste", "etp_medecin_generaliste", "effectif_infirmier", "etp_infirmier"]
    return header


def export_row(year: int = 2024, number: int = 1, personnel: bool = True, **overrides) -> list:
    v = values(year, number, **overrides)
    names = [n for sheet in SHEETS.values() for n in sheet if n in LABELS[year]]
    row = [v.get(n, "") for n in names]
    if personnel:
        row += [2, "1,5", 1, "0,8"]
    return row


def csv_bytes(header, rows, *, separator=";", encoding="utf-8", bom=False, title: str | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    if title:
        buffer.write(title + separator * 3 + "\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else str(v) for v in row])
    text = buffer.getvalue()
    if encoding == "cp1252":  # no thin space in windows-1252: Excel writes a non-breaking one
        text = text.replace("\u202f", "\u00a0")
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def export_workbook(header, rows, *, hidden_sheet: bool = False, title: bool = True):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Export ARS"
    if title:
        sheet.append(["Export régional des rapports d'activité"])
        sheet.merge_cells("A1:D1")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if hidden_sheet:
        extra = book.create_sheet("Listes")
        extra.append(["polyvalent", "médical"])
        extra.sheet_state = "hidden"
    return book


def patch_zip(source: Path, target: Path, member: str, replace: tuple[bytes, bytes]) -> Path:
    """Copy an xlsx changing one member's bytes (to craft what openpyxl cannot write)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                assert replace[0] in data, "patch target not found"
                data = data.replace(*replace)
            dst.writestr(info, data)
    return target


def sheet_member(path: Path, sheet: str) -> str:
    names = openpyxl.load_workbook(path, read_only=True).sheetnames
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def ods_bytes(sheets: dict[str, list[list]]) -> bytes:
    """A minimal OpenDocument spreadsheet, written by hand: no maintained ODS writer is a
    dependency of the project (odfpy is not installed), and the format is a zip of XML."""
    from xml.sax.saxutils import escape

    def cell(value):
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, (int, float)):
            return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'

    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def ods_workbook_sheets(values_: dict, year: int = 2024) -> dict[str, list[list]]:
    sheets = {name: [[LABELS[year][n], values_[n]] for n in names if n in values_] for name, names in SHEETS.items()}
    sheets["Personnel"] = [PERSONNEL_HEADER, *[list(row) for row in PERSONNEL]]
    return sheets


# ------------------------------------------------------------------ running the stages
def run(paths_root: Path, year: int = 2024, run_at: dt.datetime | None = None, in_process: bool = False):
    """read_files -> gather -> validate on every file below `paths_root` (no Prefect).
    `in_process`: read in this process (`read_batch`, the same reader code without the
    reader process each call starts), for the rule tests whose files never crash a reader."""
    from observatoire import stages
    from observatoire.readers.pool import read_batch

    files = stages.list_files(paths_root)
    contents = ([read_batch(files, paths_root)] if files else []) if in_process \
        else stages.read_files(files, paths_root)
    received = stages.gather(contents, paths_root)
    return received, stages.validate(received, year, run_at or RUN_AT.replace(year=year + 1))


def outcome_of(received, name: str):
    return next(o for o in received.outcomes if o.source_file == name)


def issues_of(validated, source_file: str) -> pl.DataFrame:
    return validated.issues.filter(pl.col("source_file") == source_file)
