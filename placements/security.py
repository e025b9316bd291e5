"""Sign-in session loading, role checks, rate limits, proxies and security headers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from placements.extensions import db, limiter, login_manager
from placements.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Wire the user loader, session protection, cookies, headers, proxies and rate limits."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
    # Flask-Login binds a session to the client's address as X-Forwarded-For claims it;
    # bind it to the address the server (or the configured proxies, see _trust_proxies)
    # saw instead, so a client cannot claim someone else's address.
    login_manager._session_identifier_generator = session_identifier  # type: ignore[attr-defined]
    app.session_interface = SecureWhenHttps()
    app.before_request(forget_cached_user)
    app.after_request(set_security_headers)
    _trust_proxies(app)
    limiter.init_app(app)


def session_identifier() -> str:
    """What a session is bound to: the client's address and browser, as the server sees
    them (never a client-sent X-Forwarded-For unless a trusted proxy vouches for it)."""
    agent = request.headers.get("User-Agent", "")
    base = f"{request.remote_addr}|{agent}"
    return hashlib.sha512(base.encode("utf8")).hexdigest()


class SecureWhenHttps(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over HTTPS (directly, or through
    a trusted proxy's X-Forwarded-Proto), as well as when SESSION_COOKIE_SECURE says so."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure)


# --- sign-in limits per account --------------------------------------------------------------
#
# On top of the per-address limit, each account (by e-mail address, known or not, so the
# limit says nothing about which addresses have accounts) gets SIGN_IN_FREE_FAILURES wrong
# passwords a day; each further failure makes the next attempt wait twice as long as the
# one before (from SIGN_IN_BASE_DELAY_S, at most SIGN_IN_MAX_DELAY_S). A right password
# during the wait is refused too. Counts live in the limiter's storage, so every worker
# shares them (RATELIMIT_STORAGE_URI); a successful sign-in clears them.

def _account_key(kind: str, email: str) -> str:
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]
    return f"placements/sign-in/{kind}/{digest}"


def _storage() -> Any | None:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    try:
        return limiter.storage
    except Exception:  # noqa: BLE001 - no storage: the per-address limit still applies
        return None


def account_wait(email: str) -> float:
    """Seconds the account must still wait before another password is checked (0: none)."""
    storage = _storage()
    if storage is None:
        return 0.0
    try:
        key = _account_key("wait", email)
        if storage.get(key) <= 0:
            return 0.0
        return max(0.0, storage.get_expiry(key) - time.time())
    except Exception:  # noqa: BLE001 - the storage is down: fail open, log
        current_app.logger.warning("sign-in limit storage unavailable")
        return 0.0


def account_failed(email: str) -> None:
    """Count a wrong password for the account; past the free ones, make it wait."""
    storage = _storage()
    if storage is None:
        return
    config = current_app.config
    try:
        failures = storage.incr(_account_key("failures", email), 86400)
        extra = failures - int(config["SIGN_IN_FREE_FAILURES"])
        if extra > 0:
            delay = min(int(config["SIGN_IN_BASE_DELAY_S"]) * 2 ** (extra - 1),
                        int(config["SIGN_IN_MAX_DELAY_S"]))
            storage.clear(_account_key("wait", email))
            storage.incr(_account_key("wait", email), delay)
    except Exception:  # noqa: BLE001
        current_app.logger.warning("sign-in limit storage unavailable")


def account_succeeded(email: str) -> None:
    """A right password: the account's failures are forgotten."""
    storage = _storage()
    if storage is None:
        return
    try:
        storage.clear(_account_key("failures", email))
        storage.clear(_account_key("wait", email))
    except Exception:  # noqa: BLE001
        current_app.logger.warning("sign-in limit storage unavailable")


def _trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto only from the configured number of reverse proxies."""
    hops = int(app.config["TRUSTED_PROXIES"] or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def sign_in_limit() -> str:
    """The rate limit on POSTs to the sign-in forms (setting RATELIMIT_SIGN_IN)."""
    return current_app.config["RATELIMIT_SIGN_IN"]


#: Decorator for the forms that take a password or a token (sign in, register, invitation,
#: password): their POSTs are rate-limited per client address, so that passwords and tokens
#: cannot be guessed at speed.
limit_sign_in = limiter.limit(sign_in_limit, methods=["POST"])


def forget_cached_user() -> None:
    """Load the signed-in user afresh for each request.

    Flask-Login caches the user on `g`, which lives as long as the app context; when an app
    context outlives one request (tests, scripts) a replayed cookie whose session token has
    since been rotated would otherwise be answered with the previous request's user.
    """
    g.pop("_login_user", None)
    g.pop("database_down", None)


def load_user(session_id: str) -> User | None:
    """Load the user of a session, provided its token has not been rotated since."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token or g.get("database_down"):
        return None
    try:
        user = db.session.get(User, int(user_id))
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        # The 503 page that follows is rendered for an anonymous visitor, without another
        # trip to the database that is down.
        g.database_down = True
        raise
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def role_required(*roles: Role) -> Callable[[F], F]:
    """Let through only signed-in users with one of the roles; others get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def restrict(blueprint: Blueprint, *roles: Role) -> None:
    """Let only signed-in users with one of the roles reach any page of the blueprint (and
    of blueprints registered under it); others get 403, and signed-out people are sent to
    sign in."""

    @role_required(*roles)
    def guard() -> None:
        return None

    blueprint.before_request(guard)


def is_safe_next(target: str | None) -> bool:
    """Say whether a `next` URL is a local path (no scheme, no host, no tricks)."""
    if not target:
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and \
        not target.startswith("//")


def set_security_headers(response):
    """Add a Content-Security-Policy and the usual hardening headers to every response."""
    nonce = getattr(g, "csp_nonce", None)
    script_src = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; "
        f"script-src {script_src}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy",
                                "geolocation=(), camera=(), microphone=(), payment=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    if current_user and getattr(current_user, "is_authenticated", False):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
