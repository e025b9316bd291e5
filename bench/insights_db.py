"""Benchmark: the insight pages' work on a seeded database (``flask seed demo --learners N``).

Times, each the median of --repeat runs:

- solve (the baseline: what one allocation run of the round does): ``build_problem`` +
  ``solver.solve`` once;
- baseline job: the page's background solve of the round as it stands (``insights.solve``
  of a baseline, run inline: build, solve, keep problem, result and figures);
- figures: working out and keeping the figures of that allocation (``figures.work_out``
  with fairness + ``figures.keep``, rolled back): what each run and baseline now adds to
  its job, so that the pages read rows;
- supply and demand: ``allocation_supply_demand`` of the round by postcode area from that
  baseline (its kept figures) with ``changes_since``, and the whole page through the test
  client as the demo officer;
- what-if scenario job: 10 extra Digital places in postcode area M, compared with the same
  baseline (``insights.solve`` of a scenario, inline: one repair solve);
- fairness: ``fairness_report`` of a run of the round from its result (a run kept before
  figures were), and from kept figures.

    PLACEMENTS_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/big.sqlite \\
        .venv/bin/python -P bench/insights_db.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import sqlalchemy as sa


def median(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from placements import create_app
    from placements.extensions import db
    from placements.insights import figures, services
    from placements.jobs import execute
    from placements.models import (
        AllocationFigures,
        AllocationRound,
        AllocationRun,
        InsightSolve,
        Learner,
        PlacementOffer,
        User,
    )
    from placements.rounds.problem import build_problem
    from solver import parse_problem, solve

    app = create_app({"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "JOB_WORKER": "inline"})
    with app.app_context():
        round_ = db.session.scalars(sa.select(AllocationRound).order_by(AllocationRound.id)
                                    ).first()
        officer = db.session.get(User, round_.created_by_id)
        officer_email, round_id = officer.email, round_.id
        learners = db.session.scalar(sa.select(sa.func.count(Learner.id)))
        offers = db.session.scalar(sa.select(sa.func.count(PlacementOffer.id)))
        cpu = platform.processor()
        if os.path.exists("/proc/cpuinfo"):
            with open("/proc/cpuinfo") as info:
                cpu = next((line.split(":", 1)[1].strip() for line in info
                            if line.startswith("model name")), cpu)
        print(f"# {cpu}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python "
              f"{platform.python_version()}, {learners} learners, {offers} offers, round "
              f"time limit {round_.time_limit_s} s")
        result = {}

        def one_solve():
            result["r"] = solve(parse_problem(build_problem(round_)))

        t_solve, all_solve = median(one_solve, args.repeat)

        def baseline_job():
            solve_ = services.start_baseline(officer, round_)
            db.session.commit()
            execute(app, solve_.job_id)

        t_base, all_base = median(baseline_job, args.repeat)
        db.session.expire_all()
        source = services.latest_source(round_)
        assert source is not None
        assert source.solve is not None

        kept_problem, kept_result = source.problem, source.result

        def keep_figures():
            worked = figures.work_out(round_, kept_problem, kept_result, fairness=True)
            db.session.execute(sa.delete(AllocationFigures).where(
                AllocationFigures.solve_id == source.solve.id))
            figures.keep(worked, solve_id=source.solve.id)
            db.session.flush()
            db.session.rollback()

        t_fig, all_fig = median(keep_figures, args.repeat)
        db.session.expire_all()
        source = services.latest_source(round_)
        assert source is not None
        assert source.kept is not None

        def supply_demand():
            sd = services.allocation_supply_demand(source, "area")
            services.changes_since(source)
            return sd

        t_sd, all_sd = median(supply_demand, args.repeat)
        sd = supply_demand()
        assert sd.total["mandated_unplaced"] == source.mandated_unplaced

        def scenario_job():
            solve_ = services.ask_what_if(officer, round_, sector="Digital", area="M",
                                          places=10)
            db.session.commit()
            execute(app, solve_.job_id)
            result["s"] = solve_.id

        t_wi, all_wi = median(scenario_job, args.repeat)
        db.session.expire_all()
        answer = db.session.get(InsightSolve, result["s"]).result
        run = AllocationRun(round_id=round_.id, result=result["r"])
        t_fair, all_fair = median(lambda: services.fairness_report(run), args.repeat)
        # The same report from figures kept with an allocation (kept here for the bench
        # under the baseline, then rolled back): the run's groups read as rows.
        worked = figures.work_out(round_, kept_problem, result["r"], fairness=True)
        db.session.execute(sa.delete(AllocationFigures).where(
            AllocationFigures.solve_id == source.solve.id))
        held = figures.keep(worked, solve_id=source.solve.id)
        t_kept, all_kept = median(
            lambda: services.fairness_tables(figures.kept_groups(held)), args.repeat)
        db.session.rollback()

    client = app.test_client()
    client.post("/auth/login", data={"email": officer_email, "password": "placements-demo"})
    url = f"/officer/insights/supply-demand?round={round_id}"
    assert client.get(url).status_code == 200  # warm the template cache

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    t_page, all_page = median(page, args.repeat)
    base = answer["baseline"]
    variant = answer["variant"]
    print(f"baseline: {base['mandated_placed']} of {base['mandated']} mandated placed; "
          f"supply and demand: {sd.total['mandated_unplaced']} mandated unplaced; what-if: "
          f"+{variant['mandated_placed'] - base['mandated_placed']} mandated, "
          f"+{variant['placed'] - base['placed']} placed, {len(answer['helped'])} learners "
          "listed")
    print("| step | median (s) | runs (s) | ratio to one solve |")
    print("|---|---:|---|---:|")
    for name, t, runs in (
            ("build + solve once (baseline)", t_solve, all_solve),
            ("baseline job (build, solve, keep documents and figures)", t_base, all_base),
            ("supply and demand from it (service)", t_sd, all_sd),
            ("supply and demand page (GET)", t_page, all_page),
            ("what-if scenario job (one repair solve)", t_wi, all_wi),
            ("figures: work out and keep (each run and baseline)", t_fig, all_fig),
            ("fairness report from the result document", t_fair, all_fair),
            ("fairness report from kept figures", t_kept, all_kept)):
        print(f"| {name} | {t:.2f} | {', '.join(f'{x:.2f}' for x in runs)} | "
              f"{t / t_solve:.2f} |")


if __name__ == "__main__":
    main()
