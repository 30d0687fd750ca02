"""Schema of the warehouse: migrations apply once on both backends, views follow the SQL
files, the data dictionary matches what is created, PostgreSQL roles hold."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from observatoire import warehouse


def _columns(engine) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    names = inspector.get_table_names() + inspector.get_view_names()
    return {name: [column["name"] for column in inspector.get_columns(name)] for name in names}


def test_migrations_apply_on_empty_database_then_do_nothing(engine):
    migration_files = sorted(p.name for p in (warehouse.SQL_DIR / "migrations").glob("*.sql"))
    assert warehouse.migrate(engine) == migration_files
    before = _columns(engine)
    assert warehouse.migrate(engine) == []
    assert _columns(engine) == before
    with engine.connect() as connection:
        recorded = connection.execute(sa.text("SELECT name FROM schema_migration ORDER BY name")).scalars().all()
    assert recorded == migration_files
    for table in ("centre_year_status", "submission", "submission_issue", "pipeline_run", "file_outcome"):
        assert table in before
    for view in ("v_conformite_region", "v_conformite_departement", "v_relance", "v_evolution_statut",
                 "v_indicateurs_centre"):
        assert view in before and view in warehouse.view_names()


def test_analyst_indexes_exist(engine):
    warehouse.migrate(engine)
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("centre_year_status")}
    assert {"ix_status_year_region", "ix_status_departement", "ix_status_status_year"} <= indexes


def test_an_applied_migration_edited_afterwards_is_refused(engine):
    from observatoire.errors import CampaignError

    warehouse.migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE schema_migration SET checksum = 'autre' WHERE name = '001_warehouse.sql'"))
    with pytest.raises(CampaignError, match="001_warehouse.sql modifiée"):
        warehouse.migrate(engine)


def test_comment_edits_do_not_change_a_migration_checksum():
    sql = "CREATE TABLE t (a TEXT); -- x\nCREATE INDEX i ON t (a);"
    assert warehouse._checksum(sql) == warehouse._checksum("-- new comment\n" + sql)
    assert warehouse._checksum(sql) != warehouse._checksum(sql.replace("(a)", "(a, b)"))


def test_statement_split_keeps_dollar_quoted_bodies_whole():
    sql = "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;\nGRANT x TO y;"
    assert warehouse._statements(sql) == ["DO $$ BEGIN PERFORM 1; PERFORM 2; END $$", "GRANT x TO y"]


def _documented() -> dict[str, list[str]]:
    documented, current = {}, None
    for line in (warehouse.SQL_DIR / "DICTIONARY.md").read_text("utf-8").splitlines():
        heading = re.match(r"^## `(\w+)`", line)
        if heading:
            current = documented.setdefault(heading.group(1), [])
            continue
        cell = re.match(r"^\| `(\w+)` \|", line)
        if cell and current is not None:
            current.append(cell.group(1))
    return documented


def test_data_dictionary_matches_the_created_schema(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    created = {name: sorted(columns) for name, columns in _columns(engine).items()}
    documented = {name: sorted(columns) for name, columns in _documented().items()}
    assert sorted(documented) == sorted(created), "tables/vues documentées ≠ créées"
    for name in created:
        missing = set(created[name]) - set(documented[name])
        extra = set(documented[name]) - set(created[name])
        assert not missing and not extra, f"{name}: non documentées {missing}, inexistantes {extra}"
        assert len(documented[name]) == len(set(documented[name])), f"{name}: colonne documentée deux fois"


def test_analyst_role_reads_views_but_cannot_write(postgres_url):
    engine = warehouse.connect(postgres_url)
    warehouse.migrate(engine)
    warehouse.apply_roles(engine)
    warehouse.apply_roles(engine)  # idempotent
    warehouse.migrate(engine)  # views re-created after the grants: default privileges must cover them
    with engine.connect() as connection:
        connection.execute(sa.text("SET ROLE observatoire_analyste"))
        for view in warehouse.view_names():
            assert connection.execute(sa.text(f"SELECT count(*) FROM {view}")).scalar() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM centre_year_status")).scalar() == 0
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            connection.execute(sa.text(
                "INSERT INTO pipeline_run (run_id, campaign_year, regions, parameters, started_at, outcome) "
                "VALUES ('x', 2024, '84', '{}', now(), 'running')"))
        connection.rollback()
    with engine.connect() as connection:
        connection.execute(sa.text("SET ROLE observatoire_analyste"))
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            connection.execute(sa.text("DELETE FROM centre_year_status"))
        connection.rollback()
    with engine.connect() as connection:  # the loader role may write
        connection.execute(sa.text("SET ROLE observatoire_chargeur"))
        connection.execute(sa.text(
            "INSERT INTO pipeline_run (run_id, campaign_year, regions, parameters, started_at, outcome) "
            "VALUES ('x', 2024, '84', '{}', now(), 'running')"))
        connection.rollback()
    engine.dispose()


def test_the_views_read_the_vocabulary_of_its_one_home(engine, monkeypatch):
    """v_relance's chase reasons and the vocabulary tables are observatoire/vocabulary.py's
    words: a word changed there reaches the warehouse on the next run, no SQL edited."""
    from observatoire import vocabulary

    warehouse.migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO centre_year_status (status_id, campaign_year, region_code, finess_et, status, status_reason, "
            "deadline, submissions_received, run_id, loaded_at) VALUES ('s1', 2024, '84', '690000011', 'missing', "
            "'aucun envoi', :deadline, 0, 'r1', :loaded)"),
            {"deadline": dt.date(2025, 2, 28), "loaded": dt.datetime(2025, 3, 2, tzinfo=dt.timezone.utc)})

    def read():
        with engine.connect() as connection:
            return (connection.execute(sa.text("SELECT chase_reason FROM v_relance")).scalar_one(),
                    dict(connection.execute(sa.text("SELECT status, label FROM status_vocabulary")).all()),
                    dict(connection.execute(sa.text("SELECT severity, label FROM severity_vocabulary")).all()))

    assert read() == ("aucun envoi reçu", {
        "on_time": "à l'heure", "late": "en retard", "invalid": "invalide", "missing": "manquant",
        "covered": "couvert", "unexpected": "inattendu"}, {"error": "bloquant", "warning": "avertissement"})
    monkeypatch.setitem(vocabulary.CHASE_REASONS, "missing", "rien reçu")
    monkeypatch.setitem(vocabulary.STATUS_LABELS, "missing", "absent")
    assert warehouse.migrate(engine) == []
    reason, labels, _ = read()
    assert reason == "rien reçu" and labels["missing"] == "absent"
