"""Hours services: log, verify and import hours; keep running totals; build dashboards.

Services flush, never commit. Every change to an entry's hours, kind or status goes
through `_count`, which keeps `HoursLearnerTotal` and `HoursProgrammeMonth` in step with
the entries in the same transaction, so dashboards never sum the entries themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import Grouping

from placements import audit
from placements.domain import DomainError, NotAllowed, access
from placements.domain.ksb import KsbDecision, decide_evidence
from placements.domain.lifecycle import DELETE, Lifecycle, move
from placements.extensions import db
from placements.hours import calc
from placements.models import (
    Employer,
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
from placements.models.hours import total_column
from placements.timeutil import today_uk

#: Pending entries older than this many days need an officer's attention.
STALE_PENDING_DAYS = 14
#: Placements a learner attends: published or accepted (as published; declined and
#: withdrawn ones are over). The learner logs hours against them, and their hours still to
#: come are the learner's scheduled placement hours (`calc.scheduled_qh`, `scheduled_sql`).
LOGGABLE_PLACEMENT = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)
#: Kinds a learner logs themselves (classroom hours come from the provider).
LEARNER_KINDS = (HoursKind.PLACEMENT, HoursKind.LIVE_BRIEF, HoursKind.SIMULATED,
                 HoursKind.IN_WORK)
#: Kinds an officer may import per learner (placement hours need a placement and supervisor).
IMPORT_KINDS = (HoursKind.CLASSROOM, HoursKind.LIVE_BRIEF, HoursKind.SIMULATED,
                HoursKind.IN_WORK)


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

def _insert():
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def add_to_totals(learner_id: int, programme_id: int, month: date, kind: HoursKind,
                  status: HoursStatus, quarter_hours: int, entries: int) -> None:
    """Add a change of `entries` entries holding `quarter_hours` to both running totals."""
    insert = _insert()
    column = total_column(kind, status)
    if column is not None and quarter_hours:
        t = HoursLearnerTotal.__table__
        columns = [column]
        if status is HoursStatus.PENDING:
            columns.append("pending_qh")
        elif kind.work_integrated:
            columns.append("work_integrated_qh")
        stmt = insert(t).values({"learner_id": learner_id,
                                 **dict.fromkeys(columns, quarter_hours)})
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["learner_id"],
            set_={c: t.c[c] + stmt.excluded[c] for c in columns}))
    m = HoursProgrammeMonth.__table__
    stmt = insert(m).values(programme_id=programme_id, month=month, kind=kind, status=status,
                            quarter_hours=quarter_hours, entries=entries)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["programme_id", "month", "kind", "status"],
        set_={"quarter_hours": m.c.quarter_hours + stmt.excluded.quarter_hours,
              "entries": m.c.entries + stmt.excluded.entries}))


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
    columns: list[str] = []
    sums: list[Any] = []
    for kind in HoursKind:
        for status in (HoursStatus.VERIFIED, HoursStatus.PENDING):
            columns.append(total_column(kind, status) or "")
            sums.append(sa.func.sum(sa.case(((e.c.kind == kind) & (e.c.status == status),
                                              e.c.quarter_hours), else_=0)))
    columns += ["work_integrated_qh", "pending_qh"]
    sums += [
        sa.func.sum(sa.case(((e.c.kind != HoursKind.CLASSROOM)
                             & (e.c.status == HoursStatus.VERIFIED), e.c.quarter_hours),
                            else_=0)),
        sa.func.sum(sa.case((e.c.status == HoursStatus.PENDING, e.c.quarter_hours), else_=0)),
    ]
    db.session.execute(sa.insert(HoursLearnerTotal).from_select(
        ["learner_id", *columns],
        sa.select(e.c.learner_id, *sums).group_by(e.c.learner_id)))
    month: Any
    if db.session.get_bind().dialect.name == "postgresql":
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
    return (db.session.scalar(sa.select(sa.func.count()).select_from(HoursLearnerTotal)) or 0,
            db.session.scalar(sa.select(sa.func.count()).select_from(HoursProgrammeMonth)) or 0)


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


#: The lifecycle of an hours entry: logged pending, then verified or rejected once; a
#: learner may withdraw (delete) an entry that does not count. Each decision is a
#: conditional UPDATE, so two people deciding at once cannot both move the totals.
HOURS: Lifecycle[HoursStatus] = Lifecycle("hours", HoursEntry, [
    move("verify", [HoursStatus.PENDING], HoursStatus.VERIFIED, event="verified"),
    move("reject", [HoursStatus.PENDING], HoursStatus.REJECTED, event="rejected"),
    move("withdraw", [HoursStatus.PENDING, HoursStatus.REJECTED], DELETE, event="withdrawn"),
], refusal=lambda verb, status, _sub: (
    "Verified hours cannot be withdrawn; ask your placement officer"
    if verb == "withdraw" else f"These hours are already {getattr(status, 'value', status)}"))


def max_day_qh() -> int:
    """Most quarter hours one learner may have on one day, all kinds together (setting)."""
    return int(current_app.config["HOURS_MAX_PER_DAY"]) * calc.QH


def day_total_qh(learner_id: int, day: date, *, except_kind: HoursKind | None = None) -> int:
    """Quarter hours a learner has on a day, across kinds (rejected entries do not count)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(HoursEntry.quarter_hours), 0)).where(
        HoursEntry.learner_id == learner_id, HoursEntry.entry_date == day,
        HoursEntry.status != HoursStatus.REJECTED)
    if except_kind is not None:
        stmt = stmt.where(HoursEntry.kind != except_kind)
    return int(db.session.scalar(stmt) or 0)


