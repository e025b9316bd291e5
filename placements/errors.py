"""Error pages: a plain-language page for each HTTP error, and 503 when the database is down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from placements.extensions import db
from placements.security import set_security_headers

MESSAGES = {
    400: ("Something was wrong with that request",
          "Go back, check what you entered and try again."),
    403: ("You do not have access to this page",
          "This page belongs to someone else or needs a different account."),
    404: ("Page not found", "Check the address, or go back to your home page."),
    405: ("That action is not allowed here", "Go back and use the buttons on the page."),
    413: ("The file is too large", "Upload a smaller file (the limit is shown on the page)."),
    429: ("Too many attempts", "Wait a minute, then try again."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: ("Sorry, the service is unavailable",
          "The database cannot be reached just now. Try again in a minute."),
}


#: URL prefix -> the handler of HTTP errors under it (a feature with its own error format,
#: such as the JSON API's problem+json, registers here).
PREFIX_HANDLERS: dict[str, Callable[[HTTPException], Any]] = {}


def _prefix_handler(exc: HTTPException) -> Any:
    for prefix, handler in PREFIX_HANDLERS.items():
        if request.path.startswith(prefix):
            return handler(exc)
    return None


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(OverflowError, handle_out_of_range)
    app.register_error_handler(sa.exc.OperationalError, handle_database_down)
    app.register_error_handler(sa.exc.InterfaceError, handle_database_down)


#: The last resort when even the error page cannot be rendered (no template, no database).
PLAIN_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>{title} – Placements</title></head><body><main><h1>{title}</h1>"
              "<p>{message}</p></main></body></html>")


def render_error(code: int, message: str | None = None):
    """Render the error page for an HTTP status code (never fails itself)."""
    title, default = MESSAGES.get(code, (f"Error {code}", ""))
    if request.accept_mimetypes.best == "application/json":
        return {"error": title, "message": message or default}, code
    try:
        return render_template("errors/error.html", code=code, title=title,
                               message=message or default), code
    except Exception:  # noqa: BLE001 - a broken error page must still answer, safely
        current_app.logger.exception("the error page for %s could not be rendered", code)
        body = PLAIN_PAGE.format(title=escape(title), message=escape(message or default))
        response = Response(body, status=code, content_type="text/html; charset=utf-8")
        return set_security_headers(response)


def handle_http_error(exc: HTTPException):
    """Render a friendly page for any HTTP error."""
    if exc.code is None or exc.code < 400:
        return exc
    special = _prefix_handler(exc)
    if special is not None:
        return special
    description = exc.description if exc.code in (400, 413) and exc.description and \
        exc.description != type(exc).description else None
    response = render_error(exc.code, description)
    allowed = getattr(exc, "valid_methods", None)
    if exc.code == 405 and allowed:
        return response[0], 405, {"Allow": ", ".join(allowed)}
    return response


#: A refused form token, in plain words (never the library's "The CSRF token is missing.").
CSRF_MESSAGE = ("Your session has expired, or the page was open for a long time: reload the "
                "page and try again.")


def handle_csrf_error(exc: CSRFError):
    """A form posted without a valid token: say what to do, not what the library says."""
    return render_error(400, CSRF_MESSAGE)


def handle_out_of_range(exc: OverflowError):
    """A number too large for the database (a crafted id or page): no such thing, 404."""
    db.session.rollback()
    return render_error(404)


def handle_database_down(exc: Exception):
    """Answer 503 when the database cannot be reached, and drop the broken session."""
    db.session.rollback()
    db.session.remove()
    message = str(exc).lower()
    transient = any(s in message for s in ("database is locked", "could not connect",
                                           "connection", "server closed", "terminating"))
    if not transient:
        raise exc
    special = _prefix_handler(ServiceUnavailable())
    if special is not None:
        special.headers["Retry-After"] = "30"
        return special
    response = render_error(503)
    return response[0], 503, {"Retry-After": "30"}


__all__ = ["ServiceUnavailable", "init_app", "render_error"]
