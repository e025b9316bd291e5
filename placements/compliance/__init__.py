"""Duty of care, part A: employers' compliance items (with expiry, gating allocation),
learners' dated checks, safe uploads, employers' hosting limits."""

import click

from placements.compliance import jobs
from placements.compliance.views import bp

__all__ = ["bp"]


@bp.cli.command("remind")
def remind_command() -> None:
    """E-mail employers and officers about items expiring in 30 and 7 days (run daily)."""
    from placements.jobs import JobConflict

    try:
        job_id, sent = jobs.run_reminders()
    except JobConflict as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Job {job_id}: {sent.get('messages', 0)} message(s) about "
               f"{sent.get('30_days', 0)} item(s) due in 30 days and "
               f"{sent.get('7_days', 0)} in 7 days.")
