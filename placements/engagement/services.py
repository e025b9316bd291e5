"""Engagement services: track employers and prospects through the pipeline, log activities.

Records, their contacts and activity belong to a provider and are shared within its
partnership only (`domain.access.officer_sees_engagement`): every function here works in the
officer's partnership. Functions flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError, NotAllowed, access
from placements.extensions import db
from placements.insights import calc
from placements.insights.services import area_label, area_names
from placements.models import (
    ActivityKind,
    Employer,
    EmployerEngagement,
    EmployerSite,
    EngagementActivity,
    EngagementStage,
    OfferStatus,
    PlacementOffer,
    Role,
    User,
    utcnow,
)
from placements.reference import routes

STAGES: list[EngagementStage] = list(EngagementStage)


def _check_officer(user: User) -> None:
    if user is None or user.role != Role.OFFICER:
        raise NotAllowed("Only placement officers can manage employer engagement")


def _check_record(officer: User, record: EmployerEngagement) -> None:
    _check_officer(officer)
    if not access.officer_sees_engagement(officer, record):
        raise NotAllowed("That organisation is not in your partnership's pipeline")


def scoped(officer: User) -> sa.Select[EmployerEngagement]:
    """Select the records the officer's partnership shares."""
    return sa.select(EmployerEngagement).where(access.officer_engagement_sql(officer))


def get_record(officer: User, record_id: int) -> EmployerEngagement | None:
    """One record of the officer's partnership, or None."""
    record = db.session.get(EmployerEngagement, record_id)
    if record is None or not access.officer_sees_engagement(officer, record):
        return None
    return record


def get_activity(officer: User, activity_id: int) -> EngagementActivity | None:
    """One activity of a record of the officer's partnership, or None."""
    activity = db.session.get(EngagementActivity, activity_id)
    if activity is None or not access.officer_sees_engagement(officer, activity.engagement):
        return None
    return activity


def normalise_area(raw: str | None) -> str:
    """Return an upper-case postcode area we know ("" for none); raise DomainError if not."""
    area = calc.postcode_area((raw or "").strip())
    if (raw or "").strip() and (not area or area not in area_names()):
        raise DomainError("Enter a postcode area we know, such as M, SK or BL",
                          field="postcode_area")
    return area


def _name_taken(officer: User, name: str, *, exclude_id: int | None = None) -> bool:
    stmt = scoped(officer).with_only_columns(EmployerEngagement.id).where(
        sa.func.lower(EmployerEngagement.name) == name.strip().lower())
    if exclude_id is not None:
        stmt = stmt.where(EmployerEngagement.id != exclude_id)
    return db.session.scalar(stmt) is not None


@dataclass(frozen=True)
class ProspectData:
    """What an officer knows about an organisation not registered yet."""

    name: str
    sector: str
    postcode_area: str = ""
    contact_name: str = ""
    contact_email: str = ""
    stage: EngagementStage = EngagementStage.PROSPECT


def add_prospect(officer: User, data: ProspectData) -> EmployerEngagement:
    """Add an organisation that is not registered yet to the pipeline."""
    _check_officer(officer)
    name = data.name.strip()
    if not name:
        raise DomainError("Enter the organisation's name", field="name")
    if data.sector not in routes():
        raise DomainError("Choose a sector from the list", field="sector")
    if _name_taken(officer, name):
        raise DomainError(f"{name} is already in the pipeline", field="name")
    if db.session.scalar(sa.select(Employer.id).where(
            sa.func.lower(Employer.name) == name.lower())):
        raise DomainError(f"{name} has already registered: start tracking registered "
                          "employers from the board instead", field="name")
    record = EmployerEngagement(
        name=name, sector=data.sector, postcode_area=normalise_area(data.postcode_area),
        contact_name=data.contact_name.strip(), contact_email=data.contact_email.strip().lower(),
        stage=data.stage, stage_changed_at=utcnow(), owner_id=officer.id,
        created_by_id=officer.id, provider_id=officer.provider_id)
    db.session.add(record)
    db.session.flush()
    audit.record(officer, "engagement.prospect_added", record, name=record.name,
                 sector=record.sector, stage=record.stage)
    return record


def _derived_stage(employer: Employer, open_places: int) -> EngagementStage:
    if employer.approved and open_places > 0:
        return EngagementStage.HOSTING
    return EngagementStage.INTERESTED


def untracked_employers(officer: User) -> list[Employer]:
    """Return registered employers with no engagement record in the officer's partnership."""
    tracked = scoped(officer).with_only_columns(EmployerEngagement.employer_id).where(
        EmployerEngagement.employer_id.is_not(None))
    return list(db.session.scalars(sa.select(Employer).where(
        Employer.id.not_in(tracked)).order_by(Employer.name)))


