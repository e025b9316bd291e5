"""Allocation models: solver runs, the placements they produce, officers' locks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, enum_type, utcnow
from placements.models.core import AllocationRound, Learner, PlacementOffer, User
from placements.models.jobs import Job, JobStatus


class RunKind(enum.StrEnum):
    """Why a run was made."""

    FULL = "full"
    REPAIR = "repair"


class PlacementStatus(enum.StrEnum):
    """Where a placement stands with the learner and the world (the lifecycle and its
    transitions: placements.domain.placements)."""

    PROPOSED = "proposed"  # from the latest run or an officer, not yet published
    PUBLISHED = "published"  # visible to learner and employer
    ACCEPTED = "accepted"  # learner accepted
    DECLINED = "declined"  # learner declined (with a reason): to be placed again
    WITHDRAWN = "withdrawn"  # taken away after publication (offer withdrawn or shrunk)


class PendingChange(enum.StrEnum):
    """A change to a published placement decided by a run or an officer, waiting to be
    published (the learner and employer still see the placement as it was)."""

    MOVE = "move"  # to `pending_offer_id`
    REMOVAL = "removal"  # no place for the learner any more


class EmployerResponse(enum.StrEnum):
    """The host employer's answer to a published placement."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    CONCERN = "concern"


class AllocationRun(Base):
    """One solve of a round's problem file: its input and result. Its execution (queued,
    running, progress, failure) is the `Job` it runs as."""

    __tablename__ = "allocation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RunKind] = mapped_column(enum_type(RunKind, 20),
                                          default=RunKind.FULL)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("job.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: The `placement-problem/1` document the run solved.
    #: Both documents are large (megabytes at region scale): loaded only when read.
    problem: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, deferred=True)
    #: The `placement-result/1` document the solver returned (stored with its outcome).
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, deferred=True)

    round: Mapped[AllocationRound] = relationship()
    started_by: Mapped[User | None] = relationship()
    job: Mapped[Job] = relationship(lazy="joined", innerjoin=True)

    @property
    def status(self) -> JobStatus:
        return self.job.status

    @property
    def progress(self) -> dict[str, Any]:
        return self.job.progress or {}

    @property
    def error(self) -> str | None:
        return self.job.error

    @property
    def started_at(self) -> datetime | None:
        return self.job.started_at

    @property
    def finished_at(self) -> datetime | None:
        return self.job.finished_at


class RunLearner(Base):
    """What a succeeded run did for one learner, compared with its baseline (the published
    allocation for a repair, the previous run otherwise): one row per learner, written with
    the run's result, so that the run's pages count, filter and page in SQL instead of
    reading the result document (megabytes at region scale)."""

    __tablename__ = "run_learner"
    __table_args__ = (sa.Index("ix_run_learner_position", "run_id", "position"),
                      sa.Index("ix_run_learner_change", "run_id", "change", "position"))

    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_run.id", ondelete="CASCADE"), primary_key=True)
    learner_id: Mapped[int] = mapped_column(primary_key=True)
    #: kept, moved, newly placed, lost a place, not placed (`rounds.reports.Change`).
    change: Mapped[str] = mapped_column(sa.String(20))
    offer_id: Mapped[int | None]
    before_offer_id: Mapped[int | None]
    rank: Mapped[int | None]
    locked: Mapped[bool] = mapped_column(default=False)
    mandated: Mapped[bool] = mapped_column(default=False)
    #: The solver's reason code when not placed ("capacity", "no-eligible-offer", ...).
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    #: The line's place in the run's list (by change, mandated first, then name), so that a
    #: page of the list is read from an index instead of sorting every learner.
    position: Mapped[int | None]
    #: For a learner the run leaves without a place: why, in an officer's words, worked out
    #: from the problem the run solved when the run finished (`reports.explain_unplaced`).
    explanation: Mapped[str | None] = mapped_column(sa.Text)


class RunOffer(Base):
    """How many of an offer's places a succeeded run filled (its capacity in the problem)."""

    __tablename__ = "run_offer"

    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_run.id", ondelete="CASCADE"), primary_key=True)
    offer_key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    offer_id: Mapped[int | None]
    capacity: Mapped[int]
    filled: Mapped[int]


class Placement(Base):
    """A learner's placement at an offer in a round (the round's current allocation)."""

    __tablename__ = "placement"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "learner_id"),
        sa.CheckConstraint("pending_change IS NULL OR status IN ('published', 'accepted')",
                           name="pending_only_when_visible"),
        sa.CheckConstraint("(pending_change IS NULL AND pending_offer_id IS NULL) OR "
                           "(pending_change = 'removal' AND pending_offer_id IS NULL) OR "
                           "(pending_change = 'move' AND pending_offer_id IS NOT NULL)",
                           name="move_names_offer"),
        # The API's placement sync: in order of change.
        sa.Index("ix_placement_updated_id", "updated_at", "id"),
        # A round's counts by state (its page, publishing) from the index alone.
        sa.Index("ix_placement_round_state", "round_id", "status", "pending_change"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("placement_offer.id"), index=True)
    #: Run that produced it (None for an officer's manual placement).
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("allocation_run.id"))
    #: 1-based rank in the learner's list; K+1 for a fallback; None when locked/manual.
    rank: Mapped[int | None]
    #: Distance from home, in metres.
    distance_m: Mapped[int | None]
    #: "solver", "lock" or "override".
    source: Mapped[str] = mapped_column(sa.String(20), default="solver")
    status: Mapped[PlacementStatus] = mapped_column(
        enum_type(PlacementStatus, 20),
        default=PlacementStatus.PROPOSED)
    published_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: The host employer's answer once published.
    employer_response: Mapped[EmployerResponse] = mapped_column(
        enum_type(EmployerResponse, 20), default=EmployerResponse.PENDING)
    employer_note: Mapped[str | None] = mapped_column(sa.Text)
    #: A change to this published placement waiting to be published (None: nothing waits).
    pending_change: Mapped[PendingChange | None] = mapped_column(enum_type(PendingChange, 10))
    #: Where a pending move goes, with its rank and distance.
    pending_offer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("placement_offer.id"))
    pending_rank: Mapped[int | None]
    pending_distance_m: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    round: Mapped[AllocationRound] = relationship()
    learner: Mapped[Learner] = relationship()
    offer: Mapped[PlacementOffer] = relationship(foreign_keys=[offer_id])
    pending_offer: Mapped[PlacementOffer | None] = relationship(
        foreign_keys=[pending_offer_id])
    run: Mapped[AllocationRun | None] = relationship()

    @property
    def is_visible(self) -> bool:
        """Published placements (and what learners did with them) are visible to both sides."""
        return self.status in VISIBLE_STATUSES


#: Statuses a learner and the host employer can see (everything once published).
VISIBLE_STATUSES = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED,
                    PlacementStatus.DECLINED)


class PlacementDecline(Base):
    """A learner's "no" to an offer in a round: they are not placed there again."""

    __tablename__ = "placement_decline"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("placement_offer.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    declined_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlacementLock(Base):
    """An officer's decision that a learner goes to an offer whatever the solver says."""

    __tablename__ = "placement_lock"
    __table_args__ = (sa.UniqueConstraint("round_id", "learner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("placement_offer.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    learner: Mapped[Learner] = relationship()
    offer: Mapped[PlacementOffer] = relationship()
