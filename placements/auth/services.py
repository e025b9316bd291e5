"""Account services: sign in, passwords, e-mailed account links (invitations, password
resets, e-mail confirmation) and employer self-registration.

Nothing here says whether an e-mail address has an account: signing in with an unknown
address costs the same password hash as a wrong password; registration and password resets
answer the same whatever the address, and tell the address's owner by e-mail instead.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from placements import audit
from placements.domain import DomainError
from placements.extensions import db
from placements.geo import Located
from placements.mail import send_mail, site_url
from placements.models import (
    AccountLink,
    Employer,
    EmployerSite,
    LinkPurpose,
    Role,
    User,
    utcnow,
)

#: How long each kind of link works.
LINK_LIFETIME = {
    LinkPurpose.PASSWORD_RESET: timedelta(hours=1),
    LinkPurpose.EMAIL_CONFIRMATION: timedelta(days=2),
}
#: Routes the links point at.
LINK_ENDPOINT = {
    LinkPurpose.INVITATION: "auth.accept_invitation",
    LinkPurpose.PASSWORD_RESET: "auth.reset_password",
    LinkPurpose.EMAIL_CONFIRMATION: "auth.confirm_email",
}
#: Why a link cannot be used, in words for its addressee.
LINK_WORDS = {
    LinkPurpose.INVITATION: ("invitation link", "Ask your placement officer for a new one."),
    LinkPurpose.PASSWORD_RESET: ("password reset link", "Ask for a new one from the sign-in "
                                                        "page."),
    LinkPurpose.EMAIL_CONFIRMATION: ("confirmation link", "Register again to get a new one."),
}

_dummy_hash: dict[str, str] = {}


def find_user_by_email(email: str) -> User | None:
    """Return the user with this e-mail address, ignoring case."""
    return db.session.scalar(sa.select(User).where(
        sa.func.lower(User.email) == email.strip().lower()))


def _check_dummy_password(password: str) -> None:
    """Spend what checking a real password costs (unknown addresses take as long)."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hash:
        _dummy_hash[method] = generate_password_hash(secrets.token_hex(16), method=method)
    check_password_hash(_dummy_hash[method], password)


def authenticate(email: str, password: str) -> User | None:
    """Return the active user whose e-mail and password match, else None (in equal time)."""
    user = find_user_by_email(email)
    if user is None or user.password_hash is None:
        _check_dummy_password(password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = utcnow()
    end_links(user)
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change a user's password after checking the current one; ends other sessions."""
    if not user.check_password(current):
        raise DomainError("Your current password is incorrect", field="current")
    if current == new:
        raise DomainError("Choose a password different from your current one", field="password")
    user.set_password(new)
    end_links(user)
    audit.record(user, "user.password_changed", user)


# --- account links ---------------------------------------------------------------------------

def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_url(purpose: LinkPurpose, token: str) -> str:
    return site_url(url_for(LINK_ENDPOINT[purpose], token=token))


def issue_link(user: User, purpose: LinkPurpose, created_by: User | None = None) -> str:
    """Create a link for the user, superseding their older links of that purpose."""
    now = utcnow()
    db.session.execute(
        sa.update(AccountLink).where(
            AccountLink.user_id == user.id, AccountLink.purpose == purpose.value,
            AccountLink.used_at.is_(None), AccountLink.revoked_at.is_(None))
        .values(revoked_at=now), execution_options={"synchronize_session": False})
    token = secrets.token_urlsafe(32)
    lifetime = LINK_LIFETIME.get(purpose) or timedelta(
        days=int(current_app.config["INVITATION_DAYS"]))
    db.session.add(AccountLink(user=user, purpose=purpose, token_hash=_hash_token(token),
                               expires_at=now + lifetime,
                               created_by_id=created_by.id if created_by else None))
    db.session.flush()
    return token


def end_links(user: User) -> None:
    """Revoke every outstanding link of the account (a password was set, or they signed in)."""
    if user.id is None:
        return
    db.session.execute(
        sa.update(AccountLink).where(
            AccountLink.user_id == user.id, AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None))
        .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})


def find_link(token: str, purpose: LinkPurpose) -> AccountLink:
    """Return the usable link for a token, or raise a DomainError saying why not."""
    what, remedy = LINK_WORDS[purpose]
    link = db.session.scalar(sa.select(AccountLink).where(
        AccountLink.token_hash == _hash_token(token), AccountLink.purpose == purpose.value))
    if link is None:
        raise DomainError(f"This {what} is not valid. {remedy}")
    if link.used_at is not None:
        raise DomainError(f"This {what} has already been used. Sign in with your password, "
                          f"or ask for a new link.")
    if link.revoked_at is not None:
        raise DomainError(f"This {what} has been replaced by a newer one, or ended when the "
                          f"account's password was set. {remedy}")
    if link.expires_at <= utcnow():
        raise DomainError(f"This {what} has expired. {remedy}")
    return link


def use_link(token: str, purpose: LinkPurpose) -> User:
    """Use a link once (a conditional UPDATE: two requests with one link, one wins)."""
    link = find_link(token, purpose)
    now = utcnow()
    used = db.session.execute(
        sa.update(AccountLink).where(
            AccountLink.id == link.id, AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None), AccountLink.expires_at > now)
        .values(used_at=now), execution_options={"synchronize_session": "fetch"})
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.session.expire(link)
        find_link(token, purpose)  # says why
        raise DomainError(f"This {LINK_WORDS[purpose][0]} cannot be used now")
    return link.user


