"""The commune -> département rule (transforms.geography), on real COG codes."""
import polars as pl

from transforms.geography import commune_departement


def test_commune_departement_metropole_corsica_overseas():
    communes = ["69123", "2A004", "2b033", "97411", "97608", "01053", " 75056"]
    got = pl.DataFrame({"c": communes}).select(commune_departement(pl.col("c")))["c"].to_list()
    assert got == ["69", "2A", "2B", "974", "976", "01", "75"]
