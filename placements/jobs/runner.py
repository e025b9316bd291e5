"""The job runner: queue, run, follow, cancel and reap background jobs of any registered kind.

- `enqueue(kind, ...)` adds a queued `Job` (flushed with the caller's transaction; at most
  one unfinished job per `subject`, which the database enforces);
- after the caller commits, `submit(job.id)` hands it to the worker chosen by
  `JOB_WORKER`: "thread" (a daemon thread of this process, the default), "celery" (a
  Celery worker over `CELERY_BROKER_URL`; see `placements.tasks`), "inline" (before
  `submit` returns: scripts and tests) or "manual" (left queued: tests, external workers);
- the worker calls `execute(app, job_id)`: it claims the job (queued -> running, atomically,
  so two workers never run one job), runs the kind's handler with a `JobContext` (progress,
  heartbeat, cancellation), and commits the handler's writes together with "succeeded";
  any exception rolls the handler's writes back and marks the job failed (or cancelled),
  calling the kind's `on_failure` so the feature records it where it keeps its history;
- `request_cancel` cancels a queued job at once and asks a running one to stop;
- a running job whose worker stopped reporting (the process died) is *shown* as stopped
  straight away (`is_stale`, which never writes), and marked failed by `reap_stale`, which
  runs only from POST handlers and `flask jobs reap` (pages that are only looked at never
  write).

The runner knows kinds only through `placements.jobs.registry`: it imports no feature.
"""

from __future__ import annotations

import os
import threading
import traceback
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request
from sqlalchemy.exc import IntegrityError

from placements.domain import DomainError
from placements.domain.lifecycle import Lifecycle, move
from placements.extensions import db
from placements.jobs.context import JobCancelled, JobContext
from placements.jobs.registry import JobKind, kind_of
from placements.models import ACTIVE_JOB_STATUSES, Job, JobStatus, utcnow

J = JobStatus

JOB: Lifecycle[JobStatus] = Lifecycle("job", Job, [
    move("claim", [J.QUEUED], J.RUNNING, event="started"),
    move("succeed", [J.RUNNING], J.SUCCEEDED, event="succeeded"),
    move("fail", [J.QUEUED, J.RUNNING], J.FAILED, event="failed"),
    move("cancel", [J.QUEUED, J.RUNNING], J.CANCELLED, event="cancelled"),
], refusal=lambda verb, state, _sub: f"This job has already {getattr(state, 'value', state)}"
    if state in (J.SUCCEEDED, J.FAILED, J.CANCELLED) else "This job is already running")

#: Seconds between heartbeats while a job runs.
HEARTBEAT_INTERVAL_S = 5.0

#: The Celery task that runs a job on a worker (defined in `placements.tasks`).
CELERY_TASK = "placements.run_job"
_celery_clients: dict[str, Any] = {}


class JobConflict(DomainError):
    """An unfinished job already holds the subject."""


class JobRejected(Exception):  # noqa: N818 - the work was refused, with a report
    """Raised by a handler that refuses its input: the job fails, keeping `result` (such
    as the row-by-row problems of an import) and nothing of its work."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def _send_to_celery(app: Flask, job_id: int) -> None:
    """Queue a job for a Celery worker by task name (the web process needs no tasks)."""
    from celery import Celery

    broker = app.config["CELERY_BROKER_URL"]
    if not broker:
        raise ValueError("JOB_WORKER is celery but CELERY_BROKER_URL is not set")
    client = _celery_clients.get(broker)
    if client is None:
        client = _celery_clients[broker] = Celery("placements", broker=broker)
    client.send_task(CELERY_TASK, args=[job_id])


def worker_name() -> str:
    """Name the current process and thread, recorded on the jobs it runs."""
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"[:100]


# --- queueing ------------------------------------------------------------------------------

def enqueue(kind: str, *, title: str, provider_id: int | None = None,
            created_by_id: int | None = None, subject: str | None = None,
            payload: dict[str, Any] | None = None,
            busy_message: str = "This is already in progress: wait for it to finish") -> Job:
    """Add a queued job (flushed, not committed); JobConflict if its subject is busy."""
    kind_of(kind)
    payload = dict(payload or {})
    if has_request_context():  # e-mails the job sends link to where it was asked for
        payload.setdefault("base_url", request.url_root)
    job = Job(kind=kind, title=title[:200], provider_id=provider_id,
              created_by_id=created_by_id, subject=subject, payload=payload,
              progress={"message": "Waiting to start"})
    # No savepoint: SQLite's Python driver commits a transaction that a SAVEPOINT began when
    # the savepoint is released. A clash leaves the session to be rolled back by the caller
    # (views roll back on any DomainError).
    db.session.add(job)
    try:
        db.session.flush()
    except IntegrityError:
        raise JobConflict(busy_message) from None
    return job


def submit(job_id: int, *, mode: str | None = None) -> None:
    """Start a committed queued job on the configured worker (or the mode given)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    mode = mode or app.config["JOB_WORKER"]
    if mode == "inline":
        execute(app, job_id)
    elif mode == "manual":
        return
    elif mode == "celery":
        _send_to_celery(app, job_id)
    elif mode == "thread":
        threading.Thread(target=execute, args=(app, job_id), name=f"job-{job_id}",
                         daemon=True).start()
    else:
        raise ValueError(f"unknown JOB_WORKER {mode!r}")


