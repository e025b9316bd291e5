"""Learner portal: profile, browsing offers, ranking them, answering a placement."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placements.domain import DomainError
from placements.extensions import db
from placements.geo import locate
from placements.learners.services import (
    OfferFilters,
    apply_action,
    browse_offers,
    change_preferences,
    ranked_offer_ids,
)
from placements.models import (
    AllocationRound,
    AuditEvent,
    Employer,
    EmployerSite,
    OfferStatus,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Preference,
)
from tests.conftest import PASSWORD


def digital_offers(world, n: int, *, postcode: str = "M1 1AA", approved: bool = True,
                   employer_name: str = "Gamma Code", **kwargs) -> list[PlacementOffer]:
    """Add n Digital offers at one site of a (new) employer."""
    employer = Employer(name=employer_name, sector="Digital", region="North West",
                        approved=approved)
    where = locate(postcode)
    site = EmployerSite(employer=employer, name=f"{employer_name} site",
                        postcode=where.postcode, lat=where.lat, lon=where.lon)
    offers = [PlacementOffer(employer=employer, site=site, title=f"{employer_name} {i}",
                             sector="Digital", capacity=1, start_date=date(2027, 2, 1),
                             end_date=date(2027, 5, 1),
                             hours_per_week=kwargs.get("hours_per_week", 30),
                             requirements=kwargs.get("requirements", []))
              for i in range(n)]
    db.session.add_all([employer, site, *offers])
    db.session.commit()
    return offers


def prefs(world, learner=None) -> list[tuple[int, int]]:
    learner = learner or world["l1"]
    return [tuple(r) for r in db.session.execute(
        sa.select(Preference.rank, Preference.offer_id).where(
            Preference.learner_id == learner.id, Preference.round_id == world["round"].id)
        .order_by(Preference.rank))]


def choices_url(world) -> str:
    return f"/learner/rounds/{world['round'].id}/choices"


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/learner/", "/learner/profile", "/learner/offers",
                                  "/learner/placement"])
def test_pages_for_learners_only(client, auth, world, path):
    assert client.get(path).status_code == 302
    auth.login("emp1@example.test")
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login("learner1@example.test")
    assert client.get(path).status_code == 200


# --- Profile ------------------------------------------------------------------------------


def test_update_profile(client, auth, world):
    auth.login("learner1@example.test")
    response = client.post("/learner/profile", data={
        "home_postcode": "sk1 1aa", "max_travel_km": "35", "credentials": ["dbs"],
        "access_needs": "Step-free access", "in_work_employer": "Acme Apprenticeships"})
    assert response.status_code == 303
    learner = world["l1"]
    db.session.expire_all()
    assert learner.home_postcode == "SK1 1AA"
    assert learner.max_travel_km == 35
    assert learner.dbs_held
    assert learner.access_needs == "Step-free access"
    assert learner.in_work_employer == "Acme Apprenticeships"
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "learner.profile_updated"))
    assert "Step-free" not in str(event.detail)  # private text is not copied into the log


@pytest.mark.parametrize(("data", "anchor"), [
    ({"home_postcode": "NOT A POSTCODE", "max_travel_km": "20"}, "home_postcode"),
    ({"home_postcode": "M1 1AA", "max_travel_km": "0"}, "max_travel_km"),
    ({"home_postcode": "M1 1AA", "max_travel_km": "far"}, "max_travel_km"),
])
def test_bad_profile_input(client, auth, world, data, anchor):
    auth.login("learner1@example.test")
    response = client.post("/learner/profile", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'href="#{anchor}"' in html
    assert f'id="{anchor}"' in html
    db.session.expire_all()
    assert world["l1"].max_travel_km == 20
    assert world["l1"].home_postcode == "M1 1AA"


# --- Browsing -----------------------------------------------------------------------------


def test_browse_only_own_sector_nearest_first(client, auth, world):
    far = digital_offers(world, 1, postcode="OL1 1AA", employer_name="Oldham Code")
    near = digital_offers(world, 1, postcode="M4 1AA", employer_name="Ancoats Code")
    hidden = digital_offers(world, 1, employer_name="Pending Code", approved=False)
    auth.login("learner1@example.test")
    html = client.get("/learner/offers").get_data(as_text=True)
    titles = re.findall(r'/learner/offers/(\d+)', html)
    ids = [int(t) for t in dict.fromkeys(titles)]
    assert ids == [world["o1"].id, near[0].id, far[0].id]
    assert world["o2"].id not in ids  # another sector
    assert hidden[0].id not in ids  # employer not approved
    assert "0.0 km" in html
    assert client.get(f"/learner/offers/{world['o2'].id}").status_code == 404
    assert client.get(f"/learner/offers/{hidden[0].id}").status_code == 404
    assert client.get(f"/learner/offers/{near[0].id}").status_code == 200


def test_browse_marks_unmet_requirements_and_travel(client, auth, world):
    digital_offers(world, 1, postcode="LS1 1AA", employer_name="Leeds Code")
    digital_offers(world, 1, employer_name="Licensed Code", requirements=["driving_licence"])
    auth.login("learner1@example.test")
    html = client.get("/learner/offers").get_data(as_text=True)
    assert "Beyond your travel limit" in html
    assert "Requirement not met" in html
    assert "You do not hold: Full UK driving licence" in html


def test_browse_filters(world, app):
    digital_offers(world, 1, postcode="OL1 1AA", employer_name="Oldham Code")
    digital_offers(world, 1, employer_name="Short Hours", hours_per_week=14)
    digital_offers(world, 1, employer_name="DBS Code", requirements=["dbs"])
    learner = world["l1"]
    everything = browse_offers(learner)
    assert len(everything) == 4
    assert [v.km for v in everything] == sorted(v.km for v in everything)
    assert all(v.km < 5 for v in browse_offers(learner, OfferFilters(max_km=5)))
    assert len(browse_offers(learner, OfferFilters(max_km=5))) == 3
    assert {v.offer.hours_per_week for v in browse_offers(
        learner, OfferFilters(max_hours=20))} == {14}
    assert all(not v.missing for v in browse_offers(learner, OfferFilters(only_eligible=True)))
    assert len(browse_offers(learner, OfferFilters(exclude_requirements=("dbs",)))) == 3


def test_browse_filter_form_and_pagination(client, auth, world):
    digital_offers(world, 30)
    auth.login("learner1@example.test")
    html = client.get("/learner/offers").get_data(as_text=True)
    assert "31 offers" in html
    assert len(set(re.findall(r'/learner/offers/(\d+)', html))) == 25
    page2 = client.get("/learner/offers?page=2").get_data(as_text=True)
    assert len(set(re.findall(r'/learner/offers/(\d+)', page2))) == 6
    response = client.get("/learner/offers?max_km=abc")
    assert response.status_code == 400
    assert 'href="#max_km"' in response.get_data(as_text=True)
    assert "0 offers" in client.get("/learner/offers?min_hours=40").get_data(as_text=True)


# --- Ranking: main path -------------------------------------------------------------------


def test_rank_add_move_remove_without_javascript(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    for offer in (a, b, c):
        response = client.post(url, data={"add": str(offer.id), "next": "/learner/offers"})
        assert response.status_code == 303
        assert response.location.endswith("/learner/offers")
    assert prefs(world) == [(1, a.id), (2, b.id), (3, c.id)]
    order = [str(a.id), str(b.id), str(c.id)]
    assert client.post(url, data={"order": order, "move": f"down:{a.id}"}).status_code == 303
    assert prefs(world) == [(1, b.id), (2, a.id), (3, c.id)]
    order = [str(b.id), str(a.id), str(c.id)]
    assert client.post(url, data={"order": order, "move": f"up:{c.id}"}).status_code == 303
    assert prefs(world) == [(1, b.id), (2, c.id), (3, a.id)]
    order = [str(b.id), str(c.id), str(a.id)]
    assert client.post(url, data={"order": order, "remove": str(c.id)}).status_code == 303
    assert prefs(world) == [(1, b.id), (2, a.id)]
    html = client.get(url).get_data(as_text=True)
    assert 'data-rank-list' in html
    assert f'value="up:{b.id}" aria-disabled="true"' in html
    assert f'name="move" value="down:{a.id}" aria-disabled="true"' in html
    assert "move Gamma Code 1" in html  # each button has an accessible name
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "preferences.saved")) == 6


def test_rank_full_order_with_javascript(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    response = client.post(url, data={"order": [str(c.id), str(a.id), str(b.id)]})
    assert response.status_code == 303
    assert prefs(world) == [(1, c.id), (2, a.id), (3, b.id)]
    # An empty list clears the choices.
    assert client.post(url, data={}).status_code == 303
    assert prefs(world) == []


def test_remove_after_javascript_reorder_keeps_new_order(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id), str(c.id)]})
    # Reordered in the page with JavaScript (not saved), then Remove pressed.
    client.post(url, data={"order": [str(c.id), str(b.id), str(a.id)], "remove": str(b.id)})
    assert prefs(world) == [(1, c.id), (2, a.id)]


def test_add_from_offer_page_shows_rank(client, auth, world):
    auth.login("learner1@example.test")
    client.post(choices_url(world), data={"add": str(world["o1"].id)})
    html = client.get("/learner/offers").get_data(as_text=True)
    assert "Your choice 1" in html
    assert "You have chosen 1" in html


# --- Ranking: bad input -------------------------------------------------------------------


def test_rank_offer_outside_sector(client, auth, world):
    auth.login("learner1@example.test")
    response = client.post(choices_url(world), data={"add": str(world["o2"].id)})
    assert response.status_code == 400
    assert "is not in your sector" in response.get_data(as_text=True)
    assert prefs(world) == []


def test_rank_more_than_k(client, auth, world):
    offers = digital_offers(world, 4)
    auth.login("learner1@example.test")
    url = choices_url(world)
    response = client.post(url, data={"order": [str(o.id) for o in offers]})
    assert response.status_code == 400
    assert "You can rank at most 3 offers" in response.get_data(as_text=True)
    assert prefs(world) == []
    client.post(url, data={"order": [str(o.id) for o in offers[:3]]})
    response = client.post(url, data={"add": str(offers[3].id)})
    assert response.status_code == 400
    assert len(prefs(world)) == 3


def test_rank_duplicates_and_garbage(client, auth, world):
    a, b = digital_offers(world, 2)
    auth.login("learner1@example.test")
    url = choices_url(world)
    response = client.post(url, data={"order": [str(a.id), str(a.id)]})
    assert response.status_code == 400
    assert client.post(url, data={"order": ["1; drop table"]}).status_code == 400
    assert client.post(url, data={"add": "99999"}).status_code == 400
    assert client.post(url, data={"move": f"sideways:{a.id}"}).status_code == 400
    assert prefs(world) == []


def test_rank_withdrawn_or_unapproved_offer(client, auth, world):
    (pending,) = digital_offers(world, 1, approved=False, employer_name="Pending Code")
    auth.login("learner1@example.test")
    assert client.post(choices_url(world), data={"add": str(pending.id)}).status_code == 400
    world["o1"].status = OfferStatus.WITHDRAWN
    db.session.commit()
    assert client.post(choices_url(world), data={"add": str(world["o1"].id)}).status_code == 400
    assert prefs(world) == []


def test_after_deadline_nothing_changes(client, auth, world):
    a, b = digital_offers(world, 2)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id)]})
    world["round"].preference_deadline = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "The deadline for choosing placements passed" in html
    assert 'name="move"' not in html
    for data in ({"order": [str(b.id), str(a.id)]}, {"move": f"down:{a.id}"},
                 {"remove": str(a.id)}):
        response = client.post(url, data=data)
        assert response.status_code == 400
        assert "deadline" in response.get_data(as_text=True)
    assert prefs(world) == [(1, a.id), (2, b.id)]


def test_round_outside_learners_programme_is_404(client, auth, world):
    other = AllocationRound(name="Health only", provider=world["p2"],
                            programmes=[world["prog2"]],
                            preference_deadline=datetime.now(UTC) + timedelta(days=5))
    db.session.add(other)
    db.session.commit()
    auth.login("learner1@example.test")
    assert client.get(f"/learner/rounds/{other.id}/choices").status_code == 404
    response = client.post(f"/learner/rounds/{other.id}/choices",
                           data={"add": str(world["o1"].id)})
    assert response.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Preference.id))) == 0


def test_cannot_touch_another_learners_choices(client, auth, world):
    """Choices are always the signed-in learner's own: no id of another learner is taken."""
    auth.login("learner2@example.test")
    client.post(choices_url(world), data={"add": str(world["o2"].id)})
    before = prefs(world, world["l2"])
    assert before == [(1, world["o2"].id)]
    auth.logout()
    auth.login("learner1@example.test")
    response = client.post(choices_url(world), data={"remove": str(world["o2"].id)})
    assert response.status_code == 400
    response = client.post(choices_url(world), data={"learner_id": str(world["l2"].id),
                                                     "order": []})
    assert response.status_code == 303
    assert prefs(world, world["l2"]) == before