def track_registered_employers(officer: User) -> list[EmployerEngagement]:
    """Start a record for every registered employer without one in the partnership: hosting
    when approved with open places, otherwise interested; area from their first site."""
    _check_officer(officer)
    employers = untracked_employers(officer)
    if not employers:
        return []
    ids = [e.id for e in employers]
    places = dict(db.session.execute(
        sa.select(PlacementOffer.employer_id, sa.func.sum(PlacementOffer.capacity))
        .where(PlacementOffer.employer_id.in_(ids), PlacementOffer.status == OfferStatus.OPEN)
        .group_by(PlacementOffer.employer_id)).all())
    postcodes: dict[int, str] = {}
    for employer_id, postcode in db.session.execute(
            sa.select(EmployerSite.employer_id, EmployerSite.postcode)
            .where(EmployerSite.employer_id.in_(ids)).order_by(EmployerSite.id)):
        postcodes.setdefault(employer_id, postcode)
    records = []
    taken = {n.lower() for n in db.session.scalars(
        scoped(officer).with_only_columns(EmployerEngagement.name))}
    for employer in employers:
        stage = _derived_stage(employer, int(places.get(employer.id) or 0))
        name = employer.name if employer.name.lower() not in taken else \
            f"{employer.name} (registered)"
        record = EmployerEngagement(
            employer_id=employer.id, name=name, sector=employer.sector,
            postcode_area=calc.postcode_area(postcodes.get(employer.id, "")),
            contact_email=employer.contact_email or "", stage=stage, stage_changed_at=utcnow(),
            owner_id=officer.id, created_by_id=officer.id, provider_id=officer.provider_id)
        db.session.add(record)
        records.append(record)
    db.session.flush()
    audit.record(officer, "engagement.tracked_registered", None, count=len(records))
    return records


def set_stage(officer: User, record: EmployerEngagement, stage: EngagementStage,
              pledged_places: int | None = None) -> None:
    """Move a record to a stage (and record the places pledged, when given)."""
    _check_record(officer, record)
    if pledged_places is not None and pledged_places < 0:
        raise DomainError("Pledged places cannot be negative", field="pledged_places")
    before = record.stage
    if stage != before:
        record.stage = stage
        record.stage_changed_at = utcnow()
    if pledged_places is not None:
        record.pledged_places = pledged_places
    audit.record(officer, "engagement.stage_set", record, before=before, after=stage,
                 pledged_places=pledged_places)


def set_owner(officer: User, record: EmployerEngagement) -> None:
    """Make the officer the owner of the relationship."""
    _check_record(officer, record)
    before = record.owner_id
    record.owner_id = officer.id
    audit.record(officer, "engagement.owner_set", record, before=before, after=officer.id)


@dataclass(frozen=True)
class ActivityData:
    """A call, visit, workshop, roundtable or email and what comes next."""

    kind: ActivityKind
    happened_on: date
    notes: str = ""
    next_action: str = ""
    next_action_due: date | None = None


def log_activity(officer: User, record: EmployerEngagement, data: ActivityData,
                 today: date | None = None) -> EngagementActivity:
    """Add an activity to the record's log; a first contact moves a prospect to contacted.

    An activity says something: its notes, its next action or both (a blank one would only
    make the log look busier than it is)."""
    _check_record(officer, record)
    today = today or date.today()
    if data.happened_on > today:
        raise DomainError("The date must be today or in the past", field="happened_on")
    next_action = data.next_action.strip()
    if data.next_action_due is not None and not next_action:
        raise DomainError("Enter the next action, or leave its due date blank",
                          field="next_action")
    if data.next_action_due is not None and data.next_action_due < data.happened_on:
        raise DomainError("The next action cannot be due before the activity",
                          field="next_action_due")
    if not data.notes.strip() and not next_action:
        raise DomainError("Enter who you spoke to and what was said, or the next action",
                          field="notes")
    activity = EngagementActivity(
        engagement=record, kind=data.kind, happened_on=data.happened_on, officer_id=officer.id,
        notes=data.notes.strip(), next_action=next_action, next_action_due=data.next_action_due)
    db.session.add(activity)
    if record.stage == EngagementStage.PROSPECT:
        record.stage = EngagementStage.CONTACTED
        record.stage_changed_at = utcnow()
    db.session.flush()
    audit.record(officer, "engagement.activity_logged", record, activity_id=activity.id,
                 kind=activity.kind, next_action_due=activity.next_action_due)
    return activity


def complete_action(officer: User, activity: EngagementActivity) -> None:
    """Mark an activity's next action as done."""
    _check_record(officer, activity.engagement)
    if activity.done:
        raise DomainError("That action is already done")
    if not activity.next_action:
        raise DomainError("That activity has no next action")
    activity.done = True
    audit.record(officer, "engagement.action_done", activity.engagement,
                 activity_id=activity.id)


