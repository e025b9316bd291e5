"""Page budget: every GET page a person reaches, timed at region scale.

Builds a throwaway database with `flask seed demo --learners N` (SQLite by default, or the
PostgreSQL database in DATABASE_URL), solves the demo officer's round as the app does (a run
through the job runner), closes its choices and publishes it, then signs in as each role and
requests every page reachable from that role's navigation plus the detail pages a person
opens from them (lists on their first and last page, a learner, a round, a run, its changes,
the audit trail, the publish confirmation, an employer's offer, a learner's placement), each
`--repeat` times. Prints p50 and p95 server time and the HTML size per page, worst first,
and marks pages over the budget (p95 200 ms; none over 1 s).

    .venv/bin/python -P bench/pages.py --learners 50000 --repeat 20
    DATABASE_URL=postgresql://... .venv/bin/python -P bench/pages.py --learners 50000

The baseline in the same run is the sign-in page (no database work beyond the session).
Before timing, what the process holds is frozen out of the garbage collector's sweeps, as
`wsgi.py` does for a serving process; `--no-freeze` times without it.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from placements import create_app
from placements.extensions import db
from placements.models import AllocationRound, Job, Placement, User
from seed.demo import DEMO_DOMAIN, DEMO_PASSWORD, load_demo

BUDGET_P95 = 0.200
CEILING = 1.0
ROLES = {"officer": f"officer@{DEMO_DOMAIN}", "employer": f"employer@{DEMO_DOMAIN}",
         "learner": f"learner@{DEMO_DOMAIN}", "admin": f"admin@{DEMO_DOMAIN}"}


def _prepare(app, learners: int) -> int:
    """Seed, run the officer's round and publish it; return the round id."""
    from placements.jobs import execute
    from placements.rounds import publication, services

    with app.app_context():
        db.create_all()
        t0 = time.perf_counter()
        load_demo(learners=learners)
        db.session.commit()
        print(f"seeded {learners} learners in {time.perf_counter() - t0:.0f} s")
        officer = db.session.scalar(sa.select(User).where(User.email == ROLES["officer"]))
        round_ = db.session.scalar(sa.select(AllocationRound).where(
            AllocationRound.provider_id == officer.provider_id,
            AllocationRound.publications == 0).order_by(AllocationRound.id))
        with app.test_request_context():
            t0 = time.perf_counter()
            run = services.start_run(officer, round_)
            db.session.commit()
            execute(app, run.job_id)
            db.session.expire_all()
            job = db.session.get(Job, run.job_id)
            assert job.status == "succeeded", job.error
            print(f"allocation run in {time.perf_counter() - t0:.0f} s")
            round_ = db.session.get(AllocationRound, round_.id)
            if round_.status == "open" and not round_.deadline_passed():
                publication.close_choices_early(officer, round_, "Page budget benchmark")
                db.session.commit()
            t0 = time.perf_counter()
            publication.publish_round(officer, round_)
            db.session.commit()
            print(f"published in {time.perf_counter() - t0:.0f} s")
        return round_.id


def _links(html: str) -> list[str]:
    return [h for h in re.findall(r'href="(/[^"#?]*(?:\?[^"#]*)?)"', html)
            if not h.startswith(("/static/", "/auth/"))]