def _add_entry(actor: User, learner: Learner, data: EntryData, *, status: HoursStatus,
               source: HoursSource, duplicate: str) -> HoursEntry:
    """Insert one entry and count it, atomically with the daily limit and the one-entry-per-
    day-and-kind rule.

    The learner's row is locked first (PostgreSQL: concurrent requests for one learner wait
    for each other), and the day is counted again after the insert, inside the same
    transaction (SQLite holds its single write lock from the insert to the commit), so
    concurrent requests can never together pass the limit. A duplicate that slips past the
    first look is refused by the unique constraint; the caller rolls back either way.
    """
    db.session.execute(sa.select(Learner.id).where(Learner.id == learner.id).with_for_update())
    if db.session.scalar(sa.select(HoursEntry.id).where(
            HoursEntry.learner_id == learner.id, HoursEntry.entry_date == data.entry_date,
            HoursEntry.kind == data.kind)) is not None:
        raise DomainError(duplicate, field="entry_date")
    now = utcnow()
    entry = HoursEntry(learner_id=learner.id, entry_date=data.entry_date,
                       quarter_hours=data.quarter_hours, kind=data.kind,
                       note=data.note.strip(), placement_id=data.placement_id, status=status,
                       source=source, created_by_id=actor.id, created_at=now)
    if status is HoursStatus.VERIFIED:
        entry.verified_by_id, entry.verified_at = actor.id, now
    db.session.add(entry)
    try:
        db.session.flush()
    except IntegrityError:
        raise DomainError(duplicate, field="entry_date") from None
    total = day_total_qh(learner.id, data.entry_date)
    if total > max_day_qh():
        before = calc.format_hours(total - data.quarter_hours)
        raise DomainError(
            f"At most {current_app.config['HOURS_MAX_PER_DAY']} hours can be recorded for one "
            f"day, all kinds together; {before} hours are already recorded on "
            f"{_uk(data.entry_date)}", field="hours")
    _count_entry(entry, learner)
    return entry


def log_hours(user: User, data: EntryData, *, today: date | None = None) -> HoursEntry:
    """Log the signed-in learner's own work-integrated hours (pending until verified)."""
    learner = user.learner
    if user.role != Role.LEARNER or learner is None:
        raise NotAllowed("Only learners log their own hours")
    if data.kind not in LEARNER_KINDS:
        raise DomainError("Classroom hours are recorded by your provider", field="kind")
    check_entry(learner, data, today or today_uk())
    entry = _add_entry(user, learner, data, status=HoursStatus.PENDING,
                       source=HoursSource.LEARNER,
                       duplicate=f"You have already logged {data.kind.label.lower()} hours on "
                                 f"{_uk(data.entry_date)}; withdraw that entry first to "
                                 "change it")
    audit.record(user, "hours.logged", entry, learner_id=learner.id, kind=entry.kind,
                 date=entry.entry_date, quarter_hours=entry.quarter_hours)
    return entry


def record_hours(officer: User, learner: Learner, data: EntryData, *,
                 today: date | None = None) -> HoursEntry:
    """Record hours for one of the officer's learners (verified at once)."""
    if officer.role != Role.OFFICER or not access.officer_sees_learner(officer, learner):
        raise NotAllowed("You can only record hours for your own provider's learners")
    check_entry(learner, data, today or today_uk())
    entry = _add_entry(officer, learner, data, status=HoursStatus.VERIFIED,
                       source=HoursSource.OFFICER,
                       duplicate=f"{data.kind.label} hours are already recorded on "
                                 f"{_uk(data.entry_date)}")
    audit.record(officer, "hours.recorded", entry, learner_id=learner.id, kind=entry.kind,
                 date=entry.entry_date, quarter_hours=entry.quarter_hours)
    return entry


