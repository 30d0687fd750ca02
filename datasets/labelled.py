"""A labelled set of damaged and name-only submissions, to measure the FINESS reconciliation.

`labelled_reconciliation_set(seed, n)` gives three frames:

- `history`: the sample referential (the generator's centres de santé of six regions,
  Corsica and overseas included, principal centres and antennes sharing an EJ, four
  times as many other establishments), plus a few adversarial centres added on purpose
  (near-identical names in one commune), in the shape of
  `transforms.referential.establishment_history` — it is produced by writing the three
  dated extracts with the generator's writer and reading them back through the
  pipeline's own reader and normalisation;
- `submissions`: `submission_key, finess_et, raison_sociale, commune_insee, code_postal`
  (all text), as centres type them;
- `truth`: `submission_key, true_finess_et` (null when the right answer is "no centre"),
  `case` (family:variant) and `expected_outcome`:
    * `automatic`: the only acceptable outcome is an automatic match on `true_finess_et`;
    * `review`: an analyst must decide (an automatic match on `true_finess_et` is tolerated
      for typos only — see `TOLERATES_RIGHT_AUTOMATIC`); never unmatched;
    * `unmatched_ok`: no automatic match; unmatched or review both fine.

The truth comes from how each case is built, never from running the reconciliation.

Choices made (see benchmarks/RECONCILIATION.md):
- Every damage of finess.md is built on real referential ETs: lost leading zero (only
  numbers starting with 0), float `.0`, scientific `1.0000024E7` (several spellings),
  spaces (normal or non-breaking), dots, lower-case `2a`/`2b` (normalisation: `exact`).
- Name variations are the ones seen in real submissions: case, accents added or dropped
  (œ written `oe`), `CDS`/`C.D.S.`/`Centre de santé`/`Centre municipal de santé`/`CMS`,
  `Centre de soins infirmiers`/`CSI`, stop-words added or dropped, the long name
  (`rslongue`), the kind of centre left out, the town appended, `St` written `Saint`,
  the postal code given instead of the INSEE code. All of them name one centre of the
  commune without doubt, so they are labelled `automatic`.
- A one-letter typo in the distinctive part is labelled `review`: alone, it cannot be told
  apart from another name, and an analyst's decision is stored for the next runs.
- Adversarial: two centres "<name> NORD"/"<name> SUD" in one commune (the bare name is
  `review`, the full one `automatic`), a municipal centre and its dental twin under one EJ
  ("… dentaire …" is `automatic`; the medical centre's exact name is `review`, since the
  dental one leaving out "dentaire" would write the same), a centre's
  name with another commune of the département (`review`), the name of a non-CDS
  establishment (some sharing the distinctive name of a centre of their commune), a new
  centre absent from FINESS, a valid-key number of nobody, a wrong-key number.
"""
from __future__ import annotations

import random
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from observatoire.readers.finess_extract import read_finess_extract
from observatoire.readers.reference_data import departement_regions
from observatoire.sample.extract_writer import write_extracts
from observatoire.sample.geography import communes_for_centres
from observatoire.sample.referential import (
    CDS_CATEGORY,
    DISTINCTIVE_NAMES,
    SNAPSHOTS,
    Category,
    Establishment,
    Referential,
    ReferentialBuilder,
    _centre_names,
)
from transforms.finess_key import finess_check_digit, is_valid_finess
from transforms.referential import establishment_history, normalise_establishments

SUBMISSION_COLUMNS = ["submission_key", "finess_et", "raison_sociale", "commune_insee", "code_postal"]
TRUTH_COLUMNS = ["submission_key", "true_finess_et", "case", "expected_outcome"]
# Cases where an automatic match on the true centre is as good as review.
TOLERATES_RIGHT_AUTOMATIC = ("name:typo",)

# Names of centres that do not exist in the referential (new centres, not yet in FINESS).
NEW_CENTRE_NAMES = ["PABLO NERUDA", "LEO LAGRANGE", "MARCEL CACHIN", "LES AUBEPINES", "NELSON", "LA MAISON BLEUE",
                    "PIERRE SEMARD", "LES CAPUCINES", "DOCTEUR SCHWEITZER", "LE GRAND CHENE"]

