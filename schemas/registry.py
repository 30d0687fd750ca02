"""Which French label means which canonical field, for the template of a given exercise
year? The labels are data (`templates.toml`); adding a template is adding a block there."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Template:
    version: str
    first_exercise_year: int
    labels: dict[str, str]  # canonical name -> French label


@dataclass(frozen=True)
class PersonnelLabels:
    profession: str
    effectif: str
    etp: str
    professions: dict[str, str]  # code -> French label


@functools.cache
def _registry() -> dict:
    return tomllib.loads(resources.files("schemas").joinpath("templates.toml").read_text("utf-8"))


@functools.cache
def templates() -> tuple[Template, ...]:
    return tuple(
        Template(block["version"], int(block["first_exercise_year"]), dict(block["labels"]))
        for block in sorted(_registry()["template"], key=lambda b: b["first_exercise_year"])
    )


def template_for_year(exercise_year: int) -> Template:
    """The template a file of `exercise_year` is read with."""
    eligible = [t for t in templates() if t.first_exercise_year <= exercise_year]
    if not eligible:
        raise ValueError(f"aucun modèle de rapport pour l'exercice {exercise_year}")
    return eligible[-1]


@functools.cache
def personnel_labels() -> PersonnelLabels:
    block = _registry()["personnel"]
    return PersonnelLabels(block["profession"], block["effectif"], block["etp"], dict(block["professions"]))
