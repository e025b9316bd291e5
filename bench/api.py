"""Benchmark: the JSON API on a 50,000-learner demo database.

- upsert: ``POST /api/v1/learners`` with 10,000 new learners in one request (checked like the
  learners import, written, each invited), then the same 10,000 again (nothing changes);
  baseline in the same run: the same rows as a CSV file through the import pipeline
  (``check_upload`` + the import job, inline).
- sync: a full placement sync of the round with every learner placed (50,000 placements), in
  pages of 1,000 (``GET /api/v1/placements?round_id=...&limit=1000`` until ``has_more`` is
  false); baseline: the round's CSV export rows (``placements_csv_rows``), one query.

Requests go through the app in process (Flask's test client: the app's work, not the
network's). Each is repeated (default 3) and the median reported.

    .venv/bin/flask --app wsgi db upgrade                       # into a separate file:
    PLACEMENTS_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/bench_api50k.sqlite \\
        .venv/bin/flask --app wsgi seed demo --learners 50000 --quiet
    PLACEMENTS_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/bench_api50k.sqlite \\
        .venv/bin/python bench/api.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

UPSERT_ROWS = 10_000
PAGE = 1000


def _records(prefix: str, code: str, n: int) -> list[dict]:
    postcodes = ["M1 1AA", "M14 5AB", "OL1 1AA", "SK1 3AA", "BL1 1AA", "WN1 1AA"]
    return [{"student_ref": f"{prefix}{i:06d}", "name": f"Bench Learner {prefix}{i}",
             "email": f"{prefix.lower()}{i}@bench.example", "programme_code": code,
             "home_postcode": postcodes[i % len(postcodes)], "max_travel_km": 20 + i % 30,
             "credentials": ["dbs"] if i % 3 == 0 else []} for i in range(n)]


def _csv(records: list[dict]) -> bytes:
    buf = io.StringIO()
    buf.write("student_ref,name,email,programme_code,home_postcode,max_travel_km,credentials\n")
    for r in records:
        buf.write(f"{r['student_ref']},{r['name']},{r['email']},{r['programme_code']},"
                  f"{r['home_postcode']},{r['max_travel_km']},{';'.join(r['credentials'])}\n")
    return buf.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from placements import create_app
    from placements.api.keys import create_key
    from placements.extensions import db
    from placements.imports import pipeline
    from placements.imports import services as import_services
    from placements.jobs import submit
    from placements.models import (
        AllocationRound,
        Learner,
        Placement,
        PlacementOffer,
        PlacementStatus,
        Programme,
        Role,
        User,
        round_programmes,
    )
    from placements.rounds.services import placements_csv_rows

    app = create_app({"JOB_WORKER": "inline", "RATELIMIT_ENABLED": False,
                      "API_MAX_BODY_BYTES": 20_000_000, "IMPORT_MAX_BYTES": 20_000_000,
                      "MAIL_BACKEND": "outbox"})
    client = app.test_client()
    with app.app_context():
        round_ = db.session.scalar(sa.select(AllocationRound).order_by(AllocationRound.id))
        officer = db.session.scalar(sa.select(User).where(
            User.provider_id == round_.provider_id, User.role == Role.OFFICER))
        code = db.session.scalar(sa.select(Programme.code).where(
            Programme.provider_id == officer.provider_id).order_by(Programme.id))
        token = create_key(officer, provider_id=officer.provider_id, name="bench",
                           scopes=["read", "write:learners"], days=30).token
        db.session.commit()
        learners_before = db.session.scalar(sa.select(sa.func.count(Learner.id)))

        # --- a placement for every learner of the round (fast: one bulk insert) -----------
        learner_ids = db.session.scalars(sa.select(Learner.id).where(Learner.programme_id.in_(
            sa.select(round_programmes.c.programme_id).where(
                round_programmes.c.round_id == round_.id))).order_by(Learner.id)).all()
        offer_ids = db.session.scalars(sa.select(PlacementOffer.id)).all()
        db.session.execute(sa.delete(Placement).where(Placement.round_id == round_.id))
        now = datetime.now(UTC)
        statuses = [PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED,
                    PlacementStatus.DECLINED]
        db.session.execute(sa.insert(Placement), [
            {"round_id": round_.id, "learner_id": lid, "offer_id": offer_ids[i % len(offer_ids)],
             "status": statuses[i % 3], "rank": 1 + i % 5, "distance_m": 1000 + i % 20000,
             "source": "solver", "published_at": now,
             "created_at": now, "updated_at": now - timedelta(seconds=len(learner_ids) - i)}
            for i, lid in enumerate(learner_ids)])
        db.session.commit()
        placements = len(learner_ids)

        headers = {"Authorization": f"Bearer {token}"}
        times: dict[str, list[float]] = {k: [] for k in (
            "upsert_new", "upsert_same", "csv_new", "sync", "sync_page", "export")}
        for rep in range(args.repeat):
            records = _records(f"B{rep}", code, UPSERT_ROWS)
            t = time.perf_counter()
            response = client.post("/api/v1/learners", json={"learners": records},
                                   headers=headers)
            times["upsert_new"].append(time.perf_counter() - t)
            print(f"  upsert new: {times['upsert_new'][-1]:.1f} s", file=sys.stderr, flush=True)
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["created"] == UPSERT_ROWS
            t = time.perf_counter()
            response = client.post("/api/v1/learners", json={"learners": records},
                                   headers=headers)
            times["upsert_same"].append(time.perf_counter() - t)
            assert response.get_json()["unchanged"] == UPSERT_ROWS

            csv_records = _records(f"C{rep}", code, UPSERT_ROWS)
            t = time.perf_counter()
            kind = pipeline.KINDS["learners"]
            checked = import_services.check_upload(officer, kind, _csv(csv_records))
            assert not checked.errors, checked.errors[:3]
            job = import_services.queue_import(officer, kind, "bench.csv", checked)
            db.session.commit()
            submit(job.id, mode="inline")
            times["csv_new"].append(time.perf_counter() - t)
            print(f"  csv new: {times['csv_new'][-1]:.1f} s", file=sys.stderr, flush=True)

            t = time.perf_counter()
            cursor, seen, pages = None, 0, []
            while True:
                p = time.perf_counter()
                query = {"round_id": round_.id, "limit": PAGE, **({"cursor": cursor}
                                                                   if cursor else {})}
                page = client.get("/api/v1/placements", query_string=query,
                                  headers=headers).get_json()
                pages.append(time.perf_counter() - p)
                seen += len(page["data"])
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
            times["sync"].append(time.perf_counter() - t)
            print(f"  sync: {times['sync'][-1]:.1f} s", file=sys.stderr, flush=True)
            times["sync_page"].append(statistics.median(pages))
            assert seen == placements, (seen, placements)

            db.session.expire_all()
            t = time.perf_counter()
            rows = placements_csv_rows(db.session.get(AllocationRound, round_.id))
            times["export"].append(time.perf_counter() - t)
            assert len(rows) == placements

        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"machine: {platform.machine()}, {platform.python_implementation()} "
              f"{platform.python_version()}, {app.config['SQLALCHEMY_DATABASE_URI']}")
        print(f"date: {datetime.now(UTC).date().isoformat()}; repeats: {args.repeat}; "
              f"learners before: {learners_before}; round placements: {placements}")
        print(f"upsert 10,000 new learners (API, one request):     {med['upsert_new']:.2f} s")
        print(f"upsert the same 10,000 again (nothing changes):   {med['upsert_same']:.2f} s")
        print(f"baseline: 10,000 new learners as CSV (pipeline):  {med['csv_new']:.2f} s")
        print(f"sync {placements:,} placements, pages of {PAGE}:       {med['sync']:.2f} s "
              f"(median page {med['sync_page'] * 1000:.0f} ms)")
        print(f"baseline: the round's CSV export rows:           {med['export']:.2f} s")


if __name__ == "__main__":
    main()
