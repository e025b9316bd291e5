"""Which offers are open to learners' choices (and to allocation).

An offer is open to choices when it is open (not withdrawn), its employer has been
approved (not awaiting a decision, nor rejected: `placements.domain.employers`), and it has
not finished (its end date is today or later). Learners see only
such offers (of their own sector: see `placements.domain.eligibility`); the problem
builder offers only these to the solver. `closed_because` is the rule in Python (with the
reason in words), `open_to_choices_sql` the same rule in SQL.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from placements.models import Employer, EmployerStatus, OfferStatus, PlacementOffer
from placements.timeutil import today_uk


def closed_because(offer: PlacementOffer, *, today: date | None = None) -> str | None:
    """Return why an offer is not open to choices, or None when it is."""
    return closed_reason(offer.status, offer.employer.status == EmployerStatus.APPROVED,
                         offer.end_date, today or today_uk())


#: Why an offer of an employer that is not approved is closed (awaiting or rejected).
NOT_APPROVED = "the employer has not been approved"


def closed_reason(status: OfferStatus, employer_approved: bool, end_date: date,
                  today: date) -> str | None:
    """The rule on plain values: why not open to choices, or None."""
    if status != OfferStatus.OPEN:
        return "withdrawn by the employer"
    if not employer_approved:
        return NOT_APPROVED
    if end_date < today:
        return "it has finished"
    return None


def open_to_choices_sql(today: date | None = None) -> sa.ColumnElement[bool]:
    """The same rule in SQL (the statement must join Employer)."""
    return sa.and_(PlacementOffer.status == OfferStatus.OPEN.value,
                   Employer.status == EmployerStatus.APPROVED.value,
                   PlacementOffer.end_date >= (today or today_uk()))


def open_offers_stmt(today: date | None = None) -> sa.Select[PlacementOffer]:
    """Select the offers open to choices (with the join the rule needs)."""
    return (sa.select(PlacementOffer)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(open_to_choices_sql(today)))