_ACCENTS = {
    "SANTE": "Santé", "JAURES": "Jaurès", "FRANCOISE": "Françoise", "GISELE": "Gisèle", "AIME": "Aimé",
    "CESAIRE": "Césaire", "HERES": "Hères", "ECHIROLLES": "Échirolles", "CRETEIL": "Créteil", "GENETS": "Genêts",
    "CHENES": "Chênes", "SOLIDARITE": "Solidarité", "ESTEREL": "Estérel", "PRE": "Pré", "JOSEPHINE": "Joséphine",
    "RENE": "René", "PERI": "Péri", "CEDRES": "Cèdres", "MONTELIMAR": "Montélimar", "ISERE": "Isère",
    "VENISSIEUX": "Vénissieux", "CHAMBERY": "Chambéry", "FREJUS": "Fréjus", "HYERES": "Hyères",
    "SARTENE": "Sartène", "PHARE": "Phare", "MUTUALISTE": "Mutualiste", "ELUARD": "Éluard", "DOLTO": "Dolto",
    "MEAUX": "Meaux", "EVRY": "Évry", "ETAMPES": "Étampes", "CLERMONT": "Clermont", "ROMAIN": "Romain",
    "GENERAL": "Général", "CHERI": "Chéri", "BRIANCON": "Briançon", "MANOSQUE": "Manosque",
}
_KIND_WORD = {"municipal": "municipal", "associatif": "", "mutualiste": "mutualiste", "dentaire": "dentaire",
              "infirmier": "infirmier", "ophtalmologique": "ophtalmologique"}
_CDS_SPELLINGS = ("Centre de santé", "Centre de Santé", "CENTRE DE SANTE", "CDS", "C.D.S.", "Centre de sante",
                  "centre de santé")

# name-only variations labelled `automatic`, with their weight in the set
_NAME_VARIANTS = {
    "verbatim_rs": 2.0, "rslongue": 3.0, "cds_form": 4.0, "accents": 2.0, "stop_words": 2.0,
    "municipal_forms": 3.0, "infirmier_forms": 3.0, "kind_omitted": 1.5, "commune_appended": 1.5,
    "saint_expanded": 1.0, "postal_code_only": 1.5, "antenne": 1.0,
}


@dataclass
class _Case:
    finess_et: str | None
    raison_sociale: str | None
    commune_insee: str | None
    code_postal: str | None
    true_finess_et: str | None
    case: str
    expected_outcome: str


# ------------------------------------------------------------------ referential
def _build_referential(seed: int) -> tuple[Referential, dict[str, list[Establishment]]]:
    """`build_referential(seed)` (same steps, same random stream) plus adversarial centres,
    added afterwards so the base establishments are exactly the generator's."""
    builder = ReferentialBuilder(random.Random(f"referential-{seed}"))
    builder.build_centres()
    builder.build_noise(4 * len(builder.establishments))
    builder.decorate_names()
    builder.apply_history()
    extras = _add_adversarial(builder, random.Random(f"labelled-referential-{seed}"))
    return Referential(builder.establishments), extras


