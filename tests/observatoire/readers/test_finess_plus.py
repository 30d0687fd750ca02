"""FINESS+ "Structures" files: the ANS's example read right, both spellings of the schema,
the same establishments as the extract for the same ET, streamed in batches that give what
a plain `json.load` gives, and damaged files refused with one French line and stored nowhere."""
import datetime as dt
import gzip
import hashlib
import json

import polars as pl
import pytest
import sqlalchemy as sa

from observatoire import warehouse
from observatoire.errors import CampaignError
from observatoire.readers import finess_plus
from observatoire.readers.finess_extract import STRUCTUREET_FIELDS, read_finess_extract
from observatoire.readers.finess_plus import is_finess_plus, peek_finess_plus, read_finess_plus
from observatoire.readers.reference_data import departement_regions
from observatoire.stages import load_referential
from tests.conftest import shared_data
from transforms.referential import normalise_establishments

EXAMPLE = "finess/finess_plus_structures_exemple_20260309.json"

# Read by eye from the example file: ET -> (EJ, cogCommune, etatObjet, dateFermeture, category)
EXAMPLE_ETS = {
    "010780195": ("010000156", "01053", "A", None, "365"),
    "010787190": ("010000164", "01004", "I", "1993-01-01", "321"),
    "010780211": ("010000172", "01053", "I", "1996-08-29", "122"),
    "010002749": ("010000206", "01034", "I", "2005-09-07", "146"),
    "010002699": ("010000206", "01034", "I", "2005-11-17", "141"),
    "010780310": ("010000222", "01185", "I", "2020-10-27", "109"),
    "010780328": ("010000222", "01185", "I", "2020-10-27", "109"),
    "010011641": ("010000222", "01185", "A", None, "109"),
    "010780427": ("010000248", "01185", "I", "2004-04-03", "108"),
    "010780575": ("010000255", "01053", "A", None, "195"),
    "010008183": ("010000255", "01053", "A", None, "182"),
    "010790061": ("010000255", "01160", "I", "1994-09-02", "182"),
    "010013472": ("010000255", "01053", "A", None, "461"),
    "010011914": ("010000255", "01053", "A", None, "182"),
    "010780724": ("010000297", "01185", "I", "2002-07-10", "108"),
    "010780732": ("010000305", "01185", "I", "2004-03-15", "108"),
    "010780815": ("010000321", "01185", "I", "2012-12-09", "161"),
    "010780906": ("010000339", "01004", "A", None, "500"),
    "010006401": ("010000339", "01004", "A", None, "354"),
    "010780914": ("010000347", "01159", "A", None, "500"),
    "010780922": ("010000354", "01068", "A", None, "500"),
    "010780930": ("010000362", "01079", "A", None, "500"),
    "010784528": ("010000362", "01079", "I", "2006-09-14", "200"),
    "010780955": ("010000388", "01108", "A", None, "500"),
    "010780963": ("010000396", "01202", "A", None, "500"),
    "980600027": ("980600019", "98613", "A", None, "355"),
    "980600035": ("980600019", "98611", "A", None, "355"),
}


@pytest.fixture(scope="module")
def example():
    return read_finess_plus(shared_data(EXAMPLE))


