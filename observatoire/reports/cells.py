"""How a value reaches a workbook cell: the one path every workbook writer takes.

Text comes from the centres' files or from FINESS, so a spreadsheet must never read it as a
formula. OWASP's rule for CSV/formula injection: a text starting with `=`, `+`, `-`, `@`, a
tab or a carriage return gets a leading single quote, and the cell is stored as a string
(openpyxl would otherwise store any text starting with `=` as a formula). Real numbers
(a negative result, a count) and dates stay typed: only text is neutralised.
"""
from __future__ import annotations

import datetime as dt
import decimal

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel refuses to open a cell longer than this (it "repairs" the file by dropping it).
MAX_CELL_CHARS = 32767
_CUT_MARK = " […]"


def safe_text(value: str) -> str:
    """The text as it is stored: control characters that XML cannot hold are replaced
    (openpyxl would refuse the whole workbook), a formula-looking start is quoted."""
    text = ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
    if text.startswith(FORMULA_START):
        text = "'" + text
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS - len(_CUT_MARK)] + _CUT_MARK
    return text


def cell_value(value):
    """`value` as a cell stores it: text neutralised (`safe_text`), numbers, booleans and
    dates as such (an aware datetime in its own wall-clock time), anything else shown as
    neutralised text, None as None."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; values are Paris time
    if not isinstance(value, (bool, int, float, decimal.Decimal, dt.date, dt.time, dt.timedelta)):
        return safe_text(str(value))  # anything else (a list, an object) is shown, never interpreted
    return value


def set_value(cell, value) -> None:
    """Put `value` in `cell` (see `cell_value`): text as neutralised text, numbers and dates
    as such, None as an empty cell."""
    value = cell_value(value)
    if value is None:
        return
    cell.value = value
    if isinstance(value, str):
        cell.data_type = TYPE_STRING  # after the value: openpyxl's setter guesses 'f' from `=`


def write_row(sheet, row: int, values) -> None:
    """Write `values` on row `row` of `sheet` through `set_value` (rows are numbered by the
    caller: `sheet.max_row` scans every cell, and `sheet.append` would store formulas)."""
    for column, value in enumerate(values, start=1):
        set_value(sheet.cell(row=row, column=column), value)


def neutralised_text_columns(frame):
    """A Polars frame whose text columns follow `safe_text`'s quote rule, for a CSV a
    spreadsheet will open (OWASP's CSV injection is the same attack)."""
    import re

    import polars as pl

    starts = "^[" + re.escape("".join(FORMULA_START)) + "]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(starts)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items() if dtype == pl.String
    )
