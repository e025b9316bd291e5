"""Benchmark: the database side of an allocation run against the solve itself.

Times, on a seeded database (``flask seed demo --learners 50000``):

- build: ``build_problem(round)``, the bulk SELECTs that make the placement-problem/1 dict;
- solve: ``solver.parse_problem`` + ``solver.solve`` (the baseline);
- write: ``apply_result`` + commit, writing every placement back (from an empty allocation);
- run:   a whole run through the app: ``start_run`` (build + store the problem JSON) and the
         worker (``execute_run`` inline: solve, store the result JSON, apply, commit).

Each is repeated (default 3) and the median reported. The round's placements are deleted
before each write and restored to empty at the end.

    PLACEMENTS_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/bench50k.sqlite \
        .venv/bin/python bench/allocation_db.py [--repeat 3] [--round-id N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

# Run as a script, bench/ would come first on sys.path and bench/solver.py would shadow the
# solver package: put the repository root there instead.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--round-id", type=int, default=None)
    args = parser.parse_args()

    from placements import create_app
    from placements.extensions import db
    from placements.jobs import execute
    from placements.models import (
        AllocationRound,
        AllocationRun,
        Job,
        JobStatus,
        Placement,
        PlacementLock,
        Preference,
        User,
    )
    from placements.rounds.problem import build_problem
    from placements.rounds.services import apply_result, start_run
    from solver import parse_problem, solve

    app = create_app({"JOB_WORKER": "inline"})
    with app.app_context():
        round_id = args.round_id or db.session.scalar(
            sa.select(AllocationRound.id).order_by(AllocationRound.id))
        round_ = db.session.get(AllocationRound, round_id)
        officer = db.session.scalar(sa.select(User).where(
            User.provider_id == round_.provider_id, User.role == "officer"))

        def clear() -> None:
            db.session.execute(sa.delete(Placement).where(Placement.round_id == round_id))
            db.session.execute(sa.delete(PlacementLock).where(
                PlacementLock.round_id == round_id))
            db.session.commit()

        clear()
        times: dict[str, list[float]] = {"build": [], "solve": [], "write": [], "run": [],
                                         "run_solve": []}
        sizes = {}
        for _ in range(args.repeat):
            db.session.expire_all()
            round_ = db.session.get(AllocationRound, round_id)
            t0 = time.perf_counter()
            problem = build_problem(round_)
            times["build"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = solve(parse_problem(problem))
            times["solve"].append(time.perf_counter() - t0)
            run = AllocationRun(round_id=round_id, problem=problem,
                                job=Job(kind="allocation.run", status=JobStatus.SUCCEEDED))
            db.session.add(run)
            db.session.commit()
            t0 = time.perf_counter()
            apply_result(run, result)
            db.session.commit()
            times["write"].append(time.perf_counter() - t0)
            sizes = {"learners": len(problem["learners"]), "offers": len(problem["offers"]),
                     "preferences": sum(len(x["preferences"]) for x in problem["learners"]),
                     "placed": result["summary"]["placed"],
                     "problem_mb": round(len(json.dumps(problem)) / 1e6, 1)}
            clear()
            # The whole run as the app does it.
            t0 = time.perf_counter()
            run = start_run(officer, round_)
            db.session.commit()
            execute(app, run.job_id)
            times["run"].append(time.perf_counter() - t0)
            db.session.expire_all()
            run = db.session.get(AllocationRun, run.id)
            assert run.status == JobStatus.SUCCEEDED, run.error
            times["run_solve"].append(run.result["summary"]["solve_seconds"])
            clear()
        db.session.execute(sa.delete(AllocationRun).where(AllocationRun.round_id == round_id))
        db.session.commit()
        prefs = db.session.scalar(sa.select(sa.func.count(Preference.id)).where(
            Preference.round_id == round_id))

    med = {k: statistics.median(v) for k, v in times.items()}
    db_part = med["build"] + med["write"]
    run_db = med["run"] - med["run_solve"]
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}")
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}; round {round_id}; "
          f"{sizes}; preference rows {prefs}")
    for key in ("build", "solve", "write", "run"):
        print(f"{key:>6}: median {med[key]:.2f} s  ({', '.join(f'{t:.2f}' for t in times[key])})")
    print(f"database part (build + write) {db_part:.2f} s vs solve {med['solve']:.2f} s: "
          f"ratio {db_part / med['solve']:.2f}")
    print(f"whole run {med['run']:.2f} s, of which solver {med['run_solve']:.2f} s; "
          f"everything else (build, JSON storage, apply, commits) {run_db:.2f} s")


if __name__ == "__main__":
    main()
