"""Hours pages and services: logging, verification, permissions, dashboards, import, export."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placements import create_app
from placements.extensions import db
from placements.hours import calc, imports, services
from placements.models import (
    AuditEvent,
    HoursEntry,
    HoursKind,
    HoursLearnerTotal,
    HoursProgrammeMonth,
    HoursSource,
    HoursStatus,
    Placement,
    PlacementStatus,
    utcnow,
)
from placements.models.hours import total_column

TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    from placements.api import services as api_services

    monkeypatch.setattr(services, "today_uk", lambda: TODAY)
    monkeypatch.setattr(api_services, "today_uk", lambda: TODAY)
    monkeypatch.setattr(imports, "today_uk", lambda: TODAY)


@pytest.fixture
def placed(world):
    """Learner 1 placed at Acme's offer, learner 2 at Beta Care's (both published)."""
    p1 = Placement(round=world["round"], learner=world["l1"], offer=world["o1"],
                   status=PlacementStatus.PUBLISHED)
    p2 = Placement(round=world["round"], learner=world["l2"], offer=world["o2"],
                   status=PlacementStatus.ACCEPTED)
    world["prog1"].code = "SWD"
    world["prog2"].code = "HLT"
    db.session.add_all([p1, p2])
    db.session.commit()
    return {**world, "pl1": p1, "pl2": p2}


def dmy(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def log(client, day=date(2026, 11, 2), hours="7.5", kind="live-brief", placement="",
        note=""):
    return client.post("/hours/", data={"entry_date": dmy(day), "hours": hours, "kind": kind,
                                        "placement": placement, "note": note})


def entries() -> list[HoursEntry]:
    return list(db.session.scalars(sa.select(HoursEntry).order_by(HoursEntry.id)))


def totals() -> dict:
    """Running totals as {(learner, kind, status): qh}, zero values left out."""
    out = {}
    for row in db.session.scalars(sa.select(HoursLearnerTotal)):
        for kind in HoursKind:
            for status in (HoursStatus.VERIFIED, HoursStatus.PENDING):
                value = getattr(row, total_column(kind, status))
                if value:
                    out[(row.learner_id, kind, status)] = value
    return out


def assert_totals_match_entries():
    """The running totals equal totals recomputed from the entries."""
    kept = totals()
    months = {(m.programme_id, m.month, m.kind, m.status): m.quarter_hours
              for m in db.session.scalars(sa.select(HoursProgrammeMonth)) if m.entries}
    services.rebuild_totals()
    assert totals() == kept
    assert {(m.programme_id, m.month, m.kind, m.status): m.quarter_hours
            for m in db.session.scalars(sa.select(HoursProgrammeMonth))} == months
    db.session.rollback()


# --- learner logging ------------------------------------------------------------------------

def test_learner_logs_placement_hours_pending_until_verified(client, auth, placed):
    auth.login("learner1@example.test")
    page = client.get("/hours/")
    assert page.status_code == 200
    assert "Junior developer at Acme Digital" in page.text
    response = log(client, kind="placement", placement=str(placed["pl1"].id), hours="7.25",
                   note="Sprint planning")
    assert response.status_code == 303
    [entry] = entries()
    assert (entry.kind, entry.status, entry.quarter_hours, entry.source) == (
        HoursKind.PLACEMENT, HoursStatus.PENDING, 29, HoursSource.LEARNER)
    assert entry.placement_id == placed["pl1"].id
    assert totals() == {(placed["l1"].id, HoursKind.PLACEMENT, HoursStatus.PENDING): 29}
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "HoursEntry")) == "hours.logged"
    page = client.get("/hours/")
    assert "Sprint planning" in page.text
    assert "7.25 hours (not counted yet)" in page.text
    assert_totals_match_entries()


def test_learner_logs_live_brief_without_placement(client, auth, placed):
    auth.login("learner2@example.test")
    assert log(client, kind="simulated", hours="6").status_code == 303
    [entry] = entries()
    assert entry.kind is HoursKind.SIMULATED
    assert entry.placement_id is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"hours": "-1"}, "Hours must be more than 0"),
    ({"hours": "0"}, "Hours must be more than 0"),
    ({"hours": "12.5"}, "Hours must be 12 or fewer in a day"),
    ({"hours": "7.1"}, "Enter hours in quarter hours"),
    ({"hours": "lots"}, "Enter hours as a number"),
    ({"hours": ""}, "Enter the number of hours"),
    ({"day": TODAY + timedelta(days=1)}, "The date must be today or in the past"),
    ({"day": date(2026, 8, 31)}, "on or after the programme start"),
    ({"kind": "classroom"}, "Select one of the options in the list"),
    ({"kind": "placement"}, "Select the placement the hours were spent on"),
])
def test_bad_input_is_a_form_error_and_saves_nothing(client, auth, placed, changes, message):
    auth.login("learner1@example.test")
    response = log(client, **changes)
    assert response.status_code == 400
    assert message in response.text
    assert "There is a problem" in response.text
    assert entries() == []
    assert totals() == {}


def test_duplicate_day_and_kind_is_refused(client, auth, placed):
    auth.login("learner1@example.test")
    assert log(client, hours="3").status_code == 303
    response = log(client, hours="4")
    assert response.status_code == 400
    assert "already logged live employer brief or project hours on 2 November 2026" in \
        response.text
    assert [e.quarter_hours for e in entries()] == [12]
    # Another kind on the same day is fine.
    assert log(client, kind="simulated", hours="2").status_code == 303


def test_cannot_log_against_someone_elses_placement(client, auth, placed):
    auth.login("learner1@example.test")
    response = log(client, kind="placement", placement=str(placed["pl2"].id))
    assert response.status_code == 400
    assert entries() == []


def test_cannot_log_against_a_proposed_placement(client, auth, placed):
    placed["pl1"].status = PlacementStatus.PROPOSED
    db.session.commit()
    auth.login("learner1@example.test")
    response = log(client, kind="placement", placement=str(placed["pl1"].id))
    assert response.status_code == 400
    assert entries() == []


def test_service_refuses_someone_elses_placement(placed):
    from placements.domain import NotAllowed

    data = services.EntryData(entry_date=date(2026, 11, 2), quarter_hours=8,
                              kind=HoursKind.PLACEMENT, placement_id=placed["pl2"].id)
    with pytest.raises(NotAllowed):
        services.log_hours(placed["l1"].user, data, today=TODAY)


def test_learner_withdraws_own_pending_entry_only(client, auth, placed):
    auth.login("learner1@example.test")
    log(client)
    [entry] = entries()
    auth.logout()
    auth.login("learner2@example.test")
    assert client.post(f"/hours/entries/{entry.id}/withdraw").status_code == 404
    assert len(entries()) == 1
    auth.logout()
    auth.login("learner1@example.test")
    assert client.post(f"/hours/entries/{entry.id}/withdraw").status_code == 303
    assert entries() == []
    assert totals() == {}


def test_verified_hours_cannot_be_withdrawn(client, auth, placed):
    auth.login("learner1@example.test")
    log(client)
    [entry] = entries()
    services.verify_entry(placed["officer1"], entry)
    db.session.commit()
    response = client.post(f"/hours/entries/{entry.id}/withdraw", follow_redirects=True)
    assert "Verified hours cannot be withdrawn" in response.text
    assert len(entries()) == 1


# --- verification ---------------------------------------------------------------------------

@pytest.fixture
def pending(client, auth, placed):
    """A pending placement entry of learner 1 at Acme (employer 1)."""
    auth.login("learner1@example.test")
    log(client, kind="placement", placement=str(placed["pl1"].id), hours="8")
    auth.logout()
    [entry] = entries()
    return entry


def test_employer_verifies_hours_at_own_offer(client, auth, placed, pending):
    auth.login("emp1@example.test")
    page = client.get("/hours/verify/")
    assert page.status_code == 200
    assert "Learner1" in page.text
    assert client.post(f"/hours/verify/entries/{pending.id}/verify").status_code == 303
    db.session.refresh(pending)
    assert pending.status is HoursStatus.VERIFIED
    assert pending.verified_by_id == placed["emp1"].id
    assert totals() == {(placed["l1"].id, HoursKind.PLACEMENT, HoursStatus.VERIFIED): 32}
    # Deciding twice is refused.
    response = client.post(f"/hours/verify/entries/{pending.id}/verify", follow_redirects=True)
    assert "already verified" in response.text
    assert_totals_match_entries()


def test_other_employer_cannot_see_or_verify(client, auth, placed, pending):
    auth.login("emp2@example.test")
    assert "Learner1" not in client.get("/hours/verify/").text
    assert client.post(f"/hours/verify/entries/{pending.id}/verify").status_code == 404
    assert client.get(f"/hours/verify/entries/{pending.id}/reject").status_code == 404
    assert client.post(f"/hours/verify/entries/{pending.id}/reject",
                       data={"reason": "no"}).status_code == 404
    db.session.refresh(pending)
    assert pending.status is HoursStatus.PENDING


def test_learner_cannot_verify(client, auth, placed, pending):
    auth.login("learner1@example.test")
    assert client.post(f"/hours/verify/entries/{pending.id}/verify").status_code == 403
    assert client.post(f"/hours/officer/entries/{pending.id}/verify").status_code == 403
    db.session.refresh(pending)
    assert pending.status is HoursStatus.PENDING


def test_employer_rejects_with_a_reason(client, auth, placed, pending):
    auth.login("emp1@example.test")
    response = client.post(f"/hours/verify/entries/{pending.id}/reject", data={"reason": "  "})
    assert response.status_code == 400
    assert "Enter the reason" in response.text
    db.session.refresh(pending)
    assert pending.status is HoursStatus.PENDING
    response = client.post(f"/hours/verify/entries/{pending.id}/reject",
                           data={"reason": "Was on leave that day"})
    assert response.status_code == 303
    db.session.refresh(pending)
    assert pending.status is HoursStatus.REJECTED
    assert pending.reject_reason == "Was on leave that day"
    auth.logout()
    auth.login("learner1@example.test")
    assert "Was on leave that day" in client.get("/hours/").text
    assert_totals_match_entries()


def test_officer_verifies_own_learner_only(client, auth, placed, pending):
    auth.login("officer2@example.test")
    assert client.post(f"/hours/officer/entries/{pending.id}/verify").status_code == 404
    auth.logout()
    auth.login("officer1@example.test")
    assert client.post(f"/hours/officer/entries/{pending.id}/verify",
                       data={"next": "attention"}).headers["Location"].endswith(
        "/hours/officer/attention")
    db.session.refresh(pending)
    assert pending.status is HoursStatus.VERIFIED


# --- officer pages --------------------------------------------------------------------------

OFFICER_PAGES = ["/hours/officer/", "/hours/officer/attention", "/hours/officer/hours.csv"]


@pytest.mark.parametrize("url", OFFICER_PAGES)
@pytest.mark.parametrize("email", ["learner1@example.test", "emp1@example.test",
                                   "admin@example.test"])
def test_officer_pages_refuse_other_roles(client, auth, placed, url, email):
    auth.login(email)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/hours/", "/hours/verify/", *OFFICER_PAGES])
def test_pages_need_sign_in(client, placed, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_learner_page_refuses_other_roles(client, auth, placed):
    auth.login("officer1@example.test")
    assert client.get("/hours/").status_code == 403
    assert client.get("/hours/verify/").status_code == 403


def test_officer_sees_only_own_programmes_and_learners(client, auth, placed):
    auth.login("officer1@example.test")
    assert client.get(f"/hours/officer/programmes/{placed['prog1'].id}").status_code == 200
    assert client.get(f"/hours/officer/programmes/{placed['prog2'].id}").status_code == 404
    assert client.get(
        f"/hours/officer/programmes/{placed['prog2'].id}/hours.csv").status_code == 404
    assert client.get(f"/hours/officer/learners/{placed['l1'].id}").status_code == 200
    assert client.get(f"/hours/officer/learners/{placed['l2'].id}").status_code == 404
    response = client.post(f"/hours/officer/learners/{placed['l2'].id}",
                           data={"entry_date": dmy(date(2026, 11, 2)), "hours": "6",
                                 "kind": "classroom"})
    assert response.status_code == 404
    assert entries() == []


def test_officer_records_verified_classroom_hours(client, auth, placed):
    auth.login("officer1@example.test")
    url = f"/hours/officer/learners/{placed['l1'].id}"
    response = client.post(url, data={"entry_date": dmy(date(2026, 11, 2)), "hours": "6",
                                      "kind": "classroom", "placement": ""})
    assert response.status_code == 303
    [entry] = entries()
    assert (entry.status, entry.source, entry.kind) == (HoursStatus.VERIFIED,
                                                        HoursSource.OFFICER,
                                                        HoursKind.CLASSROOM)
    response = client.post(url, data={"entry_date": dmy(date(2026, 11, 2)), "hours": "13",
                                      "kind": "classroom"})
    assert response.status_code == 400
    assert len(entries()) == 1


def _add(learner, day, qh, kind=HoursKind.CLASSROOM, status=HoursStatus.VERIFIED,
         placement=None, created_at=None):
    entry = HoursEntry(learner_id=learner.id, entry_date=day, quarter_hours=qh, kind=kind,
                       status=status, placement_id=placement.id if placement else None,
                       created_at=created_at or utcnow())
    db.session.add(entry)
    db.session.flush()
    services._count_entry(entry, learner)
    return entry


def test_dashboard_aggregates_and_statuses(placed):
    l1 = placed["l1"]  # mandated 150 h, planned 1200 h, 2026-09-01 .. 2027-07-01
    for i in range(10):
        _add(l1, date(2026, 9, 7) + timedelta(days=i), 24)
    _add(l1, date(2026, 10, 2), 20, HoursKind.LIVE_BRIEF)
    _add(l1, date(2026, 10, 3), 8, HoursKind.SIMULATED, HoursStatus.PENDING)
    db.session.commit()
    board = services.board([placed["prog1"]], today=TODAY)
    assert board.learner_count == 1
    # No placement hours yet, but the published placement (1 Feb to 1 May 2027, 30 hours a
    # week: 13 weeks) schedules 390 hours: on track.
    assert board.status_count(calc.ON_TRACK) == 1
    [row] = services.learner_rows(placed["prog1"], TODAY)
    assert (row.classroom, row.work_integrated, row.placement, row.pending) == (240, 20, 0, 8)
    assert row.scheduled == 390 * 4
    assert row.share == pytest.approx(20 / 260)
    assert row.status is calc.Status.ON_TRACK
    assert dict(board.distribution())["5% to 9%"] == 1
    kinds = {k: (v, p) for k, v, p in board.kind_totals}
    assert kinds[HoursKind.CLASSROOM] == (240, 0)
    assert kinds[HoursKind.SIMULATED] == (0, 8)
    assert [m for m, _ in board.cumulative_shares()] == [date(2026, 9, 1),
                                                         date(2026, 10, 1)]
    assert board.cumulative_shares()[1][1] == pytest.approx(20 / 260)
    assert board.overall_share() == pytest.approx(20 / 260)
    summary = services.learner_hours(l1, TODAY)
    assert summary.assessment.status is calc.Status.ON_TRACK
    assert summary.assessment.scheduled_qh == 390 * 4
    assert summary.reasons == []


#: Schedules to test the SQL status against: none, ended, under way, to come, past the end.
SCHEDULES = [
    [],
    [calc.Scheduled(date(2026, 9, 7), date(2026, 10, 2), 30)],
    [calc.Scheduled(date(2026, 11, 2), date(2027, 1, 29), 14)],
    [calc.Scheduled(date(2027, 2, 1), date(2027, 5, 28), 37)],
    [calc.Scheduled(date(2027, 6, 14), date(2027, 9, 30), 30),
     calc.Scheduled(date(2026, 12, 1), date(2026, 12, 4), 21)],
]


def test_sql_status_and_band_agree_with_calc(placed):
    """The SQL rule of the dashboards gives calc.assess's status at the edges."""
    import itertools

    from placements.hours.calc import Logged

    programme = placed["prog1"]
    terms = services.terms_of(programme)  # 4800 qh planned, 20%, 600 qh required
    values = [0, 1, 599, 600, 959, 960, 1200, 2400, 4800]
    cases = [(cr, wi, pl) for cr, wi, pl in itertools.product(values, values, values)
             if pl <= wi]
    days = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 9, 2), date(2026, 12, 31),
            date(2027, 7, 1), date(2027, 9, 1)]
    table = sa.Table("status_cases", sa.MetaData(), sa.Column("n", sa.Integer),
                     sa.Column("cr", sa.Integer), sa.Column("wi", sa.Integer),
                     sa.Column("pl", sa.Integer), prefixes=["TEMPORARY"])
    table.create(db.session.connection())
    db.session.execute(table.insert(), [{"n": i, "cr": cr, "wi": wi, "pl": pl}
                                        for i, (cr, wi, pl) in enumerate(cases)])
    for day, schedule in itertools.product(days, SCHEDULES):
        sched = sum(calc.scheduled_qh(p, terms, day) for p in schedule)
        query = sa.select(table.c.n, services.status_sql(
            table.c.cr, table.c.wi, table.c.pl, sa.literal(sched), terms, day)
            ).order_by(table.c.n)
        got = [code for _, code in db.session.execute(query)]
        for (cr, wi, pl), code in zip(cases, got, strict=True):
            expected = calc.assess(Logged(cr, wi, pl), terms, day, schedule).status
            assert calc.STATUS_CODES[code] is expected, (day, cr, wi, pl, sched)
    for cr, wi, _ in cases:
        pct = db.session.scalar(sa.select(services.pct_sql(sa.literal(cr), sa.literal(wi))))
        band = calc.NO_HOURS_BAND if pct is None else calc.share_band(pct, 100 - pct)
        assert band == calc.share_band(wi, cr), (cr, wi)


