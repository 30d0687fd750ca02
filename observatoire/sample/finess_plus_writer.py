"""What does the sample referential look like as a FINESS+ "Structures" file?

The layout of the ANS's example (finess.md, "What comes next: FINESS+"): `schemaVersion`,
`generatedAt`, groupings, then `pmej[]`, each EJ with its ET in `ege[]`, every field spelled
as the example spells it (`informationsGeneralesPMEJ`, `categorieentiteGeographiqueExercice`
as a plain code), with the address, contact, events and commitments that make a real file
about 4 KB per ET. Unlike an extract it lists the closed establishments too, with their
`dateFermeture` and `etatObjet` "I": a file dated like the last extract describes the same
reality as the extracts up to it (an ET missing from the later extracts closed on its
`datefermeture`, see `ReferentialBuilder.date_closures`). Written gzip-compressed as on
data.gouv, with a fixed gzip header so that a seed gives the same bytes.
"""
from __future__ import annotations

import datetime as dt
import gzip
import random
from itertools import groupby
from pathlib import Path

import orjson

from observatoire.outputs import open_output

from observatoire.sample.referential import ALL_SNAPSHOTS, Establishment, Referential, Snapshot

SCHEMA_VERSION = "v1.0.0"
# the INSEE département of a FINESS overseas code: a commune is that code and its last two digits
_INSEE_OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976", "9J": "986"}


def file_name(snapshot: Snapshot) -> str:
    return f"finess-structures-{snapshot.extract_date:%Y%m%d}.json.gz"


def cog_commune(establishment: Establishment) -> str:
    departement, code = establishment.departement.code, establishment.commune.code
    if departement in _INSEE_OVERSEAS:
        return _INSEE_OVERSEAS[departement] + code[-2:]
    return departement + code


def listed(referential: Referential, snapshot: Snapshot) -> list[Establishment]:
    """Every establishment present in a snapshot up to `snapshot`, open or closed since."""
    labels = set(ALL_SNAPSHOTS[:ALL_SNAPSHOTS.index(snapshot.label) + 1])
    return sorted((e for e in referential.establishments if labels & set(e.snapshots)),
                  key=lambda e: (e.finess_ej, e.finess_et))


def _closed(establishment: Establishment, snapshot: Snapshot) -> dt.date | None:
    closed = establishment.datefermeture
    return closed if closed is not None and closed <= snapshot.extract_date else None


def _event(rng: random.Random, identifier: str, kind: str, code: str, day: dt.date) -> dict:
    return {"evenementId": str(rng.randrange(1, 10**7)), "dateEnregistrement": "2025-10-21 18:36:29",
            "dateEvenement": day.isoformat(), "etatObjet1": code, "identifiantObjet1": identifier,
            "systemeMaitre": "01", "typeObjet1": kind, "codeEvenement": code}


def _address(e: Establishment, rng: random.Random, usage: str) -> dict:
    address = {"usageAdresse": usage}
    if e.numvoie:
        address["numeroVoie"] = e.numvoie
    if e.voie:
        address.update(typeVoie=e.typvoie, libelleVoie=e.voie)
    if e.lieuditbp:
        address["lieuDit"] = e.lieuditbp
    address.update(
        cogCommune=cog_commune(e), ligneAcheminement=e.commune.name,
        ligneQuatre=" ".join(p for p in (e.numvoie, e.typvoie, e.voie) if p), codePostal=e.commune.postal_code,
        coordonneesGeographique={
            "coordonneeX": f"{rng.uniform(6.0e6, 7.1e6):.2f}", "coordonneeY": f"{rng.uniform(6.0e5, 1.2e6):.2f}",
            "directionLatitude": f"{rng.uniform(41.0, 51.0):.6f}", "directionLongitude": f"{rng.uniform(-5.0, 9.5):.6f}",
            "cleInInteropBAN": f"{cog_commune(e)}_{rng.randrange(10000):04d}_{rng.randrange(1000):05d}",
            "scoreBAN": f"{rng.uniform(0.5, 1.0):.15f}",
        },
    )
    return address


def _contact(e: Establishment) -> list[dict]:
    if not e.telephone:
        return []
    telecom = {"telephone": e.telephone}
    if e.telecopie:
        telecom["telecopie"] = e.telecopie
    return [{"typeContact": {"roleContact": "01"}, "telecom": telecom}]