# --- running -------------------------------------------------------------------------------

def execute(app: Flask, job_id: int) -> None:
    """Run one queued job to its end (succeeded, failed or cancelled); never raises."""
    # A fresh app context (its own database session, even when run inline from a request),
    # with a request context so that handlers can build links (url_for) off-request.
    with app.app_context():
        base_url = app.config["BASE_URL"] or db.session.scalar(
            sa.select(Job.payload).where(Job.id == job_id)) or {}
        if isinstance(base_url, dict):
            base_url = base_url.get("base_url")
        db.session.remove()
    with app.app_context(), app.test_request_context(base_url=base_url or None):
        try:
            _execute(job_id)
        except Exception as exc:  # noqa: BLE001 - every failure must end up on the job row
            db.session.rollback()
            if isinstance(exc, JobCancelled):
                _finish_unsuccessfully(job_id, "cancel", "Cancelled by an officer")
            elif isinstance(exc, JobRejected):
                _finish_unsuccessfully(job_id, "fail", exc.message, result=exc.result)
            else:
                app.logger.warning("job %s failed: %s", job_id, exc)
                message = f"{type(exc).__name__}: {exc}"
                if app.debug:
                    message += "\n" + traceback.format_exc()
                _finish_unsuccessfully(job_id, "fail", message[:5000])
        finally:
            db.session.remove()


def _execute(job_id: int) -> None:
    job = db.session.get(Job, job_id)
    if job is None or job.status != J.QUEUED:
        return
    try:
        JOB.apply(job, "claim", record=False, values={
            "started_at": utcnow(), "heartbeat_at": utcnow(), "worker": worker_name(),
            "progress": {"message": "Starting", "elapsed_s": 0}})
    except DomainError:  # another worker claimed it first
        db.session.rollback()
        return
    db.session.commit()
    kind = kind_of(job.kind)
    ctx = JobContext(job, db.engine)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            ctx._write(heartbeat_at=utcnow(), progress=ctx.snapshot())

    beat = threading.Thread(target=heartbeat, name=f"heartbeat-{job_id}", daemon=True)
    beat.start()
    try:  # the heartbeat goes on while the result is written, until the commit
        result = kind.run(ctx)
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if job is None or job.status != J.RUNNING:
            db.session.rollback()  # reaped or cancelled meanwhile: keep nothing
            return
        ctx.check_cancelled()
        JOB.apply(job, "succeed", record=False, values={
            "result": result, "finished_at": utcnow(), "progress": ctx.snapshot(),
            "payload": _without_upload(job.payload)})
        db.session.commit()
    finally:
        stop.set()
        beat.join(timeout=HEARTBEAT_INTERVAL_S + 1)
    _after_success(kind, job_id)


def _after_success(kind: JobKind, job_id: int) -> None:
    """Run the kind's follow-up of a committed success; its failure only gets logged."""
    if kind.after_success is None:
        return
    try:
        job = db.session.get(Job, job_id)
        if job is not None and job.status == J.SUCCEEDED:
            kind.after_success(job)
            db.session.commit()
    except Exception as exc:  # noqa: BLE001 - the job succeeded whatever happens here
        db.session.rollback()
        current_app.logger.warning("job %s: follow-up after success failed: %s", job_id, exc)