def _learner(world, ref, programme="prog1"):
    from placements.geo import locate
    from placements.models import Learner, Role
    from tests.conftest import make_user

    where = locate("M1 1AA")
    prog = world[programme]
    learner = Learner(user=make_user(f"{ref.lower()}@example.test", Role.LEARNER,
                                     name=f"Learner {ref}"),
                      provider=prog.provider, programme=prog, student_ref=ref,
                      home_postcode=where.postcode, lat=where.lat, lon=where.lon)
    db.session.add(learner)
    return learner


def _offer(world, first, last, per_week=30, title="Junior developer"):
    from placements.models import PlacementOffer

    offer = PlacementOffer(employer=world["e1"], site=world["s1"], title=title,
                           sector="Digital", capacity=5, start_date=first, end_date=last,
                           hours_per_week=per_week, requirements=[])
    db.session.add(offer)
    return offer


def _round(world, name):
    from placements.models import AllocationRound

    round_ = AllocationRound(name=name, provider=world["p1"], providers=[world["p1"]],
                             programmes=[world["prog1"]],
                             preference_deadline=world["round"].preference_deadline)
    db.session.add(round_)
    return round_


@pytest.fixture
def scheduled(placed):
    """Learners of prog1 with placements in every state that matters to the schedule."""
    from placements.models import PendingChange

    w = placed
    second = _round(w, "Summer")
    offers = {
        "ended": _offer(w, date(2026, 9, 7), date(2026, 10, 2)),
        "under way": _offer(w, date(2026, 11, 2), date(2027, 1, 29), 14),
        "to come": _offer(w, date(2027, 2, 1), date(2027, 5, 28), 37),
        "past the end": _offer(w, date(2027, 6, 14), date(2027, 9, 30)),
        "moved to": _offer(w, date(2027, 3, 1), date(2027, 3, 26), 20, "Tester"),
    }
    P = PlacementStatus  # noqa: N806
    cases = {
        # ref: [(offer, status, round, pending change)]
        "S1": [("ended", P.ACCEPTED, w["round"], None)],
        "S2": [("under way", P.PUBLISHED, w["round"], None)],
        "S3": [("to come", P.ACCEPTED, w["round"], None),
               ("past the end", P.PUBLISHED, second, None)],
        "S4": [("to come", P.DECLINED, w["round"], None)],
        "S5": [("to come", P.WITHDRAWN, w["round"], None)],
        "S6": [("to come", P.PROPOSED, w["round"], None)],
        "S7": [("to come", P.PUBLISHED, w["round"], PendingChange.MOVE)],
        "S8": [("under way", P.ACCEPTED, w["round"], PendingChange.REMOVAL)],
        "S9": [],
    }
    learners = {}
    for ref, rows in cases.items():
        learner = learners[ref] = _learner(w, ref)
        for name, status, round_, change in rows:
            db.session.add(Placement(
                round=round_, learner=learner, offer=offers[name], status=status,
                pending_change=change,
                pending_offer=offers["moved to"] if change == PendingChange.MOVE else None))
    db.session.commit()
    return {**placed, "learners": learners, "offers": offers}


