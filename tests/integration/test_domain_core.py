"""The domain core against the database: each rule's SQL form agrees with its Python form,
and every caller gives the same answer."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placements.domain import ConcurrentChange, access
from placements.domain import placements as placement_rules
from placements.domain.offers import closed_because, open_to_choices_sql
from placements.domain.placements import PLACEMENT, held_places, holds_place_at
from placements.employers import services as employer_services
from placements.employers.services import OfferData
from placements.extensions import db
from placements.models import (
    AllocationRound,
    Employer,
    Learner,
    PendingChange,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Programme,
)
from placements.rounds import services as round_services
from placements.rounds.problem import build_problem
from tests.conftest import make_user

P = PlacementStatus


def _learner(world, n: int, programme) -> Learner:
    user = make_user(f"extra{n}@example.test", "learner")
    learner = Learner(user=user, provider=programme.provider, programme=programme,
                      student_ref=f"X{n}", home_postcode="M1 1AA", lat=world["l1"].lat,
                      lon=world["l1"].lon, max_travel_km=20)
    db.session.add(learner)
    db.session.flush()
    return learner


@pytest.fixture
def busy(world):
    """Placements in every state at two offers of one employer, in two rounds."""
    o1 = world["o1"]
    o1.capacity = 6
    o4 = PlacementOffer(employer=world["e1"], site=world["s1"], title="Analyst",
                        sector="Digital", capacity=3, start_date=date(2027, 2, 1),
                        end_date=date(2027, 5, 1), hours_per_week=30, requirements=[])
    other = AllocationRound(name="Autumn", provider=world["p1"], providers=[world["p1"]],
                            programmes=[world["prog1"]],
                            preference_deadline=datetime.now(UTC) + timedelta(days=9))
    db.session.add_all([o4, other])
    db.session.flush()
    r = world["round"]
    learners = [world["l1"]] + [_learner(world, n, world["prog1"]) for n in range(8)]
    rows = [
        (r, learners[0], o1, P.PUBLISHED, None),
        (r, learners[1], o1, P.ACCEPTED, PendingChange.MOVE),  # moving to o4
        (r, learners[2], o1, P.PUBLISHED, PendingChange.REMOVAL),
        (r, learners[3], o1, P.PROPOSED, None),
        (r, learners[4], o1, P.DECLINED, None),
        (r, learners[5], o4, P.WITHDRAWN, None),
        (other, learners[6], o1, P.ACCEPTED, None),
        (other, learners[7], o4, P.PUBLISHED, PendingChange.MOVE),  # moving to o1
        (other, learners[8], o4, P.PROPOSED, None),
    ]
    for round_, learner, offer, status, pending in rows:
        target = None
        if pending == PendingChange.MOVE:
            target = (o4 if offer is o1 else o1).id
        db.session.add(Placement(round_id=round_.id, learner_id=learner.id, offer_id=offer.id,
                                 status=status, pending_change=pending,
                                 pending_offer_id=target))
    db.session.commit()
    return {**world, "o4": o4, "other": other, "learners": learners}


def _python_held(round_id=None, exclude_round=None):
    counts: dict[int, int] = {}
    for p in db.session.scalars(sa.select(Placement)):
        if round_id is not None and p.round_id != round_id:
            continue
        if exclude_round is not None and p.round_id == exclude_round:
            continue
        at = holds_place_at(p.status, p.pending_change, p.offer_id, p.pending_offer_id)
        if at is not None:
            counts[at] = counts.get(at, 0) + 1
    return counts


def test_places_held_sql_agrees_with_python(busy):
    o1, o4, r, other = busy["o1"], busy["o4"], busy["round"], busy["other"]
    assert held_places() == _python_held()
    assert held_places() == {o1.id: 4, o4.id: 2}
    assert held_places(round_id=r.id) == _python_held(round_id=r.id)
    assert held_places(exclude_round=r.id) == _python_held(exclude_round=r.id)
    assert held_places([o4.id]) == {o4.id: 2}
    assert placement_rules.held_places_by_round(o1.id) == {r.id: 2, other.id: 2}


def test_every_page_agrees_on_places_held(busy, client, auth):
    """The employer's offer page, the override warning and the problem builder all count
    places held the same way, pending moves included."""
    o1, o4, r, _other = busy["o1"], busy["o4"], busy["round"], busy["other"]
    o4.capacity = 2
    db.session.commit()
    # The override page calls o4 full (2 held, one of them a pending move into it).
    warnings = round_services.override_warnings(r, busy["l2"], o4)
    assert any("2 of 2 places are taken" in w for w in warnings)
    # The problem builder of the first round subtracts what the other round holds.
    offers = {o["id"]: o["capacity"] for o in build_problem(r)["offers"]}
    elsewhere = _python_held(exclude_round=r.id)
    assert offers[f"O{o4.id}"] == o4.capacity - elsewhere[o4.id] == 1
    assert offers[f"O{o1.id}"] == o1.capacity - elsewhere[o1.id] == 4
    auth.login("emp1@example.test")
    page = client.get(f"/employer/offers/{o1.id}").get_data(as_text=True)
    assert "Places held (all rounds, with allocations not yet published)" in page
    assert f">{held_places([o1.id])[o1.id]}<" in page.replace("\n", "").replace(" ", "")


def test_cut_below_a_pending_move_flags_the_round(busy):
    """Regression: an employer could cut an offer below what a pending move into it needs
    without the round being flagged for repair."""
    o4, other, r = busy["o4"], busy["other"], busy["round"]
    employer = busy["e1"]
    # o4 holds: one pending move into it (round 1), one proposal (other round).
    data = OfferData(site_id=o4.site_id, title=o4.title, sector=o4.sector, capacity=1,
                     start_date=o4.start_date, end_date=o4.end_date,
                     hours_per_week=o4.hours_per_week)
    change = employer_services.update_offer(busy["emp1"], employer, o4, data,
                                            reason="Mentor left")
    db.session.commit()
    assert change is not None
    assert change.placements_held == 2
    assert sorted(change.rounds_flagged) == sorted([r.id, other.id])
    db.session.expire_all()
    assert db.session.get(AllocationRound, r.id).needs_repair
    assert db.session.get(AllocationRound, other.id).needs_repair


def test_cut_that_still_fits_flags_nothing(busy):
    o1 = busy["o1"]
    data = OfferData(site_id=o1.site_id, title=o1.title, sector=o1.sector, capacity=4,
                     start_date=o1.start_date, end_date=o1.end_date,
                     hours_per_week=o1.hours_per_week)
    change = employer_services.update_offer(busy["emp1"], busy["e1"], o1, data,
                                            reason="Smaller team")
    assert change.rounds_flagged == []


# --- scoping ---------------------------------------------------------------------------------

def test_round_scope_sql_agrees_with_python(busy):
    other_provider_round = AllocationRound(
        name="Theirs", provider=busy["p2"], providers=[busy["p2"]], programmes=[busy["prog2"]],
        preference_deadline=datetime.now(UTC) + timedelta(days=3))
    db.session.add(other_provider_round)
    db.session.commit()
    rounds = db.session.scalars(sa.select(AllocationRound)).all()
    for officer in (busy["officer1"], busy["officer2"]):
        sql = set(db.session.scalars(sa.select(AllocationRound.id).where(
            access.officer_rounds_sql(officer))))
        assert sql == {r.id for r in rounds if access.officer_sees_round(officer, r)}
    assert other_provider_round.id not in {r.id for r in rounds if access.officer_sees_round(
        busy["officer1"], r)}


def test_learner_and_programme_scope_sql_agrees_with_python(busy):
    for officer in (busy["officer1"], busy["officer2"]):
        learners = db.session.scalars(sa.select(Learner)).all()
        assert set(db.session.scalars(sa.select(Learner.id).where(
            access.officer_learners_sql(officer)))) == {
            lr.id for lr in learners if access.officer_sees_learner(officer, lr)}
        programmes = db.session.scalars(sa.select(Programme)).all()
        assert set(db.session.scalars(sa.select(Programme.id).where(
            access.officer_programmes_sql(officer)))) == {
            p.id for p in programmes if access.officer_sees_programme(officer, p)}
        partnership = set(db.session.scalars(sa.select(Programme.id).where(
            access.officer_programmes_sql(officer, partnership=True))))
        assert partnership == {p.id for p in programmes}


def test_employer_and_learner_placement_scope_sql_agrees_with_python(busy):
    placements = db.session.scalars(sa.select(Placement)).all()
    for employer in db.session.scalars(sa.select(Employer)):
        sql = set(db.session.scalars(
            sa.select(Placement.id).join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
            .where(access.employer_placements_sql(employer.id))))
        assert sql == {p.id for p in placements
                       if access.employer_sees_placement(employer.id, p)}
    for learner in busy["learners"]:
        sql = set(db.session.scalars(sa.select(Placement.id).where(
            access.learner_placements_sql(learner))))
        assert sql == {p.id for p in placements if access.learner_sees_placement(learner, p)}
    # Proposals are never shown to the employer or the learner.
    proposed = {p.id for p in placements if p.status == P.PROPOSED}
    assert proposed
    assert not proposed & {p.id for p in placements
                                        if access.employer_sees_placement(busy["e1"].id, p)}


def test_offers_open_to_choices_sql_agrees_with_python(busy):
    busy["e2"].approved = False
    busy["o4"].end_date = date(2020, 3, 31)
    busy["o4"].start_date = date(2020, 1, 6)
    ended = busy["o4"]
    withdrawn = PlacementOffer(employer=busy["e1"], site=busy["s1"], title="Gone",
                               sector="Digital", capacity=1, start_date=date(2027, 2, 1),
                               end_date=date(2027, 5, 1), hours_per_week=30,
                               status="withdrawn")
    db.session.add(withdrawn)
    db.session.commit()
    offers = db.session.scalars(sa.select(PlacementOffer)).all()
    sql = set(db.session.scalars(sa.select(PlacementOffer.id).join(Employer).where(
        open_to_choices_sql())))
    assert sql == {o.id for o in offers if closed_because(o) is None}
    assert ended.id not in sql
    assert withdrawn.id not in sql
    assert busy["o2"].id not in sql


# --- lifecycles: atomic transitions ----------------------------------------------------------

def test_a_stale_transition_changes_nothing(busy):
    placement = db.session.scalar(sa.select(Placement).where(
        Placement.learner_id == busy["l1"].id, Placement.round_id == busy["round"].id))
    # Another transaction accepts it behind this session's back.
    with db.engine.begin() as conn:
        conn.execute(sa.update(Placement).where(Placement.id == placement.id)
                     .values(status="accepted"))
    assert placement.status == P.PUBLISHED  # what this session last read
    with pytest.raises(ConcurrentChange, match="already accepted"):
        PLACEMENT.apply(placement, "accept", actor=None)
    db.session.rollback()
    assert db.session.get(Placement, placement.id).status == P.ACCEPTED


def test_concurrent_answers_to_one_placement_one_wins(app, busy):
    """Ten threads accept or decline the same published placement: exactly one wins."""
    placement_id = db.session.scalar(sa.select(Placement.id).where(
        Placement.learner_id == busy["l1"].id, Placement.round_id == busy["round"].id))
    db.session.remove()
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def answer(i: int) -> None:
        with app.app_context():
            placement = db.session.get(Placement, placement_id)
            _ = placement.status, placement.pending_change  # read before the race
            barrier.wait()
            try:
                PLACEMENT.apply(placement, "accept" if i % 2 else "decline", actor=None,
                                values={"decline_reason": None if i % 2 else "No"})
                db.session.commit()
                outcomes.append("won")
            except ConcurrentChange:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 9 + ["won"]
    final = db.session.get(Placement, placement_id)
    assert final.status in (P.ACCEPTED, P.DECLINED)
    events = db.session.scalar(sa.text(
        "SELECT count(*) FROM audit_event WHERE object_type = 'Placement' "
        "AND action IN ('placement.accepted', 'placement.declined')"))
    assert events == 1


def test_every_caller_agrees_on_which_offers_learners_may_choose(busy, client, auth):
    """The learner's offer list, the offer page, saving choices and the problem builder all
    follow one rule (`domain.offers`): withdrawn, finished and unapproved offers are out."""
    from placements.learners import services as learner_services

    db.session.autoflush = False
    finished = PlacementOffer(employer=busy["e1"], site=busy["s1"], title="Last year",
                              sector="Digital", capacity=2, start_date=date(2025, 1, 6),
                              end_date=date(2025, 3, 28), hours_per_week=30)
    withdrawn = PlacementOffer(employer=busy["e1"], site=busy["s1"], title="Gone",
                               sector="Digital", capacity=2, start_date=date(2027, 2, 1),
                               end_date=date(2027, 5, 1), hours_per_week=30,
                               status="withdrawn")
    unapproved = Employer(name="Pending Co", sector="Digital", region="North West")
    site = busy["s1"].__class__(employer=unapproved, name="Yard", postcode="M1 1AA",
                                lat=busy["s1"].lat, lon=busy["s1"].lon)
    hidden = PlacementOffer(employer=unapproved, site=site, title="Not yet", sector="Digital",
                            capacity=2, start_date=date(2027, 2, 1),
                            end_date=date(2027, 5, 1), hours_per_week=30)
    db.session.add_all([finished, withdrawn, unapproved, site, hidden])
    db.session.commit()
    db.session.autoflush = True
    learner = busy["l1"]
    open_ids = {o.id for o in db.session.scalars(sa.select(PlacementOffer))
                if o.sector == "Digital" and closed_because(o) is None}
    assert open_ids == {busy["o1"].id, busy["o4"].id}
    listed = {h.offer_id for h in learner_services.search_offers(learner)}
    assert listed == open_ids
    offered = {int(o["id"][1:]) for o in build_problem(busy["round"])["offers"]
               if o["sector"] == "Digital"}
    assert offered == open_ids
    auth.login("learner1@example.test")
    for offer in (busy["o1"], busy["o4"], finished, withdrawn, hidden):
        status = client.get(f"/learner/offers/{offer.id}").status_code
        assert status == (200 if offer.id in open_ids else 404), offer.title
    for offer in (finished, withdrawn, hidden):
        response = client.post(f"/learner/rounds/{busy['round'].id}/choices",
                               data={"add": str(offer.id)})
        assert "no longer available" in client.get(
            f"/learner/rounds/{busy['round'].id}/choices").get_data(as_text=True) \
            or response.status_code == 400
    db.session.expire_all()
    from placements.models import Preference
    chosen = set(db.session.scalars(sa.select(Preference.offer_id).where(
        Preference.learner_id == learner.id)))
    assert not chosen & {finished.id, withdrawn.id, hidden.id}
