"""Which centres of the sample changed something without telling the ARS, or declare
something FINESS does not say, and what must the pipeline find (campaign-rules.md, "What
centres report (changes)")?

A centre's identity (type de centre, type de gestionnaire) is the same in each exercise
unless a case changes it: the campaigns draw them per year, so a centre's later reports
take its previous report's. Then, with its own seeded generator (the campaigns' draws are
left as they were), a few plain centres get one deliberate case each — a move, a new
gestionnaire, a new name, a new type, a mistyped postal code, an antenne FINESS does not
know or lists as closed, a name FINESS was never told of — and the expected changes are
written from those cases and from the antennes each centre declared, never from the
pipeline. Nothing here writes a file.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from observatoire.sample.campaign import Campaign, Submission
from observatoire.sample.expected import antennes_declared, mark_current_versions
from observatoire.sample.geography import CDS_COMMUNES, commune_without_centre
from observatoire.sample.referential import DISTINCTIVE_NAMES, SNAPSHOTS, Establishment, NumberAllocator, Referential
from observatoire.sample.template import TYPES_CENTRE, TYPES_GESTIONNAIRE

CHANGE_COLUMNS = ["campaign_year", "region_code", "finess_et", "kind", "source", "field", "previous_value",
                  "new_value", "case"]
CASE_LABELS = {
    "change_moved": "changement : déménagement non signalé (autre commune déclarée)",
    "change_gestionnaire": "changement : nouveau gestionnaire (EJ inconnu de FINESS, autre type)",
    "change_renamed": "changement : nouvelle raison sociale",
    "change_type_centre": "changement : autre type de centre",
    "change_postal_code": "changement : autre code postal, même commune",
    "change_unknown_antenne": "changement : antenne déclarée inconnue de FINESS",
    "change_closed_antenne": "changement : antenne déclarée fermée dans FINESS",
    "change_name_not_in_finess": "écart FINESS : nom jamais signalé, déclaré les deux années",
}


@dataclass(frozen=True)
class ExpectedChange:
    year: int
    region_code: str
    finess_et: str
    kind: str
    source: str
    field: str
    previous_value: str | None
    new_value: str | None
    case: str

    def row(self) -> list[object]:
        return [self.year, self.region_code, self.finess_et, self.kind, self.source, self.field,
                self.previous_value, self.new_value, self.case]


def plan_changes(campaigns: dict[int, Campaign], referential: Referential, seed: int) -> dict[int, list[ExpectedChange]]:
    """Apply the change cases to the planned `campaigns` (before their files are written)
    and return, per year, the changes the pipeline must find."""
    for campaign in campaigns.values():
        mark_current_versions(campaign)
    years = sorted(campaigns)
    for year in years[1:]:
        if year - 1 in campaigns:
            _carry_identity(campaigns[year - 1], campaigns[year])
    rng = random.Random(f"changes-{seed}")
    used: set[str] = set()
    deliberate: dict[int, list[ExpectedChange]] = {year: [] for year in years}
    for year in years[1:]:
        if year - 1 in campaigns:
            planner = _ChangePlanner(year, campaigns[year - 1], campaigns[year], referential, rng, used)
            deliberate[year] += planner.plan()
            deliberate[year - 1] += planner.name_not_in_finess(deliberate[year])
    return {year: _expected(year, campaigns, referential, deliberate[year]) for year in years}


def _current_by_et(campaign: Campaign) -> dict[str, Submission]:
    return {s.resolved_et: s for s in campaign.submissions if s.is_current and s.resolved_et}


def _valid_of(campaign: Campaign, et: str) -> list[Submission]:
    return [s for s in campaign.submissions if s.resolved_et == et and s.is_valid]


def _carry_identity(previous: Campaign, campaign: Campaign) -> None:
    """A centre reports the type de centre and de gestionnaire of its previous report."""
    before = _current_by_et(previous)
    for et, held in before.items():
        for submission in _valid_of(campaign, et):
            for name in ("type_centre", "type_gestionnaire"):
                if name in held.fields and name in submission.fields:
                    submission.fields[name] = held.fields[name]


class _ChangePlanner:
    def __init__(self, year: int, previous: Campaign, campaign: Campaign, referential: Referential,
                 rng: random.Random, used: set[str]) -> None:
        self.year, self.previous, self.campaign = year, previous, campaign
        self.referential, self.rng, self.used = referential, rng, used
        self.numbers = NumberAllocator(rng)
        self.numbers.used.update(e.finess_et for e in referential.establishments)
        self.numbers.used.update(e.finess_ej for e in referential.establishments)
        # nor a number a campaign already made up (its unknown centres)
        self.numbers.used.update(str(s.fields.get(name)) for c in (previous, campaign) for s in c.submissions
                                 for name in ("finess_et", "finess_ej") if s.fields.get(name))
        before = _current_by_et(previous)
        now = _current_by_et(campaign)
        # plain centres: one ordinary report each year, no antennes either side
        self.candidates = sorted(
            (et for et, s in now.items()
             if s.case == "exact" and et in before and before[et].case == "exact"
             and len(_valid_of(campaign, et)) == 1 and len(_valid_of(previous, et)) == 1
             and not antennes_declared(s) and not antennes_declared(before[et])
             and _plain(referential.by_et[et])),
        )
        self.before, self.now = before, now

    def _take(self, region: str | None = None) -> tuple[Establishment, Submission, Submission]:
        pool = [et for et in self.candidates if et not in self.used
                and (region is None or self.referential.by_et[et].region_code == region)]
        et = self.rng.choice(pool)
        self.used.add(et)
        return self.referential.by_et[et], self.before[et], self.now[et]

    def plan(self) -> list[ExpectedChange]:
        found: list[ExpectedChange] = []
        year = self.year
        # a centre that moved to another commune of its département and told no one
        centre, before, now = self._take("84")
        commune = commune_without_centre(centre.departement.code)
        now.fields.update(commune_insee=commune.insee, code_postal=commune.postal_code)
        self._count("change_moved")
        found += [ExpectedChange(year, centre.region_code, centre.finess_et, "adresse", "envoi_precedent",
                                 "commune_insee", before.fields["commune_insee"], commune.insee, "change_moved"),
                  ExpectedChange(year, centre.region_code, centre.finess_et, "adresse", "finess", "commune_insee",
                                 centre.commune.insee, commune.insee, "change_moved")]
        # taken over by another gestionnaire: a new EJ, FINESS not updated, another type
        centre, before, now = self._take("11")
        new_ej = self.numbers.finess(centre.departement.code)
        old_type = before.fields["type_gestionnaire"]
        new_type = self.rng.choice([t for t in TYPES_GESTIONNAIRE if t != old_type])
        now.fields.update(finess_ej=new_ej, type_gestionnaire=new_type)
        self._count("change_gestionnaire")
        found += [ExpectedChange(year, centre.region_code, centre.finess_et, "gestionnaire", "envoi_precedent",
                                 "type_gestionnaire", old_type, new_type, "change_gestionnaire"),
                  ExpectedChange(year, centre.region_code, centre.finess_et, "gestionnaire", "finess", "finess_ej",
                                 centre.finess_ej, new_ej, "change_gestionnaire")]
        # a new name, sharing no word with the old one
        centre, before, now = self._take("93")
        name = f"Centre de santé {self._other_name(centre).title()}"
        now.fields["raison_sociale"] = name
        self._count("change_renamed")
        found += [ExpectedChange(year, centre.region_code, centre.finess_et, "raison_sociale", "envoi_precedent",
                                 "raison_sociale", str(before.fields["raison_sociale"]), name, "change_renamed"),
                  ExpectedChange(year, centre.region_code, centre.finess_et, "raison_sociale", "finess",
                                 "raison_sociale", centre.rs, name, "change_renamed")]
        # another type de centre (FINESS has none: the previous report only)
        centre, before, now = self._take("84")
        old = before.fields["type_centre"]
        new = self.rng.choice([t for t in TYPES_CENTRE if t not in (old, "autre")])
        now.fields["type_centre"] = new
        self._count("change_type_centre")
        found.append(ExpectedChange(year, centre.region_code, centre.finess_et, "type_centre", "envoi_precedent",
                                    "type_centre", old, new, "change_type_centre"))
        # the same commune, another postal code
        centre, before, now = self._take("11")
        other = next(c.postal_code for c in CDS_COMMUNES[centre.departement.code]
                     if c.postal_code != centre.commune.postal_code)
        now.fields["code_postal"] = other
        self._count("change_postal_code")
        found += [ExpectedChange(year, centre.region_code, centre.finess_et, "adresse", "envoi_precedent",
                                 "code_postal", before.fields["code_postal"], other, "change_postal_code"),
                  ExpectedChange(year, centre.region_code, centre.finess_et, "adresse", "finess", "code_postal",
                                 centre.commune.postal_code, other, "change_postal_code")]
        # an antenne FINESS does not know (opened without telling), one FINESS lists as closed
        centre, _, now = self._take("93")
        now.fields["antennes"] = self.numbers.finess(centre.departement.code)
        self._count("change_unknown_antenne")
        centre, _, now = self._take("11")
        closed = next(c for c in sorted(self.referential.centres, key=lambda c: c.finess_et)
                      if c.history == f"closed_{year - 1}" and c.region_code == "11")
        now.fields["antennes"] = closed.finess_et
        self._count("change_closed_antenne")
        return found  # the antennes' changes are derived with every centre's (`_expected`)

    def name_not_in_finess(self, this_year: list[ExpectedChange]) -> list[ExpectedChange]:
        """A centre renamed before the previous exercise, FINESS never told: both reports
        carry the new name, so FINESS disagrees both years and the reports agree."""
        centre, before, now = self._take("84")
        name = f"Maison médicale {self._other_name(centre).title()}"
        before.fields["raison_sociale"] = now.fields["raison_sociale"] = name
        self._count("change_name_not_in_finess")
        this_year.append(ExpectedChange(self.year, centre.region_code, centre.finess_et, "raison_sociale", "finess",
                                        "raison_sociale", centre.rs, name, "change_name_not_in_finess"))
        return [ExpectedChange(self.year - 1, centre.region_code, centre.finess_et, "raison_sociale", "finess",
                               "raison_sociale", centre.rs, name, "change_name_not_in_finess")]

    def _count(self, case: str) -> None:
        self.campaign.cases[case] = self.campaign.cases.get(case, 0) + 1

    def _other_name(self, centre: Establishment) -> str:
        """A distinctive name with no word (nor word start) in common with the centre's
        names: `name_tokens`-like words of the sample's own names."""
        taken = _words(f"{centre.rs} {centre.rslongue} {centre.commune.name}")
        free = [n for n in DISTINCTIVE_NAMES
                if not any(w.startswith(t) or t.startswith(w) for w in _words(n) for t in taken)]
        return self.rng.choice(free)