def _ege(e: Establishment, snapshot: Snapshot, rng: random.Random, index: int) -> dict:
    closed = _closed(e, snapshot)
    identifier = str(index)
    general = {"egeId": identifier, "dateOuverture": e.dateouv.isoformat(),
               "datePremiereAutorisation": e.dateautor.isoformat()}
    if closed:
        general["dateFermeture"] = closed.isoformat()
    general["nomEgeCourt"] = e.rs
    if e.rslongue:
        general["nomEgeLong"] = e.rslongue
    general.update(numFinessEge=e.finess_et, espic=["0"], siret=e.siret)
    events = [_event(rng, identifier, "EG", "003", e.dateouv), _event(rng, identifier, "EG", "007", e.dateautor)]
    if closed:
        events.append(_event(rng, identifier, "EG", "005", closed))
    return {
        "informationsGeneralesEGE": general,
        "categorieentiteGeographiqueExercice": e.category.code,
        "modefixationtarifaire": e.category.mft_code,
        "typeBudget": ["01"],
        "adresse": [_address(e, rng, "03")],
        "contact": _contact(e),
        "engagement": [{"engagementId": str(rng.randrange(1, 10**7)), "typeEngagement": "CONV",
                        "sousTypeEngagement": "ASE", "dateEffetEngagement": e.dateautor.isoformat(),
                        "dateSignatureEngagement": e.dateautor.isoformat(), "autoriteRegulationEngagement": []}],
        "evenement": events,
        "roleEge": [],
        "etatObjet": "I" if closed else "A",
        "dateDerniereMaj": f"{(closed or e.datemaj).isoformat()} 00:00:00",
    }


def _pmej(ets: list[Establishment], snapshot: Snapshot, rng: random.Random, index: int) -> dict:
    first = ets[0]
    identifier = str(index)
    closed = [_closed(e, snapshot) for e in ets]
    all_closed = all(closed)
    general = {"pmSmsseId": identifier, "codeApe": first.category.ape or "86.90D",
               "dateCreation": min(e.dateautor for e in ets).isoformat()}
    if all_closed:
        general["dateFermeture"] = max(closed).isoformat()
    general.update(denominationLonguePmSmsse=first.rslongue or first.rs, denominationPm=first.rs,
                   numFinessPm=first.finess_ej, siren=first.siret[:9], statutJuridique="60", typePersonneMorale="01")
    return {
        "informationsGeneralesPMEJ": general,
        "adresse": [_address(first, rng, "02")],
        "contact": _contact(first),
        "engagement": [],
        "evenement": [_event(rng, identifier, "PM", "001", min(e.dateautor for e in ets))],
        "ege": [_ege(e, snapshot, rng, index * 10 + n) for n, e in enumerate(ets)],
        "etatObjet": "I" if all_closed else "A",
        "dateDerniereMaj": f"{max(e.datemaj for e in ets).isoformat()} 00:00:00",
    }


def render_parts(establishments: list[Establishment], snapshot: Snapshot, seed: int):
    """The file's inflated bytes, piece by piece (a national file is never held whole)."""
    rng = random.Random(f"finess-plus-{seed}-{snapshot.label}")
    yield (b'{\n  "schemaVersion" : "' + SCHEMA_VERSION.encode() + b'",\n  "generatedAt" : "'
           + f"{snapshot.extract_date.isoformat()}T{snapshot.extract_time[:2]}:{snapshot.extract_time[2:]}:00Z".encode()
           + b'",\n  "gcc" : [ ],\n  "gco" : [ ],\n  "pmej" : [ ')
    for index, (_, group) in enumerate(groupby(establishments, key=lambda e: e.finess_ej), start=1):
        text = orjson.dumps(_pmej(list(group), snapshot, rng, index), option=orjson.OPT_INDENT_2)
        yield (b"" if index == 1 else b", ") + text
    yield b" ]\n}\n"


def write_finess_plus(referential: Referential, snapshot: Snapshot, folder: Path, seed: int) -> Path:
    """`folder/finess-structures-YYYYMMDD.json.gz`: every establishment listed up to `snapshot`,
    streamed (a national file is never held whole) through `open_output` like every sample file."""
    with open_output(folder, file_name(snapshot)) as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename="") as out:
        for part in render_parts(listed(referential, snapshot), snapshot, seed):
            out.write(part)
    return folder / file_name(snapshot)
