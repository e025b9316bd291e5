"""Hours services: log, verify and import hours; keep running totals; build dashboards.

Services flush, never commit. Every change to an entry's hours, kind or status goes
through `_count`, which keeps `HoursLearnerTotal` and `HoursProgrammeMonth` in step with
the entries in the same transaction, so dashboards never sum the entries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from placements import audit
from placements.domain import DomainError, NotAllowed
from placements.extensions import db
from placements.frontend import UK_TIME
from placements.hours import calc
from placements.models import (
    HoursEntry,
    HoursKind,
    HoursLearnerTotal,
    HoursProgrammeMonth,
    HoursSource,
    HoursStatus,
    Learner,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Programme,
    Role,
    User,
    utcnow,
)

#: Pending entries older than this many days need an officer's attention.
STALE_PENDING_DAYS = 14
#: Placement statuses under which a learner may log hours against a placement.
LOGGABLE_PLACEMENT = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)
#: Kinds a learner logs themselves (classroom hours come from the provider).
LEARNER_KINDS = (HoursKind.PLACEMENT, HoursKind.LIVE_BRIEF, HoursKind.SIMULATED,
                 HoursKind.IN_WORK)
#: Kinds an officer may import per learner (placement hours need a placement and supervisor).
IMPORT_KINDS = (HoursKind.CLASSROOM, HoursKind.LIVE_BRIEF, HoursKind.SIMULATED,
                HoursKind.IN_WORK)


def today_uk() -> date:
    """Return today's date in the UK."""
    return datetime.now(UK_TIME).date()


def month_start(day: date) -> date:
    """Return the first day of the day's month."""
    return day.replace(day=1)


def terms_of(programme: Programme) -> calc.ProgrammeTerms:
    """Return a programme's expectations as plain calc terms."""
    return calc.ProgrammeTerms(
        start_date=programme.start_date, end_date=programme.end_date,
        planned_total_hours=programme.planned_total_hours,
        target_pct=programme.work_integration_target_pct,
        required_placement_hours=(programme.required_placement_hours
                                  if programme.placement_mandated else None))


# --- running totals -------------------------------------------------------------------------

def _upsert_total(model: type, keys: dict, quarter_hours: int, entries: int) -> None:
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).values(**keys, quarter_hours=quarter_hours, entries=entries)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={"quarter_hours": model.quarter_hours + stmt.excluded.quarter_hours,
              "entries": model.entries + stmt.excluded.entries})
    db.session.execute(stmt)


def add_to_totals(learner_id: int, programme_id: int, month: date, kind: HoursKind,
                  status: HoursStatus, quarter_hours: int, entries: int) -> None:
    """Add a change of `entries` entries holding `quarter_hours` to both running totals."""
    _upsert_total(HoursLearnerTotal, {"learner_id": learner_id, "kind": kind,
                                      "status": status}, quarter_hours, entries)
    _upsert_total(HoursProgrammeMonth, {"programme_id": programme_id, "month": month,
                                        "kind": kind, "status": status},
                  quarter_hours, entries)


def _count(learner_id: int, programme_id: int, day: date, kind: HoursKind,
           status: HoursStatus, quarter_hours: int, sign: int = 1) -> None:
    """Add (sign=1) or remove (sign=-1) one entry's hours from the running totals."""
    add_to_totals(learner_id, programme_id, month_start(day), kind, status,
                  sign * quarter_hours, sign)


def _count_entry(entry: HoursEntry, learner: Learner, sign: int = 1) -> None:
    _count(learner.id, learner.programme_id, entry.entry_date, entry.kind, entry.status,
           entry.quarter_hours, sign)


