"""Duty of care while a placement runs: review plans and reviews, workplace supervisors and
their e-mailed links, and concerns.

- A `ReviewPlan` belongs to one published placement *at one offer* (a placement moved to
  another employer gets a new plan; the old one stays with the employer it concerned). It
  holds three `PlacementReview`s (start check-in, mid-point, final) whose due dates derive
  from the offer's dates (`placements.domain.reviews.schedule`) unless an officer set them.
- Each review has two `ReviewPart`s, the supervisor's and the learner's; the review's status
  follows the parts (`placements.domain.reviews.REVIEW`). Overdue is derived from the due
  date, never stored.
- A `PlacementSupervisor` is the person an employer names for one placement (name, e-mail,
  phone): no account. A `SupervisorLink` is one signed, single-purpose, expiring link e-mailed
  to them; only its SHA-256 is stored, so it can be checked and revoked but not read back.
- A `Concern` is raised by the learner, the supervisor, an employer user or an officer; it
  has a category, an owner (an officer) and an outcome (`placements.domain.reviews.CONCERN`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.allocation import Placement
from placements.models.base import Base, enum_type, utcnow
from placements.models.core import AllocationRound, Employer, Learner, PlacementOffer, User


class ReviewKind(enum.StrEnum):
    """The three reviews of every placement, in the order they happen."""

    START = "start"  # start check-in, end of the first week
    MIDPOINT = "midpoint"
    FINAL = "final"

    @property
    def label(self) -> str:
        return {"start": "Start check-in", "midpoint": "Mid-point review",
                "final": "Final review"}[self.value]


class ReviewStatus(enum.StrEnum):
    """Where a review stands (transitions: placements.domain.reviews.REVIEW)."""

    SCHEDULED = "scheduled"  # neither part submitted
    SUPERVISOR_DONE = "supervisor-done"  # the supervisor's part is in, the learner's awaited
    LEARNER_DONE = "learner-done"  # the learner's part is in, the supervisor's awaited
    COMPLETE = "complete"  # both parts are in
    WAIVED = "waived"  # an officer decided it is not needed (with a reason)


class ReviewSide(enum.StrEnum):
    """Who completes a part of a review."""

    SUPERVISOR = "supervisor"
    LEARNER = "learner"


class ConcernCategory(enum.StrEnum):
    """What a concern is about."""

    SAFEGUARDING = "safeguarding"
    HEALTH_AND_SAFETY = "health-and-safety"
    ATTENDANCE = "attendance"
    CONDUCT = "conduct"
    WELLBEING = "wellbeing"

    @property
    def label(self) -> str:
        return CONCERN_LABELS[self]


CONCERN_LABELS: dict[ConcernCategory, str] = {
    ConcernCategory.SAFEGUARDING: "Safeguarding",
    ConcernCategory.HEALTH_AND_SAFETY: "Health and safety",
    ConcernCategory.ATTENDANCE: "Attendance",
    ConcernCategory.CONDUCT: "Conduct",
    ConcernCategory.WELLBEING: "Wellbeing",
}


class ConcernStatus(enum.StrEnum):
    """Where a concern stands (transitions: placements.domain.reviews.CONCERN)."""

    OPEN = "open"  # raised, nobody has taken it yet
    IN_HAND = "in-hand"  # an officer owns it
    CLOSED = "closed"  # closed with an outcome


class RaisedBy(enum.StrEnum):
    """Who raised a concern."""

    LEARNER = "learner"
    SUPERVISOR = "supervisor"  # through an e-mailed link, without an account
    EMPLOYER = "employer"  # an employer user in the portal
    OFFICER = "officer"  # an officer recording what they were told


class LinkTask(enum.StrEnum):
    """The one thing a supervisor's link lets them do."""

    HOURS = "hours"  # verify or reject the placement's hours
    REVIEW = "review"  # complete the supervisor's part of one review


class ReviewPlan(Base):
    """The reviews of one published placement at one offer."""

    __tablename__ = "review_plan"
    __table_args__ = (sa.UniqueConstraint("placement_id", "offer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement.id", ondelete="CASCADE"), index=True)
    #: The offer (and so the employer) the plan was made for.
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("placement_offer.id"), index=True)
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    #: Objectives agreed at the start check-in, referred to in the later reviews.
    objectives: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    placement: Mapped[Placement] = relationship()
    offer: Mapped[PlacementOffer] = relationship()
    employer: Mapped[Employer] = relationship()
    learner: Mapped[Learner] = relationship()
    round: Mapped[AllocationRound] = relationship()
    reviews: Mapped[list[PlacementReview]] = relationship(
        back_populates="plan", order_by="PlacementReview.id",
        cascade="all, delete-orphan", passive_deletes=True)


