"""What must each centre correct, and what became of each received file?

Writes the feedback workbook of a run, one sheet per reader: « Anomalies », for the
centres, lists every error and warning by centre — who, which field, the value received
and what is expected come first, so the message shows without scrolling, and it prints on
A4 landscape; « Fichiers », for the data team, holds one outcome per received file
(encoding, checksum…). Values come from the centres' own files, so text that a
spreadsheet would take for a formula is written as neutralised text (`reports.cells`), and
the file is written inside its folder only (`observatoire.outputs`).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter

from observatoire.outputs import save_workbook
from observatoire.reports.layout import (HEADER_FILL, HEADER_FONT, print_on_a4_landscape, set_cell,
                                         wrapped_row_height)
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


def write_feedback_workbook(issues: pl.DataFrame, outcomes: pl.DataFrame, path: Path) -> Path:
    """Write the run's feedback workbook at `path` and return it."""
    path = Path(path)
    workbook = Workbook()
    anomalies = workbook.active
    anomalies.title = "Anomalies"
    ordered = issues
    sort_keys = [c for c in ("raison_sociale", "finess_et", "source_file", "submission_key", "severity", "sheet",
                             "location") if c in issues.columns]
    if sort_keys and not issues.is_empty():
        ordered = issues.sort(sort_keys, nulls_last=True)
    if "severity" in ordered.columns:
        ordered = ordered.with_columns(pl.col("severity").replace(SEVERITY_FR))
    _write_table(anomalies, ordered, ISSUE_COLUMNS, highlight=("severity", SEVERITY_FR["error"]), frozen="C2",
                 wrapped=WRAPPED)
    print_on_a4_landscape(anomalies, "Anomalies à corriger par centre")
    files = workbook.create_sheet("Fichiers")
    shown = outcomes.with_columns(
        pl.col("readable").replace_strict({True: "oui", False: "non"}, return_dtype=pl.String)
    ) if "readable" in outcomes.columns else outcomes
    _write_table(files, shown, OUTCOME_COLUMNS, highlight=("readable", "non"), frozen="B2", wrapped={"reason"})
    print_on_a4_landscape(files, "Fichiers reçus")
    return save_workbook(workbook, path.parent, path.name)


def _write_table(sheet, frame: pl.DataFrame, columns, highlight, frozen: str, wrapped: set[str]) -> None:
    present = [(name, header, width) for name, header, width in columns if name in frame.columns]
    sheet.append([header for _, header, _ in present])
    for cell in sheet[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    sheet.row_dimensions[1].height = wrapped_row_height([header for _, header, _ in present],
                                                        [width for _, _, width in present])
    flag_at = next((i for i, (name, _, _) in enumerate(present) if name == highlight[0]), None)
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    widths = [width for _, _, width in present]
    # rows numbered here: `sheet.max_row` scans every cell, once per row it was asked for
    for row, values in enumerate(frame.select([name for name, _, _ in present]).iter_rows(), start=2):
        for index, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=index)
            set_cell(cell, value)
            cell.alignment = wrap if present[index - 1][0] in wrapped else top
        sheet.row_dimensions[row].height = wrapped_row_height(
            [v if present[i][0] in wrapped else "" for i, v in enumerate(values)], widths)
        if flag_at is not None and values[flag_at] == highlight[1]:
            for index in range(1, len(present) + 1):
                sheet.cell(row=row, column=index).fill = _ERROR_FILL
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = frozen
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
