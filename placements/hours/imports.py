"""Importing hours from CSV: per learner, or a programme's timetable for all its learners.

Both imports follow the house rules of `placements.csvio`: every row is read and checked
first and a row report of every problem is returned with nothing written; only a clean
file is written. Writing is an upsert on (learner, date, kind), so importing the same
file again changes nothing. Imported entries are verified on creation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.csvio import (
    ColumnSpec,
    CSVError,
    RowError,
    collect_errors,
    parse_choice,
    parse_date,
    read_csv,
)
from placements.extensions import db
from placements.hours import calc
from placements.hours.services import IMPORT_KINDS, add_to_totals, today_uk
from placements.models import (
    HoursEntry,
    HoursKind,
    HoursSource,
    HoursStatus,
    Learner,
    Programme,
    User,
    utcnow,
)

MAX_BYTES = 5_000_000


def _hours(text: str) -> int:
    return calc.parse_hours(text)


LEARNER_COLUMNS: dict[str, ColumnSpec] = {
    "student_ref": ColumnSpec(required=True, max_length=40, example="S000123",
                              help="The learner's student number"),
    "date": ColumnSpec(required=True, parse=parse_date, example="2026-10-05",
                       help="YYYY-MM-DD or DD/MM/YYYY"),
    "hours": ColumnSpec(required=True, parse=_hours, example="6.5",
                        help="More than 0 and at most 12, in quarter hours"),
    "kind": ColumnSpec(parse=parse_choice([k.value for k in IMPORT_KINDS]),
                       default=HoursKind.CLASSROOM.value, example="classroom",
                       help="classroom (the default), live-brief, simulated or in-work"),
    "note": ColumnSpec(max_length=500, default="", example="Week 4 timetable"),
}

TIMETABLE_COLUMNS: dict[str, ColumnSpec] = {
    "programme_code": ColumnSpec(required=True, max_length=40, example="HTQ-SWD",
                                 help="The programme's course code"),
    "date": ColumnSpec(required=True, parse=parse_date, example="2026-10-05",
                       help="YYYY-MM-DD or DD/MM/YYYY"),
    "hours": ColumnSpec(required=True, parse=_hours, example="6",
                        help="Classroom hours that day for every learner on the programme"),
}


@dataclass
class ImportReport:
    """What an import found or did."""

    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Planned:
    learner: Learner
    day: date
    kind: HoursKind
    quarter_hours: int
    note: str


def _check_day(programme: Programme, day: date, today: date) -> str | None:
    if day > today:
        return "The date is in the future"
    if not programme.start_date <= day <= programme.end_date:
        return (f"The date is outside the programme ({programme.start_date.isoformat()} to "
                f"{programme.end_date.isoformat()})")
    return None


def import_learner_hours(officer: User, source: Any, *, today: date | None = None,
                         max_bytes: int = MAX_BYTES) -> ImportReport:
    """Import hours per learner (student_ref, date, hours, kind, note)."""
    today = today or today_uk()
    try:
        rows = read_csv(source, columns=LEARNER_COLUMNS, max_bytes=max_bytes)
    except CSVError as exc:
        return ImportReport(errors=exc.errors)
    refs = {r.get("student_ref") for r in rows if r.get("student_ref")}
    learners = {
        learner.student_ref: learner for learner in db.session.scalars(
            sa.select(Learner).where(Learner.provider_id == officer.provider_id,
                                     Learner.student_ref.in_(refs)))}
    seen: dict[tuple[str, date, str], int] = {}
    planned: list[_Planned] = []

    def check(row) -> Iterable[tuple[str, str]]:
        learner = learners.get(row["student_ref"])
        if learner is None:
            yield "student_ref", f"No learner of yours has the student number " \
                                 f"{row['student_ref']}"
            return
        problem = _check_day(learner.programme, row["date"], today)
        if problem:
            yield "date", problem
            return
        key = (row["student_ref"], row["date"], row["kind"])
        if key in seen:
            yield "date", f"Same learner, date and kind as row {seen[key]}"
            return
        seen[key] = row.number
        planned.append(_Planned(learner, row["date"], HoursKind(row["kind"]), row["hours"],
                                (row.get("note") or "").strip()))

    report = ImportReport(rows=len(rows), errors=collect_errors(rows, check))
    if report.errors:
        return report
    _write(officer, planned, report)
    audit.record(officer, "hours.imported", None, kind="learner", rows=report.rows,
                 created=report.created, updated=report.updated, unchanged=report.unchanged)
    return report


def import_timetable(officer: User, source: Any, *, today: date | None = None,
                     max_bytes: int = MAX_BYTES) -> ImportReport:
    """Import a programme timetable: classroom hours for every learner on the programme."""
    today = today or today_uk()
    try:
        rows = read_csv(source, columns=TIMETABLE_COLUMNS, max_bytes=max_bytes)
    except CSVError as exc:
        return ImportReport(errors=exc.errors)
    programmes = {p.code.lower(): p for p in db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id)) if p.code}
    seen: dict[tuple[str, date], int] = {}
    days: list[tuple[Programme, date, int]] = []

    def check(row) -> Iterable[tuple[str, str]]:
        programme = programmes.get(row["programme_code"].lower())
        if programme is None:
            yield "programme_code", f"None of your programmes has the code " \
                                    f"{row['programme_code']}"
            return
        problem = _check_day(programme, row["date"], today)
        if problem:
            yield "date", problem
            return
        key = (programme.code.lower(), row["date"])
        if key in seen:
            yield "date", f"Same programme and date as row {seen[key]}"
            return
        seen[key] = row.number
        days.append((programme, row["date"], row["hours"]))

    report = ImportReport(rows=len(rows), errors=collect_errors(rows, check))
    if report.errors:
        return report
    by_programme: dict[int, list[Learner]] = defaultdict(list)
    for learner in db.session.scalars(sa.select(Learner).where(
            Learner.programme_id.in_({p.id for p, _, _ in days}))):
        by_programme[learner.programme_id].append(learner)
    planned = [_Planned(learner, day, HoursKind.CLASSROOM, qh, "Timetable")
               for programme, day, qh in days for learner in by_programme[programme.id]]
    _write(officer, planned, report)
    audit.record(officer, "hours.imported", None, kind="timetable", rows=report.rows,
                 created=report.created, updated=report.updated, unchanged=report.unchanged)
    return report


def _write(officer: User, planned: list[_Planned], report: ImportReport) -> None:
    """Upsert the planned entries on (learner, date, kind) and keep the totals in step."""
    if not planned:
        return
    learner_ids = {p.learner.id for p in planned}
    days = {p.day for p in planned}
    existing: dict[tuple[int, date, HoursKind], HoursEntry] = {}
    ids = sorted(learner_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for entry in db.session.scalars(sa.select(HoursEntry).where(
                HoursEntry.learner_id.in_(chunk), HoursEntry.entry_date.in_(days),
                HoursEntry.kind.in_({p.kind for p in planned}))):
            existing[(entry.learner_id, entry.entry_date, entry.kind)] = entry
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    deltas: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def bump(p: _Planned, status: HoursStatus, qh: int, sign: int) -> None:
        key = (p.learner.id, p.learner.programme_id, p.day.replace(day=1), p.kind, status)
        deltas[key][0] += sign * qh
        deltas[key][1] += sign

    for p in planned:
        entry = existing.get((p.learner.id, p.day, p.kind))
        if entry is None:
            new_rows.append({"learner_id": p.learner.id, "entry_date": p.day,
                             "quarter_hours": p.quarter_hours, "kind": p.kind, "note": p.note,
                             "status": HoursStatus.VERIFIED, "source": HoursSource.IMPORT,
                             "created_by_id": officer.id, "created_at": now,
                             "verified_by_id": officer.id, "verified_at": now})
            bump(p, HoursStatus.VERIFIED, p.quarter_hours, 1)
            report.created += 1
        elif (entry.quarter_hours == p.quarter_hours and entry.note == p.note
              and entry.status is HoursStatus.VERIFIED):
            report.unchanged += 1
        else:
            bump(p, entry.status, entry.quarter_hours, -1)
            entry.quarter_hours = p.quarter_hours
            entry.note = p.note
            if entry.status is not HoursStatus.VERIFIED:
                entry.status = HoursStatus.VERIFIED
                entry.verified_by_id = officer.id
                entry.verified_at = now
                entry.reject_reason = None
            entry.source = HoursSource.IMPORT
            bump(p, HoursStatus.VERIFIED, p.quarter_hours, 1)
            report.updated += 1
    if new_rows:
        db.session.execute(sa.insert(HoursEntry), new_rows)
    db.session.flush()
    for (learner_id, programme_id, month, kind, status), (qh, n) in deltas.items():
        if qh or n:
            add_to_totals(learner_id, programme_id, month, kind, status, qh, n)
