"""The run parameters: defaults a non-developer can rely on, the `{annee}` folders, run
names, and the UI form's French schema. No Prefect run needed."""
from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from flows.parameters import CampaignParameters
from observatoire.errors import CampaignError
from transforms.campaign_calendar import default_year


def test_year_defaults_to_the_previous_year_in_paris():
    # 31 Dec 2025 23:30 UTC is already 1 Jan 2026 in Paris: exercise 2025
    assert default_year(dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.timezone.utc)) == 2025
    assert default_year(dt.datetime(2025, 3, 2, 5, 0, tzinfo=dt.timezone.utc)) == 2024
    march = dt.datetime(2025, 3, 2, 5, 0, tzinfo=dt.timezone.utc)
    assert CampaignParameters().exercise_year(march) == 2024
    assert CampaignParameters(year=2022).exercise_year(march) == 2022


def test_folders_take_the_year():
    params = CampaignParameters(submissions="/srv/envois/{annee}", calendar="/srv/cal/{annee}.csv",
                                output_dir="/srv/rapports/{annee}")
    assert str(params.submissions_dir(2024)) == "/srv/envois/2024"
    assert str(params.calendar_file(2024)) == "/srv/cal/2024.csv"
    assert str(params.output_folder(2024)) == "/srv/rapports/2024"
    assert CampaignParameters(calendar="", output_dir=" ").calendar_file(2024) is None
    assert CampaignParameters(output_dir=" ").output_folder(2024) is None


def test_run_names_say_year_and_regions():
    assert CampaignParameters(year=2024, regions=["84"]).run_name() == "campagne-2024-r84"
    assert CampaignParameters(year=2024, regions=["84", "11", " "]).run_name("relance") == "relance-2024-r11-r84"
    assert CampaignParameters(year=2023).run_name() == "campagne-2023"


def test_bad_region_code_is_refused_in_french():
    with pytest.raises(ValidationError, match="code région COG attendu"):
        CampaignParameters(regions=["Rhône"])


def test_finess_patterns_expand_sorted(tmp_path):
    for name in ("finess_2025-01.csv", "finess_2024-01.csv"):
        (tmp_path / name).write_text("x")
    params = CampaignParameters(finess=[str(tmp_path / "finess_*.csv"), str(tmp_path / "autre.csv")])
    assert [p.name for p in params.finess_files()] == ["finess_2024-01.csv", "finess_2025-01.csv", "autre.csv"]
    with pytest.raises(CampaignError, match="Aucun extrait FINESS"):
        CampaignParameters(finess=[str(tmp_path / "rien_*.csv")]).finess_files()


def test_the_ui_form_is_described_in_french():
    schema = CampaignParameters.model_json_schema()
    assert schema["title"] == "Paramètres de la campagne"
    for name, field in schema["properties"].items():
        assert field.get("title") and field.get("description"), name
    assert schema["properties"]["year"]["title"] == "Année d'exercice"
    assert "required" not in schema  # every field has a default: "Run" works without typing anything


def test_flow_parameter_schema_exposes_the_model():
    from flows.campaign import consolidate_campaign
    from flows.relance import relance_pre_echeance
    from prefect.utilities.callables import parameter_schema

    for flow in (consolidate_campaign, relance_pre_echeance):
        schema = parameter_schema(flow).model_dump()
        assert list(schema["properties"]) == ["params"]
        definitions = schema["definitions"]
        model = next(d for d in definitions.values() if d.get("title") == "Paramètres de la campagne")
        assert model["properties"]["submissions"]["description"].startswith("Dossier contenant les fichiers")
