"""Every rule of submission-template.md with its severity, judged on a workbook that
breaks it alone: the issue names the sheet, the cell, the label, the value and what was
expected; and one bad cell never hides another."""
from __future__ import annotations

import polars as pl
import pytest

from tests.support.submission_files import LABELS, PERSONNEL, finess, save, values, workbook
from tests.support.submission_files import run as _run_in_reader_processes


def run(paths_root, year=2024, run_at=None):
    # the rules are what is tested here: files read in this process, without a reader
    # process per test (the isolation is tests/observatoire/readers/test_pool_isolation.py's)
    return _run_in_reader_processes(paths_root, year, run_at, in_process=True)


def _judge(tmp_path, overrides=None, *, personnel=PERSONNEL, year=2024, template_year=None, **kwargs):
    book, where = workbook(values(template_year or year, **(overrides or {})), personnel=personnel,
                           year=template_year or year, **kwargs)
    save(book, tmp_path / "envois" / "cds.xlsx")
    received, validated = run(tmp_path / "envois", year)
    return validated, where


BAD_KEY = finess("69000001")[:8] + str((int(finess("69000001")[8]) + 1) % 10)

RULES = [
    # (overrides, field, severity, message fragment)
    ({"annee_exercice": 2023}, "annee_exercice", "error", "celle de la campagne"),
    ({"raison_sociale": None}, "raison_sociale", "error", "obligatoire"),
    ({"raison_sociale": "   "}, "raison_sociale", "error", "obligatoire"),
    ({"type_centre": "clinique"}, "type_centre", "error", "attendu une des valeurs : médical, polyvalent"),
    ({"type_gestionnaire": "association"}, "type_gestionnaire", "error", "collectivité territoriale"),
    ({"commune_insee": "691234"}, "commune_insee", "error", "code commune INSEE de 5 caractères"),
    ({"commune_insee": None}, "commune_insee", "error", "obligatoire"),
    ({"code_postal": "ABCDE"}, "code_postal", "warning", "code postal de 5 chiffres"),
    ({"finess_ej": BAD_KEY}, "finess_ej", "warning", "clé de contrôle"),
    ({"date_transmission": "31/12/2024 10:00"}, "date_transmission", "error", "postérieure au 1er janvier"),
    ({"date_transmission": "02/06/2025 08:00"}, "date_transmission", "error", "dans le futur"),
    ({"date_transmission": None}, "date_transmission", "error", "obligatoire"),
    ({"date_transmission": "hier"}, "date_transmission", "error", "attendu une date"),
    ({"contact_courriel": "contact-at-cds"}, "contact_courriel", "warning", "adresse électronique"),
    ({"contact_telephone": "04 78 12 34"}, "contact_telephone", "warning", "10 chiffres"),
    ({"file_active": "-5"}, "file_active", "error", "supérieur ou égal à 0"),
    ({"file_active": "beaucoup"}, "file_active", "error", "illisible : attendu un nombre entier"),
    ({"patients_medecin_traitant": 5000}, "patients_medecin_traitant", "error", "file active"),
    ({"nb_actes": "-1"}, "nb_actes", "error", "supérieur ou égal à 0"),
    ({"jours_ouverture": 367}, "jours_ouverture", "error", "entre 0 et 366"),
    ({"amplitude_hebdo_h": "170,5"}, "amplitude_hebdo_h", "error", "entre 0 et 168"),
    ({"tiers_payant_integral": "peut-être"}, "tiers_payant_integral", "error", "oui ou non"),
    ({"tiers_payant_integral": None}, "tiers_payant_integral", "error", "obligatoire"),
    ({"part_css_pct": "101 %"}, "part_css_pct", "error", "entre 0 et 100"),
    ({"part_ame_pct": "-1"}, "part_ame_pct", "error", "entre 0 et 100"),
    ({"part_css_pct": 80, "part_ame_pct": 30}, "part_ame_pct", "warning", "ne peut pas dépasser 100 %"),
    ({"actions_prevention": "-1"}, "actions_prevention", "error", "supérieur ou égal à 0"),
    ({"stagiaires": "-2"}, "stagiaires", "error", "supérieur ou égal à 0"),
    ({"specialites_second_recours": "-1"}, "specialites_second_recours", "error", "supérieur ou égal à 0"),
    ({"total_charges": "-10", "masse_salariale": None}, "total_charges", "error", "supérieur ou égal à 0"),
    ({"total_produits": "beaucoup"}, "total_produits", "error", "illisible : attendu un nombre"),
    ({"resultat": "1 000"}, "resultat", "warning", "total des produits − total des charges"),
    ({"recettes_assurance_maladie": "-1"}, "recettes_assurance_maladie", "error", "supérieur ou égal à 0"),
    ({"remuneration_forfaitaire": "-1"}, "remuneration_forfaitaire", "error", "supérieur ou égal à 0"),
    ({"subventions": "-1"}, "subventions", "error", "supérieur ou égal à 0"),
    ({"masse_salariale": "-1"}, "masse_salariale", "error", "supérieur ou égal à 0"),
    ({"masse_salariale": "2 000 000"}, "masse_salariale", "warning", "ne peut pas dépasser le total des charges"),
]


