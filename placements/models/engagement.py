"""Employer engagement: where each employer or prospect stands, and what officers did.

A *prospect* is an organisation officers are courting that has not registered. It is an
`EmployerEngagement` row with `employer_id` None and its own name, sector and postcode area,
not an `Employer` row: an Employer is a registered organisation (its users sign in, its
unapproved rows wait in the approval queue, its name is unique across registrations), and a
prospect must not appear in that queue or block a later registration under the same name.
When the prospect registers, an officer links the record to the new Employer (same row,
history kept). Records belong to a provider and are shared within its partnership only
(`domain.access.officer_sees_engagement`); a registered employer has at most one record in
a partnership.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, enum_type, utcnow
from placements.models.core import Employer, User


class EngagementStage(enum.StrEnum):
    """Where an employer stands on the way to hosting learners."""

    PROSPECT = "prospect"
    CONTACTED = "contacted"
    INTERESTED = "interested"
    PLEDGED = "pledged"
    HOSTING = "hosting"
    LAPSED = "lapsed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ActivityKind(enum.StrEnum):
    """What sort of contact an activity was."""

    CALL = "call"
    VISIT = "visit"
    WORKSHOP = "workshop"
    ROUNDTABLE = "roundtable"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return {"workshop": "Employer workshop", "roundtable": "Roundtable",
                "email": "Email", "call": "Call", "visit": "Visit"}[self.value]


class EmployerEngagement(Base):
    """One organisation in the engagement pipeline: a registered employer or a prospect."""

    __tablename__ = "employer_engagement"
    __table_args__ = (
        sa.CheckConstraint("pledged_places IS NULL OR pledged_places >= 0",
                           name="pledged_not_negative"),
        sa.UniqueConstraint("provider_id", "employer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The provider whose record it is (shared with the providers of its partnership).
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    #: The registered employer; None while the organisation is only a prospect.
    employer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("employer.id", ondelete="CASCADE"), index=True)
    #: Organisation name (copied from the employer when registered).
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    #: Occupational route, as Employer.sector.
    sector: Mapped[str] = mapped_column(sa.String(100), index=True)
    #: Postcode area letters (e.g. "SK"), "" when unknown.
    postcode_area: Mapped[str] = mapped_column(sa.String(2), default="", index=True)
    contact_name: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    stage: Mapped[EngagementStage] = mapped_column(enum_type(EngagementStage, 20),
                                                   default=EngagementStage.PROSPECT)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Places the organisation has promised (pledged stage onwards), when known.
    pledged_places: Mapped[int | None]
    #: The officer who looks after the relationship.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))

    employer: Mapped[Employer | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    activities: Mapped[list[EngagementActivity]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan",
        order_by=lambda: (EngagementActivity.happened_on.desc(), EngagementActivity.id.desc()))

    @property
    def is_prospect_only(self) -> bool:
        """Say whether the organisation has not registered yet."""
        return self.employer_id is None


class EngagementActivity(Base):
    """A call, visit, workshop, roundtable or email with an organisation, and what is next."""

    __tablename__ = "engagement_activity"
    __table_args__ = (
        sa.CheckConstraint("next_action_due IS NULL OR next_action != ''",
                           name="due_needs_action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("employer_engagement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_type(ActivityKind, 20))
    #: The day it happened.
    happened_on: Mapped[date]
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    next_action: Mapped[str] = mapped_column(sa.String(300), default="")
    next_action_due: Mapped[date | None] = mapped_column(index=True)
    #: The next action has been done.
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    engagement: Mapped[EmployerEngagement] = relationship(back_populates="activities")
    officer: Mapped[User | None] = relationship()

    def overdue(self, today: date) -> bool:
        """Say whether the next action is open and past its due date."""
        return (not self.done and self.next_action_due is not None
                and self.next_action_due < today)
