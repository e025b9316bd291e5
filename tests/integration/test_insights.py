"""Insight pages: supply and demand, what-if (hand-checked), fairness, permissions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.geo import locate
from placements.insights import services
from placements.models import (
    AllocationRun,
    AuditEvent,
    Learner,
    PlacementOffer,
    Provider,
    ProviderKind,
    Role,
)
from tests.conftest import make_run as add_run
from tests.conftest import make_user


def add_learner(world, ref: str, programme="prog1", postcode="M1 1AA", max_km=20, **fields):
    """Add a learner of world[programme] (its provider) living at `postcode`."""
    where = locate(postcode)
    prog = world[programme]
    user = make_user(f"{ref.lower()}@example.test", Role.LEARNER)
    learner = Learner(user=user, provider=prog.provider, programme=prog, student_ref=ref,
                      home_postcode=where.postcode, lat=where.lat, lon=where.lon,
                      max_travel_km=max_km, **fields)
    db.session.add(learner)
    return learner


@pytest.fixture
def outsider(world):
    """An officer of a provider outside the test partnership and round."""
    provider = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(provider)
    user = make_user("outsider@example.test", Role.OFFICER, provider=provider)
    db.session.commit()
    return user


# --- permissions ----------------------------------------------------------------------------

def pages(world, run_id=None):
    rid = world["round"].id
    urls = ["/officer/insights/", "/officer/insights/supply-demand",
            f"/officer/insights/supply-demand?round={rid}",
            f"/officer/insights/supply-demand.csv?round={rid}",
            f"/officer/insights/rounds/{rid}/what-if"]
    if run_id is not None:
        urls.append(f"/officer/insights/runs/{run_id}/fairness")
    return urls


def make_run(world, result) -> AllocationRun:
    run = add_run(world["round"].id, "succeeded", result=result)
    db.session.add(run)
    db.session.commit()
    return run


def test_signed_out_users_are_sent_to_sign_in(client, world):
    run = make_run(world, {"assignments": [], "unplaced": []})
    for url in pages(world, run.id):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("email", ["emp1@example.test", "learner1@example.test",
                                   "admin@example.test"])
def test_only_officers_see_insights(client, auth, world, email):
    run = make_run(world, {"assignments": [{"learner": f"L{world['l1'].id}",
                                            "offer": f"O{world['o1'].id}", "rank": 1}],
                           "unplaced": []})
    auth.login(email)
    for url in pages(world, run.id):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Age band" not in response.data
    response = client.post(f"/officer/insights/rounds/{world['round'].id}/what-if",
                           data={"sector": "Digital", "area": "M", "places": 2})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "insights.what_if")) == 0


def test_officer_outside_the_round_gets_404(client, auth, world, outsider):
    run = make_run(world, {"assignments": [], "unplaced": []})
    auth.login("outsider@example.test")
    rid = world["round"].id
    for url in (f"/officer/insights/supply-demand?round={rid}",
                f"/officer/insights/supply-demand.csv?round={rid}",
                f"/officer/insights/rounds/{rid}/what-if",
                f"/officer/insights/runs/{run.id}/fairness"):
        assert client.get(url).status_code == 404, url
    assert client.get("/officer/insights/supply-demand?round=abc").status_code == 404
    response = client.get("/officer/insights/")
    assert response.status_code == 200
    assert b"Spring" not in response.data


def test_partner_officer_sees_the_pooled_round(client, auth, world):
    auth.login("officer2@example.test")  # University Two is in the round
    assert client.get(f"/officer/insights/supply-demand?round={world['round'].id}"
                      ).status_code == 200


# --- supply and demand ----------------------------------------------------------------------

def test_supply_demand_page_and_csv(client, auth, world):
    for i in range(3):
        add_learner(world, f"SK{i}", postcode="SK1 1AA", max_km=5)  # nothing within 5 km
    add_learner(world, "WORK", in_work_employer="Acme")  # in work: not counted
    db.session.commit()
    auth.login("officer1@example.test")
    response = client.get(f"/officer/insights/supply-demand?round={world['round'].id}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Shortfall heat map" in text
    assert "govuk-tag--red" in text  # SK: 3 learners, no place reachable
    assert "style=" not in text
    csv = client.get(f"/officer/insights/supply-demand.csv?round={world['round'].id}")
    assert csv.status_code == 200
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Sector,Area code,Area,Region,")
    rows = {tuple(line.split(",")[:2]): line.split(",") for line in lines[1:]}
    assert rows["Digital", "SK"][4:] == ["3", "3", "0", "0", "3", "3"]
    # M: l1 (mandated) reaches Acme's 2 places; the in-work learner is left out.
    assert rows["Digital", "M"][4:] == ["1", "1", "2", "2", "0", "0"]
    # Health: l2 holds DBS and reaches the clinic's place.
    assert rows["Health and science", "M"][4:] == ["1", "0", "1", "1", "0", "0"]
    region = client.get(f"/officer/insights/supply-demand.csv?round={world['round'].id}"
                        "&by=region").get_data(as_text=True)
    assert "Digital,,,North West,4,4,2,2,2,2" in region


def test_supply_demand_partnership_scope_ignores_other_partnerships(client, auth, world,
                                                                     outsider):
    auth.login("outsider@example.test")
    response = client.get("/officer/insights/supply-demand.csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("\n") == 1  # header only: no programmes


# --- fairness -------------------------------------------------------------------------------

def test_fairness_report_suppresses_and_flags(client, auth, world):
    o1 = world["o1"]
    assignments, unplaced = [], []
    # 10 learners aged 18-20, 9 placed (6 at first choice); 6 aged 21-24, 1 placed;
    # 3 aged 40+, all placed (a group under 5: never shown); 5 aged 25-29, all placed
    # (the smallest other group, withheld so that 40+ cannot be worked out from the total).
    for i in range(10):
        lr = add_learner(world, f"Y{i}", age_band="18-20", disability_declared=False)
        db.session.flush()
        if i < 9:
            assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}",
                                "rank": 1 if i < 6 else 2})
        else:
            unplaced.append({"learner": f"L{lr.id}", "mandated": True})
    for i in range(6):
        lr = add_learner(world, f"Z{i}", age_band="21-24", disability_declared=True)
        db.session.flush()
        if i == 0:
            assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}", "rank": 1})
        else:
            unplaced.append({"learner": f"L{lr.id}", "mandated": True})
    for i in range(8):
        lr = add_learner(world, f"O{i}", age_band="40+" if i < 3 else "25-29")
        db.session.flush()
        assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}", "rank": 1})
    run = make_run(world, {"assignments": assignments, "unplaced": unplaced})

    tables = {t.key: t for t in services.fairness_report(run)}
    age = {g.label: g for g in tables["age_band"].groups}
    assert age["40+"].row_hidden
    assert age["25-29"].row_hidden
    assert age["21-24"].counts["learners"] == 6
    assert age["21-24"].placement_rate is None  # 1 placed: under 5
    assert "placement rate" in age["21-24"].flags
    assert age["18-20"].placement_rate == 90.0
    assert age["18-20"].mean_rank == round((6 * 1 + 3 * 2) / 9, 2)
    assert tables["age_band"].total.counts["learners"] == 24

    auth.login("officer1@example.test")
    response = client.get(f"/officer/insights/runs/{run.id}/fairness")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "fewer than 5" in text
    assert "Fares worse" in text
    assert "age band “21-24”" in text
    assert "style=" not in text


def test_fairness_404_for_unknown_or_unfinished_run(client, auth, world):
    run = add_run(world["round"].id, "running")
    db.session.add(run)
    db.session.commit()
    auth.login("officer1@example.test")
    assert client.get(f"/officer/insights/runs/{run.id}/fairness").status_code == 404
    assert client.get("/officer/insights/runs/9999/fairness").status_code == 404


# --- what-if --------------------------------------------------------------------------------

@pytest.fixture
def crowded(world):
    """Five mandated Digital learners in Manchester for Acme's 2 places."""
    for i in range(4):
        add_learner(world, f"D{i}")
    db.session.commit()
    return world