@pytest.mark.parametrize("overrides, field, severity, fragment", RULES, ids=[f"{r[1]}-{i}" for i, r in enumerate(RULES)])
def test_rule(tmp_path, overrides, field, severity, fragment):
    validated, where = _judge(tmp_path, overrides)
    issues = validated.issues
    assert issues.select("field", "severity").rows() == [(field, severity)], issues.to_dicts()
    issue = issues.row(0, named=True)
    assert fragment in issue["message"], issue["message"]
    assert issue["source_file"] == "cds.xlsx" and issue["label"] == LABELS[2024][field]
    if field in where:  # the line exists: the issue points at its value cell and echoes it
        assert (issue["sheet"], issue["location"]) == where[field]
    else:  # line absent: the sheet is still named so the centre knows where to add it
        assert issue["location"] is None and issue["sheet"] in ("Identification", "Activité", "Finances")
    typed_value = overrides.get(field)
    if isinstance(typed_value, str) and typed_value.strip():
        assert issue["value"] == typed_value.strip()
    assert validated.typed["is_valid"].to_list() == [severity != "error"]


def test_enumerations_match_like_labels(tmp_path):
    validated, _ = _judge(tmp_path, {"type_centre": "MEDICAL ", "type_gestionnaire": "Etablissement public de sante"})
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    assert validated.typed.select("type_centre", "type_gestionnaire").row(0) == (
        "médical", "établissement public de santé")


def test_corsican_commune_and_repaired_ej(tmp_path):
    validated, _ = _judge(tmp_path, {"commune_insee": "2A004", "finess_ej": finess("2A000001"),
                                     "code_postal": "20000"})
    assert validated.issues.is_empty(), validated.issues.to_dicts()


def test_each_bad_antenne_is_its_own_warning(tmp_path):
    good, bad_one, bad_two = finess("69900001"), "69900001X", BAD_KEY
    validated, where = _judge(tmp_path, {"antennes": f"{good};{bad_one},\n{bad_two}"})
    issues = validated.issues
    assert issues.select("field", "severity", "value").sort("value").rows() == sorted(
        [("antennes", "warning", bad_one), ("antennes", "warning", bad_two)], key=lambda r: r[2])
    assert set(issues["location"]) == {where["antennes"][1]}
    assert validated.typed["is_valid"].to_list() == [True]


def test_one_bad_cell_never_hides_the_others(tmp_path):
    overrides = {"file_active": "beaucoup", "jours_ouverture": 400, "tiers_payant_integral": "peut-être",
                 "contact_courriel": "pas-un-courriel", "total_charges": "-10", "masse_salariale": None,
                 "code_postal": "ABCDE"}
    personnel = [*PERSONNEL, ("Infirmier", "deux", 1)]
    validated, where = _judge(tmp_path, overrides, personnel=personnel)
    found = {(r["field"], r["location"], r["severity"]) for r in validated.issues.iter_rows(named=True)}
    expected = {
        ("file_active", where["file_active"][1], "error"),
        ("jours_ouverture", where["jours_ouverture"][1], "error"),
        ("tiers_payant_integral", where["tiers_payant_integral"][1], "error"),
        ("contact_courriel", where["contact_courriel"][1], "warning"),
        ("total_charges", where["total_charges"][1], "error"),
        ("code_postal", where["code_postal"][1], "warning"),
        ("effectif", f"ligne {2 + len(personnel)}", "warning"),
    }
    assert found == expected
    assert validated.typed.select("n_errors", "n_warnings").row(0) == (4, 3)


# ------------------------------------------------------------------ Personnel, row by row
def _personnel_issues(tmp_path, rows):
    validated, _ = _judge(tmp_path, personnel=rows)
    return validated, validated.issues.filter(pl.col("sheet") == "Personnel")