def _add_adversarial(builder: ReferentialBuilder, rng: random.Random) -> dict[str, list[Establishment]]:
    extras: dict[str, list[Establishment]] = {"quarter_twins": [], "dental_twins": [], "non_cds_lookalikes": []}

    def free_name(departement: str) -> str:
        used = builder._names_used.setdefault(departement, set())
        name = rng.choice([n for n in DISTINCTIVE_NAMES if n not in used])
        used.add(name)
        return name

    def centre(departement, commune, ej, siren, kind, distinctive, rs, rslongue, category=CDS_CATEGORY):
        made = builder._establishment(departement, commune, category, ej, siren, rs, rslongue)
        made.kind, made.distinctive = kind, distinctive
        builder.establishments.append(made)
        return made

    # Two centres "<name> NORD" and "<name> SUD" of two associations in one commune.
    for departement in ("69", "93", "13"):
        commune = rng.choice(communes_for_centres(departement))
        name = free_name(departement)
        pair = []
        for quarter in ("NORD", "SUD"):
            distinctive = f"{name} {quarter}"
            rs, rslongue = _centre_names("associatif", distinctive, antenne=False)
            pair.append(centre(departement, commune, builder.numbers.finess(departement), builder.numbers.siren(),
                               "associatif", distinctive, rs, rslongue))
        extras["quarter_twins"].append(pair)
    # A town running a medical and a dental centre under one EJ, same name otherwise.
    for departement in ("92", "94", "38"):
        commune = rng.choice(communes_for_centres(departement))
        name = free_name(departement)
        ej, siren = builder.numbers.finess(departement), builder.numbers.siren()
        medical = centre(departement, commune, ej, siren, "municipal", name, f"CDS MUNICIPAL {name}"[:38],
                         f"CENTRE DE SANTE MUNICIPAL {name}")
        dental = centre(departement, commune, ej, siren, "municipal_dentaire", name,
                        f"CDS MUNICIPAL DENTAIRE {name}"[:38], f"CENTRE DE SANTE MUNICIPAL DENTAIRE {name}")
        extras["dental_twins"].append([medical, dental])
    # Non-CDS establishments named like a centre de santé of their commune.
    msp = Category("603", "Maison de santé (L.6223-3)", "2204", "Etablissements de soins ambulatoires", "8621Z",
                   "99", "Indéterminé")
    pmi = Category("223", "Protection Maternelle et Infantile (P.M.I.)", "2202",
                   "Etablissements de PMI et de Planification Familiale", "", "01", "Etablissement Tarif Libre")
    plain = [e for e in builder.establishments if e.is_centre_de_sante and e.kind == "associatif" and not e.decorated
             and not e.principal_et]
    for index, model in enumerate(rng.sample(plain, 6)):
        category, pattern = (msp, "MAISON DE SANTE {}") if index % 2 == 0 else (pmi, "CENTRE DE PMI {}")
        name = pattern.format(model.distinctive)
        lookalike = builder._establishment(model.departement.code, model.commune, category,
                                           builder.numbers.finess(model.departement.code), builder.numbers.siren(),
                                           name[:38], name)
        builder.establishments.append(lookalike)
        extras["non_cds_lookalikes"].append(lookalike)
    return extras


def _history(referential: Referential, seed: int) -> pl.DataFrame:
    regions = departement_regions()
    with tempfile.TemporaryDirectory(prefix="labelled-finess-") as folder:
        paths = write_extracts(referential, SNAPSHOTS, Path(folder), seed)
        snapshots = []
        for path in paths:
            extract = read_finess_extract(path)
            snapshots.append((extract.extract_date, normalise_establishments(extract.establishments, regions)))
    return establishment_history(snapshots)


# ------------------------------------------------------------------ how people type
def strip_accents(text: str) -> str:
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _title(words: str) -> str:
    return " ".join(w.capitalize() if w.isupper() or w.islower() else w for w in words.split(" "))


def _accented(words: str) -> str:
    return " ".join(_ACCENTS.get(w, w.capitalize()) for w in words.split(" "))


def _case_style(text: str, rng: random.Random) -> str:
    return rng.choice([text, text.upper(), _title(text.lower()), text.lower()])


def _prefix(kind: str, rng: random.Random) -> str:
    """`Centre de santé` + kind word, in one of the usual spellings."""
    spelling = rng.choice(_CDS_SPELLINGS)
    word = _KIND_WORD[kind]
    if kind == "associatif" and rng.random() < 0.3:
        word = "associatif"
    if spelling.isupper():
        word = word.upper()
    return f"{spelling} {word}".strip()


def _antenne_suffix(centre: Establishment, rng: random.Random) -> str:
    return rng.choice([" - Antenne", " (antenne)", " antenne", " - ANTENNE"]) if centre.principal_et else ""


def _typed_name(centre: Establishment, variant: str, rng: random.Random) -> str:
    d = centre.distinctive
    suffix = _antenne_suffix(centre, rng)
    if variant == "verbatim_rs":
        return _case_style(centre.rs, rng)
    if variant == "rslongue":
        return _case_style(centre.rslongue, rng)
    if variant in ("cds_form", "postal_code_only", "antenne"):
        return f"{_prefix(centre.kind, rng)} {rng.choice([d, _title(d)])}{suffix}"
    if variant == "accents":
        return f"{_accented('CENTRE DE SANTE')} {_KIND_WORD[centre.kind]} {_accented(d)}{suffix}".replace("  ", " ")
    if variant == "stop_words":
        words = d.split(" ")
        if words[0] in ("LES", "LA", "LE", "DU", "DES", "DE") and len(words) > 1:
            words = words[1:]  # "CDS Glycines"
        else:
            words = ["de"] + words  # "Centre de santé de Vénissieux", "… de Marie Curie"
        return f"{_prefix(centre.kind, rng)} {_title(' '.join(words))}{suffix}"
    if variant == "municipal_forms":
        return f"{rng.choice(['Centre municipal de santé', 'CENTRE MUNICIPAL DE SANTE', 'CMS'])} {_title(d)}{suffix}"
    if variant == "infirmier_forms":
        return f"{rng.choice(['Centre de soins infirmiers', 'CSI', 'Centre de santé infirmier'])} {_title(d)}{suffix}"
    if variant == "kind_omitted":
        return f"{rng.choice(['Centre de santé', 'CDS', 'CENTRE DE SANTE'])} {_title(d)}{suffix}"
    if variant == "commune_appended":
        town = _title(centre.commune.name)
        return f"{_prefix(centre.kind, rng)} {_title(d)}{suffix}{rng.choice([' - ', ' ', ', '])}{town}"
    if variant == "saint_expanded":
        words = ["Saint" if w == "ST" else _title(w) for w in d.split(" ")]
        return f"{_prefix(centre.kind, rng)} {rng.choice([' ', '-']).join(words)}{suffix}"
    if variant == "accents_dropped":
        return strip_accents(centre.rslongue)
    raise ValueError(variant)