@pytest.mark.parametrize("today", [date(2026, 8, 31), date(2026, 11, 20), date(2027, 1, 29),
                                   date(2027, 1, 30), date(2027, 5, 28), date(2027, 7, 1),
                                   date(2027, 7, 2)])
def test_scheduled_hours_in_sql_agree_with_python(scheduled, today):
    """The SQL form of the schedule counts what calc.scheduled_qh counts over `schedules`:
    published and accepted placements as published, nothing declined, withdrawn or only
    proposed, a pending move at the offer as published, a pending removal until published."""
    programme = scheduled["prog1"]
    terms = services.terms_of(programme)
    sub = services.scheduled_sql(programme, today)
    in_sql = {lid: int(qh) for lid, qh in db.session.execute(sa.select(sub))}
    ids = [lr.id for lr in scheduled["learners"].values()] + [scheduled["l1"].id]
    plans = services.schedules(ids)
    in_python = {lid: sum(calc.scheduled_qh(p, terms, today) for p in plan)
                 for lid, plan in plans.items()}
    assert {k: v for k, v in in_sql.items() if v} == {k: v for k, v in in_python.items() if v}
    assert set(in_sql) == set(plans)
    learners = scheduled["learners"]
    for ref in ("S4", "S5", "S6", "S9"):
        assert learners[ref].id not in plans, ref
    assert [p.title for p in plans[learners["S7"].id]] == ["Junior developer"]  # as published
    assert len(plans[learners["S3"].id]) == 2
    # Rows and one learner's page say the same status.
    rows = {r.learner_id: r for r in services.learner_rows(programme, today)}
    assessed = services.assess_learners(list(services.learners_by_id(rows).values()), today)
    for lid, row in rows.items():
        assert row.status is assessed[lid][0].status, lid
        assert row.scheduled == assessed[lid][0].scheduled_qh, lid


