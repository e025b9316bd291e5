"""Demo data: a Greater Manchester partnership, built through the app's services.

Everything is generated from a fixed random seed, so two runs give the same data, and
`load_demo` does nothing when the demo partnership is already there (idempotent).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from placements.employers.services import OfferData, add_site, create_offer
from placements.extensions import db
from placements.geo import District, districts, haversine_km, haversine_km_array, locate
from placements.ksb.catalogue import load_bundled
from placements.learners.services import save_preferences
from placements.models import (
    AllocationRound,
    Employer,
    Learner,
    OccupationalStandard,
    Partnership,
    PlacementOffer,
    Preference,
    Programme,
    Provider,
    ProviderKind,
    RankCost,
    Role,
    User,
)
from placements.officers.services import NewLearner, create_learners
from placements.reference import standard_rows
from placements.rounds.services import create_round

PARTNERSHIP = "Greater Manchester Institute of Technology (demo)"
DEMO_PASSWORD = "placements-demo"
DEMO_DOMAIN = "demo.placements.test"

#: The three demo providers of the partnership (fictional names).
PROVIDERS = [
    ("Irwell Valley College", ProviderKind.COLLEGE),
    ("Medlock University", ProviderKind.UNIVERSITY),
    ("Tameside and Pennine College", ProviderKind.COLLEGE),
]

#: (provider index, code, title, standard, mandated, required hours, planned hours)
PROGRAMMES = [
    (0, "HTQ-SWD", "HTQ Software Development", "ST0116", False, None, 1200),
    (0, "HTQ-CYB", "HTQ Cyber Security", "ST0124", True, 150, 1200),
    (1, "HTQ-DAT", "HTQ Data Analytics", "ST0118", False, None, 1200),
    (1, "HTQ-NUR", "HTQ Healthcare Assistant Practitioner", "ST0215", True, 300, 1500),
    (1, "HTQ-AUT", "HTQ Automation and Controls Engineering", "ST0662", True, 200, 1200),
    (2, "HTQ-CON", "HTQ Construction Design and Build", "ST0043", True, 180, 1200),
    (2, "HTQ-LST", "HTQ Learning and Skills (Education)", "ST0149", True, 150, 1200),
    (2, "HTQ-PM", "HTQ Associate Project Management", "ST0310", False, None, 1000),
]

#: Fictional employer names per sector, and the kinds of placement each sector offers.
SECTOR_EMPLOYERS = {
    "Digital": (
        ["Irwell Code", "Northern Byte", "Ancoats Data", "Salford Cloud", "Pennine Cyber",
         "MediaCity Apps", "Deansgate Digital", "Hulme Software", "Chorlton Networks"],
        ["Software developer", "Data analyst", "Cyber security analyst",
         "IT support technician"]),
    "Health and science": (
        ["Stockport Care", "Oldham Community Health", "Wigan Clinics",
         "Bolton Health Partners", "Trafford Diagnostics", "Salford Royal Labs",
         "Tameside Care Homes"],
        ["Assistant practitioner", "Healthcare support", "Lab technician"]),
    "Engineering and manufacturing": (
        ["Trafford Automation", "Rochdale Engineering", "Bury Precision", "Ashton Controls",
         "Manchester Robotics", "Heywood Plastics", "Denton Aerospace"],
        ["Controls technician", "Maintenance engineer", "Manufacturing technician"]),
    "Construction": (
        ["Salford Build", "Altrincham Civils", "Leigh Construction", "Stretford Surveying",
         "Moss Side Developments", "Swinton Homes"],
        ["Site technician", "Design technician", "Quantity surveying assistant"]),
    "Education and childcare": (
        ["Wythenshawe Learning Trust", "Eccles Academy", "Middleton Skills Centre",
         "Hyde Training", "Prestwich Nursery Group", "Urmston Primary Trust"],
        ["Teaching assistant", "Trainer assessor"]),
    "Business and administration": (
        ["Spinningfields Consulting", "Northern Projects", "Sale Business Services",
         "Cheadle Operations", "Didsbury Finance"],
        ["Project support officer", "Business administrator"]),
}
REGION_AREAS = ("M", "BL", "OL", "SK", "WN")


@dataclass
class DemoReport:
    """What a seed run did."""

    created: bool
    providers: int = 0
    programmes: int = 0
    employers: int = 0
    offers: int = 0
    learners: int = 0
    preferences: int = 0


def demo_logins() -> list[tuple[str, str, str]]:
    """Return (role, e-mail, password) for the ready-made demo accounts."""
    return [
        ("admin", f"admin@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("officer", f"officer@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("officer (second provider)", f"officer2@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("employer", f"employer@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("employer awaiting approval", f"newemployer@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("employer not approved", f"rejected@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("employer whose insurance lapses", f"employer2@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("learner (placement mandated)", f"learner@{DEMO_DOMAIN}", DEMO_PASSWORD),
        ("learner (no mandated placement)", f"learner2@{DEMO_DOMAIN}", DEMO_PASSWORD),
    ]


def load_standards() -> int:
    """Load or refresh the occupational standards from the bundled CSV; return how many."""
    existing = {s.reference: s for s in db.session.scalars(sa.select(OccupationalStandard))}
    for row in standard_rows():
        standard = existing.get(row["reference"]) or OccupationalStandard(
            reference=row["reference"])
        standard.title = row["title"]
        standard.level = int(row["level"])
        standard.route = row["route"]
        standard.pathway = row["pathway"]
        standard.overview = row["overview"]
        months = row["typical_duration_months"]
        standard.typical_duration_months = int(months) if months.isdigit() else None
        db.session.add(standard)
    db.session.flush()
    return len(standard_rows())


def _districts(large: bool) -> list[District]:
    """Postcode districts to place people in: Greater Manchester, or the North West."""
    chosen = []
    for d in districts().values():
        area = "".join(c for c in d.district if c.isalpha())
        if d.region == "North West" and (large or area in REGION_AREAS):
            chosen.append(d)
    return sorted(chosen, key=lambda d: d.district)


def _postcode(rng: random.Random, district: District) -> str:
    return f"{district.district} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
           f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def load_demo(learners: int = 300, seed: int = 2026,
              progress: Callable[[str, int], None] | None = None) -> DemoReport:
    """Create the demo partnership (idempotent); scale learners and offers with `learners`."""
    if db.session.scalar(sa.select(Partnership.id).where(Partnership.name == PARTNERSHIP)):
        return DemoReport(created=False)
    tick = progress or (lambda _stage, _n: None)
    rng = random.Random(seed)
    report = DemoReport(created=True)
    load_standards()
    load_bundled()
    standards = {s.reference: s for s in db.session.scalars(sa.select(OccupationalStandard))}
    password_hash = generate_password_hash(DEMO_PASSWORD)
    large = learners > 1000
    places = _districts(large)
    centre = next(d for d in districts().values() if d.district == "M1")

    def account(email: str, name: str, role: Role, **kw) -> User:
        user = User(email=email, name=name, role=role, password_hash=password_hash, **kw)
        db.session.add(user)
        return user

    partnership = Partnership(name=PARTNERSHIP, region="North West")
    providers = [Provider(name=name, kind=kind, partnership=partnership)
                 for name, kind in PROVIDERS]
    db.session.add_all([partnership, *providers])
    db.session.flush()
    report.providers = len(providers)
    account(f"admin@{DEMO_DOMAIN}", "Alex Admin", Role.ADMIN)
    officer = account(f"officer@{DEMO_DOMAIN}", "Priya Officer", Role.OFFICER,
                      provider=providers[0])
    officers = [officer,
                account(f"officer2@{DEMO_DOMAIN}", "Sam Officer", Role.OFFICER,
                        provider=providers[1]),
                account(f"officer3@{DEMO_DOMAIN}", "Jo Officer", Role.OFFICER,
                        provider=providers[2])]
    db.session.flush()

    programmes: list[Programme] = []
    for idx, code, title, ref, mandated, hours, planned in PROGRAMMES:
        standard = standards[ref]
        programme = Programme(provider=providers[idx], code=code, title=title,
                              level=standard.level, standard=standard, route=standard.route,
                              placement_mandated=mandated, required_placement_hours=hours,
                              planned_total_hours=planned, work_integration_target_pct=20,
                              start_date=date(2026, 9, 14), end_date=date(2027, 7, 2))
        db.session.add(programme)
        programmes.append(programme)
    db.session.flush()
    report.programmes = len(programmes)

    # Employers and offers: about 0.45 places per learner overall, tight in some sectors.
    scale = max(1.0, learners / 300)
    offers_by_sector: dict[str, list] = {}
    employer_count = 0
    tightness = {"Digital": 0.7, "Health and science": 1.0, "Construction": 0.8,
                 "Engineering and manufacturing": 1.2, "Education and childcare": 1.3,
                 "Business and administration": 0.9}
    for sector, (names, roles) in SECTOR_EMPLOYERS.items():
        copies = max(1, round(scale * len(names) / len(names)))
        for copy in range(copies):
            for name in names:
                employer_count += 1
                district = rng.choice(places)
                label = name if copy == 0 else f"{name} {copy + 1}"
                employer = Employer(name=f"{label} Ltd", sector=sector, region=district.region,
                                    contact_email=f"placements@{label.lower().replace(' ', '')}"
                                                  f".example", approved=True)
                db.session.add(employer)
                db.session.flush()
                site = add_site(None, employer, name="Head office",
                                address=f"{rng.randint(1, 200)} {district.town.split(',')[0]} "
                                        f"Road", located=locate(_postcode(rng, district)))
                for _ in range(max(1, round(3.3 * tightness[sector] * rng.uniform(0.6, 1.4)))):
                    role = rng.choice(roles)
                    requires = ("dbs",) if sector in ("Health and science",
                                                      "Education and childcare") else ()
                    if sector == "Construction" and rng.random() < 0.3:
                        requires = ("cscs",)
                    offer = create_offer(None, employer, OfferData(
                        site_id=site.id, title=role, sector=sector,
                        capacity=rng.choice([1, 1, 2, 2, 3, 4]),
                        start_date=date(2027, 2, 1), end_date=date(2027, 5, 28),
                        hours_per_week=rng.choice([14, 21, 30, 37]),
                        description=f"{role} placement with {employer.name}: real projects, "
                                    f"a named supervisor and a weekly review.",
                        requirements=requires,
                        work_mode=rng.choice(["on-site", "on-site", "hybrid"])))
                    offers_by_sector.setdefault(sector, []).append(offer)
                    report.offers += 1
                if employer_count == 1:
                    account(f"employer@{DEMO_DOMAIN}", "Erin Employer", Role.EMPLOYER,
                            employer=employer)
            tick("employers", employer_count)
    report.employers = employer_count
    pending = Employer(name="Ordsall Newcomers Ltd", sector="Digital", region="North West",
                       approved=False, contact_email=f"newemployer@{DEMO_DOMAIN}")
    db.session.add(pending)
    account(f"newemployer@{DEMO_DOMAIN}", "Nia Newcomer", Role.EMPLOYER, employer=pending)
    db.session.flush()
    _rejected_employer(officer, account)
    # Compliance items before learners choose: an offer held back by its employer's
    # compliance cannot be chosen (see seed.compliance_demo).
    from seed.compliance_demo import finish_compliance_demo, load_compliance_demo

    load_compliance_demo(officer, seed=seed, password_hash=password_hash)
    from placements.domain.offers import open_offers_stmt

    choosable = set(db.session.scalars(open_offers_stmt().with_only_columns(PlacementOffer.id)))
    offers_by_sector = {sector: [o for o in offers if o.id in choosable]
                        for sector, offers in offers_by_sector.items()}

    deadline = datetime(2027, 1, 15, 17, 0, tzinfo=UTC)
    round_ = create_round(officer, name="Spring 2027 placements (GM pooled)",
                          programmes=programmes, preference_deadline=deadline,
                          max_preferences=6, rank_cost=RankCost.SQUARED, fallback=True,
                          time_limit_s=60, providers=providers)

    _make_learners(rng, learners, programmes, officers, places, offers_by_sector, round_,
                   password_hash, report, tick, centre)
    from seed.hours_demo import load_hours_demo

    load_hours_demo(seed=seed)
    from seed.engagement_demo import load_engagement_demo

    load_engagement_demo(officer, seed=seed)
    from seed.ksb_demo import load_ksb_demo

    load_ksb_demo(seed=seed)
    from seed.reviews_demo import load_reviews_demo

    load_reviews_demo(officer, seed=seed)
    finish_compliance_demo(officer, seed=seed)
    return report


def _rejected_employer(officer: User, account) -> None:
    """An employer an officer did not approve, with the reason it was e-mailed."""
    from placements.domain import employers as employer_rules

    rejected = Employer(name="Stretford Quick Staffing Ltd", sector="Business and administration",
                        region="North West", contact_email=f"rejected@{DEMO_DOMAIN}")
    db.session.add(rejected)
    user = account(f"rejected@{DEMO_DOMAIN}", "Rory Rejected", Role.EMPLOYER, employer=rejected)
    db.session.flush()
    add_site(user, rejected, name="Office", address="Stretford", located=locate("M32 0AA"))
    employer_rules.reject(officer, rejected, "We place learners with the employer that will "
                          "supervise them, not with an agency. Tell us which organisation "
                          "the learners would work for, and who would supervise them there.")


def _make_learners(rng, count, programmes, officers, places, offers_by_sector, round_,
                   password_hash, report, tick, centre) -> None:
    """Add learners through the officer service, then their ranked preferences."""
    by_provider = {o.provider_id: o for o in officers}
    offer_points = {
        sector: (np.array([o.id for o in offers]), np.array([o.site.lat for o in offers]),
                 np.array([o.site.lon for o in offers]),
                 [frozenset(o.requirements) for o in offers])
        for sector, offers in offers_by_sector.items()}
    weights = [1.0 + 3.0 * (haversine_km(d.lat, d.lon, centre.lat, centre.lon) < 8)
               for d in places]
    batch = 500
    pref_rows: list[dict] = []
    for first in range(0, count, batch):
        # Describe a batch of learners, create them with one flush per provider.
        pending: dict[int, list[tuple[int, NewLearner]]] = {}
        for i in range(first, min(first + batch, count)):
            programme = programmes[i % len(programmes)]
            district = rng.choices(places, weights=weights)[0]
            sector = programme.route
            credentials = []
            if sector in ("Health and science", "Education and childcare") and \
                    rng.random() < 0.75:
                credentials.append("dbs")
            if sector == "Construction" and rng.random() < 0.5:
                credentials.append("cscs")
            if rng.random() < 0.35:
                credentials.append("driving_licence")
            email = (f"learner@{DEMO_DOMAIN}" if i == 1 else f"learner2@{DEMO_DOMAIN}"
                     if i == 0 else f"learner{i:05d}@{DEMO_DOMAIN}")
            pending.setdefault(programme.provider_id, []).append((i, NewLearner(
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", email=email,
                student_ref=f"S{i + 1:06d}", programme_id=programme.id,
                home=locate(_postcode(rng, district)),
                max_travel_km=rng.choice([10, 15, 20, 25, 30, 40]),
                credentials=tuple(credentials),
                in_work_employer=("Apprentice employer Ltd" if rng.random() < 0.05 else None),
                first_in_family_he=rng.choice([True, False, None]),
                age_band=rng.choice(["18-20", "18-20", "21-24", "25-29", "30-39", "40+",
                                     None]),
                prior_qualification=rng.choice(["A levels", "BTEC / T level", "Access to HE",
                                                "Apprenticeship", None]),
                disability_declared=rng.choice([True, False, False, False, None]))))
        created: list[tuple[int, Learner]] = []
        for provider_id, items in pending.items():
            learners = create_learners(by_provider[provider_id], [d for _, d in items],
                                       invite=False)
            created.extend(zip([i for i, _ in items], learners, strict=True))
        for i, learner in sorted(created, key=lambda pair: pair[0]):
            if i < 2:
                learner.user.password_hash = password_hash
            # The two demo logins always have a list to look at.
            ranked = _choose_offers(rng, learner, offer_points[learner.programme.route],
                                    round_.max_preferences, minimum=4 if i < 2 else 0)
            if i < 2 or count <= 1000:
                if ranked:
                    save_preferences(None, learner, round_, ranked,
                                     now=datetime(2026, 11, 1, tzinfo=UTC))
            else:
                pref_rows.extend({"round_id": round_.id, "learner_id": learner.id,
                                  "offer_id": offer_id, "rank": rank}
                                 for rank, offer_id in enumerate(ranked, start=1))
            report.learners += 1
            report.preferences += len(ranked)
        if pref_rows:
            db.session.execute(sa.insert(Preference), pref_rows)
            pref_rows = []
        db.session.flush()
        db.session.expunge_all()
        round_ = db.session.get(AllocationRound, round_.id)
        programmes = [db.session.get(Programme, p.id) for p in programmes]
        officers = [db.session.get(User, o.id) for o in officers]
        by_provider = {o.provider_id: o for o in officers}
        tick("learners", report.learners)
    if pref_rows:
        db.session.execute(sa.insert(Preference), pref_rows)
    db.session.flush()
    tick("learners", count)


def _choose_offers(rng: random.Random, learner: Learner, points, k: int,
                   minimum: int = 0) -> list[int]:
    """Pick a learner's ranked offers (at least `minimum`): mostly nearby, some popular."""
    ids, lat, lon, eligible = points
    if len(ids) == 0:
        return []
    km = haversine_km_array(learner.lat, learner.lon, lat, lon)
    held = set(learner.credentials)
    penalty = np.array([0.0 if req <= held else 30.0 for req in eligible])
    noise = np.array([rng.uniform(0, 12) for _ in range(len(ids))])
    score = km + penalty + noise + (ids % 7)
    n = rng.choice([0, 2, 3, 4, 5, 6, 6, 6]) if learner.id % 23 else 0
    n = min(max(n, minimum), k, len(ids))
    if n == 0:
        return []
    best = np.argpartition(score, n - 1)[:n]
    best = best[np.argsort(score[best])]
    return [int(ids[i]) for i in best]


def demo_summary() -> dict[str, int]:
    """Count the rows of the main tables (used to prove a second run changes nothing)."""
    models = [Partnership, Provider, Programme, Employer, Learner, User, Preference,
              AllocationRound, OccupationalStandard]
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0
            for m in models}


FIRST = ["Aisha", "Ben", "Chloe", "Daniel", "Ella", "Farhan", "Grace", "Harry", "Imran", "Jade",
         "Kacper", "Leah", "Mohammed", "Niamh", "Oliver", "Priya", "Quinn", "Ruby", "Samir",
         "Tia", "Usman", "Victoria", "Wiktoria", "Xavier", "Yusuf", "Zara"]
LAST = ["Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fletcher", "Green", "Hussain", "Iqbal",
        "Jones", "Khan", "Lewis", "Murphy", "Nowak", "O'Brien", "Patel", "Quayle", "Roberts",
        "Smith", "Taylor", "Uddin", "Walsh", "Wright", "Young"]
