"""FINESS snapshots kept in the warehouse: a centre closed in a later extract is still
expected for the years it was open, and not after, even when a run gets only the newest
extract; loading the same extract twice changes nothing."""
import datetime as dt

import pytest

from observatoire import referential_store, warehouse
from observatoire.errors import CampaignError
from observatoire.stages import load_referential
from transforms.finess_key import finess_check_digit
from transforms.referential import expected_centres

OPEN, CLOSED_2024 = "69000001", "69000002"


def _line(et8: str, rs: str) -> str:
    et = et8 + finess_check_digit(et8)
    ej = "69" + et8[2:7] + "9"
    ej = ej[:8] + finess_check_digit(ej[:8])
    fields = ["structureet", et, ej, rs, rs, "", "", "1", "R", "DE LA PAIX", "", "", "266", "69", "RHONE",
              "69100 VILLEURBANNE", "0478000000", "", "124", "Centre de Santé", "2206", "Centres de Santé", "", "",
              "", "", "", "", "2001-01-01", "2001-01-01", "2023-01-01", ""]
    return ";".join(fields)


def _extract(tmp_path, date: str, centres: list[str]):
    path = tmp_path / f"etalab-cs1100507-stock-{date.replace('-', '')}-0400.csv"
    lines = [f"finess;etalab;111;{date}"] + [_line(et, f"CDS {et}") for et in centres]
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return path


def _et(et8):
    return et8 + finess_check_digit(et8)


def _check_two_snapshots(url, tmp_path):
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    s1 = _extract(tmp_path, "2024-01-10", [OPEN, CLOSED_2024])
    s2 = _extract(tmp_path, "2025-01-12", [OPEN])
    first = load_referential([s1], engine)
    # the history built in memory while storing is the one the warehouse gives back
    assert first.history.equals(referential_store.read_history(engine)[0])
    ref = load_referential([s2], engine)  # the second run is given only the newest extract
    assert ref.history.equals(referential_store.read_history(engine)[0])
    assert ref.snapshot_dates == [dt.date(2024, 1, 10), dt.date(2025, 1, 12)]
    expected = {year: set(expected_centres(ref.history, year, ["84"])["finess_et"]) for year in (2023, 2024, 2025)}
    assert expected[2023] == {_et(OPEN), _et(CLOSED_2024)}
    assert expected[2024] == {_et(OPEN), _et(CLOSED_2024)}  # open during 2024, gone from the 2025 extract
    assert expected[2025] == {_et(OPEN)}
    before = referential_store.read_history(engine)[0]
    assert load_referential([s1, s2], engine).history.equals(before)  # same extracts again: nothing changes
    with engine.connect() as connection:
        import sqlalchemy as sa

        assert connection.execute(sa.text("SELECT count(*) FROM finess_snapshot")).scalar() == 2
        assert connection.execute(sa.text("SELECT count(*) FROM finess_et_history")).scalar() == 2
    (tmp_path / "autre").mkdir()
    other = _extract(tmp_path / "autre", "2025-01-12", [OPEN, "69000003"])
    with pytest.raises(CampaignError, match="un autre extrait daté du 12/01/2025"):
        load_referential([other], engine)


def test_two_snapshots_sqlite(tmp_path):
    _check_two_snapshots(f"sqlite:///{tmp_path / 'w.db'}", tmp_path)


@pytest.mark.postgres
def test_two_snapshots_postgresql(postgres_url, tmp_path):
    _check_two_snapshots(postgres_url, tmp_path)


def test_an_extract_already_stored_is_not_parsed_again(tmp_path, monkeypatch):
    from observatoire import stages

    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    s1 = _extract(tmp_path, "2024-01-10", [OPEN, CLOSED_2024])
    first = load_referential([s1], engine)

    def no_parse(path, header=None):
        raise AssertionError(f"{path} relu alors que l'entrepôt le contient déjà")

    monkeypatch.setattr(stages, "read_finess_extract", no_parse)
    again = load_referential([s1], engine)  # same date, same bytes: taken from the warehouse
    assert again.history.equals(first.history)
    assert again.extracts == first.extracts
    s2 = _extract(tmp_path, "2025-01-12", [OPEN])
    with pytest.raises(AssertionError, match="relu"):  # a new extract is parsed
        load_referential([s2], engine)
