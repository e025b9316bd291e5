"""Demo hours: weekly classroom hours for the demo learners and some work-integrated hours.

Classroom hours are the provider's timetable (Monday to Thursday, 6 hours a day, verified);
most learners also log Friday live briefs or simulated work at their own pace, upskillers
log in-work learning, and the last ten days are still waiting for verification. The rows
are inserted in bulk and the running totals rebuilt once, as the benchmark does.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from placements.extensions import db
from placements.hours.services import rebuild_totals, today_uk
from placements.models import (
    HoursEntry,
    HoursKind,
    HoursSource,
    HoursStatus,
    Learner,
    Role,
    User,
)

#: Only the first learners get hours, so a large demo stays quick to load.
MAX_LEARNERS = 3000


def load_hours_demo(seed: int = 2026, today: date | None = None) -> int:
    """Add demo hours entries for the demo learners; return how many were added."""
    if db.session.scalar(sa.select(HoursEntry.id).limit(1)) is not None:
        return 0
    today = today or today_uk()
    rng = random.Random(seed)
    officers = {u.provider_id: u.id for u in db.session.scalars(
        sa.select(User).where(User.role == Role.OFFICER).order_by(User.id))}
    learners = db.session.scalars(sa.select(Learner).order_by(Learner.id)
                                  .limit(MAX_LEARNERS)).all()
    rows: list[dict] = []
    for learner in learners:
        programme = learner.programme
        officer_id = officers.get(learner.provider_id)
        last = min(today, programme.end_date)
        pace = rng.choice([0.0, 0.4, 0.7, 0.9, 1.0, 1.0, 1.0])  # share of Fridays with WI
        in_work = learner.in_work_employer is not None
        day = programme.start_date
        while day <= last:
            stamp = datetime.combine(day + timedelta(days=1), time(17), tzinfo=UTC)
            if day.weekday() < 4:
                rows.append(_row(learner.id, day, 24, HoursKind.CLASSROOM, HoursStatus.VERIFIED,
                                 HoursSource.IMPORT, officer_id, stamp, "Timetable"))
            elif day.weekday() == 4 and rng.random() < pace:
                kind = HoursKind.IN_WORK if in_work else rng.choice(
                    [HoursKind.LIVE_BRIEF, HoursKind.LIVE_BRIEF, HoursKind.SIMULATED])
                recent = (today - day).days < 10
                status = HoursStatus.PENDING if recent or rng.random() < 0.03 \
                    else HoursStatus.VERIFIED
                rows.append(_row(learner.id, day, rng.choice([28, 30, 32]), kind, status,
                                 HoursSource.LEARNER, learner.user_id, stamp,
                                 "Employer brief" if kind is HoursKind.LIVE_BRIEF else "",
                                 verifier=officer_id))
            day += timedelta(days=1)
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(HoursEntry), rows[start:start + 5000])
    rebuild_totals()
    db.session.flush()
    return len(rows)


def _row(learner_id: int, day: date, quarter_hours: int, kind: HoursKind,
         status: HoursStatus, source: HoursSource, creator: int | None, stamp: datetime,
         note: str, verifier: int | None = None) -> dict:
    verified = status is HoursStatus.VERIFIED
    return {"learner_id": learner_id, "entry_date": day, "quarter_hours": quarter_hours,
            "kind": kind, "note": note, "status": status, "source": source,
            "created_by_id": creator, "created_at": stamp,
            "verified_by_id": (verifier or creator) if verified else None,
            "verified_at": stamp if verified else None}
