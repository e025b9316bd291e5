"""Learner services: ranking offers in a round."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError
from placements.extensions import db
from placements.models import (
    AllocationRound,
    Employer,
    Learner,
    OfferStatus,
    PlacementOffer,
    Preference,
    User,
    round_programmes,
)


def learner_in_round(learner: Learner, round_: AllocationRound) -> bool:
    """Say whether the learner's programme is in the round's scope."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(round_programmes).where(
        round_programmes.c.round_id == round_.id,
        round_programmes.c.programme_id == learner.programme_id)) > 0


def save_preferences(actor: User | None, learner: Learner, round_: AllocationRound,
                     offer_ids: Sequence[int], *, now: datetime | None = None) -> list[Preference]:
    """Replace the learner's ranked list for a round, ranks 1..n in the order given."""
    if not learner_in_round(learner, round_):
        raise DomainError("Your programme is not part of this allocation round")
    if round_.deadline_passed(now):
        raise DomainError("The deadline for choosing placements has passed; "
                          "your choices have not been changed")
    ids = list(offer_ids)
    if len(ids) != len(set(ids)):
        raise DomainError("Each offer can be ranked only once")
    if len(ids) > round_.max_preferences:
        raise DomainError(f"You can rank at most {round_.max_preferences} offers")
    offers = {o.id: o for o in db.session.scalars(
        sa.select(PlacementOffer).join(PlacementOffer.employer).where(
            PlacementOffer.id.in_(ids))).all()} if ids else {}
    sector = learner.programme.route
    for offer_id in ids:
        offer = offers.get(offer_id)
        if offer is None or not offer.employer.approved or offer.status != OfferStatus.OPEN:
            raise DomainError("One of the offers you chose is no longer available")
        if offer.sector != sector:
            raise DomainError(f"“{offer.title}” is not in your sector ({sector})")
    # Serialise concurrent saves by the same learner: lock the learner row where the
    # database supports it (SQLite serialises writers anyway).
    db.session.execute(sa.select(Learner.id).where(Learner.id == learner.id).with_for_update())
    db.session.execute(sa.delete(Preference).where(Preference.round_id == round_.id,
                                                   Preference.learner_id == learner.id))
    preferences = [Preference(round_id=round_.id, learner_id=learner.id, offer_id=offer_id,
                              rank=rank) for rank, offer_id in enumerate(ids, start=1)]
    db.session.add_all(preferences)
    db.session.flush()
    audit.record(actor, "preferences.saved", learner, round_id=round_.id, offers=ids)
    return preferences


def visible_offers_stmt() -> sa.Select:
    """Select offers learners may see: open, with capacity, from approved employers."""
    return sa.select(PlacementOffer).join(PlacementOffer.employer).where(
        Employer.approved.is_(True), PlacementOffer.status == OfferStatus.OPEN)
