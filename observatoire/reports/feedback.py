"""What must each centre correct, and what became of each received file?

Writes the feedback workbook of a run, one sheet per reader: « Anomalies », for the
centres, lists every error and warning by centre — who, which field, the value received
and what is expected come first, so the message shows without scrolling, and it prints on
A4 landscape; « Fichiers », for the data team, holds one outcome per received file
(encoding, checksum…). Values come from the centres' own files, so text that a
spreadsheet would take for a formula is written as neutralised text (`reports.cells`), and
the file is written inside its folder only (`observatoire.outputs`).

`observatoire retours` writes, from the warehouse, one workbook per centre with that
centre's rows of the same sheet: what an ARS sends back to each centre.
"""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter

from observatoire.reports.layout import HEADER_STYLE, print_on_a4_landscape, wrapped_row_height
from observatoire.reports.rows import SheetRows, Style, save_with_rows
from observatoire.stages import outcomes_frame
from transforms.submissions import unreadable_file_issues
from observatoire.vocabulary import SEVERITY_LABELS

# (column of the frame, French header, width); columns absent from a frame are left out.
# The centre and what to correct first; where it is and the file's path last. The widths
# add up to about 1,250 px: the message shows whole on a 1600-px screen at 100 %.
ISSUE_COLUMNS = [
    ("raison_sociale", "Centre", 30), ("finess_et", "N° FINESS ET déclaré", 12), ("severity", "Gravité", 14),
    ("label", "Libellé", 30), ("value", "Valeur reçue", 20), ("message", "Anomalie (ce qui est attendu)", 60),
    ("sheet", "Feuille", 14), ("location", "Cellule ou ligne", 10), ("source_file", "Fichier", 40),
]
WRAPPED = {"raison_sociale", "label", "value", "message"}
OUTCOME_COLUMNS = [
    ("source_file", "Fichier", 40), ("readable", "Lu", 5), ("reason", "Motif si illisible", 50),
    ("container", "Conteneur", 12), ("format", "Format", 10), ("encoding", "Encodage", 12),
    ("separator", "Séparateur", 10), ("template_version", "Version du modèle", 10), ("sheets", "Feuilles trouvées", 30),
    ("submissions", "Envois", 8), ("rows_in", "Lignes lues", 8), ("rows_set_aside", "Lignes écartées", 9),
    ("notes", "Remarques", 40), ("size_bytes", "Taille (octets)", 12), ("sha256", "Empreinte SHA-256", 66),
]
SEVERITY_FR = SEVERITY_LABELS
_ERROR_FILL = PatternFill("solid", fgColor="F8CBAD")
_WRAP, _TOP = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
# by (wrapped column, blocking row)
_CELL_STYLES = {(wraps, flagged): Style(alignment=_WRAP if wraps else _TOP, **({"fill": _ERROR_FILL} if flagged else {}))
                for wraps in (True, False) for flagged in (True, False)}


def write_feedback_workbook(issues: pl.DataFrame, outcomes: pl.DataFrame, path: Path) -> Path:
    """Write the run's feedback workbook at `path` and return it."""
    path = Path(path)
    workbook = Workbook()
    anomalies = workbook.active
    anomalies.title = "Anomalies"
    tables = [_anomalies_sheet(anomalies, issues, "Anomalies à corriger par centre")]
    files = workbook.create_sheet("Fichiers")
    shown = outcomes.with_columns(
        pl.col("readable").replace_strict({True: "oui", False: "non"}, return_dtype=pl.String)
    ) if "readable" in outcomes.columns else outcomes
    tables.append(_write_table(files, shown, OUTCOME_COLUMNS, highlight=("readable", "non"), frozen="B2",
                               wrapped={"reason"}))
    print_on_a4_landscape(files, "Fichiers reçus")
    return save_with_rows(workbook, tables, path.parent, path.name)


def _anomalies_sheet(sheet, issues: pl.DataFrame, title: str) -> SheetRows:
    """The centres' sheet: by centre and file, severity in words, blocking rows coloured,
    panes frozen on the centre, printed on A4 landscape under `title`."""
    ordered = issues
    sort_keys = [c for c in ("raison_sociale", "finess_et", "source_file", "submission_key", "severity", "sheet",
                             "location") if c in issues.columns]
    if sort_keys and not issues.is_empty():
        ordered = issues.sort(sort_keys, nulls_last=True)
    if "severity" in ordered.columns:
        ordered = ordered.with_columns(pl.col("severity").replace(SEVERITY_FR))
    table = _write_table(sheet, ordered, ISSUE_COLUMNS, highlight=("severity", SEVERITY_FR["error"]), frozen="C2",
                         wrapped=WRAPPED)
    print_on_a4_landscape(sheet, title)
    return table


