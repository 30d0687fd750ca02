"""Which centres must an ARS correspondent chase this week, and how does each département
compare, and what did the region's centres change without telling? One styled workbook per
region, from the warehouse views `v_relance`, `v_conformite_departement` and
`v_changements` (sql/DICTIONARY.md).

`observatoire relance --year N [--region R]... [--warehouse URL] [--out DIR]`
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError

PARIS = ZoneInfo("Europe/Paris")
STATUS_LABELS = {"missing": "manquant", "invalid": "invalide", "late": "en retard"}
# Most urgent first: nothing received, then errors to correct, then late but done.
STATUS_ORDER = {"missing": 0, "invalid": 1, "late": 2}
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
STATUS_FILLS = {"missing": "F8CBAD", "invalid": "FFE699", "late": "DDEBF7"}

CHASE_COLUMNS = [  # (header, width)
    ("Département", 13), ("N° FINESS ET", 14), ("Raison sociale", 42), ("Statut", 12), ("Motif", 46),
    ("Téléphone (FINESS)", 18), ("Courriel (dernier envoi)", 32), ("Date limite", 12), ("Jours de retard", 15),
    ("Envois reçus", 13), ("Erreurs du dernier envoi", 22), ("Détail", 70),
]
CHANGE_COLUMNS = [
    ("Département", 13), ("N° FINESS ET", 14), ("Raison sociale", 42), ("Nature", 18), ("Comparé à", 18),
    ("Avant / FINESS", 28), ("Déclaré", 28), ("Message", 90),
]
CHANGES_SHEET = "Changements à signaler"
RATE_COLUMNS = [
    ("Département", 13), ("Centres attendus", 16), ("À l'heure", 11), ("En retard", 11), ("Invalides", 11),
    ("Manquants", 11), ("Antennes couvertes", 18), ("Taux de conformité (%)", 22), ("Taux dans les délais (%)", 23),
    ("Retard moyen (jours)", 20),
]


def write_relance_workbooks(engine: Engine, year: int, regions: list[str] | None, out_dir: Path,
                            today: dt.date | None = None) -> list[Path]:
    """Write `relance_<year>_region_<R>.xlsx` for each region (every region of the campaign
    when `regions` is None) into `out_dir`; returns the paths. `today` (Paris date, default
    now) counts the days late of centres that have sent nothing valid yet."""
    today = today or dt.datetime.now(PARIS).date()
    with engine.connect() as connection:
        known = set(connection.execute(
            sa.text("SELECT DISTINCT region_code FROM centre_year_status "
                    "WHERE campaign_year = :y AND region_code IS NOT NULL"), {"y": year}).scalars())
        wanted = sorted(known) if regions is None else list(dict.fromkeys(regions))
        absent = [code for code in wanted if code not in known]
        if not known or absent:
            raise CampaignError(
                f"Aucun statut dans l'entrepôt pour la campagne {year}"
                + (f" et la (les) région(s) {', '.join(absent)}" if known else "")
                + " : lancer d'abord `observatoire run`."
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for region in wanted:
            chase = connection.execute(sa.text(
                "SELECT departement, finess_et, raison_sociale, status, chase_reason, telephone, email, deadline, "
                "days_late, submissions_received, latest_submission_errors, status_reason "
                "FROM v_relance WHERE campaign_year = :y AND region_code = :r"), {"y": year, "r": region}).all()
            rates = connection.execute(sa.text(
                "SELECT departement, n_expected, n_on_time, n_late, n_invalid, n_missing, n_covered, "
                "compliance_rate_pct, on_time_rate_pct, avg_days_late FROM v_conformite_departement "
                "WHERE campaign_year = :y AND region_code = :r AND n_expected > 0 ORDER BY departement"),
                {"y": year, "r": region}).all()
            changes = connection.execute(sa.text(
                "SELECT departement, finess_et, raison_sociale, kind_label, source_label, previous_value, new_value, "
                "message FROM v_changements WHERE campaign_year = :y AND region_code = :r "
                "ORDER BY departement, finess_et, kind, source, field, previous_value, new_value"),
                {"y": year, "r": region}).all()
            path = out_dir / f"relance_{year}_region_{region}.xlsx"
            _workbook(year, region, chase, rates, today, changes).save(path)
            paths.append(path)
    return paths


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite returns ISO text


def days_late(status: str, deadline: dt.date | None, recorded: int | None, today: dt.date) -> int:
    """A late centre's delay is recorded; a centre with nothing valid yet is late by the days
    since its date limite (0 before it)."""
    if status == "late":
        return int(recorded or 0)
    return max((today - deadline).days, 0) if deadline else 0


def _workbook(year: int, region: str, chase, rates, today: dt.date, changes=()) -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.title = "À relancer"
    _header(sheet, CHASE_COLUMNS)
    rows = sorted(chase, key=lambda r: (r.departement or "", STATUS_ORDER[r.status], r.raison_sociale or ""))
    fills = {status: PatternFill("solid", fgColor=colour) for status, colour in STATUS_FILLS.items()}
    for number, row in enumerate(rows, start=2):  # `sheet.max_row` would scan every cell per row
        deadline = _as_date(row.deadline)
        sheet.append([
            row.departement, row.finess_et, row.raison_sociale, STATUS_LABELS[row.status], row.chase_reason,
            row.telephone, row.email, deadline, days_late(row.status, deadline, row.days_late, today),
            row.submissions_received, row.latest_submission_errors, row.status_reason,
        ])
        sheet.cell(number, 4).fill = fills[row.status]
        sheet.cell(number, 8).number_format = "DD/MM/YYYY"
    if not rows:
        sheet.append([f"Aucun centre à relancer pour la campagne {year} en région {region}."])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(CHASE_COLUMNS))}{max(sheet.max_row, 2)}"

    summary = book.create_sheet("Taux par département")
    _header(summary, RATE_COLUMNS)
    for row in rates:
        summary.append(list(row))
    summary.freeze_panes = "A2"
    summary.auto_filter.ref = f"A1:{get_column_letter(len(RATE_COLUMNS))}{max(summary.max_row, 2)}"
    if rates:
        chart = BarChart()
        chart.type = "col"
        chart.title = f"Taux de conformité par département — campagne {year}, région {region}"
        chart.y_axis.title = "%"
        chart.x_axis.title = "Département"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.add_data(Reference(summary, min_col=8, min_row=1, max_row=len(rates) + 1), titles_from_data=True)
        chart.set_categories(Reference(summary, min_col=1, min_row=2, max_row=len(rates) + 1))
        chart.width, chart.height = 24, 12
        summary.add_chart(chart, f"A{len(rates) + 4}")
    _changes_sheet(book, year, region, changes)
    book.properties.title = f"Relance campagne {year} — région {region}"
    return book


def _changes_sheet(book: Workbook, year: int, region: str, changes) -> None:
    """What the region's centres changed without telling, or declare unlike FINESS: one row
    per change (`v_changements`), for the agent to ask the centre or correct FINESS."""
    sheet = book.create_sheet(CHANGES_SHEET)
    _header(sheet, CHANGE_COLUMNS)
    for row in changes:
        sheet.append(list(row))
    if not changes:
        sheet.append([f"Aucun changement ni écart avec FINESS relevé pour la campagne {year} en région {region}."])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(CHANGE_COLUMNS))}{max(sheet.max_row, 2)}"


def _header(sheet, columns) -> None:
    sheet.append([title for title, _ in columns])
    for index, (_, width) in enumerate(columns, start=1):
        cell = sheet.cell(1, index)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.column_dimensions[get_column_letter(index)].width = width


def relance_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="observatoire relance",
        description="Classeurs de relance par région pour les correspondants ARS (centres manquants, "
                    "invalides ou en retard ; taux par département).")
    parser.add_argument("--year", type=int, required=True, help="année d'exercice N de la campagne")
    parser.add_argument("--region", action="append", dest="regions",
                        help="code région COG (répétable ; défaut : toutes les régions de la campagne)")
    parser.add_argument("--warehouse", help="URL SQLAlchemy de l'entrepôt (défaut : sqlite:///warehouse.db)")
    parser.add_argument("--out", default="relance", help="dossier de sortie (défaut : relance)")
    args = parser.parse_args(argv)

    from observatoire import warehouse

    try:
        engine = warehouse.connect(args.warehouse)
        paths = write_relance_workbooks(engine, args.year, args.regions, Path(args.out))
    except CampaignError as exc:
        print(f"observatoire relance : {exc}", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as exc:  # e.g. a warehouse created before the views existed
        print(f"observatoire relance : entrepôt illisible ({exc.orig}) ; relancer `observatoire run`.",
              file=sys.stderr)
        return 2
    for path in paths:
        print(f"Classeur de relance écrit : {path}")
    return 0


if __name__ == "__main__":
    sys.exit(relance_main(sys.argv[1:]))
