"""Which establishments does the sample FINESS referential hold, and in which snapshots?

Builds, from a seeded random generator, the centres de santé of six regions (with their
gestionnaires and antennes, and a few openings and closures between the three dated
extracts S0/S1/S2) and about four times as many other establishments (hospitals, EHPAD,
PMI, maisons de santé, pharmacies…) spread over every département, with valid FINESS
numbers and SIRETs. Nothing here writes a file: see `extract_writer`.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from observatoire.sample.geography import (
    FINESS_NUMBER_PREFIX,
    Commune,
    Departement,
    communes_for_centres,
    communes_for_noise,
    load_departements,
)
from transforms.finess_key import finess_check_digit, is_valid_finess, luhn_check_digit


@dataclass(frozen=True)
class Snapshot:
    label: str  # S0, S1, S2
    extract_date: dt.date
    extract_time: str  # HHMM of the file name
    serial: int  # <n> of the first line

    @property
    def file_name(self) -> str:
        return f"etalab-cs1100507-stock-{self.extract_date:%Y%m%d}-{self.extract_time}.csv"


SNAPSHOTS = (
    Snapshot("S0", dt.date(2023, 1, 9), "0412", 97),
    Snapshot("S1", dt.date(2024, 1, 10), "0415", 102),
    Snapshot("S2", dt.date(2025, 1, 12), "0420", 106),
)
ALL_SNAPSHOTS = ("S0", "S1", "S2")


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    aggregate_code: str
    aggregate_label: str
    ape: str
    mft_code: str
    mft_label: str
    sph_code: str = ""
    sph_label: str = ""


CDS_CATEGORY = Category("124", "Centre de Santé", "2206", "Centres de Santé", "8621Z", "01", "Etablissement Tarif Libre")
OLD_CDS_CATEGORIES = {
    "dentaire": Category("125", "Centre de Santé Dentaire", "2206", "Centres de Santé", "8623Z", "01", "Etablissement Tarif Libre"),
    "medical": Category("130", "Centre de Soins Médicaux", "2206", "Centres de Santé", "8621Z", "01", "Etablissement Tarif Libre"),
    "infirmier": Category("289", "Centre de Soins Infirmiers", "2206", "Centres de Santé", "8690D", "01", "Etablissement Tarif Libre"),
}
CENTRE_DE_SANTE_CODES = ("124", "125", "130", "289")

# Other establishments, with their weight in the noise (aggregates are illustrative,
# never 2206). Names are built from a pattern and the town.
NOISE_CATEGORIES: list[tuple[Category, float, tuple[str, ...]]] = [
    (Category("355", "Centre Hospitalier (C.H.)", "1102", "Centres Hospitaliers", "8610Z", "03",
              "ARS établissements Publics de santé dotation globale", "1", "Etablissement public de santé"),
     0.08, ("CENTRE HOSPITALIER DE {town}", "CH DE {town}", "CH {town} - SITE {place}")),
    (Category("500", "Etablissement d'hébergement pour personnes âgées dépendantes", "4401",
              "Etablissements d'Hébergement pour Personnes Âgées", "8710A", "40",
              "ARS/PCD, Tarif global, habilité aide sociale, recours PUI"),
     0.24, ("EHPAD {place}", "E.H.P.A.D. {place}", "EHPAD RESIDENCE {place}")),
    (Category("223", "Protection Maternelle et Infantile (P.M.I.)", "2202",
              "Etablissements de PMI et de Planification Familiale", "", "01", "Etablissement Tarif Libre"),
     0.08, ("PMI {town} {place}", "CENTRE DE PMI {place}")),
    (Category("603", "Maison de santé (L.6223-3)", "2204", "Etablissements de soins ambulatoires", "8621Z", "99",
              "Indéterminé"),
     0.10, ("MAISON DE SANTE PLURIPROFESSIONNELLE {place}", "MSP {place}", "MAISON DE SANTÉ {place}")),
    (Category("604", "Communauté Professionnelle Territoriale de Santé (CPTS)", "2204",
              "Etablissements de soins ambulatoires", "9499Z", "99", "Indéterminé"),
     0.04, ("CPTS {town}", "CPTS DU PAYS DE {town}")),
    (Category("620", "Pharmacie d'Officine", "3301", "Pharmacies d'Officine", "4773Z", "99", "Indéterminé"),
     0.30, ("PHARMACIE {place}", "PHARMACIE DE LA {street}", "GRANDE PHARMACIE DE {town}")),
    (Category("611", "Laboratoire de Biologie Médicale", "3201", "Laboratoires d'Analyses", "8690B", "99",
              "Indéterminé"),
     0.08, ("LBM {place}", "LABORATOIRE DE BIOLOGIE MEDICALE {place}")),
    (Category("146", "Structure d'Alternative à la dialyse en centre", "1203", "Dialyse Ambulatoire", "8610Z", "07",
              "ARS établissements de santé non financés dotation globale", "0", "Non concerné"),
     0.04, ("UNITE D'AUTODIALYSE {town}", "UAD {place}")),
    (Category("189", "Centre Médico-Psycho-Pédagogique (C.M.P.P.)", "4106",
              "Services à Domicile ou Ambulatoires pour Handicapés", "8810C", "57",
              "DGS ARS & hébergement PCD - sous CPOM"),
     0.04, ("CMPP {place}", "C.M.P.P. DE {town}")),
]

# How many centres de santé each region gets, spread over these départements (weights).
CDS_REGIONS: dict[str, tuple[int, dict[str, int]]] = {
    "84": (150, {"69": 10, "38": 6, "42": 4, "63": 3, "01": 3, "03": 2, "07": 1, "26": 2, "73": 2, "74": 2}),
    "11": (180, {"75": 10, "93": 9, "94": 6, "92": 5, "95": 3, "91": 3, "77": 2, "78": 2}),
    "93": (120, {"13": 10, "06": 4, "83": 3, "84": 2, "04": 1, "05": 1}),
    "94": (6, {"2A": 1, "2B": 1}),
    "01": (5, {"9A": 1}),
    "04": (6, {"9D": 1}),
}

DISTINCTIVE_NAMES = [
    "ELSA TRIOLET", "PAUL ELUARD", "LOUISE MICHEL", "SIMONE VEIL", "JEAN JAURES", "PIERRE ROUQUES",
    "MARIE CURIE", "LES GLYCINES", "LES TILLEULS", "DU PARC", "DES CEDRES", "DE LA GARE", "DU VIEUX PORT",
    "LES MINGUETTES", "CROIX ROUSSE", "BELLEVILLE", "SAINT JEAN", "AMBROISE CROIZAT", "FRANCOISE DOLTO",
    "GEORGES BRASSENS", "VICTOR HUGO", "ALBERT CAMUS", "LES LILAS", "LE MAS FLEURI", "LA SOLIDARITE",
    "LA FONTAINE", "HENRI BARBUSSE", "DANIELLE CASANOVA", "ROMAIN ROLLAND", "GABRIEL PERI",
    "JOLIOT CURIE", "LES ACACIAS", "LES PLATANES", "LES OLIVIERS", "LES CIGALES", "LE LEVANT",
    "MONTPLAISIR", "LA DUCHERE", "LES GENETS", "LES MIMOSAS", "ARC EN CIEL", "LA PASSERELLE",
    "LES FONTAINES", "LE PHARE", "LA BOUSSOLE", "LES COQUELICOTS", "MANDELA", "ANGELA DAVIS",
    "FRIDA KAHLO", "GISELE HALIMI", "JOSEPHINE BAKER", "AIME CESAIRE", "RENE CASSIN", "JEAN MOULIN",
    "LUCIE AUBRAC", "OLYMPE DE GOUGES", "LES PEUPLIERS", "LE TRIANGLE", "LES QUATRE CHEMINS",
    "LE BOIS JOLI", "LES BLEUETS", "LES HIRONDELLES", "LE CARREFOUR", "LA ROSERAIE", "LE SOLEIL",
    "LES MARRONNIERS", "BEL AIR", "LES SABLONS", "LA CROIX BLANCHE", "LE BEL HORIZON", "LES IRIS",
    "LE CLOS FLEURI", "LES VIGNES", "LES ROCHES", "LA SOURCE", "LE MOULIN", "LES CHENES",
    "LE PRE VERT", "LA COLLINE", "LES ORMEAUX", "L'ESTEREL", "LES CALANQUES", "LE PANIER", "LA BELLE DE MAI",
]
QUARTIERS = ["NORD", "SUD", "EST", "OUEST", "CENTRE VILLE", "LES HAUTS", "LE VAL", "LA PLAINE", "LE PORT", "LA GARE"]
STREETS = [
    ("R", "DE LA REPUBLIQUE"), ("AV", "JEAN JAURES"), ("BD", "VICTOR HUGO"), ("PL", "DE LA MAIRIE"),
    ("R", "GAMBETTA"), ("AV", "DU GENERAL DE GAULLE"), ("R", "PASTEUR"), ("CHE", "DES VIGNES"),
    ("ALL", "DES TILLEULS"), ("R", "DE LA LIBERATION"), ("BD", "DE STALINGRAD"), ("R", "DU 8 MAI 1945"),
    ("AV", "DE LA LIBERTE"), ("R", "EMILE ZOLA"), ("QUA", "DES ARTISANS"), ("RTE", "NATIONALE"),
    ("IMP", "DES LILAS"), ("R", "DU 19 MARS 1962"), ("AV", "PAUL VAILLANT COUTURIER"), ("R", "DE L'EGLISE"),
]
PHONE_PREFIX = {"84": "04", "93": "04", "94": "04", "11": "01", "01": "0590", "04": "0262",
                "02": "0596", "03": "0594", "06": "0269", "24": "02", "27": "03", "28": "02", "32": "03",
                "44": "03", "52": "02", "53": "02", "75": "05", "76": "05"}


@dataclass
class Establishment:
    finess_et: str
    finess_ej: str
    rs: str
    rslongue: str
    commune: Commune
    departement: Departement
    category: Category
    siret: str
    telephone: str
    telecopie: str
    dateouv: dt.date
    dateautor: dt.date
    datemaj: dt.date
    numvoie: str = ""
    typvoie: str = ""
    voie: str = ""
    complrs: str = ""
    compldistrib: str = ""
    lieuditbp: str = ""
    snapshots: tuple[str, ...] = ALL_SNAPSHOTS
    # the day it closed, for an establishment missing from the later snapshots: between the
    # last snapshot holding it and the end of that year (FINESS+ gives it, extracts do not)
    datefermeture: dt.date | None = None
    # centres de santé only
    kind: str = ""  # municipal | mutualiste | dentaire | infirmier | associatif | ophtalmologique
    distinctive: str = ""  # the part of the name that tells the centre apart in its département
    principal_et: str | None = None  # antennes: the principal centre of the same gestionnaire
    antennes: list[str] = field(default_factory=list)  # principal centres: their antennes
    history: str = "stable"  # stable | closed_2023 | closed_2024 | opened_2023 | opened_2024
    decorated: bool = False  # name with accents, œ, ’, `;` or `"`: kept out of name matching

    @property
    def is_centre_de_sante(self) -> bool:
        return self.category.code in CENTRE_DE_SANTE_CODES

    @property
    def region_code(self) -> str | None:
        return self.departement.region_code

    def in_snapshot(self, label: str) -> bool:
        return label in self.snapshots


@dataclass
class Referential:
    establishments: list[Establishment]

    def __post_init__(self) -> None:
        self.by_et = {e.finess_et: e for e in self.establishments}
        self._centres_by_ej: dict[str, list[Establishment]] | None = None

    @property
    def centres(self) -> list[Establishment]:
        return [e for e in self.establishments if e.is_centre_de_sante]

    def in_snapshot(self, label: str) -> list[Establishment]:
        return sorted((e for e in self.establishments if e.in_snapshot(label)), key=lambda e: e.finess_et)

    def expected_centres(self, year: int) -> list[Establishment]:
        """Centres expected for exercise `year` (campaign-rules.md), all snapshots loaded."""
        first_day, last_day = dt.date(year, 1, 1), dt.date(year, 12, 31)
        dated = {s.label: s.extract_date for s in SNAPSHOTS}
        return [
            e for e in sorted(self.centres, key=lambda e: e.finess_et)
            if e.region_code is not None and e.dateouv <= last_day
            and any(dated[label] >= first_day for label in e.snapshots)
        ]

    def centres_of_ej(self, finess_ej: str) -> list[Establishment]:
        if self._centres_by_ej is None:  # indexed once: the national referential has 100,000 lines
            self._centres_by_ej = {}
            for centre in self.centres:
                self._centres_by_ej.setdefault(centre.finess_ej, []).append(centre)
        return list(self._centres_by_ej.get(finess_ej, []))


# ------------------------------------------------------------------ numbers
class NumberAllocator:
    """Hands out unused FINESS numbers (valid key) and SIRETs (valid Luhn)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def finess(self, departement: str) -> str:
        prefix = FINESS_NUMBER_PREFIX.get(departement, departement)
        while True:
            body = prefix + "0" + "".join(self.rng.choice("0123456789") for _ in range(7 - len(prefix)))
            number = body + finess_check_digit(body)
            if number not in self.used:
                assert is_valid_finess(number), number
                self.used.add(number)
                return number

    def siren(self) -> str:
        return luhn_complete("".join(self.rng.choice("0123456789") for _ in range(8)))

    def siret(self, siren: str) -> str:
        return luhn_complete(siren + "".join(self.rng.choice("0123456789") for _ in range(4)))


