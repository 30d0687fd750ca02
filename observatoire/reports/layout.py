"""How the workbooks look on a screen and on paper: header style, row heights that show
wrapped text (LibreOffice keeps a row at its stored height, Excel too once a height is
set), and the A4 landscape print setup every sheet a person may print gets."""
from __future__ import annotations

import math

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.page import PageMargins

from observatoire.reports.rows import Style

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_STYLE = Style(fill=HEADER_FILL, font=HEADER_FONT, alignment=Alignment(wrap_text=True, vertical="center"))
LINE_HEIGHT = 15  # points per line of 11-pt text
MAX_LINES = 8  # a longer text is cut on screen (the cell keeps it whole)


def wrapped_row_height(values, widths) -> float:
    """Height (points) of a row whose texts wrap within their column widths (characters)."""
    lines = 1
    for value, width in zip(values, widths):
        if value is None or value == "":
            continue
        text = str(value)
        usable = max(int(width) - 1, 1)
        needed = sum(max(1, math.ceil(len(part) / usable)) for part in text.split("\n"))
        lines = max(lines, needed)
    return LINE_HEIGHT * min(lines, MAX_LINES) + 3


def print_on_a4_landscape(sheet, title: str) -> None:
    """A4 landscape, fitted to the page width (as many pages down as needed), the header
    row repeated on every page, the title and page number in the margins."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    sheet.oddHeader.center.text = title.replace("&", "&&")
    sheet.oddFooter.right.text = "Page &P / &N"
