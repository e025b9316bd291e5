"""Importing hours (through the one import pipeline): per learner, or a programme's timetable
for all its learners.

Writing is an upsert on (learner, date, kind), so importing the same file again changes
nothing. Imported entries are verified on creation, and the running totals move with them
in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.csvio import ColumnSpec, Row, parse_choice, parse_date
from placements.extensions import db
from placements.hours import calc
from placements.hours.services import IMPORT_KINDS, add_to_totals, max_day_qh, today_uk
from placements.imports.pipeline import (
    ImportKind,
    ImportOutcome,
    Progress,
    RowCheck,
    register,
)
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


def _hours(text: str) -> int:
    return calc.parse_hours(text)


_hours.json_schema = {  # type: ignore[attr-defined]  # the JSON API's schema of the value
    "type": "number", "exclusiveMinimum": 0, "maximum": calc.MAX_HOURS_PER_ENTRY,
    "multipleOf": 0.25}


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


@dataclass(frozen=True)
class _Planned:
    learner_id: int
    programme_id: int
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


# --- per learner ---------------------------------------------------------------------------

def check_learner_hours(officer: User, rows: Sequence[Row]) -> RowCheck:
    """Build the look-ups once; return the check of one row of learner hours."""
    today = today_uk()
    refs = {r.get("student_ref") for r in rows if r.get("student_ref")}
    learners = {
        learner.student_ref: learner for learner in db.session.scalars(
            sa.select(Learner).where(Learner.provider_id == officer.provider_id,
                                     Learner.student_ref.in_(refs)))} if refs else {}
    seen: dict[tuple[str, date, str], int] = {}
    day_totals = _DayTotals()

    def check(row: Row):
        ref = row.get("student_ref")
        learner = learners.get(ref) if ref else None
        if ref and learner is None:
            yield "student_ref", f"No learner of yours has the student number {ref}"
        day = row.get("date")
        if learner is not None and day is not None:
            problem = _check_day(learner.programme, day, today)
            if problem:
                yield "date", problem
                return
            key = (ref, day, row.get("kind"))
            if key in seen:
                yield "date", f"Same learner, date and kind as row {seen[key]}"
                return
            seen[key] = row.number
            row.values["learner"] = learner
            if row.get("hours") is not None and row.get("kind"):
                over = day_totals.add(learner.id, day, HoursKind(row["kind"]), row["hours"])
                if over is not None:
                    yield "hours", over

    return check


def write_learner_hours(officer: User, rows: Sequence[Row],
                        progress: Progress) -> ImportOutcome:
    """Upsert checked rows of learner hours."""
    planned = [_Planned(r["learner"].id, r["learner"].programme_id, r["date"],
                        HoursKind(r["kind"]), r["hours"], (r.get("note") or "").strip())
               for r in rows]
    outcome = _write(officer, planned, progress)
    audit.record(officer, "hours.imported", None, kind="learner", rows=len(rows),
                 **outcome.as_dict())
    return outcome


# --- a programme's timetable ----------------------------------------------------------------

def check_timetable(officer: User, rows: Sequence[Row]) -> RowCheck:
    """Build the look-ups once; return the check of one timetable row."""
    today = today_uk()
    programmes = {p.code.lower(): p for p in db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id)) if p.code}
    seen: dict[tuple[str, date], int] = {}
    day_totals = _DayTotals()
    members: dict[int, list[tuple[int, str]]] = {}

    def check(row: Row):
        code = row.get("programme_code")
        programme = programmes.get(code.lower()) if code else None
        if code and programme is None:
            yield "programme_code", f"None of your programmes has the code {code}"
        day = row.get("date")
        if programme is not None and day is not None:
            problem = _check_day(programme, day, today)
            if problem:
                yield "date", problem
                return
            key = (programme.code.lower(), day)
            if key in seen:
                yield "date", f"Same programme and date as row {seen[key]}"
                return
            seen[key] = row.number
            row.values["programme"] = programme
            if row.get("hours") is not None:
                if programme.id not in members:
                    members[programme.id] = [(lid, ref) for lid, ref in db.session.execute(
                        sa.select(Learner.id, Learner.student_ref).where(
                            Learner.programme_id == programme.id).order_by(Learner.id))]
                over = [ref for lid, ref in members[programme.id]
                        if day_totals.add(lid, day, HoursKind.CLASSROOM, row["hours"])]
                if over:
                    yield "hours", (
                        f"{len(over)} learner{'s' if len(over) != 1 else ''} would have more "
                        f"than {day_totals.max_hours} hours on {day.isoformat()} (for example "
                        f"{', '.join(over[:3])})")

    return check


def write_timetable(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Give every learner of each row's programme that day's classroom hours."""
    by_programme: dict[int, list[int]] = defaultdict(list)
    programme_ids = {r["programme"].id for r in rows}
    for learner_id, programme_id in db.session.execute(
            sa.select(Learner.id, Learner.programme_id).where(
                Learner.programme_id.in_(programme_ids))):
        by_programme[programme_id].append(learner_id)
    planned = [_Planned(learner_id, r["programme"].id, r["date"], HoursKind.CLASSROOM,
                        r["hours"], "Timetable")
               for r in rows for learner_id in by_programme[r["programme"].id]]
    outcome = _write(officer, planned, progress)
    audit.record(officer, "hours.imported", None, kind="timetable", rows=len(rows),
                 **outcome.as_dict())
    return outcome


# --- the daily limit ------------------------------------------------------------------------