def luhn_complete(digits: str) -> str:
    """`digits` + the digit that makes the whole pass the Luhn check (SIREN, SIRET)."""
    return digits + luhn_check_digit(digits)


# ------------------------------------------------------------------ builders
def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _phone(rng: random.Random, region: str | None) -> str:
    prefix = PHONE_PREFIX.get(region or "", "05")
    return prefix + "".join(rng.choice("0123456789") for _ in range(10 - len(prefix)))


class ReferentialBuilder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.numbers = NumberAllocator(rng)
        self.departements = load_departements()
        self.establishments: list[Establishment] = []
        self._names_used: dict[str, set[str]] = {}

    # ---- centres de santé
    def build_centres(self) -> None:
        for region, (count, weights) in CDS_REGIONS.items():
            made = 0
            while made < count:
                departement = self.rng.choices(list(weights), weights=list(weights.values()))[0]
                sites = 1
                if count > 50 and self.rng.random() < 0.10:
                    sites = min(count - made, self.rng.choice((2, 2, 3, 4)))
                made += len(self._gestionnaire(departement, sites))

    def centre_communes(self, departement: str) -> list[Commune]:
        """Where a centre de santé of `departement` may be (the national builder of datasets/national.py widens it)."""
        return communes_for_centres(departement)

    def _distinctive(self, departement: str, town: str) -> str:
        used = self._names_used.setdefault(departement, set())
        free = [name for name in DISTINCTIVE_NAMES if name not in used]
        name = self.rng.choice(free) if free else f"{self.rng.choice(DISTINCTIVE_NAMES)} {town}"
        while name in used:
            name = f"{name} {self.rng.choice(QUARTIERS)}"
        used.add(name)
        return name

    def _gestionnaire(self, departement: str, sites: int) -> list[Establishment]:
        rng = self.rng
        kind = rng.choices(
            ["municipal", "associatif", "mutualiste", "dentaire", "infirmier", "ophtalmologique"],
            weights=[25, 25, 20, 15, 10, 5],
        )[0]
        finess_ej = self.numbers.finess(departement)
        siren = self.numbers.siren()
        communes = self.centre_communes(departement)
        town = rng.choice(communes)
        centres = []
        for index in range(sites):
            commune = town if index == 0 or rng.random() < 0.6 else rng.choice(communes)
            used = self._names_used.setdefault(departement, set())
            if kind == "municipal" and index == 0 and commune.name not in used:
                distinctive = commune.name  # "CENTRE DE SANTE MUNICIPAL VILLEURBANNE"
                used.add(distinctive)
            else:
                distinctive = self._distinctive(departement, commune.name)
            rs, rslongue = _centre_names(kind, distinctive, antenne=index > 0)
            centre = self._establishment(
                departement, commune, self._cds_category(kind), finess_ej, siren, rs, rslongue,
            )
            centre.kind, centre.distinctive = kind, distinctive
            centres.append(centre)
        for antenne in centres[1:]:
            antenne.principal_et = centres[0].finess_et
            centres[0].antennes.append(antenne.finess_et)
        self.establishments.extend(centres)
        return centres

    def _cds_category(self, kind: str) -> Category:
        if self.rng.random() < 0.04:
            old = {"dentaire": "dentaire", "infirmier": "infirmier"}.get(kind, "medical")
            return OLD_CDS_CATEGORIES[old]
        return CDS_CATEGORY

    def _establishment(self, departement: str, commune: Commune, category: Category, finess_ej: str,
                       siren: str, rs: str, rslongue: str) -> Establishment:
        rng = self.rng
        dep = self.departements[departement]
        if category.code in ("125", "130", "289"):
            opened = _random_date(rng, dt.date(1975, 1, 1), dt.date(2013, 6, 30))
        else:
            opened = _random_date(rng, dt.date(1978, 1, 1), dt.date(2022, 10, 31))
        typvoie, voie = rng.choice(STREETS)
        return Establishment(
            finess_et=self.numbers.finess(departement),
            finess_ej=finess_ej,
            rs=rs,
            rslongue=rslongue,
            commune=commune,
            departement=dep,
            category=category,
            siret=self.numbers.siret(siren),
            telephone=_phone(rng, dep.region_code),
            telecopie=_phone(rng, dep.region_code) if rng.random() < 0.4 else "",
            dateouv=opened,
            dateautor=opened - dt.timedelta(days=rng.randrange(0, 200)),
            datemaj=_random_date(rng, max(opened, dt.date(2012, 1, 1)), dt.date(2022, 12, 20)),
            numvoie=str(rng.randrange(1, 180)) if rng.random() < 0.85 else "",
            typvoie=typvoie,
            voie=voie,
            lieuditbp=rng.choice(["", "", "", "", "BP 12", "CS 30001"]),
        )

    # ---- everything else
    def build_noise(self, count: int, departement_weights: dict[str, float] | None = None) -> None:
        """`count` other establishments; every département gets two, then uniformly at random
        (or by `departement_weights`: overseas territories only have 1,000 numbers each)."""
        rng = self.rng
        departements = list(self.departements)
        weights_by_dep = [departement_weights.get(d, 1.0) for d in departements] if departement_weights else None
        categories = [c for c, _, _ in NOISE_CATEGORIES]
        weights = [w for _, w, _ in NOISE_CATEGORIES]
        patterns = {c.code: p for c, _, p in NOISE_CATEGORIES}
        hospital_ejs: dict[str, tuple[str, str]] = {}
        for index in range(count):
            if index < 2 * len(departements):
                departement = departements[index % len(departements)]
            elif weights_by_dep:
                departement = rng.choices(departements, weights=weights_by_dep)[0]
            else:
                departement = rng.choice(departements)
            category = rng.choices(categories, weights=weights)[0]
            commune = rng.choice(communes_for_noise(departement))
            name = rng.choice(patterns[category.code]).format(
                town=commune.name, place=rng.choice(DISTINCTIVE_NAMES), street=rng.choice(STREETS)[1],
            )
            if category.code == "500" and departement in hospital_ejs and rng.random() < 0.3:
                finess_ej, siren = hospital_ejs[departement]  # the EHPAD of a hospital
            else:
                finess_ej, siren = self.numbers.finess(departement), self.numbers.siren()
            if category.code == "355":
                hospital_ejs[departement] = (finess_ej, siren)
            long_name = name if rng.random() < 0.5 else ""
            self.establishments.append(self._establishment(
                departement, commune, category, finess_ej, siren, name[:38].strip(), long_name,
            ))

    # ---- names a person would notice
    def decorate_names(self) -> None:
        """Accents, œ, ’, a `"` and a `;` in a few long names, as in the real extract."""
        rng = self.rng
        centres = [e for e in self.establishments if e.is_centre_de_sante and not e.principal_et and not e.antennes]
        picks = rng.sample(centres, 8)
        decorations = [
            lambda c: f"Centre de santé du Cœur de ville – {c.distinctive.title()}",
            lambda c: f"Centre de santé Mutualité Française {c.distinctive.title()}",
            lambda c: f"CENTRE DE SANTÉ DE L’ŒUVRE DE SECOURS AUX ENFANTS – {c.distinctive}",
            lambda c: f"CENTRE DE SANTE CŒUR DE VILLE {c.distinctive}",
            lambda c: f'CENTRE DE SANTE "{c.distinctive}"',
            lambda c: f"CENTRE DE SANTE {c.distinctive}; SITE PRINCIPAL",
            lambda c: f"Centre de santé l’Arbre de vie – {c.distinctive.title()}",
            lambda c: f"CENTRE DE SANTÉ MUNICIPAL {c.distinctive}",
        ]
        for centre, decorate in zip(picks, decorations):
            centre.rslongue = decorate(centre)
            centre.decorated = True
        # one short name with a `;` too, as the pipeline must quote-parse it
        picks[5].rs = f"CDS {picks[5].distinctive}; SITE PRINCIPAL"[:38]

    # ---- history between the three snapshots
    def apply_history(self) -> None:
        rng = self.rng
        plain = [
            e for e in self.establishments
            if e.is_centre_de_sante and not e.principal_et and not e.antennes and not e.decorated
            and e.category.code == "124"
        ]
        by_region: dict[str, list[Establishment]] = {}
        for centre in plain:
            by_region.setdefault(centre.region_code or "", []).append(centre)
        plan = [("84", "closed_2023"), ("11", "closed_2023"), ("93", "closed_2023"), ("01", "closed_2023"),
                ("84", "closed_2024"), ("11", "closed_2024"), ("93", "closed_2024"), ("04", "closed_2024"),
                ("84", "opened_2024"), ("11", "opened_2024"), ("93", "opened_2024"), ("94", "opened_2024"),
                ("11", "opened_2023")]
        for region, history in plan:
            centre = by_region[region].pop(rng.randrange(len(by_region[region])))
            centre.history = history
            if history == "closed_2023":
                centre.snapshots = ("S0",)
            elif history == "closed_2024":
                centre.snapshots = ("S0", "S1")
            elif history == "opened_2023":
                centre.snapshots = ("S1", "S2")
                centre.dateouv = _random_date(rng, dt.date(2023, 2, 1), dt.date(2023, 11, 30))
            else:
                centre.snapshots = ("S2",)
                centre.dateouv = _random_date(rng, dt.date(2024, 2, 1), dt.date(2024, 11, 30))
            if history.startswith("opened"):
                centre.dateautor = centre.dateouv - dt.timedelta(days=rng.randrange(20, 120))
                centre.datemaj = centre.dateouv + dt.timedelta(days=rng.randrange(1, 30))
        # a few other establishments open and close too
        noise = [e for e in self.establishments if not e.is_centre_de_sante]
        for establishment in rng.sample(noise, 30):
            establishment.snapshots = rng.choice([("S0",), ("S0", "S1"), ("S1", "S2"), ("S2",)])
            if establishment.snapshots[0] != "S0":
                year = 2023 if establishment.snapshots[0] == "S1" else 2024
                establishment.dateouv = _random_date(rng, dt.date(year, 2, 1), dt.date(year, 11, 30))
                establishment.dateautor = establishment.dateouv
                establishment.datemaj = establishment.dateouv + dt.timedelta(days=10)
        self.date_closures(random.Random(rng.getrandbits(64)))  # last draw: nothing drawn before moves

    def date_closures(self, rng: random.Random) -> None:
        """Give each establishment that leaves the snapshots its closing date, so that a
        FINESS+ file (closures by date) and the extracts (closures by absence) tell the same
        story: closed after the last snapshot holding it and within that snapshot's year,
        hence open during that year and no later one, by either rule."""
        dated = {s.label: s.extract_date for s in SNAPSHOTS}
        for establishment in self.establishments:
            last = establishment.snapshots[-1]
            if last == ALL_SNAPSHOTS[-1]:
                continue
            seen = dated[last]
            establishment.datefermeture = _random_date(rng, seen + dt.timedelta(days=1), dt.date(seen.year, 12, 31))


