"""Demo KSB data: offers that say what they develop, a mapped programme, learners' evidence.

- Offers of the Digital, Health and science and Business and administration sectors get
  the occupational standard their role suits and a description of what the learner does;
  the KSBs the suggestion engine ranks highest for that description are confirmed, as an
  employer would (except the demo employer's own offers, left for the demo employer to do).
- HTQ Software Development (ST0116, Irwell Valley College) gets four taught modules, a
  placement and a live employer brief, each with learning outcomes or planned activities
  and the KSBs confirmed from the engine's best suggestions; one module keeps suggestions
  still to decide.
- Learners of that programme tag some of their work-integrated hours with KSBs and a short
  reflection: confirmed on verified hours, waiting on pending ones.

Deterministic (a fixed random seed and the engine's fixed ranking) and idempotent (does
nothing once any module exists).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import sqlalchemy as sa

from placements.extensions import db
from placements.ksb import catalogue, engine
from placements.models import (
    Delivery,
    Employer,
    EvidenceStatus,
    HoursEntry,
    HoursStatus,
    Ksb,
    KsbEvidence,
    KsbEvidenceItem,
    Learner,
    LinkStatus,
    ModuleKsb,
    OccupationalStandard,
    OfferKsb,
    PlacementOffer,
    Programme,
    ProgrammeModule,
    Role,
    User,
    offer_standards,
)

#: Offer title -> (standard, what the learner does there).
ROLES: dict[str, tuple[str, str]] = {
    "Software developer": ("ST0116", (
        "Join our product team to build and test features of our booking web application. "
        "You will write code in Python and JavaScript, write unit tests and fix the bugs they "
        "find, use Git with pull requests and code review, take part in daily stand-ups and "
        "sprint planning, and deploy changes through our continuous integration pipeline, "
        "with a senior developer as your supervisor.")),
    "Data analyst": ("ST0118", (
        "Clean and join data from our customer and sales systems, write SQL queries, build "
        "dashboards and reports, check the quality of the data and present your findings to "
        "managers at a weekly review, following our data protection rules.")),
    "Cyber security analyst": ("ST1021", (
        "Monitor security alerts with our operations team, help run vulnerability scans and "
        "patching, review who has access to which systems, write up incidents and help "
        "colleagues understand the security risks of their work.")),
    "IT support technician": ("ST0949", (
        "Answer users' support tickets, diagnose and fix problems with our business "
        "applications, record fixes in the knowledge base, communicate with users about "
        "progress and escalate incidents through our service management process.")),
    "Assistant practitioner": ("ST0215", (
        "Work alongside registered nurses on a ward: take and record patients' observations, "
        "support personal care, communicate with patients and their families, follow "
        "infection prevention and safeguarding procedures, and hand over to the team at the "
        "end of each shift.")),
    "Healthcare support": ("ST0215", (
        "Support patients in our community clinic: help with assessments and care plans, "
        "record observations accurately, promote health and wellbeing, work within the "
        "limits of your role and escalate concerns to the registered practitioner.")),
    "Lab technician": ("ST0220", (
        "Prepare and process samples in our pathology laboratory, run quality control "
        "checks, look after equipment and keep accurate records, and follow health and "
        "safety procedures.")),
    "Project support officer": ("ST0310", (
        "Support our project managers: keep the project plan and the risk and issue logs up "
        "to date, arrange meetings and follow up actions, track the budget, and report "
        "progress to stakeholders.")),
}

#: HTQ Software Development's modules: (code, title, delivery, outcomes, confirm, keep).
#: `confirm`: how many of the best suggestions are confirmed; `keep`: how many more stay
#: as suggestions to decide.
MODULES = [
    ("SWD401", "Programming foundations", Delivery.MODULE, (
        "Design, write and debug programs in a high-level language using variables, control "
        "structures, functions and data structures. Apply object-oriented principles. Write "
        "logical and maintainable code that follows coding standards."), 4, 0),
    ("SWD402", "Databases and data", Delivery.MODULE, (
        "Design a relational database, normalise its tables and write SQL queries to store "
        "and retrieve data. Explain how organisations keep data secure and comply with data "
        "protection law."), 3, 0),
    ("SWD403", "Software testing and quality", Delivery.MODULE, (
        "Plan and write unit and integration tests, analyse the results and correct the "
        "errors found. Explain testing frameworks and methodologies and how quality is "
        "assured throughout the software development lifecycle."), 3, 0),
    ("SWD404", "Software development lifecycle and methods", Delivery.MODULE, (
        "Compare software development methodologies such as agile, scrum and waterfall, and "
        "explain the stages of the software development lifecycle. Interpret and follow "
        "requirements and user stories. Explain how teams use version control."), 3, 3),
    ("SWD-PL", "Work placement", Delivery.PLACEMENT, (
        "Work in an employer's development team for ten weeks: build and deploy features, "
        "test code and fix the errors found, follow the team's approach to continuous "
        "integration and version control, communicate with colleagues and stakeholders, "
        "take part in stand-ups and reviews, and reflect on your own practice with your "
        "supervisor."), 7, 0),
    ("SWD-LB", "Live employer brief", Delivery.LIVE_BRIEF, (
        "Work in a team on a brief set by a local employer: gather the user's requirements, "
        "design a solution with user interface and data, develop it iteratively with the "
        "client, and present it to the employer, taking responsibility for your part of the "
        "work."), 5, 0),
]
MIN_SCORE = 0.25


def _suggested(items: list[tuple[str, str]], top: int) -> list[list[engine.Suggestion]]:
    return engine.suggest_many(items, top) if items else []


def _ids(reference: str) -> dict[str, int]:
    return dict(db.session.execute(
        sa.select(Ksb.code, Ksb.id).join(OccupationalStandard,
                                         OccupationalStandard.id == Ksb.standard_id)
        .where(OccupationalStandard.reference == reference)).all())


def load_ksb_demo(seed: int = 2026, max_offers: int = 240, max_learners: int = 300) -> int:
    """Add the demo's KSB mapping, offers' KSBs and evidence; return how many links."""
    if db.session.scalar(sa.select(ProgrammeModule.id).limit(1)) is not None:
        return 0
    programme = db.session.scalar(sa.select(Programme).where(Programme.code == "HTQ-SWD"))
    if programme is None or catalogue.version_of(programme.standard_id) is None:
        return 0
    rng = random.Random(seed)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    links = _offers(max_offers, now)
    links += _modules(programme, now)
    _evidence(programme, rng, max_learners)
    db.session.flush()
    return links


def _offers(max_offers: int, now: datetime) -> int:
    standards = {s.reference: s.id for s in db.session.scalars(sa.select(OccupationalStandard))}
    demo_employer = db.session.scalar(
        sa.select(User.employer_id).where(User.role == Role.EMPLOYER,
                                          User.email.like("employer@%")))
    offers = db.session.execute(
        sa.select(PlacementOffer.id, PlacementOffer.title, PlacementOffer.employer_id,
                  Employer.name)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(PlacementOffer.title.in_(list(ROLES))).order_by(PlacementOffer.id)).all()
    rows: list[dict[str, int]] = []
    pairs: list[int] = []
    items: list[tuple[str, str]] = []
    for offer_id, title, employer_id, employer_name in offers:
        reference, text = ROLES[title]
        if reference not in standards:
            continue
        db.session.execute(sa.update(PlacementOffer).where(PlacementOffer.id == offer_id)
                           .values(description=f"{title} placement with {employer_name}. "
                                               f"{text}"))
        rows.append({"offer_id": offer_id, "standard_id": standards[reference]})
        if employer_id != demo_employer and len(items) < max_offers:
            pairs.append(offer_id)
            items.append((reference, f"{title}. {text}"))
    if rows:
        db.session.execute(sa.insert(offer_standards), rows)
    codes = {ref: _ids(ref) for ref in {ref for ref, _ in items}}
    links: list[dict[str, object]] = []
    for offer_id, (reference, _), suggestions in zip(pairs, items, _suggested(items, 8),
                                                     strict=True):
        for s in suggestions:
            if s.score >= MIN_SCORE:
                links.append({"offer_id": offer_id, "ksb_id": codes[reference][s.code],
                              "status": LinkStatus.CONFIRMED.value, "score": round(s.score, 4),
                              "matched": list(s.matched), "created_at": now,
                              "decided_at": now})
    if links:
        db.session.execute(sa.insert(OfferKsb), links)
    return len(links)


def _modules(programme: Programme, now: datetime) -> int:
    officer_id = db.session.scalar(sa.select(User.id).where(
        User.role == Role.OFFICER, User.provider_id == programme.provider_id).order_by(User.id))
    reference = programme.standard.reference
    codes = _ids(reference)
    suggestions = _suggested([(reference, m[3]) for m in MODULES], 10)
    count = 0
    for (code, title, delivery, outcomes, confirm, keep), ranked in zip(MODULES, suggestions,
                                                                         strict=True):
        module = ProgrammeModule(programme_id=programme.id, code=code, title=title,
                                 delivery=delivery, outcomes=outcomes, created_at=now,
                                 updated_at=now)
        db.session.add(module)
        db.session.flush()
        for i, s in enumerate(ranked[:confirm + keep]):
            decided = i < confirm
            db.session.add(ModuleKsb(
                module_id=module.id, ksb_id=codes[s.code],
                status=LinkStatus.CONFIRMED if decided else LinkStatus.SUGGESTED,
                score=round(s.score, 4), matched=list(s.matched), created_at=now,
                decided_by_id=officer_id if decided else None,
                decided_at=now if decided else None))
            count += 1
    db.session.flush()
    return count


REFLECTIONS = [
    "I wrote unit tests for the booking form and fixed two bugs they found before the "
    "release.",
    "I paired with another developer on a new API endpoint, opened a pull request and "
    "answered the review comments.",
    "I presented our prototype to the client, took notes of their feedback and turned it "
    "into user stories with the team.",
    "I set up the project in Git, used branches for my changes and merged them after "
    "review.",
    "I took part in the sprint retrospective and agreed with my supervisor what to learn "
    "next.",
]


def _evidence(programme: Programme, rng: random.Random, max_learners: int) -> None:
    from placements.domain import ksb as rules

    modules = list(db.session.scalars(sa.select(ProgrammeModule).where(
        ProgrammeModule.programme_id == programme.id)))
    expected = sorted(rules.expected_of(modules))
    if not expected:
        return
    officer = db.session.scalar(sa.select(User).where(
        User.role == Role.OFFICER, User.provider_id == programme.provider_id).order_by(User.id))
    officer_id, officer_name = (officer.id, officer.name) if officer else (None, "")
    learners = list(db.session.scalars(sa.select(Learner.id).where(
        Learner.programme_id == programme.id).order_by(Learner.id).limit(max_learners)))
    for position, learner_id in enumerate(learners):
        if position and rng.random() < 0.3:
            continue  # some learners have tagged nothing yet
        entries = db.session.execute(
            sa.select(HoursEntry.id, HoursEntry.status, HoursEntry.verified_at)
            .where(HoursEntry.learner_id == learner_id, HoursEntry.kind != "classroom",
                   HoursEntry.status != HoursStatus.REJECTED)
            .order_by(HoursEntry.entry_date.desc()).limit(6)).all()
        for entry_id, status, verified_at in entries:
            if rng.random() < 0.4:
                continue
            evidence = KsbEvidence(hours_entry_id=entry_id, learner_id=learner_id,
                                   reflection=rng.choice(REFLECTIONS), version=1)
            db.session.add(evidence)
            db.session.flush()
            for ksb_id in rng.sample(expected, k=min(len(expected), rng.randint(1, 3))):
                confirmed = status == HoursStatus.VERIFIED
                db.session.add(KsbEvidenceItem(
                    evidence_id=evidence.id, ksb_id=ksb_id,
                    status=EvidenceStatus.CONFIRMED if confirmed else EvidenceStatus.CLAIMED,
                    decided_by_id=officer_id if confirmed else None,
                    decided_by_name=officer_name if confirmed else "",
                    decided_at=verified_at if confirmed else None))
        db.session.flush()
