"""What must an analyst decide, and what did analysts decide?

`reconciliation_review` lists, per campaign, the submissions whose FINESS the machine
would not decide (ambiguous EJ, close names); `reconciliation_decision` keeps the
analysts' answers, keyed on the declared value, and every later run and year applies them.
"""
from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError
from observatoire.warehouse import write_transaction
from transforms.finess_key import is_valid_finess
from transforms.reconcile import declared_key

def read_decisions(engine: Engine) -> pl.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT declared_key, finess_et FROM reconciliation_decision")).all()
    return pl.DataFrame([tuple(r) for r in rows], schema={"declared_key": pl.String, "finess_et": pl.String},
                        orient="row")


def decide(engine: Engine, declared: str, finess_et: str | None, decided_by: str, comment: str | None = None,
           raison_sociale: str | None = None, commune_insee: str | None = None) -> str:
    """Record an analyst's decision for a declared value (a FINESS as typed, or a name and
    commune); `finess_et` None means "this is no centre". Returns the declared key."""
    if finess_et is not None and not is_valid_finess(finess_et):
        raise CampaignError(f"Décision refusée : « {finess_et} » n'est pas un numéro FINESS valide.")
    key = declared if declared.startswith(("FINESS:", "NOM:")) else pl.DataFrame(
        {"f": [declared or None], "n": [raison_sociale], "c": [commune_insee]}, schema={"f": pl.String, "n": pl.String,
                                                                                      "c": pl.String}
    ).select(declared_key(pl.col("f"), pl.col("n"), pl.col("c")))[0, 0]
    with write_transaction(engine) as connection:
        connection.execute(sa.text("DELETE FROM reconciliation_decision WHERE declared_key = :k"), {"k": key})
        connection.execute(sa.text(
            "INSERT INTO reconciliation_decision (declared_key, finess_et, decided_by, decided_at, comment) "
            "VALUES (:k, :f, :b, :t, :c)"
        ), {"k": key, "f": finess_et, "b": decided_by, "c": comment,
            "t": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    return key
