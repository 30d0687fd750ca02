"""The changes stage on real files, on both warehouses: two 2025-template workbooks of the
same centre (exercises 2025 and 2026) read, validated, reconciled against a FINESS extract,
loaded; the 2026 campaign compares with the 2025 report the warehouse holds."""
from __future__ import annotations

import datetime as dt

import polars as pl

from observatoire import stages, warehouse
from observatoire.readers.calendar import read_calendar
from tests.support.small_campaign import extract_line, write_extract
from tests.support.submission_files import LABELS, finess, run, save, values, workbook
from transforms.changes import DECLARATION_FIELDS
import pytest

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

CENTRE, EJ = finess("69000001"), finess("69000002")
NEW_EJ = finess("69000003")
LABELS_2025 = {**LABELS[2024], "responsable_legal": "Responsable légal (nom et prénom)",
               "plateau_technique": "Plateau technique (équipements)"}


def _extract(path):
    return write_extract(path, "2027-01-10", [extract_line(
        CENTRE, EJ, "CDS MUNICIPAL VILLEURBANNE", "266", "69", "RHONE", "69100 VILLEURBANNE",
        "CENTRE DE SANTE MUNICIPAL VILLEURBANNE")])


def _report(tmp_path, year, **fields):
    declared = values(year, finess_et=CENTRE, finess_ej=EJ, raison_sociale="Centre de santé municipal Villeurbanne",
                      commune_insee="69266", code_postal="69100", antennes=None)
    responsable, plateau = fields.pop("responsable_legal"), fields.pop("plateau_technique")
    book, _ = workbook({**declared, **fields}, labels=LABELS_2025)
    book["Identification"].append([LABELS_2025["responsable_legal"], responsable])
    book["Identification"].append([LABELS_2025["plateau_technique"], plateau])
    save(book, tmp_path / str(year) / "rapport.xlsx")
    return tmp_path / str(year)


def _consolidate(engine, folder, year, ref) -> pl.DataFrame:
    received, validated = run(folder, year)
    assert validated.template_version == "2025" and validated.typed["is_valid"].all(), validated.issues.to_dicts()
    resolution = stages.reconcile(validated, ref)
    rows, submissions = stages.statuses(validated, resolution, ref, read_calendar(None), year, ["84"])
    previous = warehouse.read_current_declarations(engine, year - 1, list(DECLARATION_FIELDS))
    found = stages.changes(submissions, ref, previous, year, ["84"])
    load = stages.build_load(year, ["84"], received, validated, rows, submissions, f"run-{year}",
                             dt.datetime(year + 1, 3, 10, tzinfo=dt.timezone.utc), changes=found)
    warehouse.load_campaign(engine, load)
    return found


def test_2026_report_compared_with_the_2025_one_in_the_warehouse(engine, tmp_path):
    warehouse.migrate(engine)
    ref = stages.load_referential([_extract(tmp_path / "finess.csv")])
    first = _report(tmp_path, 2025, responsable_legal="Marie DUPONT", plateau_technique="Échographe; radiologie")
    # first exercise in the warehouse: FINESS only, and the report agrees with it
    assert _consolidate(engine, first, 2025, ref).is_empty()
    stored = warehouse.read_current_declarations(engine, 2025, ["responsable_legal", "plateau_technique"])
    assert stored.rows() == [(CENTRE, "84", "Marie DUPONT", "Échographe; radiologie")]

    second = _report(tmp_path, 2026, finess_ej=NEW_EJ, responsable_legal="Jean Martin",
                     plateau_technique="radiologie, ECHOGRAPHE\ncabinet dentaire")
    found = _consolidate(engine, second, 2026, ref)
    assert found.select("kind", "source", "field", "previous_value", "new_value").sort("source", "kind").rows() == [
        ("gestionnaire", "envoi_precedent", "finess_ej", EJ, NEW_EJ),
        ("plateau_technique", "envoi_precedent", "plateau_technique", "Échographe; radiologie",
         "radiologie, ECHOGRAPHE\ncabinet dentaire"),
        ("responsable_legal", "envoi_precedent", "responsable_legal", "Marie DUPONT", "Jean Martin"),
        ("gestionnaire", "finess", "finess_ej", EJ, NEW_EJ),
    ]
    with engine.connect() as connection:
        import sqlalchemy as sa

        loaded = connection.execute(sa.text(
            "SELECT kind, source, raison_sociale, departement, submission_id IS NOT NULL FROM v_changements "
            "WHERE campaign_year = 2026 ORDER BY source, kind")).all()
    assert [tuple(r) for r in loaded] == [
        ("gestionnaire", "envoi_precedent", "CDS MUNICIPAL VILLEURBANNE", "69", True),
        ("plateau_technique", "envoi_precedent", "CDS MUNICIPAL VILLEURBANNE", "69", True),
        ("responsable_legal", "envoi_precedent", "CDS MUNICIPAL VILLEURBANNE", "69", True),
        ("gestionnaire", "finess", "CDS MUNICIPAL VILLEURBANNE", "69", True),
    ]
