"""What must an analyst decide, and what did analysts decide?

`reconciliation_review` lists, per campaign, the submissions whose FINESS the machine
would not decide (ambiguous EJ, close names); `reconciliation_decision` keeps the
analysts' answers, keyed on the declared value, and every later run and year applies them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError
from observatoire.warehouse import write_transaction
from transforms.finess_key import is_valid_finess
from transforms.geography import commune_departement
from transforms.reconcile import declared_key

def read_decisions(engine: Engine) -> pl.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT declared_key, finess_et FROM reconciliation_decision")).all()
    return pl.DataFrame([tuple(r) for r in rows], schema={"declared_key": pl.String, "finess_et": pl.String},
                        orient="row")


def decide(engine: Engine, declared: str, finess_et: str | None, decided_by: str, comment: str | None = None,
           raison_sociale: str | None = None, commune_insee: str | None = None,
           force: bool = False) -> Decision:
    """Record an analyst's decision for a declared value (a FINESS as typed, or a name and
    commune); `finess_et` None means "this is no centre". The chosen ET must be a centre de
    santé of the referential, in the département of the declared commune (`force` accepts
    another département). The replaced decision stays in the history."""
    if finess_et is not None and not is_valid_finess(finess_et):
        raise CampaignError(f"Décision refusée : « {finess_et} » n'est pas un numéro FINESS valide.")
    key = declared if declared.startswith(("FINESS:", "NOM:")) else pl.DataFrame(
        {"f": [declared or None], "n": [raison_sociale], "c": [commune_insee]}, schema={"f": pl.String, "n": pl.String,
                                                                                      "c": pl.String}
    ).select(declared_key(pl.col("f"), pl.col("n"), pl.col("c")))[0, 0]
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with write_transaction(engine) as connection:
        if finess_et is not None:
            _check_target(connection, key, finess_et, commune_insee, force)
        previous = connection.execute(sa.text(
            "SELECT finess_et, decided_by, decided_at, comment FROM reconciliation_decision WHERE declared_key = :k"
        ), {"k": key}).first()
        connection.execute(sa.text(
            "UPDATE reconciliation_decision_history SET replaced_at = :t WHERE declared_key = :k AND replaced_at IS NULL"
        ), {"k": key, "t": now})
        connection.execute(sa.text("DELETE FROM reconciliation_decision WHERE declared_key = :k"), {"k": key})
        for table in ("reconciliation_decision", "reconciliation_decision_history"):
            connection.execute(sa.text(
                f"INSERT INTO {table} (declared_key, finess_et, decided_by, decided_at, comment) "
                "VALUES (:k, :f, :b, :t, :c)"
            ), {"k": key, "f": finess_et, "b": decided_by, "c": comment, "t": now})
    return Decision(key, None if previous is None else tuple(previous))


@dataclass(frozen=True)
class Decision:
    key: str
    replaced: tuple | None  # (finess_et, decided_by, decided_at, comment) of the decision it replaced


def _check_target(connection, key: str, finess_et: str, commune_insee: str | None, force: bool) -> None:
    """The chosen ET exists, is a centre de santé, and lies in the declared commune's
    département (read from the review queue when the command was not given it)."""
    known = connection.execute(sa.text(
        "SELECT cog_departement, is_centre_de_sante, raison_sociale FROM finess_et_history WHERE finess_et = :f "
        "ORDER BY valid_from DESC"
    ), {"f": finess_et}).first()
    if known is None:
        raise CampaignError(f"Décision refusée : l'ET {finess_et} n'est dans aucun extrait FINESS chargé dans "
                            "l'entrepôt (vérifier le numéro, ou charger l'extrait qui le contient).")
    departement, is_centre, name = known
    if not is_centre:
        raise CampaignError(f"Décision refusée : l'ET {finess_et} ({name}) n'est pas un centre de santé dans FINESS.")
    communes = {commune_insee} if commune_insee else {
        c for (c,) in connection.execute(sa.text(
            "SELECT DISTINCT commune_insee FROM reconciliation_review WHERE declared_key = :k "
            "AND commune_insee IS NOT NULL"), {"k": key})}
    place = key.rsplit("|", 1)[1] if key.startswith("NOM:") else ""
    if place and not place.startswith("CP"):  # a name key holds its commune (or a postal code)
        communes.add(place)
    declared = {d for (d,) in pl.DataFrame({"c": sorted(communes)}, schema={"c": pl.String})
                .select(commune_departement(pl.col("c"))).iter_rows()}
    if declared and departement not in declared and not force:
        raise CampaignError(
            f"Décision refusée : l'ET {finess_et} ({name}) est dans le département {departement}, la commune "
            f"déclarée ({', '.join(sorted(communes))}) dans le {', '.join(sorted(declared))} ; "
            "ajouter --forcer si c'est bien lui."
        )