def test_csrf_required(client, auth, world, app):
    auth.login("learner1@example.test")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(choices_url(world), data={"add": str(world["o1"].id)})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert prefs(world) == []


# --- Ranking: concurrency -----------------------------------------------------------------


def test_two_stale_tabs_never_leave_gaps_or_duplicates(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id)]})
    shown = [str(a.id), str(b.id)]  # both tabs show this list
    # Tab 1 removes a; tab 2, still showing [a, b], moves a down.
    assert client.post(url, data={"order": shown, "remove": str(a.id)}).status_code == 303
    response = client.post(url, data={"order": shown, "move": f"down:{a.id}"})
    assert response.status_code == 400
    assert prefs(world) == [(1, b.id)]
    # Tab 1 adds c; tab 2 (stale) moves b down: applied to the saved list [b, c].
    client.post(url, data={"add": str(c.id)})
    assert client.post(url, data={"order": shown, "move": f"down:{b.id}"}).status_code == 303
    assert prefs(world) == [(1, c.id), (2, b.id)]
    # Tab 2 adds c again (already added by tab 1).
    assert client.post(url, data={"add": str(c.id)}).status_code == 400
    assert prefs(world) == [(1, c.id), (2, b.id)]


def test_concurrent_saves_from_two_threads(app, world):
    """Two sessions save different lists at once on a file SQLite database."""
    offers = digital_offers(world, 3)
    ids = [o.id for o in offers]
    orders = [[ids[0], ids[1], ids[2]], [ids[2], ids[1]], [ids[1]], [ids[2], ids[0], ids[1]]]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    url = choices_url(world)

    def tab(n: int) -> None:
        client = app.test_client()
        try:
            client.post("/auth/login", data={"email": "learner1@example.test",
                                             "password": PASSWORD})
            barrier.wait()
            for i in range(12):
                order = orders[(i + n) % len(orders)]
                response = client.post(url, data={"order": [str(x) for x in order]})
                assert response.status_code == 303, response.status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    ranks = [r for r, _ in prefs(world)]
    assert ranks == list(range(1, len(ranks) + 1))
    offer_ids = [o for _, o in prefs(world)]
    assert len(offer_ids) == len(set(offer_ids))
    assert offer_ids in orders