def _pages(client, role: str, round_id: int) -> list[str]:
    """The pages a person of this role reaches: their menu, and detail pages from it."""
    home = client.get("/", follow_redirects=True)
    menu = list(dict.fromkeys(re.findall(
        r'class="[^"]*(?:service-navigation__link|header__link)[^"]*" href="(/[^"]*)"',
        home.get_data(as_text=True)))) or list(dict.fromkeys(_links(home.get_data(
            as_text=True))))
    pages = list(menu)
    for path in menu:
        html = client.get(path).get_data(as_text=True)
        last = re.findall(r'href="([^"]*[?&]page=(\d+)[^"]*)"', html)
        if last:
            pages.append(max(last, key=lambda m: int(m[1]))[0].replace("&amp;", "&"))
    if role == "officer":
        with client.application.app_context():
            run_id = db.session.scalar(sa.text(
                "SELECT id FROM allocation_run WHERE round_id = :r ORDER BY id DESC LIMIT 1"),
                {"r": round_id})
            learner_id = db.session.scalar(sa.select(Placement.learner_id).where(
                Placement.round_id == round_id).limit(1))
        base = f"/officer/rounds/{round_id}"
        with client.application.app_context():
            programme_id = db.session.scalar(sa.text(
                "SELECT programme_id FROM learner WHERE id = :l"), {"l": learner_id})
        pages += [base, f"{base}/runs/{run_id}", f"{base}/runs/{run_id}?change=not+placed",
                  f"{base}/placements", f"{base}/audit", f"{base}/publish",
                  f"{base}/override", f"/officer/learners/{learner_id}",
                  f"/officer/insights/supply-demand?round={round_id}",
                  f"/officer/insights/rounds/{round_id}/what-if",
                  f"/officer/insights/runs/{run_id}/fairness",
                  f"/officer/compliance/rounds/{round_id}/blocked",
                  "/officer/engagement/?stage=hosting",
                  f"/officer/ksbs/programmes/{programme_id}/learners",
                  f"/officer/ksbs/learners/{learner_id}"]
    if role == "employer":
        html = client.get("/employer/offers").get_data(as_text=True)
        pages += [h for h in _links(html) if re.fullmatch(r"/employer/offers/\d+", h)][:1]
    if role == "learner":
        pages += ["/learner/placement"]
    return list(dict.fromkeys(p for p in pages if "logout" not in p))


def _time(client, path: str, repeat: int) -> tuple[list[float], int, int]:
    times, size, status = [], 0, 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - t0)
        size, status = len(response.data), response.status_code
    return times, size, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", type=Path, help="a SQLite file an earlier run of this "
                        "script prepared (seeded, run and published; `flask db upgrade` it "
                        "after schema changes): time it again")
    parser.add_argument("--only", default="", help="time only pages whose path contains this")
    parser.add_argument("--no-freeze", action="store_true",
                        help="do not freeze the process's objects out of the garbage "
                             "collector's sweeps before timing (wsgi.py does)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    uri = os.environ.get("DATABASE_URL") or f"sqlite:///{args.reuse or workdir / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                      "JOB_WORKER": "inline", "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "MAIL_IN_BACKGROUND": False})
    if args.reuse:
        with app.app_context():
            round_id = db.session.scalar(sa.select(AllocationRound.id).where(
                AllocationRound.publications > 0).order_by(AllocationRound.id))
            args.learners = db.session.scalar(sa.text("SELECT count(*) FROM learner"))
    else:
        round_id = _prepare(app, args.learners)
    rows = []
    gc.collect()
    if not args.no_freeze:
        gc.freeze()
    baseline = _time(app.test_client(), "/auth/login", args.repeat)[0]
    for role, email in ROLES.items():
        client = app.test_client()
        client.post("/auth/login", data={"email": email, "password": DEMO_PASSWORD})
        for path in _pages(client, role, round_id):
            if args.only not in path:
                continue
            times, size, status = _time(client, path, args.repeat)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            rows.append((role, path, statistics.median(times), p95, size, status))
    if not rows:
        raise SystemExit(f"no page matches --only {args.only!r}")
    rows.sort(key=lambda r: -r[3])
    print(f"heap {'not frozen' if args.no_freeze else 'frozen'}; "
          f"machine: {platform.machine()} {platform.processor() or ''}, "
          f"{os.cpu_count()} cpus, python {platform.python_version()}; "
          f"database {uri.split(':')[0]}; {args.learners} learners; {args.repeat} requests "
          "per page")
    print(f"baseline /auth/login: p50 {statistics.median(baseline) * 1000:.0f} ms")
    print("| role | page | p50 ms | p95 ms | KB | status | budget |")
    print("|---|---|---:|---:|---:|---:|---|")
    for role, path, p50, p95, size, status in rows:
        mark = "over 1 s" if p95 > CEILING else ("over" if p95 > BUDGET_P95 else "ok")
        print(f"| {role} | `{path}` | {p50 * 1000:.0f} | {p95 * 1000:.0f} | "
              f"{size / 1024:.0f} | {status} | {mark} |")
    over = [r for r in rows if r[3] > BUDGET_P95]
    print(f"{len(rows)} pages; {len(over)} over the p95 budget of "
          f"{BUDGET_P95 * 1000:.0f} ms; worst {rows[0][1]} at {rows[0][3] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
