"""The "far fewer centres than the neighbouring snapshot" guard counts the centres open on
each snapshot's date: a FINESS+ file also lists closed centres (with their closing date),
which an extract of the same day would not hold."""
import datetime as dt

import polars as pl
import sqlalchemy as sa

from observatoire import referential_store, stages, warehouse

DAY = dt.date(2025, 1, 12)


def test_a_parsed_referential_counts_its_open_centres_only():
    frame = pl.DataFrame({
        "is_centre_de_sante": [True] * 4 + [True] * 6 + [False] * 3,
        "datefermeture": [None] * 4 + [dt.date(2024, 6, 30)] * 6 + [None] * 3,
    }, schema={"is_centre_de_sante": pl.Boolean, "datefermeture": pl.Date})
    assert stages._open_centres(frame, DAY) == 4
    assert stages._open_centres(frame.drop("datefermeture"), DAY) == 10  # an extract: open ones only


def test_stored_snapshots_count_their_open_centres_only(tmp_path):
    engine = warehouse.connect(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.migrate(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO finess_snapshot (extract_date, source_file, source_sha256, establishments, loaded_at) "
            "VALUES ('2025-01-12', 'finess-structures.json.gz', 'x', 10, '2025-01-13T08:00:00+00:00')"))
        for n in range(10):
            connection.execute(sa.text(
                "INSERT INTO finess_et_history (finess_et, valid_from, is_centre_de_sante, datefermeture) "
                "VALUES (:et, '2025-01-12', TRUE, :closed)"),
                {"et": f"69000{n:04d}", "closed": None if n < 4 else "2024-06-30"})
    assert referential_store.snapshot_centres(engine) == {DAY: 4}
    engine.dispose()
