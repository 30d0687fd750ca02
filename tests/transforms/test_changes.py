"""What centres did not tell: each rule of campaign-rules.md "What centres report (changes)"
on a small referential and declarations written down here, and that a centre that changed
nothing gets no row."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from schemas.registry import template_for_year
from transforms.changes import DECLARATION_FIELDS, centre_changes, same_name
from transforms.finess_key import finess_check_digit

T2023, T2024, T2025 = (set(template_for_year(y).labels) for y in (2023, 2024, 2025))


def _finess(body: str) -> str:
    return body + finess_check_digit(body)


CENTRE, OTHER, ANTENNE, CLOSED = (_finess(f"690000{n}") for n in ("01", "02", "03", "04"))
UNKNOWN = _finess("69000009")
EJ, NEW_EJ = _finess("69000050"), _finess("69000051")

HISTORY = pl.DataFrame({
    "finess_et": [CENTRE, OTHER, ANTENNE, CLOSED],
    "finess_ej": [EJ, EJ, EJ, EJ],
    "raison_sociale": ["CDS MUTUALISTE LES QUATRE CHEMINS NOR", "CDS LES TILLEULS", "CDS LES TILLEULS - ANTENNE",
                       "CDS LE PHARE"],
    "raison_sociale_longue": ["CENTRE DE SANTE MUTUALISTE LES QUATRE CHEMINS NORD", "", None, None],
    "commune_insee": ["69123", "69266", "69266", "69266"],
    "code_postal": ["69003", "69100", "69100", "69100"],
    "commune_libelle": ["LYON", "VILLEURBANNE CEDEX", "VILLEURBANNE", "VILLEURBANNE"],
    "closed_before": [None, None, None, dt.date(2024, 1, 10)],
    "last_seen": [dt.date(2025, 1, 12)] * 3 + [dt.date(2023, 1, 9)],
    "dateouv": [dt.date(2001, 5, 2)] * 4,
}, schema_overrides={"closed_before": pl.Date})


def declaration(finess_et: str = CENTRE, **fields) -> dict:
    """What the centre declares when nothing changed: FINESS's values."""
    base = {"finess_et": finess_et, "region_code": "84", "finess_ej": EJ, "type_gestionnaire": "organisme à but non lucratif",
            "commune_insee": "69123", "code_postal": "69003",
            "raison_sociale": "Centre de santé mutualiste Les Quatre Chemins Nord", "type_centre": "médical",
            "antennes": None, "responsable_legal": None, "plateau_technique": None}
    return {**base, **fields}


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={"finess_et": pl.String, "region_code": pl.String,
                                            **{name: pl.String for name in DECLARATION_FIELDS}})


def changes(current: dict | list[dict], previous: dict | list[dict] | None = None, year: int = 2024,
            now=T2024, before=T2023) -> list[tuple]:
    current = current if isinstance(current, list) else [current]
    prev = None if previous is None else frame(*(previous if isinstance(previous, list) else [previous]))
    found = centre_changes(frame(*current), prev, HISTORY, year, now, before if prev is not None else None)
    assert found.columns == ["campaign_year", "region_code", "finess_et", "kind", "source", "field",
                             "previous_value", "new_value", "message"]
    assert found["message"].null_count() == 0 and (found["campaign_year"] == year).all()
    return [(r["finess_et"], r["kind"], r["source"], r["field"], r["previous_value"], r["new_value"])
            for r in found.iter_rows(named=True)]


def test_a_centre_that_changed_nothing_gets_no_row():
    # FINESS's short name cut at 38 characters, the long name, another spelling: one name
    assert changes(declaration(raison_sociale="CDS MUTUALISTE LES QUATRE CHEMINS NOR"),
                   declaration(raison_sociale="C.D.S. mutualiste les Quatre-Chemins Nord")) == []
    assert changes(declaration(), declaration()) == []


def test_without_previous_exercise_only_finess_is_compared():
    moved = declaration(commune_insee="69266", code_postal="69100", type_centre="dentaire")
    assert changes(moved) == [(CENTRE, "adresse", "finess", "commune_insee", "69123", "69266")]


def test_gestionnaire_against_finess_and_type_against_previous():
    now = declaration(finess_ej=NEW_EJ, type_gestionnaire="collectivité territoriale")
    assert changes(now, declaration()) == [
        (CENTRE, "gestionnaire", "envoi_precedent", "type_gestionnaire", "organisme à but non lucratif",
         "collectivité territoriale"),
        (CENTRE, "gestionnaire", "finess", "finess_ej", EJ, NEW_EJ),
    ]  # the 2023 template has no EJ: not compared with 2023


