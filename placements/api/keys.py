"""API keys: created by an officer (or an administrator) for one provider, shown once and
kept as a SHA-256, with scopes and an expiry; revoked through their lifecycle.

States (`ApiKey.status`)::

    active --revoke--> revoked

Expiry is derived, not a state: a key past `expires_at` is refused (no write is needed
when the time comes). A key acts as the person who created it, within its provider: it
also stops working when that person's account is deactivated, or when an officer who
created it no longer belongs to the provider.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError, NotAllowed
from placements.domain.lifecycle import Lifecycle, move
from placements.extensions import db
from placements.models import ApiKey, ApiKeyStatus, ApiScope, Provider, Role, User, utcnow

#: What every key starts with, so that a key pasted into the wrong place is recognisable
#: (secret scanners look for such prefixes).
TOKEN_PREFIX = "plk_"
#: Characters of the key kept and shown to tell keys apart ("plk_" and 8 more).
SHOWN_CHARS = 12
#: Expiry choices offered, in days.
EXPIRY_DAYS = (30, 90, 180, 365)
#: A key's last-used time is written at most once per this many seconds.
LAST_USED_RESOLUTION_S = 60

K = ApiKeyStatus
API_KEY: Lifecycle[ApiKeyStatus] = Lifecycle(
    "api_key", ApiKey, [move("revoke", [K.ACTIVE], K.REVOKED, event="revoked")],
    refusal=lambda verb, state, sub: "This key has already been revoked")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key just created: the row, and the key itself (never stored, shown once)."""

    key: ApiKey
    token: str


def create_key(actor: User, *, provider_id: int, name: str, scopes: Sequence[str],
               days: int, now: datetime | None = None) -> NewKey:
    """Create a key for a provider (officers: their own; administrators: any)."""
    if actor.role == Role.OFFICER:
        if actor.provider_id != provider_id:
            raise NotAllowed("You can only create keys for your own provider",
                             field="provider")
    elif actor.role != Role.ADMIN:
        raise NotAllowed("Only placement officers and administrators create API keys")
    if db.session.get(Provider, provider_id) is None:
        raise DomainError("Choose the provider", field="provider")
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter what the key is for", field="name")
    if len(name) > 100:
        raise DomainError("What the key is for must be 100 characters or fewer", field="name")
    wanted = sorted(set(scopes))
    allowed = {s.value for s in ApiScope}
    if not wanted:
        raise DomainError("Choose at least one thing the key may do", field="scopes")
    if not set(wanted) <= allowed:
        raise DomainError("Choose from the scopes listed", field="scopes")
    if days not in EXPIRY_DAYS:
        raise DomainError("Choose when the key expires", field="days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    key = ApiKey(provider_id=provider_id, name=name, prefix=token[:SHOWN_CHARS],
                 token_hash=hash_token(token), scopes=wanted, status=K.ACTIVE,
                 expires_at=now + timedelta(days=days), created_at=now,
                 created_by_id=actor.id)
    db.session.add(key)
    db.session.flush()
    audit.record(actor, "api_key.created", key, name=name, prefix=key.prefix,
                 provider_id=provider_id, scopes=wanted, expires_at=key.expires_at)
    return NewKey(key, token)


def revoke_key(actor: User, key: ApiKey) -> None:
    """Revoke a key at once (atomic: a key revoked twice is refused the second time)."""
    if not may_manage(actor, key):
        raise NotAllowed("This key belongs to another provider")
    API_KEY.apply(key, "revoke", actor=actor,
                  values={"revoked_at": utcnow(), "revoked_by_id": actor.id},
                  name=key.name, prefix=key.prefix)


def may_manage(actor: User, key: ApiKey) -> bool:
    """Officers manage their provider's keys; administrators every key."""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.OFFICER and actor.provider_id == key.provider_id


def keys_stmt(actor: User) -> sa.Select[ApiKey]:
    """The keys the person may see and revoke, newest first."""
    stmt = sa.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if actor.role != Role.ADMIN:
        stmt = stmt.where(ApiKey.provider_id == actor.provider_id)
    return stmt


def get_key(actor: User, key_id: int) -> ApiKey | None:
    key = db.session.get(ApiKey, key_id)
    return key if key is not None and may_manage(actor, key) else None


def refusal(key: ApiKey | None, now: datetime | None = None) -> str | None:
    """Why a key cannot be used now (None: it can). The rule, for the API and the pages."""
    if key is None:
        return "The API key is not recognised"
    if key.status == K.REVOKED:
        return "The API key has been revoked"
    if (now or utcnow()) >= key.expires_at:
        return "The API key has expired"
    creator = key.created_by
    if creator is None or not creator.active:
        return "The account that created the API key has been deactivated"
    if creator.role == Role.OFFICER and creator.provider_id != key.provider_id:
        return "The officer who created the API key no longer belongs to its provider"
    if creator.role not in (Role.OFFICER, Role.ADMIN):
        return "The API key's creator may no longer use the API"
    return None


def shown_status(key: ApiKey, now: datetime | None = None) -> str:
    """Active, revoked, expired or unusable (its creator's account), for the key pages."""
    if key.status == K.REVOKED:
        return "revoked"
    if (now or utcnow()) >= key.expires_at:
        return "expired"
    return "active" if refusal(key, now) is None else "unusable"


def find_key(token: str) -> ApiKey | None:
    """The key with this token (looked up by its hash), whatever its state."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.token_hash == hash_token(token)))


def acting_officer(key: ApiKey) -> User:
    """The person a call made with the key acts as, as an officer of the key's provider.

    An officer's key acts as that officer. An administrator's key acts as the administrator
    within the key's provider: a transient stand-in (never added to the session) carries
    their id, name and address with the provider, so that the services' scoping by
    `provider_id` and their audit records both come out right.
    """
    creator = key.created_by
    if creator.role == Role.OFFICER:
        return creator
    return User(id=creator.id, name=creator.name, email=creator.email, role=Role.OFFICER,
                provider_id=key.provider_id, active=True)


def note_use(key: ApiKey, now: datetime | None = None) -> None:
    """Move the key's last-used time on (at most once a minute; one conditional UPDATE)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
    db.session.execute(
        sa.update(ApiKey).where(ApiKey.id == key.id, sa.or_(
            ApiKey.last_used_at.is_(None), ApiKey.last_used_at < cutoff))
        .values(last_used_at=now), execution_options={"synchronize_session": False})
