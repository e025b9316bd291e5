"""Officer services: employers' approval and their page, learners, programmes, the officer's
pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app, url_for

from placements import audit
from placements.auth.services import create_invitation
from placements.compliance import checks
from placements.domain import DomainError, NotAllowed, access, eligibility
from placements.domain import compliance as compliance_rules
from placements.domain import employers as employer_rules
from placements.domain import offers as offer_rules
from placements.domain.offers import open_offers_stmt
from placements.domain.placements import held_places
from placements.domain.standing import RoundStanding, standings_of
from placements.extensions import db
from placements.geo import Located
from placements.mail import send_mail
from placements.models import (
    AuditEvent,
    Employer,
    EmployerEngagement,
    EmployerStatus,
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
)
from placements.querying import contains_text
from placements.timeutil import today_uk


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
        stmt = stmt.where(contains_text(search, User.name, Learner.student_ref))
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
            access.officer_employers_sql(officer),
            Employer.status == EmployerStatus.AWAITING.value)) or 0,
        "open_places": db.session.scalar(
            open_offers_stmt().with_only_columns(
                sa.func.coalesce(sa.func.sum(PlacementOffer.capacity), 0))) or 0,
    }


def provider_programmes(officer: User) -> list[Programme]:
    """The officer's provider's programmes, by title."""
    return list(db.session.scalars(sa.select(Programme).where(
        access.officer_programmes_sql(officer)).order_by(Programme.title)))


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


# --- employers: the list, an employer's page, approval ---------------------------------------

def employers_stmt(officer: User, status: EmployerStatus | None = None,
                   search: str = "") -> sa.Select[Employer]:
    """The employers the officer sees (`domain.access`: all of them), awaiting a decision
    first, then rejected, then approved; optionally of one status, or whose name or contact
    address contains `search`."""
    order = sa.case({EmployerStatus.AWAITING.value: 0, EmployerStatus.REJECTED.value: 1},
                    value=Employer.status, else_=2)
    stmt = sa.select(Employer).where(access.officer_employers_sql(officer))
    if status is not None:
        stmt = stmt.where(Employer.status == status.value)
    if search.strip():
        stmt = stmt.where(contains_text(search, Employer.name, Employer.contact_email))
    return stmt.order_by(order, Employer.name, Employer.id)


def employer_counts(officer: User) -> dict[EmployerStatus, int]:
    """How many employers the officer sees in each status."""
    rows = db.session.execute(sa.select(Employer.status, sa.func.count()).where(
        access.officer_employers_sql(officer)).group_by(Employer.status))
    counts = dict.fromkeys(EmployerStatus, 0)
    counts.update({EmployerStatus(status): n for status, n in rows})
    return counts


def offer_counts(employer_ids: Sequence[int]) -> dict[int, int]:
    """How many offers each employer has (withdrawn ones included)."""
    if not employer_ids:
        return {}
    rows = db.session.execute(
        sa.select(PlacementOffer.employer_id, sa.func.count()).where(
            PlacementOffer.employer_id.in_(list(employer_ids)))
        .group_by(PlacementOffer.employer_id))
    return {employer_id: n for employer_id, n in rows}


def get_employer(officer: User, employer_id: int) -> Employer | None:
    """Return an employer the officer may see, or None."""
    employer = db.session.get(Employer, employer_id)
    if employer is None or not access.officer_sees_employer(officer, employer):
        return None
    return employer


@dataclass(frozen=True)
class OfferLine:
    """One of an employer's offers as its page shows it to an officer."""

    offer: PlacementOffer
    held: int
    #: Why it is not open to learners' choices (None: it is open).
    closed_because: str | None
    #: Whether it would be open to choices were the employer approved (compliance apart).
    open_once_approved: bool
    #: What compliance item it still lacks, in words (None: nothing).
    compliance_gap: str | None = None


@dataclass(frozen=True)
class HistoryLine:
    """One event in an employer's history, in words for an officer."""

    at: datetime
    who: str
    what: str


