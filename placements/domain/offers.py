"""Which offers are open to learners' choices (and to allocation).

An offer is open to choices when it is open (not withdrawn), its employer has been
approved (not awaiting a decision, nor rejected: `placements.domain.employers`), it has
not finished (its end date is today or later), and its employer (and
site) holds every compliance item that blocks allocation, accepted and valid on the later
of today and the offer's start (`placements.domain.compliance`: insurance that expires
before the placement starts closes the offer). Learners choose only such offers (of their
own sector: see `placements.domain.eligibility`); the problem builder offers only these to
the solver. `closed_because` is the rule in Python (with the reason in words),
`open_to_choices_sql` the same rule in SQL.

Compliance item types a provider adds apply to that provider's learners and rounds:
`provider_ids` names the providers in question (None: the built-in types only).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from placements.domain.compliance import (
    blocked_because,
    blocking_types,
    compliant_sql,
    held_items,
)
from placements.models import Employer, EmployerStatus, OfferStatus, PlacementOffer
from placements.timeutil import today_uk


def closed_because(offer: PlacementOffer, *, today: date | None = None,
                   provider_ids: Iterable[int] | None = None) -> str | None:
    """Return why an offer is not open to choices, or None when it is."""
    today = today or today_uk()
    return closed_reason(offer.status, offer.employer.approved, offer.end_date, today) or \
        blocked_because(offer, today=today, provider_ids=provider_ids)


def closed_reasons(offers: Iterable[PlacementOffer], *, today: date | None = None,
                   provider_ids: Iterable[int] | None = None) -> dict[int, str | None]:
    """`closed_because` for many offers at once (compliance read in two queries)."""
    today = today or today_uk()
    offers = list(offers)
    types = blocking_types(provider_ids)
    held = held_items({o.employer_id for o in offers})
    return {o.id: closed_reason(o.status, o.employer.approved, o.end_date, today) or
            blocked_because(o, today=today, types=types, held=held[o.employer_id])
            for o in offers}


def listing_closed_because(offer: PlacementOffer, *, today: date | None = None) -> str | None:
    """The rule without compliance: why an offer is not even listed to learners (an offer
    waiting for its employer's compliance stays listed, marked with why it cannot be
    chosen yet)."""
    return closed_reason(offer.status, offer.employer.approved, offer.end_date,
                         today or today_uk())


#: Why an offer of an employer that is not approved is closed (awaiting or rejected).
NOT_APPROVED = "the employer has not been approved"


def closed_reason(status: OfferStatus, employer_approved: bool, end_date: date,
                  today: date) -> str | None:
    """The rule on plain values (compliance apart): why not open to choices, or None."""
    if status != OfferStatus.OPEN:
        return "withdrawn by the employer"
    if not employer_approved:
        return NOT_APPROVED
    if end_date < today:
        return "it has finished"
    return None


def listed_sql(today: date | None = None) -> sa.ColumnElement[bool]:
    """`listing_closed_because` in SQL (the statement must join Employer)."""
    return sa.and_(PlacementOffer.status == OfferStatus.OPEN.value,
                   Employer.status == EmployerStatus.APPROVED.value,
                   PlacementOffer.end_date >= (today or today_uk()))


def open_to_choices_sql(today: date | None = None,
                        provider_ids: Iterable[int] | None = None) -> sa.ColumnElement[bool]:
    """The same rule as `closed_because` in SQL (the statement must join Employer)."""
    today = today or today_uk()
    return sa.and_(listed_sql(today), compliant_sql(today, provider_ids))


def open_offers_stmt(today: date | None = None,
                     provider_ids: Iterable[int] | None = None) -> sa.Select[PlacementOffer]:
    """Select the offers open to choices (with the join the rule needs)."""
    return (sa.select(PlacementOffer)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(open_to_choices_sql(today, provider_ids)))


def listed_offers_stmt(today: date | None = None) -> sa.Select[PlacementOffer]:
    """Select the offers listed to learners (open, perhaps waiting for compliance)."""
    return (sa.select(PlacementOffer)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(listed_sql(today)))