def test_apply_action_unit():
    assert apply_action([1, 2, 3], move="up:1") == [1, 2, 3]
    assert apply_action([1, 2, 3], move="down:3") == [1, 2, 3]
    assert apply_action([1, 2, 3], move="up:3") == [1, 3, 2]
    assert apply_action([1, 2], add=5) == [1, 2, 5]
    assert apply_action([1, 2], remove=1) == [2]
    with pytest.raises(DomainError):
        apply_action([1, 2], add=2)
    with pytest.raises(DomainError):
        apply_action([1, 2], move="up:x")


def test_change_preferences_service_deadline(world):
    round_ = world["round"]
    with pytest.raises(DomainError, match="deadline"):
        change_preferences(None, world["l1"], round_, add=world["o1"].id,
                           now=round_.preference_deadline + timedelta(seconds=1))
    assert ranked_offer_ids(world["l1"], round_) == []


# --- Placement ----------------------------------------------------------------------------


def publish(world, learner=None, offer=None, status=PlacementStatus.PUBLISHED) -> Placement:
    placement = Placement(round=world["round"], learner=learner or world["l1"],
                          offer=offer or world["o1"], status=status)
    db.session.add(placement)
    db.session.commit()
    return placement


def test_placement_hidden_until_published(client, auth, world):
    placement = publish(world, status=PlacementStatus.PROPOSED)
    auth.login("learner1@example.test")
    html = client.get("/learner/placement").get_data(as_text=True)
    assert "Choose the offers you want" in html
    assert "Acme" not in html
    assert client.post(f"/learner/placement/{placement.id}/accept").status_code == 404
    db.session.expire_all()
    assert placement.status == PlacementStatus.PROPOSED


