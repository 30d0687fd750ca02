"""The `observatoire` command (interfaces.md): `run` consolidates a campaign (in this
process, or as a flow run when a Prefect server is configured); `sample` writes the
generated sample campaign; `demo` does both; `relance` writes the ARS correspondents'
workbooks, `retours` one feedback workbook per centre; `revue` and `decision` serve the
FINESS review queue."""
from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from pathlib import Path

from observatoire import preflight

# No internet here and no telemetry wanted: set before Prefect is imported.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The command prints its own summary and one line per failure; Prefect's logs stay in
# the Prefect UI (set PREFECT_LOGGING_LEVEL=INFO to see them here too).
_PREFECT_QUIET = "PREFECT_LOGGING_LEVEL" not in os.environ
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")


WAREHOUSE_HELP = ("URL SQLAlchemy de l'entrepôt (défaut : OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db) ; "
                  "un simple chemin comme entrepot.db est pris comme fichier SQLite. PostgreSQL : délai de "
                  "connexion 10 s, OBSERVATOIRE_DB_TIMEOUT ou ?connect_timeout=N dans l'URL pour le changer")


RUN_DESCRIPTION = (
    "Consolide une campagne. Sans serveur Prefect configuré (ni PREFECT_API_URL dans "
    "l'environnement, ni dans le profil Prefect actif), la consolidation tourne dans ce processus, "
    "sans démarrer de serveur Prefect. Avec un serveur configuré, la même consolidation est une "
    "exécution du flow « consolidation-campagne » sur ce serveur, avec ses artefacts (synthèse, "
    "centres à relancer, progression). Sur un terminal, la progression s'affiche sur stderr."
)


def _run_parser(sub) -> None:
    run = sub.add_parser("run", help="consolider une campagne", description=RUN_DESCRIPTION)
    run.add_argument("--year", type=int, required=True, help="année d'exercice N (campagne en N+1)")
    run.add_argument("--region", action="append", dest="regions", help="code région COG (répétable)")
    run.add_argument("--submissions", required=True,
                     help="dossier des envois de l'année (doit exister ; {annee} = l'année d'exercice)")
    run.add_argument("--finess", required=True, action="append",
                     help="extrait FINESS data.gouv ou fichier FINESS+ Structures .json/.json.gz, reconnu à "
                          "son contenu ; fichier ou motif comme finess/*.csv (répétable : chaque fichier daté est "
                          "un instantané)")
    run.add_argument("--calendar", help="calendrier CSV annee;finess_et;date_limite (doit exister s'il est donné)")
    run.add_argument("--warehouse", help=WAREHOUSE_HELP)
    run.add_argument("--output-dir", default="rapports/{annee}",
                     help="dossier des classeurs de retour et de relance (défaut : rapports/{annee})")
    # the guard names, listed without importing polars here (`observatoire --help` stays quick)
    run.add_argument("--force", action="append", default=[], metavar="GARDE",
                     help="passer outre une garde nommée par un refus (répétable) : aucun-envoi, autre-exercice, "
                          "exercice-en-cours, region-inconnue, centres-perdus, finess-reduit")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # the reader of a pipe went away (`observatoire revue | head`): what was written was
        # read; stop quietly, as a command killed by SIGPIPE does (exit 128 + 13)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush at exit either
        return 141


