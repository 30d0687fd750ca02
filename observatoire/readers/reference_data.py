"""Which COG region does each département belong to? (bundled INSEE COG 2024 files)"""
from __future__ import annotations

import functools
from importlib import resources

import polars as pl


def _bundled_csv(name: str) -> pl.DataFrame:
    with resources.files("observatoire").joinpath("data", name).open("rb") as handle:
        return pl.read_csv(handle.read(), infer_schema=False)


@functools.cache
def departement_regions() -> pl.DataFrame:
    """code_departement (COG: 01…95, 2A, 2B, 971…976), nom_departement, code_region, nom_region."""
    return _bundled_csv("cog_departements_regions_2024.csv")