def test_learner_with_a_scheduled_placement_is_on_track_on_every_page(client, auth, scheduled):
    """The issue's learner: an accepted placement 1 Feb to 28 May at 37 hours a week, no
    placement hours yet; on track on the dashboard, the officer's and the learner's pages."""
    learner = scheduled["learners"]["S3"]
    for i in range(10):
        _add(learner, date(2026, 9, 14) + timedelta(days=i), 24)
        _add(learner, date(2026, 10, 5) + timedelta(days=i), 8, HoursKind.LIVE_BRIEF)
    db.session.commit()
    [row] = [r for r in services.learner_rows(scheduled["prog1"], TODAY)
             if r.learner_id == learner.id]
    assert row.status is calc.Status.ON_TRACK
    from placements.api import services as api_services

    assert api_services.learner_hours(learner)["status"] == "on track"  # the API agrees
    auth.login("officer1@example.test")
    page = client.get(f"/hours/officer/learners/{learner.id}").text
    assert "On track" in page
    assert "Junior developer, Acme Digital (1 February 2027 to 28 May 2027, 37 hours a week)" \
        in page
    assert "629 hours still to come over 85 weekdays" in page
    export = client.get(f"/hours/officer/programmes/{scheduled['prog1'].id}/hours.csv").text
    line = next(x for x in export.splitlines() if x.startswith("S3,"))
    # 629 hours to come, and 84 of the second placement before the programme ends on 1 July.
    assert line.endswith(",on track,713,")
    client.post("/auth/logout")
    auth.login("s3@example.test")
    own = client.get("/hours/").text
    assert "On track" in own
    assert "629 hours still to come" in own