def withdraw_entry(user: User, entry: HoursEntry) -> None:
    """Let a learner take back one of their own pending or rejected entries."""
    learner = user.learner
    if learner is None or entry.learner_id != learner.id:
        raise NotAllowed("You can only withdraw your own hours")
    counted = (entry.learner_id, learner.programme_id, entry.entry_date, entry.kind,
               entry.status, entry.quarter_hours)
    HOURS.apply(entry, "withdraw", actor=user, learner_id=learner.id, kind=entry.kind,
                date=entry.entry_date, quarter_hours=entry.quarter_hours)
    _count(*counted, sign=-1)


# --- verification ---------------------------------------------------------------------------

def can_verify(user: User | access.SupervisorScope, entry: HoursEntry) -> bool:
    """Say whether the user may verify or reject this entry (`domain.access`; a supervisor's
    e-mailed link, `access.SupervisorScope`, covers its one placement's entries)."""
    return access.may_verify_hours(user, entry)


def _decider(user: User | access.SupervisorScope) -> tuple[User | None, dict[str, Any]]:
    """The audit actor and detail of whoever decides (a supervisor has no account)."""
    if isinstance(user, access.SupervisorScope):
        return None, {"supervisor_id": user.supervisor_id, "supervisor": user.name,
                      "address": user.address}
    return user, {}


def _decide(user: User | access.SupervisorScope, entry: HoursEntry, verb: str,
            reason: str | None) -> None:
    """Verify or reject a pending entry once: the totals move only for the one decision that
    changed the row (a concurrent second decision is refused and changes nothing)."""
    if not can_verify(user, entry):
        raise NotAllowed("You cannot verify these hours")
    learner = entry.learner
    before = entry.status
    actor, detail = _decider(user)
    HOURS.apply(entry, verb, actor=actor, learner_id=entry.learner_id, reason=reason,
                values={"verified_by_id": actor.id if actor is not None else None,
                        "verified_at": utcnow(), "reject_reason": reason}, **detail)
    _count(learner.id, learner.programme_id, entry.entry_date, entry.kind, before,
           entry.quarter_hours, -1)
    _count(learner.id, learner.programme_id, entry.entry_date, entry.kind, entry.status,
           entry.quarter_hours)
    db.session.flush()


def verify_entry(user: User | access.SupervisorScope, entry: HoursEntry,
                 ksbs: KsbDecision | None = None) -> None:
    """Confirm a learner's pending hours so they count; with `ksbs`, also the KSBs the
    learner tagged on them, as the verifier ticked them (`domain.ksb.decide_evidence`: in
    the same transaction, refused if the tags changed since the verifier saw them)."""
    _decide(user, entry, "verify", None)
    if ksbs is not None:
        decide_evidence(user, entry, ksbs)