def test_the_ans_example_parses_with_every_et_in_its_departement_and_state(example):
    assert example.extract_date == dt.date(2026, 3, 9)  # generatedAt 2026-03-09T15:49:37Z, 16:49 in Paris
    assert example.schema_version == "v1.0.0"
    frame = example.establishments
    assert frame.columns == [*STRUCTUREET_FIELDS, "datefermeture", "etatobjet"]
    got = {row["nofinesset"]: row for row in frame.iter_rows(named=True)}
    assert set(got) == set(EXAMPLE_ETS) and frame.height == 27
    for et, (ej, cog, state, closed, category) in EXAMPLE_ETS.items():
        row = got[et]
        departement = "9J" if cog.startswith("986") else cog[:2]
        assert (row["nofinessej"], row["departement"], row["commune"], row["etatobjet"], row["datefermeture"],
                row["categetab"]) == (ej, departement, cog[2:], state, closed, category), et
    convert = got["010780195"]
    assert (convert["rs"], convert["rslongue"], convert["telephone"], convert["ligneacheminement"],
            convert["dateouv"], convert["siret"]) == ("CLINIQUE CONVERT", "CLINIQUE DOCTEUR CONVERT", "0428631234",
                                                      "01000 BOURG EN BRESSE", "1956-11-16", "77220148900022")
    # the ANS pads some names with spaces: trimmed like the extract's
    assert got["010787190"]["rs"] == "SMUR POLYCLINIQUE AMBERIEU"
    assert got["010002699"]["telephone"] is None  # no contact at all
    normalised = normalise_establishments(frame, departement_regions())
    region = dict(zip(normalised["finess_et"], normalised["region_code"]))
    assert {region[et] for et in EXAMPLE_ETS if not et.startswith("98")} == {"84"}
    assert region["980600027"] is None  # Wallis-et-Futuna: no ARS region
    closing = dict(zip(normalised["finess_et"], normalised["datefermeture"]))
    assert closing["010780310"] == dt.date(2020, 10, 27) and closing["010780195"] is None


def test_an_et_in_both_sources_gives_the_same_establishment():
    """980600027 (Wallis-et-Futuna) is in the real 2026 extract excerpt and in the example:
    FINESS département 9J and commune 613 from the extract, cogCommune 98613 from FINESS+."""
    regions = departement_regions()
    columns = ["finess_et", "finess_ej", "departement", "cog_departement", "region_code", "commune_insee",
               "code_postal", "commune_libelle", "categetab", "is_centre_de_sante", "dateouv"]
    extract = normalise_establishments(read_finess_extract(shared_data("finess/etalab_excerpt_20260512.csv"))
                                       .establishments, regions)
    plus = normalise_establishments(read_finess_plus(shared_data(EXAMPLE)).establishments, regions)
    pick = pl.col("finess_et") == "980600027"
    assert extract.filter(pick).select(columns).rows() == plus.filter(pick).select(columns).rows()
    assert plus.filter(pick).select("commune_insee", "departement", "code_postal").row(0) == ("98613", "9J", "98600")


def _document(pmej, version="v1.0.0", generated="2025-01-12T03:20:00Z", **top):
    return {"schemaVersion": version, "generatedAt": generated, "gcc": [], "gco": [], **top, "pmej": pmej}


def _et(number, cog, *, category="124", state="A", opened="2001-02-03", closed=None, schema_spelling=False,
        name="CDS TEST", phone="0478000000"):
    general = {"numFinessEge": number, "nomEgeCourt": name, "nomEgeLong": name + " LONG", "dateOuverture": opened}
    if closed:
        general["dateFermeture"] = closed
    ege = {
        "informationsGeneralesEGE": general,
        "adresse": [{"cogCommune": cog, "codePostal": "12345", "ligneAcheminement": "VILLE",
                     "coordonneesGeographique": {"coordonneeX": "1", "coordonneeY": "2"}}],
        "contact": [{"typeContact": {"roleContact": "01"}, "telecom": {"telephone": phone}}],
        "evenement": [{"evenementId": "1", "codeEvenement": "003", "dateEvenement": opened}],
    }
    if schema_spelling:  # the schema's coded objects
        ege["categorieEntiteGeographiqueExercice"] = {"code": category, "system": "https://mos.esante.gouv.fr/x"}
        ege["etatObjet"] = {"code": state, "system": "https://mos.esante.gouv.fr/y"}
    else:
        ege["categorieentiteGeographiqueExercice"] = category
        ege["etatObjet"] = state
    return ege


