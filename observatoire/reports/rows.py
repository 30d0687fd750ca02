"""The cells of the report sheets, written as the sheet's XML by this module instead of one
openpyxl cell object each.

openpyxl builds an object per cell, looks its style up in the workbook when saving and
serialises it through a generic XML writer: for the tens of thousands of cells of a run's
workbooks, most of the time they took. Here a sheet's rows are kept as values (every one
through `cells.cell_value`: the same formula neutralisation) with a shared style per cell,
and written as the same XML openpyxl writes for such cells (inline strings, `xml:space`
on padded text, numbers as `%.16g`, dates as Excel serials, styles by their index in the
workbook, row heights). openpyxl still writes everything else: column widths, panes,
filters, print set-up, charts, the styles themselves; `save_with_rows` puts the rows in the
sheets it wrote. A sheet given rows here must have no openpyxl cell of its own.

The XML is openpyxl 3.1's (the version requirements.lock pins); tests/observatoire/
reports/test_rows.py checks that both write the same bytes for the same cells.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from pathlib import Path, PurePath
from xml.sax.saxutils import escape

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TIME_FORMATS
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.writer.excel import ExcelWriter

from observatoire.outputs import open_output
from observatoire.reports.cells import cell_value

_EMPTY_DIMENSION = b'<dimension ref="A1:A1" />'  # what openpyxl writes for a sheet without cells
_EMPTY_DATA = b"<sheetData></sheetData>"
_DATES = (dt.date, dt.time, dt.timedelta)  # datetime is a date


class Style:
    """A cell style shared by many cells: openpyxl attributes (`alignment`, `fill`, `font`,
    `number_format`…) set once, on a model cell, when a workbook first uses it."""

    def __init__(self, **attributes) -> None:
        self.attributes = attributes


class SheetRows:
    """The rows of one worksheet, from row 1, each a list of values with one style for the
    row or one per column (None: no style) and an optional height in points."""

    def __init__(self, sheet) -> None:
        self.sheet = sheet
        self.max_row = 0
        self.max_column = 0
        self._rows: list[tuple] = []
        self._models: dict[int, tuple] = {}  # id(Style) -> (model cell of this workbook, Style)
        self._date_models: dict[type, object] = {}
        self._lists: dict[tuple, list] = {}

    def append(self, values, styles=None, height: float | None = None) -> int:
        """Add the next row; returns its number. `styles`: a `Style` for every cell, or a
        list of `Style` or None by column."""
        values = [cell_value(value) for value in values]
        if styles is None:
            models = None
        elif isinstance(styles, Style):
            models = self._model(styles)
        else:  # rows styled alike share one list of models
            key = tuple(map(id, styles))
            models = self._lists.get(key)
            if models is None:
                models = self._lists[key] = [self._model(style) for style in styles]
        self._rows.append((values, models, height))
        self.max_row += 1
        self.max_column = max(self.max_column, len(values))
        return self.max_row

    def _model(self, style: Style | None):
        if style is None:
            return None
        known = self._models.get(id(style))
        if known is None:  # the workbook registers the font, fill… now, as a styled cell does
            model = WriteOnlyCell(self.sheet)
            for name, value in style.attributes.items():
                setattr(model, name, value)
            known = self._models[id(style)] = (model, style)  # the style kept: its id stays its own
        return known[0]

    def _date_model(self, kind: type):
        """openpyxl gives an unstyled date, time or duration its default number format."""
        model = self._date_models.get(kind)
        if model is None:
            model = self._date_models[kind] = WriteOnlyCell(self.sheet)
            model.number_format = TIME_FORMATS[kind]
        return model

    @property
    def dimension(self) -> str:
        """The used range, as openpyxl writes it for the same cells."""
        if not self.max_row or not self.max_column:
            return "A1:A1"
        return f"A1:{get_column_letter(self.max_column)}{self.max_row}"

    def xml(self) -> str:
        """The content of the sheet's <sheetData>. Style indexes are taken from the workbook
        here, in the order the sheet's cells are written, as openpyxl does when saving."""
        ids: dict[int, str] = {}

        def attribute(model) -> str:  # ` s="<index>"`, the index taken at the style's first cell
            if model is None:
                return ""
            known = ids.get(id(model))
            if known is None:
                known = ids[id(model)] = f' s="{model.style_id}"' if model.has_style else ""
            return known

        by_list: dict[int, list[str]] = {}
        epoch = self.sheet.parent.epoch
        letters = [get_column_letter(i) for i in range(1, self.max_column + 1)]
        out: list[str] = []
        write = out.append
        for number, (values, models, height) in enumerate(self._rows, start=1):
            if height is None:
                write(f'<row r="{number}">')
            else:
                write(f'<row r="{number}" ht="{_number(float(height))}" customHeight="1">')
            if models is None or not isinstance(models, list):
                styles = [attribute(models)] * len(values)
            else:
                styles = by_list.get(id(models))
                if styles is None:  # in column order: the order openpyxl meets these cells in
                    styles = by_list[id(models)] = [attribute(model) for model in models]
            for index, value in enumerate(values):
                style = styles[index]
                kind = type(value)
                if kind is str:
                    write(_text(f"{letters[index]}{number}", value, style))
                elif value is None:
                    if style:  # openpyxl writes an empty cell only when it is styled
                        write(f'<c r="{letters[index]}{number}"{style} t="n" />')
                else:
                    if not style and isinstance(value, _DATES):
                        style = attribute(self._date_model(_date_kind(value)))
                    write(_cell(f"{letters[index]}{number}", value, style, epoch))
            write("</row>")
        return "".join(out)


