"""A run's arguments checked before anything heavy starts (Prefect, reader processes, the
FINESS extracts, a warehouse connection): the folders, files and patterns exist, the
warehouse URL parses. A mistake is one French line (CampaignError) within a second, not
a traceback after the temporary Prefect server has started.

Only the standard library here, and SQLAlchemy's URL parser when there is a URL to parse:
`observatoire run` calls this before importing anything else of the pipeline.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from observatoire.errors import CampaignError

WAREHOUSE_ENV = "OBSERVATOIRE_WAREHOUSE_URL"
DEFAULT_WAREHOUSE = "sqlite:///warehouse.db"
# `postgresql+psycopg:…`, `sqlite:…`: a scheme, so a URL (well formed or not), not a file name
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")

# How each argument is named in the message: its option on the command line, its title
# in the Prefect UI's run form.
CLI = {"submissions": "--submissions", "finess": "--finess", "calendar": "--calendar", "warehouse": "--warehouse"}
FORM = {"submissions": "« Dossier des envois »", "finess": "« Extraits FINESS »",
        "calendar": "« Calendrier »", "warehouse": "« URL de l'entrepôt »"}


@dataclass
class Checked:
    """What the run uses after the checks: the calendar file (None when there is none to
    read) and the warehouse URL (a plain path turned into an SQLite URL; None when none was
    given here), with the lines to tell the user about either."""

    calendar: str | None
    warehouse_url: str | None
    notes: list[str] = field(default_factory=list)


def with_year(template: str, year: int) -> str:
    return template.replace("{annee}", str(year))


# ------------------------------------------------------------------ warehouse URL
def sqlite_url_for_path(text: str) -> str | None:
    """`warehouse.db`, `data/entrepot.db`, `/srv/entrepot.db`: a plain path, no scheme, is
    taken as an SQLite file; None for anything with a scheme (a URL, right or wrong)."""
    text = text.strip()
    if not text or _SCHEME.match(text):
        return None
    return f"sqlite:///{text}"


def hide_password(text: str) -> str:
    """`scheme://user:secret@host` → `scheme://user:***@host`, for a URL too broken for
    SQLAlchemy to render without its password."""
    return _PASSWORD.sub(r"\1***@", text)


def warehouse_url(given: str | None, environ=None) -> tuple[str, str | None]:
    """The warehouse URL a command uses (given, else OBSERVATOIRE_WAREHOUSE_URL, else the
    SQLite file warehouse.db) and, when it was a plain path taken as an SQLite file, the
    line that says so. A URL that does not parse, or names no SQLAlchemy dialect, is one line."""
    environ = os.environ if environ is None else environ
    text = (given or "").strip() or environ.get(WAREHOUSE_ENV, "").strip() or DEFAULT_WAREHOUSE
    as_file = sqlite_url_for_path(text)
    if as_file is not None:
        return as_file, f"« {text} » n'est pas une URL : pris comme le fichier SQLite {as_file}"
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(text)
        url.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise CampaignError(
            f"URL d'entrepôt inconnue : « {hide_password(text)} » (pilote « {text.split(':', 1)[0]} » inconnu ; "
            "attendu sqlite:///fichier.db ou postgresql+psycopg://utilisateur@hôte/base)."
        ) from None
    except (sa.exc.ArgumentError, ValueError):
        raise CampaignError(
            f"URL d'entrepôt illisible : « {hide_password(text)} » (attendu sqlite:///fichier.db ou "
            "postgresql+psycopg://utilisateur@hôte/base)."
        ) from None
    return text, None


# ------------------------------------------------------------------ paths
def _readable(path: Path) -> bool:
    return os.access(path, os.R_OK)


def check_submissions(template: str, year: int, names: dict = CLI) -> Path:
    path = Path(with_year(template, year))
    if not path.exists():
        raise CampaignError(f"Dossier des envois introuvable : {path} ({names['submissions']} : un dossier "
                            "existant est attendu, celui des fichiers reçus de l'année).")
    if not path.is_dir():
        raise CampaignError(f"{path} n'est pas un dossier ({names['submissions']} attend le dossier des "
                            "fichiers reçus de l'année).")
    if not (_readable(path) and os.access(path, os.X_OK)):
        raise CampaignError(f"Dossier des envois illisible (droits) : {path} ({names['submissions']}).")
    return path


def check_finess(entries: list[str], names: dict = CLI) -> list[Path]:
    """Each entry a file, or a glob pattern matching at least one file."""
    if not entries:
        raise CampaignError(f"Aucun extrait FINESS donné ({names['finess']} : au moins un fichier attendu).")
    files = []
    for entry in entries:
        if glob.has_magic(entry):
            matches = sorted(Path(match) for match in glob.glob(entry))
            if not matches:
                raise CampaignError(f"Aucun extrait FINESS ne correspond à « {entry} » ({names['finess']}).")
            files += matches
        else:
            files.append(Path(entry))
    for path in files:
        if not path.exists():
            raise CampaignError(f"Extrait FINESS introuvable : {path} ({names['finess']}).")
        if path.is_dir():
            raise CampaignError(f"{path} est un dossier ({names['finess']} attend un fichier d'extrait, ou un "
                                f"motif comme {path}/*.csv).")
        if not _readable(path):
            raise CampaignError(f"Extrait FINESS illisible (droits) : {path} ({names['finess']}).")
    return files


def check_calendar(template: str | None, year: int, *, optional: bool = False,
                   names: dict = CLI) -> tuple[str | None, str | None]:
    """The calendar file to read (None: none) and a note. A calendar the user gave must
    exist; an `optional` one (the data layout's default, set by the deployment) may be
    absent: the default deadline then applies, and the note says so."""
    if not template:
        return None, None
    path = Path(with_year(template, year))
    if not path.exists():
        if optional:
            return None, (f"Pas de calendrier {path} : date limite par défaut (dernier jour de février "
                          f"{year + 1}), aucune dérogation.")
        raise CampaignError(f"Calendrier introuvable : {path} ({names['calendar']} : fichier CSV "
                            "annee;finess_et;date_limite attendu).")
    if path.is_dir():
        raise CampaignError(f"{path} est un dossier ({names['calendar']} attend un fichier CSV "
                            "annee;finess_et;date_limite).")
    if not _readable(path):
        raise CampaignError(f"Calendrier illisible (droits) : {path} ({names['calendar']}).")
    return str(path), None


def check_run(year: int, submissions: str, finess: list[str], calendar: str | None, warehouse: str | None,
              *, calendar_optional: bool = False, names: dict = CLI) -> Checked:
    """Every check of a campaign run's arguments, in the order a person reads them."""
    check_submissions(str(submissions), year, names)
    check_finess([str(entry) for entry in finess], names)
    calendar_file, calendar_note = check_calendar(str(calendar) if calendar else None, year,
                                                  optional=calendar_optional, names=names)
    notes = [calendar_note] if calendar_note else []
    url = None
    if warehouse and warehouse.strip():
        url, warehouse_note = warehouse_url(warehouse)
        if warehouse_note:
            notes.append(warehouse_note)
    return Checked(calendar_file, url, notes)


def for_command_line(year: int, submissions, finess, calendar, warehouse: str | None,
                     stderr=None) -> tuple[str | None, str]:
    """`observatoire run`'s checks: the calendar file and the warehouse URL to use (given,
    else OBSERVATOIRE_WAREHOUSE_URL, else warehouse.db), the notes on stderr."""
    import sys

    checked = check_run(year, str(submissions), [str(entry) for entry in finess], calendar, None)
    url, note = warehouse_url(warehouse)
    for line in checked.notes + ([note] if note else []):
        print(f"observatoire : {line}", file=stderr or sys.stderr)
    return checked.calendar, url


def say_plain_path(warehouse: str | None, prefix: str = "observatoire", stderr=None) -> None:
    """For the commands that read the warehouse: the line saying that a plain path is
    taken as an SQLite file (the URL itself is resolved again by warehouse.connect)."""
    import sys

    _, note = warehouse_url(warehouse)
    if note:
        print(f"{prefix} : {note}", file=stderr or sys.stderr)
