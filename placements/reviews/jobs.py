"""The reviews' background work: the weekly supervisor digest, and the CLI that starts it.

`flask reviews digest` (weekly, from cron or Celery beat) queues one `reviews.digest` job
and runs it: it first makes the review plans any published placement still lacks, then
e-mails each supervisor what waits for them (hours to verify, reviews open for them), with
fresh links. Only one digest runs at a time (the job's subject is unique while unfinished).
`flask reviews schedule` makes missing review plans only.
"""

from __future__ import annotations

from typing import Any

import click

from placements.extensions import db
from placements.jobs import JobConflict, JobContext, enqueue, job_kind, submit
from placements.models import Job
from placements.reviews.services import schedule_reviews, weekly_digest
from placements.reviews.views import bp

DIGEST_JOB = "reviews.digest"
DIGEST_SUBJECT = "reviews:digest"


@job_kind(DIGEST_JOB, title="Weekly supervisor digest")
def run_digest(ctx: JobContext) -> dict[str, Any]:
    """Make missing review plans, then e-mail every supervisor what waits for them."""
    ctx.progress(message="Making missing review plans")
    report = schedule_reviews()
    ctx.check_cancelled()
    ctx.progress(message="E-mailing supervisors")
    sent = weekly_digest()
    return {"plans": report.plans, "reviews": report.reviews, "dates_moved": report.moved,
            **sent}


@bp.cli.command("digest")
def digest_command() -> None:
    """E-mail every supervisor what waits for them this week (run weekly from cron)."""
    try:
        job = enqueue(DIGEST_JOB, title="Weekly supervisor digest", subject=DIGEST_SUBJECT,
                      busy_message="A digest is already being sent")
    except JobConflict as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    job_id = job.id
    submit(job_id, mode="inline")
    db.session.expire_all()
    done = db.session.get(Job, job_id)
    assert done is not None
    if done.status != "succeeded":
        raise click.ClickException(f"The digest failed: {done.error}")
    result = done.result or {}
    click.echo(f"Supervisor digest: {result.get('emails', 0)} e-mails with "
               f"{result.get('links', 0)} links; {result.get('plans', 0)} new review plans.")


@bp.cli.command("schedule")
def schedule_command() -> None:
    """Make the review plans published placements lack; keep due dates in step with offers."""
    report = schedule_reviews()
    db.session.commit()
    click.echo(f"Review plans: {report.plans} made with {report.reviews} reviews; "
               f"{report.moved} due dates moved with their offer's dates.")
