"""The insight pages' background work: solves of a round's allocation that change nothing.

`insights.solve` works out an `InsightSolve`:

- a baseline: the round's problem built now from the database, solved as an allocation run
  would solve it (the problem and the whole result are kept on the solve);
- a scenario: the problem of the allocation it is compared with (a run of the round, or a
  baseline), with the extra places added, solved as a repair of that allocation. When the
  round had no allocation yet, the same job first solves a baseline and keeps it too, so
  that supply and demand reads it.

Everything is written with the job's success; a failed or cancelled solve keeps nothing.

A baseline's figures (`placements.insights.figures`) are kept with it, and a run's with the
run: this module connects to `placements.rounds.signals.run_solved`, so the run job keeps
them in its own transaction without the rounds feature knowing this one.
"""

from __future__ import annotations

import time
from typing import Any

from placements.extensions import db
from placements.insights import figures, services
from placements.jobs import JobContext, job_kind
from placements.models import AllocationRun, InsightSolve, SolveKind
from placements.rounds.problem import build_problem
from placements.rounds.signals import run_solved
from solver import parse_problem, solve


def _solve(ctx: JobContext, problem: dict[str, Any], stage: str) -> dict[str, Any]:
    ctx.progress(message=stage)

    def progress(report: dict[str, Any]) -> None:
        ctx.progress(**{k: v for k, v in report.items() if k not in ("elapsed_s", "message")})
        ctx.check_cancelled()

    result = solve(parse_problem(problem), progress=progress)
    ctx.check_cancelled()
    return result


def keep_run_figures(run: AllocationRun, *, result: dict[str, Any], **_: Any) -> None:
    """Keep a run's figures in its job's transaction (connected to `run_solved`)."""
    figures.keep_for_run(run, result)


run_solved.connect(keep_run_figures, weak=False)


@job_kind(services.INSIGHTS_JOB, title="Insight solve")
def run_insight_solve(ctx: JobContext) -> dict[str, Any]:
    """Work out a baseline or a scenario and keep it on its solve (with the job's commit)."""
    started = time.perf_counter()
    insight = db.session.get(InsightSolve, ctx.payload["solve_id"])
    if insight is None:
        raise LookupError("the question was deleted")
    round_ = insight.round
    if insight.kind == SolveKind.BASELINE:
        problem = build_problem(round_)
        result = _solve(ctx, problem, "Solving the round as it stands")
        insight.problem, insight.result = problem, result
        figures.keep(figures.work_out(round_, problem, result, fairness=False),
                     solve_id=insight.id)
        db.session.flush()  # the runner expires the session before it commits
        services.prune_baselines(round_.id)
        summary = result.get("summary", {})
        return {"placed": summary.get("placed"), "learners": summary.get("learners"),
                "status": result.get("status")}
    source = services.source_of(insight)
    if source is None:  # no allocation to compare with: solve the round as it stands first
        problem = build_problem(round_)
        result = _solve(ctx, problem, "Solving the round as it stands")
        baseline = InsightSolve(round_id=round_.id, kind=SolveKind.BASELINE,
                                job_id=insight.job_id, created_by_id=insight.created_by_id,
                                problem=problem, result=result)
        db.session.add(baseline)
        db.session.flush()
        figures.keep(figures.work_out(round_, problem, result, fairness=False),
                     solve_id=baseline.id)
        insight.base_solve_id = baseline.id
        services.prune_baselines(round_.id)
        base_problem, base_result = problem, result
    else:
        base_problem, base_result = source.problem, source.result
        if not base_problem or not base_result:
            raise ValueError("the allocation this question was compared with is no longer "
                             "kept: ask it again")
    if not (insight.sector and insight.area and insight.places):
        raise ValueError("a scenario names a sector, an area and a number of places")
    extra = services.virtual_offers(
        insight.sector, insight.area, insight.places, spread=insight.spread,
        learner_postcodes=services.sector_postcodes(round_, insight.sector))
    variant = _solve(ctx, services.variant_problem(base_problem, base_result, extra),
                     "Solving with the extra places")
    answer = services.scenario_answer(base_result, variant, extra,
                                      fallback=bool(base_problem.get("settings", {})
                                                    .get("fallback", round_.fallback)))
    answer["seconds"] = round(time.perf_counter() - started, 2)
    insight.result = answer
    db.session.flush()  # the runner expires the session before it commits
    return {"extra_mandated": answer["variant"]["mandated_placed"]
            - answer["baseline"]["mandated_placed"],
            "extra_placed": answer["variant"]["placed"] - answer["baseline"]["placed"]}
