"""observatoire-cds: IO edges of the pipeline (readers, warehouse, reports, CLI).

Memory: Polars allocates with jemalloc, which by default keeps freed pages for 10 s
before giving them back; a campaign allocates and frees large frames in bursts, so its
resident memory counted those pages too (about +250 MB at 30,000 files). Unless the
environment says otherwise, freed pages go back at once (pola-rs/polars#23128). This
must run before Polars is imported, hence here and in `flows/__init__.py`.
"""
import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
