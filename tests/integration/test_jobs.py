"""The job runner: kinds registered by features, progress in the database, cancellation,
failure that keeps nothing, stopped workers shown at once and reaped only on request."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placements.domain import DomainError
from placements.extensions import db
from placements.jobs import (
    JobConflict,
    JobContext,
    enqueue,
    execute,
    job_kind,
    reap_stale,
    request_cancel,
    shown_error,
    shown_status,
    submit,
)
from placements.models import AuditEvent, Job, JobStatus, Partnership, utcnow

FAILURES: list[tuple[int, str]] = []
GATE = threading.Event()


def _remember_failure(job: Job, message: str) -> None:
    FAILURES.append((job.id, message))


@job_kind("test.count", title="Counting (tests)", on_failure=_remember_failure)
def _count(ctx: JobContext) -> dict:
    """Report progress, write a row; stop when cancelled; fail when asked."""
    total = ctx.payload.get("steps", 3)
    for done in range(1, total + 1):
        if ctx.payload.get("wait"):
            GATE.wait(10)
        ctx.progress(done=done, total=total, message="Counting")
        ctx.check_cancelled()
        if done == total:  # SQLite has one writer: write last, as the real kinds do
            db.session.add(Partnership(name=f"made by job {ctx.job_id}"))
            db.session.flush()
        if ctx.payload.get("fail_at") == done:
            raise RuntimeError("the work broke")
    return {"counted": total}


AFTER: list[int] = []


def _after(job: Job) -> None:
    """Follow-up of a committed success: sees the job's work; breaks when asked."""
    if job.payload.get("after_fails"):
        db.session.add(Partnership(name=f"follow-up of {job.id}"))
        db.session.flush()
        raise RuntimeError("the follow-up broke")
    assert db.session.scalar(sa.select(Partnership.id).where(
        Partnership.name == f"made by job {job.id}")) is not None
    AFTER.append(job.id)


@job_kind("test.after", title="Counting with a follow-up (tests)", after_success=_after)
def _count_then_follow(ctx: JobContext) -> dict:
    if ctx.payload.get("fail"):
        raise RuntimeError("the work broke")
    db.session.add(Partnership(name=f"made by job {ctx.job_id}"))
    db.session.flush()
    return {"counted": 1}


def partnerships() -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(sa.select(Partnership.name)))


def new_job(**payload) -> Job:
    job = enqueue("test.count", title="Count", payload=payload, subject=payload.pop(
        "subject", None))
    db.session.commit()
    return job


def test_a_job_runs_to_success_and_keeps_its_work(app):
    job = new_job(steps=4)
    execute(app, job.id)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"counted": 4}
    assert job.progress["done"] == 4
    assert job.progress["total"] == 4
    assert job.started_at is not None
    assert job.finished_at is not None
    assert partnerships() == [f"made by job {job.id}"]


def test_a_failing_job_keeps_nothing_and_tells_its_feature(app):
    FAILURES.clear()
    job = new_job(steps=3, fail_at=3)
    execute(app, job.id)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == JobStatus.FAILED
    assert "the work broke" in job.error
    assert partnerships() == []  # the row it wrote was rolled back
    assert [(job.id, job.error)] == FAILURES


@pytest.mark.parametrize(("payload", "followed"), [({}, True), ({"fail": True}, False),
                                                   ({"after_fails": True}, False)])
def test_a_follow_up_runs_after_the_success_commits_and_cannot_undo_it(app, payload,
                                                                        followed):
    AFTER.clear()
    job = enqueue("test.after", title="Count", payload=payload)
    db.session.commit()
    execute(app, job.id)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == (JobStatus.FAILED if payload.get("fail") else JobStatus.SUCCEEDED)
    assert ([job.id] if followed else []) == AFTER
    # The job's own work stays; a broken follow-up's writes do not.
    assert partnerships() == ([] if payload.get("fail") else [f"made by job {job.id}"])


def test_a_job_runs_once_even_if_submitted_twice(app):
    job = new_job(steps=1)
    execute(app, job.id)
    execute(app, job.id)  # already finished: nothing happens
    assert partnerships() == [f"made by job {job.id}"]


def test_one_unfinished_job_per_subject(app):
    new_job(subject="thing:1")
    with pytest.raises(JobConflict, match="already in progress"):
        enqueue("test.count", title="Count", subject="thing:1")
    db.session.rollback()
    enqueue("test.count", title="Count", subject="thing:2")  # another subject is free


