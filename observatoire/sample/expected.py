"""What must the pipeline conclude from a sample campaign?

Derived only from how each case was built (the submissions' resolved ET, validity and
dates, the calendar, the declared antennes), never from pipeline code, and checked
against the status each case was meant to produce: a planning mistake fails the
generation instead of producing a wrong answer.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from observatoire.sample.campaign import Campaign, Intention, Submission
from observatoire.sample.referential import Referential
from observatoire.sample.values import PARIS

STATUS_COLUMNS = ["campaign_year", "region_code", "finess_et", "status", "days_late", "deadline",
                  "source_file", "source_row", "unexpected_reason"]
SUBMISSION_COLUMNS = ["source_file", "source_row", "declared_finess_et", "finess_et", "reconciliation_method",
                      "is_valid", "is_current", "case"]
UNREADABLE_COLUMNS = ["source_file", "reason", "meant_for_finess_et"]


@dataclass(frozen=True)
class StatusRow:
    region_code: str
    finess_et: str
    status: str
    days_late: int | None
    deadline: dt.date | None
    source_file: str = ""
    source_row: int | None = None
    unexpected_reason: str = ""


def antennes_declared(submission: Submission) -> list[str]:
    text = submission.fields.get("antennes")
    return [part.strip() for part in re.split(r"[;,\n]", str(text or "")) if part.strip()]


def mark_current_versions(campaign: Campaign) -> None:
    """is_current: the latest valid version per resolved ET."""
    latest: dict[str, Submission] = {}
    for submission in campaign.submissions:
        submission.is_current = False
        if submission.is_valid and submission.resolved_et:
            held = latest.get(submission.resolved_et)
            if held is None or submission.effective_at > held.effective_at:
                latest[submission.resolved_et] = submission
    for submission in latest.values():
        submission.is_current = True


def derive_statuses(campaign: Campaign, referential: Referential) -> list[StatusRow]:
    expected = referential.expected_centres(campaign.year)
    expected_ets = {c.finess_et for c in expected}
    received: dict[str, list[Submission]] = {}
    for submission in campaign.submissions:
        if submission.unexpected_reason:
            assert submission.resolved_et not in expected_ets, submission.case
            continue
        assert submission.resolved_et in expected_ets, (submission.case, submission.resolved_et)
        received.setdefault(submission.resolved_et, []).append(submission)
    covered = {
        et for submission in campaign.submissions if submission.is_valid and not submission.unexpected_reason
        for et in antennes_declared(submission)
    }
    rows = []
    for centre in expected:
        deadline = campaign.deadline_for(centre.finess_et)
        own = received.get(centre.finess_et, [])
        valid = sorted((s for s in own if s.is_valid), key=lambda s: s.effective_at)
        days = None
        if valid:
            days = (valid[0].effective_at.astimezone(PARIS).date() - deadline).days
            status = "late" if days >= 1 else "on_time"
            days = days if status == "late" else None
        elif centre.finess_et in covered:
            status = "covered"
        elif own:
            status = "invalid"
        else:
            status = "missing"
        rows.append(StatusRow(centre.region_code, centre.finess_et, status, days, deadline))
    for submission in campaign.submissions:
        if submission.unexpected_reason:
            rows.append(StatusRow(
                submission.region, submission.resolved_et or "", "unexpected", None, None,
                submission.source_file, submission.source_row, submission.unexpected_reason,
            ))
    _check_intentions(rows, campaign.intentions)
    return rows


def _check_intentions(rows: list[StatusRow], intentions: dict[str, Intention]) -> None:
    derived = {row.finess_et: Intention(row.status, row.days_late) for row in rows if row.status != "unexpected"}
    mismatches = {
        et: (intentions.get(et), derived.get(et))
        for et in sorted(set(derived) | set(intentions)) if intentions.get(et) != derived.get(et)
    }
    if mismatches:
        raise AssertionError(f"sample cases do not produce what they were built for: {mismatches}")


# ------------------------------------------------------------------ CSV text
def _csv(columns: list[str], rows: list[list[object]]) -> bytes:
    lines = [";".join(columns)]
    for row in rows:
        lines.append(";".join("" if value is None else _text(value) for value in row))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    assert ";" not in text and "\n" not in text, text
    return text


def status_csv(year: int, rows: list[StatusRow]) -> bytes:
    ordered = sorted(rows, key=lambda r: (r.status == "unexpected", r.region_code, r.finess_et, r.source_file,
                                          r.source_row or 0))
    return _csv(STATUS_COLUMNS, [
        [year, r.region_code, r.finess_et, r.status, r.days_late, r.deadline.isoformat() if r.deadline else None,
         r.source_file, r.source_row, r.unexpected_reason]
        for r in ordered
    ])


def submissions_csv(campaign: Campaign) -> bytes:
    ordered = sorted(campaign.submissions, key=lambda s: (s.source_file, s.source_row or 0))
    return _csv(SUBMISSION_COLUMNS, [
        [s.source_file, s.source_row, s.declared_finess, s.resolved_et, s.method, s.is_valid, s.is_current, s.case]
        for s in ordered
    ])


def unreadable_csv(campaign: Campaign) -> bytes:
    ordered = sorted(campaign.unreadable, key=lambda u: u.relative_path)
    return _csv(UNREADABLE_COLUMNS, [[u.relative_path, u.reason, u.meant_for] for u in ordered])


def review_csv(cases) -> bytes:
    """`cases`: `observatoire.sample.review.ReviewCase`, their files written."""
    from observatoire.sample.review import REVIEW_COLUMNS, review_csv_rows

    return _csv(REVIEW_COLUMNS, review_csv_rows(cases))


def changes_csv(changes) -> bytes:
    """`changes`: `observatoire.sample.changes.ExpectedChange`, already in order."""
    from observatoire.sample.changes import CHANGE_COLUMNS

    return _csv(CHANGE_COLUMNS, [change.row() for change in changes])