def _without_upload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A finished job's input without any uploaded file (personal data is not kept)."""
    return {k: v for k, v in (payload or {}).items() if k != "content"}


def _finish_unsuccessfully(job_id: int, verb: str, message: str,
                           result: dict[str, Any] | None = None) -> None:
    """Mark a job failed or cancelled (nothing of its work was kept) and tell its feature."""
    try:
        job = db.session.get(Job, job_id)
        if job is None or not job.active:
            return
        JOB.apply(job, verb, record=False, values={
            "error": message, "finished_at": utcnow(), "result": result,
            "payload": _without_upload(job.payload)})
        hook = kind_of(job.kind).on_failure
        if hook is not None:
            hook(job, message)
        db.session.commit()
    except Exception:  # noqa: BLE001 - last resort: a plain UPDATE
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(sa.update(Job).where(Job.id == job_id, Job.status.in_(
                ACTIVE_JOB_STATUSES)).values(status=J.FAILED.value if verb == "fail"
                                             else J.CANCELLED.value,
                                             error=message, finished_at=utcnow()))


# --- following, cancelling, reaping ---------------------------------------------------------

def is_stale(job: Job, now: datetime | None = None) -> bool:
    """Say whether an unfinished job's worker has stopped (a derivation: writes nothing).

    Running: no heartbeat for JOB_STALE_S seconds. Queued: not picked up within
    JOB_QUEUE_TIMEOUT_S seconds (a queue may legitimately wait behind other jobs).
    """
    now = now or utcnow()
    if job.status == J.RUNNING:
        seen = job.heartbeat_at or job.started_at or job.created_at
        return seen < now - timedelta(seconds=current_app.config["JOB_STALE_S"])
    if job.status == J.QUEUED:
        return job.created_at < now - timedelta(
            seconds=current_app.config["JOB_QUEUE_TIMEOUT_S"])
    return False


STOPPED_MESSAGE = ("The worker stopped: no sign of life for too long (the server may have "
                   "restarted). Nothing it did was kept; start it again.")


def shown_status(job: Job) -> str:
    """The status to show: a stale unfinished job is shown as failed before it is reaped."""
    return J.FAILED.value if job.active and is_stale(job) else str(job.status)


def shown_error(job: Job) -> str | None:
    """The error to show (a stale job's, before it is reaped)."""
    return STOPPED_MESSAGE if job.active and is_stale(job) else job.error


def reap_stale(subject: str | None = None) -> int:
    """Mark unfinished jobs whose worker stopped as failed; return how many (POST/CLI only)."""
    stmt = sa.select(Job).where(Job.status.in_(ACTIVE_JOB_STATUSES))
    if subject is not None:
        stmt = stmt.where(Job.subject == subject)
    reaped = 0
    for job in db.session.scalars(stmt).all():
        if not is_stale(job):
            continue
        try:
            JOB.apply(job, "fail", record=False, values={
                "error": STOPPED_MESSAGE, "finished_at": utcnow(),
                "payload": _without_upload(job.payload)})
        except DomainError:
            continue  # it finished meanwhile
        hook = kind_of(job.kind).on_failure
        if hook is not None:
            hook(job, STOPPED_MESSAGE)
        reaped += 1
    return reaped


def request_cancel(job: Job) -> str:
    """Cancel a queued job now, or ask a running one to stop; return what happened."""
    if job.status == J.QUEUED:
        JOB.apply(job, "cancel", record=False, values={
            "error": "Cancelled before it started", "finished_at": utcnow(),
            "payload": _without_upload(job.payload)})
        hook = kind_of(job.kind).on_failure
        if hook is not None:
            hook(job, "Cancelled before it started")
        return "cancelled"
    if job.status == J.RUNNING:
        changed = db.session.execute(
            sa.update(Job).where(Job.id == job.id, Job.status == J.RUNNING.value)
            .values(cancel_requested=True), execution_options={"synchronize_session": "fetch"})
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return "stopping"
    raise DomainError("This has already finished")
