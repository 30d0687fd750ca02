"""Which centres must an ARS correspondent chase this week, what must each one correct,
how does each département compare, and what did the region's centres change without
telling? One styled workbook per region, from the warehouse views `v_relance`,
`v_conformite_departement` and `v_changements` (sql/DICTIONARY.md) and the blocking errors
of `submission_issue`.

The correspondent logs calls in the workbook (« Appelé le », « Par », « Résultat »,
« Commentaire »): rewriting it for the same campaign keeps what was typed there.

`observatoire relance --year N [--region R]... [--warehouse URL] [--out DIR]`
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import namedtuple
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError
from observatoire.readers.reference_data import departement_regions
from observatoire.reports import campaign_options, on_existing_warehouse
from observatoire.reports.layout import HEADER_STYLE, print_on_a4_landscape, wrapped_row_height
from observatoire.reports.rows import SheetRows, Style, save_with_rows
from observatoire.vocabulary import CHASE_ORDER, STATUS_COLOURS, STATUS_LABELS
from transforms.campaign_calendar import campaign_deadline, campaign_title, days_since_deadline

PARIS = ZoneInfo("Europe/Paris")
_TOP = {wraps: Alignment(wrap_text=wraps, vertical="top") for wraps in (False, True)}
_TEXT = {wraps: Style(alignment=_TOP[wraps]) for wraps in (False, True)}
_DATE = {wraps: Style(alignment=_TOP[wraps], number_format="DD/MM/YYYY") for wraps in (False, True)}
_STATUS = {status: Style(alignment=_TOP[False], fill=PatternFill("solid", fgColor=STATUS_COLOURS[status]))
           for status in CHASE_ORDER}  # « Statut » is not a wrapped column
ERRORS_IN_ROW = 3  # blocking errors spelt out in a centre's row; all of them in « Erreurs à corriger »

CALL_LOG = [("Appelé le", 10), ("Par", 10), ("Résultat", 16), ("Commentaire", 24)]
CHASE_COLUMNS = [  # (header, width): about 265 characters up to the call log, printed on one A4 width
    ("Département", 14), ("N° FINESS ET", 11), ("Raison sociale", 28), ("Statut", 10), ("Motif", 22),
    ("Erreurs bloquantes du dernier envoi", 45), ("Téléphone (FINESS)", 12), ("Courriel (dernier envoi)", 40),
    ("Date limite", 10), ("Jours de retard", 7), ("Jours depuis la date limite", 8), ("Envois reçus", 7),
    *CALL_LOG, ("Détail", 40),
]
WRAPPED = {"Raison sociale", "Motif", "Erreurs bloquantes du dernier envoi", "Courriel (dernier envoi)",
           "Résultat", "Commentaire", "Détail", "Département"}
ERROR_COLUMNS = [
    ("Département", 18), ("N° FINESS ET", 11), ("Raison sociale", 30), ("Feuille", 13), ("Cellule ou ligne", 10),
    ("Libellé", 30), ("Valeur reçue", 20), ("Anomalie (ce qui est attendu)", 60), ("Fichier", 40),
]
CHANGE_COLUMNS = [
    ("Département", 18), ("N° FINESS ET", 11), ("Raison sociale", 30), ("Nature", 14), ("Comparé à", 12),
    ("Avant / FINESS", 24), ("Déclaré", 24), ("Message (à vérifier avec le centre, ou à corriger dans FINESS)", 70),
]
CHANGES_SHEET = "Changements à signaler"
RATE_COLUMNS = [
    ("Département", 22), ("Centres attendus", 10), ("À l'heure", 9), ("En retard", 9), ("Invalides", 9),
    ("Manquants", 10), ("Antennes couvertes", 10), ("Taux de conformité (%)", 12), ("Taux dans les délais (%)", 12),
    ("Retard moyen (jours)", 10),
]


def write_relance_workbooks(engine: Engine, year: int, regions: list[str] | None, out_dir: Path,
                            today: dt.date | None = None) -> list[Path]:
    """Write `relance_<year>_region_<R>.xlsx` for each region (every region of the campaign
    when `regions` is None) into `out_dir`; returns the paths. `today` (Paris date, default
    now) counts the days since the date limite of centres that have sent nothing valid yet.
    Calls logged in a previous workbook of the same campaign and region are kept."""
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
        # each view read once for all the regions wanted, not once per region: SQLite
        # evaluates a view whole whatever the region asked
        def read(sql: str) -> dict[str, list]:
            return _by_region(connection, sql, year, wanted)

        chases = read(
            "SELECT region_code, departement, finess_et, raison_sociale, status, chase_reason, telephone, email, "
            "deadline, days_late, submissions_received, latest_submission_errors, status_reason, "
            "latest_submission_id FROM v_relance WHERE campaign_year = :y AND region_code IN :regions")
        all_errors = read(
            "SELECT r.region_code, r.finess_et, i.sheet, i.location, i.label, i.value, i.message, i.source_file "
            "FROM v_relance r JOIN submission_issue i ON i.submission_id = r.latest_submission_id "
            "WHERE r.campaign_year = :y AND r.region_code IN :regions AND r.status = 'invalid' "
            "AND i.severity = 'error' ORDER BY r.finess_et, i.sheet, i.location, i.issue_id")
        all_rates = read(
            "SELECT region_code, departement, n_expected, n_on_time, n_late, n_invalid, n_missing, n_covered, "
            "compliance_rate_pct, on_time_rate_pct, avg_days_late FROM v_conformite_departement "
            "WHERE campaign_year = :y AND region_code IN :regions AND n_expected > 0 ORDER BY departement")
        all_changes = read(
            "SELECT region_code, departement, finess_et, raison_sociale, kind_label, source_label, previous_value, "
            "new_value, message FROM v_changements WHERE campaign_year = :y AND region_code IN :regions "
            "ORDER BY departement, finess_et, kind, source, field, previous_value, new_value")
        # the campaign's date limite, as the whole campaign's statuses show it (a calendar may move it)
        title = campaign_title(year, campaign_deadline(_as_date(day) for day in connection.execute(sa.text(
            "SELECT DISTINCT deadline FROM centre_year_status WHERE campaign_year = :y"), {"y": year}).scalars()))
        paths = []
        for region in wanted:
            chase, errors = chases.get(region, []), all_errors.get(region, [])
            rates, changes = all_rates.get(region, []), all_changes.get(region, [])
            path = out_dir / f"relance_{year}_region_{region}.xlsx"
            calls = previous_call_log(path)
            # every value from FINESS, a submission or the earlier workbook goes through
            # `cells`, the file through `outputs` (inside out_dir, never through a link)
            book, tables = _workbook(year, title, region, chase, errors, rates, today, calls)
            tables.append(_changes_sheet(book, year, title, region, changes))
            paths.append(save_with_rows(book, tables, out_dir, path.name))
    return paths


def _by_region(connection, sql: str, year: int, regions: list[str]) -> dict[str, list]:
    """The rows of `sql` (first column: the region) by region, in the order read, each
    without its region: a named tuple of the other columns."""
    statement = sa.text(sql).bindparams(sa.bindparam("regions", expanding=True))
    result = connection.execute(statement, {"y": year, "regions": regions})
    row_type = namedtuple("Row", list(result.keys())[1:])
    by_region: dict[str, list] = {}
    for region, *values in result:
        by_region.setdefault(region, []).append(row_type(*values))
    return by_region


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite returns ISO text


def previous_call_log(path: Path) -> dict[str, list]:
    """The calls typed into an earlier workbook of the same campaign and region, by FINESS
    ET (empty when there is none, or it cannot be read)."""
    if path.is_symlink() or not path.exists():  # a link planted there is replaced, never read
        return {}
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # a damaged or locked file: nothing to keep, never a failed relance
        return {}
    calls: dict[str, list] = {}
    try:
        for name in ("À relancer", "Appels antérieurs"):
            if name not in book.sheetnames:
                continue
            rows = book[name].iter_rows(values_only=True)
            header = list(next(rows, []))
            if "N° FINESS ET" not in header:
                continue
            at = [header.index(title) if title in header else None for title, _ in CALL_LOG]
            finess_at = header.index("N° FINESS ET")
            name_at = header.index("Raison sociale") if "Raison sociale" in header else None
            for row in rows:
                values = [row[i] if i is not None and i < len(row) else None for i in at]
                if row[finess_at] and any(v not in (None, "") for v in values):
                    calls[str(row[finess_at])] = [row[name_at] if name_at is not None else None, *values]
    finally:
        book.close()
    return calls


def _departement_names() -> dict[str, str]:
    frame = departement_regions()
    return dict(zip(frame["code_departement"], frame["nom_departement"]))


def _region_name(region: str) -> str:
    frame = departement_regions()
    names = dict(zip(frame["code_region"], frame["nom_region"]))
    return f"{region} {names[region]}" if region in names else region


def _workbook(year: int, title: str, region: str, chase, errors, rates, today: dt.date,
              calls: dict[str, list]) -> tuple[Workbook, list[SheetRows]]:
    names = _departement_names()
    named = lambda code: f"{code} {names[code]}" if code in names else code  # noqa: E731
    region_title = _region_name(region)
    book = Workbook()
    sheet = book.active
    sheet.title = "À relancer"
    table = _header(sheet, CHASE_COLUMNS)
    by_centre: dict[str, list] = {}
    for error in errors:
        by_centre.setdefault(error.finess_et, []).append(error)
    rows = sorted(chase, key=lambda r: (r.departement or "", CHASE_ORDER[r.status], r.raison_sociale or ""))
    widths = [width for _, width in CHASE_COLUMNS]
    wrapped_at = [title in WRAPPED for title, _ in CHASE_COLUMNS]
    # « Statut » (4) coloured by status, « Date limite » (9) and « Appelé le » (13) dates
    styles = [_DATE[wraps] if column in (9, 13) else _TEXT[wraps] for column, wraps in enumerate(wrapped_at, start=1)]
    for row in rows:
        deadline = _as_date(row.deadline)
        logged = calls.pop(row.finess_et, [None] * (len(CALL_LOG) + 1))[1:]
        values = [
            named(row.departement), row.finess_et, row.raison_sociale, STATUS_LABELS[row.status], row.chase_reason,
            _errors_text(by_centre.get(row.finess_et, []), row.latest_submission_errors if row.status == "invalid"
                         else None),
            row.telephone, row.email, deadline, row.days_late if row.status == "late" else None,
            days_since_deadline(row.status, deadline, today), row.submissions_received, *logged, row.status_reason,
        ]
        styles[3] = _STATUS[row.status]
        table.append(values, styles, wrapped_row_height([v if wrapped_at[i] else "" for i, v in enumerate(values)],
                                                        widths))  # styles: read now, not kept
    if not rows:
        table.append([f"Aucun centre à relancer pour la campagne {year} en région {region_title}."])
    sheet.freeze_panes = "D2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(CHASE_COLUMNS))}{max(table.max_row, 2)}"
    print_on_a4_landscape(sheet, f"{title} — {region_title} — centres à relancer")
    # « Détail » repeats the status in words: on screen, not on paper
    sheet.print_area = f"A1:{get_column_letter(len(CHASE_COLUMNS) - 1)}{max(table.max_row, 2)}"
    tables = [table]

    detail = book.create_sheet("Erreurs à corriger")
    table = _header(detail, ERROR_COLUMNS)
    centres = {row.finess_et: row for row in rows}
    error_widths = [width for _, width in ERROR_COLUMNS]
    error_styles = [_TEXT[column in (3, 6, 7, 8)] for column in range(1, len(ERROR_COLUMNS) + 1)]
    for error in errors:
        centre = centres.get(error.finess_et)
        values = [named(centre.departement) if centre else None, error.finess_et,
                  centre.raison_sociale if centre else None, error.sheet, error.location, error.label, error.value,
                  error.message, error.source_file]
        table.append(values, error_styles, wrapped_row_height(
            [v if c in (2, 5, 6, 7) else "" for c, v in enumerate(values)], error_widths))
    if not errors:
        table.append(["Aucun centre invalide : pas d'erreur bloquante à faire corriger."])
    detail.freeze_panes = "D2"
    detail.auto_filter.ref = f"A1:{get_column_letter(len(ERROR_COLUMNS))}{max(table.max_row, 2)}"
    print_on_a4_landscape(detail, f"{title} — {region_title} — erreurs bloquantes à corriger")
    tables.append(table)

    if calls:  # calls logged for centres that need no chase any more: kept, not lost
        archive = book.create_sheet("Appels antérieurs")
        table = _header(archive, [("N° FINESS ET", 11), ("Raison sociale", 34), *CALL_LOG])
        for finess, (name, *logged) in sorted(calls.items()):
            table.append([finess, name, *logged])
        archive.freeze_panes = "A2"
        print_on_a4_landscape(archive, f"{title} — {region_title} — appels antérieurs")
        tables.append(table)

    summary = book.create_sheet("Taux par département")
    table = _header(summary, RATE_COLUMNS)
    for row in rates:
        table.append([named(row[0]), *row[1:]])
    summary.freeze_panes = "B2"
    summary.auto_filter.ref = f"A1:{get_column_letter(len(RATE_COLUMNS))}{max(table.max_row, 2)}"
    tables.append(table)
    print_on_a4_landscape(summary, f"{title} — {region_title} — taux par département")
    if rates:
        chart = BarChart()
        chart.type = "col"
        chart.title = f"Taux de conformité par département — campagne {year}, {region_title}"
        chart.y_axis.title = "%"
        chart.x_axis.title = "Département"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.add_data(Reference(summary, min_col=8, min_row=1, max_row=len(rates) + 1), titles_from_data=True)
        chart.set_categories(Reference(summary, min_col=1, min_row=2, max_row=len(rates) + 1))
        chart.width, chart.height = 24, 12
        summary.add_chart(chart, f"A{len(rates) + 4}")
    book.properties.title = f"Relance {title} — région {region_title}"
    return book, tables


def _changes_sheet(book: Workbook, year: int, title: str, region: str, changes) -> SheetRows:
    """What the region's centres changed without telling, or declare unlike FINESS: one row
    per change (`v_changements`), for the agent to ask the centre or correct FINESS."""
    names = _departement_names()
    region_title = _region_name(region)
    sheet = book.create_sheet(CHANGES_SHEET, index=2)  # after the chase and its errors
    table = _header(sheet, CHANGE_COLUMNS)
    widths = [width for _, width in CHANGE_COLUMNS]
    styles = [_TEXT[column in (1, 3, 6, 7, 8)] for column in range(1, len(CHANGE_COLUMNS) + 1)]
    for row in changes:
        values = [f"{row.departement} {names[row.departement]}" if row.departement in names else row.departement,
                  *row[1:]]
        table.append(values, styles, wrapped_row_height(values, widths))
    if not changes:
        table.append([f"Aucun changement ni écart avec FINESS relevé pour la campagne {year} en région "
                      f"{region_title}."])
    sheet.freeze_panes = "D2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(CHANGE_COLUMNS))}{max(table.max_row, 2)}"
    print_on_a4_landscape(sheet, f"{title} — {region_title} — changements à signaler")
    return table


def _errors_text(errors: list, count: int | None) -> str | None:
    """The first blocking errors of an invalid centre's latest submission, each with its
    label, the value received and what is expected."""
    if not errors:
        return f"{count} erreur(s) : voir « Erreurs à corriger »" if count else None
    lines = []
    for error in errors[:ERRORS_IN_ROW]:
        received = f" « {error.value} »" if error.value not in (None, "") else " (vide)"
        lines.append(f"• {error.label or error.sheet}{received} : {error.message}")
    if len(errors) > ERRORS_IN_ROW:
        lines.append(f"… et {len(errors) - ERRORS_IN_ROW} autre(s) : feuille « Erreurs à corriger »")
    return "\n".join(lines)


def _header(sheet, columns) -> SheetRows:
    """The sheet's rows, from its styled header row; the column widths."""
    table = SheetRows(sheet)
    titles = [title for title, _ in columns]
    table.append(titles, HEADER_STYLE, wrapped_row_height(titles, [w for _, w in columns]))
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    return table


def relance_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="observatoire relance",
        description="Classeurs de relance par région pour les correspondants ARS (centres manquants, "
                    "invalides ou en retard ; taux par département).")
    campaign_options(parser)
    # the same folder as `observatoire run --output-dir`: one place for a campaign's workbooks
    parser.add_argument("--out", default="rapports/{annee}",
                        help="dossier de sortie (défaut : rapports/{annee}, comme observatoire run)")
    args = parser.parse_args(argv)
    args.out = args.out.replace("{annee}", str(args.year))

    paths = on_existing_warehouse("observatoire relance", args.warehouse, lambda engine: write_relance_workbooks(
        engine, args.year, args.regions, Path(args.out)))
    if paths is None:
        return 2
    for path in paths:
        print(f"Classeur de relance écrit : {path}")
    return 0


if __name__ == "__main__":
    sys.exit(relance_main(sys.argv[1:]))