def _date_kind(value) -> type:
    for kind in (dt.datetime, dt.date, dt.time, dt.timedelta):
        if isinstance(value, kind):
            return kind
    raise TypeError(value)


def _number(value) -> str:
    """openpyxl's `safe_string` for a number."""
    if math.isnan(value) or math.isinf(value):
        return ""
    return "%.16g" % value


def _text(ref: str, value: str, style: str) -> str:
    """The <c> element of a text: an inline string, as openpyxl 3.1 writes it."""
    if not value:
        return f'<c r="{ref}"{style} t="inlineStr" />'
    stripped = value.strip()
    space = ' xml:space="preserve"' if stripped and stripped != value else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def _cell(ref: str, value, style: str, epoch) -> str:
    """The <c> element of a number, boolean or date, as openpyxl 3.1 writes it."""
    if type(value) is bool:
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, _DATES):
        value = to_excel(value, epoch)
    shown = _number(value)
    return f'<c r="{ref}"{style} t="n"><v>{shown}</v></c>' if shown else f'<c r="{ref}"{style} t="n"><v /></c>'


def save_with_rows(workbook, tables: list[SheetRows], folder: Path | str, name: str | PurePath) -> Path:
    """Save `workbook` at `folder/name` (through `outputs.open_output`) with the rows of
    `tables` in their sheets."""
    by_sheet = {id(table.sheet): table for table in tables}
    # in the order openpyxl writes the sheets, so that styles get the same indexes
    contents = {id(sheet): by_sheet[id(sheet)].xml() for sheet in workbook.worksheets if id(sheet) in by_sheet}
    # openpyxl's `save_workbook` into an uncompressed archive: the parts are compressed
    # once, below, not twice
    written = io.BytesIO()
    workbook.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    ExcelWriter(workbook, zipfile.ZipFile(written, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    parts = {sheet.path.lstrip("/"): by_sheet[id(sheet)] for sheet in workbook.worksheets if id(sheet) in by_sheet}
    with zipfile.ZipFile(written) as source, open_output(folder, name) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as target:
            for info in source.infolist():
                data = source.read(info)
                table = parts.get(info.filename)
                if table is not None:
                    data = _with_rows(data, table, contents[id(table.sheet)])
                copied = zipfile.ZipInfo(info.filename, info.date_time)
                copied.compress_type = zipfile.ZIP_DEFLATED
                copied.external_attr = info.external_attr
                target.writestr(copied, data)
    return Path(folder) / name


def _with_rows(xml: bytes, table: SheetRows, rows: str) -> bytes:
    if xml.count(_EMPTY_DIMENSION) != 1 or xml.count(_EMPTY_DATA) != 1:
        # a cell or row height set through openpyxl on this sheet, or another openpyxl version
        raise ValueError(f"sheet {table.sheet.title!r}: openpyxl wrote cells or an unexpected layout")
    dimension = f'<dimension ref="{table.dimension}" />'.encode()
    return (xml.replace(_EMPTY_DIMENSION, dimension)
            .replace(_EMPTY_DATA, b"<sheetData>" + rows.encode("utf-8") + b"</sheetData>"))
