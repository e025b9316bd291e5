"""API models: keys that student record systems and reporting tools call the JSON API with,
and the answers kept for retried writes (the `Idempotency-Key` header)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.base import Base, enum_type, utcnow
from placements.models.core import Provider, User


class ApiKeyStatus(enum.StrEnum):
    """Lifecycle of an API key (transitions: placements.api.keys.API_KEY). Expiry is not a
    state: a key past its `expires_at` is refused without any write."""

    ACTIVE = "active"
    REVOKED = "revoked"


class ApiScope(enum.StrEnum):
    """What a key may do."""

    READ = "read"
    WRITE_LEARNERS = "write:learners"
    WRITE_HOURS = "write:hours"


#: Each scope in words, for the key pages and the API reference.
SCOPE_LABELS: dict[ApiScope, str] = {
    ApiScope.READ: "Read programmes, learners, rounds, placements, hours, employers and offers",
    ApiScope.WRITE_LEARNERS: "Add and update learners",
    ApiScope.WRITE_HOURS: "Record classroom hours",
}


class ApiKey(Base):
    """A provider's key to the JSON API. The key itself is shown once; only its SHA-256 is
    kept, with its first characters so that people can tell keys apart."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    #: What it is for, e.g. "SITS nightly sync".
    name: Mapped[str] = mapped_column(sa.String(100))
    #: The key's first characters ("plk_AbCd1234"), shown in lists and the audit trail.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    #: SHA-256 (hex) of the whole key.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: ApiScope values.
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[ApiKeyStatus] = mapped_column(enum_type(ApiKeyStatus, 20),
                                                 default=ApiKeyStatus.ACTIVE)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The officer (or administrator) who created it; the key acts as them.
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    #: Last call made with it (kept to the minute).
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    provider: Mapped[Provider] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    def has_scope(self, scope: ApiScope) -> bool:
        return scope.value in (self.scopes or [])


class ApiIdempotency(Base):
    """The answer to a write made with an `Idempotency-Key`: a retry with the same key and
    the same body gets this answer again and writes nothing."""

    __tablename__ = "api_idempotency"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_key.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255))
    #: SHA-256 of the method, path and body of the first request.
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
