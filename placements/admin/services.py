"""Administrator services: providers, partnerships and their officers."""

from __future__ import annotations

import sqlalchemy as sa

from placements import audit
from placements.auth.services import create_invitation
from placements.extensions import db
from placements.models import Partnership, Provider, ProviderKind, Role, User


def accounts_by_role() -> dict[Role, int]:
    """Count the accounts of each role."""
    return {role: n for role, n in db.session.execute(
        sa.select(User.role, sa.func.count(User.id)).group_by(User.role))}


def providers() -> list[Provider]:
    """Every provider, by name."""
    return list(db.session.scalars(sa.select(Provider).order_by(Provider.name)))


def officers() -> list[User]:
    """Every placement officer, by name."""
    return list(db.session.scalars(sa.select(User).where(User.role == Role.OFFICER)
                                   .order_by(User.name)))


def create_provider(admin: User, *, name: str, kind: ProviderKind, ukprn: str | None,
                    partnership_id: int | None, new_partnership: str | None) -> Provider:
    """Add a provider, in an existing partnership, a new one, or none."""
    partnership = db.session.get(Partnership, partnership_id) if partnership_id else None
    if new_partnership and new_partnership.strip():
        partnership = Partnership(name=new_partnership.strip())
        db.session.add(partnership)
    provider = Provider(name=name.strip(), kind=kind, ukprn=ukprn or None,
                        partnership=partnership)
    db.session.add(provider)
    db.session.flush()
    audit.record(admin, "provider.created", provider, name=provider.name,
                 partnership=partnership.name if partnership else None)
    return provider


def invite_officer(admin: User, *, name: str, email: str, provider_id: int) -> User:
    """Add a placement officer to a provider and e-mail them an invitation."""
    officer = User(name=name.strip(), email=email.strip().lower(), role=Role.OFFICER,
                   provider_id=provider_id)
    db.session.add(officer)
    db.session.flush()
    audit.record(admin, "officer.created", officer, email=officer.email)
    create_invitation(officer, admin)
    return officer
