"""How is the sample generated from the command line?

`python -m observatoire.sample --out DIR [--seed N]`; the main CLI exposes the same as
`observatoire sample`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from observatoire.sample.generator import SampleError, generate_sample


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="observatoire sample",
        description="Génère un jeu d'essai reproductible : extraits FINESS, dépôts des campagnes 2023 et 2024 "
                    "et réponse attendue.",
    )
    parser.add_argument("--out", required=True, type=Path, help="dossier de sortie (créé si besoin)")
    parser.add_argument("--seed", type=int, default=2025, help="graine du tirage (défaut : 2025)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        manifest = generate_sample(args.out, args.seed)
    except SampleError as exc:
        print(f"observatoire sample : {exc}", file=sys.stderr)
        return 2
    print(f"Jeu d'essai écrit dans {manifest.out_dir} (graine {manifest.seed}) : voir {manifest.readme}")
    return 0
