"""How do we read a value the way a person typed it?

Vectorised Polars expressions from text to a typed value; a cell that does not parse
gives null, and `cast_failed` tells those apart from cells that were empty.
`1 234,56` (normal, thin or non-breaking spaces), `12,5 %`, `oui`/`non`/`O`/`N`/`x`/
`VRAI`/`FAUX`, Excel dates and serials, `dd/mm/yyyy[ hh:mm[:ss]]`, ISO with or without
zone (no zone = Europe/Paris).
"""
from __future__ import annotations

import polars as pl

PARIS = "Europe/Paris"
_SPACES = r"[\s\u00a0\u202f\u2009]"
_TRUE = ["oui", "o", "x", "vrai", "true", "1", "yes", "y"]
_FALSE = ["non", "n", "faux", "false", "0", "no"]
_EXCEL_EPOCH_DAYS = 25569  # 1970-01-01 as an Excel 1900-system serial


def blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_chars() == 0).then(None).otherwise(stripped)


def _number_text(expr: pl.Expr, point_decimal: pl.Expr | None = None) -> pl.Expr:
    """`1 234,56 €` -> `1234.56`; a lone comma is the decimal separator, dots are thousands
    separators only when a comma is also present. Where `point_decimal` is true (a CSV
    whose columns are separated by `,`), the point is the decimal mark and commas can only
    be thousands separators."""
    text = (
        expr.str.replace_all(_SPACES, "").str.replace_all(r"[%€]", "")
        .str.replace_all("\u2212", "-")  # typographic minus sign
    )
    has_comma = text.str.contains(",")
    comma_decimal = pl.when(has_comma).then(text.str.replace_all(r"\.", "").str.replace(",", ".")).otherwise(text)
    if point_decimal is None:
        return comma_decimal
    return pl.when(point_decimal.fill_null(False)).then(text.str.replace_all(",", "")).otherwise(comma_decimal)


def parse_decimal(expr: pl.Expr, point_decimal: pl.Expr | None = None) -> pl.Expr:
    return _number_text(expr, point_decimal).cast(pl.Float64, strict=False)


def parse_int(expr: pl.Expr, point_decimal: pl.Expr | None = None) -> pl.Expr:
    """Integers, including `12.0` as spreadsheets store them; `12,5` is not an integer."""
    number = parse_decimal(expr, point_decimal)
    return pl.when(number == number.round(0)).then(number).otherwise(None).cast(pl.Int64, strict=False)


def parse_bool(expr: pl.Expr) -> pl.Expr:
    key = expr.str.strip_chars().str.to_lowercase()
    return pl.when(key.is_in(_TRUE)).then(True).when(key.is_in(_FALSE)).then(False).otherwise(None)


def parse_datetime(expr: pl.Expr) -> pl.Expr:
    """An aware datetime in Europe/Paris."""
    text = expr.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
    with_zone = text.str.replace(r"Z$", "+00:00")
    zoned = pl.coalesce(
        with_zone.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
        with_zone.str.to_datetime("%Y-%m-%d %H:%M%:z", strict=False, time_zone="UTC"),
        with_zone.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_zone="UTC"),
    ).dt.convert_time_zone(PARIS)
    naive = pl.coalesce(
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M", strict=False),
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        text.str.to_datetime("%d/%m/%Y %H:%M:%S", strict=False),
        text.str.to_datetime("%d/%m/%Y %H:%M", strict=False),
        text.str.to_date("%d/%m/%Y", strict=False).cast(pl.Datetime("us")),
        _excel_serial(text),
    )
    local = naive.cast(pl.Datetime("us")).dt.replace_time_zone(PARIS, ambiguous="earliest", non_existent="null")
    return pl.coalesce(zoned.cast(pl.Datetime("us", PARIS)), local)


def _excel_serial(text: pl.Expr) -> pl.Expr:
    """Excel serial day numbers typed as text (`45716` or `45716.5`), for plausible years."""
    serial = text.cast(pl.Float64, strict=False)
    plausible = (serial > 36526) & (serial < 73051)  # 2000-01-01 .. 2099-12-31
    micros = ((serial - _EXCEL_EPOCH_DAYS) * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    return pl.when(plausible).then(micros.cast(pl.Datetime("us")))


PARSERS = {
    "text": lambda expr: expr,
    "int": parse_int,
    "decimal": parse_decimal,
    "bool": parse_bool,
    "datetime": parse_datetime,
}

EXPECTED_FORMAT = {
    "int": "un nombre entier (ex. 1 234)",
    "decimal": "un nombre (ex. 1 234,56)",
    "bool": "oui ou non",
    "datetime": "une date (jj/mm/aaaa ou jj/mm/aaaa hh:mm)",
}
