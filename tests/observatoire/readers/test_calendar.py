"""The calendar file the ARS edits (interfaces.md): campaign date limite and extensions."""
import datetime as dt

import pytest

from observatoire.errors import CampaignError
from observatoire.readers.calendar import read_calendar


def test_campaign_row_and_extensions_in_both_date_forms(tmp_path):
    path = tmp_path / "calendrier.csv"
    # windows-1252 with a damaged FINESS (lost leading zero): repaired like a declared one
    path.write_bytes("annee;finess_et;date_limite\n2024;;15/03/2025\n2024;10000024;2025-03-31\n".encode("cp1252"))
    rows = read_calendar(path).select("annee", "finess_et", "date_limite").rows()
    assert rows == [(2024, None, dt.date(2025, 3, 15)), (2024, "010000024", dt.date(2025, 3, 31))]


@pytest.mark.parametrize("content, fragment", [
    ("annee;date\n2024;15/03/2025\n", "en-tête attendu"),
    ("annee;finess_et;date_limite\n2024;;15/03/2025\n2024;010000025;31/03/2025\n", "ligne 3"),  # bad key
    ("annee;finess_et;date_limite\n2024;;mars\n", "ligne 2"),
])
def test_bad_calendar_is_one_clear_error(tmp_path, content, fragment):
    path = tmp_path / "calendrier.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CampaignError, match=fragment):
        read_calendar(path)


def test_no_calendar_means_default_rule():
    assert read_calendar(None).is_empty()
