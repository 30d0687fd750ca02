"""The guards of a run at its edges: what `transforms/guards.py` decides, given today's
Paris date, the bundled COG list and the warehouse's current rows; each raises RunRefused
with the one French line to show.

`check_arguments` is the cheap part (no file read, no warehouse): the command calls it
before Prefect starts, the flow again first thing (a run from the Prefect UI)."""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from importlib import resources
from zoneinfo import ZoneInfo

from observatoire.errors import RunRefused
from transforms import guards

PARIS = ZoneInfo("Europe/Paris")


@functools.cache
def cog_region_codes() -> list[str]:
    """The 18 COG region codes of the bundled INSEE file (read without Polars: see above)."""
    text = resources.files("observatoire").joinpath("data", "cog_regions_2024.csv").read_text("utf-8")
    return sorted(row["code_region"] for row in csv.DictReader(io.StringIO(text)))


def paris_today(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(PARIS).date()


def refuse_unless_forced(refusals, forced=()) -> None:
    refusal = guards.first_refusal(refusals, forced)
    if refusal is not None:
        raise RunRefused(refusal)


def check_arguments(year: int, regions: list[str] | None, forced=(), now: dt.datetime | None = None) -> None:
    """An exercise year not over yet (Paris time), a region code that is not a COG region."""
    refuse_unless_forced([guards.exercise_not_over(year, paris_today(now)),
                          guards.unknown_regions(list(regions or []), cog_region_codes())], forced)
