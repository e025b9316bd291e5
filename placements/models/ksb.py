"""KSB models: the knowledge, skills and behaviours (KSBs) of occupational standards, how a
programme's modules and work-integrated learning cover them, the KSBs a placement offer
develops, and the evidence learners log against them.

Only confirmed links count anywhere (coverage, outstanding KSBs, the allocation): a
suggestion is a proposal that a person confirms or rejects (`placements.domain.ksb`).
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, enum_type, utcnow
from placements.models.core import (
    Learner,
    OccupationalStandard,
    PlacementOffer,
    Programme,
    User,
)
from placements.models.hours import HoursEntry


class KsbKind(enum.StrEnum):
    """Which of the three a statement is."""

    KNOWLEDGE = "knowledge"
    SKILL = "skill"
    BEHAVIOUR = "behaviour"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class KsbStandardVersion(Base):
    """Which version of a standard's KSBs is loaded, from where, and when.

    One row per standard that has KSB statements. `revision` moves on every change to the
    standard's statements, so that the suggestion index of each process knows to rebuild.
    """

    __tablename__ = "ksb_standard_version"

    standard_id: Mapped[int] = mapped_column(
        sa.ForeignKey("occupational_standard.id", ondelete="CASCADE"), primary_key=True)
    #: The standard's version as published (e.g. "1.2"); "" when the source does not say.
    version: Mapped[str] = mapped_column(sa.String(20), default="")
    #: The date of that version (approved for delivery, or the snapshot's date).
    version_date: Mapped[date | None]
    #: Where the statements came from, in words ("Bundled reference data ...",
    #: "CSV import", "Skills England JSON").
    source: Mapped[str] = mapped_column(sa.String(200), default="")
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))
    revision: Mapped[int] = mapped_column(default=1, server_default="1")

    standard: Mapped[OccupationalStandard] = relationship()
    loaded_by: Mapped[User | None] = relationship()


class Ksb(Base):
    """One knowledge, skill or behaviour statement of an occupational standard."""

    __tablename__ = "ksb"
    __table_args__ = (sa.UniqueConstraint("standard_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(
        sa.ForeignKey("occupational_standard.id", ondelete="CASCADE"), index=True)
    #: The standard's own reference: K1, S12, B3.
    code: Mapped[str] = mapped_column(sa.String(12))
    kind: Mapped[KsbKind] = mapped_column(enum_type(KsbKind, 20))
    statement: Mapped[str] = mapped_column(sa.Text)
    #: Order within the standard: knowledge, then skills, then behaviours, by number.
    position: Mapped[int] = mapped_column(default=0)

    standard: Mapped[OccupationalStandard] = relationship()

    def __str__(self) -> str:
        return f"{self.code}: {self.statement}"


class Delivery(enum.StrEnum):
    """How a part of a programme is delivered: a taught module, or work-integrated learning
    (the same kinds learners log hours of)."""

    MODULE = "module"
    PLACEMENT = "placement"
    LIVE_BRIEF = "live-brief"
    SIMULATED = "simulated"

    @property
    def label(self) -> str:
        return DELIVERY_LABELS[self]

    @property
    def work_integrated(self) -> bool:
        return self is not Delivery.MODULE


DELIVERY_LABELS: dict[Delivery, str] = {
    Delivery.MODULE: "Taught module (classroom)",
    Delivery.PLACEMENT: "Work placement",
    Delivery.LIVE_BRIEF: "Live employer brief or project",
    Delivery.SIMULATED: "Simulated work environment",
}


class ProgrammeModule(Base):
    """A module of a programme with its learning outcomes, or one of its work-integrated
    parts (placement, live brief, simulated work) with its planned activities."""

    __tablename__ = "programme_module"
    __table_args__ = (sa.UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="CASCADE"), index=True)
    #: The provider's module code, the key for imports (e.g. "SWD401").
    code: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery, 20),
                                               default=Delivery.MODULE)
    #: Learning outcomes (a module) or planned activities (work-integrated learning).
    outcomes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    programme: Mapped[Programme] = relationship()
    links: Mapped[list[ModuleKsb]] = relationship(back_populates="module",
                                                  cascade="all, delete-orphan",
                                                  passive_deletes=True)


class LinkStatus(enum.StrEnum):
    """A suggested link between a text (module, offer) and a KSB: only confirmed ones count."""

    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class _Link:
    """Columns every module-KSB and offer-KSB link has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    ksb_id: Mapped[int] = mapped_column(sa.ForeignKey("ksb.id", ondelete="CASCADE"),
                                        index=True)
    status: Mapped[LinkStatus] = mapped_column(enum_type(LinkStatus, 20),
                                               default=LinkStatus.SUGGESTED)
    #: The suggestion's score (0..1) and the words that matched, when it was suggested;
    #: None for a link a person added by hand.
    score: Mapped[float | None]
    matched: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id",
                                                                    ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]