def link_employer(officer: User, record: EmployerEngagement, employer: Employer) -> None:
    """Link a prospect to the employer it registered as (history kept)."""
    _check_record(officer, record)
    if record.employer_id is not None:
        raise DomainError("This record is already linked to a registered employer",
                          field="employer_id")
    if db.session.scalar(scoped(officer).with_only_columns(EmployerEngagement.id).where(
            EmployerEngagement.employer_id == employer.id)):
        raise DomainError(f"{employer.name} already has its own engagement record",
                          field="employer_id")
    record.employer_id = employer.id
    record.name = employer.name
    audit.record(officer, "engagement.linked", record, employer_id=employer.id)


# --- reading --------------------------------------------------------------------------------

#: Records shown in each stage's column of the board (the rest: that stage's own list).
BOARD_COLUMN = 25


@dataclass(frozen=True)
class Column:
    """One stage of the board: how many records it holds, and the first few by name."""

    total: int
    records: list[EmployerEngagement]


def _filtered(officer: User, sector: str, area: str) -> sa.Select[EmployerEngagement]:
    stmt = scoped(officer)
    if sector:
        stmt = stmt.where(EmployerEngagement.sector == sector)
    if area:
        stmt = stmt.where(EmployerEngagement.postcode_area == area)
    return stmt


def board(officer: User, sector: str = "", area: str = "", *,
          per_stage: int = BOARD_COLUMN) -> dict[EngagementStage, Column]:
    """Return the partnership's records per stage (every stage present), filtered: each
    stage's count and its first `per_stage` records by name (one query each for the counts
    and the records, however many organisations a region tracks)."""
    stmt = _filtered(officer, sector, area)
    counts = dict(db.session.execute(
        stmt.with_only_columns(EmployerEngagement.stage, sa.func.count())
        .group_by(EmployerEngagement.stage)).all())
    ranked = stmt.with_only_columns(
        EmployerEngagement.id, sa.func.row_number().over(
            partition_by=EmployerEngagement.stage,
            order_by=(EmployerEngagement.name, EmployerEngagement.id)).label("n")).subquery()
    first = sa.select(ranked.c.id).where(ranked.c.n <= per_stage)
    columns: dict[EngagementStage, list[EmployerEngagement]] = {s: [] for s in STAGES}
    for record in db.session.scalars(
            sa.select(EmployerEngagement).where(EmployerEngagement.id.in_(first))
            .order_by(EmployerEngagement.name, EmployerEngagement.id)):
        columns[record.stage].append(record)
    return {s: Column(int(counts.get(s, 0)), columns[s]) for s in STAGES}


def stage_records(officer: User, stage: EngagementStage, sector: str = "", area: str = ""
                  ) -> sa.Select[EmployerEngagement]:
    """Select every record of one stage of the board, filtered, by name (for paging)."""
    return (_filtered(officer, sector, area).where(EmployerEngagement.stage == stage)
            .order_by(EmployerEngagement.name, EmployerEngagement.id))


def open_actions(officer: User, records: Iterable[EmployerEngagement] | None = None
                 ) -> sa.Select[EngagementActivity]:
    """Select the partnership's open next actions (not done, with a due date), soonest first."""
    stmt = sa.select(EngagementActivity).join(EngagementActivity.engagement).where(
        access.officer_engagement_sql(officer),
        EngagementActivity.done.is_(False), EngagementActivity.next_action_due.is_not(None)
    ).order_by(EngagementActivity.next_action_due, EngagementActivity.id)
    if records is not None:
        stmt = stmt.where(EngagementActivity.engagement_id.in_([r.id for r in records]))
    return stmt


def overdue_actions(officer: User, today: date | None = None, sector: str = "",
                    area: str = "") -> list[EngagementActivity]:
    """Return the partnership's open next actions past their due date, oldest first."""
    today = today or date.today()
    stmt = open_actions(officer).where(EngagementActivity.next_action_due < today)
    if sector:
        stmt = stmt.where(EmployerEngagement.sector == sector)
    if area:
        stmt = stmt.where(EmployerEngagement.postcode_area == area)
    return list(db.session.scalars(stmt))


def conversion_by_sector(officer: User, sector: str = "", area: str = ""
                         ) -> dict[str, dict[str, object]]:
    """Return contacted, hosting and the conversion rate per sector (see calc.conversion)."""
    stmt = scoped(officer).with_only_columns(EmployerEngagement.sector,
                                             EmployerEngagement.stage)
    if sector:
        stmt = stmt.where(EmployerEngagement.sector == sector)
    if area:
        stmt = stmt.where(EmployerEngagement.postcode_area == area)
    stages: dict[str, list[str]] = defaultdict(list)
    for sec, stage in db.session.execute(stmt):
        stages[sec].append(str(stage))
    return calc.conversion(stages)


def areas_in_use(officer: User) -> list[tuple[str, str]]:
    """Return (code, label) of the postcode areas the partnership's records are in."""
    codes = db.session.scalars(
        scoped(officer).with_only_columns(EmployerEngagement.postcode_area).distinct())
    return [(c, area_label(c)) for c in sorted(c for c in codes if c)]
