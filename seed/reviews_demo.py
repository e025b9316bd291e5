"""Demo placement reviews: a short autumn round of Irwell Valley College's cyber security
learners, already allocated and published, so the reviews, supervisors and concerns pages
have something true to show.

Called at the end of `seed.demo.load_demo`; built through the services (hand placements
locked, an allocation run solved in this transaction, publication, supervisors, review
parts, hours, concerns). Dates are relative to today, so there is always a placement in its
last days (its final reviews done, "would host again" on the employer's record), one half
way through (its mid-point review overdue, placement hours waiting for the supervisor) and
one that started recently. The round is dated before the spring round, so the spring round
stays the newest on the officers' list, and the spring round itself is left untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from placements.domain import rounds as round_rules
from placements.domain.access import SupervisorScope
from placements.employers.services import OfferData, create_offer, respond_to_placement
from placements.extensions import db
from placements.hours.calc import QH
from placements.hours.services import EntryData, log_hours, verify_entry
from placements.learners.services import accept_placement
from placements.models import (
    AllocationRound,
    Employer,
    HoursEntry,
    HoursKind,
    Learner,
    Placement,
    PlacementReview,
    Programme,
    RankCost,
    ReviewKind,
    ReviewSide,
    Role,
    User,
)
from placements.reviews.services import (
    PartData,
    SupervisorData,
    assign_concern,
    close_concern,
    current_plan,
    name_supervisor,
    raise_concern,
    submit_part,
)
from placements.rounds.publication import publish_round
from placements.rounds.services import create_round, override_placement
from placements.timeutil import today_uk, utcnow

ROUND_NAME = "Autumn 2026 short placements (Irwell Valley College)"
SUPERVISORS = ["Dana Whitfield", "Marcus Oyelaran", "Helen Kowalski", "Rory Byrne"]


@dataclass(frozen=True)
class DemoOffer:
    """One autumn offer: whose, how long ago it started, how long it lasts."""

    employer_index: int  # among the Digital demo employers, by id (0: the demo login's)
    title: str
    started_days_ago: int
    weeks: int  # 0: it ends in two days


OFFERS = [
    DemoOffer(0, "Software developer (autumn short placement)", 45, 12),
    DemoOffer(0, "Data analyst (autumn short placement)", 20, 10),
    DemoOffer(0, "IT support technician (autumn short placement)", 56, 0),
]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def load_reviews_demo(officer: User, seed: int = 2026, today: date | None = None) -> int:
    """Publish the autumn round and fill in its reviews; return how many placements."""
    if db.session.scalar(sa.select(AllocationRound.id).where(
            AllocationRound.name == ROUND_NAME)) is not None:
        return 0
    today = today or today_uk()
    rng = random.Random(seed + 14)
    officer = db.session.get_one(User, officer.id)  # the caller's may be detached
    programmes = list(db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id, Programme.route == "Digital",
        Programme.placement_mandated.is_(True)).order_by(Programme.id)))
    employers = list(db.session.scalars(sa.select(Employer).where(
        Employer.sector == "Digital", Employer.approved.is_(True)).order_by(Employer.id)))
    if not programmes or not employers:
        return 0
    demo_learner = db.session.scalar(sa.select(Learner).join(User).where(
        User.email.like("learner@%")))
    learners = list(db.session.scalars(sa.select(Learner).join(User).where(
        Learner.programme_id.in_([p.id for p in programmes]),
        Learner.in_work_employer.is_(None), ~User.email.like("learner2@%"))
        .order_by(Learner.id).limit(12)))
    if demo_learner in learners:
        learners.remove(demo_learner)
        learners.insert(0, demo_learner)
    learners = learners[:2 * len(OFFERS)]
    if len(learners) < 2 * len(OFFERS):
        return 0

    offers = []
    for spec in OFFERS:
        employer = employers[spec.employer_index]
        start = _monday(today - timedelta(days=spec.started_days_ago))
        end = start + timedelta(weeks=spec.weeks, days=-3) if spec.weeks \
            else today + timedelta(days=2)
        offers.append(create_offer(None, employer, OfferData(
            site_id=employer.sites[0].id, title=spec.title, sector="Digital", capacity=2,
            start_date=start, end_date=end,
            hours_per_week=30, description=f"{spec.title} with {employer.name}: a short "
                                           "placement in the autumn term, with a named "
                                           "supervisor and three reviews.")))
    round_ = create_round(officer, name=ROUND_NAME, programmes=programmes,
                          preference_deadline=datetime.combine(
                              _monday(today - timedelta(days=80)), time(17), tzinfo=UTC),
                          max_preferences=3, rank_cost=RankCost.SQUARED, fallback=False,
                          time_limit_s=30, open_now=False)
    round_.created_at = datetime(2026, 8, 24, 9, tzinfo=UTC)
    round_rules.ROUND.apply(round_, "open", actor=officer, round_id=round_.id)
    for n, learner in enumerate(learners):
        override_placement(officer, round_, learner, offers[n // 2],
                           reason="Autumn short placement agreed with the learner and the "
                                  "employer", confirmed=True)
    _allocate(officer, round_)
    # Its e-mails carry links built with url_for, as in a request (the CLI has none).
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"] or None):
        publish_round(officer, round_)
    db.session.flush()
    placements = list(db.session.scalars(sa.select(Placement).where(
        Placement.round_id == round_.id).order_by(Placement.id)))
    by_offer = {o.id: [p for p in placements if p.offer_id == o.id] for o in offers}

    for i, p in enumerate(placements):
        accept_placement(p.learner.user, p.learner, p)
        actor = db.session.scalar(sa.select(User).where(
            User.employer_id == p.offer.employer_id, User.role == Role.EMPLOYER)
            .order_by(User.id).limit(1))
        if actor is None:
            continue
        respond_to_placement(actor, p.offer.employer, p, "accepted")
        name = SUPERVISORS[i % len(SUPERVISORS)]
        domain = p.offer.employer.name.lower().replace(" ", "").removesuffix("ltd")
        name_supervisor(actor, p, SupervisorData(
            name=name, email=f"{name.split()[0].lower()}@{domain}.example",
            phone=f"0161 496 {rng.randint(1000, 9999)}"))
    db.session.flush()

    finishing, midway, recent = (by_offer[o.id] for o in (offers[2], offers[0], offers[1]))
    for p in finishing:
        _complete(p, [ReviewKind.START, ReviewKind.MIDPOINT, ReviewKind.FINAL], today, rng)
    for p in midway:
        _complete(p, [ReviewKind.START], today, rng)
        _log_placement_hours(p, today, verified_until=today - timedelta(days=14))
    _complete(recent[0], [ReviewKind.START], today, rng)
    _complete(recent[1], [ReviewKind.START], today, rng, sides=(ReviewSide.SUPERVISOR,))

    # Two concerns waiting and one closed, as officers meet them.
    host = db.session.scalar(sa.select(User).where(
        User.employer_id == midway[1].offer.employer_id, User.role == Role.EMPLOYER)
        .order_by(User.id).limit(1))
    assert host is not None
    raise_concern(host, midway[1], "attendance",
                  "Arrived after 10am three times last week and left early on Friday without "
                  "telling anyone. We have spoken to them; could the college check in too?")
    wellbeing = raise_concern(recent[0].learner.user, recent[0], "wellbeing",
                              "The commute is taking nearly two hours each way since the bus "
                              "timetable changed and I am finding it hard to keep up.")
    assign_concern(officer, wellbeing, officer)
    scope = _scope(finishing[0])
    closed = raise_concern(scope, finishing[0], "health-and-safety",
                           "The learner was asked to move server racks without a second "
                           "person. Nobody was hurt; we have briefed the team again.")
    close_concern(officer, closed, "Spoke to the supervisor and the learner. The employer "
                                   "has added two-person lifting to its induction checklist; "
                                   "nothing further needed.")
    db.session.flush()
    return len(placements)


def _allocate(officer: User, round_: AllocationRound) -> None:
    """Run the round's allocation (the hand placements are locked, so it keeps them) and
    write its result, as the job runner would, inside the seed's own transaction."""
    from placements.jobs.runner import JOB
    from placements.rounds.reports import record_run
    from placements.rounds.services import apply_result, previous_run, start_run
    from placements.rounds.signals import run_solved
    from solver import parse_problem, solve

    run = start_run(officer, round_)
    result = solve(parse_problem(run.problem))
    run_solved.send(run, result=result)  # what other features keep with a run
    counts = apply_result(run, result)
    run.result = result
    kept = record_run(run, result, previous_run(run))
    JOB.apply(run.job, "claim", record=False, values={"started_at": utcnow()})
    JOB.apply(run.job, "succeed", record=False, values={
        "finished_at": utcnow(), "result": {**kept, "written": counts}})
    db.session.flush()


