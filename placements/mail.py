"""Outgoing e-mail: stored in the outbox, and sent over SMTP when configured.

Account links (invitations, password resets, e-mail confirmations) are secrets of their
addressee: the outbox page never shows them (`redact`), and with the SMTP backend the stored
copy of a message does not even hold them. Only with `OUTBOX_SHOWS_LINKS` (local development
with the outbox backend, where the outbox is the only delivery) are they shown, under a
warning.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

from flask import current_app

from placements.extensions import db
from placements.models import OutboxMessage

#: A live account link in a message body.
ACCOUNT_LINK = re.compile(r"(/auth/(?:invitation|reset|confirm)/)[A-Za-z0-9_\-]{16,}")


def redact(body: str) -> str:
    """The body with every account link's token hidden."""
    return ACCOUNT_LINK.sub(r"\1[link sent only to the addressee]", body)


def send_mail(to: str, subject: str, body: str, *, provider_id: int | None = None,
              round_id: int | None = None) -> OutboxMessage:
    """Queue a message in the outbox and, with the SMTP backend, send it now."""
    smtp = current_app.config["MAIL_BACKEND"] == "smtp"
    message = OutboxMessage(to_address=to, subject=subject,
                            body=redact(body) if smtp else body,
                            provider_id=provider_id, round_id=round_id)
    db.session.add(message)
    if smtp:
        email = EmailMessage()
        email["From"] = current_app.config["MAIL_SENDER"]
        email["To"] = to
        email["Subject"] = subject
        email.set_content(body)
        try:
            with smtplib.SMTP(current_app.config["SMTP_HOST"],
                              int(current_app.config["SMTP_PORT"]), timeout=10) as smtp:
                smtp.send_message(email)
            message.status = "sent"
        except (OSError, smtplib.SMTPException) as exc:
            message.status = "failed"
            message.error = str(exc)
            current_app.logger.warning("mail to %s failed: %s", to, exc)
    return message
