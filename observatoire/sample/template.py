"""Which labels does each version of the yearly submission template show, and where?

A copy of the contract in submission-template.md, kept here on purpose: the sample must
be written from the specification, not from the pipeline's own label registry, so that
a mistake there cannot hide itself in the test data.
"""
from __future__ import annotations

IDENTIFICATION, ACTIVITE, FINANCES, PERSONNEL = "Identification", "Activité", "Finances", "Personnel"

_COMMON_LABELS = {
    "annee_exercice": "Année d'exercice",
    "raison_sociale": "Raison sociale",
    "type_centre": "Type de centre",
    "type_gestionnaire": "Type de gestionnaire",
    "commune_insee": "Code commune INSEE",
    "code_postal": "Code postal",
    "antennes": "N° FINESS des antennes",
    "date_transmission": "Date de transmission",
    "contact_courriel": "Courriel de contact",
    "contact_telephone": "Téléphone",
    "file_active": "File active (nombre de patients)",
    "patients_medecin_traitant": "Patients ayant déclaré un médecin traitant du centre",
    "nb_actes": "Nombre d'actes et consultations",
    "jours_ouverture": "Jours d'ouverture dans l'année",
    "amplitude_hebdo_h": "Amplitude horaire hebdomadaire (heures)",
    "actions_prevention": "Actions de prévention menées (nombre)",
    "permanence_soins": "Participation à la permanence des soins (oui/non)",
    "stagiaires": "Stagiaires accueillis (nombre)",
    "specialites_second_recours": "Spécialités de second recours proposées (nombre)",
    "total_charges": "Total des charges (€)",
    "total_produits": "Total des produits (€)",
    "resultat": "Résultat de l'exercice (€)",
    "recettes_assurance_maladie": "Recettes des actes facturés à l'assurance maladie (€)",
    "subventions": "Subventions publiques (€)",
    "masse_salariale": "Masse salariale (€)",
}

LABELS = {
    2023: {
        **_COMMON_LABELS,
        "finess_et": "N° FINESS",
        "tiers_payant_integral": "Tiers payant (oui/non)",
        "part_css_pct": "Part des patients CMU-C / CSS (%)",
        "remuneration_forfaitaire": "Forfait accord national (€)",
    },
    2024: {
        **_COMMON_LABELS,
        "finess_et": "N° FINESS établissement (ET)",
        "finess_ej": "N° FINESS juridique (EJ)",
        "tiers_payant_integral": "Tiers payant intégral (oui/non)",
        "part_css_pct": "Part des patients bénéficiaires de la CSS (%)",
        "part_ame_pct": "Part des patients bénéficiaires de l'AME (%)",
        "remuneration_forfaitaire": "Rémunération forfaitaire accord national (€)",
    },
}


def labels_for(year: int) -> dict[str, str]:
    """Labels of the template version of an exercise year."""
    return LABELS[2024 if year >= 2024 else 2023]


# Form sheets, their sections (title rows) and fields in template order.
FORM_LAYOUT: dict[str, list[tuple[str, list[str]]]] = {
    IDENTIFICATION: [
        ("Identification du centre", [
            "annee_exercice", "finess_et", "finess_ej", "raison_sociale", "type_centre",
            "type_gestionnaire", "commune_insee", "code_postal", "antennes",
        ]),
        ("Transmission et contact", ["date_transmission", "contact_courriel", "contact_telephone"]),
    ],
    ACTIVITE: [
        ("Patientèle", ["file_active", "patients_medecin_traitant", "nb_actes", "part_css_pct", "part_ame_pct"]),
        ("Organisation", ["jours_ouverture", "amplitude_hebdo_h", "tiers_payant_integral", "permanence_soins"]),
        ("Missions", ["actions_prevention", "stagiaires", "specialites_second_recours"]),
    ],
    FINANCES: [
        ("Charges et produits", ["total_charges", "total_produits", "resultat"]),
        ("Détail des produits", ["recettes_assurance_maladie", "remuneration_forfaitaire", "subventions"]),
        ("Charges de personnel", ["masse_salariale"]),
    ],
}

FIELD_ORDER = [name for sections in FORM_LAYOUT.values() for _, names in sections for name in names]

PERSONNEL_HEADER = ("Profession", "Effectif (personnes physiques)", "ETP")

PROFESSIONS = {
    "medecin_generaliste": "Médecin généraliste",
    "medecin_specialiste": "Médecin spécialiste",
    "chirurgien_dentiste": "Chirurgien-dentiste",
    "sage_femme": "Sage-femme",
    "infirmier": "Infirmier",
    "masseur_kinesitherapeute": "Masseur-kinésithérapeute",
    "orthophoniste": "Orthophoniste",
    "orthoptiste": "Orthoptiste",
    "pedicure_podologue": "Pédicure-podologue",
    "psychologue": "Psychologue",
    "dieteticien": "Diététicien",
    "assistant_medical": "Assistant médical",
    "secretaire_medical": "Secrétaire médical",
    "coordinateur": "Coordinateur",
    "personnel_administratif": "Personnel administratif",
    "autre": "Autre",
}

TYPES_CENTRE = ("médical", "polyvalent", "dentaire", "infirmier", "ophtalmologique", "autre")
TYPES_GESTIONNAIRE = (
    "organisme à but non lucratif", "collectivité territoriale", "EPCI", "établissement public de santé",
    "établissement privé de santé à but non lucratif", "établissement privé de santé à but lucratif",
)
