"""The label registry is data: a new campaign template is a block added to templates.toml,
chosen by exercise year, with no code change; the 2025 template is shipped that way."""
from __future__ import annotations

import re
from importlib import resources

import polars as pl
import pytest

from schemas import registry
from schemas.fields import FIELDS
from tests.support.submission_files import LABELS, run, save, values, workbook
from transforms.labels import label_key, label_key_expr_of
from transforms.submissions import map_fields

# a later campaign's template, as an ARS would add it (the shipped registry stops at 2025)
BLOCK_2027 = '''
[[template]]
version = "2027"
first_exercise_year = 2027

[template.labels]
'''


def _registry_with_2027(tmp_path):
    source = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    labels = {**LABELS_2025, "file_active": "Nombre de patients de la file active",
              "annee_exercice": "Exercice concerné"}
    block = BLOCK_2027 + "".join(f'{name} = "{label}"\n' for name, label in labels.items())
    copy = tmp_path / "templates.toml"
    # the [personnel] table must stay last in TOML terms: insert the block before it
    head, tail = source.split("# Personnel sheet", 1)
    copy.write_text(head + block + "\n# Personnel sheet" + tail, encoding="utf-8")
    return registry.load_registry(copy), labels


def test_a_2027_block_is_chosen_by_exercise_year(tmp_path):
    reg, labels = _registry_with_2027(tmp_path)
    assert [t.version for t in reg.templates] == ["2023", "2024", "2025", "2027"]
    assert reg.template_for_year(2024).version == "2024"
    assert reg.template_for_year(2026).version == "2025"
    assert reg.template_for_year(2027).version == "2027"
    assert reg.template_for_year(2030).version == "2027"
    cells = pl.DataFrame({
        "submission_key": ["k", "k"], "source_file": ["f", "f"], "source_row": [None, None],
        "sheet": ["Activité", "Identification"], "location": ["B3", "B3"],
        "label": ["Nombre de patients de la file active :", "Exercice concerné"], "value": ["12", "2027"],
        "decimal_mark": [None, None],
    }, schema_overrides={"source_row": pl.Int64, "decimal_mark": pl.String})
    mapped, issues = map_fields(cells, reg.template_for_year(2027))
    assert mapped["field"].to_list() == ["file_active", "annee_exercice"] and issues.is_empty()
    _, issues_2025 = map_fields(cells, reg.template_for_year(2025))
    assert issues_2025.height == 2  # the 2025 template does not know the new labels


def test_a_2027_campaign_runs_on_the_new_block_without_code_change(tmp_path, monkeypatch):
    reg, labels = _registry_with_2027(tmp_path)
    monkeypatch.setattr(registry, "default_registry", lambda: reg)
    book, _ = workbook(values(2027, date_transmission="15/02/2028 10:00"), labels=labels)
    save(book, tmp_path / "envois" / "cds2027.xlsx")
    received, validated = run(tmp_path / "envois", 2027)
    assert validated.template_version == "2027"
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    assert validated.typed.select("annee_exercice", "file_active").row(0) == (2027, 3200)


# submission-template.md: the 2025 template keeps every 2024 label and adds two optional fields
LABELS_2025 = {**LABELS[2024], "responsable_legal": "Responsable légal (nom et prénom)",
               "plateau_technique": "Plateau technique (équipements)"}


def _with_2025_fields(year: int, tmp_path):
    book, _ = workbook(values(year), year=min(year, 2024), labels=LABELS_2025)
    book["Identification"].append(["Responsable légal (nom et prénom)", "Marie Dupont"])
    book["Identification"].append(["plateau technique :", "Échographe ; radiologie\nfauteuil dentaire"])
    save(book, tmp_path / str(year) / "cds.xlsx")
    return run(tmp_path / str(year), year)


def test_the_2025_template_reads_responsable_legal_and_plateau_technique(tmp_path):
    _, validated = _with_2025_fields(2025, tmp_path)
    assert validated.template_version == "2025"
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    assert validated.typed.select("responsable_legal", "plateau_technique").row(0) == (
        "Marie Dupont", "Échographe ; radiologie\nfauteuil dentaire")
    # a 2024 report does not have them: labels not recognised, values not read
    _, validated_2024 = _with_2025_fields(2024, tmp_path)
    assert validated_2024.typed.select("responsable_legal", "plateau_technique").row(0) == (None, None)
    unknown = validated_2024.issues.filter(pl.col("message").str.contains("non reconnu dans le modèle 2024"))
    assert sorted(unknown["value"].to_list()) == ["Marie Dupont", "Échographe ; radiologie\nfauteuil dentaire"]


def test_duplicate_first_year_is_refused(tmp_path):
    source = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    head, tail = source.split("# Personnel sheet", 1)
    (tmp_path / "bad.toml").write_text(head + BLOCK_2027.replace("2027", "2024") + 'file_active = "x"\n'
                                       + "# Personnel sheet" + tail, encoding="utf-8")
    with pytest.raises(ValueError, match="même année"):
        registry.load_registry(tmp_path / "bad.toml")


@pytest.mark.parametrize("group", ["sante", "medecin"])
def test_a_registry_without_a_group_the_rules_count_is_refused(tmp_path, group):
    source = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    without = re.sub(rf"^{group} = \[[^\]]*\]\n", "", source, flags=re.MULTILINE)
    assert without != source
    (tmp_path / "bad.toml").write_text(without, encoding="utf-8")
    with pytest.raises(ValueError, match=f"absent.*'{group}'"):
        registry.load_registry(tmp_path / "bad.toml")


def test_shipped_registry_matches_the_spec_table():
    for year, labels in ((2023, LABELS[2023]), (2024, LABELS[2024]), (2025, LABELS_2025)):
        template = registry.template_for_year(year)
        assert template.version == str(year) and template.labels == labels, year
        assert set(template.labels) <= set(FIELDS)


@pytest.mark.parametrize("label", [
    "N° FINESS établissement (ET)", "  TOTAL   des charges (€) : ", "Année d’exercice", "Part des patients bénéficiaires de l'AME (%)",
    "Téléphone:", "\u00a0Effectif\u202f(personnes physiques)", "ÉTABLISSEMENT", "(€)", "",
])
def test_vectorised_label_key_is_label_key(label):
    frame = pl.DataFrame({"v": [label]}).select(label_key_expr_of(pl.col("v")))
    assert frame["v"][0] == label_key(label)


def test_builders_produce_a_valid_submission_of_each_template(tmp_path):
    save(workbook(values(2024))[0], tmp_path / "a" / "cds.xlsx")
    save(workbook(values(2023), year=2023)[0], tmp_path / "b" / "cds.xlsx")
    for folder, year in (("a", 2024), ("b", 2023)):
        received, validated = run(tmp_path / folder, year)
        assert validated.issues.is_empty(), validated.issues.to_dicts()
        assert validated.typed["is_valid"].to_list() == [True]
