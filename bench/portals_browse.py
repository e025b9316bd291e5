"""Time the learner's offer list (browse_offers) and the ranking save at sector scale.

Builds a throwaway SQLite database with one approved employer per offer site spread over
North West postcode districts, N offers in the Digital sector, and one learner; then times
(median of --repeat runs):

- baseline: the first version, which loaded every visible offer of the sector as an ORM
  object (with site and employer) and then computed distances;
- search_offers + offer_views: distances over plain columns, ORM objects for one page (25);
- the GET /learner/offers page (25 per page) through the Flask test client;
- a POST that moves one offer in a ranked list of K=10 (re-validated, delete + insert).

    .venv/bin/python -P bench/portals_browse.py --offers 3000 --repeat 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from placements import create_app
from placements.extensions import db
from placements.geo import districts
from placements.learners.services import (
    browse_offers,
    offer_view,
    offer_views,
    search_offers,
    visible_offers_stmt,
)
from placements.models import (
    AllocationRound,
    Employer,
    EmployerSite,
    Learner,
    OccupationalStandard,
    PlacementOffer,
    Programme,
    Provider,
    ProviderKind,
    Role,
    User,
)


def build(n_offers: int, seed: int = 7) -> None:
    """Create the bench data: n_offers Digital offers and one learner in a round."""
    rng = random.Random(seed)
    places = [d for d in districts().values() if d.region == "North West"]
    standard = OccupationalStandard(reference="ST0116", title="Software developer", level=4,
                                    route="Digital")
    provider = Provider(name="Bench College", kind=ProviderKind.COLLEGE)
    programme = Programme(provider=provider, title="HTQ Software", level=4, standard=standard,
                          route="Digital", planned_total_hours=1200,
                          start_date=date(2026, 9, 1), end_date=date(2027, 7, 1))
    db.session.add_all([standard, provider, programme])
    per_employer = 3
    for i in range(0, n_offers, per_employer):
        d = rng.choice(places)
        employer = Employer(name=f"Bench employer {i}", sector="Digital", region=d.region,
                            approved=True)
        site = EmployerSite(employer=employer, name="Office", postcode=f"{d.district} 1AA",
                            lat=d.lat, lon=d.lon)
        db.session.add_all([employer, site])
        for j in range(min(per_employer, n_offers - i)):
            db.session.add(PlacementOffer(
                employer=employer, site=site, title=f"Offer {i + j}", sector="Digital",
                capacity=rng.randint(1, 4), start_date=date(2027, 2, 1),
                end_date=date(2027, 5, 1), hours_per_week=rng.choice([14, 21, 30, 37]),
                requirements=rng.choice([[], [], ["dbs"], ["driving_licence"]])))
    home = next(d for d in places if d.district == "M1")
    user = User(email="bench@example.test", name="Bench Learner", role=Role.LEARNER,
                password_hash=generate_password_hash("bench-password", "pbkdf2:sha256:1000"))
    learner = Learner(user=user, provider=provider, programme=programme, student_ref="B1",
                      home_postcode="M1 1AA", lat=home.lat, lon=home.lon, max_travel_km=25)
    round_ = AllocationRound(name="Bench", provider=provider, programmes=[programme],
                             preference_deadline=datetime.now(UTC) + timedelta(days=30),
                             max_preferences=10)
    db.session.add_all([user, learner, round_])
    db.session.commit()


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, nargs="+", default=[500, 3000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| offers in sector | baseline: all as ORM (ms) | columns + 25 ORM (ms) | speed-up | "
          "GET /learner/offers (ms) | POST move in list of 10 (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.offers:
        base, full, page, move = run_one(n, args.repeat)
        print(f"| {n} | {base * 1000:.0f} | {full * 1000:.0f} | {base / full:.1f}x | "
              f"{page * 1000:.0f} | {move * 1000:.0f} |")


def run_one(n: int, repeat: int) -> tuple[float, float, float, float]:
    """Build a database with n offers and time the four operations."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'b.sqlite'}",
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            build(n)
            learner_id = db.session.scalar(sa.select(Learner.id))
            round_id = db.session.scalar(sa.select(AllocationRound.id))

            def baseline() -> None:
                db.session.expunge_all()
                learner = db.session.get(Learner, learner_id)
                views = [offer_view(learner, o) for o in db.session.scalars(
                    visible_offers_stmt().where(PlacementOffer.sector == "Digital").options(
                        sa.orm.joinedload(PlacementOffer.site),
                        sa.orm.joinedload(PlacementOffer.employer))).unique()]
                views.sort(key=lambda v: (v.km, v.offer.title, v.offer.id))

            def paged() -> None:
                db.session.expunge_all()
                hits = search_offers(db.session.get(Learner, learner_id))
                offer_views(hits[:25])

            base = median_time(baseline, repeat)
            full = median_time(paged, repeat)
            ids = [v.offer.id for v in browse_offers(db.session.get(Learner, learner_id))[:10]]
        client = app.test_client()
        client.post("/auth/login", data={"email": "bench@example.test",
                                         "password": "bench-password"})
        url = f"/learner/rounds/{round_id}/choices"
        client.post(url, data={"order": [str(i) for i in ids]})
        page = median_time(lambda: client.get("/learner/offers"), repeat)
        move = median_time(lambda: client.post(url, data={"move": f"down:{ids[0]}"}), repeat)
        with app.app_context():
            db.engine.dispose()
    return base, full, page, move

if __name__ == "__main__":
    main()