def _write_table(sheet, frame: pl.DataFrame, columns, highlight, frozen: str, wrapped: set[str]) -> SheetRows:
    present = [(name, header, width) for name, header, width in columns if name in frame.columns]
    widths = [width for _, _, width in present]
    table = SheetRows(sheet)
    headers = [header for _, header, _ in present]
    table.append(headers, HEADER_STYLE, wrapped_row_height(headers, widths))
    flag_at = next((i for i, (name, _, _) in enumerate(present) if name == highlight[0]), None)
    wrapped_at = [name in wrapped for name, _, _ in present]
    plain = [_CELL_STYLES[wraps, False] for wraps in wrapped_at]
    flagged = [_CELL_STYLES[wraps, True] for wraps in wrapped_at]
    for values in frame.select([name for name, _, _ in present]).iter_rows():
        styles = flagged if flag_at is not None and values[flag_at] == highlight[1] else plain
        table.append(values, styles, wrapped_row_height([v if wrapped_at[i] else "" for i, v in enumerate(values)],
                                                        widths))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = frozen
    if present:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(present))}{max(table.max_row, 1)}"
    return table


def write_run_feedback(received, validated, path: Path) -> Path:
    """Stage helper: the feedback workbook of a run from `stages.gather` and `stages.validate`
    results (unreadable files appear in « Anomalies » too, as blocking)."""
    outcomes = outcomes_frame(received.outcomes, validated.rows_set_aside, validated.template_version)
    context = validated.typed.select("submission_key", "raison_sociale", "finess_et")
    issues = pl.concat([validated.issues.join(context, on="submission_key", how="left"),
                        unreadable_file_issues(outcomes)], how="diagonal_relaxed")
    return write_feedback_workbook(issues, outcomes, path)


# ------------------------------------------------------------------ one workbook per centre
CENTRE_FOLDER = "retours-par-centre"
_CENTRE_ISSUES_SQL = """
SELECT s.finess_et AS centre_et, c.raison_sociale AS centre_name, c.status AS centre_status, s.is_current,
       s.raison_sociale,
       s.declared_finess_et AS finess_et, i.severity, i.label, i.value, i.message, i.sheet, i.location,
       i.source_file, i.submission_id AS submission_key, i.region_code
FROM submission_issue i
JOIN submission s ON s.submission_id = i.submission_id
LEFT JOIN centre_year_status c ON c.campaign_year = i.campaign_year AND c.finess_et = s.finess_et
     AND c.status <> 'unexpected'
WHERE i.campaign_year = :year
"""


def centre_file_name(finess_et: str, name: str | None) -> str:
    """`<FINESS>-<name>.xlsx`, in letters, digits and dashes only (no accent, slash, quote
    or space: the file goes by mail and through every file system), at most 80 characters."""
    def slug(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text.replace(".", "")).encode("ascii", "ignore").decode("ascii")
        return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    number = re.sub(r"[^0-9A-Z]", "", finess_et.upper())  # 2A…, 2B… stay as FINESS writes them
    stem = "-".join(part for part in (number, slug(name or "")) if part)[:75].rstrip("-")
    return f"{stem or 'centre'}.xlsx"


def centre_issues(issues: pl.DataFrame) -> pl.DataFrame:
    """What each expected centre is sent back: the anomalies of its current report when it
    has a valid one (the errors of an earlier version are corrected by it), else those of
    all its reports (its status says which). `issues`: as `_CENTRE_ISSUES_SQL` reads them; rows of a submission
    matched to no expected centre (`centre_name` null) are not any centre's."""
    mine = issues.filter(pl.col("centre_et").is_not_null() & pl.col("centre_name").is_not_null())
    has_valid_report = pl.col("centre_status").is_in(["on_time", "late"])
    return mine.filter(~has_valid_report | pl.col("is_current").fill_null(False))


def write_centre_feedback_workbooks(issues: pl.DataFrame, folder: Path, year: int) -> list[Path]:
    """One workbook per centre in `folder`/retours-par-centre, with the centres' sheet of the
    campaign's feedback workbook holding that centre's anomalies only (`centre_issues`)."""
    paths = []
    for (centre_et, centre_name), rows in centre_issues(issues).group_by(["centre_et", "centre_name"],
                                                                       maintain_order=True):
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Anomalies"
        table = _anomalies_sheet(sheet, rows.drop("centre_et", "centre_name", "centre_status", "is_current",
                                                  "region_code"),
                                 f"Anomalies à corriger, campagne {year} : {centre_name} (FINESS {centre_et})")
        paths.append(save_with_rows(workbook, [table], folder,
                                   f"{CENTRE_FOLDER}/{centre_file_name(centre_et, centre_name)}"))
    return sorted(paths)


