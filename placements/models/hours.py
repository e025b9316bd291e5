"""Hours models: learners' classroom and work-integrated hours, and their running totals."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.allocation import Placement
from placements.models.base import Base, enum_type, utcnow
from placements.models.core import Learner, User

#: Most quarter hours one entry may hold (12 hours).
MAX_QUARTER_HOURS = 48


class HoursKind(enum.StrEnum):
    """What sort of learning an entry records."""

    CLASSROOM = "classroom"
    PLACEMENT = "placement"
    LIVE_BRIEF = "live-brief"
    SIMULATED = "simulated"
    IN_WORK = "in-work"

    @property
    def label(self) -> str:
        return HOURS_KIND_LABELS[self]

    @property
    def work_integrated(self) -> bool:
        return self is not HoursKind.CLASSROOM


HOURS_KIND_LABELS: dict[HoursKind, str] = {
    HoursKind.CLASSROOM: "Classroom",
    HoursKind.PLACEMENT: "Placement",
    HoursKind.LIVE_BRIEF: "Live employer brief or project",
    HoursKind.SIMULATED: "Simulated work environment",
    HoursKind.IN_WORK: "In-work learning (upskillers and apprentices)",
}


class HoursStatus(enum.StrEnum):
    """Whether an entry counts yet."""

    PENDING = "pending"  # logged by the learner, waiting for a supervisor or officer
    VERIFIED = "verified"  # counts towards the learner's totals and status
    REJECTED = "rejected"  # turned down, with a reason; does not count


class HoursSource(enum.StrEnum):
    """Who recorded an entry."""

    LEARNER = "learner"
    IMPORT = "import"
    OFFICER = "officer"


class HoursEntry(Base):
    """Hours one learner spent on one day on one kind of learning."""

    __tablename__ = "hours_entry"
    __table_args__ = (
        sa.UniqueConstraint("learner_id", "entry_date", "kind"),
        sa.CheckConstraint(f"quarter_hours BETWEEN 1 AND {MAX_QUARTER_HOURS}",
                           name="quarter_hours_range"),
        sa.CheckConstraint("kind = 'placement' OR placement_id IS NULL",
                           name="placement_only_for_placement_kind"),
        sa.Index("ix_hours_entry_learner_kind_status", "learner_id", "kind", "status"),
        sa.Index("ix_hours_entry_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"))
    entry_date: Mapped[date] = mapped_column(index=True)
    #: Hours in quarter hours (1 = 15 minutes, 48 = 12 hours).
    quarter_hours: Mapped[int]
    kind: Mapped[HoursKind] = mapped_column(enum_type(HoursKind, 20))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    #: The learner's placement the hours were spent on (kind "placement" only).
    placement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("placement.id", ondelete="SET NULL"), index=True)
    status: Mapped[HoursStatus] = mapped_column(enum_type(HoursStatus, 20),
                                                default=HoursStatus.PENDING)
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    verified_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[HoursSource] = mapped_column(enum_type(HoursSource, 20),
                                                default=HoursSource.LEARNER)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    learner: Mapped[Learner] = relationship()
    placement: Mapped[Placement | None] = relationship()
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])

    @property
    def hours(self) -> float:
        return self.quarter_hours / 4


def total_column(kind: HoursKind, status: HoursStatus) -> str | None:
    """Name the `HoursLearnerTotal` column counting a kind and status (None: not kept)."""
    if status is HoursStatus.REJECTED:
        return None
    base = kind.value.replace("-", "_")
    return f"{base}_qh" if status is HoursStatus.VERIFIED else f"{base}_pending_qh"


class HoursLearnerTotal(Base):
    """One learner's running totals: verified and pending quarter hours of each kind.

    One wide row per learner, so a programme dashboard reads one row per learner instead
    of summing millions of entries. Every service that adds, changes or removes an entry
    updates it in the same transaction; `flask hours rebuild-totals` recomputes it.
    """

    __tablename__ = "hours_learner_total"

    learner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("learner.id", ondelete="CASCADE"), primary_key=True)
    classroom_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    placement_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    live_brief_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    simulated_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    in_work_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    classroom_pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    placement_pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    live_brief_pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    simulated_pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    in_work_pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Verified work-integrated hours (every kind but classroom), kept for the dashboards.
    work_integrated_qh: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Pending hours of every kind.
    pending_qh: Mapped[int] = mapped_column(default=0, server_default="0")


class HoursProgrammeMonth(Base):
    """Running total of a programme's hours per calendar month, kind and status."""

    __tablename__ = "hours_programme_month"

    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="CASCADE"), primary_key=True)
    #: First day of the month.
    month: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[HoursKind] = mapped_column(enum_type(HoursKind, 20), primary_key=True)
    status: Mapped[HoursStatus] = mapped_column(enum_type(HoursStatus, 20), primary_key=True)
    quarter_hours: Mapped[int] = mapped_column(default=0)
    entries: Mapped[int] = mapped_column(default=0)
