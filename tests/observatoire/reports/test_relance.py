"""The relance workbooks an ARS correspondent receives: one per region, centres to chase
sorted by urgency, rates by département with their bar chart."""
from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from observatoire import warehouse
from observatoire.reports.relance import relance_main, write_relance_workbooks

from tests.support import warehouse_builder as build


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
    assert sheet.freeze_panes == "D2" and sheet.auto_filter.ref.startswith("A1:")
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    # days late: only for a late centre, as in the warehouse; nothing valid yet: days since
    # the date limite, a column of its own
    assert [(r["Département"], r["N° FINESS ET"], r["Statut"], r["Jours de retard"], r["Jours depuis la date limite"],
             r["Courriel (dernier envoi)"], r["Téléphone (FINESS)"]) for r in rows] == [
        ("01 Ain", build.G, "manquant", None, 10, None, "0474000007"),
        ("69 Rhône", build.C, "manquant", None, 10, "c-2023@cds-c.fr", "0478000003"),
        ("69 Rhône", build.D, "invalide", None, 10, "d@cds-d.fr", "0478000004"),
        ("69 Rhône", build.B, "en retard", 3, None, "b@cds-b.fr", "0478000002"),
    ]
    # the invalid centre's blocking error itself (the builder files one per invalid submission)
    invalid = rows[2]
    assert invalid["Erreurs bloquantes du dernier envoi"] == "• Total des charges (€) « -1 » : valeur négative"
    errors = [[c.value for c in row] for row in book["Erreurs à corriger"].iter_rows(min_row=1)]
    assert errors[0][:8] == ["Département", "N° FINESS ET", "Raison sociale", "Feuille", "Cellule ou ligne", "Libellé",
                             "Valeur reçue", "Anomalie (ce qui est attendu)"]
    assert [r[:8] for r in errors[1:]] == [["69 Rhône", build.D, f"CENTRE DE SANTE {build.D}", "Finances", "B7",
                                            "Total des charges (€)", "'-1", "valeur négative"]]  # text: OWASP quote
    assert sheet.column_dimensions["C"].width > 20
    rates = book["Taux par département"]
    assert [[c.value for c in row][:2] + [row[7].value] for row in rates.iter_rows(min_row=2)] == [
        ["01 Ain", 3, round(200 / 3, 1)], ["69 Rhône", 4, 50.0]]
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


def test_layout_print_setup_and_no_formula(loaded, tmp_path):
    _, engine = loaded
    path = write_relance_workbooks(engine, 2024, ["84"], tmp_path, today=dt.date(2025, 3, 10))[0]
    book = load_workbook(path)
    assert book.properties.title.endswith("région 84 Auvergne-Rhône-Alpes")
    for name in ("À relancer", "Erreurs à corriger", "Taux par département"):
        sheet = book[name]
        setup = sheet.page_setup
        assert (setup.orientation, int(setup.paperSize), setup.fitToWidth, setup.fitToHeight) == (
            "landscape", 9, 1, 0), name
        assert sheet.print_title_rows == "$1:$1", name
    sheet = book["À relancer"]
    header = [c.value for c in sheet[1]]
    # wrapped headers get the height of their lines (LibreOffice keeps the stored height)
    assert sheet.row_dimensions[1].height >= 3 * 15
    email = header.index("Courriel (dernier envoi)") + 1
    assert sheet.column_dimensions[get_column_letter(email)].width >= len("accueil.la-fontaine@cds-amberieu-en-bu")
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets and not any(b"<f>" in xml or b"<f " in xml for xml in sheets)


