"""Which French label means which canonical field, for the template of a given exercise
year? The labels are data (`templates.toml`); adding a template is adding a block there,
and `load_registry` reads any copy of that file the same way (tests add a 2025 block to a
copy to prove no code change is needed)."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


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
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> profession codes

    def in_group(self, group: str) -> tuple[str, ...]:
        return self.groups.get(group, ())


@dataclass(frozen=True)
class Registry:
    templates: tuple[Template, ...]  # sorted by first exercise year
    personnel: PersonnelLabels

    def template_for_year(self, exercise_year: int) -> Template:
        """The template a file of `exercise_year` is read with: the latest one whose first
        exercise year is not after it."""
        eligible = [t for t in self.templates if t.first_exercise_year <= exercise_year]
        if not eligible:
            raise ValueError(f"aucun modèle de rapport pour l'exercice {exercise_year}")
        return eligible[-1]


# The groups the rules count: without them every submission would fail the health
# professional rule, or the indicators would read zero doctors, without a word.
RULE_GROUPS = {
    "sante": "règle « au moins un professionnel de santé avec un ETP > 0 » et ETP des professions de santé",
    "medecin": "ETP des médecins des indicateurs",
}


def parse_registry(text: str) -> Registry:
    data = tomllib.loads(text)
    blocks = sorted(data["template"], key=lambda b: int(b["first_exercise_year"]))
    years = [int(b["first_exercise_year"]) for b in blocks]
    if len(set(years)) != len(years):
        raise ValueError("deux modèles commencent la même année d'exercice dans le registre")
    block = data["personnel"]
    missing = [name for name in RULE_GROUPS if not block.get("groups", {}).get(name)]
    if missing:
        raise ValueError(f"groupe(s) de professions absent(s) ou vide(s) dans [personnel.groups] : {missing} "
                         f"({'; '.join(RULE_GROUPS[name] for name in missing)})")
    unknown = {code for codes in block.get("groups", {}).values() for code in codes} - set(block["professions"])
    if unknown:
        raise ValueError(f"profession(s) de groupe absente(s) de [personnel.professions] : {sorted(unknown)}")
    return Registry(
        tuple(Template(str(b["version"]), int(b["first_exercise_year"]), dict(b["labels"])) for b in blocks),
        PersonnelLabels(block["profession"], block["effectif"], block["etp"], dict(block["professions"]),
                        {name: tuple(codes) for name, codes in block.get("groups", {}).items()}),
    )


def load_registry(path: Path) -> Registry:
    return parse_registry(Path(path).read_text("utf-8"))


@functools.cache
def default_registry() -> Registry:
    return parse_registry(resources.files("schemas").joinpath("templates.toml").read_text("utf-8"))


def templates() -> tuple[Template, ...]:
    return default_registry().templates


def template_for_year(exercise_year: int) -> Template:
    """The template a file of `exercise_year` is read with."""
    return default_registry().template_for_year(exercise_year)


def personnel_labels() -> PersonnelLabels:
    return default_registry().personnel


@functools.cache  # read-only result, asked once per file
def all_field_label_keys(key) -> dict[str, set[str]]:
    """field -> every comparison key it may appear under in any template (labels and the
    canonical name); readers use it to check a header without knowing the campaign year."""
    found: dict[str, set[str]] = {}
    for template in templates():
        for name, label in template.labels.items():
            found.setdefault(name, {name}).add(key(label))
    return found
