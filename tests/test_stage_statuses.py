"""The statuses stage: where an unexpected submission is placed when no centre was found."""
from __future__ import annotations

from observatoire import stages
from observatoire.readers.calendar import read_calendar
from tests.support.submission_files import finess, run, save, values, workbook

CENTRE, EJ = finess("69000001"), finess("69000002")
UNKNOWN = finess("97400009")  # a valid key, in no referential


def _extract(path):
    line = (f"structureet;{CENTRE};{EJ};CDS MUNICIPAL VILLEURBANNE;CENTRE DE SANTE MUNICIPAL VILLEURBANNE;;;1;R;"
            "DE LA PAIX;;;266;69;RHONE;69100 VILLEURBANNE;0478000000;;124;Centre de Santé;2206;Centres de Santé;;;;;;;"
            "2000-01-01;2000-01-01;2024-01-01;")
    path.write_bytes(f"finess;etalab;111;2025-01-10\n{line}\n".encode("cp1252"))
    return path


def test_an_unknown_centre_of_reunion_is_placed_in_its_overseas_departement(tmp_path):
    # Saint-Denis (La Réunion) is commune 97411: département 974 (three characters
    # overseas, geography.py), region 04, not « 97 »
    declared = values(2024, finess_et=UNKNOWN, finess_ej=None, raison_sociale="Centre de santé du Butor",
                      commune_insee="97411", code_postal="97400", antennes=None)
    book, _ = workbook(declared)
    save(book, tmp_path / "envois" / "rapport.xlsx")
    ref = stages.load_referential([_extract(tmp_path / "finess.csv")])
    _, validated = run(tmp_path / "envois", 2024, in_process=True)
    rows, _ = stages.statuses(validated, stages.reconcile(validated, ref), ref, read_calendar(None), 2024,
                              ["04", "84"])
    unexpected = rows.filter(rows["status"] == "unexpected")
    assert unexpected.select("departement", "region_code").rows() == [("974", "04")]
