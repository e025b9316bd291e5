"""The API's gate: every call shows an API key (`Authorization: Bearer plk_...`; session
cookies are never read, so no browser session can be ridden: the API is exempt from CSRF
only because it takes no cookies), is rate limited per key through the configured
limiter storage, and is audited (one small row per call)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, request
from flask_login import AnonymousUserMixin
from limits import parse_many
from werkzeug.exceptions import HTTPException

from placements import audit
from placements.api import keys
from placements.api.problems import ApiProblem, problem_response
from placements.domain import DomainError
from placements.extensions import csrf, db, limiter

log = logging.getLogger(__name__)

#: Endpoints that need no key (they describe the API and hold no data).
PUBLIC = {"api.openapi", "api.docs"}

_HTTP_KINDS = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 409: "conflict", 413: "too-large",
               415: "unsupported-media-type", 422: "validation", 429: "rate-limited",
               503: "unavailable"}


def install(bp: Blueprint) -> None:
    """Put the gate on the API blueprint."""
    csrf.exempt(bp)
    bp.before_request(_before)
    bp.after_request(_after)
    bp.register_error_handler(ApiProblem, problem_response)
    bp.register_error_handler(DomainError, _domain_error)


def init_app(app: Flask) -> None:
    """Answer errors under the API's prefix (unknown paths, 405, 413, 500) as problems."""
    from placements import errors

    errors.PREFIX_HANDLERS["/api/"] = http_problem


def http_problem(exc: HTTPException) -> Any:
    code = exc.code or 500
    kind = _HTTP_KINDS.get(code, "server-error")
    detail = {404: "There is nothing at this address: see /api/v1/docs",
              405: "This address does not take that method",
              413: "The request body is too large"}.get(code) or (
        (exc.description or "") if code < 500 else "Try again later")
    response = problem_response(ApiProblem(kind, detail))
    response.status_code = code
    allowed = getattr(exc, "valid_methods", None)
    if code == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _domain_error(exc: DomainError) -> Any:
    db.session.rollback()
    field = f"/{exc.field}" if exc.field else ""
    from placements.api.problems import FieldError

    return problem_response(ApiProblem("validation", exc.message,
                                       [FieldError(field, exc.message)] if field else []))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _limits_enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _hit(setting: str, *identity: str) -> dict[str, str] | None:
    """Count a call against a limit; return headers for the response, or raise 429."""
    if not _limits_enabled():
        return None
    strategy = limiter.limiter
    headers: dict[str, str] = {}
    for item in parse_many(current_app.config[setting]):
        allowed = strategy.hit(item, *identity)
        stats = strategy.get_window_stats(item, *identity)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            raise ApiProblem("rate-limited", f"Too many calls: at most {item} "
                             f"{'with this key' if identity[0] == 'api-key' else 'without a key'}"
                             f". Try again in {reset} seconds.",
                             headers={"Retry-After": str(max(reset, 1)),
                                      "RateLimit-Limit": str(item.amount),
                                      "RateLimit-Remaining": "0",
                                      "RateLimit-Reset": str(reset)})
        if not headers or stats.remaining < int(headers["RateLimit-Remaining"]):
            headers = {"RateLimit-Limit": str(item.amount),
                       "RateLimit-Remaining": str(stats.remaining),
                       "RateLimit-Reset": str(reset)}
    return headers


_REQUEST_STATE = ("api_key", "api_key_id", "api_officer", "api_refused_key", "api_refusal",
                  "api_operation", "api_rate_headers")


def _before() -> None:
    for name in _REQUEST_STATE:  # `g` outlives a request when an app context is reused
        g.pop(name, None)
    # The API never reads the sign-in session: whoever calls is who the key says.
    g._login_user = AnonymousUserMixin()
    request.max_content_length = int(current_app.config["API_MAX_BODY_BYTES"])
    g.api_started = time.perf_counter()
    if request.endpoint in PUBLIC or request.endpoint is None:
        return
    token = _bearer()
    key = keys.find_key(token) if token else None
    why = keys.refusal(key) if token else "Send an API key: Authorization: Bearer plk_..."
    if why is not None:
        g.api_refused_key = key
        g.api_refusal = why
        _hit("API_RATE_LIMIT_UNAUTHENTICATED", "api-anonymous", request.remote_addr or "")
        raise ApiProblem("unauthenticated", why,
                         headers={"WWW-Authenticate": 'Bearer realm="placements-api"'})
    assert key is not None
    g.api_key = key
    g.api_key_id = key.id
    g.api_officer = keys.acting_officer(key)
    g.api_rate_headers = _hit("API_RATE_LIMIT", "api-key", str(key.id))


def _after(response: Any) -> Any:
    headers = g.get("api_rate_headers")
    if headers:
        response.headers.update(headers)
    response.headers.setdefault("Cache-Control", "no-store")
    key_id = g.get("api_key_id")
    refused = g.get("api_refused_key")
    if key_id is None and refused is None:
        return response
    try:
        db.session.rollback()  # anything a failed call left unwritten stays so
        from placements.models import ApiKey

        key = db.session.get(ApiKey, key_id if key_id is not None else refused.id)
        op = g.get("api_operation")
        detail = {"method": request.method, "path": request.path[:200],
                  "status": response.status_code,
                  "ms": round((time.perf_counter() - g.api_started) * 1000)}
        if op is not None:
            detail["operation"] = op.endpoint.partition(".")[2]
        if key_id is None:
            detail["refused"] = g.get("api_refusal", "")
        actor = key.created_by if key is not None else None
        audit.record(actor, "api.call" if key_id is not None else "api.refused", key,
                     **detail)
        if key_id is not None and key is not None:
            keys.note_use(key)
        db.session.commit()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        log.exception("could not audit an API call")
    return response