@dataclass(frozen=True)
class EmployerPage:
    """Everything an officer's page about one employer shows."""

    employer: Employer
    users: list[User]
    offers: list[OfferLine]
    engagement: EmployerEngagement | None
    history: list[HistoryLine]
    approved_by: User | None
    #: Whether the officer may open the employer's compliance page (`domain.access`).
    sees_compliance: bool = False

    @property
    def open_offers(self) -> list[OfferLine]:
        """The offers open to learners' choices (or that will be, once approved)."""
        return [line for line in self.offers
                if line.open_once_approved and line.compliance_gap is None]

    @property
    def on_hold(self) -> list[OfferLine]:
        """The offers approval would not open yet: a compliance item is missing."""
        return [line for line in self.offers
                if line.open_once_approved and line.compliance_gap is not None]

    @property
    def open_places(self) -> int:
        return sum(line.offer.capacity for line in self.open_offers)


def employer_page(officer: User, employer: Employer, *, history_limit: int = 50
                  ) -> EmployerPage:
    """Gather an employer's page: its users, sites, offers (places held, open to choices or
    why not), the officer's partnership's engagement record of it, and its history."""
    if not access.officer_sees_employer(officer, employer):
        raise NotAllowed("You cannot see this employer")
    offers = list(employer.offers)
    held = held_places([o.id for o in offers])
    today = today_uk()
    lines = [OfferLine(o, held.get(o.id, 0), offer_rules.closed_because(o, today=today),
                       offer_rules.closed_reason(o.status, True, o.end_date, today) is None,
                       compliance_rules.blocked_because(o, today=today))
             for o in offers]
    engagement = db.session.scalar(sa.select(EmployerEngagement).where(
        EmployerEngagement.employer_id == employer.id,
        access.officer_engagement_sql(officer)).order_by(EmployerEngagement.id).limit(1))
    users = sorted(employer.users, key=lambda u: (u.name.lower(), u.id))
    approved_by = (db.session.get(User, employer.approved_by_id)
                   if employer.approved_by_id is not None else None)
    return EmployerPage(employer, users, lines, engagement,
                        employer_history(employer, limit=history_limit), approved_by,
                        access.officer_sees_employer_compliance(officer, employer))


#: Events of an employer's history in an officer's words (detail keys they may use).
EMPLOYER_EVENTS: dict[str, str] = {
    "employer.registered": "Registered {name}",
    "employer.imported": "Added by an import",
    "employer.approved": "Approved",
    "employer.rejected": "Not approved: {reason}",
    "employer.asked_again": "Asked for approval again: {note}",
    "employer.colleague_added": "Added a colleague",
    "site.created": "Added a site ({postcode})",
    "site.imported": "Site added by an import",
    "offer.created": "Added an offer ({capacity} places)",
    "offer.updated": "Changed an offer",
    "offer.capacity_changed": "Changed the places of an offer from {old} to {new}",
    "offer.withdrawn": "Withdrew an offer",
}


def _describe(action: str, detail: dict[str, object], subject: str) -> str:
    words = EMPLOYER_EVENTS.get(action)
    if words is None:
        return action.replace(".", ": ").replace("_", " ").capitalize() + subject
    try:
        return words.format_map({k: "" if v is None else v for k, v in detail.items()}) \
            + subject
    except (KeyError, IndexError, ValueError):
        return words.split(":")[0].split(" (")[0] + subject


