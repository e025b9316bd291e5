"""Compliance background work: the daily expiry reminders, as a job kind.

Run daily by `flask compliance remind` (cron) or by Celery beat (the task
`placements.compliance_remind` in `placements.tasks`); either queues this job and runs it,
so a run is recorded like any other job. A reminder goes out once per item and threshold.
"""

from __future__ import annotations

from typing import Any

from placements.jobs import JobContext, job_kind

KIND = "compliance.remind"


@job_kind(KIND, title="Compliance expiry reminders")
def remind(ctx: JobContext) -> dict[str, Any]:
    """E-mail employers and officers about items expiring in 30 and 7 days."""
    from placements.compliance.services import send_reminders

    ctx.progress(message="Finding items that expire soon")
    return send_reminders()


def run_reminders() -> tuple[int, dict[str, Any]]:
    """Queue the reminders job and run it now: (job id, what it sent)."""
    from flask import current_app

    from placements.extensions import db
    from placements.jobs import enqueue, execute
    from placements.models import Job

    job = enqueue(KIND, title="Compliance expiry reminders", subject=KIND,
                  busy_message="Reminders are already being sent")
    db.session.commit()
    execute(current_app._get_current_object(), job.id)  # type: ignore[attr-defined]
    db.session.expire_all()
    done = db.session.get(Job, job.id)
    return job.id, dict((done.result if done is not None else None) or {})
