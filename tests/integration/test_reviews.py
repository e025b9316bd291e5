"""Placement reviews, supervisors without accounts and concerns: services and pages.

Review plans are made on publication; each side submits its part once; a supervisor acts
through a signed, single-purpose, expiring link scoped to one placement (hours through the
hours service), refused when replayed, expired, revoked, for another placement or another
task; concerns reach the officers at once and are seen only by whom they should be.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placements.domain import DomainError, access
from placements.domain import reviews as rules
from placements.extensions import db
from placements.hours import services as hours_services
from placements.models import (
    AuditEvent,
    Concern,
    ConcernStatus,
    HoursEntry,
    HoursKind,
    HoursStatus,
    OutboxMessage,
    Placement,
    PlacementReview,
    PlacementStatus,
    ReviewKind,
    ReviewPart,
    ReviewPlan,
    ReviewSide,
    ReviewStatus,
    Role,
    SupervisorLink,
)
from placements.reviews import services
from tests.conftest import make_user

TODAY = date(2026, 11, 20)
START, END = date(2026, 10, 5), date(2027, 1, 29)
SUP, LRN = ReviewSide.SUPERVISOR, ReviewSide.LEARNER


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr(services, "today_uk", lambda: TODAY)
    monkeypatch.setattr(hours_services, "today_uk", lambda: TODAY)


@pytest.fixture
def care(world):
    """Learner 1 (College One) at Acme Digital, learner 2 (University Two) at Beta Care, both
    published and running; their review plans made."""
    for offer in (world["o1"], world["o2"]):
        offer.start_date, offer.end_date = START, END
    p1 = Placement(round=world["round"], learner=world["l1"], offer=world["o1"],
                   status=PlacementStatus.PUBLISHED)
    p2 = Placement(round=world["round"], learner=world["l2"], offer=world["o2"],
                   status=PlacementStatus.ACCEPTED)
    db.session.add_all([p1, p2])
    db.session.flush()
    services.schedule_reviews([p1.id, p2.id])
    db.session.commit()
    return {**world, "pl1": p1, "pl2": p2}


def review(placement: Placement, kind: ReviewKind) -> PlacementReview:
    return db.session.scalar(sa.select(PlacementReview).join(ReviewPlan).where(
        ReviewPlan.placement_id == placement.id, ReviewPlan.offer_id == placement.offer_id,
        PlacementReview.kind == kind))


def name_supervisor(client, auth, placement, email="sam@acme.example", name="Sam Super"):
    auth.login("emp1@example.test")
    response = client.post(f"/reviews/employer/placements/{placement.id}/supervisor",
                           data={"name": name, "email": email, "phone": "0161 496 0000"})
    auth.logout()
    return response


def links_in_mail(address: str) -> dict[str, str]:
    """The links of the latest e-mail to an address: "hours" and each review's kind."""
    message = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == address).order_by(OutboxMessage.id.desc()).limit(1))
    assert message is not None, f"no e-mail to {address}"
    found = {}
    for line in message.body.splitlines():
        match = re.search(r"/reviews/supervise/(\S+)", line)
        if not match:
            continue
        path = "/reviews/supervise/" + match.group(1)
        for kind in ReviewKind:
            if line.startswith(f"- {kind.label}"):
                found[kind.value] = path
                break
        else:
            found["hours"] = path
    return found


def pending_entry(placement: Placement, day: date = date(2026, 11, 13)) -> HoursEntry:
    entry = hours_services.log_hours(placement.learner.user, hours_services.EntryData(
        entry_date=day, quarter_hours=28, kind=HoursKind.PLACEMENT,
        placement_id=placement.id), today=TODAY)
    db.session.commit()
    return entry


MIDPOINT_ANSWERS = {"attendance": "4", "progress": "3", "progress_note": "Two of three done",
                    "strengths": "Careful", "development": "Estimating"}


# --- schedule -------------------------------------------------------------------------------

def test_schedule_rule():
    due = rules.schedule(date(2026, 10, 5), date(2027, 1, 29))
    assert due == {ReviewKind.START: date(2026, 10, 11), ReviewKind.MIDPOINT: date(2026, 12, 2),
                   ReviewKind.FINAL: date(2027, 1, 29)}
    short = rules.schedule(date(2027, 3, 1), date(2027, 3, 3))
    assert short[ReviewKind.START] == short[ReviewKind.MIDPOINT] == date(2027, 3, 3)
    with pytest.raises(ValueError, match="end before"):
        rules.schedule(date(2027, 3, 3), date(2027, 3, 1))
    assert rules.opens_on(ReviewKind.MIDPOINT, date(2026, 12, 2)) == date(2026, 11, 18)


def test_lifecycle_tables():
    assert rules.verb_for(SUP, ReviewStatus.SCHEDULED) == "supervisor_submits"
    assert rules.verb_for(SUP, ReviewStatus.LEARNER_DONE) == "supervisor_completes"
    assert rules.verb_for(LRN, ReviewStatus.SUPERVISOR_DONE) == "learner_completes"
    for side, status in ((SUP, ReviewStatus.SUPERVISOR_DONE), (LRN, ReviewStatus.COMPLETE),
                         (SUP, ReviewStatus.WAIVED)):
        with pytest.raises(DomainError):
            rules.verb_for(side, status)
    assert rules.CONCERN.verbs(ConcernStatus.OPEN) == ["take", "close"]
    assert rules.CONCERN.verbs(ConcernStatus.CLOSED) == ["reopen"]
    assert rules.review_words(ReviewStatus.SCHEDULED, False) == "Not open yet"
    assert rules.review_words(ReviewStatus.SCHEDULED, True) == "Waiting for both parts"
    assert rules.review_words(ReviewStatus.COMPLETE, False) == "Complete"


