"""Pure Polars transforms: the business rules of the observatoire (no IO, no clock, no Prefect)."""
