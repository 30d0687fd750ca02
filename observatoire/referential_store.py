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
from observatoire.warehouse import insert_rows, writer_lock
from transforms.referential import (
    ATTRIBUTE_COLUMNS, ESTABLISHMENT_COLUMNS, history_from_versions, snapshot_members, snapshot_versions,
)

HISTORY_COLUMNS = ["finess_et", "valid_from", "valid_to", *ATTRIBUTE_COLUMNS]
_DTYPES = {"valid_from": pl.Date, "valid_to": pl.Date, "dateouv": pl.Date, "is_centre_de_sante": pl.Boolean}


def _read_versions(connection) -> pl.DataFrame:
    rows = connection.execute(sa.text(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM finess_et_history")).all()
    frame = pl.DataFrame([tuple(row) for row in rows], schema=HISTORY_COLUMNS, orient="row",
                         infer_schema_length=None)
    # SQLite hands dates back as text and booleans as integers; PostgreSQL as typed values
    return frame.with_columns(
        (pl.col(name).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d") if dtype == pl.Date
         else pl.col(name).cast(dtype))
        for name, dtype in ((n, _DTYPES.get(n, pl.String)) for n in HISTORY_COLUMNS)
    )


def _snapshot_dates(connection) -> dict[dt.date, str]:
    rows = connection.execute(sa.text("SELECT extract_date, source_sha256 FROM finess_snapshot")).all()
    return {(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])): sha for d, sha in rows}


def store_snapshots(engine: Engine, extracts: list[dict]) -> list[dt.date]:
    """Add the extracts not stored yet. `extracts`: extract_date, sha256, file, frame
    (normalised establishments). Returns the dates added."""
    with engine.begin() as connection:
        writer_lock(connection, "referential")
        known = _snapshot_dates(connection)
        new = []
        for extract in extracts:
            date = extract["extract_date"]
            if date in known:
                if known[date] != extract["sha256"]:
                    raise CampaignError(
                        f"Référentiel FINESS : un autre extrait daté du {date:%d/%m/%Y} est déjà chargé "
                        f"dans l'entrepôt ({extract['file']} diffère de celui-ci)."
                    )
                continue
            known[date] = extract["sha256"]
            new.append(extract)
        if not new:
            return []
        dates = sorted(known)
        stored = _read_versions(connection)
        old_dates = [d for d in dates if d not in {e["extract_date"] for e in new}]
        snapshots = snapshot_members(stored, old_dates) if old_dates else []
        snapshots += [(e["extract_date"], e["frame"].select(ESTABLISHMENT_COLUMNS)) for e in new]
        versions = snapshot_versions(snapshots)
        connection.execute(sa.text("DELETE FROM finess_et_history"))
        insert_rows(connection, "finess_et_history", versions.select(HISTORY_COLUMNS))
        insert_rows(connection, "finess_snapshot", pl.DataFrame([{
            "extract_date": e["extract_date"], "source_file": e["file"], "source_sha256": e["sha256"],
            "establishments": e["frame"].height, "loaded_at": dt.datetime.now(dt.timezone.utc),
        } for e in new]))
    return [e["extract_date"] for e in new]


def read_history(engine: Engine) -> tuple[pl.DataFrame, list[dt.date]]:
    """(history as `transforms.referential.history_from_versions` gives it, snapshot dates)."""
    with engine.connect() as connection:
        dates = sorted(_snapshot_dates(connection))
        versions = _read_versions(connection)
    if not dates:
        raise CampaignError("Aucun référentiel FINESS dans l'entrepôt : donner au moins un extrait (--finess).")
    return history_from_versions(versions, dates), dates
