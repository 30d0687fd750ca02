"""`observatoire revue` and `observatoire decision`: the analyst's side of the review
queue. `revue` lists the submissions whose FINESS the machine would not decide, with
their candidates; `decision` records the answer, applied by every later run and year
for the same declared value (the same can be done in SQL on reconciliation_decision)."""
from __future__ import annotations

import argparse
import getpass

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
        where = "WHERE campaign_year = :year" if args.year else ""
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text(
                    "SELECT campaign_year, region_code, source_file, declared_key, candidates "
                    f"FROM reconciliation_review {where} ORDER BY campaign_year, region_code, source_file"
                ), {"year": args.year}).all()
        except sa.exc.OperationalError as exc:  # a warehouse older than the review queue
            raise CampaignError(f"entrepôt illisible ({str(exc.orig).strip().splitlines()[0]}) ; relancer "
                                "observatoire run pour le mettre à jour.") from exc
        if not rows:
            print("Aucun rapprochement à arbitrer.")
        for year, region, source, key, candidates in rows:
            print(f"{year}  région {region or '?'}  {source}\n    clé : {key}\n    candidats : {candidates or '—'}")
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
