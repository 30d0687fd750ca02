"""Does a run look like a mistake? (campaign-rules.md, "Reruns and mistakes")

Each guard is a pure function over what the run was given or has computed, returning a
`Refusal` (what looks wrong, in French, and the name of the guard a person passes to go on
anyway) or None. The caller stops the run before anything is replaced when a refusal is
not overridden (`first_refusal`). Plausibility rules of the inputs that cannot be
overridden (a FINESS extract in the wrong encoding, an implausible calendar) are here
too: they return the French problem, the caller refuses the file.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transforms.campaign_calendar import exercise_over

if TYPE_CHECKING:
    import polars as pl

# The argument guards (and the guard names, which the run form lists) run before anything
# heavy is loaded, so that a refused command answers within a second: the functions over
# frames import Polars themselves.

# ------------------------------------------------------------------ guard names
# The names a person gives to go on anyway (`observatoire run --force NAME`, Prefect
# form field "Gardes à passer outre"): French, since the person reads them in the message.
NO_FILES = "aucun-envoi"
OTHER_EXERCISE = "autre-exercice"
EXERCISE_NOT_OVER = "exercice-en-cours"
UNKNOWN_REGION = "region-inconnue"
ON_TIME_LOST = "centres-perdus"
FINESS_SHRUNK = "finess-reduit"
GUARDS = (NO_FILES, OTHER_EXERCISE, EXERCISE_NOT_OVER, UNKNOWN_REGION, ON_TIME_LOST, FINESS_SHRUNK)

# ------------------------------------------------------------------ thresholds
# "Most submissions declare another exercise year": more than half of the submissions that
# declare one. A few centres typing last year's number is ordinary (each gets an error);
# most of them doing so means the folder of another year was given.
OTHER_EXERCISE_MAX_SHARE = 0.5
# "Most of the campaign's on-time centres would turn missing": more than half of the centres
# the warehouse holds as on time for the run's regions. An on-time centre only becomes
# missing when its file is gone or no longer resolves: many of them at once is a folder not
# mounted, the wrong folder, or the wrong referential.
ON_TIME_LOST_MAX_SHARE = 0.5
# A FINESS snapshot with fewer than this share of the centres de santé of the neighbouring
# snapshot is an extract cut short (centres de santé open and close by a few percent a
# year nationally; losing a fifth in one extract has never been a real event).
FINESS_MIN_CENTRES_SHARE = 0.8
# ... when the neighbouring snapshot has at least this many: a handful of centres (a test
# referential, a few lines copied out of an extract) may lose one of three for real, and
# the national extract holds thousands.
FINESS_SHRINK_MIN_CENTRES = 20
# A date limite for exercise N is in N+1 (campaign-rules.md: due before 1 March N+1, moved
# by the ARS, extended per centre). A date outside that year is a typo (1900, 2205) or the
# row of another campaign.
DEADLINE_YEARS_AFTER_EXERCISE = 1


@dataclass(frozen=True)
class Refusal:
    guard: str
    problem: str  # French, what looks wrong

    def message(self) -> str:
        """The one French line a person reads: what looks wrong, that nothing was replaced,
        and how to go on anyway."""
        end = " " if self.problem.endswith("?") else ". "
        return (f"Exécution refusée, rien n'est remplacé : {self.problem}{end}Si c'est bien voulu, relancer avec "
                f"--force {self.guard} (formulaire Prefect : « Gardes à passer outre »).")


def first_refusal(refusals, forced=()) -> Refusal | None:
    """The first refusal whose guard was not overridden."""
    return next((r for r in refusals if r is not None and r.guard not in set(forced)), None)


# ------------------------------------------------------------------ the run's arguments
def exercise_not_over(year: int, today: dt.date) -> Refusal | None:
    """Exercise N is reported on from 1 January N+1 (`today`: the Paris date)."""
    if exercise_over(year, today):
        return None
    return Refusal(EXERCISE_NOT_OVER, f"l'exercice {year} n'est pas terminé (nous sommes le {today:%d/%m/%Y}, "
                                      f"heure de Paris ; la campagne {year} a lieu en {year + 1})")


def unknown_regions(regions: list[str], cog_regions: list[str]) -> Refusal | None:
    unknown = [code for code in regions if code not in set(cog_regions)]
    if not unknown:
        return None
    return Refusal(UNKNOWN_REGION, f"{'la région' if len(unknown) == 1 else 'les régions'} {', '.join(unknown)} "
                                   f"n'{'est' if len(unknown) == 1 else 'sont'} pas une région du COG "
                                   f"(codes connus : {', '.join(sorted(cog_regions))})")


# ------------------------------------------------------------------ the run's data
def no_submission_files(n_files: int, folder: str) -> Refusal | None:
    if n_files:
        return None
    return Refusal(NO_FILES, f"le dossier des envois {folder} ne contient aucun fichier d'envoi "
                             "(.xlsx, .xls, .ods, .csv) : partage non monté ou mauvais dossier ?")


def other_exercise(declared_years: pl.Series, year: int) -> Refusal | None:
    """`declared_years`: the exercise year each submission declares (null when none)."""
    declared = declared_years.drop_nulls()
    if declared.is_empty():
        return None
    other = declared.filter(declared != year)
    if other.len() <= OTHER_EXERCISE_MAX_SHARE * declared.len():
        return None
    common = other.value_counts(sort=True).row(0)[0]
    return Refusal(OTHER_EXERCISE, f"{other.len()} envoi(s) sur {declared.len()} déclarent un autre exercice "
                                   f"que {year} (le plus souvent {common}) : dossier d'une autre année ?")


def on_time_lost(previous: pl.DataFrame, new: pl.DataFrame) -> Refusal | None:
    """`previous`: finess_et, status of the campaign's rows the warehouse holds for the run's
    regions; `new`: the same from this run."""
    import polars as pl

    on_time = previous.filter(pl.col("status") == "on_time").select("finess_et")
    if on_time.is_empty():
        return None
    lost = on_time.join(new.filter(pl.col("status") == "missing").select("finess_et"), on="finess_et", how="semi")
    if lost.height <= ON_TIME_LOST_MAX_SHARE * on_time.height:
        return None
    return Refusal(ON_TIME_LOST, f"{lost.height} des {on_time.height} centres à l'heure dans l'entrepôt "
                                 "deviendraient manquants : envois ou référentiel incomplets ?")


# ------------------------------------------------------------------ FINESS referential
def referential_shrunk(n_centres: int, extract_date: dt.date, n_previous: int | None,
                       previous_date: dt.date | None, file: str) -> Refusal | None:
    """A snapshot with far fewer centres de santé than the neighbouring one."""
    if not n_previous or n_previous < FINESS_SHRINK_MIN_CENTRES or n_centres >= FINESS_MIN_CENTRES_SHARE * n_previous:
        return None
    return Refusal(FINESS_SHRUNK, f"l'extrait FINESS {file} (du {extract_date:%d/%m/%Y}) ne compte que {n_centres} "
                                  f"centres de santé contre {n_previous} dans l'instantané du "
                                  f"{previous_date:%d/%m/%Y} : extrait coupé ou incomplet ?")


# Sequences a windows-1252 or latin-1 reading of UTF-8 leaves in French text (é -> Ã©,
# à -> Ã\xa0, non-breaking space -> Â\xa0), and the replacement character of bytes no
# decoding knew.
_MOJIBAKE = r"Ã[\x80-\xBF]|Â[\x80-\xBF]|\x{FFFD}"
_TEXT_COLUMNS = ("raison_sociale", "raison_sociale_longue", "libcategetab", "commune_libelle")


def referential_misencoded(frame: pl.DataFrame) -> str | None:
    """The first text value of a normalised referential (ESTABLISHMENT_COLUMNS) that shows
    a wrong decoding, as a French problem, else None."""
    import polars as pl

    columns = [c for c in _TEXT_COLUMNS if c in frame.columns]
    if not columns or frame.is_empty():
        return None
    hit = frame.filter(pl.any_horizontal(pl.col(c).fill_null("").str.contains(_MOJIBAKE) for c in columns)).head(1)
    if hit.is_empty():
        return None
    row = hit.row(0, named=True)
    value = next(row[c] for c in columns if row[c] and pl.Series([row[c]]).str.contains(_MOJIBAKE)[0])
    return (f"texte mal décodé pour l'ET {row['finess_et']} (« {value} ») : le fichier a été ré-encodé "
            "(attendu windows-1252 tel que publié sur data.gouv, ou UTF-8)")


def referential_without_numbers(frame: pl.DataFrame) -> str | None:
    """An establishment line without its FINESS ET (a line cut after its section name)."""
    missing = frame.get_column("finess_et").fill_null("").str.strip_chars().eq("").sum()
    if not missing:
        return None
    return f"{missing} ligne(s) structureet sans numéro FINESS ET : extrait coupé ou abîmé"


def referential_without_centres(frame: pl.DataFrame) -> str | None:
    if frame.is_empty() or frame.get_column("is_centre_de_sante").any():
        return None
    return "aucun centre de santé (catégories 124, 125, 130, 289) : ce n'est pas un extrait FINESS complet"


# ------------------------------------------------------------------ calendar
def calendar_problem(calendar: pl.DataFrame) -> str | None:
    """`calendar`: line, annee, finess_et (null on a campaign row), date_limite. The first
    implausible row as a French problem naming its line, else None."""
    import polars as pl

    low = pl.date(pl.col("annee") + DEADLINE_YEARS_AFTER_EXERCISE, 1, 1)
    high = pl.date(pl.col("annee") + DEADLINE_YEARS_AFTER_EXERCISE, 12, 31)
    out_of_year = calendar.filter((pl.col("date_limite") < low) | (pl.col("date_limite") > high)).sort("line")
    if not out_of_year.is_empty():
        line, year, deadline = out_of_year.select("line", "annee", "date_limite").row(0)
        return (f"ligne {line} : date limite {deadline:%d/%m/%Y} pour l'exercice {year}, attendu une date de "
                f"l'année {year + DEADLINE_YEARS_AFTER_EXERCISE} (campagne {year} menée en {year + 1})")
    doubled = (
        calendar.group_by("annee", "finess_et")
        .agg(pl.col("line").sort(), pl.col("date_limite").n_unique().alias("dates"))
        .filter(pl.col("dates") > 1)
        .sort(pl.col("line").list.first())
    )
    if not doubled.is_empty():
        year, finess, lines, _ = doubled.row(0)
        whose = f"du centre {finess}" if finess else "de la campagne"
        return (f"lignes {' et '.join(str(line) for line in lines)} : deux dates limites différentes {whose} "
                f"pour l'exercice {year}, une seule attendue")
    return _extension_before_deadline(calendar)


def _extension_before_deadline(calendar: pl.DataFrame) -> str | None:
    """A dérogation gives a centre more time (campaign-rules.md: an extension to a later
    date): one before its campaign's date limite would make an on-time centre late."""
    import polars as pl

    from transforms.campaign_calendar import campaign_deadlines

    for year in calendar.get_column("annee").unique().sort():
        deadline, _ = campaign_deadlines(calendar, year)
        early = calendar.filter(
            (pl.col("annee") == year) & pl.col("finess_et").is_not_null() & (pl.col("date_limite") < deadline)
        ).sort("line")
        if not early.is_empty():
            line, finess, extension = early.select("line", "finess_et", "date_limite").row(0)
            return (f"ligne {line} : dérogation du centre {finess} au {extension:%d/%m/%Y}, avant la date limite "
                    f"de la campagne {year} ({deadline:%d/%m/%Y}) ; une dérogation accorde plus de temps, "
                    "attendu une date postérieure")
    return None


def unknown_extension_centres(calendar: pl.DataFrame, history: pl.DataFrame, year: int) -> list[str]:
    """French warnings: an extension of exercise `year` for an ET the referential does not know."""
    import polars as pl

    extensions = calendar.filter((pl.col("annee") == year) & pl.col("finess_et").is_not_null())
    unknown = extensions.join(history.select("finess_et"), on="finess_et", how="anti").sort("line")
    return [f"Calendrier, ligne {line} : dérogation pour le FINESS {finess}, que le référentiel ne connaît pas "
            "(dérogation sans effet)" for line, finess in unknown.select("line", "finess_et").iter_rows()]
