"""`observatoire decision`: the chosen ET is checked against the referential and the
declared commune, and every decision is kept with who, when and why (issue « What ARS
staff hold in their hands »). Real FINESS numbers from the DREES SAE file."""
import sqlalchemy as sa
import pytest

from observatoire import warehouse
from observatoire.cli import main

CDS_69 = "690000013"     # CH MONTGELAS, 69 (filed below as a centre de santé)
CDS_01 = "010000024"     # CH DE FLEYRIAT, 01 (filed below as a centre de santé)
NOT_CDS = "690000021"    # CH DE SAINTE FOY LES LYON, 69, category 355
UNKNOWN = "750100125"    # valid key, in no extract of this warehouse
DECLARED = "690000099"   # what the centre typed: invalid key, so keyed as typed
KEY = "FINESS:690000099"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.db"
    engine = warehouse.connect(f"sqlite:///{path}")
    warehouse.migrate(engine)
    with engine.begin() as connection:
        for et, dep, cds, name in [(CDS_69, "69", True, "CH MONTGELAS"), (CDS_01, "01", True, "CH DE FLEYRIAT"),
                                   (NOT_CDS, "69", False, "CH DE SAINTE FOY LES LYON")]:
            connection.execute(sa.text(
                "INSERT INTO finess_et_history (finess_et, valid_from, finess_ej, raison_sociale, departement, "
                "cog_departement, region_code, is_centre_de_sante) VALUES (:et, '2024-01-10', NULL, :n, :d, :d, '84', :c)"
            ), {"et": et, "n": name, "d": dep, "c": cds})
        connection.execute(sa.text(
            "INSERT INTO reconciliation_review (campaign_year, submission_id, region_code, declared_key, "
            "declared_finess_et, raison_sociale, commune_insee, candidates, source_file, run_id) VALUES "
            "(2024, 's1', '84', :k, :f, 'CDS MONTGELAS', '69091', '', 'a.xlsx', 'r1')"
        ), {"k": KEY, "f": DECLARED})
    engine.dispose()
    return f"sqlite:///{path}"


def _decide(db, *extra):
    return main(["decision", "--declare", DECLARED, "--warehouse", db, "--par", "analyste", *extra])


def _rows(db, sql):
    engine = warehouse.connect(db)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(sql)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("finess, expected", [(UNKNOWN, "n'est dans aucun extrait FINESS"),
                                              (NOT_CDS, "n'est pas un centre de santé"),
                                              (CDS_01, "département 01")])
def test_a_doubtful_target_is_refused(db, capsys, finess, expected):
    assert _decide(db, "--finess", finess) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert _rows(db, "SELECT * FROM reconciliation_decision") == []


def test_another_departement_is_accepted_when_forced(db):
    assert _decide(db, "--finess", CDS_01, "--forcer") == 0
    assert _rows(db, "SELECT declared_key, finess_et FROM reconciliation_decision") == [(KEY, CDS_01)]


def test_a_second_decision_says_what_it_replaces_and_keeps_the_history(db, capsys):
    assert _decide(db, "--finess", CDS_69, "--commentaire", "appel du 3 mars") == 0
    capsys.readouterr()
    assert _decide(db, "--aucun", "--commentaire", "centre fermé") == 0
    out = capsys.readouterr().out
    assert "Remplace la décision" in out and CDS_69 in out and "appel du 3 mars" in out
    assert _rows(db, "SELECT finess_et, comment FROM reconciliation_decision") == [(None, "centre fermé")]
    history = _rows(db, "SELECT finess_et, decided_by, comment, replaced_at IS NOT NULL "
                        "FROM reconciliation_decision_history ORDER BY decided_at, replaced_at IS NULL")
    assert history == [(CDS_69, "analyste", "appel du 3 mars", 1), (None, "analyste", "centre fermé", 0)]
