"""The SQL data tests of `sql/tests/` hold on a consistent warehouse and each one catches
the defect it is written for (planted here by hand); the end-to-end campaign tests run
them after their real loads on both engines."""
import sqlalchemy as sa
import pytest

from observatoire import warehouse
from observatoire.data_tests import data_test_names, failed_data_tests

from tests.support import warehouse_builder as build

DEFECTS = {  # data test -> a statement that breaks what it checks
    "one_status_per_expected_centre": "INSERT INTO centre_year_status SELECT 'dup', campaign_year, region_code, "
        "departement, finess_et, finess_ej, raison_sociale, status, status_reason, unexpected_reason, deadline, "
        "first_valid_at, days_late, submissions_received, reconciliation_method, submission_id, source_file, "
        "source_row, telephone, run_id, loaded_at FROM centre_year_status WHERE status = 'missing' AND "
        f"finess_et = '{build.C}' AND campaign_year = 2024",
    "statuses_in_their_set": "UPDATE centre_year_status SET status = 'perdu' WHERE finess_et = '" + build.C + "'",
    "severities_in_their_set": "UPDATE submission_issue SET severity = 'fatal'",
    "status_submission_exists": "UPDATE centre_year_status SET submission_id = 'absent' WHERE finess_et = '"
        + build.A + "' AND campaign_year = 2024",
    "timeliness_consistent": "UPDATE centre_year_status SET days_late = 4 WHERE finess_et = '" + build.A
        + "' AND campaign_year = 2024",
    "one_current_version": "UPDATE submission SET is_current = TRUE WHERE submission_id = 's24-b1'",
    "issues_of_known_files": "DELETE FROM file_outcome",
    "runs_not_left_running": "INSERT INTO pipeline_run (run_id, campaign_year, regions, parameters, started_at, outcome) "
        "SELECT 'old', campaign_year, regions, parameters, '2000-01-01T00:00:00+00:00', 'running' FROM pipeline_run",
}


@pytest.fixture
def loaded(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2023())
    warehouse.load_campaign(engine, build.scenario_2024())
    with engine.begin() as connection:  # one finished run, as every load records
        connection.execute(sa.text(
            "INSERT INTO pipeline_run (run_id, campaign_year, regions, parameters, started_at, outcome) "
            "VALUES ('r1', 2024, '11,84', '{}', '2025-03-02T06:00:00+00:00', 'succeeded')"))
    yield engine
    engine.dispose()


def test_every_data_test_has_a_planted_defect():
    assert sorted(DEFECTS) == data_test_names()


def test_a_consistent_warehouse_passes_every_data_test(loaded):
    assert failed_data_tests(loaded) == {}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_data_test_catches_its_defect(loaded, name):
    with loaded.begin() as connection:
        connection.execute(sa.text(DEFECTS[name]))
    assert name in failed_data_tests(loaded)
