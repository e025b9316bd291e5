"""Benchmark the hours programme dashboard: 50,000 learners, 5 million hours entries, half of
the learners with a scheduled placement.

    .venv/bin/python bench/hours_dashboard.py [--db /tmp/hours-bench.sqlite] [--learners N]
        [--per-learner K] [--runs 5] [--rebuild]

Builds (once; reused unless --rebuild) a SQLite database with one programme of N learners
and K entries each (80% classroom on weekdays, 20% work-integrated, a few pending), bulk
inserted with executemany, then the running totals with `rebuild_totals`. It then times,
median of --runs:

- the dashboard queries (`services.board`: status and share band of every learner
  evaluated in SQL over the per-learner running totals, grouped; totals by kind and the
  monthly trend from the programme-month totals) plus the first page of 50 learners;
- the full programme page, rendered through the Flask test client as a signed-in officer;
- the provider overview page;
- baselines in the same run: the same per-learner aggregate summed straight from the
  entries (with the (learner_id, kind, status) index), and the naive one-query-per-learner
  approach on a sample of learners, extrapolated to all of them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from placements import create_app  # noqa: E402
from placements.extensions import db  # noqa: E402
from placements.hours import services  # noqa: E402
from placements.models import (  # noqa: E402
    AllocationRound,
    Employer,
    EmployerSite,
    HoursEntry,
    HoursKind,
    Learner,
    OccupationalStandard,
    Placement,
    PlacementOffer,
    Programme,
    Provider,
    ProviderKind,
    Role,
    User,
)

PASSWORD = "bench-password-123"
START = date(2026, 9, 1)
TODAY = date(2026, 12, 22)  # the 80 classroom weekdays run from START to here
WI_KINDS = [HoursKind.PLACEMENT.value, HoursKind.LIVE_BRIEF.value, HoursKind.SIMULATED.value,
            HoursKind.IN_WORK.value]


def build(app, learners: int, per_learner: int) -> dict[str, float]:
    """Create the schema and bulk-insert the learners and their entries."""
    timings = {}
    with app.app_context():
        db.create_all()
        from werkzeug.security import generate_password_hash

        standard = OccupationalStandard(reference="ST0116", title="Software developer",
                                        level=4, route="Digital")
        provider = Provider(name="Bench College", kind=ProviderKind.COLLEGE)
        programme = Programme(provider=provider, title="HTQ Bench", code="BENCH", level=4,
                              standard=standard, route="Digital", placement_mandated=False,
                              planned_total_hours=1200,
                              start_date=START, end_date=date(2027, 7, 1))
        officer = User(email="officer@bench.test", name="Bench Officer", role=Role.OFFICER,
                       provider=provider,
                       password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
        db.session.add_all([standard, provider, programme, officer])
        db.session.commit()
        t = time.perf_counter()
        now = datetime.now(UTC)
        users = [{"email": f"l{i:06d}@bench.test", "name": f"Learner {i:06d}",
                  "role": Role.LEARNER, "created_at": now} for i in range(learners)]
        for start in range(0, learners, 10_000):
            db.session.execute(sa.insert(User), users[start:start + 10_000])
        user_ids = db.session.scalars(sa.select(User.id).where(
            User.role == Role.LEARNER).order_by(User.id)).all()
        rows = [{"user_id": uid, "provider_id": provider.id, "programme_id": programme.id,
                 "student_ref": f"S{i:06d}", "home_postcode": "M1 1AA", "lat": 53.48,
                 "lon": -2.24, "created_at": now} for i, uid in enumerate(user_ids)]
        for start in range(0, learners, 10_000):
            db.session.execute(sa.insert(Learner), rows[start:start + 10_000])
        db.session.commit()
        learner_ids = np.array(db.session.scalars(sa.select(Learner.id).order_by(
            Learner.id)).all(), dtype=np.int64)
        officer_id = officer.id
        timings["learners_s"] = time.perf_counter() - t
        # Every other learner attends a placement (published or accepted, 1 February to
        # 28 May 2027 at 30 hours a week): the schedule counted in the status.
        t = time.perf_counter()
        employer = Employer(name="Bench Employer", sector="Digital", region="North West",
                            approved=True)
        site = EmployerSite(employer=employer, name="HQ", postcode="M1 1AA", lat=53.48,
                            lon=-2.24)
        offer = PlacementOffer(employer=employer, site=site, title="Bench placement",
                               sector="Digital", capacity=learners, start_date=date(2027, 2, 1),
                               end_date=date(2027, 5, 28), hours_per_week=30)
        round_ = AllocationRound(name="Bench round", provider=provider,
                                 preference_deadline=datetime(2026, 10, 1, tzinfo=UTC))
        db.session.add_all([employer, site, offer, round_])
        db.session.flush()
        placements = [{"round_id": round_.id, "learner_id": int(lid), "offer_id": offer.id,
                       "status": "accepted" if i % 4 == 0 else "published",
                       "source": "solver", "employer_response": "pending",
                       "created_at": now, "updated_at": now}
                      for i, lid in enumerate(learner_ids.tolist()) if i % 2 == 0]
        for start in range(0, len(placements), 10_000):
            db.session.execute(sa.insert(Placement), placements[start:start + 10_000])
        db.session.commit()
        timings["placements_s"] = time.perf_counter() - t
        db.session.remove()
        db.engine.dispose()

    # Entries: raw DBAPI executemany (no ORM), indexes dropped during the load.
    t = time.perf_counter()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    indexes = [r for r in con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='hours_entry' "
        "AND sql IS NOT NULL")]
    for name, _ in indexes:
        con.execute(f"DROP INDEX {name}")
    rng = np.random.default_rng(2026)
    n_classroom = per_learner * 4 // 5
    n_wi = per_learner - n_classroom
    # Weekday dates from the start until TODAY.
    days = [START + timedelta(days=d) for d in range((TODAY - START).days)]
    weekdays = [d.isoformat() for d in days if d.weekday() < 5]
    fridays = [d.isoformat() for d in days if d.weekday() == 4]
    stamp = "2026-12-01 12:00:00.000000"
    verified_stamp = stamp
    sql = ("INSERT INTO hours_entry (learner_id, entry_date, quarter_hours, kind, note, "
           "placement_id, status, verified_by_id, verified_at, reject_reason, source, "
           "created_by_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
    pace = rng.uniform(0.3, 1.0, len(learner_ids))
    batch = []
    for li, learner_id in enumerate(learner_ids.tolist()):
        for d in range(min(n_classroom, len(weekdays))):
            batch.append((learner_id, weekdays[d], 24, "classroom", "", None, "verified",
                          officer_id, verified_stamp, None, "import", officer_id, stamp))
        wi_qh = int(12 + 20 * pace[li])
        for d in range(min(n_wi, len(weekdays))):
            kind = WI_KINDS[(li + d) % 4] if d < len(fridays) else "live-brief"
            pending = d >= n_wi - 2
            batch.append((learner_id, weekdays[d], wi_qh, kind, "", None,
                          "pending" if pending else "verified",
                          None if pending else officer_id,
                          None if pending else verified_stamp, None, "learner", None, stamp))
        if len(batch) >= 200_000:
            con.executemany(sql, batch)
            batch = []
    if batch:
        con.executemany(sql, batch)
    con.commit()
    timings["entries_insert_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for _, ddl in indexes:
        con.execute(ddl)
    con.commit()
    timings["entries_index_s"] = time.perf_counter() - t
    con.execute("ANALYZE")
    con.close()
    with app.app_context():
        t = time.perf_counter()
        services.rebuild_totals()
        db.session.commit()
        timings["rebuild_totals_s"] = time.perf_counter() - t
    return timings


def median_ms(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/hours-bench.sqlite")
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--per-learner", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=500,
                        help="learners timed in the naive per-learner baseline")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    if args.rebuild and os.path.exists(args.db):
        os.remove(args.db)
    fresh = not os.path.exists(args.db)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.db}",
                      "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench", "TESTING": True})
    build_times = build(app, args.learners, args.per_learner) if fresh else {}
    services.today_uk = lambda: TODAY  # type: ignore[assignment]

    with app.app_context():
        entries = db.session.scalar(sa.select(sa.func.count()).select_from(HoursEntry))
        learners = db.session.scalar(sa.select(sa.func.count()).select_from(Learner))
        programme = db.session.scalar(sa.select(Programme).where(Programme.code == "BENCH"))
        programme_id = programme.id
        print(f"{learners:,} learners, {entries:,} entries; build: "
              + ", ".join(f"{k} {v:.1f}" for k, v in build_times.items()))

        def aggregate():
            board = services.board([programme], TODAY)
            assert board.learner_count == learners
            rows = services.learner_rows(programme, TODAY, limit=50)
            services.learners_by_id(r.learner_id for r in rows)
            return board

        agg_ms, agg_all = median_ms(aggregate, args.runs)
        board = aggregate()
        print(f"statuses: at risk {board.status_count(0):,}, on track "
              f"{board.status_count(1):,}, met {board.status_count(2):,}")

        # Baseline 1: the same per-learner sums straight from the entries.
        e = HoursEntry.__table__
        lt = Learner.__table__
        sums = [sa.func.sum(sa.case(((e.c.kind == k) & (e.c.status == s), e.c.quarter_hours),
                                    else_=0))
                for s in ("verified", "pending") for k in HoursKind]
        raw = (sa.select(lt.c.id, lt.c.programme_id, *sums)
               .select_from(lt.outerjoin(e, e.c.learner_id == lt.c.id))
               .where(lt.c.programme_id == programme_id).group_by(lt.c.id, lt.c.programme_id))
        base_runs = max(1, min(3, args.runs))
        raw_ms, raw_all = median_ms(lambda: db.session.execute(raw).all(), base_runs)

        # Baseline 2: one query per learner (sampled, extrapolated).
        ids = db.session.scalars(sa.select(Learner.id).limit(args.sample)).all()
        one = sa.select(e.c.kind, e.c.status, sa.func.sum(e.c.quarter_hours)).where(
            e.c.learner_id == sa.bindparam("lid")).group_by(e.c.kind, e.c.status)

        def naive():
            for lid in ids:
                db.session.execute(one, {"lid": lid}).all()

        naive_sample_ms, _ = median_ms(naive, base_runs)
        naive_ms = naive_sample_ms * learners / len(ids)

    client = app.test_client()
    client.post("/auth/login", data={"email": "officer@bench.test", "password": PASSWORD})
    url = f"/hours/officer/programmes/{programme_id}"
    assert client.get(url).status_code == 200  # warm the template cache

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    page_ms, page_all = median_ms(page, args.runs)
    overview_ms, _ = median_ms(lambda: client.get("/hours/officer"), args.runs)
    attention_ms, attention_all = median_ms(
        lambda: client.get("/hours/officer/attention"), args.runs)

    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name")), cpu)
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")
    print(f"dashboard queries (counts, bands, kinds, months, first page): median {agg_ms:.0f} ms "
          f"{[round(x) for x in agg_all]}")
    print(f"programme page, full render: median {page_ms:.0f} ms "
          f"{[round(x) for x in page_all]}")
    print(f"provider overview page: median {overview_ms:.0f} ms")
    print(f"needs attention page (every learner at risk found, reasons for the first 50): "
          f"median {attention_ms:.0f} ms {[round(x) for x in attention_all]}")
    print(f"baseline, same aggregate from the entries: median {raw_ms:.0f} ms "
          f"{[round(x) for x in raw_all]} (x{raw_ms / agg_ms:.1f} the aggregate)")
    print(f"baseline, one query per learner: {naive_sample_ms:.0f} ms for {len(ids)} "
          f"learners, ~{naive_ms:.0f} ms for all (x{naive_ms / agg_ms:.0f} the aggregate)")


if __name__ == "__main__":
    main()
