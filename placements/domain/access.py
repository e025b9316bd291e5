"""Who may see what: the scoping rules of every page, report and export.

- **Officers** belong to a provider. They see their provider's learners, programmes and
  hours. They see a round when their provider takes part in it (a pooled round lists
  several providers of one partnership) and change it only when their provider owns it.
  They may put programmes of any provider of their partnership into a round.
- **Officers and employers**: an employer registers once for the whole service and takes
  learners of any provider, so every provider's officers see every employer (its page, its
  users, sites and offers) and may approve or reject it; its engagement record stays within
  the officer's partnership.
- **Compliance** (an employer's items and documents): the employer's own users, and the
  officers of providers that may place learners there: a provider with a programme in a
  sector (route) the employer offers placements in.
- **Employer users** see their own organisation's sites and offers, and a placement only
  once it has been published at one of their offers (never a proposal).
- **Learners** see themselves: their own placements once published.
- **Duty of care** (reviews, supervisors, concerns) belongs to the learner's own provider:
  its officers follow a placement's reviews and concerns (`officer_cares_for`). A
  **supervisor** without an account acts only through a link scoped to one placement at
  their employer (`SupervisorScope`). A **concern** is seen by the officers who care for the
  learner; otherwise only by whoever raised it, except that employer users share the
  concerns their organisation (or its supervisor) raised, safeguarding ones excepted
  (`officer_sees_concern`, `employer_sees_concern`, `learner_sees_concern`).

Each rule has a Python form (`officer_sees_round(officer, round_)`) for one object and a
SQL form (`officer_rounds_sql(officer)`) for lists; tests feed both the same fixtures.
Pages answer 404 for objects outside the scope, so that they do not even confirm that the
object exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    VISIBLE_STATUSES,
    AllocationRound,
    Concern,
    ConcernCategory,
    Employer,
    EmployerEngagement,
    HoursEntry,
    HoursKind,
    Learner,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Programme,
    Provider,
    RaisedBy,
    User,
    round_providers,
)

_VISIBLE = [s.value for s in VISIBLE_STATUSES]


def partner_ids(provider_id: int) -> set[int]:
    """Return the provider and every provider of its partnership."""
    provider = db.session.get(Provider, provider_id)
    return provider.partner_ids() if provider is not None else set()


# --- officers: rounds ----------------------------------------------------------------------

def officer_sees_round(officer: User, round_: AllocationRound) -> bool:
    """Say whether the officer's provider takes part in the round."""
    return officer.provider_id is not None and officer.provider_id in {
        p.id for p in round_.providers}


def officer_rounds_sql(officer: User) -> sa.ColumnElement[bool]:
    """The rounds the officer's provider takes part in (a WHERE clause on AllocationRound)."""
    return AllocationRound.id.in_(sa.select(round_providers.c.round_id).where(
        round_providers.c.provider_id == officer.provider_id))


def officer_manages_round(officer: User, round_: AllocationRound) -> bool:
    """Say whether the officer may run, change and publish the round (its owner's officers)."""
    return officer.provider_id is not None and officer.provider_id == round_.provider_id


# --- officers: learners, programmes --------------------------------------------------------

def officer_sees_learner(officer: User, learner: Learner) -> bool:
    """Say whether the learner is one of the officer's provider's."""
    return officer.provider_id is not None and learner.provider_id == officer.provider_id


def officer_learners_sql(officer: User) -> sa.ColumnElement[bool]:
    """The officer's provider's learners (a WHERE clause on Learner)."""
    return Learner.provider_id == officer.provider_id


def officer_sees_programme(officer: User, programme: Programme) -> bool:
    """Say whether the programme is the officer's provider's."""
    return officer.provider_id is not None and programme.provider_id == officer.provider_id


def officer_programmes_sql(officer: User, *, partnership: bool = False
                           ) -> sa.ColumnElement[bool]:
    """The officer's provider's programmes, or its whole partnership's (WHERE on Programme)."""
    if partnership:
        return Programme.provider_id.in_(sorted(partner_ids(officer.provider_id or 0)))
    return Programme.provider_id == officer.provider_id


# --- officers: employers' compliance -------------------------------------------------------

def officer_sees_employer_compliance(officer: User, employer: Employer) -> bool:
    """Say whether the officer's provider may place learners with the employer (a programme
    in one of the sectors of the employer's offers)."""
    if officer.provider_id is None or officer.provider is None:
        return False
    routes = {p.route for p in officer.provider.programmes}
    return any(o.sector in routes for o in employer.offers)


