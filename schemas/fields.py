"""What each field of the yearly submission is: its sheet, its kind and whether it is
required (submission-template.md). The rules on values live in `schemas.submission`."""
from __future__ import annotations

from dataclasses import dataclass

SHEET_IDENTIFICATION = "Identification"
SHEET_ACTIVITE = "Activité"
SHEET_FINANCES = "Finances"
SHEET_PERSONNEL = "Personnel"
FORM_SHEETS = (SHEET_IDENTIFICATION, SHEET_ACTIVITE, SHEET_FINANCES)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    sheet: str
    kind: str  # text | int | decimal | bool | datetime
    required: bool


def _specs(sheet: str, rows: list[tuple[str, str, bool]]) -> list[FieldSpec]:
    return [FieldSpec(name, sheet, kind, required) for name, kind, required in rows]


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in _specs(SHEET_IDENTIFICATION, [
        ("annee_exercice", "int", True),
        ("finess_et", "text", False),  # absent or unusable: reconciled on name instead
        ("finess_ej", "text", False),
        ("raison_sociale", "text", True),
        ("type_centre", "text", True),
        ("type_gestionnaire", "text", True),
        ("commune_insee", "text", True),
        ("code_postal", "text", False),
        ("antennes", "text", False),
        ("date_transmission", "datetime", False),  # required, but the manifest may supply it
        ("contact_courriel", "text", False),
        ("contact_telephone", "text", False),
        # 2025 template on: what a centre must tell the ARS of between two reports
        ("responsable_legal", "text", False),
        ("plateau_technique", "text", False),  # a list, as typed (`;`, `,` or new lines)
    ])
    + _specs(SHEET_ACTIVITE, [
        ("file_active", "int", True),
        ("patients_medecin_traitant", "int", True),
        ("nb_actes", "int", True),
        ("jours_ouverture", "int", True),
        ("amplitude_hebdo_h", "decimal", True),
        ("tiers_payant_integral", "bool", True),
        ("part_css_pct", "decimal", False),
        ("part_ame_pct", "decimal", False),
        ("actions_prevention", "int", False),
        ("permanence_soins", "bool", False),
        ("stagiaires", "int", False),
        ("specialites_second_recours", "int", False),
    ])
    + _specs(SHEET_FINANCES, [
        ("total_charges", "decimal", True),
        ("total_produits", "decimal", True),
        ("resultat", "decimal", True),
        ("recettes_assurance_maladie", "decimal", False),
        ("remuneration_forfaitaire", "decimal", False),
        ("subventions", "decimal", False),
        ("masse_salariale", "decimal", False),
    ])
}

TYPES_CENTRE = ("médical", "polyvalent", "dentaire", "infirmier", "ophtalmologique", "autre")
TYPES_GESTIONNAIRE = (
    "organisme à but non lucratif",
    "collectivité territoriale",
    "EPCI",
    "établissement public de santé",
    "établissement privé de santé à but non lucratif",
    "établissement privé de santé à but lucratif",
)

# Enumerated fields: a value is matched to its option ignoring case, accents and spaces
# (`Medical`, `MÉDICAL ` -> `médical`) before the rule checks membership.
ENUMS: dict[str, tuple[str, ...]] = {"type_centre": TYPES_CENTRE, "type_gestionnaire": TYPES_GESTIONNAIRE}

# Identifiers are text, but a spreadsheet that stored them as numbers drops the leading
# zero (`01000` -> `1000`): an all-digit value one character short is padded back.
ZERO_PADDED: dict[str, int] = {"commune_insee": 5, "code_postal": 5}

# Fields every regional export must have as a column (any template's label or the
# canonical name); without one of them the file is not a usable export.
EXPORT_REQUIRED = tuple(name for name, spec in FIELDS.items() if spec.required)