# --- invitations ----------------------------------------------------------------------------

def create_invitation(user: User, created_by: User | None) -> str:
    """Invite a user to set a password (single use, expires; supersedes older invitations),
    e-mail them the link and return the token."""
    token = issue_link(user, LinkPurpose.INVITATION, created_by)
    days = int(current_app.config["INVITATION_DAYS"])
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
        f"Set your password here (the link works once and expires in {days} days; it "
        f"replaces any earlier invitation):\n{_link_url(LinkPurpose.INVITATION, token)}\n",
        provider_id=created_by.provider_id if created_by else None,
    )
    audit.record(created_by, "user.invited", user, email=user.email)
    return token


def find_invitation(token: str) -> AccountLink:
    """Return the usable invitation for a token, or raise a DomainError saying why not."""
    return find_link(token, LinkPurpose.INVITATION)


def accept_invitation(token: str, password: str) -> User:
    """Set the invited user's password, use up the invitation and end every other link."""
    user = use_link(token, LinkPurpose.INVITATION)
    user.set_password(password)
    user.active = True
    end_links(user)
    audit.record(user, "user.invitation_accepted", user)
    return user


# --- password reset -------------------------------------------------------------------------

def request_password_reset(email: str) -> None:
    """E-mail a password reset link if an active account uses the address; else nothing
    (the person is told the same either way)."""
    user = find_user_by_email(email)
    if user is None or not user.active or user.password_hash is None:
        _check_dummy_password(email)  # about as long as issuing a link
        return
    token = issue_link(user, LinkPurpose.PASSWORD_RESET)
    send_mail(user.email, "Reset your Placements password",
              f"Hello {user.name},\n\nSomeone (we hope you) asked to reset the password of "
              f"your Placements account. Choose a new password here (the link works once and "
              f"expires in an hour):\n{_link_url(LinkPurpose.PASSWORD_RESET, token)}\n\n"
              "If it was not you, ignore this e-mail: your password stays as it is.\n")
    audit.record(None, "user.password_reset_requested", user)


def find_reset(token: str) -> AccountLink:
    """Return the usable password reset link for a token, or raise saying why not."""
    return find_link(token, LinkPurpose.PASSWORD_RESET)


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link; every session and link of the account ends."""
    user = use_link(token, LinkPurpose.PASSWORD_RESET)
    user.set_password(password)
    end_links(user)
    audit.record(user, "user.password_reset", user)
    return user


# --- employer self-registration -------------------------------------------------------------

def register_employer(*, organisation: str, sector: str, site: Located, name: str, email: str,
                      password: str) -> None:
    """Register an employer organisation (awaiting approval), its first site and first user,
    who confirms the e-mail address before signing in.

    When the address already has an account, nothing is created and its owner is told by
    e-mail instead (the person registering sees the same page either way).
    """
    address = email.strip().lower()
    existing = find_user_by_email(address)
    if existing is not None:
        _tell_owner_of_attempt(existing)
        return
    employer = Employer(name=organisation.strip(), sector=sector, region=site.district.region,
                        contact_email=address, approved=False)
    db.session.add(employer)
    db.session.add(EmployerSite(employer=employer, name="Main site", postcode=site.postcode,
                                lat=site.lat, lon=site.lon,
                                address=site.district.town.split(",")[0]))
    user = User(email=address, name=name.strip(), role=Role.EMPLOYER, employer=employer,
                active=False)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    _send_confirmation(user)
    audit.record(user, "employer.registered", employer, name=employer.name)


def _send_confirmation(user: User) -> None:
    token = issue_link(user, LinkPurpose.EMAIL_CONFIRMATION)
    send_mail(user.email, "Confirm your e-mail address for Placements",
              f"Hello {user.name},\n\nThank you for registering "
              f"{user.employer.name if user.employer else 'your organisation'} on Placements. "
              "Confirm your e-mail address to finish (the link works once and expires in two "
              f"days):\n{_link_url(LinkPurpose.EMAIL_CONFIRMATION, token)}\n")


def _tell_owner_of_attempt(user: User) -> None:
    if not user.active and user.password_hash is not None and user.role == Role.EMPLOYER:
        _send_confirmation(user)  # an unconfirmed registration: send a fresh link
        return
    reset = url_for("auth.forgotten_password")
    send_mail(user.email, "Someone tried to register with your e-mail address",
              f"Hello {user.name},\n\nSomeone tried to register an organisation on Placements "
              "with this e-mail address, which already has an account. If it was you, sign in "
              "instead, or choose a new password here: "
              f"{site_url(reset)}\n\n"
              "If it was not you, you need do nothing.\n")
    audit.record(None, "user.registration_attempt_on_existing_address", user)


def confirm_email(token: str) -> User:
    """Confirm a self-registered employer user's address: the account becomes active."""
    user = use_link(token, LinkPurpose.EMAIL_CONFIRMATION)
    user.active = True
    end_links(user)
    audit.record(user, "user.email_confirmed", user)
    return user
