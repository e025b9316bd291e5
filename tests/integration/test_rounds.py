"""Tests of the officer's allocation workflow: rounds, runs, results, locks, overrides,
publication, repair and the audit trail."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    AllocationRound,
    AllocationRun,
    AuditEvent,
    JobStatus,
    OutboxMessage,
    Placement,
    PlacementLock,
    PlacementStatus,
    Preference,
)
from placements.rounds import publication, services
from tests.conftest import publish, publish_form


@pytest.fixture
def inline(app):
    app.config["JOB_WORKER"] = "inline"
    return app


@pytest.fixture
def prefs(world):
    r = world["round"]
    db.session.add_all([Preference(round=r, learner=world["l1"], offer=world["o1"], rank=1),
                        Preference(round=r, learner=world["l2"], offer=world["o2"], rank=1)])
    db.session.commit()
    return world


def placements_of(round_id):
    return {(p.learner_id, p.offer_id, str(p.status)) for p in db.session.scalars(
        sa.select(Placement).where(Placement.round_id == round_id))}


def start(client, round_id, kind="full"):
    return client.post(f"/officer/rounds/{round_id}/runs", data={"kind": kind})


def deadline_passes(round_id):
    """Move the round's deadline for choices into the past (publishing needs it)."""
    from datetime import UTC, datetime, timedelta

    db.session.get(AllocationRound, round_id).preference_deadline = (
        datetime.now(UTC) - timedelta(minutes=1))
    db.session.commit()


def test_create_round_through_form(client, auth, world):
    auth.login("officer1@example.test")
    page = client.get("/officer/rounds/new")
    assert page.status_code == 200
    assert "HTQ Health (University Two" in page.get_data(as_text=True)
    resp = client.post("/officer/rounds/new", data={
        "name": "Pooled autumn", "programmes": [world["prog1"].id, world["prog2"].id],
        "preference_deadline": "1 3 2027", "max_preferences": "4", "rank_cost": "linear",
        "fallback": "no", "verified_checks": "yes", "time_limit_s": "30"})
    assert resp.status_code == 303
    r = db.session.scalar(sa.select(AllocationRound).where(AllocationRound.name == "Pooled autumn"))
    assert r.max_preferences == 4
    assert r.rank_cost == "linear"
    assert r.fallback is False
    assert r.require_verified_checks is True
    assert {p.id for p in r.providers} == {world["p1"].id, world["p2"].id}
    assert r.provider_id == world["p1"].id


