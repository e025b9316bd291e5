"""Duty of care: employers' compliance items, learners' dated checks, and uploaded files.

An employer keeps compliance items (employer's liability insurance, a health and safety
risk assessment for each site, a safeguarding contact and policy, and any item type a
provider adds). Officers review each submission (accept, or return it with a reason); a
new submission supersedes the older ones of the same type (and site). Whether an item is
in date is derived from its dates, never stored. The rules live in
`placements.domain.compliance`.

Learners declare dated checks (a DBS certificate with its number and issue date, the update
service, licences and cards with an expiry, checks a provider defines); officers mark a
check seen and verified. `Learner.credentials` is derived from them (the tags held).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, enum_type, utcnow
from placements.models.core import Employer, EmployerSite, Learner, Provider, User


class BuiltinItem(enum.StrEnum):
    """The item types every employer keeps, whoever the provider."""

    INSURANCE = "insurance"
    RISK_ASSESSMENT = "risk-assessment"
    SAFEGUARDING = "safeguarding"


class ComplianceStatus(enum.StrEnum):
    """Where a submitted compliance item is in its review (see domain.compliance.ITEM)."""

    SUBMITTED = "submitted"  # waiting for an officer
    ACCEPTED = "accepted"  # an officer accepted it; it counts while its dates are valid
    RETURNED = "returned"  # an officer sent it back with a reason
    SUPERSEDED = "superseded"  # a newer submission of the same item replaced it


class ComplianceItemType(Base):
    """A kind of compliance item: built in (provider_id NULL) or added by a provider."""

    __tablename__ = "compliance_item_type"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "name"),
        sa.CheckConstraint("builtin IS NULL OR provider_id IS NULL", name="builtin_is_shared"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The built-in kind (BuiltinItem value), None for a provider's own type.
    builtin: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    #: The provider who added it (its rounds only); None for a built-in type.
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: One item for each of the employer's sites (a risk assessment), not one per employer.
    per_site: Mapped[bool] = mapped_column(default=False)
    #: Whether the item has an expiry (or review-by) date after which it no longer counts.
    expires: Mapped[bool] = mapped_column(default=True)
    #: Whether an offer is closed to allocation without an accepted, in-date item.
    blocks_allocation: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider | None] = relationship()


class StoredFile(Base):
    """An uploaded document (PDF, PNG or JPEG), kept outside the static folder."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random name in the storage (directory or bucket); never derived from the upload's name.
    storage_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    #: The name the file had on the uploader's computer (shown, and offered on download).
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: Detected from the content: application/pdf, image/png or image/jpeg.
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: The employer the document belongs to (its users and the officers who see it only).
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    employer: Mapped[Employer] = relationship()


class ComplianceItem(Base):
    """One submission of a compliance item by (or for) an employer."""

    __tablename__ = "compliance_item"
    __table_args__ = (
        sa.Index("ix_compliance_item_current", "employer_id", "type_id", "status"),
        sa.CheckConstraint("expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on",
                           name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_item_type.id"), index=True)
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"))
    #: The site a per-site item (a risk assessment) covers; None otherwise.
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employer_site.id"), index=True)
    status: Mapped[ComplianceStatus] = mapped_column(
        enum_type(ComplianceStatus, 20), default=ComplianceStatus.SUBMITTED)
    #: Insurer, or who reviewed the risk assessment.
    issuer: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Policy or document number.
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    #: The safeguarding lead's name, e-mail and phone.
    contact_name: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    #: When the assessment was done or the cover began.
    issued_on: Mapped[date | None]
    #: Expiry (insurance) or review-by date (risk assessment, policy); None: no expiry.
    expires_on: Mapped[date | None] = mapped_column(index=True)
    #: A structured checklist filled by an officer instead of an upload: {question: bool}.
    checklist: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stored_file.id"))
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None]
    #: Why an officer returned it (shown to the employer).
    return_reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    type: Mapped[ComplianceItemType] = relationship()
    employer: Mapped[Employer] = relationship()
    site: Mapped[EmployerSite | None] = relationship()
    file: Mapped[StoredFile | None] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])


class ComplianceReminder(Base):
    """A reminder e-mailed about an item's expiry (once per item and threshold)."""

    __tablename__ = "compliance_reminder"
    __table_args__ = (sa.UniqueConstraint("item_id", "days_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("compliance_item.id", ondelete="CASCADE"))
    #: The threshold it was sent for (30 or 7 days before expiry).
    days_before: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(default=0)


class LearnerCheckType(Base):
    """A check a provider asks its learners for, beyond the built-in ones."""

    __tablename__ = "learner_check_type"
    __table_args__ = (sa.UniqueConstraint("provider_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Whether the check has an expiry date after which it no longer counts.
    expires: Mapped[bool] = mapped_column(default=True)
    #: Whether every offer in the provider's rounds needs it.
    required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider] = relationship()

    @property
    def tag(self) -> str:
        """The requirement tag of this check (as offers and the problem file name it)."""
        return f"check-{self.id}"


class LearnerCheck(Base):
    """A check a learner holds: declared by the learner, optionally verified by an officer."""

    __tablename__ = "learner_check"
    __table_args__ = (sa.UniqueConstraint("learner_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    #: A REQUIREMENTS tag ("dbs", "driving_licence", "cscs") or "check-<type id>".
    tag: Mapped[str] = mapped_column(sa.String(40))
    check_type_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("learner_check_type.id", ondelete="CASCADE"))
    #: Certificate, licence or card number.
    reference: Mapped[str] = mapped_column(sa.String(40), default="")
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None]
    #: DBS only: the learner subscribes to the DBS update service.
    update_service: Mapped[bool] = mapped_column(default=False)
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When an officer saw the certificate and verified it (None: self-declared only).
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    learner: Mapped[Learner] = relationship()
    check_type: Mapped[LearnerCheckType | None] = relationship()
    verified_by: Mapped[User | None] = relationship()

    @property
    def verified(self) -> bool:
        return self.verified_at is not None
