"""The rounds feature's background work: allocation runs (full and repair).

A run's problem was built and stored when the officer started it; the job solves it,
reporting the solver's progress level by level, and applies the result to the round's
placements in one transaction with the job's success. A failed, cancelled or stopped run
changes no placement, and says so in the round's audit trail.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError
from placements.domain import rounds as round_rules
from placements.extensions import db
from placements.jobs import JobContext, JobRejected, job_kind
from placements.models import AllocationRound, AllocationRun, Job, User
from placements.querying import refresh_statistics
from placements.rounds.reports import record_run
from placements.rounds.services import (
    ALLOCATION_JOB,
    PUBLICATION_JOB,
    apply_result,
    previous_run,
)
from placements.rounds.signals import run_solved
from solver import parse_problem, solve


def record_failure(job: Job, message: str) -> None:
    """Put a run that failed, was cancelled or stopped into its round's audit trail."""
    run = db.session.scalar(sa.select(AllocationRun).where(AllocationRun.job_id == job.id))
    if run is None:
        return
    action = "run.cancelled" if job.status == "cancelled" else "run.failed"
    audit.record(None, action, run, round_id=run.round_id, kind=run.kind,
                 error=message[:300])


def analyse_run_tables(job: Job) -> None:
    """After a run's bulk writes, refresh the planner's statistics of the tables it wrote."""
    refresh_statistics(["placement", "run_learner", "run_offer", "allocation_figure_cell"])


def analyse_publication_tables(job: Job) -> None:
    """After a publication's bulk writes, refresh the statistics of the tables it wrote."""
    refresh_statistics(["placement", "review_plan", "placement_review", "outbox_message"])


@job_kind(ALLOCATION_JOB, title="Allocation run", on_failure=record_failure,
          after_success=analyse_run_tables)
def run_allocation(ctx: JobContext) -> dict[str, Any]:
    """Solve a stored problem and apply the result to the round (with the job's commit)."""
    run = db.session.get(AllocationRun, ctx.payload["run_id"])
    if run is None:
        raise LookupError("the run was deleted")
    problem = parse_problem(run.problem)
    ctx.progress(level="starting", message="Reading the problem")

    def progress(report: dict[str, Any]) -> None:
        ctx.progress(**{k: v for k, v in report.items() if k != "elapsed_s"})
        ctx.check_cancelled()

    result = solve(problem, progress=progress)
    ctx.check_cancelled()
    db.session.expire_all()
    run = db.session.get(AllocationRun, ctx.payload["run_id"])
    assert run is not None
    ctx.progress(message="Keeping the result")
    run_solved.send(run, result=result)
    counts = apply_result(run, result)
    run.result = result
    kept = record_run(run, result, previous_run(run))
    round_rules.clear_repair(run.round, run_started=run.created_at)
    summary = result.get("summary", {})
    audit.record(None, "run.succeeded", run, round_id=run.round_id, kind=run.kind,
                 placed=summary.get("placed"), learners=summary.get("learners"),
                 status=result.get("status"))
    return {**kept, "written": counts}


def record_publication_failure(job: Job, message: str) -> None:
    """Put a publication that failed into its round's audit trail (nothing was sent)."""
    round_id = (job.payload or {}).get("round_id")
    if round_id:
        audit.record(None, "round.publication_failed", None, round_id=round_id,
                     error=message[:300])


@job_kind(PUBLICATION_JOB, title="Publication", on_failure=record_publication_failure,
          after_success=analyse_publication_tables)
def publish(ctx: JobContext) -> dict[str, Any]:
    """Publish what the officer confirmed: the placements move on and every e-mail is
    written in the job's one transaction (all or nothing), then sent after its commit."""
    from placements.rounds.publication import publish_round

    payload = ctx.payload
    round_ = db.session.get(AllocationRound, payload["round_id"])
    officer = db.session.get(User, payload["officer_id"])
    if round_ is None or officer is None:
        raise LookupError("the round or the officer is gone")
    ctx.progress(message=f"Writing {payload.get('emails', 'the')} e-mails")
    try:
        return publish_round(officer, round_, seen=payload["seen"], digest=payload["digest"],
                             job_id=ctx.job_id)
    except DomainError as exc:  # the plan changed meanwhile: nothing was published
        raise JobRejected(f"Nothing was published: {exc.message}", {}) from None
