"""The `observatoire` command (interfaces.md): `run` consolidates a campaign through the
Prefect flow; `sample` writes the generated sample campaign; `demo` does both; `relance`
writes the ARS correspondents' workbooks; `revue` and `decision` serve the FINESS review
queue."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# No internet here and no telemetry wanted: set before Prefect is imported.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The command prints its own summary and one line per failure; Prefect's logs stay in
# the Prefect UI (set PREFECT_LOGGING_LEVEL=INFO to see them here too).
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")


def _run_parser(sub) -> None:
    run = sub.add_parser("run", help="consolider une campagne")
    run.add_argument("--year", type=int, required=True, help="année d'exercice N (campagne en N+1)")
    run.add_argument("--region", action="append", dest="regions", help="code région COG (répétable)")
    run.add_argument("--submissions", required=True, help="dossier des envois de l'année")
    run.add_argument("--finess", required=True, action="append",
                     help="extrait FINESS data.gouv (répétable : chaque extrait daté est un instantané)")
    run.add_argument("--calendar", help="calendrier CSV annee;finess_et;date_limite")
    run.add_argument("--warehouse", help="URL SQLAlchemy de l'entrepôt (défaut : variable "
                                         "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db)")
    run.add_argument("--output-dir", default="rapports/{annee}",
                     help="dossier des classeurs de retour et de relance (défaut : rapports/{annee})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from observatoire import french_cli

    french_cli.install()
    if argv[:1] == ["sample"]:
        from observatoire.sample.cli import main as sample_main

        return sample_main(argv[1:])
    if argv[:1] == ["relance"]:
        from observatoire.reports.relance import relance_main

        return relance_main(argv[1:])
    parser = argparse.ArgumentParser(prog="observatoire", description="Observatoire des centres de santé")
    parser.add_argument("--version", action="version", version=f"%(prog)s {french_cli.version()}",
                        help="afficher la version et quitter")
    sub = parser.add_subparsers(dest="command", required=True, title="commandes", metavar="COMMANDE")
    _run_parser(sub)
    sub.add_parser("sample", help="générer la campagne d'exemple (--out DIR [--seed N])")
    sub.add_parser("relance", help="classeurs de relance par région (--year N [--region R] [--out DIR])")
    from observatoire import review_cli

    review_cli.add_parsers(sub)
    from observatoire import query_cli

    query_cli.add_parser(sub)
    demo = sub.add_parser("demo", help="générer la campagne d'exemple et la consolider dans warehouse.db")
    demo.add_argument("--out", default="sample", help="dossier où écrire la campagne d'exemple (défaut : sample)")
    demo.add_argument("--warehouse", help="URL de l'entrepôt (défaut : variable OBSERVATOIRE_WAREHOUSE_URL, "
                                          "sinon sqlite:///warehouse.db)")
    demo.add_argument("--output-dir", default="rapports/{annee}", help="dossier des classeurs")
    args = parser.parse_args(argv)

    from observatoire.errors import CampaignError
    from observatoire.sample.generator import SampleError

    try:
        if args.command == "run":
            return _run(args.year, args.regions, args.submissions, args.finess, args.calendar, args.warehouse,
                        args.output_dir)
        if args.command in ("revue", "decision"):
            return review_cli.run(args)
        if args.command == "sql":
            return query_cli.run(args)
        return _demo(Path(args.out), args.warehouse, args.output_dir)
    except (CampaignError, SampleError) as exc:
        print(f"observatoire : {exc}", file=sys.stderr)
        return 2


def _run(year, regions, submissions, finess, calendar, warehouse_url, output_dir=None) -> int:
    from pydantic import ValidationError

    from flows.campaign import consolidate_campaign
    from flows.parameters import CampaignParameters
    from observatoire.errors import CampaignError

    try:
        params = CampaignParameters(year=year, regions=regions or [], submissions=str(submissions),
                                    finess=[str(f) for f in finess], calendar=str(calendar) if calendar else None,
                                    warehouse_url=warehouse_url, output_dir=output_dir)
    except ValidationError as exc:
        from observatoire.french_cli import validation_message

        raise CampaignError("paramètres invalides : " + validation_message(exc, CampaignParameters)) from exc
    print(consolidate_campaign(params=params))
    return 0


def _demo(out: Path, warehouse_url: str | None, output_dir: str | None) -> int:
    from observatoire.sample.generator import generate_sample

    manifest = generate_sample(out)
    print(f"Campagne d'exemple écrite dans {out}/ (voir {manifest.readme})")
    for year in sorted(manifest.campaigns):
        paths = manifest.campaigns[year]
        _run(year, None, paths.submissions_dir, manifest.extracts, paths.calendar, warehouse_url, output_dir)
    print("\nInterrogez l'entrepôt : observatoire sql \"SELECT * FROM v_conformite_region\" "
          "(ou sqlite3 warehouse.db ; voir README, « Interroger l'entrepôt »)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