def _variant_applies(centre: Establishment, variant: str) -> bool:
    if variant == "municipal_forms":
        return centre.kind == "municipal"
    if variant == "infirmier_forms":
        return centre.kind == "infirmier"
    if variant == "kind_omitted":
        return centre.kind not in ("associatif",)
    if variant == "commune_appended":
        return centre.commune.name not in centre.distinctive
    if variant == "saint_expanded":
        return "ST" in centre.distinctive.split(" ")
    if variant == "antenne":
        return centre.principal_et is not None
    if variant == "rslongue":
        return bool(centre.rslongue)
    return True


def _typo(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word) - 2)
    operation = rng.choice(["drop", "swap", "double"])
    if operation == "drop":
        return word[:position] + word[position + 1:]
    if operation == "swap":
        return word[:position] + word[position + 1] + word[position] + word[position + 2:]
    return word[:position] + word[position] + word[position:]


# ------------------------------------------------------------------ numbers as damaged
def _lost_zero(number: str) -> str:
    return number[1:]


def _as_float(number: str) -> str:
    return str(int(number)) + ".0"


def _scientific(number: str, rng: random.Random) -> str:
    digits = str(int(number))
    mantissa = digits[0] + "." + (digits[1:].rstrip("0") or "0")
    exponent = len(digits) - 1
    return rng.choice([f"{mantissa}E{exponent}", f"{mantissa}E+{exponent:02d}",
                       f"{mantissa.replace('.', ',')}E+{exponent:02d}"])


def _spaced(number: str, rng: random.Random, mark: str) -> str:
    groups = rng.choice([(2, 3, 3, 1), (3, 3, 3), (2, 7)] if mark != "." else [(2, 3, 3, 1), (3, 3, 3)])
    parts, start = [], 0
    for size in groups:
        parts.append(number[start:start + size])
        start += size
    return mark.join(parts)


def _wrong_key(number: str) -> str:
    key = int(number[-1])
    return number[:-1] + str((key + 3) % 10)


