"""Background jobs on a Celery worker over Redis, for more than one web server.

Set ``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) for both the web app and the
worker: jobs are then queued to Redis (``JOB_WORKER`` becomes ``"celery"``) and run by

    celery --app placements.tasks worker --concurrency 1 --loglevel INFO

which builds its own app from the same environment (``DATABASE_URL``, ``SECRET_KEY``, ...).
Without a broker the in-process worker (a thread) stays the default. The worker runs
`placements.jobs.execute`, so progress, heartbeats, cancellation, failure handling and the
reaping of jobs whose worker died are the same as in-process.
"""

from __future__ import annotations

from celery import Celery
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


#: With `celery --app placements.tasks beat`, the compliance reminders run once a day.
celery_app.conf.beat_schedule = {
    "compliance-reminders": {"task": "placements.compliance_remind",
                             "schedule": 24 * 60 * 60.0},
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