def command() -> None:
    """The console script (and `python -m observatoire.cli`): `main`, then the process
    exits without tearing the interpreter down. Freeing every module and frame one by one
    costs a run 0.3–0.4 s after its work is done, which the user waits for and which
    serves nothing: the warehouse's transactions are committed, its connections end with
    the process. What the process must still do at exit is done first: the `atexit`
    functions (log handlers, multiprocessing's children, temporary folders), and the
    output is flushed. Before them, as in the ordinary exit, threading's exit functions
    (Prefect's event and log workers send what they hold) and the threads that are not
    daemons are waited for."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, bad arguments
        code = exc.code
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    # the ordinary exit's order (see above); concurrent.futures joins its executors' threads
    # from one of threading's exit functions
    threading._shutdown()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 141
    os._exit(code)


def _main(argv: list[str]) -> int:
    from observatoire import french_cli

    french_cli.install()
    if argv[:1] == ["sample"]:
        from observatoire.sample.cli import main as sample_main

        return sample_main(argv[1:])
    if argv[:1] == ["relance"]:
        from observatoire.reports.relance import relance_main

        return relance_main(argv[1:])
    if argv[:1] == ["retours"]:
        from observatoire.reports.feedback import retours_main

        return retours_main(argv[1:])
    if argv[:1] == ["run"]:  # without the other commands' imports: a refused run answers within a second
        return _run_command(argv)
    parser = argparse.ArgumentParser(prog="observatoire", description="Observatoire des centres de santé")
    parser.add_argument("--version", action="version", version=f"%(prog)s {french_cli.version()}",
                        help="afficher la version et quitter")
    sub = parser.add_subparsers(dest="command", required=True, title="commandes", metavar="COMMANDE")
    _run_parser(sub)
    sub.add_parser("sample", help="générer la campagne d'exemple (--out DIR [--seed N])")
    sub.add_parser("relance", help="classeurs de relance par région (--year N [--region R] [--out DIR])")
    sub.add_parser("retours", help="un classeur de retour par centre, ses seules anomalies (--year N [--region R] "
                                   "[--out DIR])")
    from observatoire import review_cli

    review_cli.add_parsers(sub)
    from observatoire import finess_cli, query_cli

    finess_cli.add_parsers(sub)
    query_cli.add_parser(sub)
    demo = sub.add_parser("demo", help="générer la campagne d'exemple et la consolider dans warehouse.db")
    demo.add_argument("--out", default="sample", help="dossier où écrire la campagne d'exemple (défaut : sample)")
    demo.add_argument("--warehouse", help="URL de l'entrepôt (défaut : variable OBSERVATOIRE_WAREHOUSE_URL, "
                                          "sinon sqlite:///warehouse.db)")
    demo.add_argument("--output-dir", default="rapports/{annee}", help="dossier des classeurs")
    args = parser.parse_args(argv)

    from observatoire.errors import CampaignError

    expected: tuple[type[Exception], ...] = (CampaignError,)
    if args.command == "demo":  # the generator imports openpyxl: only for the demo
        from observatoire.sample.generator import SampleError

        expected += (SampleError,)
    try:
        if args.command in ("revue", "decision"):
            return review_cli.run(args)
        if args.command == "finess":
            return finess_cli.run(args)
        if args.command == "sql":
            return query_cli.run(args)
        return _demo(Path(args.out), args.warehouse, args.output_dir)
    except expected as exc:
        print(f"observatoire : {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGTERM (pipeline.RunInterrupted) or Ctrl-C
        return _interrupted(exc)


def _interrupted(exc: KeyboardInterrupt) -> int:
    name = str(exc) or "SIGINT"
    print(f"observatoire : exécution interrompue ({name}) ; elle est notée « interrupted » dans pipeline_run",
          file=sys.stderr)
    return 128 + (15 if name == "SIGTERM" else 2)


def _run_command(argv: list[str]) -> int:
    """`observatoire run` without the other commands' imports (SQLAlchemy, Polars): a run
    refused on its arguments answers within a second."""
    parser = argparse.ArgumentParser(prog="observatoire", description="Observatoire des centres de santé")
    _run_parser(parser.add_subparsers(dest="command", required=True, title="commandes", metavar="COMMANDE"))
    args = parser.parse_args(argv)
    from observatoire.errors import CampaignError

    try:
        return _run(args.year, args.regions, args.submissions, args.finess, args.calendar, args.warehouse,
                    args.output_dir, force=args.force)
    except CampaignError as exc:
        print(f"observatoire : {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGTERM (pipeline.RunInterrupted) or Ctrl-C
        return _interrupted(exc)


def _run(year, regions, submissions, finess, calendar, warehouse_url, output_dir=None, serverless=False,
         force=()) -> int:
    # the paths and the warehouse URL, checked before Prefect, the readers or the warehouse start
    calendar, warehouse_url = preflight.for_command_line(year, submissions, finess, calendar, warehouse_url)
    from pydantic import ValidationError

    from flows.parameters import CampaignParameters
    from observatoire.errors import CampaignError
    from observatoire.run_guards import check_arguments

    try:
        params = CampaignParameters(year=year, regions=regions or [], submissions=str(submissions),
                                    finess=[str(f) for f in finess], calendar=str(calendar) if calendar else None,
                                    warehouse_url=warehouse_url, output_dir=output_dir, force=list(force or []))
    except ValidationError as exc:
        from observatoire.french_cli import validation_message

        raise CampaignError("paramètres invalides : " + validation_message(exc, CampaignParameters)) from exc
    # The arguments are all known here and nothing heavy has started yet (no reader process,
    # no Prefect, no warehouse connection): the place for checks that must answer at once.
    check_arguments(params.exercise_year(), params.regions, params.force)
    if not serverless and prefect_api_url():
        from flows.campaign import consolidate_campaign

        _run_logs_to_the_server()
        _out_of_gc()
        print(consolidate_campaign(params=params))
        return 0
    from observatoire import pipeline
    from observatoire.terminal import TerminalProgress

    _out_of_gc()
    progress = TerminalProgress(sys.stderr)
    try:
        run = pipeline.run_campaign(params, progress)
    finally:
        progress.clear()
    print(run.summary)
    return 0


def _run_logs_to_the_server() -> None:
    """PREFECT_LOGGING_LEVEL=CRITICAL, set above to keep Prefect quiet on the terminal, is
    also the level the loggers of the flow run and of its task runs inherit: their records
    would never reach the server. They log at INFO again, to the server only (their own
    handler, not the terminal's). Left as they are when the user set PREFECT_LOGGING_LEVEL."""
    if not _PREFECT_QUIET:
        return
    import logging

    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _out_of_gc() -> None:
    """What the process holds now, the modules imported above all, stays until it exits:
    out of the way of the cyclic garbage collector (gc.freeze), whose full collections
    would walk it again and again during the run (with Prefect imported, 150,000 objects).
    The exit does not walk it either: `command` skips the interpreter's teardown."""
    import gc

    gc.freeze()


def prefect_api_url(environ=None, cwd: Path | None = None) -> str | None:
    """The Prefect API this command would use, found without importing Prefect (2-3 s):
    PREFECT_API_URL from the environment, else from a `.env` or `prefect.toml` of the
    current folder, else from the active profile of Prefect's profiles file
    (PREFECT_PROFILES_PATH, else PREFECT_HOME/profiles.toml, else ~/.prefect/profiles.toml;
    the profile named by PREFECT_PROFILE, else the file's `active` one). Prefect's own
    order of precedence; None when none is set."""
    import tomllib

    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    if "PREFECT_API_URL" in environ:
        return environ["PREFECT_API_URL"].strip() or None
    dotenv = cwd / ".env"
    if dotenv.is_file():
        for line in dotenv.read_text("utf-8", errors="replace").splitlines():
            name, _, value = line.strip().removeprefix("export ").partition("=")
            if name.strip() == "PREFECT_API_URL":
                return value.strip().strip("\"'") or None

    def _toml(path: Path) -> dict:
        try:
            return tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return {}

    local = _toml(cwd / "prefect.toml")
    url = (local.get("api") or {}).get("url") if isinstance(local.get("api"), dict) else None
    if url:
        return str(url)
    home = Path(environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = _toml(Path(environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    active = environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = (profiles.get("profiles") or {}).get(active) or {}
    return str(profile.get("PREFECT_API_URL") or "").strip() or None


def _demo(out: Path, warehouse_url: str | None, output_dir: str | None) -> int:
    from observatoire.sample.generator import generate_sample

    manifest = generate_sample(out)
    print(f"Campagne d'exemple écrite dans {out}/ (voir {manifest.readme})")
    for year in sorted(manifest.campaigns):
        paths = manifest.campaigns[year]
        # in this process whatever Prefect settings say: the demo needs no server
        _run(year, None, paths.submissions_dir, manifest.extracts, paths.calendar, warehouse_url, output_dir,
             serverless=True)
    print("\nInterrogez l'entrepôt : observatoire sql \"SELECT * FROM v_conformite_region\" "
          "(ou sqlite3 warehouse.db ; voir README, « Interroger l'entrepôt »)")
    print(f"Rapprochements FINESS à arbitrer : observatoire revue --year {max(manifest.campaigns)} "
          "(puis observatoire decision ; voir README, « Rapprochement des FINESS et file d'arbitrage »)")
    return 0


if __name__ == "__main__":
    command()