def _ej(number, *ets, schema_spelling=False):
    key = "informationsGeneralesPmej" if schema_spelling else "informationsGeneralesPMEJ"
    return {key: {"numFinessPm": number, "denominationPm": "GESTIONNAIRE"}, "adresse": [], "etatObjet": "A",
            "evenement": [], "ege": list(ets)}


def _write(path, document, compress=False, indent=None):
    text = json.dumps(document, indent=indent, ensure_ascii=False).encode("utf-8")
    path.write_bytes(gzip.compress(text) if compress else text)
    return path


def test_schema_spellings_coded_objects_and_overseas_communes(tmp_path):
    document = _document([
        _ej("690000013", _et("690000021", "69266", schema_spelling=True), schema_spelling=True),
        _ej("970400013", _et("970400021", "97411", category={"code": "289"}), _et("970400039", "97701")),
        _ej("2A0000014", _et("2A0000022", "2A004", state="I", closed="2024-06-30")),
        _ej("690000047", _et("690000054", "6926", state="A")),  # not a commune code
        _ej("690000062", _et("690000070", "69266", state="I")),  # closed, but when is unknown
    ])
    path = _write(tmp_path / "structures.bin", document, compress=True)  # named like nothing: read by content
    assert is_finess_plus(path)
    frame = read_finess_plus(path).establishments
    rows = {row["nofinesset"]: row for row in frame.iter_rows(named=True)}
    assert set(rows) == {"690000021", "970400021", "970400039", "2A0000022", "690000054"}
    assert (rows["690000021"]["nofinessej"], rows["690000021"]["categetab"], rows["690000021"]["etatobjet"]) == (
        "690000013", "124", "A")
    assert (rows["970400021"]["departement"], rows["970400021"]["commune"], rows["970400021"]["categetab"]) == (
        "9D", "411", "289")
    assert rows["970400039"]["departement"] == "9A"  # Saint-Barthélemy: filed under Guadeloupe by FINESS
    assert (rows["2A0000022"]["departement"], rows["2A0000022"]["datefermeture"]) == ("2A", "2024-06-30")
    assert rows["690000054"]["departement"] is None
    normalised = normalise_establishments(frame, departement_regions())
    region = dict(zip(normalised["finess_et"], normalised["region_code"]))
    assert (region["690000021"], region["970400021"], region["970400039"], region["2A0000022"]) == (
        "84", "04", "01", "94")
    assert dict(zip(normalised["finess_et"], normalised["commune_insee"]))["970400039"] == "97701"


def test_the_telephone_is_that_of_the_first_contact_that_has_one(tmp_path):
    without_telecom, second = _et("690000021", "69266", phone="0400000001"), _et("690000039", "69266", phone="0400000002")
    without_telecom["contact"] = [{"typeContact": {"roleContact": "02"}}, *without_telecom["contact"]]
    second["contact"] = [*second["contact"], {"telecom": {"telephone": "0499999999"}}]
    nothing = _et("690000047", "69266")
    nothing["contact"] = [{"typeContact": {"roleContact": "01"}}]
    path = _write(tmp_path / "f.json", _document([_ej("690000013", without_telecom, second, nothing)]))
    frame = read_finess_plus(path).establishments
    assert dict(zip(frame["nofinesset"], frame["telephone"])) == {
        "690000021": "0400000001", "690000039": "0400000002", "690000047": None}


def _reference(document) -> list[tuple]:
    """What the reader must find, straight from the parsed document."""
    rows = []
    for pmej in document["pmej"]:
        for ege in pmej["ege"]:
            rows.append((ege["informationsGeneralesEGE"]["numFinessEge"], pmej["informationsGeneralesPMEJ"]["numFinessPm"],
                         ege["informationsGeneralesEGE"]["nomEgeCourt"].strip(),
                         ege["adresse"][0]["cogCommune"][2:], ege["informationsGeneralesEGE"].get("dateFermeture")))
    return rows


