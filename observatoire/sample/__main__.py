"""`python -m observatoire.sample --out DIR [--seed N]`."""
import sys

from observatoire.sample.cli import main

sys.exit(main())
