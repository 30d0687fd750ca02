"""Which FINESS extracts has the warehouse seen, and what did each ET look like when?

Keeps every loaded extract as a dated snapshot (`finess_snapshot`) and the referential as
periods of unchanged attributes (`finess_et_history`), so a later run given only the
newest extract still knows the centres that closed since. Loading the same extract twice
changes nothing.
"""
from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire.errors import CampaignError
from observatoire.sql_dialects import dialect_of
from observatoire.warehouse import insert_rows, write_transaction, writer_lock
from transforms.referential import (
    ATTRIBUTE_COLUMNS, ESTABLISHMENT_COLUMNS, history_from_versions, snapshot_members, snapshot_versions,
)

HISTORY_COLUMNS = ["finess_et", "valid_from", "valid_to", *ATTRIBUTE_COLUMNS]
_DTYPES = {"valid_from": pl.Date, "valid_to": pl.Date, "dateouv": pl.Date, "datefermeture": pl.Date,
           "is_centre_de_sante": pl.Boolean}


def _read_versions(connection) -> pl.DataFrame:
    """Every stored version, typed. 100,000 versions are read back on every run that stores
    nothing new: the database builds one JSON array text per column in one scan and Polars
    decodes it, so no Python object is made per value (twice as fast as fetching rows).
    Dates travel as ISO text (JSON's own form on PostgreSQL, whatever its DateStyle; what is
    stored on SQLite), booleans as 0/1."""
    aggregate = dialect_of(connection).json_array_agg
    columns = [f"CAST({name} AS INTEGER)" if _DTYPES.get(name) == pl.Boolean else name for name in HISTORY_COLUMNS]
    arrays = connection.exec_driver_sql(
        f"SELECT {', '.join(f'CAST({aggregate}({column}) AS TEXT)' for column in columns)} FROM finess_et_history"
    ).one()
    if arrays[0] is None or arrays[0] == "[]":  # no row (json_agg gives NULL, json_group_array [])
        frame = pl.DataFrame(schema={name: pl.String for name in HISTORY_COLUMNS})
    else:  # the arrays come from the same scan, so in the same row order
        frame = pl.DataFrame([
            pl.Series(name, [array]).str.json_decode(pl.List(pl.Int64 if _DTYPES.get(name) == pl.Boolean
                                                             else pl.String)).explode()
            for name, array in zip(HISTORY_COLUMNS, arrays)])
    return frame.with_columns(
        pl.col(name).str.slice(0, 10).str.to_date("%Y-%m-%d") if dtype == pl.Date else pl.col(name).cast(dtype)
        for name, dtype in ((n, _DTYPES.get(n, pl.String)) for n in HISTORY_COLUMNS)
    )


def _snapshot_dates(connection) -> dict[dt.date, str]:
    rows = connection.execute(sa.text("SELECT extract_date, source_sha256 FROM finess_snapshot")).all()
    read_date = dialect_of(connection).read_date
    return {read_date(d): sha for d, sha in rows}


def known_snapshots(engine: Engine) -> dict[dt.date, str]:
    """extract_date -> sha256 of every snapshot the warehouse holds."""
    with engine.connect() as connection:
        return _snapshot_dates(connection)


def check_not_conflicting(known: dict[dt.date, str], extract_date: dt.date, sha256: str, file: str) -> bool:
    """True when this extract is already stored; raise if another file of that date is."""
    if extract_date not in known:
        return False
    if known[extract_date] != sha256:
        raise CampaignError(
            f"Référentiel FINESS : un autre extrait daté du {extract_date:%d/%m/%Y} est déjà chargé "
            f"dans l'entrepôt ({file} diffère de celui-ci)."
        )
    return True


def store_snapshots(engine: Engine, extracts: list[dict], on_versions):
    """Add the extracts not stored yet. `extracts`: extract_date, sha256, file, frame
    (normalised establishments). `on_versions(versions, dates)` is called with the versions
    about to be stored and every snapshot date as soon as they are known, under the lock,
    before they are written (writing 100,000 versions takes about a second on SQLite): what
    the run may go on with meanwhile, reading the warehouse too. Returns what it returned,
    or None when nothing was added."""
    with write_transaction(engine, readers_not_blocked=True) as connection:
        writer_lock(connection, "referential")
        known = _snapshot_dates(connection)
        new = []
        for extract in extracts:
            if check_not_conflicting(known, extract["extract_date"], extract["sha256"], extract["file"]):
                continue
            known[extract["extract_date"]] = extract["sha256"]
            new.append(extract)
        if not new:
            return None
        dates = sorted(known)
        old_dates = [d for d in dates if d not in {e["extract_date"] for e in new}]
        snapshots = snapshot_members(_read_versions(connection), old_dates) if old_dates else []
        snapshots += [(e["extract_date"], e["frame"].select(ESTABLISHMENT_COLUMNS)) for e in new]
        versions = snapshot_versions(snapshots).select(HISTORY_COLUMNS)
        given = on_versions(versions, dates)
        connection.execute(sa.text("DELETE FROM finess_et_history"))
        insert_rows(connection, "finess_et_history", versions)
        insert_rows(connection, "finess_snapshot", pl.DataFrame([{
            "extract_date": e["extract_date"], "source_file": e["file"], "source_sha256": e["sha256"],
            "establishments": e["frame"].height, "loaded_at": dt.datetime.now(dt.timezone.utc),
        } for e in new]))
    return given


