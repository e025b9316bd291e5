"""Officer services: approve employers, add learners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from placements import audit
from placements.auth.services import create_invitation
from placements.compliance import checks
from placements.domain import DomainError, NotAllowed, access, eligibility
from placements.domain.offers import open_offers_stmt
from placements.domain.standing import RoundStanding, standings_of
from placements.extensions import db
from placements.geo import Located
from placements.models import (
    Employer,
    Learner,
    OccupationalStandard,
    OutboxMessage,
    Placement,
    PlacementDecline,
    PlacementOffer,
    Preference,
    Programme,
    Role,
    User,
    utcnow,
)
from placements.timeutil import today_uk


def approve_employer(officer: User, employer: Employer) -> None:
    """Approve an employer so its open offers become visible to learners."""
    if employer.approved:
        raise DomainError(f"{employer.name} is already approved")
    employer.approved = True
    employer.approved_at = utcnow()
    employer.approved_by_id = officer.id
    audit.record(officer, "employer.approved", employer, name=employer.name)


@dataclass(frozen=True)
class NewLearner:
    """What an officer (or an import) knows about a new learner."""

    name: str
    email: str
    student_ref: str
    programme_id: int
    home: Located
    max_travel_km: int = 25
    credentials: tuple[str, ...] = ()
    in_work_employer: str | None = None
    first_in_family_he: bool | None = None
    age_band: str | None = None
    prior_qualification: str | None = None
    disability_declared: bool | None = None


def create_learner(officer: User, data: NewLearner, *, invite: bool = True) -> Learner:
    """Create a learner account on one of the officer's programmes and invite them."""
    return create_learners(officer, [data], invite=invite)[0]


def create_learners(officer: User, items: Sequence[NewLearner], *,
                    invite: bool = True) -> list[Learner]:
    """Create many learners on the officer's programmes in one flush, and invite them."""
    wanted = {d.programme_id for d in items}
    programmes = {p.id: p for p in db.session.scalars(
        sa.select(Programme).where(Programme.id.in_(wanted)))} if wanted else {}
    learners = []
    for data in items:
        programme = programmes.get(data.programme_id)
        if programme is None or programme.provider_id != officer.provider_id:
            raise NotAllowed("Choose one of your provider's programmes", field="programme")
        user = User(email=data.email.strip().lower(), name=data.name.strip(),
                    role=Role.LEARNER)
        learners.append(Learner(
            user=user, provider_id=programme.provider_id, programme=programme,
            student_ref=data.student_ref.strip(), home_postcode=data.home.postcode,
            lat=data.home.lat, lon=data.home.lon, max_travel_km=data.max_travel_km,
            credentials=sorted(set(data.credentials)),
            in_work_employer=(data.in_work_employer or "").strip() or None,
            first_in_family_he=data.first_in_family_he, age_band=data.age_band or None,
            prior_qualification=data.prior_qualification or None,
            disability_declared=data.disability_declared,
        ))
    db.session.add_all(learners)
    db.session.flush()
    for learner in learners:
        if learner.credentials:
            checks.sync_from_tags(learner, learner.credentials)
        audit.record(officer, "learner.created", learner, student_ref=learner.student_ref)
        if invite:
            create_invitation(learner.user, officer)
    return learners


def reinvite_learner(officer: User, learner: Learner) -> str:
    """Send a fresh invitation link to a learner (earlier links still expire as set)."""
    return create_invitation(learner.user, officer)


def learners_query(officer: User, search: str = "") -> sa.Select:
    """Select the learners the officer's provider is responsible for."""
    stmt = (sa.select(Learner).join(Learner.user).where(access.officer_learners_sql(officer))
            .options(sa.orm.contains_eager(Learner.user),
                     sa.orm.selectinload(Learner.programme))
            .order_by(User.name, Learner.id))
    if search:
        like = f"%{search.strip().lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(User.name).like(like),
                                 sa.func.lower(Learner.student_ref).like(like)))
    return stmt


#: Earliest start of a programme the service keeps.
EARLIEST_PROGRAMME = date(2000, 1, 1)


@dataclass(frozen=True)
class ProgrammeData:
    """What an officer says about an HTQ programme."""

    title: str
    code: str
    standard_id: int
    placement_mandated: bool
    required_placement_hours: int | None
    planned_total_hours: int
    work_integration_target_pct: int
    start_date: date
    end_date: date


