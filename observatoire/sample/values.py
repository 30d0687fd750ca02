"""How does a person type a value into a workbook or an export?

Submission contents are held as typed Python values (int, Decimal, bool, aware
datetime, str) plus a few wrappers that pin down how one value must be written. The
`render` function turns them into what a cell holds, in one of the ways people type
them (submission-template.md): `1 234,56` with normal, non-breaking or narrow spaces,
`12,5 %`, oui/non/O/N/x/VRAI/FAUX, Excel dates, `dd/mm/yyyy hh:mm`, ISO with `Z` or an
offset. Labels get the same treatment: case, accents, trailing ` :`, unit left out.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Raw:
    """Written exactly so, as text (damaged FINESS, "beaucoup", a borderline date)."""
    text: str


@dataclass(frozen=True)
class NumberCell:
    """Written as a numeric cell in a workbook (a FINESS that lost its leading zero)."""
    value: int | float


@dataclass(frozen=True)
class ExcelDate:
    """Written as a real Excel date-time in a workbook, whatever the random style."""
    moment: dt.datetime


@dataclass(frozen=True)
class Percent:
    value: Decimal


@dataclass(frozen=True)
class Dialect:
    """Where a value is written: a workbook cell, or CSV text with its decimal mark."""
    spreadsheet: bool
    decimal_mark: str = ","
    narrow_space_ok: bool = True  # U+202F does not exist in windows-1252

    @property
    def group_marks(self) -> tuple[str, ...]:
        if self.decimal_mark == ".":
            return ("",)
        marks = ("", "", " ", "\u00a0")
        return marks + ("\u202f",) if self.narrow_space_ok else marks


TRUE_SPELLINGS = ("oui", "Oui", "OUI", "O", "x", "VRAI")
FALSE_SPELLINGS = ("non", "Non", "NON", "N", "FAUX")


def _group(digits: str, mark: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return mark.join(parts)


def format_number(value: int | Decimal, dialect: Dialect, rng: random.Random) -> str:
    mark = rng.choice(dialect.group_marks)
    negative = value < 0
    text = f"{abs(value):f}" if isinstance(value, Decimal) else str(abs(value))
    whole, _, fraction = text.partition(".")
    result = _group(whole, mark)
    if fraction and fraction.strip("0"):
        result += dialect.decimal_mark + fraction.rstrip("0")
    return ("-" if negative else "") + result


def format_moment(moment: dt.datetime, style: str) -> str:
    local = moment.astimezone(PARIS)
    if style == "fr_datetime":
        return f"{local:%d/%m/%Y %H:%M}"
    if style == "fr_date":
        return f"{local:%d/%m/%Y}"
    if style == "iso_z":
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "iso_offset":
        return local.isoformat(timespec="seconds")
    raise ValueError(style)


def render(value: object, dialect: Dialect, rng: random.Random) -> object:
    """The cell content (str, int, float, naive datetime or None) for one value."""
    if value is None:
        return None
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, NumberCell):
        return value.value if dialect.spreadsheet else str(value.value)
    if isinstance(value, ExcelDate):
        if dialect.spreadsheet:
            return value.moment.astimezone(PARIS).replace(tzinfo=None)
        return format_moment(value.moment, "fr_datetime")
    if isinstance(value, bool):
        return rng.choice(TRUE_SPELLINGS if value else FALSE_SPELLINGS)
    if isinstance(value, dt.datetime):
        return _render_moment(value, dialect, rng)
    if isinstance(value, Percent):
        if dialect.spreadsheet and rng.random() < 0.6:
            return float(value.value)
        text = format_number(value.value, dialect, rng)
        return text + rng.choice([" %", "%", ""]) if dialect.decimal_mark == "," else text
    if isinstance(value, (int, Decimal)):
        if dialect.spreadsheet and rng.random() < 0.8:
            return int(value) if isinstance(value, int) else float(value)
        return format_number(value, dialect, rng)
    return str(value)


def _render_moment(moment: dt.datetime, dialect: Dialect, rng: random.Random) -> object:
    if dialect.spreadsheet:
        style = rng.choices(["excel", "fr_datetime", "fr_date", "iso_offset"], weights=[70, 15, 10, 5])[0]
        if style == "excel":
            return moment.astimezone(PARIS).replace(tzinfo=None, second=0, microsecond=0)
        return format_moment(moment, style)
    style = rng.choices(["fr_datetime", "fr_date", "iso_z", "iso_offset"], weights=[45, 20, 20, 15])[0]
    return format_moment(moment, style)


# ------------------------------------------------------------------ labels
_UNIT_RE = re.compile(r"\s*\((€|%|heures)\)$")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


ALL_VARIANTS = ("upper", "lower", "no_accents", "colon", "no_unit", "no_accents_colon")
CASE_AND_ACCENTS = ("upper", "lower", "no_accents")


def vary_label(label: str, rng: random.Random, probability: float = 0.3,
               variants: tuple[str, ...] = ALL_VARIANTS) -> str:
    """The label as someone retyped it: still matches under the spec's label rules."""
    if rng.random() >= probability:
        return label
    variant = rng.choice(variants)
    if variant == "upper":
        return label.upper()
    if variant == "lower":
        return label.lower()
    if variant == "no_accents":
        return strip_accents(label)
    if variant == "colon":
        return label + " :"
    if variant == "no_unit":
        return _UNIT_RE.sub("", label)
    return strip_accents(label) + " :"
