"""Benchmark compliance at scale: 5,000 employers, 20,000 compliance items.

    .venv/bin/python bench/compliance.py [--db /tmp/compliance-bench.sqlite] [--employers N]
        [--learners N] [--runs 5]

Builds afresh a SQLite database with one provider, six programmes
(one per sector), N employers with one site and two offers each, the learners of a round
with ranked choices, and four compliance items per employer on average (the three built-in
items accepted, most with expiry dates spread over two years, some lapsing before the
placements start, some missing, plus older submissions superseded). It then times, best
of --runs, in the same run:

- the problem build (`rounds.problem.build_problem`) with compliance gating allocation,
  against the same build with the compliance rule switched off (the baseline: what the
  build cost before compliance existed), measured alternately; the build with compliance
  sends fewer offers (those held back), so the rule's own cost is also timed alone;
- the officer's compliance dashboard (`compliance.services.dashboard`: counts by status,
  missing ones included, by expiry month, the items waiting) and the page rendered through
  the Flask test client, against the same with no compliance items at all (baseline).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from placements import create_app  # noqa: E402
from placements.extensions import db  # noqa: E402
from placements.models import (  # noqa: E402
    AllocationRound,
    ComplianceItem,
    Employer,
    EmployerSite,
    Learner,
    OccupationalStandard,
    PlacementOffer,
    Preference,
    Programme,
    Provider,
    ProviderKind,
    Role,
    User,
    round_programmes,
    round_providers,
)

PASSWORD = "bench-password-123"
SECTORS = ["Digital", "Health and science", "Construction", "Engineering and manufacturing",
           "Education and childcare", "Business and administration"]
START = date(2027, 2, 1)


def build(app, employers: int, learners: int) -> dict[str, float]:
    rng = random.Random(2026)
    timings = {}
    with app.app_context():
        from werkzeug.security import generate_password_hash

        from placements.compliance import services

        db.create_all()
        t = time.perf_counter()
        provider = Provider(name="Bench College", kind=ProviderKind.COLLEGE)
        db.session.add(provider)
        programmes = []
        for i, sector in enumerate(SECTORS):
            standard = OccupationalStandard(reference=f"ST{i:04d}", title=sector, level=4,
                                            route=sector)
            programmes.append(Programme(provider=provider, title=f"HTQ {sector}", level=4,
                                        standard=standard, route=sector,
                                        placement_mandated=i % 2 == 0,
                                        required_placement_hours=150 if i % 2 == 0 else None,
                                        planned_total_hours=1200, start_date=date(2026, 9, 1),
                                        end_date=date(2027, 7, 1)))
        officer = User(email="officer@bench.test", name="Bench Officer", role=Role.OFFICER,
                       provider=provider,
                       password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
        db.session.add_all([*programmes, officer])
        db.session.flush()
        types = {t.builtin: t for t in services.ensure_builtin_types()}
        round_ = AllocationRound(name="Bench round", provider_id=provider.id,
                                 preference_deadline=datetime(2027, 1, 15, tzinfo=UTC),
                                 max_preferences=6)
        db.session.add(round_)
        db.session.commit()
        conn = db.session.connection()
        conn.execute(round_providers.insert(), [{"round_id": round_.id,
                                                 "provider_id": provider.id}])
        conn.execute(round_programmes.insert(), [{"round_id": round_.id, "programme_id": p.id}
                                                 for p in programmes])
        now = datetime.now(UTC)
        conn.execute(sa.insert(Employer), [
            {"id": e + 1, "name": f"Employer {e + 1}", "sector": SECTORS[e % 6],
             "region": "North West", "approved": True, "created_at": now}
            for e in range(employers)])
        conn.execute(sa.insert(EmployerSite), [
            {"id": e + 1, "employer_id": e + 1, "name": "Head office", "address": "",
             "postcode": "M1 1AA", "lat": 53.3 + rng.random() * 0.5,
             "lon": -2.6 + rng.random() * 0.6} for e in range(employers)])
        offers = []
        for e in range(employers):
            for k in range(2):
                offers.append({"id": 2 * e + k + 1, "employer_id": e + 1, "site_id": e + 1,
                               "title": f"Offer {k}", "description": "",
                               "sector": SECTORS[e % 6], "capacity": rng.choice([1, 2, 3]),
                               "start_date": START, "end_date": START + timedelta(days=120),
                               "hours_per_week": 30, "requirements": [], "work_mode": "on-site",
                               "status": "open", "created_at": now, "updated_at": now})
        conn.execute(sa.insert(PlacementOffer), offers)
        users = [{"id": 10 + i, "email": f"l{i}@bench.test", "name": f"Learner {i}",
                  "role": "learner", "session_token": f"t{i}", "active": True,
                  "created_at": now} for i in range(learners)]
        conn.execute(sa.insert(User), users)
        conn.execute(sa.insert(Learner), [
            {"id": i + 1, "user_id": 10 + i, "provider_id": provider.id,
             "programme_id": programmes[i % 6].id, "student_ref": f"S{i}",
             "home_postcode": "M1 1AA", "lat": 53.3 + rng.random() * 0.5,
             "lon": -2.6 + rng.random() * 0.6, "max_travel_km": 25, "credentials": [],
             "created_at": now} for i in range(learners)])
        prefs = []
        for i in range(learners):
            sector = i % 6
            chosen = rng.sample(range(sector, employers, 6), 6)
            prefs += [{"round_id": round_.id, "learner_id": i + 1,
                       "offer_id": 2 * e + 1 + rng.randint(0, 1), "rank": r + 1}
                      for r, e in enumerate(chosen)]
        conn.execute(sa.insert(Preference), prefs)
        db.session.commit()
        timings["build_base_s"] = time.perf_counter() - t
        # Compliance items, kept aside (the baseline runs without them).
        items = []
        for e in range(employers):
            eid = e + 1
            for key in ("insurance", "risk-assessment", "safeguarding"):
                t_ = types[key]
                if rng.random() < 0.02:
                    continue  # missing
                expires = None
                if t_.expires:  # about 5% lapse before the placements start
                    expires = date.today() + timedelta(days=rng.randint(
                        -30, 90) if rng.random() < 0.05 else rng.randint(150, 800))
                items.append({"type_id": t_.id, "employer_id": eid,
                              "site_id": eid if t_.per_site else None,
                              "status": "accepted" if rng.random() < 0.97 else "submitted",
                              "issuer": "X", "reference": "R", "contact_name": "",
                              "contact_email": "", "contact_phone": "", "notes": "",
                              "expires_on": expires, "submitted_at": now, "updated_at": now})
            for _ in range(rng.choice([0, 1, 1, 2, 2])):  # older submissions, superseded
                items.append({"type_id": types["insurance"].id, "employer_id": eid,
                              "site_id": None, "status": "superseded", "issuer": "X",
                              "reference": "R0", "contact_name": "", "contact_email": "",
                              "contact_phone": "", "notes": "",
                              "expires_on": date.today() - timedelta(days=rng.randint(1, 400)),
                              "submitted_at": now, "updated_at": now})
        app.config["BENCH_ITEMS"] = items
    return timings


def best_time(fn, runs: int) -> float:
    """The fastest of `runs` timed calls after a warm-up (the machine's two cores are shared
    with other work: the minimum is the least disturbed measure)."""
    fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def interleaved(a, b, runs: int) -> tuple[float, float]:
    """Best times of two variants measured alternately (same machine load for both)."""
    a()
    b()
    ta, tb = [], []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return min(ta), min(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/compliance-bench.sqlite")
    parser.add_argument("--employers", type=int, default=5000)
    parser.add_argument("--learners", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.db)
    if path.exists():
        path.unlink()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "SERVER_NAME": "localhost", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    timings = build(app, args.employers, args.learners)
    import placements.domain.offers as offers_rule
    from placements.compliance import services
    from placements.rounds.problem import build_problem

    results: dict[str, float] = {}
    with app.app_context():
        round_ = db.session.scalar(sa.select(AllocationRound))
        officer = db.session.scalar(sa.select(User).where(User.role == Role.OFFICER))
        client = app.test_client()
        client.post("/auth/login", data={"email": officer.email, "password": PASSWORD})

        def problem() -> None:
            db.session.expire_all()
            build_problem(round_)

        def dashboard() -> None:
            db.session.expire_all()
            services.dashboard(officer)

        def page() -> None:
            assert client.get("/officer/compliance/").status_code == 200

        # Dashboard: the same database without compliance items (a copy made now) and with
        # them, measured alternately.
        import shutil

        empty_path = path.with_name(path.stem + "-empty.sqlite")
        db.session.commit()
        db.engine.dispose()
        shutil.copyfile(path, empty_path)
        empty_app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{empty_path}",
                                "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                                "WTF_CSRF_ENABLED": False, "SERVER_NAME": "localhost",
                                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        db.session.execute(sa.insert(ComplianceItem), app.config["BENCH_ITEMS"])
        db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceItem))
        empty_client = empty_app.test_client()
        with empty_app.app_context():
            empty_client.post("/auth/login", data={"email": officer.email,
                                                   "password": PASSWORD})

        def empty_dashboard() -> None:
            with empty_app.app_context():
                services.dashboard(db.session.get(User, officer.id))

        def empty_page() -> None:
            with empty_app.app_context():
                assert empty_client.get("/officer/compliance/").status_code == 200

        (results["dashboard_with_items_s"],
         results["dashboard_without_items_s"]) = interleaved(dashboard, empty_dashboard,
                                                             args.runs)
        (results["dashboard_page_with_items_s"],
         results["dashboard_page_without_items_s"]) = interleaved(page, empty_page, args.runs)
        # Problem build: with the rule, and with it switched off, measured alternately.
        real = offers_rule.compliant_sql

        def without() -> None:
            offers_rule.compliant_sql = lambda today, provider_ids=None: sa.true()  # type: ignore
            try:
                problem()
            finally:
                offers_rule.compliant_sql = real

        (results["problem_with_compliance_s"],
         results["problem_without_compliance_s"]) = interleaved(problem, without, args.runs)
        open_offers = len(build_problem(round_)["offers"])
        # The added work on its own: the rule's bulk form over every listed offer.
        from placements.domain.compliance import blocked_offer_ids
        from placements.timeutil import today_uk

        rows = db.session.execute(sa.select(PlacementOffer.id, PlacementOffer.employer_id,
                                            PlacementOffer.site_id,
                                            PlacementOffer.start_date)).all()
        results["rule_alone_s"] = best_time(
            lambda: blocked_offer_ids(rows, today=today_uk(), provider_ids=[1]), args.runs)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, python "
          f"{platform.python_version()}, SQLite")
    print(f"employers {args.employers:,}, offers {2 * args.employers:,}, learners "
          f"{args.learners:,}, compliance items {count:,}; offers open to allocation with "
          f"compliance: {open_offers:,}; data built in {timings['build_base_s']:.1f} s")
    print(f"the compliance rule alone (bulk form, {2 * args.employers:,} offers): "
          f"{results['rule_alone_s'] * 1000:.1f} ms")
    for key in ("problem", "dashboard", "dashboard_page"):
        without = results[f"{key}_without_{'compliance' if key == 'problem' else 'items'}_s"]
        with_ = results[f"{key}_with_{'compliance' if key == 'problem' else 'items'}_s"]
        print(f"{key:15s} without {without * 1000:8.1f} ms   with {with_ * 1000:8.1f} ms   "
              f"{(with_ / without - 1) * 100:+.1f}%")


if __name__ == "__main__":
    main()