def test_programme_dashboard_and_export(client, auth, placed):
    _add(placed["l1"], date(2026, 9, 7), 24)
    _add(placed["l1"], date(2026, 9, 8), 8, HoursKind.LIVE_BRIEF)
    db.session.commit()
    auth.login("officer1@example.test")
    page = client.get(f"/hours/officer/programmes/{placed['prog1'].id}")
    assert page.status_code == 200
    assert "Learners by work-integrated share" in page.text
    assert "Work-integrated share over time" in page.text
    assert "25.0%" in page.text
    assert client.get(f"/hours/officer/programmes/{placed['prog1'].id}?status=met"
                      ).status_code == 200
    overview = client.get("/hours/officer/")
    assert "HTQ Software" in overview.text
    assert "HTQ Health" not in overview.text
    csv = client.get(f"/hours/officer/programmes/{placed['prog1'].id}/hours.csv")
    assert csv.mimetype == "text/csv"
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("student_ref,name,programme_code")
    assert lines[0].endswith(",status,scheduled_placement_hours,needs_attention_because")
    # The published placement schedules 390 hours: on track, nothing to say.
    assert lines[1] == "A1,Learner1,SWD,HTQ Software,6,2,0,0,25.0,20,150,on track,390,"
    assert len(lines) == 2
    all_csv = client.get("/hours/officer/hours.csv").text
    assert "B1" not in all_csv


