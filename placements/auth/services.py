"""Account services: authenticate, invitations, passwords, employer registration."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, url_for

from placements import audit
from placements.domain import DomainError
from placements.extensions import db
from placements.geo import Located
from placements.mail import send_mail
from placements.models import Employer, EmployerSite, Invitation, Role, User, utcnow


def find_user_by_email(email: str) -> User | None:
    """Return the user with this e-mail address, ignoring case."""
    return db.session.scalar(sa.select(User).where(
        sa.func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """Return the active user whose e-mail and password match, else None."""
    user = find_user_by_email(email)
    if user is None or not user.active or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change a user's password after checking the current one; ends other sessions."""
    if not user.check_password(current):
        raise DomainError("Your current password is incorrect", field="current")
    if current == new:
        raise DomainError("Choose a password different from your current one", field="password")
    user.set_password(new)
    audit.record(user, "user.password_changed", user)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(user: User, created_by: User | None) -> str:
    """Create a single-use invitation for `user`, e-mail the link and return the token."""
    token = secrets.token_urlsafe(32)
    days = int(current_app.config["INVITATION_DAYS"])
    invitation = Invitation(user=user, token_hash=_hash_token(token),
                            expires_at=utcnow() + timedelta(days=days),
                            created_by_id=created_by.id if created_by else None)
    db.session.add(invitation)
    link = current_app.config["BASE_URL"].rstrip("/") + url_for(
        "auth.accept_invitation", token=token)
    purpose = {
        Role.LEARNER: "the service your college or university uses to arrange work placements",
        Role.EMPLOYER: f"where {user.employer.name if user.employer else 'your organisation'} "
                       "offers work placements to HTQ learners",
        Role.OFFICER: "where you will run work-placement allocations for "
                      f"{user.provider.name if user.provider else 'your provider'}",
    }.get(user.role, "the work-placement service")
    inviter = created_by.name if created_by else "Placements"
    send_mail(
        user.email,
        "Set up your Placements account",
        f"Hello {user.name},\n\n{inviter} has invited you to Placements, {purpose}.\n\n"
        f"Set your password here (the link works once and expires in {days} days):\n"
        f"{link}\n",
        provider_id=created_by.provider_id if created_by else None,
    )
    audit.record(created_by, "user.invited", user, email=user.email)
    return token


def find_invitation(token: str) -> Invitation:
    """Return the usable invitation for a token, or raise a DomainError saying why not."""
    invitation = db.session.scalar(sa.select(Invitation).where(
        Invitation.token_hash == _hash_token(token)))
    if invitation is None:
        raise DomainError("This invitation link is not valid. Ask your placement officer "
                          "for a new one.")
    if invitation.used_at is not None:
        raise DomainError("This invitation link has already been used. Sign in with your "
                          "password, or ask for a new link.")
    if invitation.expires_at <= utcnow():
        raise DomainError("This invitation link has expired. Ask your placement officer for "
                          "a new one.")
    return invitation


def accept_invitation(token: str, password: str) -> User:
    """Set the invited user's password and use up the invitation."""
    invitation = find_invitation(token)
    invitation.used_at = utcnow()
    user = invitation.user
    user.set_password(password)
    user.active = True
    audit.record(user, "user.invitation_accepted", user)
    return user


def register_employer(*, organisation: str, sector: str, site: Located, name: str, email: str,
                      password: str) -> User:
    """Create an employer organisation (awaiting approval), its first site and its first user."""
    employer = Employer(name=organisation.strip(), sector=sector, region=site.district.region,
                        contact_email=email.strip().lower(), approved=False)
    db.session.add(employer)
    db.session.add(EmployerSite(employer=employer, name="Main site", postcode=site.postcode,
                                lat=site.lat, lon=site.lon,
                                address=site.district.town.split(",")[0]))
    user = User(email=email.strip().lower(), name=name.strip(), role=Role.EMPLOYER,
                employer=employer)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(user, "employer.registered", employer, name=employer.name)
    return user