def test_create_round_bad_input(client, auth, world):
    auth.login("officer1@example.test")
    resp = client.post("/officer/rounds/new", data={"name": "", "max_preferences": "99",
                                                    "time_limit_s": "0"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "Enter a name for the round" in body
    assert "Choices must be between 1 and 50" in body
    assert db.session.scalar(sa.select(sa.func.count(AllocationRound.id))) == 1


@pytest.mark.parametrize("email", ["emp1@example.test", "learner1@example.test",
                                   "admin@example.test"])
def test_other_roles_cannot_reach_officer_pages(client, auth, world, email):
    auth.login(email)
    rid = world["round"].id
    for url in ["/officer/rounds/", "/officer/rounds/new", f"/officer/rounds/{rid}",
                f"/officer/rounds/{rid}/placements", f"/officer/rounds/{rid}/audit",
                f"/officer/rounds/{rid}/problem.json", f"/officer/rounds/{rid}/override"]:
        assert client.get(url).status_code == 403, url
    assert start(client, rid).status_code == 403
    assert client.post(f"/officer/rounds/{rid}/publish").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0


def test_signed_out_is_sent_to_login(client, world):
    resp = client.get(f"/officer/rounds/{world['round'].id}")
    assert resp.status_code == 302
    assert "/auth/login" in resp.headers["Location"]


def test_run_allocation_end_to_end(client, auth, inline, prefs):
    w = prefs
    rid = w["round"].id
    auth.login("officer1@example.test")
    resp = start(client, rid)
    assert resp.status_code == 303
    run = db.session.scalar(sa.select(AllocationRun))
    assert resp.headers["Location"].endswith(f"/officer/rounds/{rid}/runs/{run.id}")
    assert run.status == JobStatus.SUCCEEDED
    assert run.problem["format"] == "placement-problem/1"
    assert placements_of(rid) == {(w["l1"].id, w["o1"].id, "proposed"),
                                  (w["l2"].id, w["o2"].id, "proposed")}
    page = client.get(f"/officer/rounds/{rid}/runs/{run.id}").get_data(as_text=True)
    assert "1 of 1" in page  # mandated placed
    assert "2 of 2" in page
    assert "data-chart" in page
    assert "Places filled at each offer" in page
    fill = client.get(f"/officer/rounds/{rid}/runs/{run.id}/offers.csv").get_data(as_text=True)
    assert f"O{w['o1'].id},Acme Digital,Junior developer,2,1" in fill
    progress = client.get(f"/officer/rounds/{rid}/runs/{run.id}/progress.json").get_json()
    assert progress["status"] == "succeeded"
    problem = client.get(f"/officer/rounds/{rid}/runs/{run.id}/problem.json")
    assert problem.get_json() == run.problem
    assert client.get(f"/officer/rounds/{rid}/problem.json").get_json()["format"] == \
        "placement-problem/1"
    # A second run replaces the proposals and is compared with the first.
    start(client, rid)
    second = db.session.scalar(sa.select(AllocationRun).order_by(AllocationRun.id.desc()))
    page = client.get(f"/officer/rounds/{rid}/runs/{second.id}").get_data(as_text=True)
    assert f"Compared with run {run.id}" in page
    assert len(placements_of(rid)) == 2


def test_run_returns_at_once_with_thread_worker(client, auth, app, prefs, monkeypatch):
    rid = prefs["round"].id
    gate = threading.Event()

    def slow_solve(problem, progress=None):
        from solver import solve
        gate.wait(10)
        return solve(problem, progress=progress)

    monkeypatch.setattr("placements.rounds.jobs.solve", slow_solve)
    auth.login("officer1@example.test")
    resp = start(client, rid)
    assert resp.status_code == 303
    run_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "data-poll-url" in page
    assert "http-equiv=\"refresh\"" in page
    assert client.get(f"/officer/rounds/{rid}/runs/{run_id}/progress.json").get_json()[
        "status"] in ("queued", "running")
    gate.set()
    for _ in range(200):
        db.session.expire_all()
        if db.session.get(AllocationRun, run_id).status == JobStatus.SUCCEEDED:
            break
        threading.Event().wait(0.05)
    assert db.session.get(AllocationRun, run_id).status == JobStatus.SUCCEEDED
    assert len(placements_of(rid)) == 2


def test_only_one_active_run_per_round(client, auth, app, prefs):
    app.config["JOB_WORKER"] = "manual"  # runs stay queued
    rid = prefs["round"].id
    auth.login("officer1@example.test")
    assert start(client, rid).status_code == 303
    resp = start(client, rid)
    assert resp.status_code == 303
    assert "already in progress" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 1


def test_two_runs_started_at_once_give_one_run(app, prefs):
    """Two concurrent starts: the database's partial unique index lets only one through."""
    app.config["JOB_WORKER"] = "manual"
    rid, officer_id = prefs["round"].id, prefs["officer1"].id
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        from placements.models import User
        with app.app_context():
            officer = db.session.get(User, officer_id)
            round_ = db.session.get(AllocationRound, rid)
            barrier.wait()
            try:
                services.start_run(officer, round_)
                db.session.commit()
                outcomes.append("started")
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                outcomes.append(getattr(exc, "message", str(exc)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "started"
    assert outcomes.count("started") == 1
    assert any("already in progress" in o for o in outcomes)
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 1


def test_failing_solver_leaves_previous_allocation(client, auth, inline, prefs, monkeypatch):
    rid = prefs["round"].id
    auth.login("officer1@example.test")
    start(client, rid)
    before = placements_of(rid)
    assert before

    def broken(problem, progress=None):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("placements.rounds.jobs.solve", broken)
    resp = start(client, rid)
    db.session.expire_all()
    failed = db.session.scalar(sa.select(AllocationRun).order_by(AllocationRun.id.desc()))
    assert failed.status == JobStatus.FAILED
    assert "solver exploded" in failed.error
    assert placements_of(rid) == before
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "This run failed" in page
    assert "solver exploded" in page
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "run.failed"))
    # The round is free for another run.
    monkeypatch.undo()
    start(client, rid)
    db.session.expire_all()
    assert db.session.scalar(sa.select(AllocationRun).order_by(
        AllocationRun.id.desc())).status == JobStatus.SUCCEEDED


def test_stale_run_is_marked_failed(client, auth, app, prefs):
    from datetime import timedelta

    from placements.models import utcnow
    rid = prefs["round"].id
    from tests.conftest import make_run
    run = make_run(rid, "running", subject=f"round:{rid}:allocation",
                   heartbeat_at=utcnow() - timedelta(minutes=10))
    db.session.commit()
    auth.login("officer1@example.test")
    data = client.get(f"/officer/rounds/{rid}/runs/{run.id}/progress.json").get_json()
    assert data["status"] == "failed"
    assert "worker stopped" in data["error"]


def test_partner_officer_views_but_cannot_run(client, auth, inline, prefs):
    rid = prefs["round"].id
    auth.login("officer2@example.test")
    assert client.get(f"/officer/rounds/{rid}").status_code == 200
    assert "Only officers of College One" in client.get(
        f"/officer/rounds/{rid}").get_data(as_text=True)
    assert start(client, rid).status_code == 403
    assert client.post(f"/officer/rounds/{rid}/publish").status_code == 403
    assert client.get(f"/officer/rounds/{rid}/override").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0


def test_officer_outside_round_gets_404(client, auth, inline, prefs):
    from placements.models import Provider, ProviderKind, Role
    from tests.conftest import make_user
    other = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(other)
    db.session.flush()
    make_user("outsider@example.test", Role.OFFICER, provider=other)
    db.session.commit()
    auth.login("outsider@example.test")
    rid = prefs["round"].id
    assert client.get(f"/officer/rounds/{rid}").status_code == 404
    assert start(client, rid).status_code == 404
    assert "Spring" not in client.get("/officer/rounds/").get_data(as_text=True)


def test_lock_unlock_and_override(client, auth, inline, prefs):
    w = prefs
    rid = w["round"].id
    auth.login("officer1@example.test")
    start(client, rid)
    p1 = db.session.scalar(sa.select(Placement).where(Placement.learner_id == w["l1"].id))
    assert client.post(f"/officer/rounds/{rid}/placements/{p1.id}/lock",
                       data={"reason": "in work"}).status_code == 303
    lock = db.session.scalar(sa.select(PlacementLock))
    assert (lock.learner_id, lock.offer_id, lock.reason) == (w["l1"].id, w["o1"].id, "in work")
    start(client, rid)
    run = db.session.scalar(sa.select(AllocationRun).order_by(AllocationRun.id.desc()))
    assert {"learner": f"L{w['l1'].id}", "offer": f"O{w['o1'].id}"} in run.problem["locked"]
    assert client.post(f"/officer/rounds/{rid}/locks/{lock.id}/delete").status_code == 303
    assert db.session.scalar(sa.select(PlacementLock)) is None

    # Override: learner 1 (Digital) to the care offer breaks sector, DBS and capacity.
    url = f"/officer/rounds/{rid}/override"
    data = {"student_ref": "A1", "offer_id": w["o2"].id, "reason": "Employer asked for them"}
    resp = client.post(url, data=data)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "The offer is in Health and science" in body
    assert "Enhanced DBS check" in body
    assert "The offer is full" in body
    assert placements_of(rid) >= {(w["l1"].id, w["o1"].id, "proposed")}
    assert client.post(url, data={**data, "reason": ""}).status_code == 400
    resp = client.post(url, data={**data, "confirm": "y"})
    assert resp.status_code == 303
    p1 = db.session.scalar(sa.select(Placement).where(Placement.learner_id == w["l1"].id))
    assert (p1.offer_id, p1.source) == (w["o2"].id, "override")
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "placement.overridden"))
    assert event.actor_id == w["officer1"].id
    assert event.detail["reason"] == "Employer asked for them"
    assert event.detail["warnings"]
    audit = client.get(f"/officer/rounds/{rid}/audit").get_data(as_text=True)
    assert "Placed by hand" in audit
    assert "Employer asked for them" in audit
    assert "Run started" in audit


