"""Background allocation runs: an in-process worker that needs no extra server.

`submit(run_id)` hands a queued AllocationRun to the worker chosen by
`app.config["ALLOCATION_WORKER"]`:

- "thread" (default): a daemon thread per run, with its own app context and database session;
  the request that started the run returns at once.
- "inline": the run executes before `submit` returns (tests, scripts, `flask allocate`).

The worker marks the run running, solves its stored problem, writes throttled progress and a
heartbeat every few seconds, then applies the result in one transaction
(`rounds.services.apply_result`). Any exception marks the run failed with the error and
leaves the round's placements as they were. A run whose heartbeat stops (the process died)
is marked failed by `reap_stale_runs`, called whenever a round's pages are viewed or a new
run is started.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from placements.extensions import db
from placements.models import ACTIVE_RUN_STATUSES, AllocationRun, RunStatus, utcnow

#: Seconds between progress writes (the solver may report far more often).
PROGRESS_INTERVAL_S = 0.5
#: Seconds between heartbeats while a run is solving.
HEARTBEAT_INTERVAL_S = 5.0


def worker_name() -> str:
    """Name the current process and thread, recorded on the runs it owns."""
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"[:100]


def submit(run_id: int) -> None:
    """Start a queued run on the configured worker (the caller has committed the run row)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    mode = app.config["ALLOCATION_WORKER"]
    if mode == "inline":
        execute_run(app, run_id)
        return
    if mode == "manual":  # leave it queued (tests; an external worker)
        return
    if mode == "celery":  # a Celery worker over Redis (placements.tasks)
        from placements.tasks import enqueue

        enqueue(app, run_id)
        return
    thread = threading.Thread(target=execute_run, args=(app, run_id),
                              name=f"allocation-run-{run_id}", daemon=True)
    thread.start()