def _centre_names(kind: str, distinctive: str, antenne: bool) -> tuple[str, str]:
    """(rs, rslongue) as the ARS writes them."""
    suffix = " - ANTENNE" if antenne else ""
    short, long = {
        "municipal": ("CDS MUNICIPAL", "CENTRE DE SANTE MUNICIPAL"),
        "associatif": ("CDS", "CENTRE DE SANTE ASSOCIATIF"),
        "mutualiste": ("CDS MUTUALISTE", "CENTRE DE SANTE MUTUALISTE"),
        "dentaire": ("C.D.S. DENTAIRE", "CENTRE DE SANTE DENTAIRE"),
        "infirmier": ("CSI", "CENTRE DE SANTE INFIRMIER"),
        "ophtalmologique": ("CDS OPHTALMO", "CENTRE DE SANTE OPHTALMOLOGIQUE"),
    }[kind]
    return f"{short} {distinctive}{suffix}"[:38].strip(), f"{long} {distinctive}{suffix}"


def build_referential(seed: int) -> Referential:
    """The whole sample referential for a seed (same seed, same establishments)."""
    builder = ReferentialBuilder(random.Random(f"referential-{seed}"))
    builder.build_centres()
    centres = len(builder.establishments)
    builder.build_noise(4 * centres)
    builder.decorate_names()
    builder.apply_history()
    return Referential(builder.establishments)