def test_publishing_makes_review_plans(app, world):
    """The publish path gives each placement it publishes a plan due on its offer's dates."""
    from placements.jobs import execute
    from placements.models import Preference
    from placements.rounds.publication import publish_round
    from placements.rounds.services import start_run

    round_ = world["round"]
    world["o1"].start_date, world["o1"].end_date = START, END
    db.session.add(Preference(round=round_, learner=world["l1"], offer=world["o1"], rank=1))
    db.session.commit()
    run = start_run(world["officer1"], round_)
    db.session.commit()
    execute(app, run.job_id)
    round_.preference_deadline = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(ReviewPlan.id))) == 0
    publish_round(world["officer1"], round_)
    db.session.commit()
    plan = db.session.scalar(sa.select(ReviewPlan).where(
        ReviewPlan.learner_id == world["l1"].id))
    assert (plan.employer_id, plan.offer_id) == (world["e1"].id, world["o1"].id)
    assert {r.kind: r.due_date for r in plan.reviews} == rules.schedule(START, END)
    assert all(r.status == ReviewStatus.SCHEDULED for r in plan.reviews)
    plans = db.session.scalar(sa.select(sa.func.count(ReviewPlan.id)))
    # Making plans again changes nothing.
    assert services.schedule_reviews().plans == 0
    assert db.session.scalar(sa.select(sa.func.count(PlacementReview.id))) == 3 * plans


def test_due_dates_follow_the_offer_unless_set_by_hand(care):
    p1 = care["pl1"]
    mid, final = review(p1, ReviewKind.MIDPOINT), review(p1, ReviewKind.FINAL)
    services.set_due_date(care["officer1"], mid, date(2026, 12, 9), today=TODAY)
    care["o1"].end_date = date(2027, 2, 26)
    db.session.commit()
    report = services.schedule_reviews()
    db.session.commit()
    assert report.moved >= 1
    assert review(p1, ReviewKind.FINAL).due_date == date(2027, 2, 26)
    assert review(p1, ReviewKind.MIDPOINT).due_date == date(2026, 12, 9)  # set by hand
    assert final.id == review(p1, ReviewKind.FINAL).id


def test_a_moved_placement_gets_a_new_plan_and_the_old_one_stops(care):
    p1 = care["pl1"]
    from placements.models import PlacementOffer

    other = PlacementOffer(employer=care["e1"], site=care["s1"], title="Tester",
                           sector="Digital", capacity=1, start_date=START, end_date=END,
                           hours_per_week=30)
    db.session.add(other)
    db.session.flush()
    old_plan = services.current_plan(p1)
    p1.offer_id = other.id
    db.session.commit()
    assert not rules.plan_is_live(old_plan)
    assert services.schedule_reviews([p1.id]).plans == 1
    db.session.commit()
    assert services.current_plan(p1).offer_id == other.id
    assert [p.id for p in services.earlier_plans(p1)] == [old_plan.id]


# --- rules in Python and SQL agree ----------------------------------------------------------

def test_overdue_and_live_sql_agree_with_python(care):
    p1, p2 = care["pl1"], care["pl2"]
    review(p1, ReviewKind.START).status = ReviewStatus.COMPLETE
    p2.status = PlacementStatus.DECLINED
    db.session.commit()
    reviews = db.session.scalars(sa.select(PlacementReview)).all()
    for today in (date(2026, 10, 1), TODAY, date(2027, 3, 1)):
        sql = set(db.session.scalars(sa.select(PlacementReview.id).where(
            rules.overdue_sql(today))))
        assert sql == {r.id for r in reviews if rules.is_overdue(r.status, r.due_date, today)}
    live = set(db.session.scalars(sa.select(ReviewPlan.id).join(
        Placement, Placement.id == ReviewPlan.placement_id).where(rules.plan_live_sql())))
    plans = db.session.scalars(sa.select(ReviewPlan)).all()
    assert live == {p.id for p in plans if rules.plan_is_live(p)} == {
        services.current_plan(p1).id}
    for side in (SUP, LRN):
        waiting = set(db.session.scalars(sa.select(PlacementReview.id).where(
            rules.awaits_sql(side))))
        assert waiting == {r.id for r in reviews if rules.awaits(r.status, side)}