def test_override_unknown_learner(client, auth, inline, prefs):
    auth.login("officer1@example.test")
    resp = client.post(f"/officer/rounds/{prefs['round'].id}/override",
                       data={"student_ref": "NOPE", "offer_id": prefs["o1"].id, "reason": "x"})
    assert resp.status_code == 400
    assert "No learner with that student number" in resp.get_data(as_text=True)


def test_publish_and_repair(client, auth, inline, prefs, app):
    w = prefs
    rid = w["round"].id
    auth.login("officer1@example.test")
    start(client, rid)
    deadline_passes(rid)
    assert publish(client, rid).status_code == 303
    assert placements_of(rid) == {(w["l1"].id, w["o1"].id, "published"),
                                  (w["l2"].id, w["o2"].id, "published")}
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).status == "published"
    mails = db.session.scalars(sa.select(OutboxMessage.to_address)).all()
    assert {"learner1@example.test", "learner2@example.test", "emp1@example.test",
            "emp2@example.test"} <= set(mails)
    sent_before = len(mails)

    # The care employer withdraws its offer; another digital offer appears.
    from datetime import date

    from placements.models import PlacementOffer
    w["o2"].status = "withdrawn"
    o3 = PlacementOffer(employer=w["e1"], site=w["s1"], title="Tester", sector="Digital",
                        capacity=1, start_date=date(2027, 2, 1), end_date=date(2027, 5, 1),
                        hours_per_week=30, requirements=[])
    db.session.add(o3)
    db.session.get(Placement, db.session.scalar(sa.select(Placement.id).where(
        Placement.learner_id == w["l1"].id))).status = PlacementStatus.ACCEPTED
    db.session.commit()
    resp = start(client, rid, kind="repair")
    run = db.session.scalar(sa.select(AllocationRun).order_by(AllocationRun.id.desc()))
    assert run.kind == "repair"
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.problem["previous"]
    assert {"learner": f"L{w['l1'].id}", "offer": f"O{w['o1'].id}"} in run.problem["locked"]
    # Learner 2 could not be re-placed (no other care offer): removal pending, still visible.
    p2 = db.session.scalar(sa.select(Placement).where(Placement.learner_id == w["l2"].id))
    assert p2.status == PlacementStatus.PUBLISHED
    assert p2.pending_change == "removal"
    assert publish(client, rid).status_code == 303
    db.session.expire_all()
    assert placements_of(rid) == {(w["l1"].id, w["o1"].id, "accepted"),
                                  (w["l2"].id, w["o2"].id, "withdrawn")}
    new_mail = db.session.scalars(sa.select(OutboxMessage.to_address).order_by(
        OutboxMessage.id).offset(sent_before)).all()
    assert "learner2@example.test" in new_mail
    assert "learner1@example.test" not in new_mail  # unchanged: not told again
    # Nothing left to publish.
    page = client.get(f"/officer/rounds/{rid}/publish").get_data(as_text=True)
    assert "There is nothing new to publish" in page
    assert 'name="digest"' not in page
    resp = client.post(f"/officer/rounds/{rid}/publish", data={"seen": 2, "digest": "x"})
    assert "There is nothing new to publish" in client.get(resp.headers["Location"]).get_data(
        as_text=True)


