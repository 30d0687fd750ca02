"""Rows written by `reports.rows` are the cells openpyxl writes for the same values and
styles: the same sheet XML, the same style list, whatever the value's type."""
from __future__ import annotations

import datetime as dt
import decimal
import zipfile
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from observatoire.reports.cells import set_value
from observatoire.reports.rows import SheetRows, Style, save_with_rows

HEADER = Style(fill=PatternFill("solid", fgColor="1F4E78"), font=Font(bold=True, color="FFFFFF"),
               alignment=Alignment(wrap_text=True, vertical="center"))
WRAP = Style(alignment=Alignment(wrap_text=True, vertical="top"))
TOP = Style(alignment=Alignment(vertical="top"))
DATE = Style(alignment=Alignment(vertical="top"), number_format="DD/MM/YYYY")
RED = Style(alignment=Alignment(vertical="top"), fill=PatternFill("solid", fgColor="F8CBAD"))

ROWS = [  # (values, styles, height)
    (["Centre", "Valeur", "Date", "Motif"], HEADER, 33),
    (["=HYPERLINK(\"http://x\")", "+33 4", "-1", "@SUM(A1)"], [WRAP, TOP, TOP, WRAP], 18),
    ([" padded ", "   ", "", "a & b < c > d \"q\" 'a'"], WRAP, 18.5),
    ([-1234.5, 7, 0, 12345678901234567890], TOP, None),
    ([True, False, decimal.Decimal("1.10"), float("nan")], [TOP, RED, RED, None], 48),
    ([None, None, dt.date(2025, 2, 28), None], [WRAP, None, DATE, None], 18),
    ([dt.datetime(2025, 3, 5, 14, 30), dt.date(1900, 1, 15), dt.time(9, 45), dt.timedelta(hours=30)], None, None),
    ([dt.datetime(2025, 3, 5, 14, 30, tzinfo=ZoneInfo("Europe/Paris")), ["une", "liste"], "nom\x01 du\tcentre",
      "ligne 1\nligne 2\r\n"], [None, TOP, None, WRAP], 63),
    ([None, None], None, 20),  # a row with nothing written but its height
    (["x" * 40000, "é ü — « » ∑ 𝄞"], None, None),
    (["fin"], None, None),
]


def _openpyxl_reference(sheet, rows) -> None:
    """The same rows through openpyxl cells: style first, then the value through
    `cells.set_value` (a date in a cell styled without a number format would get
    openpyxl's default date format here: the report code's shared styles never did)."""
    for number, (values, styles, height) in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(number, column)
            style = styles if styles is None or isinstance(styles, Style) else styles[column - 1]
            for name, attribute in (style.attributes.items() if style else ()):
                setattr(cell, name, attribute)
            set_value(cell, value)
        if height is not None:
            sheet.row_dimensions[number].height = height


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "docProps/core.xml"}


def test_rows_are_the_cells_openpyxl_writes(tmp_path):
    reference = Workbook()
    reference.active.title = "Un"
    _openpyxl_reference(reference.active, ROWS)
    _openpyxl_reference(reference.create_sheet("Deux"), ROWS[::-1])
    reference.active.freeze_panes = "B2"
    reference.save(tmp_path / "reference.xlsx")

    book = Workbook()
    book.active.title = "Un"
    first, second = SheetRows(book.active), SheetRows(book.create_sheet("Deux"))
    for values, styles, height in ROWS:
        first.append(values, styles, height)
    for values, styles, height in ROWS[::-1]:
        second.append(values, styles, height)
    book.active.freeze_panes = "B2"
    path = save_with_rows(book, [first, second], tmp_path / "sub", "rows.xlsx")

    assert path == tmp_path / "sub" / "rows.xlsx"
    expected, written = _members(tmp_path / "reference.xlsx"), _members(path)
    assert list(written) == list(expected)
    for name in expected:
        assert written[name] == expected[name], name
    assert (first.max_row, first.max_column) == (len(ROWS), 4)


def test_a_sheet_cannot_mix_rows_and_openpyxl_cells(tmp_path):
    book = Workbook()
    rows = SheetRows(book.active)
    rows.append(["a"])
    book.active["B5"] = "written by openpyxl"
    with pytest.raises(ValueError):
        save_with_rows(book, [rows], tmp_path, "mixed.xlsx")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind
