"""What a run writes cannot be turned against the person who opens or runs it: no value
from a submission or from FINESS becomes a spreadsheet formula (OWASP: a text starting with
=, +, -, @, tab or carriage return is stored as text with a leading quote), and no file is
written through a symbolic link planted in the output folder."""
from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from observatoire import warehouse
from observatoire.errors import CampaignError
from observatoire.cli import main
from observatoire.outputs import UnsafeOutput, open_output, write_output
from observatoire.reports.cells import safe_text, set_value
from observatoire.reports.feedback import write_feedback_workbook
from observatoire.reports.relance import relance_main
from tests.support.small_campaign import EXPORT_HEADER as _EXPORT_HEADER, export_row as _export_row, write_small_campaign

from tests.support import warehouse_builder as build

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

HYPERLINK = '=HYPERLINK("http://x","clic")'


# ------------------------------------------------------------------ raw XML of a written workbook
def _sheet_xml(path: Path) -> dict[str, str]:
    """Every part of the .xlsx that holds cells or strings, as text."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"}


def _no_formula_anywhere(path: Path) -> None:
    for name, xml in _sheet_xml(path).items():
        assert not re.search(r"<(\w+:)?f[ >/]", xml), f"formule dans {path.name}:{name}"


def _stored_texts(path: Path) -> str:
    return "\n".join(_sheet_xml(path).values())


# ------------------------------------------------------------------ the cell rule
@pytest.mark.parametrize("typed", [HYPERLINK, "+33 4 78 00 00 00", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1",
                                   "=cmd|' /C calc'!A0"])
def test_formula_looking_text_is_quoted_and_stored_as_text(typed):
    assert safe_text(typed) == "'" + typed
    book = openpyxl.Workbook()
    cell = book.active.cell(1, 1)
    set_value(cell, typed)
    assert cell.data_type == "s" and cell.value == "'" + typed


def test_numbers_and_dates_stay_typed_only_text_is_neutralised():
    book = openpyxl.Workbook()
    sheet = book.active
    values = [-1234.5, -3, 0, dt.date(2025, 2, 28), "Centre de santé", "06 12", "-1234.5"]
    for column, value in enumerate(values, start=1):
        set_value(sheet.cell(1, column), value)
    assert [sheet.cell(1, c).value for c in range(1, 8)] == [
        -1234.5, -3, 0, dt.date(2025, 2, 28), "Centre de santé", "06 12", "'-1234.5"]
    assert [sheet.cell(1, c).data_type for c in (1, 2, 3)] == ["n", "n", "n"]


def test_control_characters_do_not_stop_the_workbook(tmp_path):
    issues = pl.DataFrame({"source_file": ["a.csv"], "value": ["nom\x01\x02 du centre"], "message": ["m"]})
    path = write_feedback_workbook(issues, pl.DataFrame({"source_file": ["a.csv"]}), tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(path)["Anomalies"]
    column = [c.value for c in sheet[1]].index("Valeur reçue") + 1
    assert sheet.cell(2, column).value == "nom\ufffd\ufffd du centre"


# ------------------------------------------------------------------ a real run, both workbooks
def _campaign_with_formulas(root: Path):
    """The small campaign of the flow tests; the invalid centre (file active « beaucoup »)
    declares a formula as its e-mail, a FINESS telephone starts with +."""
    campaign = write_small_campaign(root)
    header = _EXPORT_HEADER + ";contact_courriel"
    rows = [_export_row("690000013", "CDS Municipal Villeurbanne", "69266", "15/02/2025 10:00") + ";a@cds.fr",
            _export_row("690000039", "@Centre dentaire", "69266", "20/02/2025 11:00", "beaucoup") + f";{HYPERLINK}"]
    (campaign.submissions / "export.csv").write_bytes(("\n".join([header, *rows]) + "\n").encode("cp1252"))
    extract = campaign.finess.read_bytes().decode("cp1252")
    extract = extract.replace("structureet;690000054;690000062;CENTRE DE SANTE DES MINGUETTES",
                              "structureet;690000054;690000062;-CENTRE DE SANTE DES MINGUETTES", 1)
    campaign.finess.write_bytes(extract.replace(";0478000000;", ";+33478000000;").encode("cp1252"))
    return campaign


def test_a_formula_typed_in_a_submission_reaches_no_workbook_as_a_formula(prefect_harness, tmp_path, capsys):
    campaign = _campaign_with_formulas(tmp_path / "data")
    out = tmp_path / "rapports"
    assert main(["run", "--year", "2024", "--region", "84", "--submissions", str(campaign.submissions),
                 "--finess", str(campaign.finess), "--warehouse", f"sqlite:///{tmp_path / 'w.db'}",
                 "--output-dir", str(out)]) == 0
    feedback, relance = out / "campagne-2024-r84-retours.xlsx", out / "relance_2024_region_84.xlsx"
    for path in (feedback, relance):
        _no_formula_anywhere(path)
        texts = _stored_texts(path)
        # the neutralised text, as stored (XML escapes the quotes)
        assert "'=HYPERLINK(&quot;http://x&quot;,&quot;clic&quot;)" in texts or \
            "'=HYPERLINK(\"http://x\",\"clic\")" in texts, path.name
    anomalies = openpyxl.load_workbook(feedback)["Anomalies"]
    cells = [cell for row in anomalies.iter_rows(min_row=2) for cell in row if cell.value == "'" + HYPERLINK]
    assert cells and all(cell.data_type == "s" for cell in cells)
    chase = openpyxl.load_workbook(relance)["À relancer"]
    header = [c.value for c in chase[1]]
    rows = {row[1].value: dict(zip(header, row)) for row in chase.iter_rows(min_row=2)}
    assert rows["690000039"]["Courriel (dernier envoi)"].value == "'" + HYPERLINK
    assert rows["690000039"]["Courriel (dernier envoi)"].data_type == "s"
    assert rows["690000054"]["Raison sociale"].value == "'-CENTRE DE SANTE DES MINGUETTES"
    assert rows["690000054"]["Téléphone (FINESS)"].value == "'+33478000000"
    assert isinstance(rows["690000070"]["Jours de retard"].value, int)  # numbers stay numbers


# ------------------------------------------------------------------ planted links
def test_a_link_planted_as_the_next_file_is_replaced_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("à garder")
    out = tmp_path / "out"
    out.mkdir()
    (out / "rapport.xlsx").symlink_to(victim)
    write_output(out, "rapport.xlsx", b"nouveau")
    assert victim.read_text() == "à garder"
    assert not (out / "rapport.xlsx").is_symlink() and (out / "rapport.xlsx").read_bytes() == b"nouveau"
    assert sorted(p.name for p in out.iterdir()) == ["rapport.xlsx"]  # no temporary file left


def test_a_sub_folder_that_is_a_link_is_refused(tmp_path):
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "2024").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeOutput, match="lien symbolique"):
        write_output(out, "2024/fichier.csv", b"x")
    assert list(outside.iterdir()) == []
    for name in ("../fichier.csv", "/etc/fichier.csv"):
        with pytest.raises(UnsafeOutput):
            write_output(out, name, b"x")


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    write_output(tmp_path, "a.xlsx", b"ancien")
    with pytest.raises(RuntimeError):
        with open_output(tmp_path, "a.xlsx") as handle:
            handle.write(b"moiti")
            raise RuntimeError("interrompu")
    assert (tmp_path / "a.xlsx").read_bytes() == b"ancien" and sorted(os.listdir(tmp_path)) == ["a.xlsx"]


def test_relance_command_does_not_write_through_a_planted_link(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2024())
    engine.dispose()
    victim = tmp_path / "important.txt"
    victim.write_text("contenu de la victime")
    out = tmp_path / "relance"
    out.mkdir()
    (out / "relance_2024_region_84.xlsx").symlink_to(victim)
    assert relance_main(["--year", "2024", "--region", "84", "--warehouse", url, "--out", str(out)]) == 0
    assert victim.read_text() == "contenu de la victime"
    written = out / "relance_2024_region_84.xlsx"
    assert not written.is_symlink() and openpyxl.load_workbook(written)["À relancer"]["B2"].value


def test_run_workbooks_are_not_written_through_planted_links(prefect_harness, tmp_path):
    campaign = write_small_campaign(tmp_path / "data")
    out = tmp_path / "rapports"
    out.mkdir()
    victims = {name: tmp_path / f"victim-{name}" for name in ("campagne-2024-r84-retours.xlsx",
                                                               "relance_2024_region_84.xlsx")}
    for name, victim in victims.items():
        victim.write_text("à garder")
        (out / name).symlink_to(victim)
    assert main(["run", "--year", "2024", "--region", "84", "--submissions", str(campaign.submissions),
                 "--finess", str(campaign.finess), "--warehouse", f"sqlite:///{tmp_path / 'w.db'}",
                 "--output-dir", str(out)]) == 0
    for name, victim in victims.items():
        assert victim.read_text() == "à garder"
        assert not (out / name).is_symlink() and zipfile.is_zipfile(out / name)


def test_sample_replaces_a_planted_folder_link_without_touching_its_target(tmp_path):
    from observatoire.sample import generate_sample
    from observatoire.sample.generator import README_MARKER

    outside = tmp_path / "ailleurs"
    outside.mkdir()
    (outside / "precieux.txt").write_text("à garder")
    out = tmp_path / "sample"
    out.mkdir()
    (out / "README.txt").write_text(README_MARKER)  # looks like an earlier sample
    (out / "2024").symlink_to(outside, target_is_directory=True)
    (out / "finess").symlink_to(outside, target_is_directory=True)
    generate_sample(out)
    assert sorted(p.name for p in outside.iterdir()) == ["precieux.txt"]
    assert (outside / "precieux.txt").read_text() == "à garder"
    assert not (out / "2024").is_symlink() and (out / "2024" / "calendrier.csv").is_file()


def test_sql_exports_store_no_formula_and_follow_no_link(tmp_path):
    from observatoire.cli import main as cli

    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    engine.dispose()
    query = f"SELECT '{HYPERLINK.replace(chr(39), chr(39) * 2)}' AS courriel, -1234.5 AS resultat"
    victim = tmp_path / "victim.csv"
    victim.write_text("à garder")
    out = tmp_path / "exports"
    out.mkdir()
    (out / "r.csv").symlink_to(victim)
    assert cli(["sql", query, "--format", "csv", "--output", str(out / "r.csv"), "--warehouse", url]) == 0
    assert victim.read_text() == "à garder" and not (out / "r.csv").is_symlink()
    assert (out / "r.csv").read_text(encoding="utf-8").splitlines()[1] == "\"'=HYPERLINK(\"\"http://x\"\",\"\"clic\"\")\";-1234.5"
    assert cli(["sql", query, "--format", "xlsx", "--output", str(out / "r.xlsx"), "--warehouse", url]) == 0
    _no_formula_anywhere(out / "r.xlsx")
    row = [c.value for c in openpyxl.load_workbook(out / "r.xlsx").active[2]]
    assert row == ["'" + HYPERLINK, -1234.5]


def test_the_sqlite_run_lock_file_is_not_opened_through_a_link(tmp_path):
    from observatoire import run_lock

    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    victim = tmp_path / "victim.txt"
    victim.write_text("à garder")
    (tmp_path / f"w.db.{run_lock.lock_name(2024)}.lock").symlink_to(victim)
    with pytest.raises(CampaignError, match="lien symbolique"):
        with run_lock.lock_if_free(engine, 2024):
            pass
    engine.dispose()
    assert victim.read_text() == "à garder"