@pytest.mark.parametrize("indent", [None, 2])
def test_batches_and_chunk_boundaries_give_what_json_load_gives(tmp_path, monkeypatch, indent):
    """Tiny chunks and batches put every cut everywhere: in strings, escapes, numbers, keys;
    names that hold what a cut looks for (`}, {"informationsGeneralesPMEJ":`), quotes and
    backslashes must not fool it. Names that hold line breaks, semicolons or the two control
    characters the reader separates fields and ET with (U+001F, U+001E) are kept as written."""
    tricky = ['CDS "LE PHARE"', 'CDS }, {"informationsGeneralesPMEJ": {', "CDS \\ BACKSLASH", "CDS ÉTOILE – Œ ’",
              'CDS "}, {\\"informationsGeneralesPMEJ\\":', "CDS [ { ] }", "CDS LIGNE\nDEUX;TROIS\r\nQUATRE",
              "CDS UNITÉ \x1f SÉPARÉE", "CDS FICHE \x1e SÉPARÉE", "CDS \x1f\x1e LES DEUX"]
    pmej = []
    for index in range(60):
        ets = [_et(f"69{index:04d}{k:03d}", f"69{(index * 7 + k) % 1000:03d}", name=tricky[(index + k) % len(tricky)],
                   closed="2023-05-01" if k == 1 else None) for k in range(1 + index % 3)]
        pmej.append(_ej(f"69{index:04d}999", *ets))
    document = _document(pmej, gcc=[{"gccId": "1", "pmejDuGcc": [{"pmSmsseId": "1"}]}], gco={"nested": [1, 2]})
    path = _write(tmp_path / "f.json", document, indent=indent)
    expected = _reference(document)
    for raw_chunk, batch in ((7, 64), (13, 1000), (1 << 18, 1 << 22)):
        monkeypatch.setattr(finess_plus, "_RAW_CHUNK", raw_chunk)
        monkeypatch.setattr(finess_plus, "_BATCH", batch)
        for compressed in (False, True):
            source = _write(tmp_path / f"g{compressed}.json", document, compressed, indent) if compressed else path
            frame = read_finess_plus(source).establishments
            got = frame.select("nofinesset", "nofinessej", "rs", "commune", "datefermeture").rows()
            assert got == expected, (raw_chunk, batch, compressed)


def _damaged(tmp_path):
    good = json.dumps(_document([_ej("690000013", _et("690000021", "69266"))] * 3), indent=2).encode()
    return {
        "coupé (gzip)": gzip.compress(good)[:-40],
        "coupé (JSON)": good[: len(good) // 2],
        "coupé juste avant la fin": good.rstrip()[:-1],
        "pas du JSON": b"{ ceci n'est pas du JSON }",
        "JSON mal formé au milieu": good.replace(b'"numFinessEge":', b'"numFinessEge"', 1),
        "guillemet en trop": good.replace(b'"numFinessEge"', b'"numFinessEge" "', 1),
        "gzip d'autre chose": gzip.compress(b"finess;etalab;1;2025-01-12\n"),
        "tableau au premier niveau": b'[{"pmej": []}]',
        "sans pmej": json.dumps({"schemaVersion": "v1.0.0", "generatedAt": "2025-01-12T00:00:00Z"}).encode(),
        "pmej pas un tableau": json.dumps(_document({"a": 1})).encode(),
        "ET sans numéro": json.dumps(_document([_ej("690000013", {"informationsGeneralesEGE": {"nomEgeCourt": "X"}})])).encode(),
        "EJ sans numéro": json.dumps(_document([_ej("690000013", _et("690000021", "69266")),
                                                _ej(" ", _et("690000039", "69266"))])).encode(),
        "schemaVersion inconnue": json.dumps(_document([], version="v2.0.0")).encode(),
        "sans schemaVersion": json.dumps({"generatedAt": "2025-01-12T00:00:00Z", "pmej": []}).encode(),
        "generatedAt illisible": json.dumps(_document([], generated="hier")).encode(),
        "texte après l'objet": good + b"\n{}",
        "pas en UTF-8": json.dumps(_document([_ej("690000013", _et("690000021", "69266", name="CDS Ë"))]),
                                  ensure_ascii=False).encode("latin-1"),
    }


def test_damaged_files_are_refused_with_one_french_line_and_stored_nowhere(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    for name, content in _damaged(tmp_path).items():
        path = tmp_path / "structures.json.gz"
        path.write_bytes(content)
        with pytest.raises(CampaignError) as caught:
            load_referential([path], engine)
        message = str(caught.value)
        assert "\n" not in message and "structures.json.gz" in message, (name, message)
        assert message.startswith("Référentiel FINESS"), (name, message)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM finess_snapshot")).scalar() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM finess_et_history")).scalar() == 0


