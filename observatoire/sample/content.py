"""What would a centre de santé plausibly report for one exercise year?

Coherent values for one valid submission: staff by type of centre, activity scaled on
the health professionals' ETP, finances with `resultat = produits − charges`. Cases in
`campaign` then damage one thing on purpose.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from observatoire.sample.referential import Establishment
from observatoire.sample.template import PROFESSIONS, labels_for
from observatoire.sample.values import NumberCell, Percent

HEALTH_PROFESSIONS = (
    "medecin_generaliste", "medecin_specialiste", "chirurgien_dentiste", "sage_femme", "infirmier",
    "masseur_kinesitherapeute", "orthophoniste", "orthoptiste", "pedicure_podologue", "dieteticien",
)

_TYPE_CENTRE = {
    "municipal": ("polyvalent", "médical"), "associatif": ("médical", "polyvalent"),
    "mutualiste": ("médical", "polyvalent", "dentaire"), "dentaire": ("dentaire",),
    "infirmier": ("infirmier",), "ophtalmologique": ("ophtalmologique",),
}

# (profession, min, max headcount) by type of centre
_STAFF = {
    "médical": [("medecin_generaliste", 2, 9), ("medecin_specialiste", 0, 3), ("infirmier", 0, 3),
                ("secretaire_medical", 1, 4), ("assistant_medical", 0, 2), ("coordinateur", 0, 1)],
    "polyvalent": [("medecin_generaliste", 3, 12), ("medecin_specialiste", 1, 5), ("chirurgien_dentiste", 1, 4),
                   ("infirmier", 1, 5), ("masseur_kinesitherapeute", 0, 3), ("sage_femme", 0, 2),
                   ("psychologue", 0, 2), ("secretaire_medical", 2, 6), ("personnel_administratif", 1, 3),
                   ("coordinateur", 1, 1)],
    "dentaire": [("chirurgien_dentiste", 2, 8), ("assistant_medical", 1, 4), ("secretaire_medical", 1, 3),
                 ("autre", 0, 4)],
    "infirmier": [("infirmier", 3, 14), ("coordinateur", 0, 1), ("secretaire_medical", 0, 2)],
    "ophtalmologique": [("medecin_specialiste", 1, 4), ("orthoptiste", 1, 4), ("secretaire_medical", 1, 3)],
}


@dataclass(frozen=True)
class StaffRow:
    profession: str | None  # canonical code; None for a profession the template does not know
    label: str  # as written in the Personnel sheet
    effectif: int
    etp: Decimal


def money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def staff_for(type_centre: str, rng: random.Random) -> list[StaffRow]:
    rows = []
    for profession, low, high in _STAFF[type_centre]:
        count = rng.randint(low, high)
        if count == 0:
            continue
        etp = Decimal(f"{count * rng.uniform(0.45, 0.95):.2f}")
        rows.append(StaffRow(profession, PROFESSIONS[profession], count, etp))
    return rows


def health_etp(staff: list[StaffRow]) -> Decimal:
    return sum((row.etp for row in staff if row.profession in HEALTH_PROFESSIONS), Decimal(0))


def email_for(centre: Establishment, rng: random.Random) -> str:
    slug = "".join(ch for ch in (centre.distinctive or centre.rs).lower().replace(" ", "-") if ch.isalnum() or ch == "-")
    town = centre.commune.name.lower().replace(" ", "-")
    return rng.choice([
        f"cds.{slug}@ville-{town}.fr", f"accueil.{slug}@cds-{town}.fr", f"direction@{slug}.org",
        f"secretariat.{slug}@mutualite.fr",
    ])


def phone_as_typed(number: str, rng: random.Random) -> str:
    pairs = [number[i:i + 2] for i in range(0, 10, 2)]
    return rng.choice([" ".join(pairs), number, ".".join(pairs), " ".join(pairs)])


def type_gestionnaire_for(centre: Establishment, rng: random.Random) -> str:
    if centre.kind == "municipal":
        return "EPCI" if rng.random() < 0.1 else "collectivité territoriale"
    if not centre.is_centre_de_sante:
        return "établissement public de santé"
    return "organisme à but non lucratif"


def build_content(centre: Establishment, year: int, moment: dt.datetime,
                  rng: random.Random) -> tuple[dict[str, object], list[StaffRow]]:
    """Every field of a valid submission (canonical name -> typed value) and its staff."""
    type_centre = rng.choice(_TYPE_CENTRE.get(centre.kind, ("médical",)))
    staff = staff_for(type_centre, rng)
    etp = float(health_etp(staff))
    file_active = max(500, min(15000, int(etp * rng.uniform(650, 1300))))
    salaries = etp * rng.uniform(55000, 80000) + sum(float(r.etp) for r in staff) * 8000
    charges = salaries / rng.uniform(0.62, 0.8)
    produits = charges * rng.uniform(0.9, 1.08)
    recettes = produits * rng.uniform(0.45, 0.72)
    forfait = min(produits - recettes, rng.uniform(8000, 140000))
    subventions = max(0.0, (produits - recettes - forfait) * rng.uniform(0.2, 0.9))
    charges_d, produits_d = money(charges), money(produits)
    fields: dict[str, object] = {
        "annee_exercice": NumberCell(year),  # a year is never typed "2 024"
        "finess_et": centre.finess_et,
        "finess_ej": centre.finess_ej if rng.random() < 0.8 else None,
        "raison_sociale": rng.choice([centre.rslongue or centre.rs, centre.rs]),
        "type_centre": type_centre,
        "type_gestionnaire": type_gestionnaire_for(centre, rng),
        "commune_insee": centre.commune.insee,
        "code_postal": centre.commune.postal_code,
        "antennes": None,
        "date_transmission": moment,
        "contact_courriel": email_for(centre, rng),
        "contact_telephone": phone_as_typed(centre.telephone, rng),
        "file_active": file_active,
        "patients_medecin_traitant": int(file_active * rng.uniform(0.25, 0.85)),
        "nb_actes": int(file_active * rng.uniform(2.0, 6.0)),
        "part_css_pct": Percent(Decimal(f"{rng.uniform(4, 35):.1f}")),
        "part_ame_pct": Percent(Decimal(f"{rng.uniform(0, 9):.1f}")),
        "jours_ouverture": rng.randint(200, 310),
        "amplitude_hebdo_h": Decimal(rng.choice(["35", "40", "42,5", "45", "50", "52,5", "55", "60", "65"]).replace(",", ".")),
        "tiers_payant_integral": rng.random() < 0.8,
        "permanence_soins": rng.random() < 0.3,
        "actions_prevention": rng.randint(0, 40),
        "stagiaires": rng.randint(0, 8),
        "specialites_second_recours": rng.randint(0, 6),
        "total_charges": charges_d,
        "total_produits": produits_d,
        "resultat": produits_d - charges_d,
        "recettes_assurance_maladie": money(recettes),
        "remuneration_forfaitaire": money(forfait),
        "subventions": money(subventions),
        "masse_salariale": money(salaries),
    }
    if rng.random() < 0.15:
        fields["part_ame_pct"] = None  # optional fields left blank
    known = labels_for(year)
    return {name: value for name, value in fields.items() if name in known}, staff
