"""Who sends what for one campaign, and what was each case built to produce?

For exercise year N, every expected centre of the sample referential is given one
deliberate case (plain on-time, damaged FINESS, EJ instead of ET, no FINESS, late,
borderline, versions, antennes, invalid, warnings only, manifest date, unreadable
file, missing…), plus submissions that match no expected centre. Each case records the
status it was built to produce (`intentions`), which `expected` checks against the
statuses it derives from the submissions themselves. Nothing here writes a file.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from observatoire.sample.content import StaffRow, build_content
from observatoire.sample.geography import (
    CDS_COMMUNES, FINESS_TO_COG, Departement, commune_without_centre, load_departements,
)
from observatoire.sample.referential import CDS_CATEGORY, Establishment, NumberAllocator, Referential
from observatoire.sample.template import labels_for
from observatoire.sample.values import PARIS, ExcelDate, NumberCell, Raw, strip_accents

WORKBOOK, EXPORT = "workbook", "export"

# The applicable campaign date limite: for 2023 the calendar moves it to 15 March 2024;
# 2024 keeps the default rule (last day of February N+1).
CAMPAIGN_DATE_LIMITE = {2023: dt.date(2024, 3, 15), 2024: dt.date(2025, 2, 28)}
MOVED_BY_CALENDAR = {2023}


@dataclass
class Submission:
    """One submission as built: its content, where it goes, and what it must resolve to."""
    case: str
    region: str
    departement: str  # FINESS code, gives the workbook's folder
    container: str  # workbook | export
    fields: dict[str, object]
    staff: list[StaffRow]
    declared_finess: str  # as it reads in the file ("" when none)
    transmitted_at: dt.datetime | None  # the date written in the file
    resolved_et: str | None
    method: str  # exact | repaired | ej_to_et | name_match | unmatched
    is_valid: bool
    received_at: dt.datetime | None = None  # reception.csv date, when the file is listed there
    unexpected_reason: str | None = None
    workbook_name: str | None = None  # file name chosen for a workbook (without folder)
    source_file: str = ""  # set by the writers
    source_row: int | None = None
    is_current: bool = False  # set by `expected`

    @property
    def effective_at(self) -> dt.datetime | None:
        """The moment timeliness is judged on: the file's date, else the manifest's."""
        return self.transmitted_at or self.received_at


@dataclass
class UnreadableCase:
    region: str
    relative_path: str  # inside the submissions folder
    reason: str  # empty | truncated | not_a_spreadsheet | utf16_encoding
    meant_for: str  # the ET it was meant to report on
    payload: Submission | None = None  # what the damaged file was cut or re-encoded from


@dataclass(frozen=True)
class CalendarRow:
    finess_et: str  # empty: the campaign's date limite
    date_limite: dt.date
    text: str  # as the ARS typed it


@dataclass(frozen=True)
class Intention:
    status: str
    days_late: int | None = None


@dataclass
class Campaign:
    year: int
    date_limite: dt.date
    submissions: list[Submission]
    unreadable: list[UnreadableCase]
    calendar: list[CalendarRow]
    intentions: dict[str, Intention]
    cases: dict[str, int] = field(default_factory=dict)

    def deadline_for(self, finess_et: str) -> dt.date:
        for row in self.calendar:
            if row.finess_et == finess_et:
                return row.date_limite
        return self.date_limite


class CampaignPlanner:
    def __init__(self, year: int, referential: Referential, seed: int, workbook_share: float = 0.4,
                 export_regions: set[str] | None = None) -> None:
        self.year = year
        # plain submissions: share sent as per-centre workbooks, and the regions whose ARS
        # has a regional export tool (None: every region); the rest only send workbooks
        self.workbook_share = workbook_share
        self.export_regions = export_regions
        self.referential = referential
        self.rng = random.Random(f"campaign-{seed}-{year}")
        self.date_limite = CAMPAIGN_DATE_LIMITE[year]
        self.labels = labels_for(year)
        self.expected = referential.expected_centres(year)
        self.expected_ets = {c.finess_et for c in self.expected}
        self.pool: dict[str, list[Establishment]] = {}
        for centre in self.expected:
            self.pool.setdefault(centre.region_code, []).append(centre)
        self.submissions: list[Submission] = []
        self.unreadable: list[UnreadableCase] = []
        self.calendar: list[CalendarRow] = []
        self.intentions: dict[str, Intention] = {}
        self.cases: dict[str, int] = {}
        self.departements = load_departements()
        self.numbers = NumberAllocator(self.rng)
        self.numbers.used.update(e.finess_et for e in referential.establishments)
        self.numbers.used.update(e.finess_ej for e in referential.establishments)

    # ------------------------------------------------------------ plan
    def plan(self) -> Campaign:
        self._calendar()
        self._antennes()
        self._repaired()
        self._ej_to_et()
        self._name_match()
        self._late_and_borderline()
        self._versions()
        self._invalid()
        self._warnings()
        self._manifest()
        self._unreadable()
        self._extensions()
        self._unexpected()
        self._bulk()
        return Campaign(self.year, self.date_limite, self.submissions, self.unreadable, self.calendar,
                        self.intentions, dict(sorted(self.cases.items())))

    # ------------------------------------------------------------ helpers
    def _count(self, case: str, n: int = 1) -> None:
        self.cases[case] = self.cases.get(case, 0) + n

    def _take(self, region: str, where: Callable[[Establishment], bool] = lambda c: True,
              plain: bool = True) -> Establishment:
        candidates = [
            c for c in self.pool.get(region, [])
            if where(c) and (not plain or (not c.principal_et and not c.antennes and c.history == "stable"))
        ]
        if not candidates:
            raise RuntimeError(f"no centre left in region {region} for a case of {self.year}")
        centre = self.rng.choice(candidates)
        self.pool[region].remove(centre)
        return centre

    def _intend(self, centre: Establishment, status: str, days_late: int | None = None) -> None:
        assert centre.finess_et not in self.intentions, centre.finess_et
        self.intentions[centre.finess_et] = Intention(status, days_late)

    def _moment(self, day: dt.date, hour: int | None = None, minute: int | None = None) -> dt.datetime:
        hour = self.rng.randint(8, 18) if hour is None else hour
        minute = self.rng.randrange(60) if minute is None else minute
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)

    def _on_time(self, latest: dt.date | None = None) -> dt.datetime:
        first = dt.date(self.year + 1, 1, 6)
        last = (latest or self.date_limite) - dt.timedelta(days=1)
        return self._moment(first + dt.timedelta(days=self.rng.randrange((last - first).days + 1)))

    def _late(self, days: int, deadline: dt.date | None = None) -> dt.datetime:
        return self._moment((deadline or self.date_limite) + dt.timedelta(days=days))

    def _submission(self, case: str, centre: Establishment, container: str, moment: dt.datetime | None, *,
                    method: str = "exact", valid: bool = True, resolved: str | None = "same",
                    **changes: object) -> Submission:
        fields, staff = build_content(centre, self.year, moment, self.rng)
        fields.update({name: value for name, value in changes.items() if name in self.labels})
        if moment is None:
            fields.pop("date_transmission", None)
        declared = fields.get("finess_et")
        declared_text = _cell_text(declared)
        submission = Submission(
            case=case, region=centre.region_code or "", departement=centre.departement.code,
            container=container, fields=fields, staff=staff, declared_finess=declared_text,
            transmitted_at=moment, resolved_et=centre.finess_et if resolved == "same" else resolved,
            method=method, is_valid=valid,
        )
        self.submissions.append(submission)
        self._count(case)
        return submission

    # ------------------------------------------------------------ cases
    def _calendar(self) -> None:
        if self.year in MOVED_BY_CALENDAR:
            self.calendar.append(CalendarRow("", self.date_limite, f"{self.date_limite:%d/%m/%Y}"))

    def _antennes(self) -> None:
        """7. A principal centre lists its antennes: they are covered without submitting."""
        for region, separator, container in (("11", "; ", WORKBOOK), ("84", ", ", EXPORT), ("93", "\n", WORKBOOK)):
            principal = self._take_principal(region)
            antennes = [self.referential.by_et[et] for et in principal.antennes]
            self._submission("antennes_principal", principal, container, self._on_time(),
                             antennes=separator.join(a.finess_et for a in antennes))
            self._intend(principal, "on_time")
            for antenne in antennes:
                self._intend(antenne, "covered")
                self._count("antennes_covered")

    def _take_principal(self, region: str) -> Establishment:
        """A principal centre whose antennes are all expected and unused, several if possible."""
        def usable(c: Establishment, at_least: int) -> bool:
            pool = self.pool[region]
            return len(c.antennes) >= at_least and all(self.referential.by_et[a] in pool for a in c.antennes)
        several = any(usable(c, 2) for c in self.pool[region])
        principal = self._take(region, lambda c: usable(c, 2 if several else 1), plain=False)
        for antenne in principal.antennes:
            self.pool[region].remove(self.referential.by_et[antenne])
        return principal

    def _repaired(self) -> None:
        """2. The declared ET is damaged the way spreadsheets and people damage it."""
        zero = lambda c: c.finess_et.startswith("0")  # noqa: E731 - lost leading zero needs one
        cases = [
            ("repaired_lost_zero_numeric_cell", "84", WORKBOOK, zero, lambda et: NumberCell(int(et))),
            ("repaired_lost_zero_text", "93", EXPORT, zero, lambda et: Raw(et[1:])),
            ("repaired_float", "84", EXPORT, zero, lambda et: Raw(et[1:] + ".0")),
            ("repaired_scientific", "93", EXPORT, zero, lambda et: Raw(_scientific(et))),
            ("repaired_spaces", "11", WORKBOOK, lambda c: True,
             lambda et: Raw(f"{et[:2]} {et[2:5]} {et[5:8]} {et[8]}")),
            ("repaired_dots", "11", EXPORT, lambda c: True, lambda et: Raw(f"{et[:2]}.{et[2:5]}.{et[5:8]}.{et[8]}")),
            ("repaired_lower_case_and_spaces", "94", EXPORT, lambda c: True,
             lambda et: Raw(f"{et[:2].lower()} {et[2:5]} {et[5:8]} {et[8]}")),
        ]
        for case, region, container, where, damage in cases:
            centre = self._take(region, where)
            self._submission(case, centre, container, self._on_time(), method="repaired",
                             finess_et=damage(centre.finess_et))
            self._intend(centre, "on_time")
        # lower case alone is no damage: campaign-rules.md normalises case before `exact`
        centre = self._take("94")
        self._submission("exact_lower_case", centre, WORKBOOK, self._on_time(), finess_et=Raw(centre.finess_et.lower()))
        self._intend(centre, "on_time")

    def _ej_to_et(self) -> None:
        """3. The EJ is given where the ET is expected; the EJ runs exactly one centre."""
        for region, container in (("84", WORKBOOK), ("11", EXPORT)):
            centre = self._take(region, lambda c: len(self.referential.centres_of_ej(c.finess_ej)) == 1)
            self._submission("ej_to_et", centre, container, self._on_time(), method="ej_to_et",
                             finess_et=centre.finess_ej)
            self._intend(centre, "on_time")

    def _name_match(self) -> None:
        """4. No FINESS at all: raison sociale (written differently) and commune only."""
        variants = [("84", WORKBOOK, _name_accented), ("11", EXPORT, _name_abbreviated),
                    ("93", WORKBOOK, _name_lower_unaccented)]
        for region, container, variant in variants:
            centre = self._take(region, lambda c: not c.decorated and c.kind in _NAME_PREFIXES)
            self._submission("name_match", centre, container, self._on_time(), method="name_match",
                             finess_et=None, finess_ej=None, raison_sociale=variant(centre))
            self._intend(centre, "on_time")

    def _late_and_borderline(self) -> None:
        """5. Late by 1, 3 and 40 days, and transmissions at the edge of the date limite."""
        for region, container, days in (("04", EXPORT, 1), ("11", WORKBOOK, 3), ("93", EXPORT, 40)):
            centre = self._take(region)
            self._submission(f"late_{days}_days", centre, container, self._late(days))
            self._intend(centre, "late", days)
        limit, next_day = self.date_limite, self.date_limite + dt.timedelta(days=1)
        last_minute = dt.datetime(limit.year, limit.month, limit.day, 23, 59, tzinfo=PARIS)
        centre = self._take("84")
        self._submission("borderline_2359_on_time", centre, WORKBOOK, last_minute,
                         date_transmission=ExcelDate(last_minute))
        self._intend(centre, "on_time")
        midnight = dt.datetime(next_day.year, next_day.month, next_day.day, 0, 0, tzinfo=PARIS)
        centre = self._take("11")
        self._submission("borderline_midnight_late", centre, EXPORT, midnight,
                         date_transmission=Raw(f"{midnight:%d/%m/%Y %H:%M}"))
        self._intend(centre, "late", 1)
        utc = dt.datetime(limit.year, limit.month, limit.day, 23, 30, tzinfo=dt.timezone.utc)
        centre = self._take("93")
        self._submission("borderline_utc_late", centre, EXPORT, utc.astimezone(PARIS),
                         date_transmission=Raw(f"{utc:%Y-%m-%dT%H:%M:%S}Z"))
        self._intend(centre, "late", 1)
        if self.year in MOVED_BY_CALENDAR:
            # on time only because the calendar moved the date limite
            default_next = dt.date(self.year + 1, 3, 1)
            moment = dt.datetime(default_next.year, 3, 1, 0, 0, tzinfo=PARIS)
            centre = self._take("84")
            self._submission("after_default_limit_on_time", centre, EXPORT, moment,
                             date_transmission=Raw(f"{moment:%d/%m/%Y %H:%M}"))
            self._intend(centre, "on_time")

    def _versions(self) -> None:
        """6. Several versions: timeliness from the first valid one, data from the latest."""
        centre = self._take("84")
        first = self._submission("version_first_valid", centre, WORKBOOK, self._on_time(self.date_limite - dt.timedelta(days=10)))
        self._submission("version_later_correction", centre, EXPORT, self._late(10))
        first.workbook_name = f"{centre.finess_et}.xlsx"
        self._intend(centre, "on_time")
        centre = self._take("93")
        invalid = self._submission("version_invalid_first", centre, WORKBOOK,
                                   self._on_time(self.date_limite - dt.timedelta(days=10)),
                                   valid=False, jours_ouverture=400)
        invalid.workbook_name = f"{centre.finess_et}.xlsx"
        correction = self._submission("version_valid_correction_late", centre, WORKBOOK, self._late(5))
        correction.workbook_name = f"{centre.finess_et} corrigé.xlsx"
        self._intend(centre, "late", 5)

    def _invalid(self) -> None:
        """8. Each invalid submission carries one clear error (E) of the template."""
        year = self.year
        plans: list[tuple[str, str, str, Callable[[Submission], None]]] = [
            ("invalid_empty_raison_sociale", "84", WORKBOOK, lambda s: s.fields.update(raison_sociale=None)),
            ("invalid_type_centre", "11", EXPORT, lambda s: s.fields.update(type_centre="clinique")),
            ("invalid_patients_mt_over_file_active", "93", WORKBOOK,
             lambda s: s.fields.update(patients_medecin_traitant=int(s.fields["file_active"]) + 137)),
            ("invalid_jours_ouverture", "84", EXPORT, lambda s: s.fields.update(jours_ouverture=400)),
            ("invalid_missing_total_charges", "11", WORKBOOK, lambda s: s.fields.update(total_charges=None)),
            ("invalid_no_health_professional", "93", WORKBOOK, _without_health_staff),
            ("invalid_annee_exercice", "11", EXPORT,
             lambda s: s.fields.update(annee_exercice=NumberCell(year - 1 if year < 2024 else year + 1))),
            ("invalid_file_active_not_a_number", "93", EXPORT, lambda s: s.fields.update(file_active=Raw("beaucoup"))),
        ]
        for case, region, container, damage in plans:
            if case == "invalid_patients_mt_over_file_active":
                # a principal whose submission is invalid does not cover its antenne
                centre = self._take_principal(region)
                antennes = [self.referential.by_et[et] for et in centre.antennes]
                submission = self._submission(case, centre, container, self._on_time(), valid=False,
                                              antennes="\n".join(a.finess_et for a in antennes))
                for antenne in antennes:
                    self._intend(antenne, "missing")
                    self._count("antenne_of_invalid_principal")
            else:
                centre = self._take(region)
                submission = self._submission(case, centre, container, self._on_time(), valid=False)
            damage(submission)
            self._intend(centre, "invalid")
        centre = self._take("84")
        submission = self._submission("invalid_no_date_not_in_manifest", centre, WORKBOOK, None, valid=False)
        submission.fields["date_transmission"] = None  # label present, value left empty
        self._intend(centre, "invalid")

    def _warnings(self) -> None:
        """9. Warnings only: still valid and on time."""
        centre = self._take("84")
        self._submission("warning_bad_email", centre, EXPORT, self._on_time(),
                         contact_courriel="accueil.cds-chez-orange.fr")
        self._intend(centre, "on_time")
        centre = self._take("11")
        digits = centre.telephone[:9]
        self._submission("warning_phone_9_digits", centre, WORKBOOK, self._on_time(),
                         contact_telephone=" ".join([digits[i:i + 2] for i in range(0, 8, 2)]) + digits[8])
        self._intend(centre, "on_time")
        centre = self._take("93")
        submission = self._submission("warning_resultat_mismatch", centre, EXPORT, self._on_time())
        submission.fields["resultat"] = submission.fields["resultat"] + Decimal("12500.00")
        self._intend(centre, "on_time")
        centre = self._take("84")
        submission = self._submission("warning_unknown_profession", centre, WORKBOOK, self._on_time())
        submission.staff.append(StaffRow(None, "Chauffeur-livreur", 1, Decimal("0.5")))
        self._intend(centre, "on_time")
        centre = self._take("11")
        submission = self._submission("warning_profession_twice", centre, WORKBOOK, self._on_time())
        repeated = next(row for row in submission.staff if row.profession not in (None, "autre"))
        submission.staff.append(StaffRow(repeated.profession, repeated.label.upper(), 1, Decimal("0.3")))
        self._intend(centre, "on_time")

    def _manifest(self) -> None:
        """10. No transmission date in the file: the reception manifest gives it."""
        centre = self._take("93")
        if self.year in MOVED_BY_CALENDAR:
            received, intention = self._moment(dt.date(self.year + 1, 3, 12), 9, 30), Intention("on_time")
        else:
            received, intention = self._late(4), None
        submission = self._submission("manifest_reception_date", centre, WORKBOOK, None)
        submission.received_at = received
        days = (received.date() - self.date_limite).days
        self.intentions[centre.finess_et] = intention or Intention("late", days)

    def _unreadable(self) -> None:
        """11. Files that cannot be read: the centre counts by its other submissions."""
        for region, reason, extension in (("84", "empty", "xlsx"), ("93", "not_a_spreadsheet", "xlsx"),
                                          ("84", "utf16_encoding", "csv")):
            centre = self._take(region)
            folder = departement_folder(centre.departement.code)
            name = {"empty": f"{centre.finess_et}.xlsx", "not_a_spreadsheet": f"rapport activité {self.year}.xlsx",
                    "utf16_encoding": f"export_{centre.finess_et}_utf16.{extension}"}[reason]
            payload = None
            if reason == "utf16_encoding":
                fields, staff = build_content(centre, self.year, self._on_time(), self.rng)
                payload = Submission("unreadable_payload", region, centre.departement.code, EXPORT, fields, staff,
                                     centre.finess_et, None, centre.finess_et, "exact", True)
            self.unreadable.append(UnreadableCase(region, f"{folder}/{name}", reason, centre.finess_et, payload))
            self._intend(centre, "missing")
            self._count(f"unreadable_{reason}")
        # a truncated file, then the same report sent again properly
        centre = self._take("11")
        resent = self._submission("resent_after_truncated_file", centre, WORKBOOK, self._on_time())
        resent.workbook_name = f"{centre.finess_et}.xlsx"
        folder = departement_folder(centre.departement.code)
        self.unreadable.append(UnreadableCase("11", f"{folder}/{centre.finess_et} (envoi 1).xlsx", "truncated",
                                              centre.finess_et, resent))
        self._intend(centre, "on_time")
        self._count("unreadable_truncated")

    def _extensions(self) -> None:
        """14. Dérogations: one used in time, one overrun."""
        if self.year in MOVED_BY_CALENDAR:
            return
        extended = dt.date(self.year + 1, 3, 31)
        centre = self._take("84")
        self.calendar.append(CalendarRow(centre.finess_et, extended, f"{extended:%d/%m/%Y}"))
        self._submission("extension_on_time", centre, WORKBOOK,
                         self._moment(dt.date(self.year + 1, 3, 20)))
        self._intend(centre, "on_time")
        extended = dt.date(self.year + 1, 3, 14)
        centre = self._take("11")
        self.calendar.append(CalendarRow(centre.finess_et, extended, extended.isoformat()))
        self._submission("extension_overrun", centre, EXPORT, self._moment(dt.date(self.year + 1, 3, 20)))
        self._intend(centre, "late", 6)

    def _unexpected(self) -> None:
        """12. Submissions that match no expected centre."""
        for region, container in (("84", WORKBOOK), ("93", EXPORT)):
            departement = self.rng.choice([d for d, dep in self.departements.items()
                                           if dep.region_code == region and d in CDS_COMMUNES])
            ghost = _unknown_centre(self.numbers, self.departements[departement], self.rng)
            self._submission("unexpected_unknown_finess", ghost, container, self._on_time(), method="unmatched",
                             resolved=None).unexpected_reason = "unknown_finess"
        if self.year >= 2024:
            closed = next(c for c in self.referential.centres
                          if c.history == f"closed_{self.year - 1}" and c.region_code == "84")
            self._submission("unexpected_closed", closed, EXPORT, self._on_time()).unexpected_reason = "closed"
        hospitals = [e for e in self.referential.establishments
                     if e.category.code == "355" and e.region_code in self.pool and len(e.snapshots) == 3]
        hospital = self.rng.choice([e for e in hospitals if e.region_code == "11"] or hospitals)
        self._submission("unexpected_not_centre_de_sante", hospital, EXPORT,
                         self._on_time()).unexpected_reason = "not_centre_de_sante"

    def _bulk(self) -> None:
        """1. and 13. Everyone else: plain on-time submissions, and about 10 % missing."""
        manifest_listed = 0
        for region in sorted(self.pool):
            for centre in sorted(self.pool[region], key=lambda c: c.finess_et):
                if centre.history == "stable" and self.rng.random() < 0.10:
                    self._intend(centre, "missing")
                    self._count("missing")
                    continue
                container = WORKBOOK if self.rng.random() < self.workbook_share else EXPORT
                if self.export_regions is not None and region not in self.export_regions:
                    container = WORKBOOK
                moment = self._on_time(self.date_limite - dt.timedelta(days=3))
                submission = self._submission("exact", centre, container, moment)
                if container == WORKBOOK and manifest_listed < 2:
                    # listed in reception.csv too; the file's own date comes first
                    submission.received_at = moment + dt.timedelta(days=1)
                    manifest_listed += 1
                    self._count("exact_also_in_manifest")
                self._intend(centre, "on_time")
            self.pool[region] = []


# ------------------------------------------------------------------ small pure helpers
_NAME_PREFIXES = {
    "municipal": "CENTRE DE SANTE MUNICIPAL", "associatif": "CENTRE DE SANTE ASSOCIATIF",
    "mutualiste": "CENTRE DE SANTE MUTUALISTE", "dentaire": "CENTRE DE SANTE DENTAIRE",
    "infirmier": "CENTRE DE SANTE INFIRMIER",
}


def departement_folder(departement: str) -> str:
    """The folder a centre's workbook is filed in: the COG département ("971", "2A", "69")."""
    return FINESS_TO_COG.get(departement, departement)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, NumberCell):
        return str(value.value)
    return str(value)


