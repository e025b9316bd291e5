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

from placements import audit
from placements.domain import DomainError, NotAllowed, access
from placements.domain.ksb import KsbDecision, decide_evidence
from placements.domain.lifecycle import DELETE, Lifecycle, move
from placements.extensions import db
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
from placements.models.hours import total_column
from placements.timeutil import today_uk

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

def can_verify(user: User, entry: HoursEntry) -> bool:
    """Say whether the user may verify or reject this entry (`domain.access`)."""
    return access.may_verify_hours(user, entry)


def _decide(user: User, entry: HoursEntry, verb: str, reason: str | None) -> None:
    """Verify or reject a pending entry once: the totals move only for the one decision that
    changed the row (a concurrent second decision is refused and changes nothing)."""
    if not can_verify(user, entry):
        raise NotAllowed("You cannot verify these hours")
    learner = entry.learner
    before = entry.status
    HOURS.apply(entry, verb, actor=user, learner_id=entry.learner_id, reason=reason,
                values={"verified_by_id": user.id, "verified_at": utcnow(),
                        "reject_reason": reason})
    _count(learner.id, learner.programme_id, entry.entry_date, entry.kind, before,
           entry.quarter_hours, -1)
    _count(learner.id, learner.programme_id, entry.entry_date, entry.kind, entry.status,
           entry.quarter_hours)
    db.session.flush()


def verify_entry(user: User, entry: HoursEntry, ksbs: KsbDecision | None = None) -> None:
    """Confirm a learner's pending hours so they count; with `ksbs`, also the KSBs the
    learner tagged on them, as the verifier ticked them (`domain.ksb.decide_evidence`: in
    the same transaction, refused if the tags changed since the verifier saw them)."""
    _decide(user, entry, "verify", None)
    if ksbs is not None:
        decide_evidence(user, entry, ksbs)


def reject_entry(user: User, entry: HoursEntry, reason: str) -> None:
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
    """Return one learner's totals by kind and status and their assessment."""
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
#
# A dashboard never sums entries: it reads one `HoursLearnerTotal` row per learner and
# the small `HoursProgrammeMonth` table. Status and share band are evaluated in SQL with the
# rule of `calc.assess` (programme terms bound as constants), so only counts and one page
# of learners come back to Python. Queries run per programme (never per learner).

_WI_KINDS = [k for k in HoursKind if k.work_integrated]


def _learner_totals(programme: Programme) -> sa.Subquery:
    """Per learner of the programme: verified classroom, WI, placement and pending qh.

    Learners with no totals row (no entries yet) come back with NULLs and `has_totals`
    NULL; callers treat them as zero hours (no COALESCE here: SQLite would evaluate it at
    every reference in the status expression).
    """
    t = HoursLearnerTotal.__table__
    lt = Learner.__table__
    return (sa.select(lt.c.id.label("learner_id"), t.c.learner_id.label("has_totals"),
                      t.c.classroom_qh.label("cr"), t.c.work_integrated_qh.label("wi"),
                      t.c.placement_qh.label("pl"), t.c.pending_qh.label("pending"))
            .select_from(lt.outerjoin(t, t.c.learner_id == lt.c.id))
            .where(lt.c.programme_id == programme.id)).subquery("totals")


def status_sql(cr, wi, pl, terms: calc.ProgrammeTerms, today: date):
    """SQL for `calc.assess(...).status` as its index in `calc.STATUS_CODES`."""
    d, e = terms.total_days, terms.elapsed_days(today)
    planned, target, required = terms.planned_qh, terms.target_pct, terms.required_qh
    met = 100 * wi >= target * planned
    if required:
        met = met & (pl >= required)
    whens = [(met, calc.MET)]
    if e > 0:
        logged_total = (wi + cr) * d
        denominator = sa.case((logged_total > planned * e, logged_total), else_=planned * e)
        short = 100 * d * wi < target * denominator
        if required:
            short = short | (d * pl < required * e)
        whens.append((short, calc.AT_RISK))
    return sa.case(*whens, else_=calc.ON_TRACK)


def pct_sql(cr, wi):
    """SQL for the whole percent of WI hours, floor(100 * WI / total); NULL when no hours."""
    return (100 * wi).op("/")(sa.func.nullif(wi + cr, 0))  # integer division, no FLOOR()


def _scored(programme: Programme, today: date) -> sa.Subquery:
    x = _learner_totals(programme)
    terms = terms_of(programme)
    no_hours = calc.STATUS_CODES.index(calc.assess(calc.Logged(), terms, today).status)
    status = sa.case((x.c.has_totals.is_(None), no_hours),
                     else_=status_sql(x.c.cr, x.c.wi, x.c.pl, terms, today))
    return sa.select(
        x.c.learner_id, x.c.cr, x.c.wi, x.c.pl, x.c.pending, status.label("status"),
        pct_sql(x.c.cr, x.c.wi).label("pct"),
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
    return [LearnerRow(r.learner_id, r.cr or 0, r.wi or 0, r.pl or 0, r.pending or 0,
                       calc.STATUS_CODES[r.status]) for r in db.session.execute(stmt)]


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
class Attention:
    """What an officer should look at: learners at risk, stale and out-of-dates entries."""

    at_risk: list[tuple[Learner, LearnerRow]]
    at_risk_total: int
    stale: list[HoursEntry]
    stale_total: int
    outside: list[HoursEntry]
    outside_total: int


def needs_attention(officer: User, today: date | None = None, limit: int = 100) -> Attention:
    """Collect the officer's learners at risk and entries that need a decision or a look."""
    today = today or today_uk()
    risky: list[LearnerRow] = []
    total = 0
    for programme in provider_programmes(officer):
        rows = learner_rows(programme, today, status=calc.AT_RISK, limit=limit)
        risky.extend(rows)
        total += sum(n for status, _, n in _counts(programme, today)
                     if status == calc.AT_RISK)
    risky.sort(key=lambda r: (-1.0 if r.share is None else r.share, r.learner_id))
    risky = risky[:limit]
    learners = learners_by_id(r.learner_id for r in risky)
    cutoff = utcnow() - timedelta(days=STALE_PENDING_DAYS)
    stale_q = sa.select(HoursEntry).join(Learner, HoursEntry.learner_id == Learner.id).where(
        HoursEntry.status == HoursStatus.PENDING, HoursEntry.created_at < cutoff,
        Learner.provider_id == officer.provider_id)
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
    return Attention(at_risk=[(learners[r.learner_id], r) for r in risky],
                     at_risk_total=total, stale=stale, stale_total=stale_total or 0,
                     outside=outside, outside_total=outside_total or 0)


def outside_placement_dates(entry: HoursEntry) -> bool:
    """Say whether a placement entry falls outside its placement offer's dates."""
    if entry.kind is not HoursKind.PLACEMENT or entry.placement is None:
        return False
    offer = entry.placement.offer
    return not offer.start_date <= entry.entry_date <= offer.end_date