def employer_history(employer: Employer, *, limit: int = 50) -> list[HistoryLine]:
    """The audit trail of an employer, its sites, offers and users, newest first."""
    offers = {o.id: o.title for o in employer.offers}
    sites = {s.id: s.name for s in employer.sites}
    users = {u.id for u in employer.users}
    about = [sa.and_(AuditEvent.object_type == "Employer", AuditEvent.object_id == employer.id)]
    if offers:
        about.append(sa.and_(AuditEvent.object_type == "PlacementOffer",
                             AuditEvent.object_id.in_(sorted(offers))))
    if sites:
        about.append(sa.and_(AuditEvent.object_type == "EmployerSite",
                             AuditEvent.object_id.in_(sorted(sites))))
    if users:
        about.append(sa.and_(AuditEvent.object_type == "User",
                             AuditEvent.action == "employer.colleague_added",
                             AuditEvent.object_id.in_(sorted(users))))
    events = db.session.scalars(sa.select(AuditEvent).where(sa.or_(*about)).options(
        sa.orm.joinedload(AuditEvent.actor)).order_by(AuditEvent.at.desc(),
                                                      AuditEvent.id.desc()).limit(limit))
    out = []
    for event in events:
        subject = ""
        if event.object_type == "PlacementOffer" and event.object_id in offers:
            subject = f": {offers[event.object_id]}"
        elif event.object_type == "EmployerSite" and event.object_id in sites:
            subject = f": {sites[event.object_id]}"
        who = event.actor.name if event.actor is not None else "Placements"
        if event.actor is not None and event.actor.role == Role.OFFICER and event.actor.provider:
            who = f"{event.actor.name} ({event.actor.provider.name})"
        out.append(HistoryLine(event.at, who, _describe(event.action, event.detail or {},
                                                        subject)))
    return out


def _employer_addresses(employer: Employer) -> list[tuple[str, str]]:
    """Who hears about a decision: the employer's active users and its contact address
    (each address once), as (address, name to greet)."""
    seen: dict[str, str] = {}
    for user in sorted(employer.users, key=lambda u: u.id):
        if user.active:
            seen.setdefault(user.email.lower(), user.name)
    if employer.contact_email:
        seen.setdefault(employer.contact_email.lower(), "")
    return list(seen.items())


def _officer_signature(officer: User) -> str:
    provider = officer.provider.name if officer.provider else "the placement team"
    return f"{officer.name}, placement officer, {provider} ({officer.email})"


def approve_employer(officer: User, employer: Employer) -> None:
    """Approve an employer awaiting a decision and tell its users (once, however many
    officers press Approve at the same moment: `domain.employers`)."""
    if not access.officer_sees_employer(officer, employer):
        raise NotAllowed("You cannot see this employer")
    employer_rules.approve(officer, employer)
    link = _base_url() + url_for("employers.dashboard")
    for address, name in _employer_addresses(employer):
        send_mail(address, f"{employer.name} is approved on Placements",
                  f"Hello{' ' + name if name else ''},\n\n"
                  f"A placement officer has approved {employer.name} on Placements. Learners "
                  "in your sector can now see and choose your open placement offers; you "
                  "will hear from us when learners are placed with you.\n\n"
                  f"Your offers and places: {link}\n\n"
                  f"Approved by {_officer_signature(officer)}.\n",
                  provider_id=officer.provider_id)


def reject_employer(officer: User, employer: Employer, reason: str) -> None:
    """Reject an employer awaiting a decision, with a reason, and tell its users what to do
    (once: `domain.employers`)."""
    if not access.officer_sees_employer(officer, employer):
        raise NotAllowed("You cannot see this employer")
    employer_rules.reject(officer, employer, reason)
    link = _base_url() + url_for("employers.approval")
    for address, name in _employer_addresses(employer):
        send_mail(address, f"{employer.name} has not been approved on Placements",
                  f"Hello{' ' + name if name else ''},\n\n"
                  f"A placement officer has looked at {employer.name} on Placements and has "
                  "not approved it. Until it is approved, learners cannot see or choose your "
                  "placement offers.\n\n"
                  f"The reason they gave:\n{employer.rejection_reason}\n\n"
                  "What to do next: sign in, change what the reason asks for (your sites, "
                  "offers or organisation's details), then ask for approval again, saying "
                  f"what you have changed:\n{link}\n\n"
                  f"If you have questions, contact {_officer_signature(officer)}.\n",
                  provider_id=officer.provider_id)


def _base_url() -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/")