def read_history(engine: Engine) -> tuple[pl.DataFrame, list[dt.date]]:
    """(history as `transforms.referential.history_from_versions` gives it, snapshot dates)."""
    with engine.connect() as connection:
        dates = sorted(_snapshot_dates(connection))
        versions = _read_versions(connection)
    if not dates:
        raise CampaignError("Aucun référentiel FINESS dans l'entrepôt : donner au moins un extrait (--finess).")
    return history_from_versions(versions, dates), dates


def snapshot_centres(engine: Engine) -> dict[dt.date, int]:
    """extract_date -> number of centres de santé of every stored snapshot (as its periods
    in finess_et_history say), to compare a new extract with."""
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT s.extract_date, COUNT(h.finess_et) FROM finess_snapshot s "
            "LEFT JOIN finess_et_history h ON h.is_centre_de_sante AND h.valid_from <= s.extract_date "
            "AND (h.valid_to IS NULL OR h.valid_to > s.extract_date) "
            # a FINESS+ snapshot also holds closed centres, with their closing date
            "AND (h.datefermeture IS NULL OR h.datefermeture > s.extract_date) GROUP BY s.extract_date"
        )).all()
    read_date = dialect_of(engine).read_date
    return {read_date(d): int(n) for d, n in rows}


def withdraw_snapshot(engine: Engine, extract_date: dt.date) -> tuple[dict, list[dict]]:
    """Remove the snapshot of `extract_date` and rebuild the periods from the other
    snapshots, in one transaction. Returns (the snapshot withdrawn: file, sha256, loaded_at,
    establishments; the runs that used it: run_id, campaign_year, regions, started_at,
    outcome). A run used it when it was given that extract or started after it was stored
    (its history held it). Raise CampaignError when there is no such snapshot."""
    dialect = dialect_of(engine)
    with write_transaction(engine) as connection:
        writer_lock(connection, "referential")
        snapshots = connection.execute(sa.text(
            "SELECT extract_date, source_file, source_sha256, loaded_at, establishments FROM finess_snapshot"
        )).all()
        by_date = {dialect.read_date(d): row for d, *row in snapshots}
        if extract_date not in by_date:
            held = ", ".join(f"{d:%d/%m/%Y}" for d in sorted(by_date)) or "aucun"
            raise CampaignError(f"Aucun instantané FINESS du {extract_date:%d/%m/%Y} dans l'entrepôt "
                                f"(instantanés : {held}).")
        file, sha256, loaded_at, establishments = by_date[extract_date]
        remaining = sorted(d for d in by_date if d != extract_date)
        members = snapshot_members(_read_versions(connection), remaining) if remaining else []
        connection.execute(sa.text("DELETE FROM finess_et_history"))
        if members:
            insert_rows(connection, "finess_et_history", snapshot_versions(members).select(HISTORY_COLUMNS))
        connection.execute(sa.text("DELETE FROM finess_snapshot WHERE extract_date = :d"),
                           dialect.parameters({"d": extract_date}))
        runs = connection.execute(sa.text(
            "SELECT run_id, campaign_year, regions, started_at, outcome, finess_extracts FROM pipeline_run "
            "ORDER BY started_at")).all()
    stored_at = dialect.read_instant(loaded_at)
    used = []
    for run_id, year, regions, started, outcome, extracts in runs:
        started = dialect.read_instant(started)
        if f'"{extract_date.isoformat()}"' in (extracts or "") or (
                stored_at is not None and started is not None and started >= stored_at):
            used.append({"run_id": run_id, "campaign_year": year, "regions": regions, "started_at": started,
                         "outcome": outcome})
    return {"extract_date": extract_date, "file": file, "sha256": sha256, "loaded_at": stored_at,
            "establishments": establishments}, used