def save_programme(officer: User, data: ProgrammeData,
                   programme: Programme | None = None) -> Programme:
    """Create or update a programme of the officer's provider; level and route follow the
    occupational standard."""
    if programme is not None and programme.provider_id != officer.provider_id:
        raise NotAllowed("This programme belongs to another provider")
    standard = db.session.get(OccupationalStandard, data.standard_id)
    if standard is None:
        raise DomainError("Select the occupational standard", field="standard")
    if standard.level not in (4, 5):
        raise DomainError("HTQs are at level 4 or 5", field="standard")
    if data.placement_mandated and not data.required_placement_hours:
        raise DomainError("Enter the required placement hours for a mandated placement",
                          field="required_placement_hours")
    if data.end_date <= data.start_date:
        raise DomainError("The end date must be after the start date", field="end_date")
    if not EARLIEST_PROGRAMME <= data.start_date <= today_uk() + timedelta(days=5 * 366):
        raise DomainError("The start date must be between 2000 and five years from today",
                          field="start_date")
    if data.end_date - data.start_date > timedelta(days=6 * 366):
        raise DomainError("A programme can last at most six years", field="end_date")
    creating = programme is None
    if programme is None:
        programme = Programme(provider_id=officer.provider_id)
        db.session.add(programme)
    elif programme.route != standard.route and programme.learners:
        raise DomainError("Learners are enrolled: choose a standard of the same sector "
                          f"({programme.route})", field="standard")
    programme.title = data.title.strip()
    programme.code = data.code.strip()
    programme.standard = standard
    programme.level = standard.level
    programme.route = standard.route
    programme.placement_mandated = data.placement_mandated
    programme.required_placement_hours = (data.required_placement_hours
                                          if data.placement_mandated else None)
    programme.planned_total_hours = data.planned_total_hours
    programme.work_integration_target_pct = data.work_integration_target_pct
    programme.start_date = data.start_date
    programme.end_date = data.end_date
    db.session.flush()
    audit.record(officer, "programme.created" if creating else "programme.updated", programme,
                 title=programme.title, mandated=programme.placement_mandated)
    return programme


# --- the officer's pages ----------------------------------------------------------------------

def dashboard_counts(officer: User) -> dict[str, int]:
    """Learners and programmes of the officer's provider, places on offer, employers to
    approve (places: of offers open to choices, `domain.offers`)."""
    return {
        "learners": db.session.scalar(sa.select(sa.func.count(Learner.id)).where(
            access.officer_learners_sql(officer))) or 0,
        "programmes": db.session.scalar(sa.select(sa.func.count(Programme.id)).where(
            access.officer_programmes_sql(officer))) or 0,
        "pending_employers": db.session.scalar(sa.select(sa.func.count(Employer.id)).where(
            Employer.approved.is_(False))) or 0,
        "open_places": db.session.scalar(
            open_offers_stmt().with_only_columns(
                sa.func.coalesce(sa.func.sum(PlacementOffer.capacity), 0))) or 0,
    }


def provider_programmes(officer: User) -> list[Programme]:
    """The officer's provider's programmes, by title."""
    return list(db.session.scalars(sa.select(Programme).where(
        access.officer_programmes_sql(officer)).order_by(Programme.title)))


def employers_stmt() -> sa.Select[Employer]:
    """Employers (every provider's officers see them all), those awaiting approval first."""
    return sa.select(Employer).order_by(Employer.approved, Employer.name)


def outbox_stmt(officer: User) -> sa.Select[OutboxMessage]:
    """The e-mails sent for the officer's provider or to its learners, newest first."""
    return sa.select(OutboxMessage).where(
        sa.or_(OutboxMessage.provider_id == officer.provider_id,
               OutboxMessage.to_address.in_(
                   sa.select(User.email).join(Learner, Learner.user_id == User.id).where(
                       access.officer_learners_sql(officer))))
    ).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


@dataclass
class LearnerRound:
    """One round of a learner, as their officer sees it."""

    standing: RoundStanding
    #: The learner's placement row in the round whatever its state (proposals included).
    placement: Placement | None
    #: (rank, offer, why it would not count: officer's words) for each listed offer.
    choices: list[tuple[int, PlacementOffer, list[str]]]


def learner_rounds(learner: Learner) -> list[LearnerRound]:
    """The learner's rounds with where they stand, their placement and their choices."""
    standings = standings_of(learner)
    if not standings:
        return []
    ids = [s.round.id for s in standings]
    rows = {p.round_id: p for p in db.session.scalars(sa.select(Placement).where(
        Placement.learner_id == learner.id, Placement.round_id.in_(ids)))}
    declined: dict[int, set[int]] = {}
    for round_id, offer_id in db.session.execute(sa.select(
            PlacementDecline.round_id, PlacementDecline.offer_id).where(
            PlacementDecline.learner_id == learner.id, PlacementDecline.round_id.in_(ids))):
        declined.setdefault(round_id, set()).add(offer_id)
    prefs: dict[int, list[tuple[int, PlacementOffer]]] = {}
    for pref in db.session.scalars(sa.select(Preference).where(
            Preference.learner_id == learner.id, Preference.round_id.in_(ids))
            .order_by(Preference.round_id, Preference.rank)):
        prefs.setdefault(pref.round_id, []).append((pref.rank, pref.offer))
    out = []
    for s in standings:
        facts = eligibility.learner_facts(
            learner, declined=frozenset(declined.get(s.round.id, ())))
        choices = [(rank, offer, eligibility.assess(
            facts, eligibility.offer_facts(offer)).for_officer())
            for rank, offer in prefs.get(s.round.id, [])]
        out.append(LearnerRound(standing=s, placement=rows.get(s.round.id), choices=choices))
    return out
