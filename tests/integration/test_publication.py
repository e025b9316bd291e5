"""Publishing through a confirmation page, closing choices early, editing and archiving a
round, declined learners placed again, and a run's changes learner by learner."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    AllocationRound,
    AllocationRun,
    AuditEvent,
    Learner,
    OutboxMessage,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Role,
    RunLearner,
)
from placements.rounds import publication, reports, services
from tests.conftest import make_user, publish, publish_form

P = PlacementStatus


@pytest.fixture
def world3(app, world):
    """The shared world plus a third learner (not mandated, lists nothing: not placed)."""
    app.config["JOB_WORKER"] = "inline"
    user = make_user("learner3@example.test", Role.LEARNER, name="Cara Third")
    l3 = Learner(user=user, provider=world["p2"], programme=world["prog2"], student_ref="C3",
                 home_postcode="M1 1AA", lat=world["l1"].lat, lon=world["l1"].lon,
                 max_travel_km=20)
    r = world["round"]
    db.session.add_all([l3, Preference(round=r, learner=world["l1"], offer=world["o1"], rank=1),
                        Preference(round=r, learner=world["l2"], offer=world["o2"], rank=1)])
    db.session.commit()
    world["l3"] = l3
    return world


def _login(client, email="officer1@example.test"):
    return client.post("/auth/login", data={"email": email, "password":
                                            "correct horse battery"})


def _run(client, rid, kind="full"):
    response = client.post(f"/officer/rounds/{rid}/runs", data={"kind": kind})
    assert response.status_code == 303
    run = db.session.scalar(sa.select(AllocationRun).order_by(AllocationRun.id.desc()))
    db.session.refresh(run)
    assert run.result, run.job.error
    return run


def _close(client, rid, reason="Employers need names by Friday"):
    return client.post(f"/officer/rounds/{rid}/close-choices", data={"reason": reason})


def _mail_to() -> Counter:
    return Counter(db.session.scalars(sa.select(OutboxMessage.to_address)))


# --- the guard -------------------------------------------------------------------------------


def test_publishing_is_refused_while_choices_are_open(client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    detail = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "Check and publish" not in detail
    assert "Learners can still change their choices until" in detail
    page = client.get(f"/officer/rounds/{rid}/publish").get_data(as_text=True)
    assert "You cannot publish yet" in page
    assert 'name="digest"' not in page
    response = client.post(f"/officer/rounds/{rid}/publish", data={"seen": 0, "digest": "x"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).publications == 0
    assert not _mail_to()
    assert {p.status for p in db.session.scalars(sa.select(Placement))} == {P.PROPOSED}


def test_closing_choices_early_needs_a_reason_and_tells_every_learner(client, world3):
    rid = world3["round"].id
    _login(client)
    blank = _close(client, rid, "   ")
    assert blank.status_code == 400
    assert "Say why choices close before the deadline" in blank.get_data(as_text=True)
    assert db.session.get(AllocationRound, rid).status == "open"
    assert _close(client, rid).status_code == 303
    db.session.expire_all()
    round_ = db.session.get(AllocationRound, rid)
    assert round_.status == "closed"
    assert round_.choices_closed_reason == "Employers need names by Friday"
    sent = db.session.scalars(sa.select(OutboxMessage)).all()
    assert Counter(m.to_address for m in sent) == Counter({
        "learner1@example.test": 1, "learner2@example.test": 1, "learner3@example.test": 1})
    body = {m.to_address: m.body for m in sent}
    assert "Employers need names by Friday" in body["learner1@example.test"]
    assert "The 1 offer you listed will be used" in body["learner1@example.test"]
    assert "You did not list any offers" in body["learner3@example.test"]
    # The learner's own page follows.
    learner = client.application.test_client()
    _login(learner, "learner1@example.test")
    assert "Choices for Spring have closed" in learner.get("/learner/placement").get_data(
        as_text=True)
    # Closing twice is refused, and nobody is e-mailed again.
    again = _close(client, rid)
    assert again.status_code == 400
    assert "Choices are not open in this round" in again.get_data(as_text=True)
    assert _mail_to()["learner1@example.test"] == 1


def test_reopening_choices_until_publication(client, world3):
    rid = world3["round"].id
    _login(client)
    _close(client, rid)
    assert client.post(f"/officer/rounds/{rid}/reopen-choices").status_code == 303
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).status == "open"
    assert _mail_to()["learner2@example.test"] == 2  # closed, then reopened
    _close(client, rid)
    _run(client, rid)
    assert publish(client, rid).status_code == 303
    client.post(f"/officer/rounds/{rid}/reopen-choices")
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).status == "published"


def test_the_confirmation_lists_exactly_who_is_emailed(client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    before = _mail_to()
    page = client.get(f"/officer/rounds/{rid}/publish").get_data(as_text=True)
    plan = publication.publication_plan(db.session.get(AllocationRound, rid))
    assert plan.counts == {"published": 2, "moved": 0, "removed": 0, "unplaced": 1,
                           "learners_told": 3, "employers_told": 2, "employer_emails": 2,
                           "emails": 5}
    assert "Publish and send 5 e-mails" in page
    for name in ("Learner1", "Learner2", "Cara Third", "Acme Digital", "Beta Care"):
        assert name in page
    assert "Not placed: told so" in page
    csv = client.get(f"/officer/rounds/{rid}/publish.csv").get_data(as_text=True)
    assert csv.count("\r\n") == 1 + 5
    response = client.post(f"/officer/rounds/{rid}/publish", data=publish_form(client, rid))
    assert response.status_code == 303
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 new placements, 0 moves, 0 placements withdrawn, 1 learner told they were not " \
           "placed. 3 learners and 2 employers have been e-mailed." in flashed
    sent = _mail_to() - before
    notices = [n.notice.to for batch, _ in publication.all_news(plan) for n in batch] + [
        m.to for _, employers in publication.all_news(plan) for e in employers
        for m in e.notices]
    assert sent == Counter(notices)
    assert len(notices) == plan.counts["emails"]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "round.published"))
    assert event.detail["learners_told"] == 3
    assert event.detail["emails"] == 5
    # The unplaced learner's page says what their e-mail said.
    learner = client.application.test_client()
    _login(learner, "learner3@example.test")
    assert "We could not place you in Spring" in learner.get("/learner/placement").get_data(
        as_text=True)


def test_a_plan_that_changed_after_it_was_read_is_not_published(client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    form = publish_form(client, rid)
    # Meanwhile another officer places the third learner by hand.
    services.override_placement(world3["officer1"], db.session.get(AllocationRound, rid),
                                world3["l3"], world3["o1"], reason="Asked in person",
                                confirmed=True)
    db.session.commit()
    sent = _mail_to()
    response = client.post(f"/officer/rounds/{rid}/publish", data=form)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The allocation changed after you checked it" in page
    assert "Cara Third" in page  # the page shows the plan as it is now
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).publications == 0
    assert _mail_to() == sent


def test_settings_changed_after_the_run_or_late_joiners_block_the_first_publication(
        client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    round_ = db.session.get(AllocationRound, rid)
    round_.max_preferences = 2
    db.session.commit()
    page = client.get(f"/officer/rounds/{rid}/publish").get_data(as_text=True)
    assert "settings changed after run" in page
    _run(client, rid)
    assert 'name="digest"' in client.get(f"/officer/rounds/{rid}/publish").get_data(
        as_text=True)
    user = make_user("late@example.test", Role.LEARNER)
    db.session.add(Learner(user=user, provider=world3["p1"], programme=world3["prog1"],
                           student_ref="Z9", home_postcode="M1 1AA", lat=world3["l1"].lat,
                           lon=world3["l1"].lon, max_travel_km=20))
    db.session.commit()
    page = client.get(f"/officer/rounds/{rid}/publish").get_data(as_text=True)
    assert "1 learner joined the round after run" in page


# --- editing and archiving -------------------------------------------------------------------


def _edit_data(world, **changes):
    data = {"name": "Spring", "programmes": [world["prog1"].id, world["prog2"].id],
            "preference_deadline": (date.today() + timedelta(days=30)).strftime("%d %m %Y"),
            "max_preferences": "3", "rank_cost": "squared", "fallback": "yes",
            "time_limit_s": "60"}
    data.update(changes)
    return data


def test_editing_a_round(client, world3):
    rid = world3["round"].id
    _login(client)
    page = client.get(f"/officer/rounds/{rid}/edit")
    assert page.status_code == 200
    assert 'value="Spring"' in page.get_data(as_text=True)
    response = client.post(f"/officer/rounds/{rid}/edit",
                           data=_edit_data(world3, name="Spring 2027", max_preferences="5"))
    assert response.status_code == 303
    db.session.expire_all()
    round_ = db.session.get(AllocationRound, rid)
    assert (round_.name, round_.max_preferences) == ("Spring 2027", 5)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "round.changed"))
    assert event.detail["changed"] == ["max_preferences", "name"]
    trail = client.get(f"/officer/rounds/{rid}/audit").get_data(as_text=True)
    assert "choices that count from 3 to 5" in trail
    client.post(f"/officer/rounds/{rid}/edit", data=_edit_data(
        world3, name="Spring 2027", max_preferences="5", verified_checks="yes"))
    trail = client.get(f"/officer/rounds/{rid}/audit").get_data(as_text=True)
    assert "counting only verified checks from no to yes" in trail


@pytest.mark.parametrize(("changes", "message"), [
    ({"preference_deadline": "1 1 2020"}, "the deadline must be in the future"),
    ({"max_preferences": "0"}, "Choices must be between 1 and 50"),
    ({"max_preferences": "lots"}, "as a whole number"),
    ({"programmes": []}, "Select at least one programme"),
    ({"name": ""}, "Enter a name for the round"),
])
def test_editing_a_round_with_bad_input_keeps_it(client, world3, changes, message):
    rid = world3["round"].id
    _login(client)
    response = client.post(f"/officer/rounds/{rid}/edit", data=_edit_data(world3, **changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    round_ = db.session.get(AllocationRound, rid)
    assert (round_.name, round_.max_preferences, len(round_.programmes)) == ("Spring", 3, 2)


def test_lowering_choices_below_what_learners_listed_is_refused_while_they_choose(
        client, world3):
    r = world3["round"]
    db.session.add(Preference(round=r, learner=world3["l1"], offer=world3["o2"], rank=2))
    db.session.commit()
    _login(client)
    response = client.post(f"/officer/rounds/{r.id}/edit",
                           data=_edit_data(world3, max_preferences="1"))
    assert response.status_code == 400
    assert "Some learners have already listed 2 offers" in response.get_data(as_text=True)


def test_published_rounds_keep_the_settings_that_decided_them(client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    publish(client, rid)
    deadline = db.session.get(AllocationRound, rid).preference_deadline
    response = client.post(f"/officer/rounds/{rid}/edit", data=_edit_data(
        world3, max_preferences="5",
        preference_deadline=deadline.strftime("%d %m %Y")))
    assert response.status_code == 400
    assert "The allocation has been published" in response.get_data(as_text=True)
    response = client.post(f"/officer/rounds/{rid}/edit", data=_edit_data(
        world3, name="Spring (published)", time_limit_s="120",
        preference_deadline=deadline.strftime("%d %m %Y")))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).time_limit_s == 120


def test_archiving_discards_unpublished_proposals_and_freezes_the_round(client, world3):
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    page = client.get(f"/officer/rounds/{rid}/archive").get_data(as_text=True)
    assert "2 proposed placements never published are discarded" in page
    assert client.post(f"/officer/rounds/{rid}/archive").status_code == 303
    db.session.expire_all()
    round_ = db.session.get(AllocationRound, rid)
    assert round_.status == "archived"
    assert db.session.scalar(sa.select(sa.func.count(Placement.id))) == 0
    # Nothing changes an archived round.
    client.post(f"/officer/rounds/{rid}/runs", data={"kind": "full"})
    assert client.post(f"/officer/rounds/{rid}/edit", data=_edit_data(world3)).status_code \
        == 400
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 1
    detail = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "can be read but no longer changed" in detail
    assert "Run allocation" not in detail


def test_archiving_needs_managing_rights(client, world3):
    rid = world3["round"].id
    _login(client, "officer2@example.test")
    assert client.get(f"/officer/rounds/{rid}/archive").status_code == 403
    assert client.post(f"/officer/rounds/{rid}/archive").status_code == 403
    assert client.post(f"/officer/rounds/{rid}/close-choices",
                       data={"reason": "x"}).status_code == 403
    assert client.get(f"/officer/rounds/{rid}/publish").status_code == 403
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).status == "open"


# --- declined learners, repairs and their changes ---------------------------------------------


def _published(client, world):
    rid = world["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    assert publish(client, rid).status_code == 303
    return rid


def test_a_declined_learner_stays_in_the_round_and_is_placed_again(app, client, world3):
    rid = _published(client, world3)
    other = PlacementOffer(employer=world3["e1"], site=world3["s1"], title="Tester",
                           sector="Digital", capacity=1, start_date=date(2027, 2, 1),
                           end_date=date(2027, 5, 1), hours_per_week=30)
    db.session.add(other)
    db.session.commit()
    learner = app.test_client()
    _login(learner, "learner1@example.test")
    placement = db.session.scalar(sa.select(Placement).where(
        Placement.learner_id == world3["l1"].id))
    learner.post(f"/learner/placement/{placement.id}/decline",
                 data={"reason": "Too far on the bus"})
    page = learner.get("/learner/placement").get_data(as_text=True)
    assert "You declined Junior developer with Acme Digital" in page
    assert "will look for another placement" in page
    # The officer sees her in "to place again".
    detail = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "To place again (1)" in detail
    assert "Too far on the bus" in detail
    # The repair places her again, never at the offer she declined, and names the change.
    run = _run(client, rid, "repair")
    changes = reports.run_changes(run, services.previous_run(run))
    line = next(r for r in changes.rows if r.learner_id == world3["l1"].id)
    assert line.kind == reports.Change.PLACED
    assert line.after == "Tester (Acme Digital)"
    assert line.why.startswith("Declined Junior developer (Acme Digital); placed again")
    run_page = client.get(f"/officer/rounds/{rid}/runs/{run.id}").get_data(as_text=True)
    assert "Newly placed (1)" in run_page
    # Publishing tells her, and only her.
    plan = publication.publication_plan(db.session.get(AllocationRound, rid))
    assert plan.counts["published"] == changes.counts[reports.Change.PLACED] == 1
    assert [n.learner.id for n in plan.learners] == [world3["l1"].id]
    assert plan.learner_count == 1
    assert publish(client, rid).status_code == 303
    page = learner.get("/learner/placement").get_data(as_text=True)
    assert "You have been offered Tester with Acme Digital" in page


def test_a_repairs_counts_are_the_publications_counts(client, world3):
    rid = _published(client, world3)
    # Acme withdraws the developer offer; a tester offer appears; Beta's offer goes too.
    tester = PlacementOffer(employer=world3["e1"], site=world3["s1"], title="Tester",
                            sector="Digital", capacity=1, start_date=date(2027, 2, 1),
                            end_date=date(2027, 5, 1), hours_per_week=30)
    db.session.add(tester)
    world3["o1"].status = "withdrawn"
    world3["o2"].status = "withdrawn"
    db.session.commit()
    run = _run(client, rid, "repair")
    changes = reports.run_changes(run, services.previous_run(run))
    assert changes.baseline == "the published allocation when the run started"
    assert changes.counts[reports.Change.MOVED] == 1
    assert changes.counts[reports.Change.LOST] == 1
    lost = next(r for r in changes.rows if r.kind == reports.Change.LOST)
    assert lost.why.startswith("The offer they had is no longer open")
    plan = publication.publication_plan(db.session.get(AllocationRound, rid))
    assert (plan.counts["moved"], plan.counts["removed"]) == (1, 1)
    page = client.get(f"/officer/rounds/{rid}/runs/{run.id}?change=moved").get_data(
        as_text=True)
    assert "Junior developer (Acme Digital)" in page
    assert "Tester (Acme Digital)" in page
    assert "Care assistant" not in page.split('id="changes"')[1].split("Places filled")[0]
    csv = client.get(f"/officer/rounds/{rid}/runs/{run.id}/changes.csv").get_data(
        as_text=True)
    assert "moved" in csv
    assert "lost a place" in csv
    assert csv.count("\r\n") == 1 + len(changes.rows)


def test_unplaced_reasons_are_in_an_officers_words(client, world3):
    rid = world3["round"].id
    world3["l2"].credentials = []  # the care offer needs a DBS check
    db.session.commit()
    _login(client)
    run = _run(client, rid)
    page = client.get(f"/officer/rounds/{rid}/runs/{run.id}?change=not+placed").get_data(
        as_text=True)
    assert "Enhanced DBS check, which they do not hold" in page
    assert "They listed no offers, and fallback placements are only for mandated learners" \
        in page
    assert not re.search(r"\byou\b", page.split('id="changes"')[1].split("Places filled")[0],
                         re.IGNORECASE)
    # Worked out once when the run finished: kept with its lines, in the list's order, and
    # shown without reading the problem document again (megabytes at region scale).
    kept = db.session.execute(sa.select(RunLearner.learner_id, RunLearner.position,
                                        RunLearner.explanation).where(
        RunLearner.run_id == run.id).order_by(RunLearner.position)).all()
    assert [p for _, p, _ in kept] == list(range(1, len(kept) + 1))
    assert next(e for i, _, e in kept if i == world3["l2"].id).startswith("Of the ")
    db.session.execute(sa.update(AllocationRun).where(AllocationRun.id == run.id)
                       .values(problem=None))
    db.session.commit()
    again = client.get(f"/officer/rounds/{rid}/runs/{run.id}?change=not+placed").get_data(
        as_text=True)
    assert "Enhanced DBS check, which they do not hold" in again
    csv = client.get(f"/officer/rounds/{rid}/runs/{run.id}/changes.csv").get_data(
        as_text=True)
    assert "Enhanced DBS check, which they do not hold" in csv
    assert csv.splitlines()[0].endswith(",why,details")


def test_standing_words_follow_the_round(client, world3):
    learner = client
    _login(learner, "learner1@example.test")
    page = learner.get("/learner/").get_data(as_text=True)
    assert "Choosing" in page
    round_ = db.session.get(AllocationRound, world3["round"].id)
    round_.preference_deadline = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    assert "Choices for Spring have closed" in learner.get("/learner/placement").get_data(
        as_text=True)


def test_the_audit_trail_speaks_in_sentences_with_names(app, client, world3):
    rid = _published(client, world3)
    learner = app.test_client()
    _login(learner, "learner1@example.test")
    placement = db.session.scalar(sa.select(Placement).where(
        Placement.learner_id == world3["l1"].id))
    learner.post(f"/learner/placement/{placement.id}/accept")
    employer = app.test_client()
    _login(employer, "emp1@example.test")
    employer.post(f"/employer/placements/{placement.id}", data={"response": "accepted"})
    page = client.get(f"/officer/rounds/{rid}/audit").get_data(as_text=True)
    assert "placement.employer_accepted" not in page
    assert "Choices closed early" in page
    assert "Because: “Employers need names by Friday”" in page
    assert re.search(r"Publication 1 from <a[^>]*>run \d+</a>: 2 new placements", page)
    assert re.search(r'<a class="govuk-link" href="/officer/learners/\d+">Learner1</a> \(A1\) '
                     r"accepted Junior developer \(Acme Digital\)", page)
    assert "offers: " not in page
    assert "The employer confirmed" in page


def test_the_officers_learner_page_shows_placement_and_choices(client, world3):
    world3["l2"].credentials = []
    db.session.commit()
    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    page = client.get(f"/officer/learners/{world3['l1'].id}").get_data(as_text=True)
    assert "Choosing offers" in page
    assert "In the allocation: Junior developer (Acme Digital), proposed" in page
    # Learner 2 belongs to the partner provider: their page is not officer 1's to see.
    other = client.application.test_client()
    _login(other, "officer2@example.test")
    page = other.get(f"/officer/learners/{world3['l2'].id}").get_data(as_text=True)
    assert "Care assistant (Beta Care)" in page
    assert "will not count: The learner does not hold: Enhanced DBS check." in page


def test_the_hand_placement_picker_shows_distance_places_left_and_warnings(client, world3):
    rid = world3["round"].id
    far = PlacementOffer(employer=world3["e1"], site=world3["s1"], title="Data analyst",
                         sector="Digital", capacity=3, start_date=date(2027, 2, 1),
                         end_date=date(2027, 5, 1), hours_per_week=30, requirements=["dbs"])
    db.session.add(far)
    db.session.commit()
    _login(client)
    _run(client, rid)  # learner 1 holds one of the developer offer's two places
    missing = client.get(f"/officer/rounds/{rid}/override?student_ref=NOPE")
    assert missing.status_code == 400
    assert "No learner with that student number is in this round" in missing.get_data(
        as_text=True)
    page = client.get(f"/officer/rounds/{rid}/override?student_ref=C3").get_data(
        as_text=True)
    assert "Cara Third" in page
    rows = page.split("<tbody")[1]
    # Learner 3 is in Health: the Digital offers warn; the care offer needs a DBS check.
    assert "The offer is in Digital, but the learner&#39;s programme is in Health and " \
           "science." in rows
    assert "1 of 2" in rows  # the developer offer: one place left of two
    assert "0.0 km" in rows
    searched = client.get(f"/officer/rounds/{rid}/override?student_ref=C3&q=analyst").get_data(
        as_text=True)
    assert "Data analyst" in searched
    assert "Junior developer" not in searched.split("<tbody")[1]
    # Choosing an offer with warnings asks for confirmation and keeps the choice.
    response = client.post(f"/officer/rounds/{rid}/override", data={
        "student_ref": "C3", "offer_id": far.id, "reason": "Employer asked"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f'value="{far.id}" checked' in body
    assert "tick the box to confirm it" in body
    response = client.post(f"/officer/rounds/{rid}/override", data={
        "student_ref": "C3", "offer_id": far.id, "reason": "Employer asked", "confirm": "y"})
    assert response.status_code == 303
    assert (world3["l3"].id, far.id, "proposed") in {
        (p.learner_id, p.offer_id, str(p.status)) for p in db.session.scalars(
            sa.select(Placement))}


def test_publishing_runs_as_a_job_that_checks_again(app, client, world3):
    """The publication is queued; a change made before the job runs stops it cleanly:
    nothing is published or sent, the round says why, and runs wait for it meanwhile."""
    from placements.jobs import execute
    from placements.models import Job

    rid = world3["round"].id
    _login(client)
    _run(client, rid)
    _close(client, rid)
    form = publish_form(client, rid)
    app.config["JOB_WORKER"] = "manual"
    response = client.post(f"/officer/rounds/{rid}/publish", data=form)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Publishing: the e-mails are being written" in page
    assert "Publishing now (Publication 1 of Spring)" in page
    # A run cannot start while the round is being published.
    client.post(f"/officer/rounds/{rid}/runs", data={"kind": "full"})
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 1
    # Meanwhile another officer places the third learner by hand.
    services.override_placement(world3["officer1"], db.session.get(AllocationRound, rid),
                                world3["l3"], world3["o1"], reason="Asked in person",
                                confirmed=True)
    db.session.commit()
    sent = _mail_to()
    job = db.session.scalar(sa.select(Job).where(Job.kind == "round.publish"))
    execute(app, job.id)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "failed"
    assert job.error.startswith("Nothing was published: The allocation changed")
    assert db.session.get(AllocationRound, rid).publications == 0
    assert _mail_to() == sent
    page = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "The last attempt to publish" in page
    assert "did not go ahead: Nothing was published" in page
    assert "Publication did not go ahead" in client.get(
        f"/officer/rounds/{rid}/audit").get_data(as_text=True)