def test_calls_logged_in_the_workbook_are_kept_when_it_is_rewritten(loaded, tmp_path):
    _, engine = loaded
    today = dt.date(2025, 3, 10)
    path = write_relance_workbooks(engine, 2024, ["84"], tmp_path, today=today)[0]
    book = load_workbook(path)
    sheet = book["À relancer"]
    header = [c.value for c in sheet[1]]
    at = {title: header.index(title) + 1 for title in ("N° FINESS ET", "Appelé le", "Par", "Résultat", "Commentaire")}
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, at["N° FINESS ET"]).value == build.C:
            sheet.cell(row, at["Appelé le"]).value = dt.datetime(2025, 3, 5)
            sheet.cell(row, at["Par"]).value = "M. Martin"
            sheet.cell(row, at["Résultat"]).value = "messagerie"
            sheet.cell(row, at["Commentaire"]).value = "rappeler jeudi"
    # a centre that needs no chase any more, logged earlier
    sheet.append(["01 Ain", build.E, "CENTRE E", None, None, None, None, None, None, None, None, None,
                  dt.datetime(2025, 3, 1), "Mme Roux", "envoi promis", None, None])
    book.save(path)

    write_relance_workbooks(engine, 2024, ["84"], tmp_path, today=today)
    again = load_workbook(path)
    rows = {r[at["N° FINESS ET"] - 1]: r for r in again["À relancer"].iter_rows(min_row=2, values_only=True)}
    logged = rows[build.C]
    assert [logged[at[t] - 1] for t in ("Appelé le", "Par", "Résultat", "Commentaire")] == [
        dt.datetime(2025, 3, 5), "M. Martin", "messagerie", "rappeler jeudi"]
    assert all(rows[build.G][at[t] - 1] is None for t in ("Appelé le", "Par", "Résultat", "Commentaire"))
    archived = list(again["Appels antérieurs"].iter_rows(min_row=2, values_only=True))
    assert archived == [(build.E, "CENTRE E", dt.datetime(2025, 3, 1), "Mme Roux", "envoi promis", None)]


def test_each_region_workbook_lists_its_changes_to_report(loaded, tmp_path):
    _, engine = loaded
    paths = write_relance_workbooks(engine, 2024, None, tmp_path / "out", today=dt.date(2025, 3, 10))
    by_region = {p.name: load_workbook(p)["Changements à signaler"] for p in paths}
    sheet = by_region["relance_2024_region_84.xlsx"]
    assert sheet.freeze_panes == "D2"
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    # the scenario's region 84 changes (E in 01, A in 69), never region 11's
    assert [(r["Département"].split()[0], r["N° FINESS ET"], r["Nature"], r["Comparé à"], r["Avant / FINESS"],
             r["Déclaré"]) for r in rows] == [
        ("01", build.E, "type de centre", "exercice précédent", "médical", "polyvalent"),
        ("69", build.A, "adresse", "FINESS", "69123", "69266"),
    ]
    assert all(r[header[-1]] and r["Raison sociale"] for r in rows)
    rows_11 = list(by_region["relance_2024_region_11.xlsx"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in rows_11] == [(build.I, "gestionnaire")]
    # 2023 has no change: the sheet says so
    paths = write_relance_workbooks(engine, 2023, ["84"], tmp_path / "2023", today=dt.date(2025, 3, 10))
    only = list(load_workbook(paths[0])["Changements à signaler"].iter_rows(min_row=2, values_only=True))
    assert len(only) == 1 and only[0][0].startswith("Aucun changement")


def test_the_titles_name_the_date_limite_the_calendar_set(tmp_path):
    # the statuses of a campaign whose calendar moved the date limite to 14 March, with one
    # centre granted until 1 April: the campaign is due by 14 March, not « avant le 1er mars »
    import dataclasses

    import polars as pl

    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    load = build.scenario_2024()
    moved = load.statuses.with_columns(
        pl.when(pl.col("finess_et") == build.C).then(pl.lit(dt.date(2025, 4, 1)))
        .otherwise(pl.lit(dt.date(2025, 3, 14))).alias("deadline"))
    warehouse.load_campaign(engine, dataclasses.replace(load, statuses=moved))
    path = write_relance_workbooks(engine, 2024, ["84"], tmp_path, today=dt.date(2025, 3, 20))[0]
    book = load_workbook(path)
    title = "Campagne 2024 (exercice 2024, rapports dus au plus tard le 14 mars 2025)"
    assert book.properties.title == f"Relance {title} — région 84 Auvergne-Rhône-Alpes"
    for name in ("À relancer", "Erreurs à corriger", "Taux par département"):
        assert book[name].oddHeader.center.text.startswith(title), name
    engine.dispose()
