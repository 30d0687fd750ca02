"""The generated sample campaign consolidated as the Prefect flow does it, and the
warehouse read back as dictionaries: the end-to-end tests' common steps."""
from __future__ import annotations

import sqlalchemy as sa


def consolidate_sample(sample, year: int, url: str, finess: list | None = None) -> None:
    """Run the flow on the sample's `year` campaign, with its extracts unless `finess` says
    which referential files to load."""
    from flows.campaign import consolidate_campaign
    from flows.parameters import CampaignParameters

    paths = sample.campaigns[year]
    consolidate_campaign(CampaignParameters(
        year=year, submissions=str(paths.submissions_dir),
        finess=[str(p) for p in (sample.extracts if finess is None else finess)],
        calendar=str(paths.calendar), warehouse_url=url,
    ))


def warehouse_rows(url: str, sql: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(sql))]
    engine.dispose()
    return rows
