"""The FINESS extract reader and the referential transforms, on the real public lines."""
import datetime as dt

import polars as pl
import pytest

from observatoire.errors import CampaignError
from observatoire.readers.finess_extract import STRUCTUREET_FIELDS, read_finess_extract
from observatoire.readers.reference_data import departement_regions
from tests.conftest import shared_data
from transforms.referential import (
    ESTABLISHMENT_COLUMNS, FINESS_TO_COG_DEPARTEMENT, establishment_history, snapshot_members, snapshot_versions, expected_centres, normalise_establishments,
)


@pytest.fixture(scope="module")
def real_extract():
    return read_finess_extract(shared_data("finess/etalab_excerpt_20260512.csv"))


def test_real_excerpt_parses_exactly(real_extract):
    frame = real_extract.establishments
    assert real_extract.extract_date == dt.date(2026, 5, 12)
    assert frame.shape == (14, 32)
    assert frame.columns == STRUCTUREET_FIELDS
    first = frame.row(0, named=True)
    assert first["nofinesset"] == "010000024" and first["nofinessej"] == "010780054"
    assert first["rslongue"] == "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT"
    assert first["ligneacheminement"] == "01440 VIRIAT" and first["dateouv"] == "1979-02-13"
    quoted = frame.filter(pl.col("nofinesset") == "980501506").row(0, named=True)
    assert quoted["rs"] == 'LIEU DE VIE "MAVOUNA MEMA 1"'
    assert quoted["rslongue"] == "LIEU DE VIE ET D'ACCUEIL \"MAVOUNA MEMA 1\""
    cmpp = frame.filter(pl.col("nofinesset") == "970210126").row(0, named=True)
    assert cmpp["libcategetab"] == "Centre Médico-Psycho-Pédagogique (C.M.P.P.)"  # windows-1252 accents
    assert sorted(frame["departement"].unique()) == ["01", "9A", "9B", "9C", "9D", "9F", "9J"]


def test_geolocalisation_lines_with_unquoted_separators(tmp_path):
    real = shared_data("finess/etalab_excerpt_20260512.csv").read_bytes()
    geo = shared_data("finess/etalab_geolocalisation_excerpt_2016.csv").read_bytes()
    path = tmp_path / "extract.csv"
    path.write_bytes(real + geo)
    extract = read_finess_extract(path)
    assert extract.establishments.height == 14
    assert extract.geolocations.height == 3
    row = extract.geolocations.row(0, named=True)
    assert row == {"nofinesset": "010002301", "x": "882538.9", "y": "6542885.8",
                   "source": "1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;LAMBERT_93", "datemaj": "2016-02-29"}


def test_layouts_other_than_data_gouv_give_the_same_establishments(tmp_path):
    """data.gouv's layout (every structureet line, then every geolocalisation line) is
    parsed in one block; interleaved lines, CRLF and blank lines take the line-by-line
    path and must give the same rows."""
    real = shared_data("finess/etalab_excerpt_20260512.csv").read_bytes().decode("cp1252")
    geo = shared_data("finess/etalab_geolocalisation_excerpt_2016.csv").read_bytes().decode("cp1252")
    header, *structure = real.splitlines()
    geo_lines = geo.splitlines()
    layouts = {
        "data.gouv": [header, *structure, *geo_lines],
        "interleaved": [header, *structure[:5], geo_lines[0], *structure[5:], *geo_lines[1:]],
        "blank lines": [header, *structure[:3], "", *structure[3:], "", *geo_lines],
    }
    frames = {}
    for name, lines in layouts.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
        frames[name] = read_finess_extract(path)
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(("\r\n".join(layouts["data.gouv"]) + "\r\n").encode("cp1252"))
    frames["crlf"] = read_finess_extract(crlf)
    for name, extract in frames.items():
        assert extract.establishments.height == len(structure), name
        assert extract.establishments.equals(frames["data.gouv"].establishments), name
        assert extract.geolocations.height == len(geo_lines), name
        assert extract.extract_date == frames["data.gouv"].extract_date


def test_not_an_extract_is_a_clear_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("nofinesset;rs\n", encoding="utf-8")
    with pytest.raises(CampaignError, match="ligne 1 : attendu"):
        read_finess_extract(path)
    with pytest.raises(CampaignError, match="illisible"):
        read_finess_extract(tmp_path / "absent.csv")


def test_overseas_and_corsica_regions(real_extract):
    frame = normalise_establishments(real_extract.establishments, departement_regions())
    region = dict(zip(frame["finess_et"], frame["region_code"]))
    assert region["010000024"] == "84"
    assert region["970100400"] == "01"  # 9A Guadeloupe
    assert region["970210126"] == "02"  # 9B Martinique
    assert region["970300026"] == "03"  # 9C Guyane
    assert region["970400024"] == "04"  # 9D La Réunion
    assert region["980501506"] == "06"  # 9F Mayotte, number starts 98: never from the prefix
    assert region["980600027"] is None  # 9J Wallis-et-Futuna: no ARS region
    insee = dict(zip(frame["finess_et"], frame["commune_insee"]))
    assert insee["010000024"] == "01451" and insee["970400024"] == "97411"