def reject_entry(user: User | access.SupervisorScope, entry: HoursEntry, reason: str) -> None:
    """Turn down a learner's pending hours, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter the reason you are rejecting these hours", field="reason")
    _decide(user, entry, "reject", reason)


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

def _offer_label(offer: PlacementOffer) -> str:
    return f"{offer.title}, {offer.employer.name}"


def schedules(learner_ids: Iterable[int]) -> dict[int, list[calc.Scheduled]]:
    """The placements each learner attends (`LOGGABLE_PLACEMENT`, as published), in bulk."""
    ids = sorted({int(i) for i in learner_ids})
    out: dict[int, list[calc.Scheduled]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            sa.select(Placement.learner_id, PlacementOffer.start_date, PlacementOffer.end_date,
                      PlacementOffer.hours_per_week, PlacementOffer.title, Employer.name)
            .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(Placement.learner_id.in_(ids[start:start + 500]),
                   Placement.status.in_(LOGGABLE_PLACEMENT))
            .order_by(Placement.learner_id, PlacementOffer.start_date, Placement.id))
        for learner_id, first, last, per_week, title, employer in rows:
            out[learner_id].append(calc.Scheduled(first, last, per_week, title, employer))
    return dict(out)


def pending_changes(learner_ids: Iterable[int], today: date) -> dict[int, list[calc.Change]]:
    """Moves and removals decided for the placements learners attend, not yet published."""
    ids = sorted({int(i) for i in learner_ids})
    out: dict[int, list[calc.Change]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        placements = db.session.scalars(
            sa.select(Placement).where(Placement.learner_id.in_(ids[start:start + 500]),
                                       Placement.status.in_(LOGGABLE_PLACEMENT),
                                       Placement.pending_change.is_not(None))
            .options(joinedload(Placement.offer).joinedload(PlacementOffer.employer),
                     joinedload(Placement.pending_offer).joinedload(PlacementOffer.employer),
                     joinedload(Placement.learner).joinedload(Learner.programme))
            .order_by(Placement.learner_id, Placement.id))
        for p in placements:
            offer = p.offer
            now = calc.scheduled_qh(calc.Scheduled(offer.start_date, offer.end_date,
                                                   offer.hours_per_week),
                                    terms_of(p.learner.programme), today)
            to = _offer_label(p.pending_offer) if p.pending_offer is not None else ""
            out[p.learner_id].append(calc.Change(str(p.pending_change), _offer_label(offer),
                                                 to, now))
    return dict(out)


def waiting_counts(learner_ids: Iterable[int] | None = None, *,
                   provider_id: int | None = None) -> dict[int, int]:
    """Entries per learner waiting for verification for more than STALE_PENDING_DAYS days."""
    cutoff = utcnow() - timedelta(days=STALE_PENDING_DAYS)
    stmt = (sa.select(HoursEntry.learner_id, sa.func.count())
            .where(HoursEntry.status == HoursStatus.PENDING, HoursEntry.created_at < cutoff)
            .group_by(HoursEntry.learner_id))
    if provider_id is not None:
        stmt = stmt.join(Learner, Learner.id == HoursEntry.learner_id).where(
            Learner.provider_id == provider_id)
    if learner_ids is not None:
        ids = sorted({int(i) for i in learner_ids})
        if not ids:
            return {}
        out: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            out.update((lid, int(n)) for lid, n in db.session.execute(stmt.where(
                HoursEntry.learner_id.in_(ids[start:start + 500]))))
        return out
    return {lid: int(n) for lid, n in db.session.execute(stmt)}


@dataclass
class LearnerHours:
    """A learner's totals by kind and status, their schedule, assessment and reasons."""

    learner: Learner
    terms: calc.ProgrammeTerms
    verified: dict[HoursKind, int]
    pending: dict[HoursKind, int]
    rejected: dict[HoursKind, int]
    assessment: calc.Assessment
    schedule: list[calc.Scheduled] = field(default_factory=list)
    reasons: list[calc.Reason] = field(default_factory=list)
    today: date | None = None

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

    @property
    def learner_reasons(self) -> list[calc.Reason]:
        """The reasons a learner is told (pending changes are the officer's to publish)."""
        return [r for r in self.reasons if not r.officer_only]

    def scheduled_rows(self) -> list[tuple[calc.Scheduled, int, int]]:
        """Each placement the learner attends with its weekdays and quarter hours to come."""
        today = self.today or today_uk()
        return [(p, calc.scheduled_days(p, self.terms, today),
                 calc.scheduled_qh(p, self.terms, today)) for p in self.schedule]


def learner_hours(learner: Learner, today: date | None = None) -> LearnerHours:
    """Return one learner's totals by kind and status, assessment and reasons."""
    today = today or today_uk()
    by_status: dict[HoursStatus, dict[HoursKind, int]] = {
        s: dict.fromkeys(HoursKind, 0) for s in HoursStatus}
    for kind, status, qh in db.session.execute(
            sa.select(HoursEntry.kind, HoursEntry.status, sa.func.sum(HoursEntry.quarter_hours))
            .where(HoursEntry.learner_id == learner.id)
            .group_by(HoursEntry.kind, HoursEntry.status)):
        by_status[status][kind] = int(qh)
    verified = by_status[HoursStatus.VERIFIED]
    logged = calc.Logged(classroom=verified[HoursKind.CLASSROOM],
                         work_integrated=sum(v for k, v in verified.items()
                                             if k.work_integrated),
                         placement=verified[HoursKind.PLACEMENT])
    terms = terms_of(learner.programme)
    schedule = schedules([learner.id]).get(learner.id, [])
    assessment = calc.assess(logged, terms, today, schedule)
    why = calc.reasons(assessment, terms,
                       waiting=waiting_counts([learner.id]).get(learner.id, 0),
                       waiting_days=STALE_PENDING_DAYS,
                       changes=pending_changes([learner.id], today).get(learner.id, []))
    return LearnerHours(learner=learner, terms=terms, verified=verified,
                        pending=by_status[HoursStatus.PENDING],
                        rejected=by_status[HoursStatus.REJECTED],
                        assessment=assessment, schedule=schedule, reasons=why, today=today)


