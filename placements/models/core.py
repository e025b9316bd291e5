"""Foundation models: people, providers, programmes, employers, offers, rounds, preferences."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from placements.models.base import Base, enum_type, utcnow

#: Requirement tags an offer may demand and a learner may hold, with their plain names.
REQUIREMENTS: dict[str, str] = {
    "dbs": "Enhanced DBS check",
    "driving_licence": "Full UK driving licence",
    "cscs": "CSCS card (construction site safety)",
}


class Role(enum.StrEnum):
    """The one role each user account has."""

    ADMIN = "admin"
    OFFICER = "officer"
    EMPLOYER = "employer"
    LEARNER = "learner"


class ProviderKind(enum.StrEnum):
    """What sort of institution a provider is."""

    COLLEGE = "college"
    UNIVERSITY = "university"
    IOT = "institute-of-technology"


class OfferStatus(enum.StrEnum):
    """Whether a placement offer is open to allocation."""

    OPEN = "open"
    WITHDRAWN = "withdrawn"


class EmployerStatus(enum.StrEnum):
    """Whether officers have approved an employer (transitions: placements.domain.employers)."""

    AWAITING = "awaiting"  # registered, or asked again after a rejection: an officer decides
    APPROVED = "approved"  # its open offers are open to learners' choices
    REJECTED = "rejected"  # not approved, with the officer's reason; it may ask again


class RankCost(enum.StrEnum):
    """How a placement at rank r is costed by the solver."""

    LINEAR = "linear"
    SQUARED = "squared"


class RoundStatus(enum.StrEnum):
    """Lifecycle of an allocation round (transitions: placements.domain.rounds)."""

    DRAFT = "draft"  # being set up: learners do not see it
    OPEN = "open"  # taking learners' choices until the deadline
    CLOSED = "closed"  # choices closed early by an officer (a reason recorded)
    PUBLISHED = "published"  # an allocation has been published
    ARCHIVED = "archived"  # finished: read only


def _new_token() -> str:
    return secrets.token_urlsafe(24)


round_providers = sa.Table(
    "round_provider",
    Base.metadata,
    sa.Column("round_id", sa.ForeignKey("allocation_round.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("provider_id", sa.ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True),
)

round_programmes = sa.Table(
    "round_programme",
    Base.metadata,
    sa.Column("round_id", sa.ForeignKey("allocation_round.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("programme_id", sa.ForeignKey("programme.id", ondelete="CASCADE"),
              primary_key=True),
)

offer_standards = sa.Table(
    "offer_standard",
    Base.metadata,
    sa.Column("offer_id", sa.ForeignKey("placement_offer.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("standard_id", sa.ForeignKey("occupational_standard.id", ondelete="CASCADE"),
              primary_key=True),
)


class Partnership(Base):
    """A regional partnership of providers sharing one platform and pooling employers."""

    __tablename__ = "partnership"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    region: Mapped[str] = mapped_column(sa.String(100), default="")

    providers: Mapped[list[Provider]] = relationship(back_populates="partnership")


class Provider(Base):
    """A college, university or Institute of Technology that delivers HTQs."""

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[ProviderKind] = mapped_column(enum_type(ProviderKind, 40))
    #: UK Provider Reference Number, 8 digits, when known.
    ukprn: Mapped[str | None] = mapped_column(sa.String(8), unique=True)
    partnership_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partnership.id"))

    partnership: Mapped[Partnership | None] = relationship(back_populates="providers")
    programmes: Mapped[list[Programme]] = relationship(back_populates="provider",
                                                       order_by="Programme.title")

    def partner_ids(self) -> set[int]:
        """Return the ids of this provider and every provider in its partnership."""
        if self.partnership is None:
            return {self.id}
        return {p.id for p in self.partnership.providers}


class Employer(Base):
    """An employer organisation that offers placements."""

    __tablename__ = "employer"
    __table_args__ = (
        sa.CheckConstraint("max_learners IS NULL OR max_learners >= 0",
                           name="max_learners_not_negative"),
        sa.CheckConstraint("min_if_any IS NULL OR min_if_any >= 1", name="min_if_any_positive"),
        sa.CheckConstraint("max_learners IS NULL OR min_if_any IS NULL "
                           "OR min_if_any <= max_learners", name="limits_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    #: Main sector, an occupational route name such as "Digital".
    sector: Mapped[str] = mapped_column(sa.String(100))
    #: ONS region, e.g. "North West".
    region: Mapped[str] = mapped_column(sa.String(100))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    status: Mapped[EmployerStatus] = mapped_column(enum_type(EmployerStatus, 20),
                                                   default=EmployerStatus.AWAITING)
    #: When the status last changed (the decision, or the employer asking again).
    status_changed_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", use_alter=True, name="fk_employer_approved_by_id_user"))
    #: Why officers rejected it, in the words sent to the employer (None unless rejected).
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: What the employer said it changed when it last asked again after a rejection.
    resubmission_note: Mapped[str | None] = mapped_column(sa.Text)
    #: Most learners it hosts in one round across all its offers (None: only offer capacity).
    max_learners: Mapped[int | None]
    #: It hosts only if it gets at least this many learners in a round (None: any number).
    min_if_any: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites: Mapped[list[EmployerSite]] = relationship(back_populates="employer",
                                                     order_by="EmployerSite.name")
    offers: Mapped[list[PlacementOffer]] = relationship(back_populates="employer",
                                                        order_by="PlacementOffer.title")
    users: Mapped[list[User]] = relationship(back_populates="employer",
                                             foreign_keys="User.employer_id")

    @hybrid_property
    def approved(self) -> bool:
        """Whether officers have approved the employer (`status` is the lifecycle's column)."""
        return self.status == EmployerStatus.APPROVED

    @approved.inplace.setter
    def _approved_setter(self, value: bool) -> None:
        # For building rows (imports, demo data, test fixtures): an existing employer's
        # status changes only through `placements.domain.employers.EMPLOYER`.
        self.status = EmployerStatus.APPROVED if value else EmployerStatus.AWAITING

    @approved.inplace.expression
    @classmethod
    def _approved_expression(cls) -> sa.ColumnElement[bool]:
        return cls.status == EmployerStatus.APPROVED.value


class User(UserMixin, Base):
    """A person who signs in; exactly one role."""

    __tablename__ = "user"
    __table_args__ = (
        sa.CheckConstraint("role != 'officer' OR provider_id IS NOT NULL",
                           name="officer_has_provider"),
        sa.CheckConstraint("role != 'employer' OR employer_id IS NOT NULL",
                           name="employer_user_has_employer"),
        # Lists of learners and placements are read in name order a page at a time.
        sa.Index("ix_user_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role, 20))
    #: Werkzeug hash (scrypt); None until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    #: Rotated on logout and password change so replayed session cookies stop working.
    session_token: Mapped[str] = mapped_column(sa.String(64), default=_new_token)
    active: Mapped[bool] = mapped_column(default=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider.id"))
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employer.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    provider: Mapped[Provider | None] = relationship()
    employer: Mapped[Employer | None] = relationship(back_populates="users",
                                                     foreign_keys=[employer_id])
    learner: Mapped[Learner | None] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        """Hash and store a new password, ending every other session."""
        method = current_app.config["PASSWORD_HASH_METHOD"] if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.rotate_session()

    def check_password(self, password: str) -> bool:
        """Say whether the password matches the stored hash."""
        return self.password_hash is not None and check_password_hash(self.password_hash,
                                                                      password)

    def rotate_session(self) -> None:
        """Invalidate every session cookie issued so far."""
        self.session_token = _new_token()

    def get_id(self) -> str:
        """Return the session identity: the user id bound to the current session token."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LinkPurpose(enum.StrEnum):
    """What an e-mailed account link lets its addressee do."""

    INVITATION = "invitation"  # set a first password
    PASSWORD_RESET = "password-reset"  # choose a new password
    EMAIL_CONFIRMATION = "email-confirmation"  # confirm a self-registered account


class AccountLink(Base):
    """A single-use, expiring link e-mailed to one account for one purpose.

    Only the SHA-256 of the token is stored. A new link of a purpose supersedes (revokes)
    the account's older ones; setting a password or signing in revokes every outstanding
    link of the account; using a link is one conditional UPDATE, so it works once.
    """

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                         index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(enum_type(LinkPurpose, 30))
    #: SHA-256 of the token; the token itself is only ever in the link.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    #: Set when a newer link, a new password or a sign-in ended it.
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class OccupationalStandard(Base):
    """A level 4/5 occupational standard published by Skills England (IfATE)."""

    __tablename__ = "occupational_standard"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(10), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[int]
    route: Mapped[str] = mapped_column(sa.String(100), index=True)
    pathway: Mapped[str] = mapped_column(sa.String(200), default="")
    overview: Mapped[str] = mapped_column(sa.Text, default="")
    typical_duration_months: Mapped[int | None]

    def __str__(self) -> str:
        return f"{self.reference} {self.title} (level {self.level})"


class Programme(Base):
    """A Higher Technical Qualification programme run by a provider."""

    __tablename__ = "programme"
    __table_args__ = (
        sa.CheckConstraint("level IN (4, 5)", name="level_4_or_5"),
        sa.CheckConstraint(
            "NOT placement_mandated OR (required_placement_hours IS NOT NULL "
            "AND required_placement_hours > 0)",
            name="mandated_has_hours"),
        sa.CheckConstraint("work_integration_target_pct BETWEEN 0 AND 100",
                           name="target_pct_range"),
        sa.CheckConstraint("planned_total_hours > 0", name="planned_hours_positive"),
        sa.UniqueConstraint("provider_id", "title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    #: Provider's own course code, the natural key in student-record exports.
    code: Mapped[str] = mapped_column(sa.String(40), default="")
    level: Mapped[int]
    standard_id: Mapped[int] = mapped_column(sa.ForeignKey("occupational_standard.id"))
    #: Occupational route, which is the placement sector.
    route: Mapped[str] = mapped_column(sa.String(100), index=True)
    placement_mandated: Mapped[bool] = mapped_column(default=False)
    required_placement_hours: Mapped[int | None]
    planned_total_hours: Mapped[int]
    #: Share of planned hours expected to be work-integrated, in percent (the 80/20 norm).
    work_integration_target_pct: Mapped[int] = mapped_column(default=20)
    start_date: Mapped[date]
    end_date: Mapped[date]

    provider: Mapped[Provider] = relationship(back_populates="programmes")
    standard: Mapped[OccupationalStandard] = relationship()
    learners: Mapped[list[Learner]] = relationship(back_populates="programme")


class EmployerSite(Base):
    """A place of work where an employer hosts learners."""

    __tablename__ = "employer_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    postcode: Mapped[str] = mapped_column(sa.String(10))
    #: Postcode district centroid (degrees).
    lat: Mapped[float]
    lon: Mapped[float]
    #: When the employer stopped using the site (no new offers there; kept for history).
    archived_at: Mapped[datetime | None]

    employer: Mapped[Employer] = relationship(back_populates="sites")
    offers: Mapped[list[PlacementOffer]] = relationship(back_populates="site")


class PlacementOffer(Base):
    """Places an employer offers at one site, in one sector, for a period."""

    __tablename__ = "placement_offer"
    __table_args__ = (
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("end_date >= start_date", name="dates_in_order"),
        sa.CheckConstraint("hours_per_week > 0 AND hours_per_week <= 48",
                           name="hours_per_week_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("employer_site.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Occupational route the placement serves; learners only meet offers of their route.
    sector: Mapped[str] = mapped_column(sa.String(100), index=True)
    capacity: Mapped[int]
    start_date: Mapped[date]
    end_date: Mapped[date]
    hours_per_week: Mapped[int]
    #: Tags from REQUIREMENTS a learner must hold.
    requirements: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    work_mode: Mapped[str] = mapped_column(sa.String(20), default="on-site")
    status: Mapped[OfferStatus] = mapped_column(
        enum_type(OfferStatus, 20), default=OfferStatus.OPEN)
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    employer: Mapped[Employer] = relationship(back_populates="offers")
    site: Mapped[EmployerSite] = relationship(back_populates="offers")
    standards: Mapped[list[OccupationalStandard]] = relationship(secondary=offer_standards)

    @property
    def is_open(self) -> bool:
        return self.status == OfferStatus.OPEN


class Learner(Base):
    """An HTQ learner: where they live, how far they travel, what they hold."""

    __tablename__ = "learner"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "student_ref"),
        sa.CheckConstraint("max_travel_km > 0 AND max_travel_km <= 500",
                           name="travel_range"),
        # The API's lists and sync: a provider's learners in order of change.
        sa.Index("ix_learner_provider_updated", "provider_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programme.id"), index=True)
    #: Student number in the provider's record system (natural key for imports).
    student_ref: Mapped[str] = mapped_column(sa.String(40))
    home_postcode: Mapped[str] = mapped_column(sa.String(10))
    lat: Mapped[float]
    lon: Mapped[float]
    #: Furthest the learner can travel to a placement, great-circle km.
    max_travel_km: Mapped[int] = mapped_column(default=25)
    #: Tags from REQUIREMENTS the learner holds (e.g. "dbs").
    credentials: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: Employer of an upskiller or apprentice already in work.
    in_work_employer: Mapped[str | None] = mapped_column(sa.String(200))
    #: Free text, shown to officers only.
    access_needs: Mapped[str | None] = mapped_column(sa.Text)
    # Optional equality monitoring; None means "not given".
    first_in_family_he: Mapped[bool | None]
    age_band: Mapped[str | None] = mapped_column(sa.String(20))
    prior_qualification: Mapped[str | None] = mapped_column(sa.String(60))
    disability_declared: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Moves on every change to the learner, or to their name or e-mail address (see
    #: `_touch_learners`), so that the API's `updated_since` sees it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="learner")
    provider: Mapped[Provider] = relationship()
    programme: Mapped[Programme] = relationship(back_populates="learners")

    @property
    def dbs_held(self) -> bool:
        return "dbs" in (self.credentials or [])


@sa.event.listens_for(Session, "before_flush")
def _touch_learners(session: Session, _context: Any, _instances: Any) -> None:
    """A learner's name and e-mail address live on their account: changing either changes
    the learner (their `updated_at` moves)."""
    for obj in session.dirty:
        if isinstance(obj, User) and obj.role == Role.LEARNER:
            state: Any = sa.inspect(obj)
            if (state.attrs.name.history.has_changes()
                    or state.attrs.email.history.has_changes()) and obj.learner is not None:
                obj.learner.updated_at = utcnow()


class AllocationRound(Base):
    """One allocation of learners in some programmes to the offers of their sectors."""

    __tablename__ = "allocation_round"
    __table_args__ = (
        sa.CheckConstraint("max_preferences BETWEEN 1 AND 50", name="k_range"),
        sa.CheckConstraint("time_limit_s BETWEEN 1 AND 3600", name="time_limit_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: The provider whose officers own the round.
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    preference_deadline: Mapped[datetime]
    max_preferences: Mapped[int] = mapped_column(default=10)
    rank_cost: Mapped[RankCost] = mapped_column(
        enum_type(RankCost, 10), default=RankCost.SQUARED)
    fallback: Mapped[bool] = mapped_column(default=True)
    time_limit_s: Mapped[int] = mapped_column(default=60)
    #: Opt-in: after the other levels of the objective, prefer placements that cover more
    #: of each learner's outstanding work-integrated KSBs (`placements.domain.ksb`).
    ksb_coverage: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[RoundStatus] = mapped_column(
        enum_type(RoundStatus, 20), default=RoundStatus.OPEN)
    #: When choices were closed before the deadline, and why (learners are told).
    choices_closed_at: Mapped[datetime | None]
    choices_closed_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: Since when a repair run is due (capacity cut or withdrawn under placed learners, a
    #: learner declined); None when nothing is due. A run started later clears it.
    repair_due_since: Mapped[datetime | None]
    #: How many times the allocation has been published (each publication claims the next
    #: number atomically, so two concurrent publications cannot both happen).
    publications: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Learners' checks count only once an officer has seen and verified them.
    require_verified_checks: Mapped[bool] = mapped_column(default=False,
                                                          server_default=sa.false())
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    provider: Mapped[Provider] = relationship()
    providers: Mapped[list[Provider]] = relationship(secondary=round_providers)
    programmes: Mapped[list[Programme]] = relationship(secondary=round_programmes)

    @property
    def needs_repair(self) -> bool:
        """Say whether a repair run is due."""
        return self.repair_due_since is not None

    def deadline_passed(self, now: datetime | None = None) -> bool:
        """Say whether the deadline for choices has passed."""
        return (now or utcnow()) >= self.preference_deadline

    def sectors(self) -> set[str]:
        """Return the routes of the programmes in scope."""
        return {p.route for p in self.programmes}


class Preference(Base):
    """A learner's ranked wish for one offer in one round."""

    __tablename__ = "preference"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "learner_id", "rank"),
        sa.UniqueConstraint("round_id", "learner_id", "offer_id"),
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learner.id", ondelete="CASCADE"),
                                            index=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("placement_offer.id"), index=True)
    rank: Mapped[int]

    round: Mapped[AllocationRound] = relationship()
    learner: Mapped[Learner] = relationship()
    offer: Mapped[PlacementOffer] = relationship()


class AuditEvent(Base):
    """Who did what to which object, when and why."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: Dotted verb, e.g. "employer.approved", "round.published".
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[int | None]
    #: Round the event belongs to, when it belongs to one.
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("allocation_round.id"),
                                                 index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class OutboxMessage(Base):
    """An e-mail the service sent (or, in development, kept here instead of sending)."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    to_address: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    #: "outbox" when only stored, "sent" when handed to the SMTP server, "failed" otherwise.
    status: Mapped[str] = mapped_column(sa.String(20), default="outbox")
    #: Provider whose officers may read it in the outbox page.
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("allocation_round.id"))
    error: Mapped[str | None] = mapped_column(sa.Text)