def test_concern_scoping_sql_agrees_with_python(care):
    p1 = care["pl1"]
    colleague = make_user("emp1b@example.test", Role.EMPLOYER, employer=care["e1"])
    db.session.commit()
    scope = access.SupervisorScope(supervisor_id=0, placement_id=p1.id,
                                   employer_id=care["e1"].id)
    raised = [
        services.raise_concern(care["emp1"], p1, "attendance", "Late"),
        services.raise_concern(care["emp1"], p1, "safeguarding", "Worried"),
        services.raise_concern(care["l1"].user, p1, "wellbeing", "Tired"),
        services.raise_concern(care["officer1"], p1, "conduct", "Phoned in"),
        services.raise_concern(care["l2"].user, care["pl2"], "health-and-safety", "Spill"),
    ]
    db.session.commit()
    del scope
    concerns = db.session.scalars(sa.select(Concern)).all()
    for user in (care["emp1"], colleague, care["emp2"]):
        sql = set(db.session.scalars(sa.select(Concern.id).where(
            access.employer_concerns_sql(user))))
        assert sql == {c.id for c in concerns if access.employer_sees_concern(user, c)}
    # A colleague shares the organisation's attendance concern, not its safeguarding one.
    assert {c.category.value for c in concerns if access.employer_sees_concern(colleague, c)
            } == {"attendance"}
    for learner in (care["l1"], care["l2"]):
        sql = set(db.session.scalars(sa.select(Concern.id).where(
            access.learner_concerns_sql(learner))))
        assert sql == {c.id for c in concerns if access.learner_sees_concern(learner, c)}
        assert len(sql) == 1
    for officer in (care["officer1"], care["officer2"]):
        sql = set(db.session.scalars(sa.select(Concern.id).where(
            access.officer_concerns_sql(officer))))
        assert sql == {c.id for c in concerns if access.officer_sees_concern(officer, c)}
    assert len(raised) == 5


# --- parts of a review ----------------------------------------------------------------------

def test_learner_and_employer_complete_a_review(client, auth, care):
    mid = review(care["pl1"], ReviewKind.MIDPOINT)
    auth.login("learner1@example.test")
    page = client.get(f"/reviews/learner/reviews/{mid.id}")
    assert page.status_code == 200
    assert b"Your progress on the agreed objectives" in page.data
    response = client.post(f"/reviews/learner/reviews/{mid.id}", data=MIDPOINT_ANSWERS)
    assert response.status_code == 303
    db.session.expire_all()
    assert review(care["pl1"], ReviewKind.MIDPOINT).status == ReviewStatus.LEARNER_DONE
    # The learner cannot read the supervisor's part before it exists, nor submit twice.
    again = client.post(f"/reviews/learner/reviews/{mid.id}", data=MIDPOINT_ANSWERS)
    assert again.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 1
    auth.logout()
    auth.login("emp1@example.test")
    page = client.get(f"/reviews/employer/reviews/{mid.id}")
    assert b"Two of three done" not in page.data  # the learner's answers wait for theirs
    response = client.post(f"/reviews/employer/reviews/{mid.id}", data=MIDPOINT_ANSWERS)
    assert response.status_code == 303
    db.session.expire_all()
    done = review(care["pl1"], ReviewKind.MIDPOINT)
    assert done.status == ReviewStatus.COMPLETE
    assert done.completed_at is not None
    page = client.get(f"/reviews/employer/reviews/{mid.id}")
    assert b"The learner&#39;s part" in page.data
    assert b"Two of three done" in page.data
    events = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "PlacementReview")).all()
    assert events == ["review.learner_part_submitted", "review.completed"]


@pytest.mark.parametrize(("data", "message"), [
    ({**MIDPOINT_ANSWERS, "attendance": ""}, b"Choose a rating for attendance and punctuality"),
    ({**MIDPOINT_ANSWERS, "attendance": "7"}, b"Choose a rating for attendance and punctuality"),
    ({**MIDPOINT_ANSWERS, "strengths": "   "}, b"Describe the learner&#39;s strengths"),
    ({**MIDPOINT_ANSWERS, "development": "x" * 5001}, b"Write at most 5,000 characters"),
])
def test_bad_review_input_saves_nothing(client, auth, care, data, message):
    mid = review(care["pl1"], ReviewKind.MIDPOINT)
    auth.login("emp1@example.test")
    response = client.post(f"/reviews/employer/reviews/{mid.id}", data=data)
    assert response.status_code == 400
    assert message in response.data
    assert b"Careful" in response.data or data["strengths"].strip() == ""  # kept in the form
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 0
    db.session.expire_all()
    assert review(care["pl1"], ReviewKind.MIDPOINT).status == ReviewStatus.SCHEDULED


def test_start_check_in_records_the_objectives(care):
    start = review(care["pl1"], ReviewKind.START)
    with pytest.raises(DomainError, match="objectives"):
        services.submit_part(care["emp1"], start, SUP, services.PartData(
            induction_done=True, safety_briefing_done=True, attendance=3), today=TODAY)
    services.submit_part(care["emp1"], start, SUP, services.PartData(
        induction_done=True, safety_briefing_done=False, attendance=3,
        objectives="Ship one feature", strengths="ignored: not asked"), today=TODAY)
    db.session.commit()
    plan = services.current_plan(care["pl1"])
    assert plan.objectives == "Ship one feature"
    part = start.part(SUP)
    assert part.safety_briefing_done is False
    assert part.strengths == ""


def test_reviews_open_on_time_and_close_with_the_placement(care):
    final = review(care["pl1"], ReviewKind.FINAL)
    data = services.PartData(attendance=3, progress=3, progress_note="x", strengths="x",
                             development="x", recommendation="ready", would_host_again=True)
    with pytest.raises(DomainError, match="opens on 15 January 2027"):
        services.submit_part(care["emp1"], final, SUP, data, today=TODAY)
    care["pl1"].status = PlacementStatus.DECLINED
    db.session.commit()
    with pytest.raises(DomainError, match="no longer running"):
        services.submit_part(care["emp1"], final, SUP, data, today=date(2027, 1, 28))


