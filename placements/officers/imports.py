"""Importing learners from a student record export (through the one import pipeline).

Rows are upserted on the officer's provider + `student_ref`; new learners get an
invitation e-mail, existing ones are updated where the file differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from placements import audit
from placements.compliance import checks
from placements.csvio import (
    ColumnSpec,
    Row,
    parse_bool,
    parse_choice,
    parse_email,
    parse_int,
    parse_tags,
)
from placements.extensions import db
from placements.geo import Located, locate_cached
from placements.imports.pipeline import (
    ImportKind,
    ImportOutcome,
    Progress,
    RowCheck,
    register,
)
from placements.models import REQUIREMENTS, Learner, Programme, User
from placements.officers.forms import AGE_BANDS, PRIOR_QUALIFICATIONS
from placements.officers.services import NewLearner, create_learners

LEARNER_COLUMNS: dict[str, ColumnSpec] = {
    "student_ref": ColumnSpec(required=True, max_length=40, example="S0001234",
                              help="Student number in your record system (the key)"),
    "name": ColumnSpec(required=True, max_length=200, example="Sam Taylor"),
    "email": ColumnSpec(required=True, parse=parse_email, example="sam.taylor@example.com"),
    "programme_code": ColumnSpec(required=True, max_length=40, example="HTQ-DIG-4",
                                 help="Your programme's course code"),
    "home_postcode": ColumnSpec(required=True, max_length=10, example="M1 1AA"),
    "max_travel_km": ColumnSpec(parse=parse_int(1, 500), default=25, example="25",
                                help="Furthest they can travel, km (default 25)"),
    "credentials": ColumnSpec(parse=parse_tags(REQUIREMENTS), default=[],
                              example="dbs;driving_licence",
                              help="Separated by ;, from: " + ", ".join(REQUIREMENTS)),
    "in_work_employer": ColumnSpec(max_length=200, example="",
                                   help="Employer, for upskillers already in work"),
    "first_in_family_he": ColumnSpec(parse=parse_bool, example="yes", help="yes, no or blank"),
    "age_band": ColumnSpec(parse=parse_choice(AGE_BANDS), example="21-24",
                           help="One of " + ", ".join(AGE_BANDS) + " or blank"),
    "prior_qualification": ColumnSpec(parse=parse_choice(PRIOR_QUALIFICATIONS),
                                      example="A levels", help="Or blank"),
    "disability_declared": ColumnSpec(parse=parse_bool, example="", help="yes, no or blank"),
}


def _existing(officer: User) -> dict[str, Learner]:
    learners = db.session.scalars(sa.select(Learner).where(
        Learner.provider_id == officer.provider_id).options(selectinload(Learner.user)))
    return {lrn.student_ref.strip().lower(): lrn for lrn in learners}


def check_learners(officer: User, rows: Sequence[Row]) -> RowCheck:
    """Build the look-ups once; return the check of one learner row."""
    programmes = {p.code.strip().lower(): p for p in db.session.scalars(
        sa.select(Programme).where(Programme.provider_id == officer.provider_id)) if p.code}
    existing = _existing(officer)
    emails = {e.lower(): uid for uid, e in db.session.execute(sa.select(User.id, User.email))}
    seen_refs: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    postcodes: dict[str, Located | str] = {}

    def check(row: Row):
        ref = (row.get("student_ref") or "").lower()
        learner = existing.get(ref) if ref else None
        if ref:
            if ref in seen_refs:
                yield "student_ref", f"Student number repeats row {seen_refs[ref]}"
            seen_refs.setdefault(ref, row.number)
        email = row.get("email")
        if email:
            if email in seen_emails:
                yield "email", f"Email address repeats row {seen_emails[email]}"
            seen_emails.setdefault(email, row.number)
            owner = emails.get(email)
            if owner is not None and (learner is None or learner.user_id != owner):
                yield "email", "Another account already uses this email address"
        code = row.get("programme_code")
        if code:
            programme = programmes.get(code.lower())
            if programme is None:
                yield "programme_code", f"No programme with code {code} at your provider"
            else:
                row.values["programme_id"] = programme.id
        if row.get("home_postcode"):
            located = locate_cached(row["home_postcode"], postcodes)
            if isinstance(located, str):
                yield "home_postcode", located
            else:
                row.values["located"] = located

    return check


def write_learners(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Upsert checked learner rows (flushes; the job commits or rolls back). New learners are
    created in batches (one flush each: a flush per learner grows with the session)."""
    outcome = ImportOutcome()
    existing = _existing(officer)
    new: list[NewLearner] = []
    for i, row in enumerate(rows, 1):
        v = row.values
        located: Located = v["located"]
        learner = existing.get(v["student_ref"].lower())
        if learner is None:
            new.append(NewLearner(
                name=v["name"], email=v["email"], student_ref=v["student_ref"],
                programme_id=v["programme_id"], home=located,
                max_travel_km=v["max_travel_km"], credentials=tuple(v["credentials"]),
                in_work_employer=v["in_work_employer"],
                first_in_family_he=v["first_in_family_he"], age_band=v["age_band"],
                prior_qualification=v["prior_qualification"],
                disability_declared=v["disability_declared"]))
            outcome.created += 1
        else:
            changes = _changes(learner, v, located)
            if changes:
                for target, attr, value in changes:
                    setattr(target, attr, value)
                checks.sync_from_tags(learner, learner.credentials or [])
                audit.record(officer, "learner.imported", learner,
                             student_ref=learner.student_ref,
                             changed=sorted({attr for _, attr, _ in changes}))
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        if len(new) >= WRITE_BATCH:
            create_learners(officer, new)
            new = []
        if i % 100 == 0 or i == len(rows):
            progress(i)
    if new:
        create_learners(officer, new)
    db.session.flush()
    return outcome


#: New learners created per flush.
WRITE_BATCH = 500


def _changes(learner: Learner, v: dict[str, Any], located: Located) -> list[tuple[Any, str, Any]]:
    wanted = [
        (learner.user, "name", v["name"].strip()),
        (learner.user, "email", v["email"]),
        (learner, "programme_id", v["programme_id"]),
        (learner, "home_postcode", located.postcode),
        (learner, "lat", located.lat),
        (learner, "lon", located.lon),
        (learner, "max_travel_km", v["max_travel_km"]),
        (learner, "credentials", sorted(set(v["credentials"]) | {
            t for t in learner.credentials or [] if t not in REQUIREMENTS})),
        (learner, "in_work_employer", (v["in_work_employer"] or "").strip() or None),
        (learner, "first_in_family_he", v["first_in_family_he"]),
        (learner, "age_band", v["age_band"] or None),
        (learner, "prior_qualification", v["prior_qualification"] or None),
        (learner, "disability_declared", v["disability_declared"]),
    ]
    return [(t, a, val) for t, a, val in wanted if getattr(t, a) != val]


def _examples(officer: User) -> Mapping[str, str]:
    code = db.session.scalar(sa.select(Programme.code).where(
        Programme.provider_id == officer.provider_id, Programme.code != "")
        .order_by(Programme.title).limit(1))
    return {"programme_code": code} if code else {}


LEARNERS = register(ImportKind(
    name="learners", title="Learners", columns=LEARNER_COLUMNS, check=check_learners,
    write=write_learners, examples=_examples, order=10,
    description="Learners from your student record system, on your programmes.",
    done_note=lambda outcome: "New learners have been sent an invitation to set their "
                              "password." if outcome.created else ""))
