"""Benchmark: the insight pages' work on a seeded database (``flask seed demo --learners N``).

Times, each the median of --repeat runs:

- solve: ``build_problem`` + ``solver.solve`` of the round once (the baseline: one run);
- what-if: ``insights.services.what_if`` (build and solve the round twice, the second time
  with 10 extra Digital places in postcode area M, as a repair of the first);
- supply/demand: ``insights.services.supply_demand`` for the round, by postcode area;
- fairness: ``insights.services.fairness_report`` of a run of the round.

    PLACEMENTS_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/big.sqlite \\
        .venv/bin/python -P bench/insights_db.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import sqlalchemy as sa


def median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from placements import create_app
    from placements.extensions import db
    from placements.insights import services
    from placements.models import AllocationRound, AllocationRun, Learner, PlacementOffer, User
    from placements.rounds.problem import build_problem
    from solver import parse_problem, solve

    app = create_app()
    with app.app_context():
        round_ = db.session.scalars(sa.select(AllocationRound).order_by(AllocationRound.id)
                                    ).first()
        officer = db.session.get(User, round_.created_by_id)
        learners = db.session.scalar(sa.select(sa.func.count(Learner.id)))
        offers = db.session.scalar(sa.select(sa.func.count(PlacementOffer.id)))
        print(f"# {platform.machine()}, Python {platform.python_version()}, "
              f"{learners} learners, {offers} offers, round time limit {round_.time_limit_s} s")
        result = {}

        def one_solve():
            result["r"] = solve(parse_problem(build_problem(round_)))

        t_solve = median(one_solve, args.repeat)
        answer = {}

        def ask():
            answer["a"] = services.what_if(round_, sector="Digital", area="M", places=10)

        t_what_if = median(ask, args.repeat)
        scope = services.scope_for(officer, round_)
        t_sd = median(lambda: services.supply_demand(scope, "area"), args.repeat)
        run = AllocationRun(round_id=round_.id, status="succeeded", result=result["r"])
        t_fair = median(lambda: services.fairness_report(run), args.repeat)
        a = answer["a"]
        print(f"what-if answer: +{a.extra_mandated} mandated, +{a.extra_placed} placed, "
              f"{len(a.helped)} learners listed")
        print("| step | median (s) | ratio to one solve |")
        print("|---|---:|---:|")
        for name, t in (("build + solve once (baseline)", t_solve), ("what-if", t_what_if),
                        ("supply and demand (round, by area)", t_sd),
                        ("fairness report", t_fair)):
            print(f"| {name} | {t:.2f} | {t / t_solve:.2f} |")


if __name__ == "__main__":
    main()