# ------------------------------------------------------------------ the set
class _SetBuilder:
    def __init__(self, referential: Referential, extras: dict[str, list], rng: random.Random) -> None:
        self.referential = referential
        self.rng = rng
        self.cases: list[_Case] = []
        adversarial = {e.finess_et for pair in extras["quarter_twins"] + extras["dental_twins"] for e in pair}
        self.extras = extras
        self.centres = sorted((c for c in referential.centres if c.finess_et not in adversarial),
                              key=lambda c: c.finess_et)

    def add(self, centre: Establishment | None, case: str, expected: str, *, finess_et: str | None = None,
            name: str | None = None, insee: str | None = None, postal: str | None = None,
            truth: str | None = None) -> None:
        self.cases.append(_Case(finess_et, name, insee, postal, truth, case, expected))

    def pick(self, count: int, condition=lambda c: True) -> list[Establishment]:
        pool = [c for c in self.centres if condition(c)]
        return self.rng.sample(pool, min(count, len(pool)))

    def typed_as_submitted(self, centre: Establishment) -> str:
        """The name a numbered submission carries anyway (the workbook's raison sociale)."""
        return self.rng.choice([centre.rslongue or centre.rs, centre.rs])

    def with_number(self, centre: Establishment, case: str, expected: str, declared: str,
                    truth: str | None) -> None:
        self.add(centre, case, expected, finess_et=declared, name=self.typed_as_submitted(centre),
                 insee=centre.commune.insee, postal=centre.commune.postal_code, truth=truth)

    # ---- numbers
    def number_damage(self, n: int) -> None:
        rng = self.rng
        share = max(4, n // 40)
        zero = lambda c: c.finess_et.startswith("0")  # noqa: E731
        numeric = lambda c: c.finess_et[:2] not in ("2A", "2B")  # noqa: E731
        corsica = lambda c: c.finess_et[:2] in ("2A", "2B")  # noqa: E731
        overseas = lambda c: c.finess_et.startswith("97")  # noqa: E731
        for centre in self.pick(share // 2, corsica) + self.pick(share // 2, overseas) + self.pick(share):
            declared = rng.choice([centre.finess_et, f" {centre.finess_et} "])
            self.with_number(centre, "number:exact", "automatic", declared, centre.finess_et)
        for centre in self.pick(share + 4, zero):
            self.with_number(centre, "number:lost_leading_zero", "automatic", _lost_zero(centre.finess_et),
                             centre.finess_et)
        for centre in self.pick(share + 2, numeric):
            self.with_number(centre, "number:float", "automatic", _as_float(centre.finess_et), centre.finess_et)
        for centre in self.pick(share // 2, zero) + self.pick(share // 2 + 2, numeric):
            self.with_number(centre, "number:scientific", "automatic", _scientific(centre.finess_et, rng),
                             centre.finess_et)
        for centre in self.pick(share + 2):
            mark = rng.choice([" ", " ", "\u00a0"])
            self.with_number(centre, "number:spaces", "automatic", _spaced(centre.finess_et, rng, mark),
                             centre.finess_et)
        for centre in self.pick(share):
            self.with_number(centre, "number:dots", "automatic", _spaced(centre.finess_et, rng, "."), centre.finess_et)
        for centre in self.pick(share, corsica):
            self.with_number(centre, "number:lower_case_corsica", "automatic", centre.finess_et.lower(),
                             centre.finess_et)

    def ej_given(self, n: int) -> None:
        share = max(4, n // 40)
        single = lambda c: len(self.referential.centres_of_ej(c.finess_ej)) == 1  # noqa: E731
        several = lambda c: len(self.referential.centres_of_ej(c.finess_ej)) > 1  # noqa: E731
        for centre in self.pick(share + 4, single):
            self.with_number(centre, "ej:single_centre", "automatic", centre.finess_ej, centre.finess_et)
        for centre in self.pick(share // 2, lambda c: single(c) and c.finess_ej.startswith("0")):
            self.with_number(centre, "ej:single_centre_lost_zero", "automatic", _lost_zero(centre.finess_ej),
                             centre.finess_et)
        seen: set[str] = set()
        for centre in self.pick(4 * share, several):
            if centre.finess_ej in seen or len(seen) >= share + 2:
                continue
            seen.add(centre.finess_ej)
            self.with_number(centre, "ej:several_centres", "review", centre.finess_ej, centre.finess_et)

    def adversarial_numbers(self, n: int) -> None:
        share = max(3, n // 70)
        used = {number for e in self.referential.establishments for number in (e.finess_et, e.finess_ej)}
        for index, centre in enumerate(self.pick(share)):
            # valid key, nobody's number, with the name of a centre that is not in FINESS
            body = centre.finess_et[:3] + "9" + f"{index:04d}"
            number = body + finess_check_digit(body)
            assert is_valid_finess(number) and number not in used
            new_name = f"Centre de santé {_title(NEW_CENTRE_NAMES[index % len(NEW_CENTRE_NAMES)])}"
            self.add(None, "adversarial:valid_key_nobody", "unmatched_ok", finess_et=number, name=new_name,
                     insee=centre.commune.insee, postal=centre.commune.postal_code, truth=None)
        for centre in self.pick(share):
            # one digit wrong (key fails), nothing else to go on
            self.add(centre, "adversarial:wrong_key_no_name", "unmatched_ok", finess_et=_wrong_key(centre.finess_et),
                     truth=centre.finess_et)
        for centre in self.pick(share, lambda c: not c.decorated):
            # one digit wrong, but the name and the commune are right: name_match
            self.add(centre, "adversarial:wrong_key_with_name", "automatic", finess_et=_wrong_key(centre.finess_et),
                     name=_typed_name(centre, "cds_form", self.rng), insee=centre.commune.insee,
                     postal=centre.commune.postal_code, truth=centre.finess_et)

    # ---- names
    def name_only(self, count: int) -> None:
        rng = self.rng
        centres = self.pick(count, lambda c: not c.decorated)
        for centre in centres:
            variants = [v for v in _NAME_VARIANTS if _variant_applies(centre, v)]
            variant = rng.choices(variants, weights=[_NAME_VARIANTS[v] for v in variants])[0]
            name = _typed_name(centre, variant, rng)
            insee = None if variant == "postal_code_only" else centre.commune.insee
            postal = centre.commune.postal_code if variant == "postal_code_only" or rng.random() < 0.7 else None
            self.add(centre, f"name:{variant}", "automatic", name=name, insee=insee, postal=postal,
                     truth=centre.finess_et)
        for centre in [c for c in self.centres if c.decorated]:
            self.add(centre, "name:accents_dropped", "automatic", name=_typed_name(centre, "accents_dropped", rng),
                     insee=centre.commune.insee, postal=centre.commune.postal_code, truth=centre.finess_et)

    def typos(self, count: int) -> None:
        rng = self.rng
        eligible = lambda c: not c.decorated and any(len(w) >= 6 for w in c.distinctive.split(" "))  # noqa: E731
        for centre in self.pick(count, eligible):
            words = centre.distinctive.split(" ")
            longest = max(range(len(words)), key=lambda i: len(words[i]))
            words[longest] = _typo(words[longest], rng)
            name = f"{_prefix(centre.kind, rng)} {_title(' '.join(words))}{_antenne_suffix(centre, rng)}"
            self.add(centre, "name:typo", "review", name=name, insee=centre.commune.insee,
                     postal=centre.commune.postal_code, truth=centre.finess_et)

    def adversarial_names(self, count: int) -> None:
        rng = self.rng
        for north, south in self.extras["quarter_twins"]:
            base = north.distinctive.removesuffix(" NORD")
            for twin in (north, south):
                quarter = twin.distinctive.rsplit(" ", 1)[1]
                self.add(twin, "adversarial:twin_named_fully", "automatic",
                         name=f"{_prefix('associatif', rng)} {_title(base)} {_title(quarter)}",
                         insee=twin.commune.insee, postal=twin.commune.postal_code, truth=twin.finess_et)
            # the quarter left out: either centre could have sent it
            self.add(north, "adversarial:twin_ambiguous", "review", name=f"Centre de santé {_title(base)}",
                     insee=north.commune.insee, postal=north.commune.postal_code, truth=north.finess_et)
        for medical, dental in self.extras["dental_twins"]:
            self.add(dental, "adversarial:dental_twin", "automatic",
                     name=f"Centre de santé dentaire municipal {_title(dental.distinctive)}",
                     insee=dental.commune.insee, postal=dental.commune.postal_code, truth=dental.finess_et)
            # exactly the medical centre's name, but the dental one omitting "dentaire" (a usual
            # variation, see `kind_omitted`) would write the same: an analyst decides
            self.add(medical, "adversarial:municipal_twin_unspecified", "review",
                     name=f"CDS municipal {_title(medical.distinctive)}",
                     insee=medical.commune.insee, postal=medical.commune.postal_code, truth=medical.finess_et)
        # a centre's name with another commune of its département (the gestionnaire's seat)
        def elsewhere(centre: Establishment) -> list:
            return [m for m in communes_for_centres(centre.departement.code) if m.name != centre.commune.name]

        for centre in self.pick(count, lambda c: not c.decorated and elsewhere(c)):
            other = rng.choice(elsewhere(centre))
            self.add(centre, "adversarial:other_commune", "review", name=_typed_name(centre, "cds_form", rng),
                     insee=other.insee, postal=other.postal_code, truth=centre.finess_et)
        # not a centre de santé: the establishment's own name, in its commune
        lookalikes = self.extras["non_cds_lookalikes"]
        others = [e for e in self.referential.establishments if not e.is_centre_de_sante
                  and e.category.code in ("603", "223", "500", "604") and e not in lookalikes
                  and e.departement.region_code in ("84", "11", "93", "94", "01", "04")]
        for establishment in lookalikes + rng.sample(others, count):
            self.add(None, "adversarial:not_a_centre", "unmatched_ok",
                     name=_case_style(establishment.rslongue or establishment.rs, rng),
                     insee=establishment.commune.insee, postal=establishment.commune.postal_code, truth=None)
        # a new centre, not yet in FINESS
        for index, centre in enumerate(self.pick(count // 2 + 1)):
            self.add(None, "adversarial:new_centre", "unmatched_ok",
                     name=f"Centre de santé {_title(NEW_CENTRE_NAMES[(index + 5) % len(NEW_CENTRE_NAMES)])}",
                     insee=centre.commune.insee, postal=centre.commune.postal_code, truth=None)


def labelled_reconciliation_set(seed: int = 2025, n: int = 400) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(history, submissions, truth) for `seed`; about `n` submissions (at least 300), more
    than half of them without any number."""
    n = max(n, 300)
    referential, extras = _build_referential(seed)
    history = _history(referential, seed)
    builder = _SetBuilder(referential, extras, random.Random(f"labelled-{seed}"))
    builder.number_damage(n)
    builder.ej_given(n)
    builder.adversarial_numbers(n)
    builder.adversarial_names(max(4, n // 60))
    builder.typos(max(4, n // 50))
    builder.name_only(n - len(builder.cases) - 8)  # + the decorated centres
    cases = builder.cases
    keys = [f"L{index:04d}" for index in range(1, len(cases) + 1)]
    submissions = pl.DataFrame(
        {"submission_key": keys, "finess_et": [c.finess_et for c in cases],
         "raison_sociale": [c.raison_sociale for c in cases], "commune_insee": [c.commune_insee for c in cases],
         "code_postal": [c.code_postal for c in cases]},
        schema={name: pl.String for name in SUBMISSION_COLUMNS},
    )
    truth = pl.DataFrame(
        {"submission_key": keys, "true_finess_et": [c.true_finess_et for c in cases], "case": [c.case for c in cases],
         "expected_outcome": [c.expected_outcome for c in cases]},
        schema={name: pl.String for name in TRUTH_COLUMNS},
    )
    return history, submissions, truth


# ------------------------------------------------------------------ scoring
# What the benchmark and the quality test both count: the methods that resolve a
# submission without an analyst, and each submission against its label.
AUTOMATIC_METHODS = ("decision", "exact", "repaired", "ej_to_et", "name_match")


def intended_method(case: str) -> str | None:
    """The method meant to resolve a case automatically (None: no automatic match meant)."""
    if case in ("number:exact", "number:lower_case_corsica"):
        return "exact"
    if case.startswith("number:"):
        return "repaired"
    if case.startswith("ej:single_centre"):
        return "ej_to_et"
    if case == "name:typo":
        return None  # review is the expected outcome, an automatic match a bonus
    if case.startswith("name:") or case in ("adversarial:twin_named_fully", "adversarial:dental_twin",
                                            "adversarial:wrong_key_with_name"):
        return "name_match"
    return None


def evaluate(submissions: pl.DataFrame, truth: pl.DataFrame, resolved: pl.DataFrame) -> pl.DataFrame:
    """One row per submission: what was declared, what the truth is, what came out."""
    automatic = pl.col("reconciliation_method").is_in(AUTOMATIC_METHODS)
    return (
        submissions.join(truth, on="submission_key")
        .join(resolved.select("submission_key", pl.col("finess_et").alias("matched_et"), "reconciliation_method",
                              "reconciliation_score", "candidates"), on="submission_key")
        .with_columns(
            pl.col("finess_et").is_null().alias("name_only"),
            pl.col("true_finess_et").is_not_null().alias("truth_is_centre"),
            pl.col("case").map_elements(intended_method, return_dtype=pl.String).alias("intended_method"),
            pl.when(automatic).then(pl.lit("automatic")).otherwise(pl.col("reconciliation_method")).alias("outcome"),
            (automatic & (pl.col("matched_et") == pl.col("true_finess_et")).fill_null(False)).alias("right"),
        )
        .with_columns((pl.col("outcome") == "automatic").and_(~pl.col("right")).alias("wrong"))
        .with_columns(
            pl.when(pl.col("expected_outcome") == "automatic").then(pl.col("right"))
            .when(pl.col("expected_outcome") == "review").then(
                (pl.col("outcome") == "review") | (pl.col("right") & pl.col("case").is_in(TOLERATES_RIGHT_AUTOMATIC)))
            .otherwise(pl.col("outcome") != "automatic").alias("as_expected")
        )
        .sort("submission_key")
    )