def test_sae_regions_match_departement_mapping():
    """Every SAE 2023 ET: FINESS département -> COG region equals the file's region."""
    sae = pl.read_csv(shared_data("finess/sae_2023_finess_ids.csv"), separator=";", infer_schema=False)
    mapped = sae.with_columns(pl.col("departement").replace(FINESS_TO_COG_DEPARTEMENT).alias("cog")).join(
        departement_regions(), left_on="cog", right_on="code_departement", how="left"
    )
    mismatches = mapped.filter(pl.col("code_region").is_null() | (pl.col("code_region") != pl.col("region")))
    assert mismatches.height == 0, mismatches.select("finess_et", "departement", "region", "code_region")
    prefix_differs = mapped.filter(pl.col("finess_et").str.slice(0, 2) != pl.col("departement"))
    assert prefix_differs.height > 0  # overseas numbers: the prefix is not the département


def _frame(rows):
    frame = pl.DataFrame(rows, schema={
        "finess_et": pl.String, "region_code": pl.String, "is_centre_de_sante": pl.Boolean, "dateouv": pl.Date,
    }, orient="row")
    return frame.with_columns(
        pl.lit(None, pl.Date if name == "datefermeture" else pl.String).alias(name)
        for name in ESTABLISHMENT_COLUMNS if name not in frame.columns
    ).select(ESTABLISHMENT_COLUMNS)


def test_history_keeps_closed_centres_for_the_years_they_were_open():
    s1 = _frame([("690000013", "84", True, dt.date(2000, 1, 1)), ("690000021", "84", True, dt.date(2000, 1, 1))])
    s2 = _frame([("690000013", "84", True, dt.date(2000, 1, 1)), ("690000039", "84", True, dt.date(2024, 6, 1))])
    history = establishment_history([(dt.date(2024, 1, 10), s1), (dt.date(2025, 1, 12), s2)])
    closed = history.filter(pl.col("finess_et") == "690000021").row(0, named=True)
    assert closed["last_seen"] == dt.date(2024, 1, 10) and closed["closed_before"] == dt.date(2025, 1, 12)
    expected_2023 = set(expected_centres(history, 2023, ["84"])["finess_et"])
    expected_2024 = set(expected_centres(history, 2024, ["84"])["finess_et"])
    expected_2025 = set(expected_centres(history, 2025, ["84"])["finess_et"])
    assert expected_2023 == {"690000013", "690000021"}  # 690000039 opened in 2024
    assert expected_2024 == {"690000013", "690000021", "690000039"}  # closed during 2024: still expected
    assert expected_2025 == {"690000013", "690000039"}  # gone from the 2025 extract
    assert expected_centres(history, 2024, ["11"]).is_empty()


def test_same_extract_twice_changes_nothing():
    s1 = _frame([("690000013", "84", True, dt.date(2000, 1, 1))])
    once = establishment_history([(dt.date(2024, 1, 10), s1)])
    twice = establishment_history([(dt.date(2024, 1, 10), s1), (dt.date(2024, 1, 10), s1)])
    assert once.equals(twice)


def test_versions_record_changes_and_reopen_periods():
    a = ("690000013", "84", True, dt.date(2000, 1, 1))
    moved = ("690000013", "11", True, dt.date(2000, 1, 1))
    d1, d2, d3, d4 = dt.date(2023, 1, 9), dt.date(2024, 1, 10), dt.date(2025, 1, 12), dt.date(2026, 1, 5)
    snapshots = [(d1, _frame([a])), (d2, _frame([a])), (d3, _frame([moved])), (d4, _frame([]).head(0))]
    versions = snapshot_versions(snapshots)
    assert versions.select("valid_from", "valid_to", "region_code").rows() == [(d1, d3, "84"), (d3, d4, "11")]
    # any order, duplicates included, gives the same periods
    shuffled = [snapshots[2], snapshots[0], snapshots[3], snapshots[1], snapshots[0]]
    assert snapshot_versions(shuffled).equals(versions)
    # and the snapshots can be rebuilt from the periods
    rebuilt = snapshot_members(versions, [d1, d2, d3, d4])
    assert [frame.height for _, frame in rebuilt] == [1, 1, 1, 0]
    history = establishment_history(snapshots)
    row = history.row(0, named=True)
    assert (row["first_seen"], row["last_seen"], row["closed_before"], row["region_code"]) == (d1, d3, d4, "11")


def test_open_during_a_year_from_the_closing_date_when_the_source_gives_it():
    """FINESS+ gives closures by date: closed on 30 June N is expected for N, closed in
    November N-1 is not, even though both are in a snapshot of N+1 (FINESS+ lists closed ETs)."""
    from transforms.referential import open_during_reason

    dated = _frame([("690000013", "84", True, dt.date(2000, 1, 1)), ("690000021", "84", True, dt.date(2000, 1, 1)),
                    ("690000039", "84", True, dt.date(2000, 1, 1))]).with_columns(
        pl.Series("datefermeture", [dt.date(2024, 6, 30), dt.date(2023, 11, 15), None], pl.Date))
    history = establishment_history([(dt.date(2025, 1, 12), dated)])
    assert set(expected_centres(history, 2024, ["84"])["finess_et"]) == {"690000013", "690000039"}
    assert set(expected_centres(history, 2023, ["84"])["finess_et"]) == {"690000013", "690000021", "690000039"}
    assert set(expected_centres(history, 2025, ["84"])["finess_et"]) == {"690000039"}
    reasons = dict(history.select("finess_et", open_during_reason(2024)).rows())
    assert reasons["690000013"] == "d'après sa date de fermeture FINESS (30/06/2024)"
    assert reasons["690000039"] == "d'après les instantanés FINESS (dernier le contenant : 12/01/2025)"
