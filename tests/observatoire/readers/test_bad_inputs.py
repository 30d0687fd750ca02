"""Bad inputs found in review: each gives a clear French reason or message instead of an
exception escaping the run."""
from __future__ import annotations

import io
import zipfile

import polars as pl
import pytest
from pydantic import ValidationError

from flows.parameters import CampaignParameters
from observatoire.errors import CampaignError
from observatoire.readers.calendar import read_calendar
from observatoire.readers.finess_extract import read_finess_extract
from observatoire.readers.submission_files import read_reception_manifest, read_submission_file
from transforms.finess_key import is_valid_finess, valid_finess_expr
from transforms.labels import label_key, label_key_expr

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out


def test_a_csv_with_a_quote_never_closed_is_unreadable_not_a_crash(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('finess_et;raison_sociale\n"' + "x" * 200_000 + "\n", encoding="utf-8")
    content = read_submission_file(path, tmp_path)
    assert not content.outcome.readable
    assert content.outcome.reason.startswith("CSV illisible : guillemet non fermé")


def test_an_encrypted_zip_member_is_unreadable_not_a_crash(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")
    raw = bytearray(buffer.getvalue())
    raw[6] |= 1  # encryption flag, local header
    raw[raw.find(b"PK\x01\x02") + 8] |= 1  # and central directory
    path = tmp_path / "chiffre.ods"
    path.write_bytes(bytes(raw))
    content = read_submission_file(path, tmp_path)
    assert not content.outcome.readable and "tronqué ou corrompu" in content.outcome.reason


def test_a_reception_manifest_that_cannot_be_parsed_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "reception.csv").write_text('fichier;date_reception\n"' + "y" * 200_000 + "\n", encoding="utf-8")
    manifest, problems = read_reception_manifest(tmp_path)
    assert manifest.is_empty() and problems == ["reception.csv : illisible (guillemet non fermé ou cellule démesurée)"]


@pytest.mark.parametrize("text", ["", "annee;finess_et;date_limite\n2024;;28/02/2025;en trop\n"])
def test_a_calendar_that_cannot_be_parsed_is_a_campaign_error(tmp_path, text):
    path = tmp_path / "calendrier.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError, match="Calendrier invalide"):
        read_calendar(path)


def test_a_finess_extract_with_a_cut_line_is_a_campaign_error(tmp_path):
    path = tmp_path / "extrait.csv"
    path.write_bytes("finess;etalab;111;2025-01-12\nstructureet;010000024;010000016;CDS\n".encode("cp1252"))
    with pytest.raises(CampaignError, match="ligne structureet de 32 champs"):
        read_finess_extract(path)


def test_a_blank_submissions_folder_is_refused():
    with pytest.raises(ValidationError, match="dossier des envois obligatoire"):
        CampaignParameters(submissions="  ")


@pytest.mark.parametrize("number", ["1A0000000", "010000024\n", "2C0000000"])
def test_finess_shaped_text_without_a_key_is_invalid_not_a_crash(number):
    assert is_valid_finess(number) is False
    assert pl.select(valid_finess_expr(pl.lit(number)))[0, 0] is False


def test_label_keys_are_the_same_in_python_and_in_polars():
    labels = ["Nombre d‘actes (nb)", "Part de l’AME (%)", " Raison\u00a0sociale : ", "ÉTP\u2009médecins"]
    assert [label_key(label) for label in labels] == \
        pl.DataFrame({"l": labels}).select(label_key_expr("l"))["l"].to_list()