_CENTRE_FILE = re.compile(r"^[0-9A-Z]{9}(-[a-z0-9-]+)?\.xlsx$")


def remove_stale_centre_workbooks(folder: Path, kept: list[Path]) -> list[str]:
    """The workbooks of an earlier pass in `folder`/retours-par-centre that this pass did not
    rewrite (centres with nothing left to correct), removed so that none is sent by
    mistake; the names removed. Only names this module writes; the folder is opened without
    following a link."""
    try:
        descriptor = os.open(Path(folder) / CENTRE_FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    try:
        keep = {path.name for path in kept}
        stale = sorted(name for name in os.listdir(descriptor) if _CENTRE_FILE.match(name) and name not in keep)
        for name in stale:
            os.unlink(name, dir_fd=descriptor)  # a link is removed itself, never what it points to
    finally:
        os.close(descriptor)
    return stale


def read_centre_issues(engine, year: int, regions: list[str] | None) -> tuple[pl.DataFrame, int]:
    """The campaign's anomalies with their submission's centre (see `centre_issues`) and the
    count of all its anomalies (unreadable files and unmatched submissions included)."""
    import sqlalchemy as sa

    where, params = "", {"year": year}
    if regions:
        where = " AND i.region_code IN :regions"
        params["regions"] = list(regions)
    statement = sa.text(_CENTRE_ISSUES_SQL + where)
    count = sa.text("SELECT count(*) FROM submission_issue i WHERE i.campaign_year = :year" + where)
    if regions:
        statement = statement.bindparams(sa.bindparam("regions", expanding=True))
        count = count.bindparams(sa.bindparam("regions", expanding=True))
    with engine.connect() as connection:
        result = connection.execute(statement, params)
        columns = list(result.keys())
        at = columns.index("is_current")  # 0/1 in SQLite, a boolean in PostgreSQL
        rows = [tuple(bool(v) if i == at and v is not None else v for i, v in enumerate(r)) for r in result]
        total = connection.execute(count, params).scalar_one()
    schema = {c: pl.Boolean if c == "is_current" else pl.String for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row"), total


def retours_main(argv: list[str] | None = None) -> int:
    """`observatoire retours`: one feedback workbook per centre, from the warehouse."""
    import argparse

    from observatoire.reports import campaign_options, on_existing_warehouse

    parser = argparse.ArgumentParser(
        prog="observatoire retours",
        description="Un classeur de retour par centre (ses seules anomalies, à lui envoyer), depuis l'entrepôt : "
                    f"dossier {CENTRE_FOLDER}/ du dossier des classeurs de la campagne.")
    campaign_options(parser)
    parser.add_argument("--out", default="rapports/{annee}",
                        help="dossier des classeurs de la campagne (défaut : rapports/{annee}, comme observatoire "
                             f"run) ; les classeurs vont dans son sous-dossier {CENTRE_FOLDER}/")
    args = parser.parse_args(argv)
    out = Path(args.out.replace("{annee}", str(args.year)))

    def work(engine):
        issues, total = read_centre_issues(engine, args.year, args.regions)
        paths = write_centre_feedback_workbooks(issues, out, args.year)
        # a whole campaign: a centre absent now has nothing left to correct (a region limited
        # run leaves the other regions' workbooks as they are)
        return issues, total, paths, [] if args.regions else remove_stale_centre_workbooks(out, paths)

    done = on_existing_warehouse("observatoire retours", args.warehouse, work)
    if done is None:
        return 2
    issues, total, paths, removed = done
    sent = centre_issues(issues).height
    print(f"{len(paths)} classeur(s) de retour par centre écrit(s) dans {out / CENTRE_FOLDER} "
          f"({sent} anomalie(s) sur {total} pour la campagne {args.year}).")
    if removed:
        print(f"{len(removed)} classeur(s) d'un passage précédent retiré(s) (centres sans anomalie désormais) : "
              f"{', '.join(removed[:5])}{' …' if len(removed) > 5 else ''}")
    if total > sent:
        print(f"Les {total - sent} autre(s) (fichiers illisibles, envois rapprochés d'aucun centre attendu, "
              "versions corrigées depuis) restent dans le classeur de retour de la campagne.")
    return 0