def learner_entries(learner: Learner, limit: int = 500) -> list[HoursEntry]:
    """Return a learner's entries, latest first."""
    return list(db.session.scalars(
        sa.select(HoursEntry).where(HoursEntry.learner_id == learner.id)
        .order_by(HoursEntry.entry_date.desc(), HoursEntry.kind).limit(limit)))


# --- dashboards -----------------------------------------------------------------------------
#
# A dashboard never sums entries: it reads one `HoursLearnerTotal` row per learner and
# the small `HoursProgrammeMonth` table. Status and share band are evaluated in SQL with the
# rule of `calc.assess` (programme terms bound as constants), so only counts and one page
# of learners come back to Python. Queries run per programme (never per learner).

_WI_KINDS = [k for k in HoursKind if k.work_integrated]


def _day_number_sql(column: Any) -> Any:
    """SQL for `calc.day_number` of a date column: days from 1 January 1970."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column - sa.cast(sa.literal(date(1970, 1, 1)), sa.Date)
    return sa.cast(sa.func.julianday(column) - 2440587.5, sa.Integer)


def _int_op(op: str, left: Any, right: Any) -> Any:
    """`left op right` for "/" (integer division: both operands are non-negative integers)
    or "%", bracketed on both sides whatever the operands are."""
    if op == "%":
        return Grouping(Grouping(left) % right)
    return Grouping(Grouping(left).op(op)(right))


def _weekdays_before_sql(days_since_monday_epoch: Any) -> Any:
    """SQL for `calc._weekdays_before`."""
    rest = _int_op("%", days_since_monday_epoch, 7)
    return (calc.WEEKDAYS * _int_op("/", days_since_monday_epoch, 7)
            + sa.case((rest > calc.WEEKDAYS, calc.WEEKDAYS), else_=rest))


def scheduled_sql(programme: Programme, today: date) -> sa.Subquery:
    """Per learner of the programme who attends a placement: the scheduled placement quarter
    hours still to come (`calc.scheduled_qh` summed over `schedules`), in SQL.

    The window (after today, up to the programme's end) is the same for every learner of the
    programme, so each offer's hours are worked out once (a materialised CTE), then added up
    per learner.
    """
    epoch = calc.day_number(calc.MONDAY_EPOCH)  # negative: days are counted from Monday
    first_day = calc.day_number(today + timedelta(days=1))
    last_day = calc.day_number(programme.end_date)
    visible = [s.value for s in LOGGABLE_PLACEMENT]
    offer_ids = (sa.select(Placement.offer_id)
                 .join(Learner, Learner.id == Placement.learner_id)
                 .where(Learner.programme_id == programme.id, Placement.status.in_(visible))
                 .distinct().subquery("offer_ids"))
    start = _day_number_sql(PlacementOffer.start_date)
    end = _day_number_sql(PlacementOffer.end_date)
    spans = (sa.select(
        PlacementOffer.id.label("offer_id"),
        PlacementOffer.hours_per_week.label("per_week"),
        sa.case((start > first_day, start), else_=first_day).label("first"),
        sa.case((end < last_day, end), else_=last_day).label("last"))
        .join(offer_ids, offer_ids.c.offer_id == PlacementOffer.id)).subquery("spans")
    days = sa.case((spans.c.last < spans.c.first, 0), else_=(
        _weekdays_before_sql(spans.c.last - epoch + 1)
        - _weekdays_before_sql(spans.c.first - epoch)))
    per_offer = sa.select(
        spans.c.offer_id,
        _int_op("/", spans.c.per_week * calc.QH * days, calc.WEEKDAYS).label("qh"),
    ).cte(f"scheduled_per_offer_{programme.id}").prefix_with("MATERIALIZED")
    return (sa.select(Placement.learner_id, sa.func.sum(per_offer.c.qh).label("sched"))
            .join(Learner, Learner.id == Placement.learner_id)
            .join(per_offer, per_offer.c.offer_id == Placement.offer_id)
            .where(Learner.programme_id == programme.id, Placement.status.in_(visible))
            .group_by(Placement.learner_id)).subquery("scheduled")


def _learner_totals(programme: Programme, today: date) -> sa.Subquery:
    """Per learner of the programme: verified classroom, WI, placement, pending and scheduled
    placement quarter hours (0 when the learner has no entries or no placement)."""
    t = HoursLearnerTotal.__table__
    lt = Learner.__table__
    sched = scheduled_sql(programme, today)
    return (sa.select(lt.c.id.label("learner_id"),
                      sa.func.coalesce(t.c.classroom_qh, 0).label("cr"),
                      sa.func.coalesce(t.c.work_integrated_qh, 0).label("wi"),
                      sa.func.coalesce(t.c.placement_qh, 0).label("pl"),
                      sa.func.coalesce(t.c.pending_qh, 0).label("pending"),
                      sa.func.coalesce(sched.c.sched, 0).label("sched"))
            .select_from(lt.outerjoin(t, t.c.learner_id == lt.c.id)
                         .outerjoin(sched, sched.c.learner_id == lt.c.id))
            .where(lt.c.programme_id == programme.id)).subquery("totals")


def status_sql(cr, wi, pl, sched, terms: calc.ProgrammeTerms, today: date):
    """SQL for `calc.assess(...).status` as its index in `calc.STATUS_CODES` (`sched`: the
    scheduled placement quarter hours still to come)."""
    d, e = terms.total_days, terms.elapsed_days(today)
    planned, target, required = terms.planned_qh, terms.target_pct, terms.required_qh
    met = 100 * wi >= target * planned
    if required:
        met = met & (pl >= required)
    whens = [(met, calc.MET)]
    if e > 0:
        projected_placement = pl + sched
        projected_wi = projected_placement + _int_op("/", (wi - pl) * d, e)
        projected_total = projected_wi + cr + terms.planned_classroom_qh * (d - e) // d
        denominator = sa.case((projected_total > planned, projected_total), else_=planned)
        short = 100 * projected_wi < target * denominator
        if required:
            short = short | (projected_placement < required)
        whens.append((short, calc.AT_RISK))
    return sa.case(*whens, else_=calc.ON_TRACK)


def pct_sql(cr, wi):
    """SQL for the whole percent of WI hours, floor(100 * WI / total); NULL when no hours."""
    return (100 * wi).op("/")(sa.func.nullif(wi + cr, 0))  # integer division, no FLOOR()


def _scored(programme: Programme, today: date) -> sa.Subquery:
    x = _learner_totals(programme, today)
    terms = terms_of(programme)
    status = status_sql(x.c.cr, x.c.wi, x.c.pl, x.c.sched, terms, today)
    return sa.select(
        x.c.learner_id, x.c.cr, x.c.wi, x.c.pl, x.c.pending, x.c.sched,
        status.label("status"), pct_sql(x.c.cr, x.c.wi).label("pct"),
    ).subquery("scored")


@dataclass
class Board:
    """Counts, share distribution, totals by kind and trend of some programmes."""

    programmes: list[Programme]
    today: date
    status_counts: dict[int, int]
    band_counts: dict[int, int]
    kind_totals: list[tuple[HoursKind, int, int]]  # (kind, verified qh, pending qh)
    months: list[tuple[date, int, int]]  # (month, verified classroom qh, verified WI qh)
    per_programme: dict[int, dict[int, int]] = field(default_factory=dict)

    @property
    def learner_count(self) -> int:
        return sum(self.status_counts.values())

    def status_count(self, code: int) -> int:
        return self.status_counts.get(code, 0)

    def distribution(self) -> list[tuple[str, int]]:
        """(band label, learners), the no-hours band first."""
        return [("No hours yet", self.band_counts.get(calc.NO_HOURS_BAND, 0))] + [
            (label, self.band_counts.get(i, 0)) for i, (label, _) in
            enumerate(calc.SHARE_BANDS)]

    def overall_share(self) -> float | None:
        """WI share of all verified hours of all the learners together."""
        cr = sum(v for k, v, _ in self.kind_totals if k is HoursKind.CLASSROOM)
        wi = sum(v for k, v, _ in self.kind_totals if k.work_integrated)
        return calc.share(wi, cr)

    def cumulative_shares(self) -> list[tuple[date, float | None]]:
        """Month by month, the WI share of all verified hours logged up to that month."""
        out = []
        cr_sum = wi_sum = 0
        for month, cr, wi in self.months:
            cr_sum += cr
            wi_sum += wi
            out.append((month, calc.share(wi_sum, cr_sum)))
        return out


def _counts(programme: Programme, today: date) -> list[tuple[int, int, int]]:
    """(status code, share band, learners) of one programme, from one GROUP BY.

    SQL groups by status and whole percent (at most 3 x 102 rows); the percents are put
    in bands here: floor(100 * WI / total) >= low exactly when 100 * WI >= low * total.
    """
    y = _scored(programme, today)
    out: dict[tuple[int, int], int] = defaultdict(int)
    for status, pct, n in db.session.execute(
            sa.select(y.c.status, y.c.pct, sa.func.count()).group_by(y.c.status, y.c.pct)):
        band = calc.NO_HOURS_BAND if pct is None else calc.share_band(int(pct),
                                                                      100 - int(pct))
        out[(status, band)] += n
    return [(status, band, n) for (status, band), n in out.items()]


def board(programmes: Sequence[Programme], today: date | None = None) -> Board:
    """Aggregate the programmes' hours: one counting query per programme, two small ones."""
    today = today or today_uk()
    status_counts: dict[int, int] = defaultdict(int)
    band_counts: dict[int, int] = defaultdict(int)
    per_programme: dict[int, dict[int, int]] = {}
    for programme in programmes:
        counts = {calc.ON_TRACK: 0, calc.AT_RISK: 0, calc.MET: 0}
        for code, band, n in _counts(programme, today):
            status_counts[code] += n
            band_counts[band] += n
            counts[code] += n
        per_programme[programme.id] = counts
    ids = [p.id for p in programmes]
    m = HoursProgrammeMonth
    kinds: dict[tuple[HoursKind, HoursStatus], int] = defaultdict(int)
    for kind, status, qh in db.session.execute(
            sa.select(m.kind, m.status, sa.func.sum(m.quarter_hours))
            .where(m.programme_id.in_(ids)).group_by(m.kind, m.status)):
        kinds[(kind, status)] = int(qh or 0)
    return Board(
        programmes=list(programmes), today=today, status_counts=dict(status_counts),
        band_counts=dict(band_counts),
        kind_totals=[(k, kinds[(k, HoursStatus.VERIFIED)], kinds[(k, HoursStatus.PENDING)])
                     for k in HoursKind],
        months=_months(ids), per_programme=per_programme)


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


@dataclass(frozen=True)
class LearnerRow:
    """One learner's line in a dashboard table or export."""

    learner_id: int
    classroom: int
    work_integrated: int
    placement: int
    pending: int
    status: calc.Status
    scheduled: int = 0  #: placement quarter hours still to come

    @property
    def share(self) -> float | None:
        return calc.share(self.work_integrated, self.classroom)


def learner_rows(programme: Programme, today: date | None = None, *,
                 status: int | None = None, limit: int | None = None,
                 offset: int = 0) -> list[LearnerRow]:
    """Learners of a programme, at risk first then lowest share, optionally one status."""
    y = _scored(programme, today or today_uk())
    share = sa.cast(y.c.wi, sa.Float) / sa.func.nullif(y.c.wi + y.c.cr, 0)
    stmt = sa.select(y).order_by(y.c.status, sa.nulls_first(share.asc()), y.c.learner_id)
    if status is not None:
        stmt = stmt.where(y.c.status == status)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [LearnerRow(r.learner_id, int(r.cr), int(r.wi), int(r.pl), int(r.pending),
                       calc.STATUS_CODES[r.status], int(r.sched))
            for r in db.session.execute(stmt)]


def provider_programmes(officer: User) -> list[Programme]:
    """Return the officer's provider's programmes."""
    return list(db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id).order_by(Programme.title)))


