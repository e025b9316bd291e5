"""Outgoing e-mail: stored in the outbox, and sent over SMTP when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app

from placements.extensions import db
from placements.models import OutboxMessage


def send_mail(to: str, subject: str, body: str, *, provider_id: int | None = None,
              round_id: int | None = None) -> OutboxMessage:
    """Queue a message in the outbox and, with the SMTP backend, send it now."""
    message = OutboxMessage(to_address=to, subject=subject, body=body,
                            provider_id=provider_id, round_id=round_id)
    db.session.add(message)
    if current_app.config["MAIL_BACKEND"] == "smtp":
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
