"""The faster FINESS referential load gives exactly what the former code gave: each check
compares the current code with the former formula, copied here as it was (`_former_*`;
where only part of a function changed, the current function with the former part patched
in), or with Python's own codec, on the real excerpt and on built edge cases."""
from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest
import sqlalchemy as sa

from observatoire import referential_store, sql_dialects, warehouse
from observatoire.errors import CampaignError
from observatoire.readers import finess_extract
from observatoire.readers.finess_extract import STRUCTUREET_FIELDS, read_finess_extract
from tests.conftest import shared_data
from transforms import referential
from transforms.referential import (
    ESTABLISHMENT_COLUMNS, establishment_history, history_from_versions, snapshot_versions,
)

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out


# ------------------------------------------------------------------ former formulas
def _former_parse(path):
    """read_finess_extract before it worked on the bytes: (establishments, geolocation text)."""
    text = path.read_bytes().decode("cp1252", errors="replace")
    first_end = text.find("\n")
    body = "" if first_end < 0 else text[first_end + 1:]
    geo_at = body.find("\ngeolocalisation;")
    structure_block = body if geo_at < 0 else body[:geo_at + 1]
    rest = "" if geo_at < 0 else body[geo_at + 1:]
    n_structure = body.count("\nstructureet;") + body.startswith("structureet;")
    n_block = structure_block.count("\nstructureet;") + structure_block.startswith("structureet;")
    n_lines = structure_block.count("\n") + (not structure_block.endswith("\n"))
    clean = n_structure == n_block == n_lines and "\r" not in structure_block
    if not clean:
        structure_block = "\n".join(line for line in body.splitlines() if line.startswith("structureet;"))
        rest = body
    if not structure_block.strip():
        raise CampaignError("vide")
    try:
        establishments = pl.read_csv(
            structure_block.encode("utf-8"), has_header=False, separator=";", quote_char='"',
            new_columns=STRUCTUREET_FIELDS, schema_overrides={name: pl.String for name in STRUCTUREET_FIELDS},
            infer_schema=False, truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise CampaignError("invalide") from exc
    return establishments, rest


def _former_snapshot_versions(snapshots):
    """The general machinery, which every number of snapshots went through before the
    one-snapshot path (kept as the general path of snapshot_versions)."""
    by_date = {date: frame for date, frame in snapshots}
    return referential._versions_of_snapshots(by_date, sorted(by_date))


def _former_latest_versions(versions):
    return versions.sort("valid_from").group_by("finess_et").agg(pl.all().last(), pl.col("valid_from").min()
                                                                 .alias("first_seen"))


_HISTORY_FROM_VERSIONS = history_from_versions  # unchanged but for how each ET's latest period is found


def _former_history_from_versions(versions, dates):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(referential, "_latest_versions", _former_latest_versions)
        return _HISTORY_FROM_VERSIONS(versions, dates)


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.schema == b.schema and a.equals(b)


# ------------------------------------------------------------------ reading an extract
def _layouts() -> dict[str, bytes]:
    real = shared_data("finess/etalab_excerpt_20260512.csv").read_bytes()
    geo = shared_data("finess/etalab_geolocalisation_excerpt_2016.csv").read_bytes()
    header, *lines = real.rstrip(b"\n").split(b"\n")
    geo_lines = geo.rstrip(b"\n").split(b"\n")
    # the characters where windows-1252 and latin-1 differ (’ € œ Ÿ), an undefined byte (0x81),
    # a no-break space, and a quoted separator and quote
    fields = lines[0].split(b";")
    fields[3:5] = [b'"C\x92EST \x80 \x9c\x81\xa0\xe9 a;b ""q"""', b"\x8c\x9f\xff"]
    odd = b";".join(fields)
    return {
        "real": real,
        "real + geolocalisation": real + geo,
        "odd characters": b"\n".join([header, odd, *lines[1:], *geo_lines]) + b"\n",
        "no final newline": b"\n".join([header, *lines]),
        "crlf": b"\r\n".join([header, *lines, *geo_lines]) + b"\r\n",
        "interleaved": b"\n".join([header, *lines[:3], geo_lines[0], *lines[3:], *geo_lines[1:]]) + b"\n",
        "blank line": b"\n".join([header, *lines[:3], b"", *lines[3:]]) + b"\n",
        "vertical tab": b"\n".join([header, lines[0] + b"\x0b" + lines[1], *lines[2:]]) + b"\n",
        "geolocalisation first": b"\n".join([header, *geo_lines, *lines]) + b"\n",
        "only geolocalisation": b"\n".join([header, *geo_lines]) + b"\n",
        "header only": header + b"\n",
        "header without newline": header,
        "short line": b"\n".join([header, lines[0], b"structureet;1;2", *lines[1:]]) + b"\n",
        "unclosed quote": b"\n".join([header, lines[0] + b'"', *lines[1:]]) + b"\n",
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_reading_an_extract_gives_what_the_former_parse_gave(tmp_path, layout):
    path = tmp_path / "etalab-cs1100507-stock-20260512-0400.csv"
    path.write_bytes(_layouts()[layout])
    try:
        expected = _former_parse(path)
    except CampaignError as exc:
        with pytest.raises(CampaignError, match="vide" if str(exc) == "vide" else "invalide"):
            read_finess_extract(path)
        return
    extract = read_finess_extract(path)
    assert _same(extract.establishments, expected[0])
    assert extract.geolocation_text == expected[1]
    assert extract.extract_date == dt.date(2026, 5, 12)


# ------------------------------------------------------------------ versions and history
_SCHEMA = {name: pl.String for name in ESTABLISHMENT_COLUMNS} | {"is_centre_de_sante": pl.Boolean, "dateouv": pl.Date,
                                                                  "datefermeture": pl.Date}


def _random_snapshot(rng: random.Random, ets: list[str | None], height: int) -> pl.DataFrame:
    rows = []
    for _ in range(height):
        row = {name: rng.choice([None, "", "a", "b"]) for name in ESTABLISHMENT_COLUMNS}
        row.update(finess_et=rng.choice(ets), is_centre_de_sante=rng.random() < 0.5,
                   dateouv=rng.choice([None, dt.date(2000, 1, 1), dt.date(2010, 6, 1)]),
                   datefermeture=rng.choice([None, None, dt.date(2023, 6, 30)]))
        rows.append(row)
    return pl.DataFrame(rows, schema=_SCHEMA)


def test_versions_and_history_are_those_of_the_former_formulas():
    rng = random.Random(7)
    for case in range(400):
        ets = ([None] if case % 4 == 0 else []) + [f"69000{i:04d}" for i in range(rng.randint(1, 6))]
        dates = [dt.date(2020 + rng.randrange(6), 1, 1) for _ in range(rng.choice([1, 1, 2, 3, 4]))]
        snapshots = [(date, _random_snapshot(rng, ets, rng.randint(0, 9))) for date in dates]
        if case % 5 == 0:
            snapshots.append(snapshots[0])  # the same snapshot twice
        all_dates = [date for date, _ in snapshots]
        versions = snapshot_versions(snapshots)
        assert _same(versions, _former_snapshot_versions(snapshots)), case
        expected = _former_history_from_versions(versions, all_dates)
        assert _same(history_from_versions(versions, all_dates), expected), case
        # versions read back from a warehouse come in any order
        shuffled = versions.sample(fraction=1.0, shuffle=True, seed=case)
        assert _same(history_from_versions(shuffled, all_dates), expected), case
        assert _same(establishment_history(snapshots), expected), case


def test_history_of_versions_without_start_date_keeps_the_former_formula():
    versions = snapshot_versions([(dt.date(2024, 1, 10), _random_snapshot(random.Random(2), ["1", "2", "3"], 6)),
                                  (dt.date(2025, 1, 12), _random_snapshot(random.Random(3), ["1", "2", "4"], 6))])
    versions = versions.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise(pl.col("valid_from"))
                                     .alias("valid_from"))
    dates = [dt.date(2024, 1, 10), dt.date(2025, 1, 12)]
    assert _same(history_from_versions(versions, dates), _former_history_from_versions(versions, dates))


def test_one_real_snapshot_gives_the_former_versions_and_history():
    from observatoire.readers.reference_data import departement_regions
    from transforms.referential import normalise_establishments

    frame = normalise_establishments(
        read_finess_extract(shared_data("finess/etalab_excerpt_20260512.csv")).establishments, departement_regions())
    frame = pl.concat([frame, frame.head(3).with_columns(pl.lit("AUTRE").alias("raison_sociale"))])  # listed twice
    snapshots = [(dt.date(2026, 5, 12), frame)]
    versions = snapshot_versions(snapshots)
    assert _same(versions, _former_snapshot_versions(snapshots))
    assert versions.height == frame.height - 3 and "AUTRE" not in versions["raison_sociale"].to_list()
    assert _same(history_from_versions(versions, [dt.date(2026, 5, 12)]),
                 _former_history_from_versions(versions, [dt.date(2026, 5, 12)]))


# ------------------------------------------------------------------ reading the versions back
_TRICKY = ["", " ", "a;b", "a,b", 'q"uote', '"', '""', "line\nbreak", "cr\r\nlf", "\r", "tab\t", "é€’œ", "\\.",
           "\\N", "NULL", "null", "[1]", '{"x": 1}', "😀", "\x01", "a\\b", "  lead", "trail  "]


def _tricky_versions(height: int = 300) -> pl.DataFrame:
    rng = random.Random(3)
    rows = []
    for i in range(height):
        row = {name: rng.choice([*_TRICKY, None, None]) for name in referential_store.HISTORY_COLUMNS}
        row.update(
            finess_et=f"{i:09d}", valid_from=dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(4000)),
            valid_to=rng.choice([None, dt.date(2025, 1, 12)]), is_centre_de_sante=rng.random() < 0.5,
            dateouv=rng.choice([None, dt.date(1900, 1, 1), dt.date(1969, 12, 31), dt.date(1970, 1, 1),
                                dt.date(2099, 12, 31)]),
            datefermeture=rng.choice([None, dt.date(1969, 12, 31), dt.date(2024, 6, 30)]),
        )
        rows.append(row)
    schema = {name: pl.String for name in referential_store.HISTORY_COLUMNS} | {
        "valid_from": pl.Date, "valid_to": pl.Date, "dateouv": pl.Date, "datefermeture": pl.Date,
        "is_centre_de_sante": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)