class ModuleKsb(_Link, Base):
    """A KSB a programme module (or work-integrated part) covers: suggested, confirmed or
    rejected."""

    __tablename__ = "module_ksb"
    __table_args__ = (sa.UniqueConstraint("module_id", "ksb_id"),)

    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme_module.id", ondelete="CASCADE"), index=True)

    module: Mapped[ProgrammeModule] = relationship(back_populates="links")
    ksb: Mapped[Ksb] = relationship()
    decided_by: Mapped[User | None] = relationship()


class OfferKsb(_Link, Base):
    """A KSB a placement offer develops: suggested from its description, confirmed (or
    rejected) by the employer."""

    __tablename__ = "offer_ksb"
    __table_args__ = (sa.UniqueConstraint("offer_id", "ksb_id"),)

    offer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("placement_offer.id", ondelete="CASCADE"), index=True)

    offer: Mapped[PlacementOffer] = relationship()
    ksb: Mapped[Ksb] = relationship()
    decided_by: Mapped[User | None] = relationship()


class EvidenceStatus(enum.StrEnum):
    """Whether a KSB a learner says they practised has been confirmed."""

    CLAIMED = "claimed"  # tagged by the learner, waiting for the supervisor or officer
    CONFIRMED = "confirmed"  # confirmed with the hours
    NOT_CONFIRMED = "not-confirmed"  # the verifier did not confirm it (or the hours)


class KsbEvidence(Base):
    """A learner's reflection on one entry of work-integrated hours, and the KSBs they say
    they practised (`items`). `version` moves on every change the learner makes, so that a
    verifier confirms exactly the tags they saw."""

    __tablename__ = "ksb_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    hours_entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hours_entry.id", ondelete="CASCADE"), unique=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    reflection: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    entry: Mapped[HoursEntry] = relationship()
    learner: Mapped[Learner] = relationship()
    items: Mapped[list[KsbEvidenceItem]] = relationship(
        back_populates="evidence", cascade="all, delete-orphan", passive_deletes=True,
        order_by="KsbEvidenceItem.id")


class KsbEvidenceItem(Base):
    """One KSB tagged on an evidence record, and its confirmation."""

    __tablename__ = "ksb_evidence_item"
    __table_args__ = (sa.UniqueConstraint("evidence_id", "ksb_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ksb_evidence.id", ondelete="CASCADE"), index=True)
    ksb_id: Mapped[int] = mapped_column(sa.ForeignKey("ksb.id", ondelete="CASCADE"),
                                        index=True)
    status: Mapped[EvidenceStatus] = mapped_column(enum_type(EvidenceStatus, 20),
                                                   default=EvidenceStatus.CLAIMED)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id",
                                                                    ondelete="SET NULL"))
    #: Who decided, in words (a supervisor without an account has a name, not a user).
    decided_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    decided_at: Mapped[datetime | None]

    evidence: Mapped[KsbEvidence] = relationship(back_populates="items")
    ksb: Mapped[Ksb] = relationship()


def ksb_sort_key(code: str) -> tuple[int, int, int, str]:
    """K before S before B, then by number: K2 < K10 < S1 < B1 (other codes last)."""
    match = re.fullmatch(r"([A-Za-z]*?)([KSBksb])0*(\d+)(?:\.(\d+))?", code)
    if not match:
        return (3, 0, 0, code)
    order = {"K": 0, "S": 1, "B": 2}[match.group(2).upper()]
    return (order, int(match.group(3)), int(match.group(4) or 0), code)