def test_someone_elses_review_is_refused(client, auth, care):
    mid1 = review(care["pl1"], ReviewKind.MIDPOINT)
    for email, url in (("emp2@example.test", f"/reviews/employer/reviews/{mid1.id}"),
                       ("learner2@example.test", f"/reviews/learner/reviews/{mid1.id}")):
        auth.login(email)
        assert client.get(url).status_code == 404
        assert client.post(url, data=MIDPOINT_ANSWERS).status_code == 404
        auth.logout()
    # The learner cannot submit the supervisor's part, nor an employer the learner's.
    with pytest.raises(DomainError):
        services.submit_part(care["l1"].user, mid1, SUP, services.PartData(), today=TODAY)
    with pytest.raises(DomainError):
        services.submit_part(care["emp1"], mid1, LRN, services.PartData(), today=TODAY)
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 0


def test_two_submissions_of_the_same_part_at_once_one_wins(app, care):
    review_id = review(care["pl1"], ReviewKind.MIDPOINT).id
    emp_id = care["emp1"].id
    db.session.remove()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    data = services.PartData(attendance=4, progress=3, progress_note="x", strengths="x",
                             development="x")

    def submit() -> None:
        with app.app_context():
            from placements.models import User

            user = db.session.get(User, emp_id)
            target = db.session.get(PlacementReview, review_id)
            _ = target.status, target.plan.placement.status, user.role
            barrier.wait()
            try:
                services.submit_part(user, target, SUP, data, today=TODAY)
                db.session.commit()
                outcomes.append("won")
            except DomainError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 1
    assert db.session.get(PlacementReview, review_id).status == ReviewStatus.SUPERVISOR_DONE


def test_both_sides_at_once_both_count(app, care):
    """The supervisor and the learner submitting at the same moment: both parts are kept and
    the review completes (the loser of the race tries again from the winner's state)."""
    review_id = review(care["pl1"], ReviewKind.MIDPOINT).id
    authors = {SUP: care["emp1"].id, LRN: care["l1"].user_id}
    db.session.remove()
    barrier = threading.Barrier(2)
    errors: list[str] = []
    data = services.PartData(attendance=4, progress=3, progress_note="x", strengths="x",
                             development="x")

    def submit(side: ReviewSide) -> None:
        with app.app_context():
            from placements.models import User

            user = db.session.get(User, authors[side])
            target = db.session.get(PlacementReview, review_id)
            _ = target.status, target.plan.learner.user_id, user.role
            barrier.wait()
            try:
                services.submit_part(user, target, side, data, today=TODAY)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(side,)) for side in (SUP, LRN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.session.get(PlacementReview, review_id).status == ReviewStatus.COMPLETE


def test_officer_moves_a_date_and_waives_a_review(client, auth, care):
    mid = review(care["pl1"], ReviewKind.MIDPOINT)
    auth.login("officer1@example.test")
    url = f"/reviews/officer/reviews/{mid.id}/date"
    for day, message in ((["1", "11", "2026"], b"must be today or later"),
                         (["1", "6", "2027"], b"4 weeks after its end"),
                         (["31", "2", "2027"], b"Enter a real date"),
                         (["", "", ""], b"Enter the new due date")):
        response = client.post(url, data={"due_date": day})
        assert response.status_code == 400, day
        assert message in response.data
    assert client.post(url, data={"due_date": ["9", "12", "2026"]}).status_code == 303
    db.session.expire_all()
    assert review(care["pl1"], ReviewKind.MIDPOINT).due_date == date(2026, 12, 9)
    waive = f"/reviews/officer/reviews/{mid.id}/waive"
    assert client.post(waive, data={"reason": ""}).status_code == 400
    assert client.post(waive, data={"reason": "Visited on 3 December"}).status_code == 303
    db.session.expire_all()
    waived = review(care["pl1"], ReviewKind.MIDPOINT)
    assert (waived.status, waived.waived_reason) == (ReviewStatus.WAIVED,
                                                     "Visited on 3 December")
    assert client.post(url, data={"due_date": ["9", "12", "2026"]}).status_code == 400


# --- supervisors and their links ------------------------------------------------------------

def test_employer_names_a_supervisor_who_gets_links(client, auth, care):
    response = name_supervisor(client, auth, care["pl1"])
    assert response.status_code == 303
    links = links_in_mail("sam@acme.example")
    # The mid-point is open on TODAY (it opens two weeks before 2 December), the start
    # check-in is overdue; the final is not open yet.
    assert set(links) == {"hours", "start", "midpoint"}
    stored = db.session.scalars(sa.select(SupervisorLink)).all()
    assert len(stored) == 3
    token = links["hours"].rsplit("/", 1)[1]
    assert all(token not in (s.token_hash, str(s.id)) for s in stored)  # only hashes kept
    assert services.token_hash(token) in {s.token_hash for s in stored}


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "email": "a@b.example"}, b"Enter the supervisor&#39;s full name"),
    ({"name": "Sam", "email": "not-an-address"}, b"correct format"),
    ({"name": "Sam", "email": "a@b.example", "phone": "call me"}, b"Enter a telephone number"),
])
def test_bad_supervisor_input_saves_nothing(client, auth, care, data, message):
    auth.login("emp1@example.test")
    response = client.post(f"/reviews/employer/placements/{care['pl1'].id}/supervisor",
                           data=data)
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(
        sa.text("placement_supervisor"))) == 0
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


