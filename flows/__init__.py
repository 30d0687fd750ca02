import observatoire  # noqa: F401  (sets the allocator's memory settings before Polars loads)
