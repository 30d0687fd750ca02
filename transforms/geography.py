"""Which département is an INSEE commune in? The one rule for every place that places a
declared commune (region attribution, reconciliation, changes, FINESS+ addresses)."""
from __future__ import annotations

import polars as pl


def commune_departement(commune_insee: pl.Expr) -> pl.Expr:
    """COG département of a 5-character INSEE commune code: the first three characters
    overseas (`97x`, and `98x` for the collectivities), else the first two (`2A`/`2B` for
    Corsica, upper-cased)."""
    commune = commune_insee.str.strip_chars().str.to_uppercase()
    return (
        pl.when(commune.str.starts_with("97") | commune.str.starts_with("98")).then(commune.str.slice(0, 3))
        .otherwise(commune.str.slice(0, 2))
    )