def test_needs_attention_says_why_each_learner_is_listed(client, auth, scheduled):
    from placements.hours.calc import Concern

    learners = scheduled["learners"]
    l1, pl1 = scheduled["l1"], scheduled["pl1"]  # offer o1 runs 2027-02-01 .. 2027-05-01
    _add(l1, date(2026, 10, 1), 16, HoursKind.PLACEMENT, HoursStatus.PENDING, pl1,
         created_at=utcnow() - timedelta(days=20))
    _add(l1, date(2026, 10, 2), 16, HoursKind.LIVE_BRIEF, HoursStatus.PENDING,
         created_at=utcnow() - timedelta(days=3))
    _add(scheduled["l2"], date(2026, 10, 1), 16, HoursKind.LIVE_BRIEF, HoursStatus.PENDING,
         created_at=utcnow() - timedelta(days=30))
    # Everyone but l1 has classroom hours on plan and Friday live briefs, so that only the
    # placement rule can list them.
    for learner in learners.values():  # running totals only: 230 and 70 verified hours
        for kind, qh in ((HoursKind.CLASSROOM, 4 * 230), (HoursKind.LIVE_BRIEF, 4 * 70)):
            services.add_to_totals(learner.id, learner.programme_id, date(2026, 9, 1), kind,
                                   HoursStatus.VERIFIED, qh, 1)
    db.session.commit()
    attention = services.needs_attention(scheduled["officer1"], today=TODAY)
    assert [e.entry_date for e in attention.stale] == [date(2026, 10, 1)]
    assert attention.stale_total == 1  # learner 2 belongs to another provider
    assert [e.kind for e in attention.outside] == [HoursKind.PLACEMENT]
    why = {row.learner.student_ref: [r.concern for r in row.reasons]
           for row in attention.learners}
    assert why == {
        "A1": [Concern.WAITING],  # on track with its placement; one entry waits 20 days
        "S1": [Concern.PLACEMENT_SHORT],  # the placement ended with no hours logged
        "S2": [Concern.PLACEMENT_SHORT],  # 14 h a week to 29 January: 140 h, short of 150
        "S4": [Concern.NO_PLACEMENT],  # declined: nothing scheduled
        "S5": [Concern.NO_PLACEMENT],  # withdrawn
        "S6": [Concern.NO_PLACEMENT],  # proposed only: not published yet
        "S8": [Concern.PLACEMENT_SHORT, Concern.CHANGE_PENDING],  # removal waiting
        "S9": [Concern.NO_PLACEMENT],
    }
    assert attention.learners_total == 8
    assert attention.at_risk_total == 7
    rows = {row.learner.student_ref: row for row in attention.learners}
    assert rows["S2"].reasons[0].for_officer() == (
        "Logged 0 h of 150 placement hours with 10 weeks of placement left (140 h "
        "scheduled): 10 h short")
    auth.login("officer1@example.test")
    page = client.get("/hours/officer/attention")
    assert page.status_code == 200
    assert "Learners needing attention (8)" in page.text
    assert "No placement yet and mandated: 150 placement hours needed by 1 July 2027" \
        in page.text
    assert "1 entry waiting for verification over 14 days" in page.text
    assert "Removal from Junior developer, Acme Digital waiting to be published" in page.text
    assert "Waiting for verification for more than 14 days (1)" in page.text
    assert "outside the placement's dates (1)" in page.text
    # The learner whose removal waits is not told about it.
    client.post("/auth/logout")
    auth.login("s8@example.test")
    own = client.get("/hours/").text
    assert "Removal" not in own
    assert "You have 0 hours of verified placement time of the 150 hours" in own