def test_repair_moves_published_placement(app, inline, prefs):
    """A repair that moves a learner keeps the old placement visible until publication."""
    from datetime import date

    from placements.models import PlacementOffer
    w = prefs
    r, officer = w["round"], w["officer1"]
    run = services.start_run(officer, r)
    db.session.commit()
    from placements.jobs import execute
    execute(app, run.job_id)
    deadline_passes(r.id)
    publication.publish_round(officer, r)
    db.session.commit()
    o3 = PlacementOffer(employer=w["e1"], site=w["s1"], title="Tester", sector="Digital",
                        capacity=1, start_date=date(2027, 2, 1), end_date=date(2027, 5, 1),
                        hours_per_week=30, requirements=[])
    db.session.add(o3)
    w["o1"].status = "withdrawn"
    db.session.commit()
    run = services.start_run(officer, r, kind="repair")
    db.session.commit()
    execute(app, run.job_id)
    db.session.expire_all()
    p1 = db.session.scalar(sa.select(Placement).where(Placement.learner_id == w["l1"].id))
    assert (p1.offer_id, p1.status, p1.pending_change, p1.pending_offer_id) == (
        w["o1"].id, PlacementStatus.PUBLISHED, "move", o3.id)
    assert services.pending_changes(r) == 1
    counts = publication.publish_round(officer, r)
    db.session.commit()
    assert counts["moved"] == 1
    assert counts["learners_told"] == 1
    assert (p1.offer_id, p1.pending_change) == (o3.id, None)


