"""The label registry is data: a new campaign template is a block added to templates.toml,
chosen by exercise year, with no code change."""
from __future__ import annotations

from importlib import resources

import polars as pl
import pytest

from schemas import registry
from schemas.fields import FIELDS
from tests.support.submission_files import LABELS, run, save, values, workbook
from transforms.labels import label_key, label_key_expr_of
from transforms.submissions import map_fields

BLOCK_2025 = '''
[[template]]
version = "2025"
first_exercise_year = 2025

[template.labels]
'''


def _registry_with_2025(tmp_path):
    source = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    labels = {**LABELS[2024], "file_active": "Nombre de patients de la file active",
              "annee_exercice": "Exercice concerné"}
    block = BLOCK_2025 + "".join(f'{name} = "{label}"\n' for name, label in labels.items())
    copy = tmp_path / "templates.toml"
    # the [personnel] table must stay last in TOML terms: insert the block before it
    head, tail = source.split("# Personnel sheet", 1)
    copy.write_text(head + block + "\n# Personnel sheet" + tail, encoding="utf-8")
    return registry.load_registry(copy), labels


def test_a_2025_block_is_chosen_by_exercise_year(tmp_path):
    reg, labels = _registry_with_2025(tmp_path)
    assert [t.version for t in reg.templates] == ["2023", "2024", "2025"]
    assert reg.template_for_year(2024).version == "2024"
    assert reg.template_for_year(2025).version == "2025"
    assert reg.template_for_year(2030).version == "2025"
    cells = pl.DataFrame({
        "submission_key": ["k", "k"], "source_file": ["f", "f"], "source_row": [None, None],
        "sheet": ["Activité", "Identification"], "location": ["B3", "B3"],
        "label": ["Nombre de patients de la file active :", "Exercice concerné"], "value": ["12", "2025"],
        "decimal_mark": [None, None],
    }, schema_overrides={"source_row": pl.Int64, "decimal_mark": pl.String})
    mapped, issues = map_fields(cells, reg.template_for_year(2025))
    assert mapped["field"].to_list() == ["file_active", "annee_exercice"] and issues.is_empty()
    _, issues_2024 = map_fields(cells, reg.template_for_year(2024))
    assert issues_2024.height == 2  # the 2024 template does not know the new labels


def test_a_2025_campaign_runs_on_the_new_block_without_code_change(tmp_path, monkeypatch):
    reg, labels = _registry_with_2025(tmp_path)
    monkeypatch.setattr(registry, "default_registry", lambda: reg)
    book, _ = workbook(values(2025, date_transmission="15/02/2026 10:00"), labels=labels)
    save(book, tmp_path / "envois" / "cds2025.xlsx")
    received, validated = run(tmp_path / "envois", 2025)
    assert validated.template_version == "2025"
    assert validated.issues.is_empty(), validated.issues.to_dicts()
    assert validated.typed.select("annee_exercice", "file_active").row(0) == (2025, 3200)


def test_duplicate_first_year_is_refused(tmp_path):
    source = resources.files("schemas").joinpath("templates.toml").read_text("utf-8")
    head, tail = source.split("# Personnel sheet", 1)
    (tmp_path / "bad.toml").write_text(head + BLOCK_2025.replace("2025", "2024") + 'file_active = "x"\n'
                                       + "# Personnel sheet" + tail, encoding="utf-8")
    with pytest.raises(ValueError, match="même année"):
        registry.load_registry(tmp_path / "bad.toml")


def test_shipped_registry_matches_the_spec_table():
    for year in (2023, 2024):
        template = registry.template_for_year(year)
        assert template.labels == {n: l for n, l in LABELS[year].items()}, year
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
