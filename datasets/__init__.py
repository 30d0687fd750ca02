"""Generated data sets for the benchmarks and the tests, not the product's sample (see README.md)."""
