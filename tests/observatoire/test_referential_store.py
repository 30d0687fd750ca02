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


def test_the_referential_is_handed_over_before_its_snapshots_are_written(tmp_path):
    """The run reconciles with the referential while the new FINESS snapshots are written:
    it is given as soon as it is known, when the warehouse does not hold it yet, and it is
    the one then stored."""
    import sqlalchemy as sa

    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    seen = []

    def handed_over(ref):
        with engine.connect() as connection:  # another connection of the run, reading meanwhile
            stored = connection.execute(sa.text("SELECT count(*) FROM finess_et_history")).scalar()
        seen.append((ref, stored))

    ref = load_referential([_extract(tmp_path, "2024-01-10", [OPEN, CLOSED_2024])], engine, on_history=handed_over)
    assert len(seen) == 1 and seen[0][1] == 0  # not written yet when handed over
    assert seen[0][0] is ref and ref.history.equals(referential_store.read_history(engine)[0])
    seen.clear()
    again = load_referential([_extract(tmp_path, "2024-01-10", [OPEN, CLOSED_2024])], engine, on_history=handed_over)
    assert [(r is again, n) for r, n in seen] == [(True, 2)]  # already stored: read back, then handed over


@pytest.mark.parametrize("readers_not_blocked", [True, False])
def test_a_large_write_lets_the_other_connections_read(tmp_path, readers_not_blocked):
    """SQLite: while a large write (the FINESS history: about 25 MB) is not committed, a
    reader of the same file still reads, when the write says so; otherwise the writer's
    pages spill into the file and the reader is locked out (the reason for the option)."""
    import sqlite3

    import sqlalchemy as sa

    path = tmp_path / "w.db"
    engine = warehouse.connect(f"sqlite:///{path}")
    warehouse.migrate(engine)
    with warehouse.write_transaction(engine, readers_not_blocked=readers_not_blocked) as connection:
        connection.exec_driver_sql("CREATE TABLE scratch (k TEXT PRIMARY KEY, v TEXT)")
        connection.execute(sa.text("INSERT INTO scratch VALUES (:k, :v)"),
                           [{"k": f"{i:09d}", "v": "x" * 200} for i in range(100_000)])
        reader = sqlite3.connect(path, timeout=0.2)
        try:
            read = reader.execute("SELECT count(*) FROM finess_snapshot").fetchone()[0] == 0
        except sqlite3.OperationalError as exc:  # database is locked
            read = "locked" not in str(exc)
        finally:
            reader.close()
    assert read is readers_not_blocked