def _scope(placement: Placement) -> SupervisorScope:
    from placements.reviews.services import current_supervisor

    supervisor = current_supervisor(placement)
    assert supervisor is not None
    return SupervisorScope(supervisor_id=supervisor.id, placement_id=placement.id,
                           employer_id=supervisor.employer_id, name=supervisor.name,
                           address="192.0.2.10")


STRENGTHS = ["Picks things up quickly and asks good questions.",
             "Careful, reliable work; documents what they do.",
             "Gets on well with the team and customers."]
DEVELOP = ["Speaking up in stand-ups; estimating how long tasks take.",
           "Testing their own work before handing it over.",
           "Prioritising when several requests arrive at once."]
OBJECTIVES = ("1. Fix three small bugs end to end, with tests.\n2. Shadow a customer call and "
              "write up the actions.\n3. Present what they learned to the team in the last "
              "week.")


def _complete(placement: Placement, kinds: list[ReviewKind], today: date,
              rng: random.Random, sides: tuple[ReviewSide, ...] = (ReviewSide.SUPERVISOR,
                                                                  ReviewSide.LEARNER)) -> None:
    plan = current_plan(placement)
    assert plan is not None
    reviews = {r.kind: r for r in plan.reviews}
    for kind in kinds:
        review: PlacementReview = reviews[kind]
        for side in sides:
            author = _scope(placement) if side == ReviewSide.SUPERVISOR \
                else placement.learner.user
            submit_part(author, review, side, _answers(kind, side, rng), today=today)