def test_ej_compared_year_over_year_when_both_templates_have_it():
    found = centre_changes(frame(declaration(finess_ej=NEW_EJ)), frame(declaration()), HISTORY, 2025, T2025, T2024)
    rows = found.filter(pl.col("source") == "envoi_precedent")
    assert rows.select("kind", "field", "previous_value", "new_value").rows() == [
        ("gestionnaire", "finess_ej", EJ, NEW_EJ)]
    assert "changement de gestionnaire non signalé" in rows["message"][0]


def test_a_damaged_ej_is_repaired_and_an_invalid_one_is_not_compared():
    assert changes(declaration(finess_ej=f"{EJ[1:]}.0")) == []  # lost zero, float: the same EJ
    assert changes(declaration(finess_ej="690000000")) == []  # wrong key: a warning already, nothing to compare


def test_address_move_gives_one_row_per_source_and_the_message_of_the_spec():
    now = declaration(commune_insee="69266", code_postal="69100")
    found = centre_changes(frame(now), frame(declaration()), HISTORY, 2024, T2024, T2023)
    assert found.select("kind", "source", "field", "previous_value", "new_value").rows() == [
        ("adresse", "envoi_precedent", "commune_insee", "69123", "69266"),
        ("adresse", "finess", "commune_insee", "69123", "69266"),
    ]
    assert found["message"][1] == ("Le centre déclare la commune 69266, FINESS indique 69123 : adresse à mettre à "
                                   "jour dans FINESS ?")


def test_postal_code_alone_and_cedex_codes_are_not_addresses():
    assert changes(declaration(code_postal="69001"), declaration()) == [
        (CENTRE, "adresse", "envoi_precedent", "code_postal", "69003", "69001"),
        (CENTRE, "adresse", "finess", "code_postal", "69003", "69001"),
    ]
    # FINESS's line is a CEDEX one for OTHER: its code is the mail's, not compared
    other = declaration(OTHER, commune_insee="69266", code_postal="69627", raison_sociale="CDS Les Tilleuls")
    assert changes(other) == []


def test_blank_optional_values_say_nothing():
    assert changes(declaration(code_postal=None, finess_ej=None), declaration()) == []
    assert changes(declaration(), declaration(code_postal=None, type_gestionnaire=None)) == []


def test_raison_sociale_renamed():
    now = declaration(raison_sociale="Centre de santé Simone Veil")
    found = changes(now, declaration())
    assert found == [
        (CENTRE, "raison_sociale", "envoi_precedent", "raison_sociale",
         "Centre de santé mutualiste Les Quatre Chemins Nord", "Centre de santé Simone Veil"),
        (CENTRE, "raison_sociale", "finess", "raison_sociale", "CDS MUTUALISTE LES QUATRE CHEMINS NOR",
         "Centre de santé Simone Veil"),
    ]


@pytest.mark.parametrize("left, right, same", [
    (["LES", "TILLEULS"], ["TILLEULS", "LES"], True),
    (["TILLEULS"], ["TILLEULS", "LYON"], True),  # a town appended
    (["QUATRE", "CHEMINS", "NOR"], ["QUATRE", "CHEMINS", "NORD"], True),  # FINESS's cut
    ([], ["SIMONE", "VEIL"], True),  # nothing distinctive on one side: no evidence
    (["TILLEULS"], ["SIMONE", "VEIL"], False),
    (["TILLEULS", "NORD"], ["TILLEULS", "SUD"], False),
])
def test_same_name_rule(left, right, same):
    assert same_name(left, right) is same


def test_type_centre_is_compared_year_over_year_only():
    assert changes(declaration(type_centre="polyvalent"), declaration()) == [
        (CENTRE, "type_centre", "envoi_precedent", "type_centre", "médical", "polyvalent")]
    assert changes(declaration(type_centre="polyvalent")) == []  # FINESS has no type de centre


