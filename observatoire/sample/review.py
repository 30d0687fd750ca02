"""Which sample submissions must an analyst arbitrate, and what should she decide?

campaign-rules.md sends a submission to review when its declared identity is ambiguous:
nothing is matched at random. A newcomer needs a few such cases to try `observatoire
revue` and `decision` on the demo. Once the campaigns and the changes are planned, with
its own seeded generator (the campaigns' draws are left as they were), the last campaign
gets three, each made from a plain centre's ordinary report or beside it:

- `review_ej_several_centres`: a centre writes its gestionnaire's EJ where the ET is
  expected, and that EJ runs several centres in the region (ej_to_et cannot choose);
  the answer is the centre itself;
- `review_two_centres_named`: no FINESS, and a raison sociale that names two centres of
  the same commune (« Centre de santé Les Tilleuls - Les Acacias »), as much the one as
  the other; the answer is the first, whose report it is;
- `review_not_a_centre`: a maison de santé named like a centre of its commune sends a
  report without FINESS; the answer is « aucun centre ».

Until an analyst decides, the centre behind the first two is missing and each submission
is unexpected (reason `review`). Each case is recorded with the centres it was built
around (`candidates`) and the decision that settles it (expected/review.csv). Nothing here
writes a file.
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass

from observatoire.sample.campaign import WORKBOOK, Campaign, Intention, Submission
from observatoire.sample.changes import ExpectedChange
from observatoire.sample.content import build_content
from observatoire.sample.referential import DISTINCTIVE_NAMES, Establishment, Referential
from observatoire.sample.values import PARIS

REVIEW_COLUMNS = ["source_file", "source_row", "declared_finess_et", "raison_sociale", "commune_insee",
                  "candidates", "decision", "case"]
CASE_LABELS = {
    "review_ej_several_centres": "à arbitrer : FINESS juridique (EJ) d'un gestionnaire de plusieurs centres",
    "review_two_centres_named": "à arbitrer : sans FINESS, nom qui désigne deux centres de la même commune",
    "review_not_a_centre": "à arbitrer : maison de santé au nom d'un centre de sa commune (aucun centre)",
}
_SMALL_WORDS = {"DE", "DU", "DES", "LA", "LE", "LES", "L", "D", "ET", "A", "AU", "AUX", "EN", "SUR", "SOUS"}


@dataclass(frozen=True)
class ReviewCase:
    submission: Submission  # its source_file and source_row are set when the files are written
    candidates: tuple[str, ...]  # the centres it was built to hesitate between
    decision: str | None  # the ET an analyst should choose; None: no centre
    case: str

    def row(self) -> list[object]:
        fields = self.submission.fields
        return [self.submission.source_file, self.submission.source_row, self.submission.declared_finess,
                fields.get("raison_sociale"), fields.get("commune_insee"), " ".join(self.candidates),
                self.decision, self.case]


def plan_reviews(campaigns: dict[int, Campaign], referential: Referential, seed: int,
                 changes: dict[int, list[ExpectedChange]]) -> dict[int, list[ReviewCase]]:
    """Add the review cases to the last of the planned `campaigns` (after `plan_changes`,
    leaving alone the centres it changed) and return them per year."""
    year = max(campaigns)
    changed = {change.finess_et for found in changes.values() for change in found}
    planner = _ReviewPlanner(campaigns[year], referential, random.Random(f"review-{seed}"), changed)
    return {**{other: [] for other in campaigns}, year: planner.plan()}


class _ReviewPlanner:
    def __init__(self, campaign: Campaign, referential: Referential, rng: random.Random, changed: set[str]) -> None:
        self.campaign, self.referential, self.rng = campaign, referential, rng
        self.expected = referential.expected_centres(campaign.year)
        received: dict[str, list[Submission]] = {}
        for submission in campaign.submissions:
            if submission.resolved_et:
                received.setdefault(submission.resolved_et, []).append(submission)
        # plain centres: one ordinary report, listed in no manifest, no change case
        self.ordinary = {
            et: own[0] for et, own in received.items()
            if len(own) == 1 and own[0].case == "exact" and own[0].received_at is None and et not in changed
            and _plain(referential.by_et[et])
        }
        self.used: set[str] = set()

    def plan(self) -> list[ReviewCase]:
        return [self._ej_of_several_centres(), self._two_centres_named(), self._not_a_centre()]

    def _ej_of_several_centres(self) -> ReviewCase:
        def siblings(centre: Establishment) -> list[str]:
            return sorted(c.finess_et for c in self.referential.centres_of_ej(centre.finess_ej)
                          if c.region_code == centre.region_code)
        centre = self._choose([c for c in self._ordinary_centres() if len(siblings(c)) >= 2])
        submission = self._to_review(centre, "review_ej_several_centres", finess_et=centre.finess_ej)
        return ReviewCase(submission, tuple(siblings(centre)), centre.finess_et, "review_ej_several_centres")

    def _two_centres_named(self) -> ReviewCase:
        """X's report named « Centre de santé X - Y », Y another centre of X's commune whose
        name has as many distinctive words, none shared: the name is as much one as the other."""
        pairs = [
            (centre, other) for centre in self._ordinary_centres() if _named_apart(centre)
            for other in self.expected
            if other.finess_et not in self.used | {centre.finess_et} and other.commune == centre.commune
            and _named_apart(other) and not _words(centre.distinctive) & _words(other.distinctive)
            and len(_words(centre.distinctive)) == len(_words(other.distinctive))
        ]
        centre, other = self.rng.choice(pairs)
        self.used |= {centre.finess_et, other.finess_et}
        name = f"Centre de santé {centre.distinctive.title()} - {other.distinctive.title()}"
        submission = self._to_review(centre, "review_two_centres_named", finess_et=None, finess_ej=None,
                                     raison_sociale=name)
        return ReviewCase(submission, tuple(sorted((centre.finess_et, other.finess_et))), centre.finess_et,
                          "review_two_centres_named")

    def _not_a_centre(self) -> ReviewCase:
        """A maison de santé (not a centre de santé: in no extract as one) in a centre's
        commune, named like it."""
        namesake = self._choose([c for c in self.expected if _named_apart(c) and c.finess_et not in self.used])
        first, last = dt.date(self.campaign.year + 1, 1, 6), self.campaign.date_limite - dt.timedelta(days=1)
        day = first + dt.timedelta(days=self.rng.randrange((last - first).days + 1))
        moment = dt.datetime(day.year, day.month, day.day, self.rng.randint(8, 18), self.rng.randrange(60),
                             tzinfo=PARIS)
        fields, staff = build_content(namesake, self.campaign.year, moment, self.rng)
        fields.update(finess_et=None, finess_ej=None, raison_sociale=f"Maison de santé {namesake.distinctive.title()}",
                      type_gestionnaire="organisme à but non lucratif")
        submission = Submission(
            case="review_not_a_centre", region=namesake.region_code or "", departement=namesake.departement.code,
            container=WORKBOOK, fields=fields, staff=staff, declared_finess="", transmitted_at=moment,
            resolved_et=None, method="review", is_valid=True, unexpected_reason="review",
        )
        self.campaign.submissions.append(submission)
        self._count("review_not_a_centre")
        return ReviewCase(submission, (namesake.finess_et,), None, "review_not_a_centre")

    # ------------------------------------------------------------ helpers
    def _ordinary_centres(self) -> list[Establishment]:
        return [self.referential.by_et[et] for et in sorted(self.ordinary) if et not in self.used]

    def _choose(self, centres: list[Establishment]) -> Establishment:
        if not centres:
            raise RuntimeError(f"no centre left for a review case of {self.campaign.year}")
        centre = self.rng.choice(centres)
        self.used.add(centre.finess_et)
        return centre

    def _to_review(self, centre: Establishment, case: str, **fields: object) -> Submission:
        """The centre's ordinary report, its identity made ambiguous: it resolves to no
        centre until an analyst decides, and the centre counts as missing meanwhile."""
        submission = self.ordinary[centre.finess_et]
        submission.fields.update(fields)
        submission.declared_finess = "" if fields.get("finess_et") is None else str(fields["finess_et"])
        submission.case, submission.method, submission.resolved_et = case, "review", None
        submission.unexpected_reason = "review"
        self.campaign.intentions[centre.finess_et] = Intention("missing")
        self.campaign.cases["exact"] -= 1
        self._count(case)
        return submission

    def _count(self, case: str) -> None:
        self.campaign.cases[case] = self.campaign.cases.get(case, 0) + 1


def _plain(centre: Establishment) -> bool:
    return centre.history == "stable" and not centre.decorated


def _named_apart(centre: Establishment) -> bool:
    """A name of the sample's list, sharing no word with its commune (a town's name beside
    a centre's is not taken as part of it)."""
    return (not centre.decorated and centre.distinctive in DISTINCTIVE_NAMES
            and not _words(centre.distinctive) & _words(centre.commune.name))


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^A-Z0-9]+", text.upper()) if w and w not in _SMALL_WORDS}


def review_csv_rows(cases: list[ReviewCase]) -> list[list[object]]:
    return [case.row() for case in sorted(cases, key=lambda c: (c.submission.source_file, c.submission.source_row or 0))]