def test_supervisor_verifies_and_rejects_hours_through_the_link(app, client, auth, care):
    p1 = care["pl1"]
    first, second = pending_entry(p1, date(2026, 11, 13)), pending_entry(p1, date(2026, 11, 6))
    name_supervisor(client, auth, p1)
    hours_link = links_in_mail("sam@acme.example")["hours"]
    anonymous = app.test_client()
    page = anonymous.get(hours_link, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Learner1's hours" in text
    assert "13 November 2026" in text
    assert "Sign out" not in text
    assert "access_needs" not in text
    response = anonymous.post(f"{hours_link}/hours/{first.id}/verify",
                              environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 303
    response = anonymous.post(f"{hours_link}/hours/{second.id}/reject", data={"reason": ""})
    assert response.status_code == 400
    assert b"Enter the reason" in response.data
    response = anonymous.post(f"{hours_link}/hours/{second.id}/reject",
                              data={"reason": "I was away that day"})
    assert response.status_code == 303
    db.session.expire_all()
    verified, rejected = db.session.get(HoursEntry, first.id), db.session.get(HoursEntry,
                                                                              second.id)
    assert verified.status == HoursStatus.VERIFIED
    assert verified.verified_by_id is None
    assert rejected.status == HoursStatus.REJECTED
    assert rejected.reject_reason == "I was away that day"
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "hours.verified"))
    assert event.actor_id is None
    assert event.detail["supervisor"] == "Sam Super"
    assert event.detail["address"] == "198.51.100.7"
    uses = db.session.scalars(sa.select(AuditEvent.detail).where(
        AuditEvent.action == "supervisor_link.used")).all()
    assert [u["did"] for u in uses] == ["hours_verified", "hours_rejected"]
    # Replaying the verification is refused by the hours lifecycle; nothing changes.
    response = anonymous.post(f"{hours_link}/hours/{first.id}/verify")
    assert response.status_code == 303
    assert b"already verified" in anonymous.get(hours_link).data


