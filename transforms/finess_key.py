"""Is this a well-formed FINESS number, and what was it before a spreadsheet damaged it?
(The one home of FINESS normalisation and repair: readers, schemas and reconciliation use it.)

The 9th character makes the number pass the Luhn algorithm once Corsican `2A`/`2B`
are replaced by `21`/`22` (finess.md; the often-quoted `20` fails on every Corsican
number).
"""
from __future__ import annotations

import re

import polars as pl

FINESS_PATTERN = r"^[0-9][0-9AB][0-9]{7}$"
_FINESS_RE = re.compile(FINESS_PATTERN)


def _luhn_digits(number: str) -> str:
    return number[:2].replace("2A", "21").replace("2B", "22") + number[2:]


def _luhn_sum(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def is_valid_finess(number: str | None) -> bool:
    """True when `number` is 9 characters of the FINESS shape with a correct Luhn key."""
    if number is None or not _FINESS_RE.fullmatch(number):
        return False
    digits = _luhn_digits(number)
    return digits.isdigit() and _luhn_sum(digits) % 10 == 0  # `1A…` has the shape, not a key


def luhn_check_digit(digits: str) -> str:
    """The digit that makes `digits` + it pass the Luhn check (FINESS, SIREN, SIRET)."""
    return str((10 - _luhn_sum(digits + "0") % 10) % 10)


def finess_check_digit(first_eight: str) -> str:
    """The 9th character that makes `first_eight` + key a valid FINESS number."""
    return luhn_check_digit(_luhn_digits(first_eight))


def valid_finess_expr(column: str | pl.Expr) -> pl.Expr:
    """Vectorised `is_valid_finess` on a string column (null stays false)."""
    col = pl.col(column) if isinstance(column, str) else column
    digits = col.str.replace(r"^2A", "21").str.replace(r"^2B", "22")
    # Luhn from the right on 9 characters: positions 1,3,5,7 (0-based from the right) are doubled.
    total = pl.lit(0)
    for index in range(9):
        value = digits.str.slice(index, 1).cast(pl.Int32, strict=False)
        if (8 - index) % 2 == 1:
            value = value * 2
            value = pl.when(value > 9).then(value - 9).otherwise(value)
        total = total + value
    return (col.str.contains(FINESS_PATTERN) & (total % 10 == 0)).fill_null(False)


def normalise_finess_text(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_uppercase()


def repair_finess(expr: pl.Expr) -> pl.Expr:
    """Undo the typical damage of finess.md: spaces and dots, a float (`10000024.0`,
    `1.0000024E7`), a lost leading zero, lower-case `2a`."""
    text = normalise_finess_text(expr).str.replace_all(r"[\s\u00a0\u202f.\-_/]", "")
    scientific = normalise_finess_text(expr).str.replace(",", ".")
    from_float = (
        pl.when(scientific.str.contains(r"^\d+(\.\d+)?E\+?\d+$|^\d+\.0+$"))
        .then(scientific.cast(pl.Float64, strict=False).round(0).cast(pl.Int64, strict=False).cast(pl.String))
    )
    candidate = pl.coalesce(from_float, text)
    return pl.when(candidate.str.contains(r"^\d{8}$")).then(candidate.str.zfill(9)).otherwise(candidate)