# title on line 1, header on line 2: personnel row i (from 0) is on line 3 + i
@pytest.mark.parametrize("row, field, fragment, set_aside", [
    (("Chirurgien esthétique", 1, 1), "profession", "profession inconnue", True),
    (("Infirmier", -1, 1), "effectif", "supérieur ou égal à 0", True),
    (("Infirmier", "deux", 1), "effectif", "effectif illisible", True),
    (("Infirmier", "1,5", 1), "effectif", "effectif illisible", True),
    (("Orthophoniste", 1, "-0,5"), "etp", "supérieur ou égal à 0", True),
    (("Orthophoniste", 1, "beaucoup"), "etp", "ETP illisible", True),
    (("Infirmier", None, "0,5"), "effectif", "obligatoire", True),
    (("Orthoptiste", 1, "1,5"), "etp", "ne devrait pas dépasser l'effectif", False),
    # implausible: past the bound of schemas.submission (5,000 per profession), whatever else holds
    (("Infirmier", 250_000, 1), "effectif", "inférieur ou égal à 5 000 (valeur invraisemblable)", True),
    (("Infirmier", 3, "499 999,5"), "etp", "inférieur ou égal à 5 000", True),
    (("Orthophoniste", 5_000, "5 000,5"), "etp", "inférieur ou égal à 5 000 (valeur invraisemblable)", True),
])
def test_personnel_row(tmp_path, row, field, fragment, set_aside):
    validated, issues = _personnel_issues(tmp_path, [*PERSONNEL, row])
    assert issues.select("field", "severity", "location").rows() == [(field, "warning", f"ligne {3 + len(PERSONNEL)}")]
    assert fragment in issues["message"][0]
    assert ("ligne écartée" in issues["message"][0]) is set_aside
    expected_aside = [("cds.xlsx", 1)] if set_aside else []
    assert validated.rows_set_aside.rows() == expected_aside
    assert validated.typed["is_valid"].to_list() == [True]  # the row, not the submission, is set aside


def test_profession_listed_twice_is_summed(tmp_path):
    validated, issues = _personnel_issues(tmp_path, [*PERSONNEL, ("médecin  generaliste", 1, "0,5")])
    assert issues.select("field", "severity", "value").rows() == [("profession", "warning", "medecin_generaliste")]
    assert "additionnées" in issues["message"][0]
    medecins = validated.personnel.filter(pl.col("profession") == "medecin_generaliste")
    assert medecins.select("effectif", "etp").rows() == [(4, 3.0)]


def test_blank_template_lines_declare_nobody(tmp_path):
    validated, issues = _personnel_issues(tmp_path, [*PERSONNEL, ("Orthoptiste", None, None), ("Psychologue", "", "")])
    assert issues.is_empty()
    assert "orthoptiste" not in validated.personnel["profession"].to_list()
    assert sorted(validated.personnel["profession"]) == ["infirmier", "medecin_generaliste", "secretaire_medical"]


@pytest.mark.parametrize("rows", [
    [("Secrétaire médical", 2, 2), ("Coordinateur", 1, 1)],  # no health profession
    [("Médecin généraliste", 2, 0), ("Secrétaire médical", 2, 2)],  # health profession without ETP
])
def test_at_least_one_health_professional_with_etp(tmp_path, rows):
    validated, issues = _personnel_issues(tmp_path, rows)
    assert issues.select("field", "severity").rows() == [("personnel", "error")]
    assert "aucun professionnel de santé" in issues["message"][0]
    assert validated.typed["is_valid"].to_list() == [False]


# ------------------------------------------------------------------ labels and template versions
def test_unknown_and_repeated_labels_are_warnings(tmp_path):
    book, where = workbook(values())
    sheet = book["Activité"]
    sheet.append(["Nombre de chats du centre", 3])
    sheet.append(["File active", 9999])
    save(book, tmp_path / "envois" / "cds.xlsx")
    _, validated = run(tmp_path / "envois")
    issues = validated.issues.sort("location")
    last = sheet.max_row
    assert issues.select("location", "severity", "value").rows() == [
        (f"B{last - 1}", "warning", "3"), (f"B{last}", "warning", "9999")]
    assert "non reconnu dans le modèle 2024" in issues["message"][0]
    assert "plusieurs fois" in issues["message"][1]
    assert validated.typed["file_active"].to_list() == [3200]  # the first value is kept


def test_2023_workbook_in_a_2024_campaign_is_read_with_the_2024_template(tmp_path):
    validated, where = _judge(tmp_path, {"annee_exercice": 2024, "date_transmission": "15/02/2025"}, year=2024,
                                  template_year=2023)
    issues = validated.issues
    unknown = issues.filter(pl.col("message").str.contains("non reconnu")).sort("location")
    assert set(unknown["label"]) == {"N° FINESS", "Tiers payant (oui/non)", "Part des patients CMU-C / CSS (%)",
                                     "Forfait accord national (€)"}
    assert issues.filter(pl.col("severity") == "error").select("field").rows() == [("tiers_payant_integral",)]