def rebuild_totals() -> tuple[int, int]:
    """Recompute both running-total tables from the entries; return their row counts."""
    db.session.execute(sa.delete(HoursLearnerTotal))
    db.session.execute(sa.delete(HoursProgrammeMonth))
    e = HoursEntry.__table__
    db.session.execute(sa.insert(HoursLearnerTotal).from_select(
        ["learner_id", "kind", "status", "quarter_hours", "entries"],
        sa.select(e.c.learner_id, e.c.kind, e.c.status, sa.func.sum(e.c.quarter_hours),
                  sa.func.count()).group_by(e.c.learner_id, e.c.kind, e.c.status)))
    # The month key is computed in Python-free SQL: first day of the entry's month.
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        month = sa.cast(sa.func.date_trunc("month", e.c.entry_date), sa.Date)
    else:
        month = sa.func.date(e.c.entry_date, "start of month")
    lt = Learner.__table__
    db.session.execute(sa.insert(HoursProgrammeMonth).from_select(
        ["programme_id", "month", "kind", "status", "quarter_hours", "entries"],
        sa.select(lt.c.programme_id, month, e.c.kind, e.c.status,
                  sa.func.sum(e.c.quarter_hours), sa.func.count())
        .join(lt, lt.c.id == e.c.learner_id)
        .group_by(lt.c.programme_id, month, e.c.kind, e.c.status)))
    return (db.session.scalar(sa.select(sa.func.count()).select_from(HoursLearnerTotal)),
            db.session.scalar(sa.select(sa.func.count()).select_from(HoursProgrammeMonth)))


# --- logging --------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryData:
    """One day's hours of one kind, as a form or import row gives them."""

    entry_date: date
    quarter_hours: int
    kind: HoursKind
    note: str = ""
    placement_id: int | None = None


def loggable_placements(learner: Learner) -> list[Placement]:
    """Return the learner's published or accepted placements (those they may log against)."""
    return list(db.session.scalars(
        sa.select(Placement).where(Placement.learner_id == learner.id,
                                   Placement.status.in_(LOGGABLE_PLACEMENT))
        .order_by(Placement.created_at.desc())))


def check_entry(learner: Learner, data: EntryData, today: date) -> None:
    """Raise DomainError (naming the field) when an entry breaks a rule; else return."""
    if not 1 <= data.quarter_hours <= calc.MAX_HOURS_PER_ENTRY * calc.QH:
        raise DomainError(f"Hours must be more than 0 and at most "
                          f"{calc.MAX_HOURS_PER_ENTRY} in a day", field="hours")
    if data.entry_date > today:
        raise DomainError("The date must be today or in the past", field="entry_date")
    programme = learner.programme
    if data.entry_date < programme.start_date:
        raise DomainError(f"The date must be on or after the programme start, "
                          f"{_uk(programme.start_date)}", field="entry_date")
    if data.entry_date > programme.end_date:
        raise DomainError(f"The date must be on or before the programme end, "
                          f"{_uk(programme.end_date)}", field="entry_date")
    if data.kind is HoursKind.PLACEMENT:
        if data.placement_id is None:
            raise DomainError("Select the placement the hours were spent on",
                              field="placement")
        placement = db.session.get(Placement, data.placement_id)
        if (placement is None or placement.learner_id != learner.id
                or placement.status not in LOGGABLE_PLACEMENT):
            raise NotAllowed("Select one of your own placements", field="placement")
    elif data.placement_id is not None:
        raise DomainError("Only placement hours are logged against a placement",
                          field="placement")