def test_a_link_for_another_placement_is_refused(app, client, auth, care):
    p1, p2 = care["pl1"], care["pl2"]
    other = pending_entry(p2)
    name_supervisor(client, auth, p1)
    hours_link = links_in_mail("sam@acme.example")["hours"]
    anonymous = app.test_client()
    assert anonymous.post(f"{hours_link}/hours/{other.id}/verify").status_code == 404
    assert anonymous.get(f"{hours_link}/hours/{other.id}/reject").status_code == 404
    assert anonymous.post(f"{hours_link}/hours/{other.id}/reject",
                          data={"reason": "x"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(HoursEntry, other.id).status == HoursStatus.PENDING


def test_supervisor_completes_a_review_once(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    links = links_in_mail("sam@acme.example")
    anonymous = app.test_client()
    page = anonymous.get(links["midpoint"])
    assert page.status_code == 200
    assert b"Mid-point review" in page.data
    bad = anonymous.post(links["midpoint"], data={**MIDPOINT_ANSWERS, "progress": ""})
    assert bad.status_code == 400
    done = anonymous.post(links["midpoint"], data=MIDPOINT_ANSWERS)
    assert done.status_code == 200
    assert b"Review sent" in done.data
    db.session.expire_all()
    mid = review(care["pl1"], ReviewKind.MIDPOINT)
    assert mid.status == ReviewStatus.SUPERVISOR_DONE
    part = mid.part(SUP)
    assert part.supervisor.name == "Sam Super"
    assert part.submitted_by_id is None
    # Replayed: refused, and nothing more is saved.
    for method in ("get", "post"):
        replay = getattr(anonymous, method)(links["midpoint"], data=MIDPOINT_ANSWERS)
        assert replay.status_code == 410
        assert b"already been used" in replay.data
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 1
    # An hours link cannot do a review's task, nor a review link verify hours.
    assert anonymous.post(links["hours"], data=MIDPOINT_ANSWERS).status_code == 405
    entry = pending_entry(care["pl1"])
    assert anonymous.post(f"{links['start']}/hours/{entry.id}/verify").status_code == 404


def test_expired_revoked_and_forged_links_are_refused(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    links = links_in_mail("sam@acme.example")
    anonymous = app.test_client()
    link = db.session.scalar(sa.select(SupervisorLink).where(
        SupervisorLink.token_hash == services.token_hash(links["hours"].rsplit("/", 1)[1])))
    link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    response = anonymous.get(links["hours"])
    assert response.status_code == 410
    assert b"expired" in response.data
    assert anonymous.get(links["hours"] + "x").status_code == 404
    assert anonymous.get("/reviews/supervise/not-a-token").status_code == 404
    # A well-signed token that was never issued is refused too.
    forged = services._serializer().dumps({"p": "hours", "n": "guess"})
    assert anonymous.get(f"/reviews/supervise/{forged}").status_code == 404
    auth.login("officer1@example.test")
    assert client.post(f"/reviews/officer/placements/{care['pl1'].id}/revoke-links"
                       ).status_code == 303
    response = anonymous.get(links["start"])
    assert response.status_code == 410
    assert b"withdrawn" in response.data


def test_changing_the_supervisor_ends_the_old_links(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    old = links_in_mail("sam@acme.example")
    name_supervisor(client, auth, care["pl1"], email="kim@acme.example", name="Kim")
    new = links_in_mail("kim@acme.example")
    anonymous = app.test_client()
    assert anonymous.get(old["hours"]).status_code == 410
    assert anonymous.get(new["hours"]).status_code == 200


def test_links_stop_when_the_placement_moves_away(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    links = links_in_mail("sam@acme.example")
    care["pl1"].status = PlacementStatus.DECLINED
    db.session.commit()
    response = app.test_client().get(links["hours"])
    assert response.status_code == 410
    assert b"no longer running" in response.data


def test_a_link_used_twice_at_once_counts_once(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    link = links_in_mail("sam@acme.example")["midpoint"]
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def submit() -> None:
        anonymous = app.test_client()
        barrier.wait()
        codes.append(anonymous.post(link, data=MIDPOINT_ANSWERS).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 410, 410, 410], codes
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(ReviewPart.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "supervisor_link.used")) == 1


def test_links_are_rate_limited_per_link(make_app, care):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SUPERVISOR_LINK="3 per minute")
    with limited.app_context():
        supervisor = services.name_supervisor(
            db.session.merge(care["emp1"]), db.session.merge(care["pl1"]),
            services.SupervisorData(name="Sam", email="sam@acme.example"))
        _link, token = services.issue_link(supervisor, services.LinkTask.HOURS)
        db.session.commit()
    client = limited.test_client()
    codes = [client.get(f"/reviews/supervise/{token}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another link has its own allowance.
    assert client.get("/reviews/supervise/other").status_code == 404


def test_weekly_digest_lists_what_waits(app, client, auth, care, runner):
    pending_entry(care["pl1"])
    name_supervisor(client, auth, care["pl1"])
    db.session.execute(sa.delete(OutboxMessage))
    db.session.commit()
    result = runner.invoke(args=["reviews", "digest"])
    assert result.exit_code == 0, result.output
    assert "1 e-mails" in result.output
    message = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == "sam@acme.example"))
    assert "1 day of hours to verify (7 hours)" in message.body
    assert "Start check-in, due 11 October 2026 (overdue)" in message.body
    assert "Mid-point review, due 2 December 2026:" in message.body
    assert "Final review" not in message.body
    # Nothing waiting: no e-mail.
    db.session.execute(sa.delete(OutboxMessage))
    care["pl1"].status = PlacementStatus.DECLINED
    db.session.commit()
    assert runner.invoke(args=["reviews", "digest"]).exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


# --- concerns -------------------------------------------------------------------------------

def test_a_concern_reaches_the_officers_at_once(client, auth, care):
    second = make_user("officer1b@example.test", Role.OFFICER, provider=care["p1"])
    db.session.commit()
    auth.login("learner1@example.test")
    url = f"/reviews/learner/placements/{care['pl1'].id}/concern"
    assert client.post(url, data={"category": "", "description": "x"}).status_code == 400
    assert client.post(url, data={"category": "wellbeing", "description": " "}
                       ).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Concern.id))) == 0
    response = client.post(url, data={"category": "safeguarding",
                                      "description": "My supervisor keeps messaging me late "
                                                     "at night."})
    assert response.status_code == 303
    concern = db.session.scalar(sa.select(Concern))
    mails = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_address)
                               ).all()
    assert [m.to_address for m in mails] == ["officer1@example.test", second.email]
    assert all("messaging me" not in m.body and "Learner1" not in m.body for m in mails)
    assert f"/reviews/officer/concerns/{concern.id}" in mails[0].body
    # The learner sees what they sent; the employer and the other provider see nothing.
    assert b"messaging me" in client.get("/reviews/learner/").data
    auth.logout()
    auth.login("emp1@example.test")
    assert b"messaging me" not in client.get("/reviews/employer/").data
    assert b"messaging me" not in client.get(
        f"/reviews/employer/placements/{care['pl1'].id}").data
    auth.logout()
    auth.login("officer2@example.test")
    assert client.get(f"/reviews/officer/concerns/{concern.id}").status_code == 404
    assert b"Safeguarding" not in client.get("/reviews/officer/").data
    auth.logout()
    auth.login("officer1@example.test")
    board = client.get("/reviews/officer/")
    assert b"Concerns not closed (1)" in board.data
    assert b"Safeguarding" in board.data
    page = client.get(f"/reviews/officer/concerns/{concern.id}")
    assert b"messaging me" in page.data
    assert b"only placement officers" in page.data


