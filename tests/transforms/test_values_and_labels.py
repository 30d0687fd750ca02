"""Values typed the way people type them, and labels matched the way the spec says."""
import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from schemas.registry import template_for_year, templates
from transforms.labels import field_lookup, label_key
from transforms.values import parse_bool, parse_datetime, parse_decimal, parse_int

PARIS = ZoneInfo("Europe/Paris")


def _apply(parser, value):
    return pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(parser(pl.col("v")).alias("v"))["v"][0]


@pytest.mark.parametrize("text, expected", [
    ("1 234,56", 1234.56), ("1\u202f234,56", 1234.56), ("1\u00a0234,56", 1234.56), ("12,5 %", 12.5),
    ("1234.5", 1234.5), ("1.234,5", 1234.5), ("-100 000", -100000.0), ("12 000 €", 12000.0),
    ("abc", None), ("", None),
])
def test_decimal(text, expected):
    assert _apply(parse_decimal, text) == expected


@pytest.mark.parametrize("text, expected", [("1 200", 1200), ("12.0", 12), ("12,5", None), ("beaucoup", None)])
def test_int(text, expected):
    assert _apply(parse_int, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("oui", True), ("Oui", True), ("O", True), ("x", True), ("VRAI", True), ("true", True),
    ("non", False), ("N", False), ("FAUX", False), ("false", False), ("peut-être", None),
])
def test_bool(text, expected):
    assert _apply(parse_bool, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("28/02/2025 23:59", dt.datetime(2025, 2, 28, 23, 59, tzinfo=PARIS)),
    ("28/02/2025", dt.datetime(2025, 2, 28, 0, 0, tzinfo=PARIS)),
    ("2025-02-28 10:30:00", dt.datetime(2025, 2, 28, 10, 30, tzinfo=PARIS)),  # Excel date cell
    ("2025-02-28T23:30:00Z", dt.datetime(2025, 3, 1, 0, 30, tzinfo=PARIS)),  # already 1 March in Paris
    ("2025-03-01T00:00:00+01:00", dt.datetime(2025, 3, 1, 0, 0, tzinfo=PARIS)),
    ("2025-07-01 12:00", dt.datetime(2025, 7, 1, 12, 0, tzinfo=PARIS)),  # summer time, no zone = Paris
    ("45716", dt.datetime(2025, 2, 28, 0, 0, tzinfo=PARIS)),  # Excel serial typed as text
    ("45716.5", dt.datetime(2025, 2, 28, 12, 0, tzinfo=PARIS)),
    ("hier", None),
])
def test_datetime(text, expected):
    value = _apply(parse_datetime, text)
    assert value == expected
    if expected is not None:
        assert value.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("typed, canonical", [
    ("N° FINESS établissement (ET)", "finess_et"),
    ("n° finess etablissement :", "finess_et"),
    ("  N°   FINESS établissement   (ET) : ", "finess_et"),
    ("Total des charges", "total_charges"),
    ("TOTAL DES CHARGES (€)", "total_charges"),
    ("Part des patients beneficiaires de la CSS", "part_css_pct"),
    ("Année d’exercice", "annee_exercice"),  # typographic apostrophe
    ("file_active", "file_active"),  # canonical names as export headers
])
def test_label_matching_2024(typed, canonical):
    lookup = dict(field_lookup(template_for_year(2024)).iter_rows())
    assert lookup[label_key(typed)] == canonical


def test_template_chosen_by_exercise_year():
    assert template_for_year(2023).version == "2023"
    assert template_for_year(2019).version == "2023"
    assert template_for_year(2024).version == "2024"
    assert template_for_year(2025).version == "2025"
    assert template_for_year(2031).version == "2025"
    lookup_2023 = dict(field_lookup(template_for_year(2023)).iter_rows())
    assert lookup_2023[label_key("N° FINESS")] == "finess_et"
    assert lookup_2023[label_key("Forfait accord national (€)")] == "remuneration_forfaitaire"
    assert "part_ame_pct" not in lookup_2023.values() and "finess_ej" not in lookup_2023.values()


def test_every_template_labels_known_fields_only():
    from schemas.fields import FIELDS

    for template in templates():
        assert set(template.labels) <= set(FIELDS), template.version


@pytest.mark.parametrize("text, point, expected", [
    ("1,234.5", True, 1234.5), ("1,200,000", True, 1200000.0), ("12.5", True, 12.5),
    ("1,5", False, 1.5), ("1.234,5", False, 1234.5), ("\u2212100", False, -100.0),
])
def test_decimal_mark_of_the_file(text, point, expected):
    """With `,` separating CSV columns the decimal mark is the point (submission-template.md)."""
    frame = pl.DataFrame({"v": [text], "p": [point]})
    assert frame.select(parse_decimal(pl.col("v"), pl.col("p")))["v"][0] == expected


def test_iso_offset_without_colon():
    assert _apply(parse_datetime, "2025-02-28T23:30:00+0100") == dt.datetime(2025, 2, 28, 23, 30, tzinfo=PARIS)