def _uk(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _existing(learner_id: int, day: date, kind: HoursKind) -> HoursEntry | None:
    return db.session.scalar(sa.select(HoursEntry).where(
        HoursEntry.learner_id == learner_id, HoursEntry.entry_date == day,
        HoursEntry.kind == kind))


def log_hours(user: User, data: EntryData, *, today: date | None = None) -> HoursEntry:
    """Log the signed-in learner's own work-integrated hours (pending until verified)."""
    learner = user.learner
    if user.role != Role.LEARNER or learner is None:
        raise NotAllowed("Only learners log their own hours")
    if data.kind not in LEARNER_KINDS:
        raise DomainError("Classroom hours are recorded by your provider", field="kind")
    check_entry(learner, data, today or today_uk())
    if _existing(learner.id, data.entry_date, data.kind) is not None:
        raise DomainError(f"You have already logged {data.kind.label.lower()} hours on "
                          f"{_uk(data.entry_date)}; withdraw that entry first to change it",
                          field="entry_date")
    entry = HoursEntry(learner_id=learner.id, entry_date=data.entry_date,
                       quarter_hours=data.quarter_hours, kind=data.kind,
                       note=data.note.strip(), placement_id=data.placement_id,
                       status=HoursStatus.PENDING, source=HoursSource.LEARNER,
                       created_by_id=user.id, created_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    _count_entry(entry, learner)
    audit.record(user, "hours.logged", entry, learner_id=learner.id, kind=entry.kind,
                 date=entry.entry_date, quarter_hours=entry.quarter_hours)
    return entry


def record_hours(officer: User, learner: Learner, data: EntryData, *,
                 today: date | None = None) -> HoursEntry:
    """Record hours for one of the officer's learners (verified at once)."""
    if officer.role != Role.OFFICER or learner.provider_id != officer.provider_id:
        raise NotAllowed("You can only record hours for your own provider's learners")
    check_entry(learner, data, today or today_uk())
    if _existing(learner.id, data.entry_date, data.kind) is not None:
        raise DomainError(f"{data.kind.label} hours are already recorded on "
                          f"{_uk(data.entry_date)}", field="entry_date")
    now = utcnow()
    entry = HoursEntry(learner_id=learner.id, entry_date=data.entry_date,
                       quarter_hours=data.quarter_hours, kind=data.kind,
                       note=data.note.strip(), placement_id=data.placement_id,
                       status=HoursStatus.VERIFIED, source=HoursSource.OFFICER,
                       created_by_id=officer.id, created_at=now, verified_by_id=officer.id,
                       verified_at=now)
    db.session.add(entry)
    db.session.flush()
    _count_entry(entry, learner)
    audit.record(officer, "hours.recorded", entry, learner_id=learner.id, kind=entry.kind,
                 date=entry.entry_date, quarter_hours=entry.quarter_hours)
    return entry


def withdraw_entry(user: User, entry: HoursEntry) -> None:
    """Let a learner take back one of their own pending or rejected entries."""
    learner = user.learner
    if learner is None or entry.learner_id != learner.id:
        raise NotAllowed("You can only withdraw your own hours")
    if entry.status is HoursStatus.VERIFIED:
        raise DomainError("Verified hours cannot be withdrawn; ask your placement officer")
    _count_entry(entry, learner, -1)
    audit.record(user, "hours.withdrawn", entry, learner_id=learner.id, kind=entry.kind,
                 date=entry.entry_date, quarter_hours=entry.quarter_hours)
    db.session.delete(entry)
    db.session.flush()


# --- verification ---------------------------------------------------------------------------

def can_verify(user: User, entry: HoursEntry) -> bool:
    """Say whether the user may verify or reject this entry.

    Employer users: placement entries on their own organisation's offers. Officers:
    any entry of their own provider's learners (to unblock entries nobody answers).
    """
    if user.role == Role.EMPLOYER:
        placement = entry.placement
        return (entry.kind is HoursKind.PLACEMENT and placement is not None
                and placement.offer.employer_id == user.employer_id)
    if user.role == Role.OFFICER:
        return entry.learner.provider_id == user.provider_id
    return False


def _decide(user: User, entry: HoursEntry, status: HoursStatus, reason: str | None) -> None:
    if not can_verify(user, entry):
        raise NotAllowed("You cannot verify these hours")
    if entry.status is not HoursStatus.PENDING:
        raise DomainError(f"These hours are already {entry.status.value}")
    _count_entry(entry, entry.learner, -1)
    entry.status = status
    entry.verified_by_id = user.id
    entry.verified_at = utcnow()
    entry.reject_reason = reason
    _count_entry(entry, entry.learner)
    db.session.flush()


def verify_entry(user: User, entry: HoursEntry) -> None:
    """Confirm a learner's pending hours so they count."""
    _decide(user, entry, HoursStatus.VERIFIED, None)
    audit.record(user, "hours.verified", entry, learner_id=entry.learner_id)


def reject_entry(user: User, entry: HoursEntry, reason: str) -> None:
    """Turn down a learner's pending hours, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter the reason you are rejecting these hours", field="reason")
    _decide(user, entry, HoursStatus.REJECTED, reason)
    audit.record(user, "hours.rejected", entry, learner_id=entry.learner_id, reason=reason)


def pending_for_employer(user: User, limit: int = 200) -> list[HoursEntry]:
    """Return pending placement entries at the employer's offers, oldest first."""
    return list(db.session.scalars(
        sa.select(HoursEntry).join(Placement, HoursEntry.placement_id == Placement.id)
        .join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
        .where(PlacementOffer.employer_id == user.employer_id,
               HoursEntry.kind == HoursKind.PLACEMENT,
               HoursEntry.status == HoursStatus.PENDING)
        .order_by(HoursEntry.entry_date, HoursEntry.id).limit(limit)))


def decided_by_employer(user: User, limit: int = 20) -> list[HoursEntry]:
    """Return the latest placement entries the employer's organisation verified or rejected."""
    return list(db.session.scalars(
        sa.select(HoursEntry).join(Placement, HoursEntry.placement_id == Placement.id)
        .join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
        .where(PlacementOffer.employer_id == user.employer_id,
               HoursEntry.status != HoursStatus.PENDING)
        .order_by(HoursEntry.verified_at.desc(), HoursEntry.id.desc()).limit(limit)))


# --- one learner ----------------------------------------------------------------------------

@dataclass
class LearnerHours:
    """A learner's totals by kind and status, and their assessment."""

    learner: Learner
    terms: calc.ProgrammeTerms
    verified: dict[HoursKind, int]
    pending: dict[HoursKind, int]
    rejected: dict[HoursKind, int]
    assessment: calc.Assessment

    @property
    def verified_classroom(self) -> int:
        return self.verified[HoursKind.CLASSROOM]

    @property
    def verified_wi(self) -> int:
        return sum(v for k, v in self.verified.items() if k.work_integrated)

    @property
    def verified_placement(self) -> int:
        return self.verified[HoursKind.PLACEMENT]

    @property
    def pending_classroom(self) -> int:
        return self.pending[HoursKind.CLASSROOM]

    @property
    def pending_wi(self) -> int:
        return sum(v for k, v in self.pending.items() if k.work_integrated)


def learner_hours(learner: Learner, today: date | None = None) -> LearnerHours:
    """Return one learner's totals (from the running totals) and assessment."""
    by_status: dict[HoursStatus, dict[HoursKind, int]] = {
        s: dict.fromkeys(HoursKind, 0) for s in HoursStatus}
    for row in db.session.execute(sa.select(
            HoursLearnerTotal.kind, HoursLearnerTotal.status,
            HoursLearnerTotal.quarter_hours).where(
            HoursLearnerTotal.learner_id == learner.id)):
        by_status[row.status][row.kind] += row.quarter_hours
    verified = by_status[HoursStatus.VERIFIED]
    logged = calc.Logged(classroom=verified[HoursKind.CLASSROOM],
                         work_integrated=sum(v for k, v in verified.items()
                                             if k.work_integrated),
                         placement=verified[HoursKind.PLACEMENT])
    terms = terms_of(learner.programme)
    return LearnerHours(learner=learner, terms=terms, verified=verified,
                        pending=by_status[HoursStatus.PENDING],
                        rejected=by_status[HoursStatus.REJECTED],
                        assessment=calc.assess(logged, terms, today or today_uk()))


def learner_entries(learner: Learner, limit: int = 500) -> list[HoursEntry]:
    """Return a learner's entries, latest first."""
    return list(db.session.scalars(
        sa.select(HoursEntry).where(HoursEntry.learner_id == learner.id)
        .order_by(HoursEntry.entry_date.desc(), HoursEntry.kind).limit(limit)))


# --- dashboards -----------------------------------------------------------------------------

#: Columns of the per-learner aggregate: (kind, status) pairs summed in SQL.
_AGG_COLUMNS: tuple[tuple[HoursKind, HoursStatus], ...] = tuple(
    (k, s) for s in (HoursStatus.VERIFIED, HoursStatus.PENDING) for k in HoursKind)


@dataclass
class Dashboard:
    """Per-learner totals and statuses of a set of learners, as numpy arrays."""

    programmes: list[Programme]
    learner_ids: np.ndarray
    programme_ids: np.ndarray
    totals: dict[tuple[HoursKind, HoursStatus], np.ndarray]
    classroom: np.ndarray  # verified classroom qh per learner
    work_integrated: np.ndarray  # verified WI qh per learner
    placement: np.ndarray
    pending_classroom: np.ndarray
    pending_wi: np.ndarray
    shares: np.ndarray  # NaN where nothing logged
    status: np.ndarray  # calc status codes
    today: date
    months: list[tuple[date, int, int]] = field(default_factory=list)  # (month, cr, wi)

    @property
    def learner_count(self) -> int:
        return len(self.learner_ids)

    def status_count(self, code: int) -> int:
        return int((self.status == code).sum())

    def kind_totals(self) -> list[tuple[HoursKind, int, int]]:
        """(kind, verified qh, pending qh) for every kind."""
        return [(k, int(self.totals[(k, HoursStatus.VERIFIED)].sum()),
                 int(self.totals[(k, HoursStatus.PENDING)].sum())) for k in HoursKind]

    def distribution(self) -> list[tuple[str, int]]:
        return calc.share_distribution(self.shares)

    def median_share(self) -> float | None:
        known = self.shares[~np.isnan(self.shares)]
        return float(np.median(known)) if known.size else None

    def order(self, status_code: int | None = None) -> np.ndarray:
        """Indexes of learners, at risk first then lowest share; optionally one status."""
        share_key = np.where(np.isnan(self.shares), -1.0, self.shares)
        risk_first = np.where(self.status == calc.AT_RISK, 0,
                              np.where(self.status == calc.ON_TRACK, 1, 2))
        idx = np.lexsort((self.learner_ids, share_key, risk_first))
        if status_code is not None:
            idx = idx[self.status[idx] == status_code]
        return idx

    def cumulative_shares(self) -> list[tuple[date, float | None]]:
        """Month by month, the WI share of all verified hours logged up to that month."""
        out = []
        cr_sum = wi_sum = 0
        for month, cr, wi in self.months:
            cr_sum += cr
            wi_sum += wi
            out.append((month, calc.share(wi_sum, cr_sum)))
        return out


def dashboard(programmes: Sequence[Programme], today: date | None = None) -> Dashboard:
    """Aggregate the hours of every learner on the programmes in two SQL queries.

    One GROUP BY over the running totals gives each learner's hours by kind and status;
    statuses are then computed for all learners at once with `calc.assess_many`.
    """
    today = today or today_uk()
    programme_ids = [p.id for p in programmes]
    t = HoursLearnerTotal.__table__
    lt = Learner.__table__
    sums = [sa.func.coalesce(sa.func.sum(sa.case(
        ((t.c.kind == kind) & (t.c.status == status), t.c.quarter_hours),
        else_=0)), 0) for kind, status in _AGG_COLUMNS]
    stmt = (sa.select(lt.c.id, lt.c.programme_id, *sums)
            .select_from(lt.outerjoin(t, t.c.learner_id == lt.c.id))
            .where(lt.c.programme_id.in_(programme_ids))
            .group_by(lt.c.id, lt.c.programme_id))
    rows = db.session.execute(stmt).all()
    data = (np.array(rows, dtype=np.int64) if rows
            else np.zeros((0, 2 + len(_AGG_COLUMNS)), dtype=np.int64))
    totals = {key: data[:, 2 + i] for i, key in enumerate(_AGG_COLUMNS)}
    classroom = totals[(HoursKind.CLASSROOM, HoursStatus.VERIFIED)]
    wi = sum((totals[(k, HoursStatus.VERIFIED)] for k in HoursKind if k.work_integrated),
             np.zeros(len(rows), dtype=np.int64))
    pending_wi = sum((totals[(k, HoursStatus.PENDING)] for k in HoursKind
                      if k.work_integrated), np.zeros(len(rows), dtype=np.int64))
    placement = totals[(HoursKind.PLACEMENT, HoursStatus.VERIFIED)]
    # Programme terms, one element per learner.
    terms = {p.id: terms_of(p) for p in programmes}
    prog = data[:, 1]
    lookup = {pid: i for i, pid in enumerate(terms)}
    pos = np.array([lookup[int(p)] for p in prog], dtype=np.int64) if len(prog) else \
        np.zeros(0, dtype=np.int64)

    def per_learner(values: Iterable[int]) -> np.ndarray:
        arr = np.array(list(values), dtype=np.int64)
        return arr[pos] if len(arr) else np.zeros(0, dtype=np.int64)

    tl = list(terms.values())
    status = calc.assess_many(
        classroom, wi, placement,
        planned_qh=per_learner(x.planned_qh for x in tl),
        target_pct=per_learner(x.target_pct for x in tl),
        required_qh=per_learner(x.required_qh for x in tl),
        elapsed_days=per_learner(x.elapsed_days(today) for x in tl),
        total_days=per_learner(x.total_days for x in tl))
    return Dashboard(
        programmes=list(programmes), learner_ids=data[:, 0], programme_ids=prog,
        totals=totals, classroom=classroom, work_integrated=wi, placement=placement,
        pending_classroom=totals[(HoursKind.CLASSROOM, HoursStatus.PENDING)],
        pending_wi=pending_wi, shares=calc.shares(wi, classroom), status=status,
        today=today, months=_months(programme_ids))


def _months(programme_ids: list[int]) -> list[tuple[date, int, int]]:
    """Verified classroom and WI quarter hours per month over the programmes."""
    m = HoursProgrammeMonth
    is_classroom = m.kind == HoursKind.CLASSROOM
    rows = db.session.execute(
        sa.select(m.month, sa.func.sum(sa.case((is_classroom, m.quarter_hours), else_=0)),
                  sa.func.sum(sa.case((is_classroom, 0), else_=m.quarter_hours)))
        .where(m.programme_id.in_(programme_ids), m.status == HoursStatus.VERIFIED)
        .group_by(m.month).order_by(m.month)).all()
    return [(month, int(cr or 0), int(wi or 0)) for month, cr, wi in rows]


def provider_programmes(officer: User) -> list[Programme]:
    """Return the officer's provider's programmes."""
    return list(db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id).order_by(Programme.title)))


