"""IO at the edges: files in, Polars frames out. Each reader is small and dumb."""
