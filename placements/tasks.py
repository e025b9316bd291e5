"""Allocation runs on a Celery worker over Redis, for more than one web server.

Set ``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) for both the web app and the
worker: runs are then queued to Redis (``ALLOCATION_WORKER`` becomes ``"celery"``) and solved by

    celery --app placements.tasks worker --concurrency 1 --loglevel INFO

which builds its own app from the same environment (``DATABASE_URL``, ``SECRET_KEY``, ...).
Without a broker the in-process worker (``placements.jobs``, a thread) stays the default.
The worker runs `placements.jobs.execute_run`, so progress, heartbeats, failure handling and
the reaping of runs whose worker died are the same as in-process.
"""

from __future__ import annotations

from celery import Celery
from flask import Flask

from placements.config import celery_broker_url

#: The Celery application; its broker comes from the environment, or from `configure`.
celery_app = Celery("placements")
celery_app.conf.update(
    broker_url=celery_broker_url(),
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    # A run is acknowledged when it starts: a worker that dies mid-solve leaves the run to
    # the reaper (marked failed), rather than solving it twice.
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


@celery_app.task(name="placements.run_allocation")
def run_allocation(run_id: int) -> None:
    """Solve one queued allocation run and apply its result (or mark it failed)."""
    from placements.jobs import execute_run

    execute_run(worker_app(), run_id)


def enqueue(app: Flask, run_id: int) -> None:
    """Queue a committed run for a Celery worker."""
    configure(app)
    run_allocation.apply_async(args=[run_id])