def _update_run(run_id: int, **values: Any) -> None:
    """Write run columns in a short transaction of its own (safe from any thread)."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(AllocationRun).where(AllocationRun.id == run_id).values(**values))


def execute_run(app: Flask, run_id: int) -> None:
    """Solve one queued run and apply its result; on any error mark it failed."""
    with app.app_context():
        try:
            _execute(run_id)
        except Exception as exc:  # noqa: BLE001 - every failure must end up on the run row
            db.session.rollback()
            app.logger.warning("allocation run %s failed: %s", run_id, exc)
            message = f"{type(exc).__name__}: {exc}"
            if app.debug:
                message += "\n" + traceback.format_exc()
            _mark_failed(run_id, message[:5000])
        finally:
            db.session.remove()


def _mark_failed(run_id: int, message: str) -> None:
    """Record the failure on the run and in the audit trail (placements stay as they were)."""
    from placements import audit

    try:
        run = db.session.get(AllocationRun, run_id)
        if run is None:
            return
        run.status = RunStatus.FAILED
        run.error = message
        run.finished_at = utcnow()
        audit.record(None, "run.failed", run, round_id=run.round_id, kind=run.kind,
                     error=message[:300])
        db.session.commit()
    except Exception:  # noqa: BLE001 - last resort: a plain UPDATE
        db.session.rollback()
        _update_run(run_id, status=RunStatus.FAILED, error=message, finished_at=utcnow())


def _execute(run_id: int) -> None:
    from placements import audit
    from placements.rounds.services import apply_result
    from solver import parse_problem, solve

    run = db.session.get(AllocationRun, run_id)
    if run is None or run.status != RunStatus.QUEUED:
        return
    now = utcnow()
    run.status = RunStatus.RUNNING
    run.started_at = now
    run.heartbeat_at = now
    run.worker = worker_name()
    run.progress = {"elapsed_s": 0, "level": "starting"}
    db.session.commit()
    problem = parse_problem(run.problem)

    lock = threading.Lock()
    state = {"last": 0.0, "progress": {}}
    started = time.monotonic()
    stop = threading.Event()
    engine = db.engine
    logger = current_app.logger  # the solver may call back from a thread of its own

    def write(values: dict[str, Any]) -> None:
        with engine.begin() as conn:
            conn.execute(sa.update(AllocationRun).where(
                AllocationRun.id == run_id, AllocationRun.status == RunStatus.RUNNING)
                .values(**values))

    def progress(report: dict[str, Any]) -> None:
        with lock:
            state["progress"] = {**report, "elapsed_s": round(time.monotonic() - started, 1)}
            if time.monotonic() - state["last"] < PROGRESS_INTERVAL_S:
                return
            state["last"] = time.monotonic()
            snapshot = dict(state["progress"])
        try:
            write({"progress": snapshot, "heartbeat_at": utcnow()})
        except Exception:  # noqa: BLE001 - a missed progress report must not stop the solve
            logger.debug("progress write for run %s skipped", run_id)

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            with lock:
                snapshot = {**state["progress"],
                            "elapsed_s": round(time.monotonic() - started, 1)}
            try:
                write({"heartbeat_at": utcnow(), "progress": snapshot})
            except Exception:  # noqa: BLE001 - a missed heartbeat is not fatal
                continue

    beat = threading.Thread(target=heartbeat, name=f"heartbeat-{run_id}", daemon=True)
    beat.start()
    try:  # the heartbeat goes on while the result is written, until the commit
        hook = current_app.config.get("ALLOCATION_SOLVE")  # tests inject failures here
        result = (hook or solve)(problem, progress=progress)
        db.session.expire_all()
        run = db.session.get(AllocationRun, run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return  # cancelled or reaped meanwhile: leave the placements alone
        with lock:
            final = dict(state["progress"])
        apply_result(run, result)
        run.status = RunStatus.SUCCEEDED
        run.result = result
        run.finished_at = utcnow()
        run.progress = {**final, "elapsed_s": round(time.monotonic() - started, 1)}
        summary = result.get("summary", {})
        audit.record(None, "run.succeeded", run, round_id=run.round_id, kind=run.kind,
                     placed=summary.get("placed"), learners=summary.get("learners"),
                     status=result.get("status"))
        db.session.commit()
    finally:
        stop.set()
        beat.join(timeout=HEARTBEAT_INTERVAL_S + 1)


def reap_stale_runs(round_id: int | None = None) -> int:
    """Mark runs whose worker stopped reporting as failed; return how many (flushes only)."""
    limit = current_app.config["ALLOCATION_STALE_S"]
    cutoff = utcnow() - timedelta(seconds=limit)
    stmt = sa.select(AllocationRun).where(AllocationRun.status.in_(ACTIVE_RUN_STATUSES))
    if round_id is not None:
        stmt = stmt.where(AllocationRun.round_id == round_id)
    reaped = 0
    for run in db.session.scalars(stmt):
        seen = run.heartbeat_at or run.created_at
        if seen < cutoff:
            run.status = RunStatus.FAILED
            run.error = (f"The worker stopped: no sign of life for more than {limit} seconds "
                         "(the server may have restarted). Start the run again.")
            run.finished_at = utcnow()
            reaped += 1
    if reaped:
        db.session.flush()
    return reaped


# --- CSV imports ---------------------------------------------------------------------------
#
# A checked file is written in one transaction, so its progress cannot be committed as it
# goes: the worker keeps the count of rows written in memory (this process only) and the
# status page polls it. Status changes (running, succeeded, failed) are in the import_job row.

_import_progress: dict[int, int] = {}


def import_progress(job_id: int) -> int:
    """Return how many rows of a running import have been written."""
    return _import_progress.get(job_id, 0)


def submit_import(job_id: int, kind: str, officer_id: int, rows: list) -> None:
    """Write a checked import in a background thread (or inline, as configured)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["ALLOCATION_WORKER"] == "inline":
        run_import(job_id, kind, officer_id, rows)
        return

    def work() -> None:
        # A request context so invitation links (url_for) can be built off-request.
        with app.test_request_context(base_url=app.config["BASE_URL"] or None):
            try:
                run_import(job_id, kind, officer_id, rows)
            finally:
                db.session.remove()

    threading.Thread(target=work, name=f"import-{job_id}", daemon=True).start()


def run_import(job_id: int, kind: str, officer_id: int, rows: list) -> None:
    """Write every row of a checked import, all or nothing, recording the outcome on the job."""
    from placements import audit
    from placements.imports.services import IMPORTS, ImportRowError
    from placements.models import ImportJob, User

    job = db.session.get(ImportJob, job_id)
    officer = db.session.get(User, officer_id)
    job.status = "running"
    db.session.commit()
    _import_progress[job_id] = 0

    def progress(done: int) -> None:
        _import_progress[job_id] = done

    try:
        outcome = IMPORTS[kind][2](officer, rows, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the job must end failed, with nothing written
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        if isinstance(exc, ImportRowError):
            e = exc.error
            job.error = f"Row {e.row}, {e.field}: {e.message}. Nothing has been imported."
        else:
            current_app.logger.exception("import %s failed", job_id)
            job.error = f"The import failed ({type(exc).__name__}); nothing has been imported."
        job.status = "failed"
    else:
        job.status = "succeeded"
        job.summary = outcome.as_dict()
        audit.record(officer, f"import.{kind}", job, filename=job.filename,
                     rows=job.total_rows, **outcome.as_dict())
    job.finished_at = utcnow()
    db.session.commit()
    _import_progress.pop(job_id, None)