def _scientific(et: str) -> str:
    digits = et.lstrip("0")
    mantissa = (digits[0] + "." + digits[1:].rstrip("0")).rstrip(".")
    return f"{mantissa}E{len(digits) - 1}"


def _name_accented(centre: Establishment) -> str:
    """CENTRE DE SANTE MUTUALISTE LES TILLEULS -> Centre de santé mutualiste Les Tilleuls"""
    kind = _NAME_PREFIXES[centre.kind].removeprefix("CENTRE DE SANTE ").lower()
    return f"Centre de santé {kind} {centre.distinctive.title()}"


def _name_abbreviated(centre: Establishment) -> str:
    """CENTRE DE SANTE MUTUALISTE LES TILLEULS -> CDS MUTUALISTE LES TILLEULS"""
    return "CDS " + _NAME_PREFIXES[centre.kind].removeprefix("CENTRE DE SANTE ") + " " + centre.distinctive


def _name_lower_unaccented(centre: Establishment) -> str:
    """-> centre de sante mutualiste les tilleuls"""
    return strip_accents(f"{_NAME_PREFIXES[centre.kind]} {centre.distinctive}").lower()


def _without_health_staff(submission: Submission) -> None:
    submission.staff[:] = [
        StaffRow("secretaire_medical", "Secrétaire médical", 2, Decimal("1.6")),
        StaffRow("personnel_administratif", "Personnel administratif", 1, Decimal("0.8")),
        StaffRow("coordinateur", "Coordinateur", 1, Decimal("1")),
        StaffRow("medecin_generaliste", "Médecin généraliste", 0, Decimal("0")),
    ]


def _unknown_centre(numbers: NumberAllocator, departement: Departement, rng: random.Random) -> Establishment:
    """A centre that is in no extract (not yet registered): valid key, unknown number."""
    commune = commune_without_centre(departement.code)
    number = numbers.finess(departement.code)
    today = dt.date(2023, 6, 1)
    return Establishment(
        finess_et=number, finess_ej=numbers.finess(departement.code),
        rs=f"CENTRE DE SANTE NOUVEL HORIZON {commune.name}",
        rslongue=f"CENTRE DE SANTE NOUVEL HORIZON {commune.name}", commune=commune, departement=departement,
        category=CDS_CATEGORY, siret="", telephone="0" + "".join(rng.choice("123456789") for _ in range(9)),
        telecopie="", dateouv=today, dateautor=today, datemaj=today, kind="associatif",
        distinctive=f"NOUVEL HORIZON {commune.name}",
    )
