"""What must each centre correct, and what became of each received file?

Writes the feedback workbook of a run: sheet « Anomalies » lists every error and warning
by centre and file, ready for the ARS to send back as is; sheet « Fichiers » holds one
outcome per received file. Values come from the centres' own files, so text that a
spreadsheet would take for a formula is written as neutralised text (`reports.cells`), and
the file is written inside its folder only (`observatoire.outputs`).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from observatoire.outputs import save_workbook
from observatoire.reports.cells import set_value
from observatoire.stages import outcomes_frame, unreadable_file_issues

# (column of the frame, French header); columns absent from a frame are left out.
ISSUE_COLUMNS = [
    ("source_file", "Fichier"), ("submission_key", "Envoi"), ("raison_sociale", "Centre"),
    ("finess_et", "N° FINESS ET déclaré"), ("severity", "Gravité"), ("sheet", "Feuille"),
    ("location", "Cellule ou ligne"), ("label", "Libellé"), ("value", "Valeur reçue"), ("message", "Anomalie"),
]
OUTCOME_COLUMNS = [
    ("source_file", "Fichier"), ("readable", "Lu"), ("reason", "Motif si illisible"),
    ("container", "Conteneur"), ("format", "Format"), ("encoding", "Encodage"), ("separator", "Séparateur"),
    ("template_version", "Version du modèle"), ("sheets", "Feuilles trouvées"), ("submissions", "Envois"),
    ("rows_in", "Lignes lues"), ("rows_set_aside", "Lignes écartées"), ("notes", "Remarques"),
    ("size_bytes", "Taille (octets)"), ("sha256", "Empreinte SHA-256"),
]
SEVERITY_FR = {"error": "bloquant", "warning": "avertissement"}
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_ERROR_FILL = PatternFill("solid", fgColor="F8CBAD")
_MAX_WIDTH = 80


def write_feedback_workbook(issues: pl.DataFrame, outcomes: pl.DataFrame, path: Path) -> Path:
    """Write the run's feedback workbook at `path` and return it."""
    path = Path(path)
    workbook = Workbook()
    anomalies = workbook.active
    anomalies.title = "Anomalies"
    ordered = issues
    sort_keys = [c for c in ("source_file", "submission_key", "severity", "sheet", "location") if c in issues.columns]
    if sort_keys and not issues.is_empty():
        ordered = issues.sort(sort_keys, nulls_last=True)
    if "severity" in ordered.columns:
        ordered = ordered.with_columns(pl.col("severity").replace(SEVERITY_FR))
    _write_table(anomalies, ordered, ISSUE_COLUMNS, highlight=("severity", SEVERITY_FR["error"]))
    files = workbook.create_sheet("Fichiers")
    shown = outcomes.with_columns(
        pl.col("readable").replace_strict({True: "oui", False: "non"}, return_dtype=pl.String)
    ) if "readable" in outcomes.columns else outcomes
    _write_table(files, shown, OUTCOME_COLUMNS, highlight=("readable", "non"))
    return save_workbook(workbook, path.parent, path.name)


def _write_table(sheet, frame: pl.DataFrame, columns, highlight) -> None:
    present = [(name, header) for name, header in columns if name in frame.columns]
    sheet.append([header for _, header in present])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    widths = [len(header) for _, header in present]
    flag_at = next((i for i, (name, _) in enumerate(present) if name == highlight[0]), None)
    # rows numbered here: `sheet.max_row` scans every cell, once per row it was asked for
    for row, values in enumerate(frame.select([name for name, _ in present]).iter_rows(), start=2):
        for index, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=index)
            set_value(cell, value)
            widths[index - 1] = max(widths[index - 1], min(len(str(value or "")), _MAX_WIDTH))
        if flag_at is not None and values[flag_at] == highlight[1]:
            for index in range(1, len(present) + 1):
                sheet.cell(row=row, column=index).fill = _ERROR_FILL
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    if present:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(present))}{max(sheet.max_row, 1)}"


def write_run_feedback(received, validated, path: Path) -> Path:
    """Stage helper: the feedback workbook of a run from `stages.gather` and `stages.validate`
    results (unreadable files appear in « Anomalies » too, as blocking)."""
    outcomes = outcomes_frame(received.outcomes, validated.rows_set_aside, validated.template_version)
    context = validated.typed.select("submission_key", "raison_sociale", "finess_et")
    issues = pl.concat([validated.issues.join(context, on="submission_key", how="left"),
                        unreadable_file_issues(outcomes)], how="diagonal_relaxed")
    return write_feedback_workbook(issues, outcomes, path)
