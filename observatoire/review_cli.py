"""`observatoire revue` and `observatoire decision`: the analyst's side of the review
queue. `revue` lists the submissions whose FINESS the machine would not decide, with
their candidates; `decision` records the answer, applied by every later run and year
for the same declared value (the same can be done in SQL on reconciliation_decision)."""
from __future__ import annotations

import argparse
import getpass
import re

# sqlalchemy and the warehouse are imported by `run`: building the command line of
# `observatoire` must not cost their import (its argument checks answer within a second)


def add_parsers(sub) -> None:
    review = sub.add_parser("revue", help="lister les rapprochements FINESS à arbitrer")
    review.add_argument("--year", type=int, help="année d'exercice (défaut : toutes)")
    review.add_argument("--warehouse", help="URL de l'entrepôt, qui doit exister (défaut : variable "
                                            "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db)")
    decision = sub.add_parser("decision", help="enregistrer l'arbitrage d'un analyste")
    decision.add_argument("--declare", required=True,
                          help="valeur déclarée : le FINESS tel que saisi, ou la clé affichée par « revue »")
    target = decision.add_mutually_exclusive_group(required=True)
    target.add_argument("--finess", help="FINESS ET retenu")
    target.add_argument("--aucun", action="store_true", help="ce n'est aucun centre de santé attendu")
    decision.add_argument("--commentaire", help="justification gardée avec la décision (facultatif)")
    decision.add_argument("--forcer", action="store_true",
                          help="accepter un ET d'un autre département que la commune déclarée")
    decision.add_argument("--par", default=None, help="auteur de la décision (défaut : utilisateur courant)")
    decision.add_argument("--warehouse", help="URL de l'entrepôt, qui doit exister (défaut : variable "
                                              "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db)")


def run(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from observatoire import preflight, warehouse
    from observatoire.errors import CampaignError
    from observatoire.review_store import decide

    # both need a warehouse a run has filled: a mistyped path is one line, not a new file
    preflight.say_plain_path(args.warehouse)
    engine = warehouse.connect(args.warehouse, existing=True)
    if args.command == "revue":  # reads only: no migration either
        try:
            with engine.connect() as connection:
                cases = _review_cases(connection, args.year)
        except sa.exc.OperationalError as exc:  # a warehouse older than the review queue
            raise CampaignError(f"entrepôt illisible ({str(exc.orig).strip().splitlines()[0]}) ; relancer "
                                "observatoire run pour le mettre à jour.") from exc
        print("\n".join(review_text(*cases)))
        return 0
    warehouse.migrate(engine)
    decision = decide(engine, args.declare, None if args.aucun else args.finess.strip().upper(),
                      args.par or getpass.getuser(), args.commentaire, force=args.forcer)
    if decision.replaced is not None:
        finess, by, at, comment = decision.replaced
        print(f"Remplace la décision du {str(at)[:10]} de {by} ({finess or 'aucun centre'}"
              f"{f', « {comment} »' if comment else ''}), gardée dans l'historique.")
    print(f"Décision enregistrée pour {decision.key} : {'aucun centre' if args.aucun else args.finess}. "
          "Elle s'applique aux prochaines exécutions, toutes années.")
    return 0


_REVIEW_SQL = """
SELECT r.campaign_year, r.region_code, r.source_file, s.source_row, r.declared_finess_et, r.raison_sociale,
       r.commune_insee, r.declared_key, r.candidates
FROM reconciliation_review r LEFT JOIN submission s ON s.submission_id = r.submission_id
{where} ORDER BY r.campaign_year, r.region_code, r.source_file, s.source_row
"""


def _review_cases(connection, year: int | None) -> tuple[list[tuple], dict[str, tuple]]:
    """The review queue (of `year`, else every year) and, for each candidate ET, its latest
    name and town in the referential."""
    import sqlalchemy as sa

    rows = [tuple(r) for r in connection.execute(
        sa.text(_REVIEW_SQL.format(where="WHERE r.campaign_year = :year" if year else "")), {"year": year})]
    wanted = sorted({et for row in rows for et in _candidate_ets(row[8])})
    names: dict[str, tuple] = {}
    if wanted:
        found = connection.execute(sa.text(
            "SELECT finess_et, coalesce(raison_sociale_longue, raison_sociale), commune_libelle FROM finess_et_history "
            "WHERE finess_et IN :ets ORDER BY valid_from").bindparams(sa.bindparam("ets", expanding=True)),
            {"ets": wanted})
        names = {et: (name, town) for et, name, town in found}  # the latest period last: it stays
    return rows, names


def _candidate_ets(candidates: str | None) -> list[str]:
    """The ETs of a candidates text: `ET (score), …`, or `EJ <n> : ET, ET` (the EJ is no candidate)."""
    from transforms.finess_key import FINESS_PATTERN  # imports polars: not when the command line is built

    return re.findall(rf"\b{FINESS_PATTERN.strip('^$')}\b", re.sub(r"^EJ \S+ :", "", candidates or ""))


def review_text(rows: list[tuple], names: dict[str, tuple]) -> list[str]:
    """What `revue` prints: each case with where it was read, what was declared, the key a
    decision is recorded under, and each candidate's name, then how to decide."""
    if not rows:
        return ["Aucun rapprochement à arbitrer."]
    lines = []
    for year, region, source, row, finess, name, commune, key, candidates in rows:
        where = f"{source}, ligne {row}" if row is not None else source
        declared = [f"FINESS « {finess} »" if finess else "sans FINESS"]
        declared += [f"« {name} »"] if name else []
        declared += [f"commune {commune}"] if commune else []
        lines += [f"{year}  région {region or '?'}  {where}", f"    déclaré : {', '.join(declared)}",
                  f"    clé : {key}", f"    candidats : {candidates or '—'}"]
        for et in _candidate_ets(candidates):
            label, town = names.get(et, (None, None))
            lines.append(f"      {et}  {label or '(inconnu du référentiel)'}{f' ({town})' if town else ''}")
    lines += ["", f"{len(rows)} cas à arbitrer. Pour trancher : observatoire decision --declare \"<clé>\" "
                  "--finess <ET retenu> (ou --aucun), puis relancer observatoire run pour l'année."]
    return lines