def _plain(centre: Establishment) -> bool:
    return (centre.is_centre_de_sante and centre.history == "stable" and not centre.decorated
            and not centre.antennes and not centre.principal_et)


_SMALL_WORDS = {"DE", "DU", "DES", "LA", "LE", "LES", "L", "D", "ET", "A", "AU", "AUX", "EN", "SUR", "SOUS"}


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^A-Z0-9]+", text.upper()) if w and w not in _SMALL_WORDS}


# ------------------------------------------------------------------ the answer
def _expected(year: int, campaigns: dict[int, Campaign], referential: Referential,
              deliberate: list[ExpectedChange]) -> list[ExpectedChange]:
    """The deliberate changes, plus the antennes each centre declared this year and not the
    previous one (and the reverse), and the declared antennes FINESS does not know or no
    longer listed during the year."""
    found = list(deliberate)
    now = _current_by_et(campaigns[year])
    previous = campaigns.get(year - 1)
    before = _current_by_et(previous) if previous is not None else {}
    first_day = f"{year}-01-01"
    dated = {s.label: s.extract_date for s in SNAPSHOTS}
    for et, submission in sorted(now.items()):
        region = referential.by_et[et].region_code or ""
        declared = antennes_declared(submission)
        for antenne in declared:
            known = referential.by_et.get(antenne)
            if known is None:
                found.append(ExpectedChange(year, region, et, "antenne_ajoutee", "finess", "antennes", None, antenne,
                                            "antennes_declared"))
                continue
            last = max(dated[label] for label in known.snapshots)
            if last.isoformat() < first_day:
                gone = min(s.extract_date for s in SNAPSHOTS if s.extract_date > last)
                found.append(ExpectedChange(year, region, et, "antenne_retiree", "finess", "antennes",
                                            f"fermée (absente de FINESS depuis le {gone:%d/%m/%Y})", antenne,
                                            "antennes_declared"))
        if et in before:
            earlier = antennes_declared(before[et])
            found += [ExpectedChange(year, region, et, "antenne_retiree", "envoi_precedent", "antennes", a, None,
                                     "antennes_declared") for a in earlier if a not in declared]
            found += [ExpectedChange(year, region, et, "antenne_ajoutee", "envoi_precedent", "antennes", None, a,
                                     "antennes_declared") for a in declared if a not in earlier]
    return sorted(found, key=lambda c: (c.region_code, c.finess_et, c.source, c.kind, c.field,
                                        c.previous_value or "", c.new_value or ""))