def _answers(kind: ReviewKind, side: ReviewSide, rng: random.Random) -> PartData:
    if kind == ReviewKind.START:
        if side == ReviewSide.SUPERVISOR:
            return PartData(induction_done=True, safety_briefing_done=True,
                            objectives=OBJECTIVES, attendance=rng.choice([3, 4]))
        return PartData(induction_done=True, safety_briefing_done=True, supervisor_known=True,
                        comments="Everyone has been welcoming.")
    common: dict[str, Any] = {"attendance": rng.choice([3, 4]), "progress": rng.choice([2, 3, 4]),
              "progress_note": "Two of the three objectives are done; the presentation is "
                               "planned for the last week.",
              "strengths": rng.choice(STRENGTHS), "development": rng.choice(DEVELOP)}
    if kind == ReviewKind.FINAL:
        if side == ReviewSide.SUPERVISOR:
            common.update(recommendation=rng.choice(["ready", "nearly"]),
                          would_host_again=True)
        else:
            common.update(would_recommend=True)
    return PartData(**common)


def _log_placement_hours(placement: Placement, today: date, *, verified_until: date) -> None:
    """Placement hours on the placement's Fridays so far (the demo's timetable keeps Monday
    to Thursday for classroom hours), within the daily maximum beside any live brief logged
    that day; those of the first weeks verified by the employer, the last ones waiting for
    the supervisor."""
    offer = placement.offer
    user = placement.learner.user
    verifier = db.session.scalar(sa.select(User).where(
        User.employer_id == offer.employer_id, User.role == Role.EMPLOYER).limit(1))
    allowance = int(current_app.config["HOURS_MAX_PER_DAY"]) * QH
    day = offer.start_date
    while day < today and day <= offer.end_date:
        logged = db.session.scalar(sa.select(sa.func.sum(HoursEntry.quarter_hours)).where(
            HoursEntry.learner_id == placement.learner_id, HoursEntry.entry_date == day)) or 0
        if day.weekday() == 4 and allowance - logged >= 16:
            entry = log_hours(user, EntryData(entry_date=day,
                                              quarter_hours=min(28, allowance - logged),
                                              kind=HoursKind.PLACEMENT,
                                              note="On site with the team",
                                              placement_id=placement.id), today=today)
            if day <= verified_until and verifier is not None:
                verify_entry(verifier, entry)
        day += timedelta(days=1)
