"""Configuration: the one module that reads settings.

Order (later wins): the defaults below; the conventional unprefixed environment variables
``DATABASE_URL``, ``SECRET_KEY`` and ``CELERY_BROKER_URL``; variables prefixed
``PLACEMENTS_`` (``PLACEMENTS_MAIL_BACKEND=smtp``); then a test's ``test_config``. Code
elsewhere reads ``current_app.config["KEY"]`` and never supplies a default of its own: every
key has its default here. Only a development install without ``SECRET_KEY`` gets a random key, made
once into ``instance/secret_key`` (never committed; tests always pass their own key).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

#: Unprefixed environment variables honoured for their conventional names.
CONVENTIONAL_ENV = ("DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL")


def database_uri(url: str) -> str:
    """Return a SQLAlchemy URI for a database URL (postgres:// selects psycopg 3)."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def defaults(instance_path: Path) -> dict[str, Any]:
    """Return every setting's default for an app whose instance folder is instance_path."""
    return {
        "SECRET_KEY": None,  # from the environment; see `load`
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'placements.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SERVICE_NAME": "Placements",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # Upload limit for every request body (CSV imports included).
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # CSV imports: largest file, most rows, and up to how many rows are written in the
        # request itself (larger files go to the job runner).
        "IMPORT_MAX_BYTES": 5_000_000,
        "IMPORT_MAX_ROWS": 50_000,
        "IMPORT_INLINE_ROWS": 200,
        "INVITATION_DAYS": 14,
        # Most hours one learner may have recorded for one day, all kinds together.
        "HOURS_MAX_PER_DAY": 12,
        # Werkzeug password hash; scrypt is the default (tests use a cheaper one for speed).
        "PASSWORD_HASH_METHOD": "scrypt",
        # Where development e-mail lands instead of a mail server: "outbox" or "smtp".
        "MAIL_BACKEND": "outbox",
        "MAIL_SENDER": "placements@localhost",
        # Local development only: show live account links on the outbox page.
        "OUTBOX_SHOWS_LINKS": False,
        "SMTP_HOST": "localhost",
        "SMTP_PORT": 25,
        # Send SMTP mail in a background thread after the commit (tests send it at once).
        "MAIL_IN_BACKGROUND": True,
        # The address people reach the service at, for links in e-mails (set it in
        # production). Unset: the address the request came to (for a background job, the
        # request that queued it).
        "BASE_URL": "",
        # Rate limits (Flask-Limiter). memory:// counts per process: with several gunicorn
        # workers set PLACEMENTS_RATELIMIT_STORAGE_URI=redis://... so they share counts.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # POSTs to each sign-in form (sign in, register, links, passwords) per address:
        # generous, so that one noisy address behind a shared NAT does not lock out the rest
        # (accounts are protected by the per-account limit below).
        "RATELIMIT_SIGN_IN": "30 per minute;300 per hour",
        # Per account: wrong passwords allowed a day before each further one doubles the
        # wait before the next attempt (from the base delay, up to the maximum).
        "SIGN_IN_FREE_FAILURES": 5,
        "SIGN_IN_BASE_DELAY_S": 30,
        "SIGN_IN_MAX_DELAY_S": 900,
        # Cookies only over HTTPS (set it in production; also set automatically when
        # BASE_URL is https://, and per request whenever the request came over HTTPS).
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        # Supervisors without accounts: how many days an e-mailed link works, and how often
        # one link, and one client address, may open supervisor links (Flask-Limiter
        # syntax); how often one signed-in user may e-mail a supervisor a new link.
        "SUPERVISOR_LINK_DAYS": 14,
        "RATELIMIT_SUPERVISOR_LINK": "30 per minute;300 per day",
        "RATELIMIT_SUPERVISOR_ADDRESS": "60 per minute;1000 per day",
        "RATELIMIT_SUPERVISOR_SEND": "5 per hour",
        # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto headers
        # are believed (0: none, so a client cannot pick its own address by sending one).
        "TRUSTED_PROXIES": 0,
        # Background jobs (allocation runs, imports, ...): "thread" (a thread of the web
        # process), "celery" (a Celery worker over CELERY_BROKER_URL), "inline" (run before
        # the request returns: scripts and tests) or "manual" (left queued: tests).
        "CELERY_BROKER_URL": None,
        "JOB_WORKER": "thread",
        # A running job whose worker has not reported for this many seconds has stopped;
        # a queued job not picked up within JOB_QUEUE_TIMEOUT_S seconds likewise.
        "JOB_STALE_S": 60,
        "JOB_QUEUE_TIMEOUT_S": 900,
        # What-if questions of one round worked out at the same time (each is a solve).
        "INSIGHTS_SOLVES_AT_ONCE": 2,
        # Learners' checks: a DBS certificate counts for this many months from its issue
        # date (unless the learner subscribes to the DBS update service).
        "DBS_VALID_MONTHS": 36,
        # Compliance documents (insurance certificates, risk assessments, policies): PDF,
        # PNG or JPEG, checked by content, at most UPLOAD_MAX_BYTES. Stored under a random
        # name in UPLOAD_DIR (default: instance/uploads, outside the static folder), or in
        # an S3-compatible bucket when UPLOAD_S3_BUCKET is set (credentials from the usual
        # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables or an instance
        # role; UPLOAD_S3_ENDPOINT_URL for MinIO, Ceph, R2 and the like).
        "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
        "UPLOAD_DIR": None,
        "UPLOAD_S3_BUCKET": None,
        "UPLOAD_S3_PREFIX": "compliance/",
        "UPLOAD_S3_ENDPOINT_URL": None,
        "UPLOAD_S3_REGION": None,
        # Year shown in the Ordnance Survey attribution (the data's release year).
        "OS_DATA_YEAR": None,
        # KSB suggestions (placements/ksb): "hybrid" (BM25 and the bundled sentence
        # encoder; chosen on a labelled set, see bench/RESULTS.md), "bm25" (words only: no
        # model to load) or "embedding"; and how many suggestions a page shows for a text.
        "KSB_SUGGEST_METHOD": "hybrid",
        "KSB_SUGGESTIONS_SHOWN": 10,
        # The JSON API (/api/v1). Calls per API key, counted in RATELIMIT_STORAGE_URI (so
        # shared by every worker when that is Redis); calls per client address that present
        # no key or an unusable one.
        "API_RATE_LIMIT": "600 per minute",
        "API_RATE_LIMIT_UNAUTHENTICATED": "30 per minute",
        # Largest request body and most records in one bulk write (learners, hours).
        "API_MAX_BODY_BYTES": 10_000_000,
        "API_MAX_ROWS": 10_000,
        # Items per page: when not asked, and at most.
        "API_PAGE_SIZE": 100,
        "API_MAX_PAGE_SIZE": 1000,
        # Change feeds: the cursor for the next sync lies this many seconds before the last
        # sync began, so that rows whose transaction committed late are sent (again).
        "API_SYNC_OVERLAP_S": 300,
        # How long the answer to a write with an Idempotency-Key is kept for retries.
        "API_IDEMPOTENCY_HOURS": 24,
    }


def load(app: Flask, instance_path: Path, test_config: dict[str, Any] | None) -> None:
    """Fill app.config: defaults, PLACEMENTS_* variables, conventional variables, tests."""
    app.config.from_mapping(defaults(instance_path))
    for name in CONVENTIONAL_ENV:
        value = os.environ.get(name)
        if value:
            app.config["SQLALCHEMY_DATABASE_URI" if name == "DATABASE_URL" else name] = value
    app.config.from_prefixed_env("PLACEMENTS")
    if app.config["CELERY_BROKER_URL"] and "PLACEMENTS_JOB_WORKER" not in os.environ:
        app.config["JOB_WORKER"] = "celery"
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(instance_path / "uploads")
    if str(app.config["BASE_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = True
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(instance_path)


def celery_broker_url() -> str | None:
    """Return the Celery broker a worker process starts with (before any app exists)."""
    return os.environ.get("CELERY_BROKER_URL") or os.environ.get(
        "PLACEMENTS_CELERY_BROKER_URL")


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