def test_officer_takes_notes_closes_and_reopens_a_concern(client, auth, care):
    colleague = make_user("officer1b@example.test", Role.OFFICER, provider=care["p1"])
    concern = services.raise_concern(care["emp1"], care["pl1"], "attendance", "Late again")
    db.session.commit()
    base = f"/reviews/officer/concerns/{concern.id}"
    auth.login("officer1@example.test")
    assert client.post(f"{base}/take").status_code == 303
    assert client.post(f"{base}/take").status_code == 303  # refused with a message
    assert client.post(f"{base}/assign", data={"owner_id": str(care["officer2"].id)}
                       ).status_code == 400  # another provider's officer
    assert client.post(f"{base}/assign", data={"owner_id": str(colleague.id)}
                       ).status_code == 303
    assert client.post(f"{base}/note", data={"note": ""}).status_code == 400
    assert client.post(f"{base}/note", data={"note": "Called the learner"}).status_code == 303
    assert client.post(f"{base}/close", data={"outcome": ""}).status_code == 400
    assert client.post(f"{base}/close", data={"outcome": "Bus pass arranged"}
                       ).status_code == 303
    db.session.expire_all()
    closed = db.session.get(Concern, concern.id)
    assert (closed.status, closed.owner_id, closed.outcome) == (
        ConcernStatus.CLOSED, colleague.id, "Bus pass arranged")
    assert client.post(f"{base}/reopen", data={"reason": "It happened again"}
                       ).status_code == 303
    db.session.expire_all()
    reopened = db.session.get(Concern, concern.id)
    assert (reopened.status, reopened.owner_id) == (ConcernStatus.IN_HAND,
                                                    care["officer1"].id)
    history = [e.action for e in services.concern_history(reopened)]
    assert history == ["concern.raised", "concern.taken", "concern.reassigned",
                       "concern.noted", "concern.closed", "concern.reopened"]
    page = client.get(base)
    assert b"Called the learner" in page.data
    assert b"Bus pass arranged" in page.data


def test_employer_concern_on_the_placement_page_is_a_concern_record(client, auth, care):
    auth.login("emp1@example.test")
    url = f"/employer/placements/{care['pl1'].id}"
    response = client.post(url, data={"response": "concern", "note": "Not turned up"})
    assert response.status_code == 400
    assert b"Choose what the concern is about" in response.data
    response = client.post(url, data={"response": "concern", "category": "attendance",
                                      "note": "Not turned up"})
    assert response.status_code == 303
    concern = db.session.scalar(sa.select(Concern))
    assert (concern.category.value, concern.raised_by.value, concern.description) == (
        "attendance", "employer", "Not turned up")
    assert db.session.scalar(sa.select(OutboxMessage.to_address)) == "officer1@example.test"


def test_supervisor_raises_a_concern_through_the_link(app, client, auth, care):
    name_supervisor(client, auth, care["pl1"])
    link = links_in_mail("sam@acme.example")["hours"]
    anonymous = app.test_client()
    assert anonymous.get(f"{link}/concern").status_code == 200
    response = anonymous.post(f"{link}/concern", data={"category": "health-and-safety",
                                                       "description": "Unguarded machine"})
    assert response.status_code == 303
    concern = db.session.scalar(sa.select(Concern))
    assert concern.raised_by.value == "supervisor"
    assert concern.raised_by_supervisor.name == "Sam Super"


# --- what needs attention -------------------------------------------------------------------

def test_attention_lists_overdue_reviews_and_concerns_per_round_and_employer(client, auth,
                                                                             care):
    services.raise_concern(care["emp1"], care["pl1"], "attendance", "Late")
    db.session.commit()
    attention = services.attention(care["officer1"], today=TODAY)
    assert [(r.plan.learner_id, r.kind) for r, _ in attention.overdue] == [
        (care["l1"].id, ReviewKind.START)]
    assert attention.concerns_total == 1
    assert [(t.name, t.overdue, t.concerns) for t in attention.by_employer] == [
        ("Acme Digital", 1, 1)]
    assert [(t.name, t.overdue, t.concerns) for t in attention.by_round] == [("Spring", 1, 1)]
    # Learner 2 is University Two's: their overdue start check-in is not officer 1's.
    assert services.attention(care["officer2"], today=TODAY).overdue_total == 1
    assert services.attention_counts(care["officer1"], today=TODAY) == (1, 1)
    auth.login("officer1@example.test")
    page = client.get(f"/reviews/officer/?employer={care['e1'].id}")
    assert b"Overdue reviews (1)" in page.data
    assert client.get(f"/reviews/officer/?employer={care['e2'].id}").status_code == 200
    assert client.get(f"/reviews/officer/placements/{care['pl1'].id}").status_code == 200


def test_officer_makes_missing_plans(client, auth, care):
    p3 = Placement(round=care["round"], learner=make_learner(care), offer=care["o1"],
                   status=PlacementStatus.PUBLISHED)
    db.session.add(p3)
    db.session.commit()
    auth.login("officer1@example.test")
    assert b"1 published placement" in client.get("/reviews/officer/").data
    assert client.post("/reviews/officer/schedule").status_code == 303
    assert services.current_plan(p3) is not None
    assert b"no review plan yet" not in client.get("/reviews/officer/").data


def make_learner(care):
    from placements.models import Learner

    user = make_user("learner3@example.test", Role.LEARNER)
    learner = Learner(user=user, provider=care["p1"], programme=care["prog1"],
                      student_ref="A3", home_postcode="M1 1AA", lat=care["l1"].lat,
                      lon=care["l1"].lon)
    db.session.add(learner)
    return learner