class _DayTotals:
    """Hours a file would give each learner on each day, on top of what the database holds
    for the other kinds (an import replaces the same kind's hours of that day)."""

    def __init__(self) -> None:
        self.max_qh = max_day_qh()
        self.max_hours = self.max_qh // calc.QH
        self._file: dict[tuple[int, date], dict[HoursKind, int]] = defaultdict(dict)
        self._stored: dict[tuple[int, date], dict[HoursKind, int]] = {}

    def _stored_for(self, learner_id: int, day: date) -> dict[HoursKind, int]:
        key = (learner_id, day)
        if key not in self._stored:
            self._stored[key] = {kind: int(qh) for kind, qh in db.session.execute(
                sa.select(HoursEntry.kind, HoursEntry.quarter_hours).where(
                    HoursEntry.learner_id == learner_id, HoursEntry.entry_date == day,
                    HoursEntry.status != HoursStatus.REJECTED))}
        return self._stored[key]

    def add(self, learner_id: int, day: date, kind: HoursKind, qh: int) -> str | None:
        """Count a row's hours; return why the day would be over the limit, or None."""
        self._file[(learner_id, day)][kind] = qh
        hours = {**self._stored_for(learner_id, day), **self._file[(learner_id, day)]}
        total = sum(hours.values())
        if total <= self.max_qh:
            return None
        return (f"The learner would have {calc.format_hours(total)} hours on "
                f"{day.isoformat()}, more than the {self.max_hours} a day allowed (all kinds "
                "together)")


# --- writing -------------------------------------------------------------------------------

def _write(officer: User, planned: list[_Planned], progress: Progress) -> ImportOutcome:
    """Upsert the planned entries on (learner, date, kind) and keep the totals in step."""
    outcome = ImportOutcome()
    if not planned:
        return outcome
    ids = sorted({p.learner_id for p in planned})
    days = {p.day for p in planned}
    kinds = {p.kind for p in planned}
    existing: dict[tuple[int, date, HoursKind], HoursEntry] = {}
    for start in range(0, len(ids), 500):
        for entry in db.session.scalars(sa.select(HoursEntry).where(
                HoursEntry.learner_id.in_(ids[start:start + 500]),
                HoursEntry.entry_date.in_(days), HoursEntry.kind.in_(kinds))):
            existing[(entry.learner_id, entry.entry_date, entry.kind)] = entry
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    deltas: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])

    def bump(p: _Planned, status: HoursStatus, qh: int, sign: int) -> None:
        key = (p.learner_id, p.programme_id, p.day.replace(day=1), p.kind, status)
        deltas[key][0] += sign * qh
        deltas[key][1] += sign

    for i, p in enumerate(planned, 1):
        found = existing.get((p.learner_id, p.day, p.kind))
        if found is None:
            new_rows.append({"learner_id": p.learner_id, "entry_date": p.day,
                             "quarter_hours": p.quarter_hours, "kind": p.kind, "note": p.note,
                             "status": HoursStatus.VERIFIED, "source": HoursSource.IMPORT,
                             "created_by_id": officer.id, "created_at": now,
                             "verified_by_id": officer.id, "verified_at": now})
            bump(p, HoursStatus.VERIFIED, p.quarter_hours, 1)
            outcome.created += 1
        elif (found.quarter_hours == p.quarter_hours and found.note == p.note
              and found.status is HoursStatus.VERIFIED):
            outcome.unchanged += 1
        else:
            bump(p, found.status, found.quarter_hours, -1)
            found.quarter_hours = p.quarter_hours
            found.note = p.note
            if found.status is not HoursStatus.VERIFIED:
                found.status = HoursStatus.VERIFIED
                found.verified_by_id = officer.id
                found.verified_at = now
                found.reject_reason = None
            found.source = HoursSource.IMPORT
            bump(p, HoursStatus.VERIFIED, p.quarter_hours, 1)
            outcome.updated += 1
        if i % 500 == 0:
            progress(i)
    if new_rows:
        db.session.execute(sa.insert(HoursEntry), new_rows)
    db.session.flush()
    for (learner_id, programme_id, month, kind, status), (qh, n) in deltas.items():
        if qh or n:
            add_to_totals(learner_id, programme_id, month, kind, status, qh, n)
    progress(len(planned))
    return outcome


def _timetable_examples(officer: User) -> Mapping[str, str]:
    programme = db.session.scalar(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id, Programme.code != "")
        .order_by(Programme.title).limit(1))
    if programme is None:
        return {}
    day = min(max(programme.start_date, date(2026, 10, 5)), today_uk(), programme.end_date)
    return {"programme_code": programme.code, "date": day.isoformat()}


def _learner_examples(officer: User) -> Mapping[str, str]:
    learner = db.session.scalar(sa.select(Learner).where(
        Learner.provider_id == officer.provider_id).order_by(Learner.id).limit(1))
    if learner is None:
        return {}
    programme = learner.programme
    day = min(max(programme.start_date, date(2026, 10, 5)), today_uk(), programme.end_date)
    return {"student_ref": learner.student_ref, "date": day.isoformat()}


LEARNER_HOURS = register(ImportKind(
    name="hours-learners", title="Hours per learner", columns=LEARNER_COLUMNS,
    check=check_learner_hours, write=write_learner_hours, examples=_learner_examples,
    order=30, description="Classroom and other hours of named learners (verified on import)."))

TIMETABLE = register(ImportKind(
    name="hours-timetable", title="Programme timetable", columns=TIMETABLE_COLUMNS,
    check=check_timetable, write=write_timetable, examples=_timetable_examples, order=40,
    description="Classroom hours of a programme's timetable, for every learner on it."))
