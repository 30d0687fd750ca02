"""What does a sample FINESS extract look like on disk, byte for byte?

The data.gouv layout of finess.md: windows-1252, `;`, standard CSV quoting only where a
field holds `;` or `"`, a `finess;etalab;<n>;YYYY-MM-DD` first line, 32-field
`structureet` lines ending with the empty `numuai`, then a few `geolocalisation` lines
whose source field holds unquoted `;`. Line ends are `\\n` like the real file.
"""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from observatoire.outputs import write_output
from observatoire.sample.referential import Establishment, Referential, Snapshot

STRUCTUREET_FIELDS = (
    "section", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib",
    "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement",
    "libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab",
    "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft",
    "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
)

# Projection written in the geolocalisation source field, per FINESS département.
_PROJECTION = {"9A": "UTM_N20", "9B": "UTM_N20", "9C": "UTM_N22", "9D": "RGR92UTM40S", "9F": "RGM04UTM38S"}


def structureet_fields(e: Establishment) -> list[str]:
    fields = [
        "structureet", e.finess_et, e.finess_ej, e.rs, e.rslongue, e.complrs, e.compldistrib,
        e.numvoie, e.typvoie if e.voie else "", e.voie, "", e.lieuditbp, e.commune.code,
        e.departement.code, e.departement.label, e.commune.acheminement, e.telephone, e.telecopie,
        e.category.code, e.category.label, e.category.aggregate_code, e.category.aggregate_label,
        e.siret, e.category.ape, e.category.mft_code, e.category.mft_label, e.category.sph_code,
        e.category.sph_label, e.dateouv.isoformat(), e.dateautor.isoformat(), e.datemaj.isoformat(), "",
    ]
    assert len(fields) == len(STRUCTUREET_FIELDS)
    return fields


def geolocalisation_line(e: Establishment, rng: random.Random) -> str:
    projection = _PROJECTION.get(e.departement.code, "LAMBERT_93")
    if projection == "LAMBERT_93":
        x, y = rng.uniform(150000, 1200000), rng.uniform(6050000, 7100000)
    else:
        x, y = rng.uniform(300000, 700000), rng.uniform(1500000, 7700000)
    source = f"1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;{projection}"
    return f"geolocalisation;{e.finess_et};{x:.1f};{y:.1f};{source};{e.datemaj.isoformat()}"


def render_extract(referential: Referential, snapshot: Snapshot, seed: int) -> bytes:
    """The whole extract file of one snapshot, encoded windows-1252."""
    rng = random.Random(f"geoloc-{seed}-{snapshot.label}")
    buffer = io.StringIO()
    buffer.write(f"finess;etalab;{snapshot.serial};{snapshot.extract_date.isoformat()}\n")
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    establishments = referential.in_snapshot(snapshot.label)
    for establishment in establishments:
        writer.writerow(structureet_fields(establishment))
    located = rng.sample(establishments, 12) + [e for e in establishments if e.departement.code in _PROJECTION][:3]
    for establishment in sorted(located, key=lambda e: e.finess_et):
        buffer.write(geolocalisation_line(establishment, rng) + "\n")
    return buffer.getvalue().encode("cp1252")


def write_extracts(referential: Referential, snapshots, folder: Path, seed: int) -> list[Path]:
    paths = []
    for snapshot in snapshots:
        paths.append(write_output(folder, snapshot.file_name, render_extract(referential, snapshot, seed)))
    return paths