def test_antennes_retired_added_unknown_and_closed():
    before = declaration(antennes=f"{ANTENNE}; {OTHER}")
    now = declaration(antennes=f"{OTHER}\n{UNKNOWN}, {CLOSED}")
    assert changes(now, before) == [
        (CENTRE, "antenne_ajoutee", "envoi_precedent", "antennes", None, CLOSED),
        (CENTRE, "antenne_ajoutee", "envoi_precedent", "antennes", None, UNKNOWN),
        (CENTRE, "antenne_retiree", "envoi_precedent", "antennes", ANTENNE, None),
        (CENTRE, "antenne_ajoutee", "finess", "antennes", None, UNKNOWN),
        (CENTRE, "antenne_retiree", "finess", "antennes", "fermée (absente de FINESS depuis le 10/01/2024)", CLOSED),
    ]
    # a closed antenne still counts for the year it was open: 2023's report may list it
    assert changes(declaration(antennes=CLOSED), year=2023, now=T2023) == []
    # the same list typed differently, numbers damaged the usual way: nothing changed
    assert changes(declaration(antennes=f"{ANTENNE[:2]}.{ANTENNE[2:5]}.{ANTENNE[5:]};{OTHER}"), before) == []


def test_responsable_legal_and_plateau_technique_only_where_both_templates_have_them():
    before = declaration(responsable_legal="Marie DUPONT", plateau_technique="Échographe; radiologie")
    same = declaration(responsable_legal="Dupont Marie", plateau_technique="RADIOLOGIE, echographe")
    assert centre_changes(frame(same), frame(before), HISTORY, 2026, T2025, T2025).is_empty()
    now = declaration(responsable_legal="Jean Martin", plateau_technique="Radiologie\nCabinet dentaire")
    found = centre_changes(frame(now), frame(before), HISTORY, 2026, T2025, T2025)
    assert found.select("kind", "previous_value", "new_value").rows() == [
        ("plateau_technique", "Échographe; radiologie", "Radiologie\nCabinet dentaire"),
        ("responsable_legal", "Marie DUPONT", "Jean Martin"),
    ]
    assert "ajouté : CABINET DENTAIRE ; retiré : ECHOGRAPHE" in found["message"][0]
    # 2025 against 2024: the 2024 template has neither field
    assert centre_changes(frame(now), frame(before), HISTORY, 2025, T2025, T2024).is_empty()


def test_one_row_per_difference_and_only_for_the_centres_given():
    rows = changes([declaration(type_centre="polyvalent"), declaration(OTHER, raison_sociale="CDS Les Tilleuls",
                                                                      commune_insee="69266", code_postal="69100")],
                   [declaration(), declaration(OTHER, raison_sociale="CDS Les Tilleuls", commune_insee="69266",
                                               code_postal="69100")])
    assert rows == [(CENTRE, "type_centre", "envoi_precedent", "type_centre", "médical", "polyvalent")]


def test_an_antenne_finess_plus_gives_a_closing_date_for():
    # FINESS+ lists closed ETs with their closing date: that date says it, not the snapshots
    plus = HISTORY.with_columns(pl.lit(None, pl.Date).alias("datefermeture")).with_columns(
        pl.when(pl.col("finess_et") == ANTENNE).then(pl.lit(dt.date(2023, 6, 30))).otherwise(pl.col("datefermeture"))
        .alias("datefermeture"))
    found = centre_changes(frame(declaration(antennes=ANTENNE)), None, plus, 2024, T2024, None)
    assert found.select("kind", "source", "previous_value", "new_value").rows() == [
        ("antenne_retiree", "finess", "fermée le 30/06/2023 (date de fermeture FINESS)", ANTENNE)]
    assert centre_changes(frame(declaration(antennes=ANTENNE)), None, plus, 2023, T2023, None).is_empty()


def test_an_antenne_that_opens_after_the_exercise_is_not_called_closed():
    # FINESS+: opened in June 2025 and closed in 2026; declared in the 2024 report it is not
    # open during 2024, but it did not close before 2024 either
    later = HISTORY.with_columns(
        pl.when(pl.col("finess_et") == ANTENNE).then(pl.lit(dt.date(2025, 6, 1))).otherwise(pl.col("dateouv"))
        .alias("dateouv"),
        pl.when(pl.col("finess_et") == ANTENNE).then(pl.lit(dt.date(2026, 1, 15))).otherwise(pl.lit(None, pl.Date))
        .alias("datefermeture"))
    found = centre_changes(frame(declaration(antennes=ANTENNE)), None, later, 2024, T2024, None)
    assert "fermée" not in " ".join(found["message"].to_list())
    assert found.filter(pl.col("kind") == "antenne_retiree").is_empty()

