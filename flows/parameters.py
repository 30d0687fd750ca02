"""What a person can set when starting a campaign run: one flat pydantic model whose
French titles and descriptions make the Prefect UI's "Custom run" form usable without
reading the code, and which `observatoire run` fills from its command line.

Paths may contain `{annee}`: the scheduled run of 2 March does not know the year in
advance (it takes the previous year), so the folders of a campaign are named by year.
"""
from __future__ import annotations

import datetime as dt
import glob
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from observatoire.errors import CampaignError
from transforms.campaign_calendar import default_year
from transforms.guards import GUARDS


class CampaignParameters(BaseModel):
    """Paramètres d'une campagne : année d'exercice, régions, fichiers reçus,
    référentiel FINESS, calendrier, entrepôt et dossier des classeurs."""

    model_config = ConfigDict(title="Paramètres de la campagne", extra="forbid")

    year: int | None = Field(
        default=None, ge=2000, le=2100, title="Année d'exercice",
        description="Année N des rapports d'activité (la campagne a lieu en N+1). "
                    "Vide : l'année précédente (en mars 2025, l'exercice 2024).",
    )
    regions: list[str] = Field(
        default_factory=list, title="Régions (codes COG)",
        description="Codes région COG à consolider, par exemple 84 pour Auvergne-Rhône-Alpes, 11 pour "
                    "l'Île-de-France. Vide : toutes les régions présentes dans le référentiel FINESS.",
    )
    submissions: str = Field(
        default="envois/{annee}", title="Dossier des envois",
        description="Dossier contenant les fichiers reçus des centres (.xlsx, .csv, et reception.csv s'il "
                    "existe), sous-dossiers compris. {annee} est remplacé par l'année d'exercice.",
    )
    finess: list[str] = Field(
        default_factory=lambda: ["finess/*.csv"], min_length=1, title="Extraits FINESS",
        description="Extraits FINESS au format data.gouv ou fichiers FINESS+ Structures (.json, .json.gz), "
                    "un par ligne, reconnus à leur contenu ; chaque fichier daté est un instantané du "
                    "référentiel. Un motif comme finess/*.csv prend tous les extraits du dossier.",
    )
    calendar: str | None = Field(
        default=None, title="Calendrier (facultatif)",
        description="Fichier CSV annee;finess_et;date_limite : date limite de la campagne et dérogations "
                    "accordées. {annee} est remplacé par l'année d'exercice. Le déploiement propose le "
                    "calendrier du dossier de données (calendrier/calendrier-{annee}.csv) : s'il n'existe pas, "
                    "la date limite par défaut s'applique et le journal de l'exécution le dit. Pour un autre "
                    "calendrier, saisir ici son chemin sur le worker : il doit alors exister, sinon l'exécution "
                    "s'arrête aussitôt. Vide : date limite par défaut, dernier jour de février N+1, sans "
                    "dérogation.",
    )
    warehouse_url: str | None = Field(
        default=None, title="URL de l'entrepôt (facultatif)",
        description="URL SQLAlchemy de l'entrepôt, sans mot de passe (elle est visible dans l'interface ; "
                    "un mot de passe donné ici est masqué et n'atteint pas le worker). "
                    "Vide : le bloc Secret ci-dessous, sinon la variable OBSERVATOIRE_WAREHOUSE_URL du "
                    "worker, sinon le fichier SQLite warehouse.db.",
    )
    warehouse_secret: str | None = Field(
        default=None, title="Bloc Secret de l'entrepôt (facultatif)",
        description="Nom du bloc Secret Prefect qui contient l'URL complète de l'entrepôt, mot de passe "
                    "compris (par exemple secret-entrepot). Utilisé quand l'URL ci-dessus est vide.",
    )
    output_dir: str | None = Field(
        default=None, title="Dossier des classeurs (facultatif)",
        description="Dossier où écrire les classeurs de retour aux centres et de relance. "
                    "{annee} est remplacé par l'année d'exercice. Vide : pas de classeurs.",
    )
    dask_address: str | None = Field(
        default=None, title="Cluster Dask (facultatif)",
        description="Adresse du scheduler Dask qui lit et valide les fichiers, par exemple "
                    "tcp://dask-scheduler:8786. Vide : lecture sur le worker Prefect lui-même.",
    )

    read_workers: int | None = Field(
        default=None, ge=1, le=64, title="Processus de lecture (facultatif)",
        description="Nombre de processus qui lisent les fichiers en parallèle sur le worker Prefect. "
                    "Vide : un par cœur disponible, un par 200 fichiers au plus. "
                    "Chaque fichier est lu dans un processus séparé, même avec 1.",
    )

    force: list[Literal[GUARDS]] = Field(
        default_factory=list, title="Gardes à passer outre (facultatif)",
        description="Une exécution dont les entrées ressemblent à une erreur est refusée sans rien remplacer, "
                    "avec un message qui nomme la garde. Ajouter ici cette garde pour passer outre, en "
                    "connaissance de cause : aucun-envoi (dossier des envois vide), autre-exercice (la plupart "
                    "des envois déclarent une autre année), exercice-en-cours (année pas encore terminée), "
                    "region-inconnue (code région hors COG), centres-perdus (la plupart des centres à l'heure "
                    "deviendraient manquants), finess-reduit (extrait FINESS avec bien moins de centres de "
                    "santé que l'instantané précédent).",
    )

    @field_validator("force", mode="before")
    @classmethod
    def _known_guards(cls, value) -> list[str]:
        names = [value] if isinstance(value, str) else list(value or [])
        unknown = [name for name in names if name not in GUARDS]
        if unknown:
            raise ValueError(f"garde inconnue « {unknown[0]} » (gardes : {', '.join(GUARDS)})")
        return sorted(set(names))

    @field_validator("regions")
    @classmethod
    def _region_codes(cls, regions: list[str]) -> list[str]:
        cleaned = sorted({code.strip() for code in regions if code and code.strip()})
        for code in cleaned:
            if not (code.isdigit() and len(code) == 2):
                raise ValueError(f"code région COG attendu sur deux chiffres (84, 11, 01…), reçu « {code} »")
        return cleaned

    @field_validator("submissions")
    @classmethod
    def _submissions_given(cls, value: str) -> str:
        # a field cleared in the UI arrives as "": reading "." would take the worker's own files
        if not value.strip():
            raise ValueError("dossier des envois obligatoire (par exemple envois/{annee})")
        return value

    @field_validator("calendar", "warehouse_url", "warehouse_secret", "output_dir", "dask_address")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # The UI sends "" for a field a person cleared.
        return value.strip() or None if value is not None else None

    @field_validator("warehouse_url")
    @classmethod
    def _password_stays_here(cls, value: str | None) -> str | None:
        # Parameters are what Prefect stores and shows: a URL given with its password
        # (`observatoire run --warehouse`) keeps only its masked form here, the password
        # stays in this process for `warehouse.connect` (see `warehouse.hand_off`).
        from observatoire.warehouse import hand_off

        return hand_off(value)

    # ------------------------------------------------------------ resolved values
    def exercise_year(self, now: dt.datetime | None = None) -> int:
        return self.year if self.year is not None else default_year(now or dt.datetime.now(dt.timezone.utc))

    def submissions_dir(self, year: int) -> Path:
        return Path(_with_year(self.submissions, year))

    def calendar_file(self, year: int) -> Path | None:
        return Path(_with_year(self.calendar, year)) if self.calendar else None

    def output_folder(self, year: int) -> Path | None:
        return Path(_with_year(self.output_dir, year)) if self.output_dir else None

    def finess_files(self) -> list[Path]:
        """Each entry is a file or a glob pattern; patterns expand in sorted order."""
        files: list[Path] = []
        for entry in self.finess:
            if glob.has_magic(entry):
                matches = sorted(glob.glob(entry))
                if not matches:
                    raise CampaignError(f"Aucun extrait FINESS ne correspond à « {entry} ».")
                files += [Path(match) for match in matches]
            else:
                files.append(Path(entry))
        return files

    def run_name(self, prefix: str = "campagne", now: dt.datetime | None = None) -> str:
        """`campagne-2024-r84`: the year and the regions, so runs read apart in the UI."""
        return f"{prefix}-{self.exercise_year(now)}" + "".join(f"-r{code}" for code in self.regions)


def _with_year(template: str, year: int) -> str:
    return template.replace("{annee}", str(year))
