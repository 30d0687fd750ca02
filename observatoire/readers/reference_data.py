"""Which COG region does each département belong to? (bundled INSEE COG 2024 files)"""
from __future__ import annotations

import functools
from importlib import resources

import polars as pl


def _bundled_csv(name: str) -> pl.DataFrame:
    with resources.files("observatoire").joinpath("data", name).open("rb") as handle:
        return pl.read_csv(handle.read(), infer_schema=False)


# Saint-Barthélemy (977) and Saint-Martin (978) are collectivités, not départements, so the
# COG's département file leaves them out; their communes (97701, 97801) are served by the
# ARS de Guadeloupe, Saint-Martin et Saint-Barthélemy, and FINESS files their ETs under 9A
# (transforms/referential.py).
_SERVED_BY_GUADELOUPE = {"977": "Saint-Barthélemy", "978": "Saint-Martin"}


@functools.cache
def departement_regions() -> pl.DataFrame:
    """code_departement (COG: 01…95, 2A, 2B, 971…976, and 977, 978 with Guadeloupe's
    region), nom_departement, code_region, nom_region."""
    frame = _bundled_csv("cog_departements_regions_2024.csv")
    guadeloupe = frame.filter(pl.col("code_departement") == "971").select("code_region", "nom_region")
    served = pl.DataFrame({"code_departement": list(_SERVED_BY_GUADELOUPE),
                           "nom_departement": list(_SERVED_BY_GUADELOUPE.values())}).join(guadeloupe, how="cross")
    return pl.concat([frame, served.select(frame.columns)])

