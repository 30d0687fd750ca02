"""Statuses of campaign-rules.md, one row per rule: who is on time, late, invalid,
missing, covered, and why a submission is unexpected."""
import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from observatoire.readers.calendar import empty_calendar
from transforms.campaign_calendar import default_deadline
from transforms.compliance import centre_statuses, order_versions

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
CENTRE, ANTENNE, OTHER = "690000013", "690000021", "690000039"


def paris(*args):
    return dt.datetime(*args, tzinfo=PARIS)


def _history():
    rows = [
        # finess_et, ej, rs, region, dep, cds, dateouv, last_seen, categ
        (CENTRE, "690000047", "CDS A", "84", "69", True, dt.date(2000, 1, 1), dt.date(2025, 1, 12), "124"),
        (ANTENNE, "690000047", "CDS A ANTENNE", "84", "69", True, dt.date(2000, 1, 1), dt.date(2025, 1, 12), "124"),
        (OTHER, "690000054", "CDS B", "84", "69", True, dt.date(2000, 1, 1), dt.date(2025, 1, 12), "124"),
        ("690000062", "690000070", "CH X", "84", "69", False, dt.date(2000, 1, 1), dt.date(2025, 1, 12), "355"),
        ("690000088", "690000096", "CDS FERME", "84", "69", True, dt.date(2000, 1, 1), dt.date(2023, 1, 9), "124"),
        ("750000010", "750000028", "CDS PARIS", "11", "75", True, dt.date(2000, 1, 1), dt.date(2025, 1, 12), "124"),
    ]
    return pl.DataFrame(rows, schema={
        "finess_et": pl.String, "finess_ej": pl.String, "raison_sociale": pl.String, "region_code": pl.String,
        "departement": pl.String, "is_centre_de_sante": pl.Boolean, "dateouv": pl.Date, "last_seen": pl.Date,
        "categetab": pl.String,
    }, orient="row").with_columns(pl.lit("0478000000").alias("telephone"), pl.lit(None, pl.Date).alias("datefermeture"))


def _submissions(rows):
    """rows: (key, finess_et, is_valid, transmitted_at, antennes)"""
    return pl.DataFrame(
        [(k, f"{k}.xlsx", None, et, "exact" if et else "unmatched", ok, at, ant, "84", "CDS ?", "69", None)
         for k, et, ok, at, ant in rows],
        schema={"submission_key": pl.String, "source_file": pl.String, "source_row": pl.Int64,
                "finess_et": pl.String, "reconciliation_method": pl.String, "is_valid": pl.Boolean,
                "date_transmission": pl.Datetime("us", "Europe/Paris"), "antennes": pl.List(pl.String),
                "region_code": pl.String, "declared_name": pl.String, "declared_departement": pl.String,
                "finess_ej": pl.String},
        orient="row",
    )


def _status(rows, calendar=None, year=2024, regions=("84",)):
    history = _history()
    expected = history.filter(pl.col("is_centre_de_sante") & pl.col("region_code").is_in(list(regions))
                              & (pl.col("last_seen") >= dt.date(year, 1, 1)))
    result = centre_statuses(expected, order_versions(_submissions(rows)), history, calendar if calendar is not None
                             else empty_calendar(), year, list(regions))
    return result


def _one(result, finess=CENTRE):
    return result.filter(pl.col("finess_et") == finess).row(0, named=True)


@pytest.mark.parametrize("case, rows, status, days_late", [
    ("on time", [("a", CENTRE, True, paris(2025, 2, 10, 9, 0), [])], "on_time", None),
    ("last minute 23:59 Paris", [("a", CENTRE, True, paris(2025, 2, 28, 23, 59), [])], "on_time", None),
    ("midnight 1 March Paris", [("a", CENTRE, True, paris(2025, 3, 1, 0, 0), [])], "late", 1),
    ("23:30Z on 28 Feb is 1 March in Paris",
     [("a", CENTRE, True, dt.datetime(2025, 2, 28, 23, 30, tzinfo=UTC).astimezone(PARIS), [])], "late", 1),
    ("three days late", [("a", CENTRE, True, paris(2025, 3, 3, 15, 0), [])], "late", 3),
    ("summer time, 40 days", [("a", CENTRE, True, paris(2025, 4, 9, 12, 0), [])], "late", 40),
    ("invalid only", [("a", CENTRE, False, paris(2025, 2, 10), [])], "invalid", None),
    ("invalid then valid after deadline",
     [("a", CENTRE, False, paris(2025, 2, 10), []), ("b", CENTRE, True, paris(2025, 3, 5), [])], "late", 5),
    ("valid then correction: first valid decides",
     [("a", CENTRE, True, paris(2025, 2, 10), []), ("b", CENTRE, True, paris(2025, 3, 20), [])], "on_time", None),
    ("nothing received", [], "missing", None),
])
def test_status_rules(case, rows, status, days_late):
    row = _one(_status(rows))
    assert (row["status"], row["days_late"]) == (status, days_late), case