def test_hosting_record_keeps_would_host_again(care):
    final = review(care["pl1"], ReviewKind.FINAL)
    services.submit_part(care["emp1"], final, SUP, services.PartData(
        attendance=4, progress=4, progress_note="x", strengths="x", development="x",
        recommendation="ready", would_host_again=True), today=date(2027, 1, 20))
    services.raise_concern(care["emp1"], care["pl1"], "conduct", "x")
    db.session.commit()
    records = services.hosting_records([care["e1"].id, care["e2"].id],
                                       today=date(2027, 1, 20))
    (acme,) = records[care["e1"].id]
    assert (acme.placed, acme.finals, acme.host_again_yes, acme.concerns) == (1, 1, 1, 1)
    assert acme.recommendations == {"ready": 1}
    assert services.hosting_summaries([care["e1"].id])[care["e1"].id].words == (
        "1 learner hosted, would host again in 1 of 1 final reviews")


def test_celery_beat_can_run_the_digest(app, client, auth, care, monkeypatch):
    """`placements.run_kind` (for Celery beat) queues and runs one digest job."""
    from placements import tasks
    from placements.models import Job

    name_supervisor(client, auth, care["pl1"])
    db.session.execute(sa.delete(OutboxMessage))
    db.session.commit()
    monkeypatch.setattr(tasks, "_worker_app", app)
    job_id = tasks.run_kind("reviews.digest")
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "succeeded"
    assert job.result["emails"] == 1
    assert db.session.scalar(sa.select(OutboxMessage.to_address)) == "sam@acme.example"
    beat = tasks.celery_app.conf.beat_schedule["supervisor-digest"]
    assert beat["task"] == tasks.RUN_KIND_TASK
    assert beat["args"] == ["reviews.digest"]
    assert "compliance-reminders" in tasks.celery_app.conf.beat_schedule


def test_engagement_shows_the_hosting_record_of_the_partnership(client, auth, care):
    from placements.engagement.services import track_registered_employers

    final = review(care["pl1"], ReviewKind.FINAL)
    services.submit_part(care["emp1"], final, SUP, services.PartData(
        attendance=4, progress=4, progress_note="x", strengths="x", development="x",
        recommendation="nearly", would_host_again=False), today=date(2027, 1, 20))
    track_registered_employers(care["officer1"])
    db.session.commit()
    from placements.models import EmployerEngagement

    record = db.session.scalar(sa.select(EmployerEngagement).where(
        EmployerEngagement.employer_id == care["e1"].id))
    auth.login("officer1@example.test")
    page = client.get(f"/officer/engagement/{record.id}").get_data(as_text=True)
    assert "Hosting record" in page
    assert "Yes in 0 of 1" in page
    assert "Nearly ready: would benefit from more experience: 1" in page
    board = client.get("/officer/engagement/").get_data(as_text=True)
    assert "1 learner hosted, would host again in 0 of 1 final reviews" in board
    # Learners outside the officer's partnership are not counted.
    assert services.hosting_summaries([care["e1"].id], providers=[999]) == {}


def test_links_are_rate_limited_per_address_and_never_cached(make_app, care):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SUPERVISOR_ADDRESS="3 per minute")
    with limited.app_context():
        supervisor = services.name_supervisor(
            db.session.merge(care["emp1"]), db.session.merge(care["pl1"]),
            services.SupervisorData(name="Sam", email="sam@acme.example"))
        tokens = [services.issue_link(supervisor, services.LinkTask.HOURS)[1]
                  for _ in range(4)]
        db.session.commit()
    client = limited.test_client()
    responses = [client.get(f"/reviews/supervise/{token}") for token in tokens]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["Cache-Control"] == "no-store"
    assert responses[0].headers["Referrer-Policy"] == "no-referrer"
    # Another address has its own allowance.
    other = limited.test_client()
    assert other.get(f"/reviews/supervise/{tokens[3]}",
                     environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200


def test_review_answers_are_escaped_and_keep_their_lines(client, auth, care):
    mid = review(care["pl1"], ReviewKind.MIDPOINT)
    auth.login("emp1@example.test")
    client.post(f"/reviews/employer/reviews/{mid.id}", data={
        **MIDPOINT_ANSWERS, "strengths": '<script>alert("x")</script>\nSecond line'})
    page = client.get(f"/reviews/employer/reviews/{mid.id}").get_data(as_text=True)
    assert '<script>alert("x")' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>Second line" in page


def test_two_colleagues_naming_a_supervisor_at_once_leave_one(app, care):
    make_user("emp1b@example.test", Role.EMPLOYER, employer=care["e1"])
    db.session.commit()
    url = f"/reviews/employer/placements/{care['pl1'].id}/supervisor"
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def name(email: str, supervisor: str) -> None:
        client = app.test_client()
        client.post("/auth/login", data={"email": email, "password": "correct horse battery"})
        barrier.wait()
        codes.append(client.post(url, data={"name": supervisor,
                                             "email": f"{supervisor}@acme.example"}
                                 ).status_code)

    threads = [threading.Thread(target=name, args=args) for args in (
        ("emp1@example.test", "sam"), ("emp1b@example.test", "kim"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {303, 400}
    assert 303 in codes
    from placements.models import PlacementSupervisor

    assert db.session.scalar(sa.select(sa.func.count(PlacementSupervisor.id))) == 1