def learners_by_id(ids: Iterable[int]) -> dict[int, Learner]:
    """Load learners (with their user) by id in one query per 500."""
    ids = [int(i) for i in ids]
    found: dict[int, Learner] = {}
    for start in range(0, len(ids), 500):
        for learner in db.session.scalars(
                sa.select(Learner).where(Learner.id.in_(ids[start:start + 500]))
                .options(joinedload(Learner.user))):
            found[learner.id] = learner
    return found


# --- needs attention ------------------------------------------------------------------------

@dataclass
class AttentionRow:
    """One learner an officer should look at, with every reason in the officer's words."""

    learner: Learner
    status: calc.Status
    assessment: calc.Assessment
    reasons: list[calc.Reason]


@dataclass
class Attention:
    """What an officer should look at: learners with their reasons, stale and out-of-date
    entries."""

    learners: list[AttentionRow]
    learners_total: int
    at_risk_total: int
    page: int
    pages: int
    stale: list[HoursEntry]
    stale_total: int
    outside: list[HoursEntry]
    outside_total: int


def assess_learners(learners: Sequence[Learner], today: date
                    ) -> dict[int, tuple[calc.Assessment, calc.ProgrammeTerms]]:
    """`calc.assess` for many learners at once (their totals and schedules in bulk)."""
    ids = [lr.id for lr in learners]
    totals: dict[int, HoursLearnerTotal] = {}
    for start in range(0, len(ids), 500):
        totals.update((t.learner_id, t) for t in db.session.scalars(
            sa.select(HoursLearnerTotal).where(
                HoursLearnerTotal.learner_id.in_(ids[start:start + 500]))))
    plans = schedules(ids)
    out = {}
    for learner in learners:
        t = totals.get(learner.id)
        logged = calc.Logged(t.classroom_qh, t.work_integrated_qh, t.placement_qh) \
            if t is not None else calc.Logged()
        terms = terms_of(learner.programme)
        out[learner.id] = (calc.assess(logged, terms, today, plans.get(learner.id, [])),
                           terms)
    return out


