"""When is a campaign, and what is it called? (campaign-rules.md)

Exercise N is reported on in N+1: transmissions are accepted from 1 January N+1, in Paris;
they are due before 1 March N+1 (last on-time day 28 or 29 February), a date limite the
campaign's calendar file may move, and extend for a centre (a dérogation); a centre's days
late are Paris calendar days from its date limite; a run consolidates exercise N-1 unless
told otherwise; and a campaign has one name. The one home of these rules: validation,
statuses, guards, the command, the Prefect flow and the workbooks ask here. No clock: the
caller passes `now` or `today`.
"""
from __future__ import annotations

import calendar as _calendar
import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

PARIS = ZoneInfo("Europe/Paris")


def campaign_opens_at(year: int) -> dt.datetime:
    """Transmissions for exercise `year` are accepted from 1 January of the next year, Paris."""
    return dt.datetime(year + 1, 1, 1, tzinfo=PARIS)


def exercise_over(year: int, today: dt.date) -> bool:
    """Can exercise `year` be reported on at `today` (a Paris date)? From 1 January N+1."""
    return today >= campaign_opens_at(year).date()


def default_year(now: dt.datetime) -> int:
    """The exercise a run started at `now` consolidates by default: the campaign of N runs
    in N+1, so in Paris in 2025 it is 2024."""
    return now.astimezone(PARIS).year - 1


def default_deadline(year: int) -> dt.date:
    """Submissions for exercise N are due before 1 March N+1: last on-time day 28/29 Feb."""
    return dt.date(year + 1, 2, 29 if _calendar.isleap(year + 1) else 28)


def campaign_deadlines(calendar: pl.DataFrame, year: int) -> tuple[dt.date, pl.DataFrame]:
    """(campaign date limite, per-centre extensions finess_et -> deadline) for `year`.
    `calendar`: annee (int), finess_et (str, null for the campaign row), date_limite (date)."""
    rows = calendar.filter(pl.col("annee") == year)
    campaign = rows.filter(pl.col("finess_et").is_null())["date_limite"]
    deadline = campaign.max() if campaign.len() else default_deadline(year)
    extensions = rows.filter(pl.col("finess_et").is_not_null()).group_by("finess_et").agg(
        pl.col("date_limite").max().alias("deadline")
    )
    return deadline, extensions


def days_after_deadline(day: pl.Expr, deadline: pl.Expr) -> pl.Expr:
    """Paris calendar days from the date limite to `day` (a Paris date): 0 or less is on time."""
    return (day - deadline).dt.total_days()


def days_since_deadline(status: str, deadline: dt.date | None, today: dt.date) -> int | None:
    """How overdue a centre with nothing valid yet is today (0 before its date limite). A
    late centre's delay is its `days_late`, recorded in the warehouse once its valid report
    came; this is a separate figure, for centres still to chase."""
    if status not in ("missing", "invalid") or deadline is None:
        return None
    return max((today - deadline).days, 0)


def campaign_deadline(deadlines) -> dt.date | None:
    """The campaign's date limite as its status rows show it: the earliest of their deadlines
    (an extension only moves a centre's later, and unexpected submissions carry the
    campaign's own). None when there is none."""
    known = [day for day in deadlines if day is not None]
    return min(known) if known else None


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")


def french_date(day: dt.date) -> str:
    """« 1er mars 2025 », « 15 mars 2025 »."""
    return f"{'1er' if day.day == 1 else day.day} {_MONTHS[day.month - 1]} {day.year}"


def campaign_title(year: int, deadline: dt.date | None = None) -> str:
    """How a campaign is named everywhere: by its exercise year N, with when it is due
    (the reports of N are due before 1 March N+1, unless its calendar moved its date
    limite, `deadline`: then by that last on-time day)."""
    due = f"avant le 1er mars {year + 1}" if deadline is None or deadline == default_deadline(year) \
        else f"au plus tard le {french_date(deadline)}"
    return f"Campagne {year} (exercice {year}, rapports dus {due})"