def test_what_each_damage_says(tmp_path):
    damaged = _damaged(tmp_path)
    expected = {
        "coupé (gzip)": "gzip coupé avant la fin",
        "coupé (JSON)": "fichier coupé avant la fin",
        "coupé juste avant la fin": "fichier coupé avant la fin",
        "pas du JSON": "JSON mal formé",
        "JSON mal formé au milieu": "JSON mal formé",
        "guillemet en trop": "fichier coupé avant la fin",  # a string that never ends: the same as a cut
        "tableau au premier niveau": "attendu un objet JSON FINESS+",
        "sans pmej": "pas de tableau pmej",
        "pmej pas un tableau": "pmej : attendu un tableau",
        "ET sans numéro": "pmej[0].ege[0].informationsGeneralesEGE : champ numFinessEge absent",
        "EJ sans numéro": "l'ET 690000039 appartient à une entité juridique sans numFinessPm",
        "schemaVersion inconnue": "schemaVersion « v2.0.0 » inconnue",
        "sans schemaVersion": "schemaVersion absent",
        "generatedAt illisible": "generatedAt « hier »",
        "texte après l'objet": "attendu la fin du fichier",
        "pas en UTF-8": "pas en UTF-8",
    }
    for name, fragment in expected.items():
        path = tmp_path / f"{len(name)}.json"
        path.write_bytes(damaged[name])
        with pytest.raises(CampaignError, match=fragment.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
                           .replace("+", r"\+")):
            read_finess_plus(path)


def test_same_file_twice_changes_nothing_and_is_a_snapshot_of_its_paris_date(tmp_path):
    document = _document([_ej("690000013", _et("690000021", "69266"), _et("690000039", "69266", state="I",
                                                                          closed="2024-06-30"))],
                         generated="2025-01-11T23:30:00Z")  # already the 12th in Paris
    path = _write(tmp_path / "finess-structures.json.gz", document, compress=True)
    assert peek_finess_plus(path).extract_date == dt.date(2025, 1, 12)
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    first = load_referential([path], engine)
    again = load_referential([path, path], engine)
    assert again.history.equals(first.history) and again.snapshot_dates == [dt.date(2025, 1, 12)]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM finess_snapshot")).scalar() == 1
        rows = connection.execute(sa.text("SELECT finess_et, datefermeture FROM finess_et_history ORDER BY 1")).all()
    assert [(et, str(closed)[:10] if closed else None) for et, closed in rows] == [
        ("690000021", None), ("690000039", "2024-06-30")]


@pytest.mark.parametrize("compress", [False, True])
def test_the_checksum_is_that_of_the_file_as_stored_however_it_is_read(tmp_path, compress):
    document = _document([_ej("690000013", _et("690000021", "69266"))])
    path = _write(tmp_path / "finess-structures.json.gz", document, compress=compress)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    header = peek_finess_plus(path)
    assert header.sha256 == expected
    assert read_finess_plus(path).sha256 == expected
    assert read_finess_plus(path, header).sha256 == expected
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    load_referential([path], engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT source_sha256 FROM finess_snapshot")).scalar() == expected