def _at_risk_ids(programmes: Sequence[Programme], today: date) -> list[int]:
    """Ids of the programmes' learners at risk (the SQL rule), lowest share first."""
    found: list[tuple[int, int]] = []
    for programme in programmes:
        y = _scored(programme, today)
        found.extend((-1 if pct is None else int(pct), lid) for lid, pct in db.session.execute(
            sa.select(y.c.learner_id, y.c.pct).where(y.c.status == calc.AT_RISK)))
    return [lid for _, lid in sorted(found)]


def needs_attention(officer: User, today: date | None = None, *, page: int = 1,
                    per_page: int = 50, limit: int = 100) -> Attention:
    """Collect the officer's learners who need attention, each with the reasons why (at risk,
    entries waiting too long, a removal waiting to be published), and the entries that need a
    decision or a look."""
    today = today or today_uk()
    at_risk = _at_risk_ids(provider_programmes(officer), today)
    waiting = waiting_counts(provider_id=officer.provider_id)
    removals = list(db.session.scalars(
        sa.select(Placement.learner_id).join(Learner, Learner.id == Placement.learner_id)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.provider_id == officer.provider_id, Programme.placement_mandated,
               Placement.status.in_(LOGGABLE_PLACEMENT),
               Placement.pending_change == "removal")))
    order = list(dict.fromkeys([*at_risk, *sorted(waiting), *sorted(removals)]))
    # A pending removal alone lists a learner only when they have not met the hours.
    removal_only = [lid for lid in removals if lid not in set(at_risk) and lid not in waiting]
    if removal_only:
        met = {lid for lid, (a, _) in assess_learners(
            list(learners_by_id(removal_only).values()), today).items()
            if a.status is calc.Status.MET}
        order = [lid for lid in order if lid not in met]
    pages = max(1, -(-len(order) // per_page))
    page = min(max(1, page), pages)
    shown = order[(page - 1) * per_page:page * per_page]
    learners = learners_by_id(shown)
    assessed = assess_learners([learners[i] for i in shown], today)
    changes = pending_changes(shown, today)
    rows = []
    for lid in shown:
        assessment, terms = assessed[lid]
        rows.append(AttentionRow(learners[lid], assessment.status, assessment, calc.reasons(
            assessment, terms, waiting=waiting.get(lid, 0), waiting_days=STALE_PENDING_DAYS,
            changes=changes.get(lid, []))))
    cutoff = utcnow() - timedelta(days=STALE_PENDING_DAYS)
    stale_q = sa.select(HoursEntry).join(Learner, HoursEntry.learner_id == Learner.id).where(
        HoursEntry.status == HoursStatus.PENDING, HoursEntry.created_at < cutoff,
        Learner.provider_id == officer.provider_id)
    stale = list(db.session.scalars(stale_q.order_by(HoursEntry.created_at).limit(limit)))
    stale_total = sum(waiting.values())  # the same entries, counted per learner
    # Found without ORDER BY ... LIMIT (which would lead SQLite down the entry date index
    # through every entry), then the first ones loaded in date order.
    found = sorted(db.session.execute(
        sa.select(HoursEntry.entry_date, HoursEntry.id)
        .join(Learner, HoursEntry.learner_id == Learner.id)
        .join(Placement, HoursEntry.placement_id == Placement.id)
        .join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
        .where(Learner.provider_id == officer.provider_id,
               HoursEntry.kind == HoursKind.PLACEMENT,
               HoursEntry.status != HoursStatus.REJECTED,
               sa.or_(HoursEntry.entry_date < PlacementOffer.start_date,
                      HoursEntry.entry_date > PlacementOffer.end_date))).all())
    first = [entry_id for _, entry_id in found[:limit]]
    outside = sorted(db.session.scalars(sa.select(HoursEntry).where(
        HoursEntry.id.in_(first))), key=lambda e: (e.entry_date, e.id)) if first else []
    outside_total = len(found)
    return Attention(learners=rows, learners_total=len(order), at_risk_total=len(at_risk),
                     page=page, pages=pages, stale=stale, stale_total=stale_total or 0,
                     outside=outside, outside_total=outside_total or 0)


def outside_placement_dates(entry: HoursEntry) -> bool:
    """Say whether a placement entry falls outside its placement offer's dates."""
    if entry.kind is not HoursKind.PLACEMENT or entry.placement is None:
        return False
    offer = entry.placement.offer
    return not offer.start_date <= entry.entry_date <= offer.end_date
