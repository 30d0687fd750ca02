"""Migrations move the data of a warehouse made by an earlier version: the personnel that
`submission` kept as two columns per profession becomes one row per profession
(submission_personnel), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from observatoire import warehouse

BEFORE_PERSONNEL_ROWS = "040_decision_history.sql"


def _previous_version(url: str):
    """The warehouse as the version before 041 left it, holding one centre's team."""
    engine = warehouse.connect(url)
    warehouse.migrate(engine, until=BEFORE_PERSONNEL_ROWS)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO submission (submission_id, campaign_year, region_code, source_file, source_sha256, "
            "finess_et, is_valid, is_current, version_rank, n_errors, n_warnings, run_id, loaded_at, "
            "effectif_medecin_generaliste, etp_medecin_generaliste, effectif_infirmier, etp_infirmier, "
            "effectif_secretaire_medical, etp_secretaire_medical, etp_psychologue) VALUES "
            "('s1', 2024, '84', 'a.xlsx', 'x', '690000013', TRUE, TRUE, 1, 0, 0, 'r1', '2025-03-10T08:00:00+00:00', "
            "3, 2.5, 2, 1.8, 1, 1.0, NULL), "
            "('s2', 2024, '84', 'b.xlsx', 'y', '010000024', TRUE, TRUE, 1, 0, 0, 'r1', '2025-03-10T08:00:00+00:00', "
            "NULL, NULL, NULL, NULL, NULL, NULL, 0.5)"))
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("postgres_url")


def test_personnel_columns_become_rows(url):
    engine = _previous_version(url)
    assert "041_submission_personnel.sql" in warehouse.migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT submission_id, profession, effectif, etp, is_health_profession, is_medecin "
            "FROM submission_personnel ORDER BY submission_id, profession")).all()
        columns = [c["name"] for c in sa.inspect(connection).get_columns("submission")]
        team = connection.execute(sa.text(
            "SELECT submission_id, n_professions, effectif_total, etp_total, etp_health_professions, etp_medecins "
            "FROM v_indicateurs_centre ORDER BY submission_id")).all()
    assert [tuple(r) for r in rows] == [
        ("s1", "infirmier", 2, 1.8, True, False), ("s1", "medecin_generaliste", 3, 2.5, True, True),
        ("s1", "secretaire_medical", 1, 1.0, False, False), ("s2", "psychologue", None, 0.5, False, False)]
    assert not [c for c in columns if c.startswith(("effectif_", "etp_"))]
    assert [tuple(r) for r in team] == [("s1", 3, 6, 5.3, 4.3, 2.5), ("s2", 1, 0, 0.5, 0.0, 0.0)]
    engine.dispose()
