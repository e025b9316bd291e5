"""Background jobs on a Celery worker over Redis, for more than one web server.

Set ``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) for both the web app and the
worker: jobs are then queued to Redis (``JOB_WORKER`` becomes ``"celery"``) and run by

    celery --app placements.tasks worker --concurrency 1 --loglevel INFO

which builds its own app from the same environment (``DATABASE_URL``, ``SECRET_KEY``, ...).
Celery beat can start scheduled work of any registered kind through ``placements.run_kind``
(e.g. the weekly supervisor digest: see README, "Production").
Without a broker the in-process worker (a thread) stays the default. The worker runs
`placements.jobs.execute`, so progress, heartbeats, cancellation, failure handling and the
reaping of jobs whose worker died are the same as in-process.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from flask import Flask

from placements.config import celery_broker_url
from placements.jobs import execute
from placements.jobs.runner import CELERY_TASK

#: The Celery application; its broker comes from the environment, or from `configure`.
celery_app = Celery("placements")
celery_app.conf.update(
    broker_url=celery_broker_url(),
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    # A job is acknowledged when it starts: a worker that dies mid-job leaves the job to the
    # reaper (marked failed), rather than running it twice.
    task_acks_late=False,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)

_worker_app: Flask | None = None


def configure(app: Flask) -> Celery:
    """Point the Celery application at the Flask app's broker."""
    broker = app.config["CELERY_BROKER_URL"]
    if broker and celery_app.conf.broker_url != broker:
        celery_app.conf.broker_url = broker
    return celery_app


def worker_app() -> Flask:
    """The Flask app of this worker process, built once from the environment."""
    global _worker_app
    if _worker_app is None:
        from placements import create_app

        _worker_app = create_app()
        configure(_worker_app)
    return _worker_app


#: With `celery --app placements.tasks beat`, the compliance reminders run once a day and
#: the supervisors' digest (`reviews.digest`, through `placements.run_kind`) on Monday
#: mornings.
celery_app.conf.beat_schedule = {
    "compliance-reminders": {"task": "placements.compliance_remind",
                             "schedule": 24 * 60 * 60.0},
    "supervisor-digest": {"task": "placements.run_kind", "args": ["reviews.digest"],
                          "schedule": crontab(hour=7, minute=0, day_of_week="mon")},
}


@celery_app.task(name="placements.compliance_remind")
def compliance_remind() -> None:
    """Send the compliance expiry reminders (the job `compliance.remind`), once a day."""
    app = worker_app()
    with app.app_context():
        from placements.compliance.jobs import run_reminders

        run_reminders()


@celery_app.task(name=CELERY_TASK)
def run_job(job_id: int) -> None:
    """Run one queued job of any registered kind to its end."""
    execute(worker_app(), job_id)


#: The Celery task that queues and runs one job of a registered kind that needs no input
#: (for Celery beat: the weekly supervisor digest, ...).
RUN_KIND_TASK = "placements.run_kind"


@celery_app.task(name=RUN_KIND_TASK)
def run_kind(kind: str, subject: str | None = None) -> int | None:
    """Queue one job of `kind` (one at a time per subject: a beat that fires while the last
    one still runs adds nothing) and run it here; return its id, or None when busy."""
    from placements.extensions import db
    from placements.jobs import JobConflict, enqueue
    from placements.jobs.registry import kind_of

    app = worker_app()
    with app.app_context():
        try:
            job = enqueue(kind, title=kind_of(kind).title, subject=subject or kind)
        except JobConflict:
            db.session.rollback()
            return None
        db.session.commit()
        job_id = job.id
    execute(app, job_id)
    return job_id