def test_accept_placement(client, auth, world):
    placement = publish(world)
    auth.login("learner1@example.test")
    html = client.get("/learner/placement").get_data(as_text=True)
    assert "Acme Digital" in html
    assert "HQ" in html
    assert "0.0 km" in html
    assert "30" in html
    assert "1 February 2027" in html
    assert client.post(f"/learner/placement/{placement.id}/accept").status_code == 303
    db.session.expire_all()
    assert placement.status == PlacementStatus.ACCEPTED
    assert placement.responded_at is not None
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "placement.accepted"))
    assert "You have accepted" in client.get("/learner/").get_data(as_text=True)


def test_decline_placement_needs_reason_and_flags_round(client, auth, world):
    placement = publish(world)
    auth.login("learner1@example.test")
    url = f"/learner/placement/{placement.id}/decline"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"reason": "  "})
    assert response.status_code == 400
    assert 'href="#reason"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert placement.status == PlacementStatus.PUBLISHED
    assert client.post(url, data={"reason": "I moved to Leeds"}).status_code == 303
    db.session.expire_all()
    assert placement.status == PlacementStatus.DECLINED
    assert placement.decline_reason == "I moved to Leeds"
    assert world["round"].needs_repair is True
    assert client.post(url, data={"reason": "again"}).status_code == 400