class PlacementReview(Base):
    """One review of a placement: when it is due and where it stands."""

    __tablename__ = "placement_review"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "kind"),
        sa.Index("ix_placement_review_status_due", "status", "due_date"),
        sa.CheckConstraint("status != 'waived' OR waived_reason IS NOT NULL",
                           name="waived_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("review_plan.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[ReviewKind] = mapped_column(enum_type(ReviewKind, 20))
    due_date: Mapped[date]
    #: The officer who set the due date by hand (None: derived from the offer's dates and
    #: kept in step with them).
    due_set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    status: Mapped[ReviewStatus] = mapped_column(enum_type(ReviewStatus, 20),
                                                 default=ReviewStatus.SCHEDULED)
    completed_at: Mapped[datetime | None]
    waived_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    plan: Mapped[ReviewPlan] = relationship(back_populates="reviews")
    parts: Mapped[list[ReviewPart]] = relationship(
        back_populates="review", order_by="ReviewPart.submitted_at",
        cascade="all, delete-orphan", passive_deletes=True)

    def part(self, side: ReviewSide) -> ReviewPart | None:
        """Return the part one side submitted, if any."""
        return next((p for p in self.parts if p.side == side), None)


class ReviewPart(Base):
    """What the supervisor or the learner said in one review."""

    __tablename__ = "review_part"
    __table_args__ = (
        sa.UniqueConstraint("review_id", "side"),
        sa.CheckConstraint("attendance IS NULL OR attendance BETWEEN 1 AND 4",
                           name="attendance_on_scale"),
        sa.CheckConstraint("progress IS NULL OR progress BETWEEN 1 AND 4",
                           name="progress_on_scale"),
        sa.CheckConstraint("submitted_by_id IS NOT NULL OR supervisor_id IS NOT NULL",
                           name="has_author"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement_review.id", ondelete="CASCADE"), index=True)
    side: Mapped[ReviewSide] = mapped_column(enum_type(ReviewSide, 20))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The signed-in author (the learner, or an employer user in the portal).
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: The supervisor who submitted it through an e-mailed link.
    supervisor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("placement_supervisor.id", ondelete="SET NULL"))
    # Start check-in.
    induction_done: Mapped[bool | None]
    safety_briefing_done: Mapped[bool | None]
    supervisor_known: Mapped[bool | None]
    objectives: Mapped[str | None] = mapped_column(sa.Text)
    # Every review: ratings 1-4 (placements.domain.reviews.RATINGS) and words.
    attendance: Mapped[int | None]
    progress: Mapped[int | None]
    progress_note: Mapped[str | None] = mapped_column(sa.Text)
    strengths: Mapped[str | None] = mapped_column(sa.Text)
    development: Mapped[str | None] = mapped_column(sa.Text)
    # Final review.
    recommendation: Mapped[str | None] = mapped_column(sa.String(20))
    would_host_again: Mapped[bool | None]
    would_recommend: Mapped[bool | None]
    comments: Mapped[str | None] = mapped_column(sa.Text)

    review: Mapped[PlacementReview] = relationship(back_populates="parts")
    submitted_by: Mapped[User | None] = relationship()
    supervisor: Mapped[PlacementSupervisor | None] = relationship()


class PlacementSupervisor(Base):
    """The person an employer names to supervise one placement (no account needed)."""

    __tablename__ = "placement_supervisor"
    __table_args__ = (sa.UniqueConstraint("placement_id", "employer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement.id", ondelete="CASCADE"), index=True)
    #: The employer that named them (a placement moved elsewhere leaves them without scope).
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    named_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    placement: Mapped[Placement] = relationship()
    employer: Mapped[Employer] = relationship()


class SupervisorLink(Base):
    """One e-mailed link: a signed token for one purpose on one placement, until it expires.

    Only the SHA-256 of the token is stored. A review link is used up when the supervisor's
    part is submitted (`used_at`); an hours link works until it expires or is revoked.
    """

    __tablename__ = "supervisor_link"
    __table_args__ = (
        sa.CheckConstraint("(purpose = 'review') = (review_id IS NOT NULL)",
                           name="review_link_names_review"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement_supervisor.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[LinkTask] = mapped_column(enum_type(LinkTask, 20))
    review_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("placement_review.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(default=0, server_default="0")

    supervisor: Mapped[PlacementSupervisor] = relationship()
    review: Mapped[PlacementReview | None] = relationship()


class Concern(Base):
    """A worry about a placement, raised by either side, owned and closed by an officer."""

    __tablename__ = "concern"
    __table_args__ = (
        sa.Index("ix_concern_status_raised", "status", "raised_at"),
        sa.CheckConstraint("status != 'closed' OR outcome IS NOT NULL",
                           name="closed_has_outcome"),
        sa.CheckConstraint("status = 'open' OR owner_id IS NOT NULL", name="taken_has_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placement.id"), index=True)
    #: The host employer when it was raised (placements can move).
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation_round.id"), index=True)
    category: Mapped[ConcernCategory] = mapped_column(enum_type(ConcernCategory, 30))
    description: Mapped[str] = mapped_column(sa.Text)
    raised_by: Mapped[RaisedBy] = mapped_column(enum_type(RaisedBy, 20))
    raised_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"),
                                                          index=True)
    raised_by_supervisor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("placement_supervisor.id", ondelete="SET NULL"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[ConcernStatus] = mapped_column(enum_type(ConcernStatus, 20),
                                                  default=ConcernStatus.OPEN)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    placement: Mapped[Placement] = relationship()
    employer: Mapped[Employer] = relationship()
    learner: Mapped[Learner] = relationship()
    round: Mapped[AllocationRound] = relationship()
    raised_by_user: Mapped[User | None] = relationship(foreign_keys=[raised_by_user_id])
    raised_by_supervisor: Mapped[PlacementSupervisor | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