def learners_by_id(ids: Iterable[int]) -> dict[int, Learner]:
    """Load learners (with their user) by id in one query."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Learner).where(Learner.id.in_(ids))
                              .options(joinedload(Learner.user))).all()
    return {learner.id: learner for learner in rows}


# --- needs attention ------------------------------------------------------------------------

@dataclass
class Attention:
    """What an officer should look at: learners at risk, stale and out-of-dates entries."""

    at_risk: list[tuple[Learner, float | None]]
    at_risk_total: int
    stale: list[HoursEntry]
    stale_total: int
    outside: list[HoursEntry]
    outside_total: int


def needs_attention(officer: User, today: date | None = None, limit: int = 100) -> Attention:
    """Collect the officer's learners at risk and entries that need a decision or a look."""
    today = today or today_uk()
    board = dashboard(provider_programmes(officer), today)
    risky = board.order(calc.AT_RISK)
    learners = learners_by_id(board.learner_ids[risky[:limit]])
    at_risk = [(learners[int(board.learner_ids[i])], None if np.isnan(board.shares[i])
                else float(board.shares[i])) for i in risky[:limit]]
    cutoff = utcnow() - timedelta(days=STALE_PENDING_DAYS)
    stale_where = (HoursEntry.status == HoursStatus.PENDING, HoursEntry.created_at < cutoff,
                   Learner.provider_id == officer.provider_id)
    stale_q = sa.select(HoursEntry).join(Learner, HoursEntry.learner_id == Learner.id).where(
        *stale_where)
    stale = list(db.session.scalars(stale_q.order_by(HoursEntry.created_at).limit(limit)))
    stale_total = db.session.scalar(sa.select(sa.func.count()).select_from(
        stale_q.subquery()))
    outside_q = (sa.select(HoursEntry)
                 .join(Learner, HoursEntry.learner_id == Learner.id)
                 .join(Placement, HoursEntry.placement_id == Placement.id)
                 .join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
                 .where(Learner.provider_id == officer.provider_id,
                        HoursEntry.kind == HoursKind.PLACEMENT,
                        HoursEntry.status != HoursStatus.REJECTED,
                        sa.or_(HoursEntry.entry_date < PlacementOffer.start_date,
                               HoursEntry.entry_date > PlacementOffer.end_date)))
    outside = list(db.session.scalars(outside_q.order_by(HoursEntry.entry_date).limit(limit)))
    outside_total = db.session.scalar(sa.select(sa.func.count()).select_from(
        outside_q.subquery()))
    return Attention(at_risk=at_risk, at_risk_total=len(risky), stale=stale,
                     stale_total=stale_total, outside=outside, outside_total=outside_total)


def outside_placement_dates(entry: HoursEntry) -> bool:
    """Say whether a placement entry falls outside its placement offer's dates."""
    if entry.kind is not HoursKind.PLACEMENT or entry.placement is None:
        return False
    offer = entry.placement.offer
    return not offer.start_date <= entry.entry_date <= offer.end_date
