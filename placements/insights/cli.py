"""`flask insights figures`: keep the figures of allocations made before they were kept."""

from __future__ import annotations

import click
import sqlalchemy as sa

from placements.extensions import db
from placements.insights import figures
from placements.insights.views import bp
from placements.models import (
    AllocationFigures,
    AllocationRound,
    AllocationRun,
    InsightSolve,
    Job,
    JobStatus,
    SolveKind,
)


def allocations_without_figures(round_id: int | None = None) -> tuple[list[int], list[int]]:
    """Ids of the succeeded runs and of the baselines (documents kept) that have no figures
    kept, oldest first (documents are not loaded)."""
    def scoped(stmt: sa.Select, model: type[AllocationRun] | type[InsightSolve]) -> sa.Select:
        return stmt.where(model.round_id == round_id) if round_id is not None else stmt

    runs = db.session.scalars(scoped(
        sa.select(AllocationRun.id).join(Job, Job.id == AllocationRun.job_id)
        .outerjoin(AllocationFigures, AllocationFigures.run_id == AllocationRun.id)
        .where(Job.status == JobStatus.SUCCEEDED, AllocationRun.result.is_not(None),
               AllocationFigures.id.is_(None)), AllocationRun).order_by(AllocationRun.id))
    solves = db.session.scalars(scoped(
        sa.select(InsightSolve.id).join(Job, Job.id == InsightSolve.job_id)
        .outerjoin(AllocationFigures, AllocationFigures.solve_id == InsightSolve.id)
        .where(InsightSolve.kind == SolveKind.BASELINE, Job.status == JobStatus.SUCCEEDED,
               InsightSolve.result.is_not(None), InsightSolve.problem.is_not(None),
               AllocationFigures.id.is_(None)), InsightSolve).order_by(InsightSolve.id))
    return list(runs), list(solves)


@bp.cli.command("figures")
@click.option("--round", "round_id", type=int, default=None,
              help="Only this round's allocations (its id).")
def figures_command(round_id: int | None) -> None:
    """Keep the insight figures of finished runs and baselines that have none (allocations
    made before an upgrade); each is committed on its own, so it can be stopped and run
    again."""
    if round_id is not None and db.session.get(AllocationRound, round_id) is None:
        raise click.UsageError(f"there is no round {round_id}")
    run_ids, solve_ids = allocations_without_figures(round_id)
    count = 0
    for run_id in run_ids:
        done = figures.keep_missing(run_id=run_id)
        db.session.expunge_all()
        count += done
        click.echo(f"Run {run_id}: " + ("figures kept." if done else "kept meanwhile."))
    for solve_id in solve_ids:
        done = figures.keep_missing(solve_id=solve_id)
        db.session.expunge_all()
        count += done
        click.echo(f"Baseline {solve_id}: " + ("figures kept." if done else
                                               "kept meanwhile."))
    click.echo(f"{count} allocation{'' if count == 1 else 's'} given figures.")
