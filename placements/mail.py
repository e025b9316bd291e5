"""Outgoing e-mail: stored in the outbox, and sent over SMTP when configured.

Account links (invitations, password resets, e-mail confirmations) and supervisors' links
are secrets of their addressee: the outbox page never shows them (`redact`), and with the
SMTP backend the stored copy of a message does not even hold them. Only with
`OUTBOX_SHOWS_LINKS` (local development with the outbox backend, where the outbox is the
only delivery) are they shown, under a warning.
"""

from __future__ import annotations

import re
import smtplib
import threading
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request

from placements.extensions import db
from placements.models import OutboxMessage

#: A live account link in a message body.
ACCOUNT_LINK = re.compile(r"(/auth/(?:invitation|reset|confirm)/)[A-Za-z0-9_\-]{16,}")
#: A supervisor's link (a signed token: payload.signature) in a message body.
SUPERVISOR_LINK = re.compile(r"(/reviews/supervise/)[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]+")


def site_url(path: str = "/") -> str:
    """An absolute address of the service for e-mails: PLACEMENTS_BASE_URL when set, else
    the address the current request came to (a job runs in a request context built on the
    address of the request that queued it)."""
    base = current_app.config["BASE_URL"] or (
        request.url_root if has_request_context() else "") or "http://localhost/"
    return base.rstrip("/") + "/" + path.lstrip("/")


def redact(body: str) -> str:
    """The body with every account link's and supervisor link's token hidden."""
    body = SUPERVISOR_LINK.sub(r"\1[link sent only to the addressee]", body)
    return ACCOUNT_LINK.sub(r"\1[link sent only to the addressee]", body)


def send_mail(to: str, subject: str, body: str, *, provider_id: int | None = None,
              round_id: int | None = None) -> OutboxMessage:
    """Keep a message in the outbox; with the SMTP backend, send it once the transaction
    that wrote it commits (never for a change that was rolled back), outside the request."""
    smtp = current_app.config["MAIL_BACKEND"] == "smtp"
    message = OutboxMessage(to_address=to, subject=subject,
                            body=redact(body) if smtp else body,
                            status="queued" if smtp else "outbox",
                            provider_id=provider_id, round_id=round_id)
    db.session.add(message)
    if smtp:
        email = EmailMessage()
        email["From"] = current_app.config["MAIL_SENDER"]
        email["To"] = to
        email["Subject"] = subject
        email.set_content(body)
        db.session.info.setdefault(_OUTGOING, []).append((message, email))
    return message


_OUTGOING = "placements.mail.outgoing"


# Registered once, on the one session every app shares: queued SMTP messages go out after
# each commit, and are forgotten after a rollback.

@sa.event.listens_for(db.session, "after_commit")
def _after_commit(session: Any) -> None:
    outgoing = session.info.pop(_OUTGOING, None)
    if not outgoing:
        return
    jobs = [(message.id, email) for message, email in outgoing]
    target = current_app._get_current_object()  # type: ignore[attr-defined]
    if target.config["MAIL_IN_BACKGROUND"]:
        threading.Thread(target=_deliver, args=(target, jobs), name="mail",
                         daemon=True).start()
    else:
        _deliver(target, jobs)


@sa.event.listens_for(db.session, "after_rollback")
def _after_rollback(session: Any) -> None:
    session.info.pop(_OUTGOING, None)


def _deliver(app: Flask, jobs: list[tuple[int, EmailMessage]]) -> None:
    """Send messages over SMTP (one connection) and record each one's fate."""
    fates: dict[int, tuple[str, str | None]] = {}
    config = app.config
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=10) as smtp:
            for message_id, email in jobs:
                try:
                    smtp.send_message(email)
                    fates[message_id] = ("sent", None)
                except smtplib.SMTPException as exc:
                    fates[message_id] = ("failed", str(exc)[:500])
    except (OSError, smtplib.SMTPException) as exc:
        for message_id, _email in jobs:
            fates.setdefault(message_id, ("failed", str(exc)[:500]))
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            for message_id, (status, error) in fates.items():
                conn.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                             .values(status=status, error=error))
        failed = sum(1 for status, _ in fates.values() if status == "failed")
        if failed:
            app.logger.warning("%s of %s e-mails could not be sent", failed, len(fates))