def test_needs_attention_pages(client, auth, scheduled):
    for i in range(60):
        _learner(scheduled, f"N{i:02d}")
    db.session.commit()
    attention = services.needs_attention(scheduled["officer1"], today=TODAY, page=2)
    assert attention.learners_total == 60 + 7  # and S1, S2, S4, S5, S6, S8, S9
    assert attention.pages == 2
    auth.login("officer1@example.test")
    assert client.get("/hours/officer/attention?page=2").status_code == 200
    assert client.get("/hours/officer/attention?page=99").status_code == 200


# --- import ---------------------------------------------------------------------------------

def upload(client, text: str, import_type="learner"):
    import io

    kind = "hours-learners" if import_type == "learner" else "hours-timetable"
    return client.post(f"/officer/imports/{kind}", data={
        f"{kind}-file": (io.BytesIO(text.encode()), "hours.csv")},
        content_type="multipart/form-data")


def last_import() -> dict:
    from placements.models import Job

    db.session.expire_all()
    job = db.session.scalar(sa.select(Job).where(Job.kind == "import.csv")
                            .order_by(Job.id.desc()))
    return job.result


LEARNER_CSV = ("student_ref,date,hours,kind,note\n"
               "A1,2026-10-05,6,classroom,Week 4\n"
               "A1,06/10/2026,6.5,,\n"
               "A1,2026-10-07,3,live-brief,Brief\n")


def test_learner_import_creates_then_is_idempotent(client, auth, placed):
    auth.login("officer1@example.test")
    response = upload(client, LEARNER_CSV)
    assert response.status_code == 303
    assert sorted((e.entry_date.day, e.kind.value, e.quarter_hours, e.status.value,
                   e.source.value) for e in entries()) == [
        (5, "classroom", 24, "verified", "import"), (6, "classroom", 26, "verified", "import"),
        (7, "live-brief", 12, "verified", "import")]
    response = upload(client, LEARNER_CSV)
    assert response.status_code == 303
    assert {k: last_import()[k] for k in ("created", "updated", "unchanged")} == {
        "created": 0, "updated": 0, "unchanged": 3}
    assert len(entries()) == 3
    before = totals()
    assert before[(placed["l1"].id, HoursKind.CLASSROOM, HoursStatus.VERIFIED)] == 50
    # A changed row replaces the hours of that day.
    upload(client, "student_ref,date,hours\nA1,2026-10-05,4\n")
    assert totals()[(placed["l1"].id, HoursKind.CLASSROOM, HoursStatus.VERIFIED)] == 42
    assert len(entries()) == 3
    assert_totals_match_entries()