def _check_read_versions(url):
    # what goes into finess_et_history comes back unchanged, types included, whatever the text
    engine = warehouse.connect(url)
    warehouse.migrate(engine)
    tricky = _tricky_versions()
    cases = {"empty": tricky.head(0), "tricky": tricky,
             "null columns": tricky.with_columns(pl.lit(None, pl.String).alias("telephone"),
                                                 pl.lit(None, pl.Date).alias("valid_to"))}
    for name, frame in cases.items():
        with warehouse.write_transaction(engine) as connection:
            connection.execute(sa.text("DELETE FROM finess_et_history"))
            warehouse.insert_rows(connection, "finess_et_history", frame)
        with engine.connect() as connection:
            assert _same(referential_store._read_versions(connection).sort("finess_et"), frame), name
    engine.dispose()


def test_versions_read_back_unchanged_sqlite(tmp_path):
    _check_read_versions(f"sqlite:///{tmp_path / 'w.db'}")


@pytest.mark.postgres
def test_versions_read_back_unchanged_postgresql(postgres_url):
    _check_read_versions(postgres_url)


@pytest.mark.postgres
def test_versions_read_back_unchanged_whatever_postgresql_datestyle(postgres_url):
    # dates travel as JSON text: its ISO form, not the session's DateStyle
    engine = sa.create_engine(postgres_url, connect_args={"options": "-c DateStyle=SQL,DMY"})
    warehouse.migrate(engine)
    frame = _tricky_versions(40)
    with warehouse.write_transaction(engine) as connection:
        warehouse.insert_rows(connection, "finess_et_history", frame)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT DATE '2001-02-03'::text").scalar() == "03/02/2001"
        assert _same(referential_store._read_versions(connection).sort("finess_et"), frame)
    engine.dispose()


def test_copy_bytes_are_the_former_text():
    frame = _tricky_versions(50)
    assert sql_dialects._csv_bytes(frame) == frame.write_csv(include_header=False).encode("utf-8")