def test_placements_csv_is_safe(client, auth, inline, prefs):
    prefs["l1"].user.name = "=cmd|calc"
    db.session.commit()
    auth.login("officer1@example.test")
    start(client, prefs["round"].id)
    body = client.get(f"/officer/rounds/{prefs['round'].id}/placements.csv").get_data(
        as_text=True)
    assert "'=cmd|calc" in body
    assert "student_ref,learner,employer" in body
    page = client.get(f"/officer/rounds/{prefs['round'].id}/placements")
    assert page.status_code == 200


def test_placements_page_counts_what_it_lists(client, auth, inline, prefs):
    """The page's total is the round's placements (counted from its index), and with a
    search the placements that match, the same as the list holds."""
    from placements.rounds import services as round_services

    auth.login("officer1@example.test")
    rid = prefs["round"].id
    start(client, rid)
    total = db.session.scalar(sa.select(sa.func.count(Placement.id)).where(
        Placement.round_id == rid))
    assert total >= 2
    page = client.get(f"/officer/rounds/{rid}/placements").get_data(as_text=True)
    assert f"{total} placements</caption>" in page
    round_ = db.session.get(AllocationRound, rid)
    ref = prefs["l1"].student_ref
    listed = db.session.scalars(round_services.placements_stmt(round_, ref)).all()
    assert round_services.placements_total(round_, ref) == len(listed) < total
    searched = client.get(f"/officer/rounds/{rid}/placements?q={ref}").get_data(
        as_text=True)
    assert len(listed) == 1
    assert f"1 placement matching “{ref}”</caption>" in searched


def test_round_pages_render(client, auth, inline, prefs):
    auth.login("officer1@example.test")
    rid = prefs["round"].id
    assert "Spring" in client.get("/officer/rounds/").get_data(as_text=True)
    detail = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "Run allocation" in detail
    start(client, rid)
    detail = client.get(f"/officer/rounds/{rid}").get_data(as_text=True)
    assert "Check and publish" not in detail  # choices are still open
    assert "close choices early" in detail.lower()
    deadline_passes(rid)
    assert "Check and publish" in client.get(f"/officer/rounds/{rid}").get_data(as_text=True)


def test_publish_needs_an_allocation(client, auth, prefs):
    rid = prefs["round"].id
    auth.login("officer1@example.test")
    resp = client.post(f"/officer/rounds/{rid}/publish", data=publish_form(client, rid))
    assert resp.status_code == 303
    assert "Run an allocation first" in client.get(resp.headers["Location"]).get_data(
        as_text=True)
    db.session.expire_all()
    assert db.session.get(AllocationRound, rid).status == "open"
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


def test_button_posts_need_csrf(make_app, prefs):
    from tests.conftest import PASSWORD
    app = make_app(WTF_CSRF_ENABLED=True, JOB_WORKER="inline")
    client = app.test_client()
    with app.app_context():
        rid = db.session.scalar(sa.select(AllocationRound.id))
    import re
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    client.post("/auth/login", data={"email": "officer1@example.test", "password": PASSWORD,
                                     "csrf_token": token.group(1)})
    assert client.get("/officer/rounds/").status_code == 200
    assert client.post(f"/officer/rounds/{rid}/runs").status_code == 400
    assert client.post(f"/officer/rounds/{rid}/publish").status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0