def test_cannot_answer_another_learners_placement(client, auth, world):
    placement = publish(world, learner=world["l2"], offer=world["o2"])
    auth.login("learner1@example.test")
    assert client.post(f"/learner/placement/{placement.id}/accept").status_code == 404
    assert client.post(f"/learner/placement/{placement.id}/decline",
                       data={"reason": "not mine"}).status_code == 404
    assert client.get(f"/learner/placement/{placement.id}/decline").status_code == 404
    db.session.expire_all()
    assert placement.status == PlacementStatus.PUBLISHED
    assert world["round"].needs_repair is False


def test_concurrent_actions_from_two_threads(app, world):
    """Two tabs add, move and remove at once: statuses are 303 or 400, never 500."""
    offers = digital_offers(world, 4)
    ids = [o.id for o in offers]
    url = choices_url(world)
    statuses: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def tab(n: int) -> None:
        client = app.test_client()
        try:
            client.post("/auth/login", data={"email": "learner1@example.test",
                                             "password": PASSWORD})
            barrier.wait()
            for i in range(10):
                mine = ids[(i + n) % len(ids)]
                for data in ({"add": str(mine)}, {"move": f"up:{mine}"},
                             {"remove": str(mine)}):
                    statuses.append(client.post(url, data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(statuses) <= {303, 400}
    db.session.expire_all()
    rows = prefs(world)
    assert [r for r, _ in rows] == list(range(1, len(rows) + 1))
    assert len({o for _, o in rows}) == len(rows)


def test_clash_is_retried_once(client, auth, world, monkeypatch):
    """If the database reports a clash (two tabs at once), the save is retried on fresh data."""
    from sqlalchemy.exc import IntegrityError

    from placements.learners import views

    real = views.services.change_preferences
    calls = []

    def clashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO preference", {}, Exception("UNIQUE failed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(views.services, "change_preferences", clashing)
    auth.login("learner1@example.test")
    response = client.post(choices_url(world), data={"add": str(world["o1"].id)})
    assert response.status_code == 303
    assert len(calls) == 2
    assert prefs(world) == [(1, world["o1"].id)]


def test_withdrawn_choice_does_not_block_changes(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id), str(c.id)]})
    b.status = OfferStatus.WITHDRAWN
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "No longer available" in html
    response = client.post(url, data={"order": [str(a.id), str(b.id), str(c.id)],
                                      "move": f"up:{c.id}"})
    assert response.status_code == 303
    assert prefs(world) == [(1, c.id), (2, a.id)]


def test_closed_round_takes_no_changes(client, auth, world):
    from placements.models import RoundStatus

    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"add": str(world["o1"].id)})
    world["round"].status = RoundStatus.CLOSED
    db.session.commit()
    assert "no longer taking choices" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"remove": str(world["o1"].id)})
    assert response.status_code == 400
    assert prefs(world) == [(1, world["o1"].id)]
    assert 'name="add"' not in client.get("/learner/offers").get_data(as_text=True)


# --- Offers beyond the travel limit: said everywhere, allowed with a warning ----------------