def test_cancelling_a_queued_job(app):
    FAILURES.clear()
    job = new_job(steps=2)
    assert request_cancel(job) == "cancelled"
    db.session.commit()
    execute(app, job.id)  # a worker picking it up later does nothing
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.CANCELLED
    assert partnerships() == []
    assert FAILURES
    assert FAILURES[-1][0] == job.id
    with pytest.raises(DomainError, match="already finished"):
        request_cancel(db.session.get(Job, job.id))


def test_cancelling_a_running_job_keeps_nothing(app):
    app.config["JOB_WORKER"] = "thread"
    GATE.clear()
    job = new_job(steps=50, wait=True)
    submit(job.id)
    for _ in range(200):
        db.session.expire_all()
        if db.session.get(Job, job.id).status == JobStatus.RUNNING:
            break
        time.sleep(0.02)
    assert request_cancel(db.session.get(Job, job.id)) == "stopping"
    db.session.commit()
    GATE.set()
    for _ in range(300):
        db.session.expire_all()
        if db.session.get(Job, job.id).status != JobStatus.RUNNING:
            break
        time.sleep(0.02)
    job = db.session.get(Job, job.id)
    assert job.status == JobStatus.CANCELLED
    assert partnerships() == []


def test_progress_is_in_the_database_while_running(app):
    app.config["JOB_WORKER"] = "thread"
    GATE.clear()
    job = new_job(steps=2, wait=True)
    submit(job.id)
    for _ in range(200):
        db.session.expire_all()
        if db.session.get(Job, job.id).status == JobStatus.RUNNING:
            break
        time.sleep(0.02)
    # Another connection (another web worker) sees the job running.
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(Job.status).where(Job.id == job.id)) == "running"
    GATE.set()
    for _ in range(300):
        db.session.expire_all()
        if db.session.get(Job, job.id).status == JobStatus.SUCCEEDED:
            break
        time.sleep(0.02)
    assert db.session.get(Job, job.id).progress["done"] == 2


def test_a_stopped_worker_is_shown_at_once_and_reaped_only_on_request(app):
    FAILURES.clear()
    job = new_job(steps=1)
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert shown_status(job) == "failed"
    assert "worker stopped" in shown_error(job)
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.RUNNING  # looking wrote nothing
    assert reap_stale() == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.FAILED
    assert [(job.id, db.session.get(Job, job.id).error)] == FAILURES
    assert reap_stale() == 0


def test_a_queued_job_waits_longer_than_a_running_one_before_counting_as_stopped(app):
    job = new_job(steps=1)
    job.created_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert shown_status(job) == "queued"  # a queue may wait behind other jobs
    job.created_at = utcnow() - timedelta(seconds=app.config["JOB_QUEUE_TIMEOUT_S"] + 1)
    db.session.commit()
    assert shown_status(job) == "failed"


def test_flask_jobs_reap(app, runner):
    job = new_job(steps=1)
    job.status = JobStatus.RUNNING
    job.heartbeat_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    result = runner.invoke(args=["jobs", "reap"])
    assert result.exit_code == 0
    assert "1 stopped job marked as failed" in result.output


def test_a_failed_run_is_in_the_rounds_audit_trail(app, world, monkeypatch):
    """A run that fails (or whose worker dies) says so in its round's audit trail."""
    from placements.models import Preference
    from placements.rounds import services

    db.session.add(Preference(round=world["round"], learner=world["l1"], offer=world["o1"],
                              rank=1))
    db.session.commit()
    monkeypatch.setattr("placements.rounds.jobs.solve", lambda *a, **k: 1 / 0)
    run = services.start_run(world["officer1"], world["round"])
    db.session.commit()
    execute(app, run.job_id)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "run.failed"))
    assert event is not None
    assert event.round_id == world["round"].id
    assert "ZeroDivisionError" in event.detail["error"]


def test_runs_and_publications_refresh_the_planners_statistics(app, world):
    """After their bulk writes, a run and a publication have PostgreSQL analyse the tables
    they wrote (elsewhere there is nothing to do)."""
    from placements.jobs.registry import kind_of
    from placements.querying import refresh_statistics
    from placements.rounds.services import ALLOCATION_JOB, PUBLICATION_JOB
    from tests.integration.test_insights import run_round

    assert kind_of(ALLOCATION_JOB).after_success is not None
    assert kind_of(PUBLICATION_JOB).after_success is not None
    postgres = db.engine.dialect.name == "postgresql"
    assert refresh_statistics(["placement"]) == (["placement"] if postgres else [])
    db.session.commit()
    if not postgres:
        return
    db.session.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    run = run_round(world)
    assert run.status == "succeeded"
    analysed = db.session.scalar(sa.text(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'run_learner'"))
    assert analysed is not None
