"""`observatoire finess retirer --date D`: withdraw a FINESS snapshot stored by mistake (a
damaged extract a former version accepted, the wrong file), so that the right extract of
that date can be loaded, and name the runs that used it: their campaigns are to be run
again."""
from __future__ import annotations

import argparse
import datetime as dt

from observatoire import warehouse
from observatoire.errors import CampaignError


def add_parsers(sub) -> None:
    finess = sub.add_parser("finess", help="instantanés du référentiel FINESS gardés dans l'entrepôt")
    actions = finess.add_subparsers(dest="finess_command", required=True)
    withdraw = actions.add_parser("retirer", help="retirer un instantané FINESS chargé par erreur")
    withdraw.add_argument("--date", required=True, help="date de l'extrait (sa première ligne), AAAA-MM-JJ ou JJ/MM/AAAA")
    withdraw.add_argument("--warehouse", help="URL de l'entrepôt (défaut : sqlite:///warehouse.db)")


def parse_date(text: str) -> dt.date:
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    raise CampaignError(f"date d'extrait attendue AAAA-MM-JJ ou JJ/MM/AAAA, reçu « {text} »")


def run(args: argparse.Namespace) -> int:
    from observatoire.referential_store import withdraw_snapshot

    date = parse_date(args.date)
    engine = warehouse.connect(args.warehouse)
    warehouse.migrate(engine)
    snapshot, runs = withdraw_snapshot(engine, date)
    print(f"Instantané FINESS du {date:%d/%m/%Y} retiré de l'entrepôt (fichier {snapshot['file']}, "
          f"{snapshot['establishments']} établissements) ; l'historique des ET est reconstruit sans lui.")
    succeeded = [r for r in runs if r["outcome"] == "succeeded"]
    if not succeeded:
        print("Aucune exécution réussie ne l'a utilisé.")
        return 0
    print(f"{len(succeeded)} exécution(s) l'ont utilisé ; relancer ces campagnes avec le bon extrait :")
    for run in succeeded:
        started = run["started_at"].strftime("%d/%m/%Y %H:%M") if run["started_at"] else "?"
        print(f"  {run['run_id']}  exercice {run['campaign_year']}  régions {run['regions'] or 'toutes'}  "
              f"lancée le {started} (UTC)")
    return 0