def test_a_choice_beyond_the_travel_limit_is_allowed_and_said_to_not_count(client, auth, world):
    """Leeds is about 58 km from M1 1AA, the learner can travel 20 km: the offer list, the
    offer page, the flash after adding it and the choices page all say (in the eligibility
    rule's words) that the choice will not count; the choice is kept."""
    from placements.domain import eligibility

    (far,) = digital_offers(world, 1, postcode="LS1 1AA", employer_name="Leeds Code")
    answer = eligibility.assess(eligibility.learner_facts(world["l1"]),
                                eligibility.offer_facts(far))
    warning = answer.travel_warning()
    assert warning is not None
    assert re.fullmatch(r"Beyond your travel limit \(\d+\.\d km, you said 20 km\): "
                        r"this choice will not count", warning)
    auth.login("learner1@example.test")
    assert warning in client.get("/learner/offers").get_data(as_text=True)
    assert warning in client.get(f"/learner/offers/{far.id}").get_data(as_text=True)
    # Within the limit: no warning anywhere.
    near = client.get(f"/learner/offers/{world['o1'].id}").get_data(as_text=True)
    assert "Beyond your travel limit" not in near
    response = client.post(choices_url(world), data={"add": str(world["o1"].id)},
                           follow_redirects=True)
    assert "The offer has been added to your choices." in response.get_data(as_text=True)
    assert "will not count" not in response.get_data(as_text=True)
    response = client.post(choices_url(world), data={"add": str(far.id)},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"The offer has been added to your choices. {warning}" in page
    assert prefs(world) == [(1, world["o1"].id), (2, far.id)]  # allowed
    assert f"{warning}." in page  # on the ranked item
    assert "1 of your choices is beyond your travel limit of 20 km and will not count" in page
    # Raising the limit takes the warnings away.
    learner = world["l1"]
    learner.max_travel_km = 100
    db.session.commit()
    page = client.get(choices_url(world)).get_data(as_text=True)
    assert "Beyond your travel limit" not in page
    assert "will not count" not in page


# --- Choices saved move by move with JavaScript (the same POST, answered in JSON) ------------

JSON = {"Accept": "application/json"}


def test_each_move_is_saved_as_it_happens_and_answered_in_json(client, auth, world):
    a, b, c = digital_offers(world, 3)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id), str(c.id)]})
    page = client.get(url).get_data(as_text=True)
    assert f'data-rank-save="{url}"' in page
    response = client.post(url, headers=JSON, data={
        "order": [str(a.id), str(b.id), str(c.id)], "move": f"down:{a.id}"})
    assert response.status_code == 200
    assert response.get_json() == {"saved": True, "order": [b.id, a.id, c.id]}
    assert prefs(world) == [(1, b.id), (2, a.id), (3, c.id)]
    # No flash is left behind for the next page.
    assert "have been saved" not in client.get(url).get_data(as_text=True)
    # A stale tab's move applies to the saved list: removed offers never come back.
    client.post(url, data={"order": [str(b.id), str(a.id), str(c.id)], "remove": str(c.id)})
    response = client.post(url, headers=JSON, data={
        "order": [str(b.id), str(a.id), str(c.id)], "move": f"up:{a.id}"})
    assert response.get_json() == {"saved": True, "order": [a.id, b.id]}


def test_a_refused_move_says_why_in_json_and_changes_nothing(client, auth, world, make_app):
    a, b = digital_offers(world, 2)
    auth.login("learner1@example.test")
    url = choices_url(world)
    client.post(url, data={"order": [str(a.id), str(b.id)]})
    world["round"].preference_deadline = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    response = client.post(url, headers=JSON, data={
        "order": [str(a.id), str(b.id)], "move": f"down:{a.id}"})
    assert response.status_code == 400
    assert response.get_json()["saved"] is False
    assert "deadline" in response.get_json()["error"]
    assert prefs(world) == [(1, a.id), (2, b.id)]
    # Without the CSRF token (an expired session): JSON too, nothing saved.
    world["round"].preference_deadline = datetime.now(UTC) + timedelta(days=1)
    db.session.commit()
    strict = make_app(WTF_CSRF_ENABLED=True).test_client()
    page = strict.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    strict.post("/auth/login", data={"email": "learner1@example.test", "password": PASSWORD,
                                     "csrf_token": token})
    response = strict.post(url, headers=JSON, data={
        "order": [str(a.id), str(b.id)], "move": f"down:{a.id}"})
    assert response.status_code == 400
    assert "reload the page" in response.get_json()["message"]
    assert prefs(world) == [(1, a.id), (2, b.id)]
