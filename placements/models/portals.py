"""Portal models: the history of changes employers make to offers that may hold learners."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, utcnow
from placements.models.core import PlacementOffer, User


class OfferChange(Base):
    """A change to an offer's capacity, or its withdrawal, with who, when and why."""

    __tablename__ = "offer_change"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('capacity', 'withdrawn')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement_offer.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "capacity" (places changed) or "withdrawn" (offer closed).
    kind: Mapped[str] = mapped_column(sa.String(20))
    old_capacity: Mapped[int]
    new_capacity: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    #: Ids of the rounds marked as needing a repair run because of this change.
    rounds_flagged: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    #: Placements (not withdrawn or declined) the offer held when it changed.
    placements_held: Mapped[int] = mapped_column(default=0)

    offer: Mapped[PlacementOffer] = relationship()
    actor: Mapped[User | None] = relationship()