def test_what_if_by_hand(crowded):
    round_ = crowded["round"]
    # Baseline: 5 mandated Digital learners, 2 places -> 2 placed. 2 more places in M -> 4.
    answer = services.what_if(round_, sector="Digital", area="M", places=2)
    assert answer.baseline["mandated"] == 5
    assert answer.baseline["mandated_placed"] == 2
    assert answer.variant["mandated_placed"] == 4
    assert answer.extra_mandated == 2
    assert answer.used_places == 2
    newly = [h for h in answer.helped if h.newly_placed]
    assert len(newly) == 2
    assert all(h.mandated for h in newly)
    # Ten more places only help the three still unplaced.
    assert services.what_if(round_, sector="Digital", area="m", places=10).extra_mandated == 3
    # Places in Aberdeen are out of everyone's reach.
    far = services.what_if(round_, sector="Digital", area="AB", places=5)
    assert far.extra_mandated == 0
    assert far.helped == []
    # Health: the only learner is not mandated and listed nothing, so extra places help nobody.
    assert services.what_if(round_, sector="Health and science", area="M",
                            places=5).extra_mandated == 0


def test_what_if_page(client, auth, crowded):
    auth.login("officer1@example.test")
    url = f"/officer/insights/rounds/{crowded['round'].id}/what-if"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"sector": "Digital", "area": "m", "places": "2",
                                      "spread": "y"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "2 more mandated learners" in text
    assert "extra place" in text
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "insights.what_if"))
    assert event.detail["extra_mandated"] == 2
    # Nothing real was created: no offers, no runs.
    assert db.session.scalar(sa.select(sa.func.count(PlacementOffer.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0


@pytest.mark.parametrize(("data", "message"), [
    ({"sector": "Digital", "area": "ZZ", "places": "2"}, "Enter a postcode area we know"),
    ({"sector": "Digital", "area": "M", "places": "0"}, "between 1 and 500"),
    ({"sector": "Digital", "area": "M", "places": "two"}, "Extra places"),
    ({"sector": "Construction", "area": "M", "places": "2"},
     "Select one of the options in the list"),
])
def test_what_if_bad_input(client, auth, crowded, data, message):
    auth.login("officer1@example.test")
    response = client.post(f"/officer/insights/rounds/{crowded['round'].id}/what-if",
                           data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "insights.what_if")) == 0


def test_virtual_offers_spread_where_learners_live():
    offers = services.virtual_offers("Digital", "M", 5, spread=True,
                                     learner_postcodes=["M1 1AA", "M1 2BB", "M14 5XX"])
    assert [o["id"] for o in offers][:2] == ["W1", "W2"]
    assert sum(o["capacity"] for o in offers) == 5
    assert all(o["employer"] == "WHATIF" and o["requires"] == [] for o in offers)
    m1, m14 = locate("M1"), locate("M14")
    assert (offers[0]["lat"], offers[0]["lon"]) == (m1.lat, m1.lon)
    assert (offers[1]["lat"], offers[1]["lon"]) == (m14.lat, m14.lon)
    (one,) = services.virtual_offers("Digital", "SK", 3)
    assert one["capacity"] == 3
