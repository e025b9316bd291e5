"""Configuration defaults; overridden by PLACEMENTS_* environment variables, then tests."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_secret(instance_path: Path) -> str:
    """Return a per-installation secret key kept in the instance folder (never in the repo)."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def defaults(instance_path: Path) -> dict:
    """Build the default settings for an app whose instance folder is instance_path."""
    database_url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{instance_path / 'placements.sqlite'}")
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _instance_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SERVICE_NAME": "Placements",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # Upload limit for CSV imports and every request body.
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "INVITATION_DAYS": 14,
        # Werkzeug password hash; scrypt is the default (tests use a cheaper one for speed).
        "PASSWORD_HASH_METHOD": "scrypt",
        # Where development e-mail lands instead of a mail server: "outbox" or "smtp".
        "MAIL_BACKEND": "outbox",
        "MAIL_SENDER": "placements@localhost",
        "SMTP_HOST": "localhost",
        "SMTP_PORT": 25,
        "BASE_URL": "http://127.0.0.1:5000",
        # Rate limits (Flask-Limiter). memory:// counts per process: with several gunicorn
        # workers set PLACEMENTS_RATELIMIT_STORAGE_URI=redis://... so they share counts.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # POSTs to each sign-in form (sign in, register, invitation, password) per address.
        "RATELIMIT_SIGN_IN": "10 per minute;100 per hour",
        # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto headers
        # are believed (0: none, so a client cannot pick its own address by sending one).
        "TRUSTED_PROXIES": 0,
        # Allocation runs go to a Celery worker over this broker when set (placements.tasks);
        # otherwise a thread of the web process solves them.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL"),
        "ALLOCATION_WORKER": "celery" if os.environ.get("CELERY_BROKER_URL") else "thread",
    }
