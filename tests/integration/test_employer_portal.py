"""Employer portal: sites, offers, capacity changes, placed learners, colleagues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.learners.services import visible_offers_stmt
from placements.models import (
    AllocationRound,
    AuditEvent,
    Employer,
    EmployerSite,
    OfferChange,
    OfferStatus,
    OutboxMessage,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Role,
    User,
)
from tests.conftest import make_user


def offer_form(site_id: int, **overrides) -> dict:
    data = {
        "site_id": str(site_id), "title": "Data intern", "description": "Dashboards",
        "sector": "Digital", "capacity": "3", "start_date": ["1", "2", "2027"],
        "end_date": ["28", "5", "2027"], "hours_per_week": "30", "work_mode": "on-site",
        "requirements": ["dbs"],
    }
    data.update(overrides)
    return data


def edit_form(offer: PlacementOffer, **overrides) -> dict:
    data = offer_form(offer.site_id, title=offer.title, sector=offer.sector,
                      capacity=str(offer.capacity), requirements=list(offer.requirements),
                      hours_per_week=str(offer.hours_per_week),
                      start_date=offer.start_date.strftime("%d %m %Y").split(),
                      end_date=offer.end_date.strftime("%d %m %Y").split())
    data.update(overrides)
    return data


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def place(world, learner, offer, status=PlacementStatus.PUBLISHED, round_=None) -> Placement:
    placement = Placement(round=round_ or world["round"], learner=learner, offer=offer,
                          status=status)
    db.session.add(placement)
    db.session.commit()
    return placement


def another_learner(world, ref: str):
    from placements.models import Learner

    user = make_user(f"{ref.lower()}@example.test", Role.LEARNER, name=f"Learner {ref}")
    learner = Learner(user=user, provider=world["p1"], programme=world["prog1"],
                      student_ref=ref, home_postcode="M1 1AA", lat=world["l1"].lat,
                      lon=world["l1"].lon, max_travel_km=20, access_needs="Step-free access")
    db.session.add(learner)
    db.session.commit()
    return learner


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/employer/", "/employer/sites", "/employer/sites/new",
                                  "/employer/offers", "/employer/offers/new",
                                  "/employer/colleagues"])
def test_pages_for_employers_only(client, auth, world, path):
    assert client.get(path).status_code == 302  # to sign in
    auth.login("learner1@example.test")
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login("officer1@example.test")
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login("emp1@example.test")
    assert client.get(path).status_code == 200


# --- Sites --------------------------------------------------------------------------------


def test_add_site_locates_postcode(client, auth, world):
    auth.login("emp1@example.test")
    response = client.post("/employer/sites/new", data={
        "name": "Salford office", "address": "1 Quay St", "postcode": "m50 3ab"})
    assert response.status_code == 303
    site = db.session.scalar(sa.select(EmployerSite).where(
        EmployerSite.name == "Salford office"))
    assert site.employer_id == world["e1"].id
    assert site.postcode == "M50 3AB"
    assert 53 < site.lat < 54
    assert "Salford office" in client.get("/employer/sites").get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "site.created"))


def test_bad_postcode_is_a_linked_form_error(client, auth, world):
    auth.login("emp1@example.test")
    before = count(EmployerSite)
    response = client.post("/employer/sites/new", data={"name": "Nowhere", "postcode": "ZZ99"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'href="#postcode"' in html
    assert 'id="postcode"' in html
    assert "<title>Error:" in html
    assert count(EmployerSite) == before


def test_other_employers_sites_are_not_listed(client, auth, world):
    auth.login("emp1@example.test")
    html = client.get("/employer/sites").get_data(as_text=True)
    assert "HQ" in html
    assert "Clinic" not in html


# --- Offers -------------------------------------------------------------------------------


def test_create_offer(client, auth, world):
    auth.login("emp1@example.test")
    response = client.post("/employer/offers/new", data=offer_form(world["s1"].id))
    assert response.status_code == 303
    offer = db.session.scalar(sa.select(PlacementOffer).where(
        PlacementOffer.title == "Data intern"))
    assert offer.employer_id == world["e1"].id
    assert offer.capacity == 3
    assert offer.requirements == ["dbs"]
    assert offer.start_date.isoformat() == "2027-02-01"
    assert client.get(response.location).status_code == 200


def test_new_offer_needs_a_site_first(client, auth, world, app):
    employer = Employer(name="No Sites Ltd", sector="Digital", region="North West")
    make_user("nosites@example.test", Role.EMPLOYER, employer=employer)
    db.session.commit()
    auth.login("nosites@example.test")
    response = client.get("/employer/offers/new")
    assert response.status_code == 303
    assert response.location.endswith("/employer/sites/new")


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"capacity": "-1"}, "capacity", "Enter a number of places between 1 and 500"),
    ({"capacity": "0"}, "capacity", "Enter a number of places between 1 and 500"),
    ({"end_date": ["1", "1", "2027"]}, "end_date-day", "The end date must be after the start"),
    ({"hours_per_week": "60"}, "hours_per_week", "Hours per week must be between 1 and 48"),
    ({"start_date": ["31", "2", "2027"]}, "start_date-day", "Enter a real start date"),
    ({"title": ""}, "title", "Enter a title"),
    ({"sector": "Astrology"}, "sector", "Select one of the options in the list"),
])
def test_bad_offer_input_is_rejected(client, auth, world, overrides, field, message):
    auth.login("emp1@example.test")
    before = count(PlacementOffer)
    response = client.post("/employer/offers/new", data=offer_form(world["s1"].id, **overrides))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'href="#{field}"' in html
    assert message in html
    assert count(PlacementOffer) == before


def test_offer_at_another_employers_site_is_rejected(client, auth, world):
    auth.login("emp1@example.test")
    before = count(PlacementOffer)
    response = client.post("/employer/offers/new", data=offer_form(world["s2"].id))
    assert response.status_code == 400
    assert count(PlacementOffer) == before


def test_standards_must_match_sector(client, auth, world):
    from placements.models import OccupationalStandard

    health = db.session.scalar(sa.select(OccupationalStandard).where(
        OccupationalStandard.route == "Health and science"))
    auth.login("emp1@example.test")
    response = client.post("/employer/offers/new", data=offer_form(
        world["s1"].id, standard_ids=[str(health.id)]))
    assert response.status_code == 400
    assert "Choose standards from the offer" in response.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", "/edit", "/withdraw"])
def test_another_employers_offer_is_404(client, auth, world, suffix):
    auth.login("emp1@example.test")
    assert client.get(f"/employer/offers/{world['o2'].id}{suffix}").status_code == 404


def test_cannot_change_or_withdraw_another_employers_offer(client, auth, world):
    auth.login("emp1@example.test")
    o2 = world["o2"]
    response = client.post(f"/employer/offers/{o2.id}/edit",
                           data=edit_form(o2, capacity="9", site_id=str(world["s1"].id)))
    assert response.status_code == 404
    response = client.post(f"/employer/offers/{o2.id}/withdraw", data={"reason": "mine now"})
    assert response.status_code == 404
    db.session.expire_all()
    assert o2.capacity == 1
    assert o2.status == OfferStatus.OPEN
    assert count(OfferChange) == 0


def test_raise_capacity_without_reason(client, auth, world):
    auth.login("emp1@example.test")
    o1 = world["o1"]
    response = client.post(f"/employer/offers/{o1.id}/edit", data=edit_form(o1, capacity="5"))
    assert response.status_code == 303
    db.session.expire_all()
    assert o1.capacity == 5
    change = db.session.scalar(sa.select(OfferChange))
    assert (change.old_capacity, change.new_capacity, change.kind) == (2, 5, "capacity")
    assert change.actor_id == world["emp1"].id
    assert change.rounds_flagged == []


def test_lower_capacity_needs_a_reason(client, auth, world):
    auth.login("emp1@example.test")
    o1 = world["o1"]
    response = client.post(f"/employer/offers/{o1.id}/edit", data=edit_form(o1, capacity="1"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'href="#reason"' in html
    assert "Give a reason for reducing the number of places" in html
    db.session.expire_all()
    assert o1.capacity == 2
    assert count(OfferChange) == 0


def test_lower_capacity_below_placed_learners_flags_round(client, auth, world):
    o1, round_ = world["o1"], world["round"]
    place(world, world["l1"], o1)
    place(world, another_learner(world, "A2"), o1, status=PlacementStatus.PROPOSED)
    auth.login("emp1@example.test")
    response = client.post(f"/employer/offers/{o1.id}/edit",
                           data=edit_form(o1, capacity="1", reason="Supervisor left"))
    assert response.status_code == 303
    db.session.expire_all()
    assert o1.capacity == 1
    assert round_.needs_repair is True
    change = db.session.scalar(sa.select(OfferChange))
    assert change.rounds_flagged == [round_.id]
    assert change.placements_held == 2
    assert change.reason == "Supervisor left"
    # Nothing published is deleted: the officers' repair run moves learners.
    assert count(Placement) == 2
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "round.needs_repair", AuditEvent.round_id == round_.id))
    html = client.get(f"/employer/offers/{o1.id}").get_data(as_text=True)
    assert "Supervisor left" in html


def test_lower_capacity_that_still_fits_does_not_flag(client, auth, world):
    o1, round_ = world["o1"], world["round"]
    place(world, world["l1"], o1)
    place(world, another_learner(world, "A2"), o1, status=PlacementStatus.DECLINED)
    auth.login("emp1@example.test")
    response = client.post(f"/employer/offers/{o1.id}/edit",
                           data=edit_form(o1, capacity="1", reason="Smaller team"))
    assert response.status_code == 303
    db.session.expire_all()
    assert round_.needs_repair is False
    assert db.session.scalar(sa.select(OfferChange)).rounds_flagged == []


def test_withdraw_offer_holding_learners(client, auth, world):
    o1, round_ = world["o1"], world["round"]
    place(world, world["l1"], o1)
    auth.login("emp1@example.test")
    response = client.post(f"/employer/offers/{o1.id}/withdraw", data={"reason": ""})
    assert response.status_code == 400
    assert 'href="#reason"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert o1.status == OfferStatus.OPEN
    response = client.post(f"/employer/offers/{o1.id}/withdraw",
                           data={"reason": "Office closing"})
    assert response.status_code == 303
    db.session.expire_all()
    assert o1.status == OfferStatus.WITHDRAWN
    assert o1.withdrawn_reason == "Office closing"
    assert round_.needs_repair is True
    change = db.session.scalar(sa.select(OfferChange))
    assert change.kind == "withdrawn"
    assert change.rounds_flagged == [round_.id]
    assert count(Placement) == 1
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "offer.withdrawn"))
    # A withdrawn offer is hidden from learners and cannot be edited.
    assert o1.id not in db.session.scalars(visible_offers_stmt().with_only_columns(
        PlacementOffer.id)).all()
    assert client.get(f"/employer/offers/{o1.id}/edit").status_code == 303


def test_sector_cannot_change_once_chosen(client, auth, world):
    from placements.learners.services import save_preferences

    save_preferences(None, world["l1"], world["round"], [world["o1"].id])
    db.session.commit()
    auth.login("emp1@example.test")
    o1 = world["o1"]
    response = client.post(f"/employer/offers/{o1.id}/edit",
                           data=edit_form(o1, sector="Construction"))
    assert response.status_code == 400
    db.session.expire_all()
    assert o1.sector == "Digital"


# --- Approval -----------------------------------------------------------------------------


def test_unapproved_employer_prepares_offers_hidden_from_learners(client, auth, world):
    employer = Employer(name="New Ltd", sector="Digital", region="North West")
    make_user("new@example.test", Role.EMPLOYER, employer=employer)
    db.session.commit()
    auth.login("new@example.test")
    html = client.get("/employer/").get_data(as_text=True)
    assert "Awaiting approval" in html
    client.post("/employer/sites/new", data={"name": "Base", "postcode": "M1 2AB"})
    site = db.session.scalar(sa.select(EmployerSite).where(EmployerSite.employer_id ==
                                                           employer.id))
    assert client.post("/employer/offers/new",
                       data=offer_form(site.id, title="Hidden")).status_code == 303
    offer = db.session.scalar(sa.select(PlacementOffer).where(PlacementOffer.title == "Hidden"))
    visible = db.session.scalars(visible_offers_stmt().with_only_columns(
        PlacementOffer.id)).all()
    assert offer.id not in visible
    assert world["o1"].id in visible


# --- Dashboard and placed learners --------------------------------------------------------


def test_learners_hidden_until_published(client, auth, world):
    learner = another_learner(world, "A2")
    placement = place(world, learner, world["o1"], status=PlacementStatus.PROPOSED)
    auth.login("emp1@example.test")
    html = client.get("/employer/").get_data(as_text=True)
    assert "Learner A2" not in html
    assert "No allocation has been published" in html
    assert client.get(f"/employer/placements/{placement.id}").status_code == 404
    placement.status = PlacementStatus.PUBLISHED
    db.session.commit()
    html = client.get("/employer/").get_data(as_text=True)
    assert "Learner A2" in html
    assert "a2@example.test" in html
    assert "HTQ Software" in html
    assert "Step-free access" not in html  # access needs are for officers only
    page = client.get(f"/employer/placements/{placement.id}").get_data(as_text=True)
    assert "Step-free access" not in page


def test_places_filled_per_round(client, auth, world):
    o1 = world["o1"]
    place(world, world["l1"], o1)
    place(world, another_learner(world, "A2"), o1, status=PlacementStatus.ACCEPTED)
    place(world, another_learner(world, "A3"), o1, status=PlacementStatus.DECLINED)
    place(world, another_learner(world, "A4"), o1, status=PlacementStatus.PROPOSED)
    from placements.employers.services import fill_by_round

    fills = fill_by_round(world["e1"])
    assert [(f.offer.id, f.filled, f.declined) for f in fills] == [(o1.id, 2, 1)]
    assert fill_by_round(world["e2"]) == []


def test_employer_accepts_or_raises_concern(client, auth, world):
    placement = place(world, world["l1"], world["o1"])
    auth.login("emp1@example.test")
    url = f"/employer/placements/{placement.id}"
    response = client.post(url, data={"response": "concern", "note": ""})
    assert response.status_code == 400
    assert 'href="#note"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert placement.employer_response == "pending"
    response = client.post(url, data={"response": "concern", "note": "Start date clash"})
    assert response.status_code == 400
    assert 'href="#category"' in response.get_data(as_text=True)
    response = client.post(url, data={"response": "concern", "note": "Start date clash",
                                      "category": "attendance"})
    assert response.status_code == 303
    db.session.expire_all()
    assert placement.employer_response == "concern"
    assert placement.employer_note == "Start date clash"
    # A concern record goes to the learner's placement officers (placements.reviews).
    assert db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.subject.like("Attendance concern%")))
    assert client.post(url, data={"response": "accepted"}).status_code == 303
    db.session.expire_all()
    assert placement.employer_response == "accepted"


def test_employer_cannot_answer_another_employers_placement(client, auth, world):
    placement = place(world, world["l2"], world["o2"])
    auth.login("emp1@example.test")
    url = f"/employer/placements/{placement.id}"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"response": "accepted"}).status_code == 404
    db.session.expire_all()
    assert placement.employer_response == "pending"


# --- Colleagues ---------------------------------------------------------------------------


def test_invite_colleague(client, auth, world):
    auth.login("emp1@example.test")
    response = client.post("/employer/colleagues", data={"name": "Cara Colleague",
                                                         "email": "Cara@Acme.example"})
    assert response.status_code == 303
    user = db.session.scalar(sa.select(User).where(User.email == "cara@acme.example"))
    assert user.role == Role.EMPLOYER
    assert user.employer_id == world["e1"].id
    assert user.password_hash is None
    assert db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == "cara@acme.example"))
    assert "Cara Colleague" in client.get("/employer/colleagues").get_data(as_text=True)
    # The other employer does not see them.
    auth.logout()
    auth.login("emp2@example.test")
    assert "Cara Colleague" not in client.get("/employer/colleagues").get_data(as_text=True)


def test_invite_existing_email_is_rejected(client, auth, world):
    auth.login("emp1@example.test")
    before = count(User)
    response = client.post("/employer/colleagues", data={"name": "X",
                                                         "email": "emp2@example.test"})
    assert response.status_code == 400
    assert 'href="#email"' in response.get_data(as_text=True)
    assert count(User) == before


def test_csrf_required(client, auth, world, app):
    auth.login("emp1@example.test")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/employer/offers/{world['o1'].id}/withdraw",
                               data={"reason": "no token"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    db.session.expire_all()
    assert world["o1"].status == OfferStatus.OPEN


def test_round_flag_visible_on_model(world):
    round_ = db.session.get(AllocationRound, world["round"].id)
    assert round_.needs_repair is False
    assert round_.preference_deadline > datetime.now(UTC) - timedelta(days=1)


def test_edit_clears_unticked_requirements(client, auth, world):
    o1 = world["o1"]
    o1.requirements = ["dbs"]
    db.session.commit()
    auth.login("emp1@example.test")
    data = edit_form(o1, title="Junior developer (remote)", work_mode="hybrid")
    del data["requirements"]
    assert client.post(f"/employer/offers/{o1.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    assert o1.requirements == []
    assert o1.title == "Junior developer (remote)"
    assert o1.work_mode == "hybrid"
    assert db.session.scalar(sa.select(sa.func.count(OfferChange.id))) == 0
