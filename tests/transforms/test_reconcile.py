"""FINESS reconciliation (campaign-rules.md), one row per method and damage of finess.md."""
import polars as pl
import pytest

from observatoire.readers.reference_data import departement_regions
from transforms.finess_key import finess_check_digit
from transforms.reconcile import reconcile_finess


def fin(first_eight: str) -> str:
    return first_eight + finess_check_digit(first_eight)


ET_LYON = fin("01000002")  # starts with 0: loses it in a spreadsheet
EJ_LYON = fin("01000003")
ET_CORSE = fin("2A000001")
EJ_CORSE = fin("2A000002")
ET_A, ET_B, EJ_AB = fin("69000011"), fin("69000012"), fin("69000013")  # one EJ, two centres
ET_NAME, EJ_NAME = fin("69000021"), fin("69000022")
ET_TWIN1, ET_TWIN2 = fin("69000031"), fin("69000032")
HOSPITAL = fin("69000041")

HISTORY = pl.DataFrame([
    # et, ej, rs, rslongue, commune, cp, region, cds
    (ET_LYON, EJ_LYON, "CDS BOURG", "CENTRE DE SANTE DE BOURG", "01053", "01000", "84", True),
    (ET_CORSE, EJ_CORSE, "CDS AJACCIO", "CENTRE DE SANTE AJACCIO", "2A004", "20000", "94", True),
    (ET_A, EJ_AB, "CDS MUTUALISTE A", None, "69123", "69003", "84", True),
    (ET_B, EJ_AB, "CDS MUTUALISTE B", None, "69123", "69008", "84", True),
    (ET_NAME, EJ_NAME, "CENTRE DE SANTE MUNICIPAL DE VILLEURBANNE", None, "69266", "69100", "84", True),
    (ET_TWIN1, fin("69000033"), "CDS DENTAIRE DU PARC", None, "69381", "69001", "84", True),
    (ET_TWIN2, fin("69000034"), "CDS DENTAIRE DU PARC", None, "69381", "69001", "84", True),
    (HOSPITAL, fin("69000042"), "CH DE VILLEURBANNE", None, "69266", "69100", "84", False),
], schema={**{name: pl.String for name in ["finess_et", "finess_ej", "raison_sociale", "raison_sociale_longue",
                                           "commune_insee", "code_postal", "region_code"]},
           "is_centre_de_sante": pl.Boolean}, orient="row")


def _resolve(declared, name=None, commune=None, cp=None, decisions=None):
    submissions = pl.DataFrame([("s1", declared, name, commune, cp)], schema={
        name: pl.String for name in ["submission_key", "finess_et", "raison_sociale", "commune_insee", "code_postal"]
    }, orient="row")
    return reconcile_finess(submissions, HISTORY, departement_regions(), decisions).row(0, named=True)


@pytest.mark.parametrize("declared, expected_et, method", [
    (ET_LYON, ET_LYON, "exact"),
    (f" {ET_LYON.lower()} ", ET_LYON, "exact"),
    (ET_LYON[1:], ET_LYON, "repaired"),  # lost leading zero
    (ET_LYON[1:] + ".0", ET_LYON, "repaired"),  # float
    (f"{int(ET_LYON) / 10**7:.7f}E7".replace("0E7", "E7"), ET_LYON, "repaired"),  # 1.0000024E7 form
    (f"{ET_LYON[:2]} {ET_LYON[2:5]} {ET_LYON[5:8]} {ET_LYON[8]}", ET_LYON, "repaired"),  # spaces
    (f"{ET_LYON[:2]}.{ET_LYON[2:5]}.{ET_LYON[5:8]}.{ET_LYON[8]}", ET_LYON, "repaired"),  # dots
    (ET_CORSE.lower(), ET_CORSE, "exact"),  # lower-case 2a is only normalisation
    (EJ_LYON, ET_LYON, "ej_to_et"),  # EJ given for ET, one centre
    (EJ_LYON[1:], ET_LYON, "ej_to_et"),  # damaged EJ
    (EJ_AB, None, "review"),  # EJ with two centres: an analyst decides
    (fin("75999999"), None, "unmatched"),  # valid key, unknown
    (HOSPITAL, HOSPITAL, "exact"),  # known ET, not a centre de santé: statuses say so
])
def test_number_methods(declared, expected_et, method):
    row = _resolve(declared)
    assert (row["finess_et"], row["reconciliation_method"]) == (expected_et, method)


def test_repaired_requires_a_valid_key():
    wrong_key = ET_LYON[1:-1] + str((int(ET_LYON[-1]) + 1) % 10)
    assert _resolve(wrong_key)["reconciliation_method"] == "unmatched"


def test_ej_to_et_keeps_candidates_for_review():
    row = _resolve(EJ_AB)
    assert ET_A in row["candidates"] and ET_B in row["candidates"]


@pytest.mark.parametrize("name, commune, cp, expected_et, method", [
    ("C.D.S. municipal Villeurbanne", "69266", None, ET_NAME, "name_match"),
    ("Centre de Santé Municipal de VILLEURBANNE", "69266", None, ET_NAME, "name_match"),
    ("centre de sante municipal villeurbanne", None, None, None, "unmatched"),  # no commune: no match
    ("CDS municipal Villeurbanne", "69123", None, None, "review"),  # other commune, same département
    ("CDS Dentaire du Parc", "69381", None, None, "review"),  # two identical centres: never guess
    ("Boulangerie du coin", "69266", None, None, "unmatched"),
])
def test_name_match(name, commune, cp, expected_et, method):
    row = _resolve(None, name, commune, cp)
    assert (row["finess_et"], row["reconciliation_method"]) == (expected_et, method)
    if method == "name_match":
        assert row["reconciliation_score"] >= 0.75


def test_analyst_decision_applies_to_the_same_declared_value():
    first = _resolve(EJ_AB)
    decisions = pl.DataFrame({"declared_key": [first["declared_key"]], "finess_et": [ET_B]})
    again = _resolve(EJ_AB, decisions=decisions)
    assert (again["finess_et"], again["reconciliation_method"]) == (ET_B, "decision")
    # the same value damaged the same way is the same declared value
    assert _resolve(EJ_AB[1:] if EJ_AB.startswith("0") else f" {EJ_AB} ", decisions=decisions)["finess_et"] == ET_B
    twin = _resolve(None, "CDS Dentaire du Parc", "69381")
    decided = pl.DataFrame({"declared_key": [twin["declared_key"]], "finess_et": [ET_TWIN2]})
    assert _resolve(None, "C.D.S. DENTAIRE DU PARC", "69381", decisions=decided)["finess_et"] == ET_TWIN2
