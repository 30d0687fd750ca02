"""The relance workbooks an ARS correspondent receives: one per region, centres to chase
sorted by urgency, rates by département with their bar chart."""
from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from observatoire import warehouse
from observatoire.reports.relance import relance_main, write_relance_workbooks

import test_warehouse_builder as build


@pytest.fixture
def loaded(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2023())
    warehouse.load_campaign(engine, build.scenario_2024())
    return url, engine


def test_one_workbook_per_region_with_the_centres_to_chase(loaded, tmp_path):
    _, engine = loaded
    today = dt.date(2025, 3, 10)  # 10 days after the 2024 date limite (28/02/2025)
    paths = write_relance_workbooks(engine, 2024, None, tmp_path / "out", today=today)
    assert [p.name for p in paths] == ["relance_2024_region_11.xlsx", "relance_2024_region_84.xlsx"]
    book = load_workbook(paths[1])
    sheet = book["À relancer"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    assert [(r["Département"], r["N° FINESS ET"], r["Statut"], r["Jours de retard"], r["Courriel (dernier envoi)"],
             r["Téléphone (FINESS)"]) for r in rows] == [
        ("01", build.G, "manquant", 10, None, "0474000007"),
        ("69", build.C, "manquant", 10, "c-2023@cds-c.fr", "0478000003"),
        ("69", build.D, "invalide", 10, "d@cds-d.fr", "0478000004"),
        ("69", build.B, "en retard", 3, "b@cds-b.fr", "0478000002"),
    ]
    assert sheet.column_dimensions["C"].width > 20
    rates = book["Taux par département"]
    assert [[c.value for c in row][:2] + [row[7].value] for row in rates.iter_rows(min_row=2)] == [
        ["01", 3, round(200 / 3, 1)], ["69", 4, 50.0]]
    assert len(rates._charts) == 1 and type(rates._charts[0]).__name__ == "BarChart"


def test_cli_writes_the_requested_region_and_refuses_an_unknown_one(loaded, tmp_path, capsys):
    url, _ = loaded
    out = tmp_path / "cli"
    assert relance_main(["--year", "2024", "--region", "11", "--warehouse", url, "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["relance_2024_region_11.xlsx"]
    rows = list(load_workbook(out / "relance_2024_region_11.xlsx")["À relancer"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in rows] == [(build.H, "manquant")]
    assert relance_main(["--year", "2024", "--region", "93", "--warehouse", url, "--out", str(out)]) == 2
    assert "93" in capsys.readouterr().err


def test_each_region_workbook_lists_its_changes_to_report(loaded, tmp_path):
    _, engine = loaded
    paths = write_relance_workbooks(engine, 2024, None, tmp_path / "out", today=dt.date(2025, 3, 10))
    by_region = {p.name: load_workbook(p)["Changements à signaler"] for p in paths}
    sheet = by_region["relance_2024_region_84.xlsx"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    # the scenario's region 84 changes (E in 01, A in 69), never region 11's
    assert [(r["Département"], r["N° FINESS ET"], r["Nature"], r["Comparé à"], r["Avant / FINESS"], r["Déclaré"])
            for r in rows] == [
        ("01", build.E, "type de centre", "exercice précédent", "médical", "polyvalent"),
        ("69", build.A, "adresse", "FINESS", "69123", "69266"),
    ]
    assert all(r["Message"] and r["Raison sociale"] for r in rows)
    rows_11 = list(by_region["relance_2024_region_11.xlsx"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in rows_11] == [(build.I, "gestionnaire")]
    # 2023 has no change: the sheet says so
    paths = write_relance_workbooks(engine, 2023, ["84"], tmp_path / "2023", today=dt.date(2025, 3, 10))
    only = list(load_workbook(paths[0])["Changements à signaler"].iter_rows(min_row=2, values_only=True))
    assert len(only) == 1 and only[0][0].startswith("Aucun changement")