def test_import_verifies_a_pending_learner_entry_of_the_same_day(client, auth, placed):
    auth.login("learner1@example.test")
    log(client, day=date(2026, 10, 7), hours="3", kind="live-brief")
    auth.logout()
    auth.login("officer1@example.test")
    assert upload(client, LEARNER_CSV).status_code == 303
    assert len(entries()) == 3
    assert all(e.status is HoursStatus.VERIFIED for e in entries())
    assert_totals_match_entries()


def test_import_with_errors_writes_nothing_and_reports_every_row(client, auth, placed):
    auth.login("officer1@example.test")
    text = ("student_ref,date,hours,kind\n"
            "A1,2026-10-05,6,classroom\n"     # fine
            "ZZ9,2026-10-05,6,classroom\n"    # unknown learner
            "B1,2026-10-05,6,classroom\n"     # another provider's learner
            "A1,2026-12-25,6,classroom\n"     # future
            "A1,2026-10-06,13,classroom\n"    # too many hours
            "A1,2026-10-07,-2,classroom\n"    # negative
            "A1,2026-10-08,6,placement\n"     # placement not importable
            "A1,2026-10-05,5,classroom\n")    # duplicate of line 2
    response = upload(client, text)
    assert response.status_code == 400
    assert "nothing has been imported" in response.text
    for line, message in [(3, "No learner of yours has the student number ZZ9"),
                          (4, "No learner of yours has the student number B1"),
                          (5, "The date is in the future"),
                          (6, "12 or fewer"), (7, "more than 0"), (8, "Use one of"),
                          (9, "Same learner, date and kind as row 2")]:
        assert message in response.text, (line, message)
    from placements.imports import pipeline
    kind = pipeline.KINDS["hours-learners"]
    errors = pipeline.validate(kind, placed["officer1"], pipeline.read(
        kind, text, max_bytes=10**6, max_rows=100))
    assert [e.row for e in errors] == [3, 4, 5, 6, 7, 8, 9]
    db.session.rollback()
    assert entries() == []
    assert totals() == {}


def test_import_rejects_wrong_headers(client, auth, placed):
    auth.login("officer1@example.test")
    response = upload(client, "learner,when,hours\nA1,2026-10-05,6\n")
    assert response.status_code == 400
    assert "The column student_ref is missing" in response.text
    assert entries() == []


def test_timetable_import_adds_classroom_hours_for_every_learner(client, auth, placed):
    from placements.models import Learner, Role
    from tests.conftest import make_user

    other = Learner(user=make_user("learner3@example.test", Role.LEARNER),
                    provider=placed["p1"], programme=placed["prog1"], student_ref="A2",
                    home_postcode="M1 1AA", lat=53.4, lon=-2.2)
    db.session.add(other)
    db.session.commit()
    auth.login("officer1@example.test")
    text = "programme_code,date,hours\nSWD,2026-10-05,6\nswd,2026-10-06,5.5\n"
    assert upload(client, text, "timetable").status_code == 303
    assert len(entries()) == 4
    assert upload(client, text, "timetable").status_code == 303
    assert len(entries()) == 4
    assert totals()[(other.id, HoursKind.CLASSROOM, HoursStatus.VERIFIED)] == 46
    response = upload(client, "programme_code,date,hours\nHLT,2026-10-05,6\n", "timetable")
    assert response.status_code == 400
    assert "None of your programmes has the code HLT" in response.text
    assert len(entries()) == 4
    assert_totals_match_entries()


def test_import_templates(client, auth, placed):
    auth.login("officer1@example.test")
    text = client.get("/officer/imports/hours-timetable/template.csv").text
    assert text.lstrip("\ufeff").startswith("programme_code,date,hours")
    # The sample row names the officer's own programme, so it imports as downloaded.
    assert text.splitlines()[1].startswith("SWD,")
    assert client.get("/officer/imports/other/template.csv").status_code == 404


# --- CSRF -----------------------------------------------------------------------------------

def test_posts_need_a_csrf_token(tmp_path, placed):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'csrf.sqlite'}"})
    with app.app_context():
        db.create_all()
        client = app.test_client()
        response = client.post("/hours/verify/entries/1/verify")
        assert response.status_code in (302, 400)
        db.session.remove()
        db.engine.dispose()


def test_import_without_a_file_is_a_form_error(client, auth, placed):
    auth.login("officer1@example.test")
    response = client.post("/officer/imports/hours-learners", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Select a CSV or Excel (.xlsx) file" in response.text