def test_leap_year_deadline():
    assert default_deadline(2023) == dt.date(2024, 2, 29)
    assert default_deadline(2024) == dt.date(2025, 2, 28)
    row = _one(_status([("a", CENTRE, True, paris(2024, 2, 29, 18, 0), [])], year=2023))
    assert row["status"] == "on_time" and row["deadline"] == dt.date(2024, 2, 29)
    row = _one(_status([("a", CENTRE, True, paris(2024, 3, 1, 8, 0), [])], year=2023))
    assert (row["status"], row["days_late"]) == ("late", 1)


def test_calendar_moves_campaign_deadline_and_grants_extension():
    calendar = pl.DataFrame({"annee": [2024, 2024], "finess_et": [None, OTHER],
                             "date_limite": [dt.date(2025, 3, 15), dt.date(2025, 3, 31)]})
    rows = [("a", CENTRE, True, paris(2025, 3, 16, 9), []), ("b", OTHER, True, paris(2025, 3, 20, 9), [])]
    result = _status(rows, calendar=calendar)
    assert (_one(result)["status"], _one(result)["days_late"], _one(result)["deadline"]) == (
        "late", 1, dt.date(2025, 3, 15))
    assert (_one(result, OTHER)["status"], _one(result, OTHER)["deadline"]) == ("on_time", dt.date(2025, 3, 31))


def test_antenne_covered_by_valid_principal_only():
    covered = _status([("a", CENTRE, True, paris(2025, 2, 1), [ANTENNE])])
    assert _one(covered, ANTENNE)["status"] == "covered"
    not_covered = _status([("a", CENTRE, False, paris(2025, 2, 1), [ANTENNE])])
    assert _one(not_covered, ANTENNE)["status"] == "missing"


@pytest.mark.parametrize("finess, reason", [
    (None, "unknown_finess"),
    ("690000062", "not_centre_de_sante"),
    ("690000088", "closed"),
    ("750000010", "other_region"),
])
def test_unexpected_reasons(finess, reason):
    result = _status([("u", finess, True, paris(2025, 2, 1), [])])
    unexpected = result.filter(pl.col("status") == "unexpected")
    assert unexpected.height == 1
    assert unexpected.row(0, named=True)["unexpected_reason"] == reason
    assert result.filter(pl.col("status") != "unexpected").height == 3  # every expected centre once


def test_a_submission_an_analyst_tied_to_no_centre_says_so():
    # observatoire decision --aucun: resolved to no ET by the decision method
    decided = _submissions([("u", None, True, paris(2025, 2, 1), [])]).with_columns(
        pl.lit("decision").alias("reconciliation_method"))
    result = centre_statuses(_history().filter(pl.col("finess_et") == CENTRE), order_versions(decided), _history(),
                             empty_calendar(), 2024, ["84"])
    unexpected = result.filter(pl.col("status") == "unexpected").row(0, named=True)
    assert unexpected["unexpected_reason"] == "decided_none"
    assert "décision d'un analyste" in unexpected["status_reason"]


def test_one_row_per_expected_centre_even_with_versions():
    rows = [("a", CENTRE, True, paris(2025, 2, 1), []), ("b", CENTRE, True, paris(2025, 2, 2), []),
            ("c", CENTRE, False, paris(2025, 2, 3), [])]
    result = _status(rows)
    assert result.filter(pl.col("finess_et") == CENTRE).height == 1
    assert _one(result)["submissions_received"] == 3
    assert _one(result)["submission_key"] == "b"  # latest valid version supplies the data


def test_the_campaign_is_named_by_its_date_limite_when_its_calendar_moved_it():
    from transforms.campaign_calendar import campaign_deadline, campaign_title

    assert campaign_title(2024) == campaign_title(2024, dt.date(2025, 2, 28)) == (
        "Campagne 2024 (exercice 2024, rapports dus avant le 1er mars 2025)")
    assert campaign_title(2024, dt.date(2025, 3, 14)) == (
        "Campagne 2024 (exercice 2024, rapports dus au plus tard le 14 mars 2025)")
    assert campaign_title(2027, dt.date(2028, 4, 1)).endswith("rapports dus au plus tard le 1er avril 2028)")
    # its statuses show it: the earliest deadline (extensions are later)
    assert campaign_deadline([dt.date(2025, 4, 1), None, dt.date(2025, 3, 14)]) == dt.date(2025, 3, 14)
    assert campaign_deadline([]) is None