def officer_compliance_employers_sql(officer: User) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on Employer)."""
    routes = sa.select(Programme.route).where(Programme.provider_id == officer.provider_id)
    return sa.exists(sa.select(sa.literal(1)).select_from(PlacementOffer).where(
        PlacementOffer.employer_id == Employer.id, PlacementOffer.sector.in_(routes)))


# --- officers: employer engagement --------------------------------------------------------

def officer_sees_engagement(officer: User, record: EmployerEngagement) -> bool:
    """Say whether an engagement record is the officer's partnership's (prospects, contacts
    and notes are shared within a partnership only)."""
    return officer.provider_id is not None and record.provider_id in partner_ids(
        officer.provider_id)


def officer_engagement_sql(officer: User) -> sa.ColumnElement[bool]:
    """The officer's partnership's engagement records (a WHERE clause)."""
    return EmployerEngagement.provider_id.in_(sorted(partner_ids(officer.provider_id or 0)))


# --- officers: employers -------------------------------------------------------------------

def officer_sees_employer(officer: User, employer: Employer) -> bool:
    """Say whether the officer may see the employer and decide on its approval (any officer
    of a provider: employers are shared by the whole service)."""
    return officer.provider_id is not None and employer.id is not None


def officer_employers_sql(officer: User) -> sa.ColumnElement[bool]:
    """The employers the officer sees (a WHERE clause on Employer): all of them."""
    return sa.true() if officer.provider_id is not None else sa.false()


# --- employers -----------------------------------------------------------------------------

def employer_sees_placement(employer_id: int | None, placement: Placement) -> bool:
    """Say whether a placement is published at one of the employer's offers."""
    return (employer_id is not None and placement.offer.employer_id == employer_id
            and placement.status in VISIBLE_STATUSES)


def employer_placements_sql(employer_id: int | None) -> sa.ColumnElement[bool]:
    """Published placements at the employer's offers (the statement must join
    PlacementOffer on Placement.offer_id)."""
    return sa.and_(PlacementOffer.employer_id == employer_id,
                   Placement.status.in_(_VISIBLE))


# --- learners ------------------------------------------------------------------------------

def learner_sees_placement(learner: Learner, placement: Placement) -> bool:
    """Say whether a placement is the learner's own and published."""
    return placement.learner_id == learner.id and placement.status in VISIBLE_STATUSES


def learner_placements_sql(learner: Learner) -> sa.ColumnElement[bool]:
    """The learner's own published placements (a WHERE clause on Placement)."""
    return sa.and_(Placement.learner_id == learner.id, Placement.status.in_(_VISIBLE))


# --- hours ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupervisorScope:
    """A supervisor acting through an e-mailed link: one placement at one employer."""

    supervisor_id: int
    placement_id: int
    employer_id: int
    #: Their name and the client address, for the audit trail.
    name: str = ""
    address: str = ""


#: Statuses of a placement its supervisor still acts on (not declined or withdrawn).
_SUPERVISED = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)


def supervisor_acts_on(scope: SupervisorScope, placement: Placement) -> bool:
    """Say whether a supervisor's link still covers a placement: the same placement, still
    published or accepted, and still at the employer that named them."""
    return (placement.id == scope.placement_id and placement.status in _SUPERVISED
            and placement.offer.employer_id == scope.employer_id)


def may_verify_hours(user: User | SupervisorScope, entry: HoursEntry) -> bool:
    """Say whether the user may verify or reject an hours entry.

    Employer users: placement hours logged against a placement at their own organisation's
    offers. Officers: any entry of their own provider's learners (to unblock entries nobody
    answers). A supervisor's link: placement hours of the one placement it covers.
    """
    from placements.models import Role

    if isinstance(user, SupervisorScope):
        placement = entry.placement
        return (entry.kind is HoursKind.PLACEMENT and placement is not None
                and supervisor_acts_on(user, placement))
    if user.role == Role.EMPLOYER:
        placement = entry.placement
        return (entry.kind is HoursKind.PLACEMENT and placement is not None
                and placement.offer.employer_id == user.employer_id)
    if user.role == Role.OFFICER:
        return officer_sees_learner(user, entry.learner)
    return False


# --- duty of care: reviews and concerns ----------------------------------------------------

def officer_cares_for(officer: User, placement: Placement) -> bool:
    """Say whether the officer follows a placement's reviews, supervisor and concerns (the
    learner is one of the officer's provider's)."""
    return officer_sees_learner(officer, placement.learner)


def officer_sees_concern(officer: User, concern: Concern) -> bool:
    """Say whether an officer may read a concern (the learner is their provider's)."""
    return officer.provider_id is not None and concern.learner.provider_id == officer.provider_id


def officer_concerns_sql(officer: User) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on Concern)."""
    return Concern.learner_id.in_(sa.select(Learner.id).where(
        Learner.provider_id == officer.provider_id))


_EMPLOYER_SIDE = (RaisedBy.EMPLOYER, RaisedBy.SUPERVISOR)


def employer_sees_concern(user: User, concern: Concern) -> bool:
    """Say whether an employer user may read a concern: one their organisation or its
    supervisor raised at their organisation, and a safeguarding one only if they raised it."""
    if user.employer_id is None or concern.employer_id != user.employer_id:
        return False
    if concern.category == ConcernCategory.SAFEGUARDING:
        return concern.raised_by_user_id == user.id
    return concern.raised_by in _EMPLOYER_SIDE


def employer_concerns_sql(user: User) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on Concern)."""
    return sa.and_(
        Concern.employer_id == user.employer_id,
        sa.or_(sa.and_(Concern.category != ConcernCategory.SAFEGUARDING.value,
                       Concern.raised_by.in_([r.value for r in _EMPLOYER_SIDE])),
               Concern.raised_by_user_id == user.id))


def learner_sees_concern(learner: Learner, concern: Concern) -> bool:
    """Say whether a learner may read a concern: only one they raised themselves."""
    return concern.raised_by == RaisedBy.LEARNER and concern.raised_by_user_id == learner.user_id


def learner_concerns_sql(learner: Learner) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on Concern)."""
    return sa.and_(Concern.raised_by == RaisedBy.LEARNER.value,
                   Concern.raised_by_user_id == learner.user_id)
