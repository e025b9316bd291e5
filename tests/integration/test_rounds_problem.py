"""Tests of building a round's placement-problem/1 from the database."""

from __future__ import annotations

from placements.extensions import db
from placements.models import Placement, PlacementLock, PlacementStatus, Preference
from placements.rounds.problem import build_problem, dropped_locks
from solver import parse_problem, solve


def test_build_problem_matches_format(world):
    r, l1, l2, o1, o2 = world["round"], world["l1"], world["l2"], world["o1"], world["o2"]
    db.session.add_all([Preference(round=r, learner=l1, offer=o1, rank=1),
                        Preference(round=r, learner=l2, offer=o2, rank=1)])
    db.session.flush()
    problem = build_problem(r)
    assert problem["format"] == "placement-problem/1"
    assert problem["settings"] == {"rank_cost": "squared", "fallback": True,
                                   "max_preferences": 3, "time_limit_s": 60}
    offers = {o["id"]: o for o in problem["offers"]}
    assert offers[f"O{o2.id}"] == {
        "id": f"O{o2.id}", "employer": f"E{world['e2'].id}", "sector": "Health and science",
        "capacity": 1, "lat": o2.site.lat, "lon": o2.site.lon, "requires": ["dbs"]}
    learners = {lrn["id"]: lrn for lrn in problem["learners"]}
    assert learners[f"L{l1.id}"] == {
        "id": f"L{l1.id}", "sector": "Digital", "mandated": True, "lat": l1.lat,
        "lon": l1.lon, "max_km": 20, "has": [], "preferences": [f"O{o1.id}"]}
    assert learners[f"L{l2.id}"]["has"] == ["dbs"]
    assert "previous" not in problem
    result = solve(parse_problem(problem))
    assert result["summary"]["placed"] == 2


def test_only_open_approved_offers_with_places(world):
    r, o1, o2 = world["round"], world["o1"], world["o2"]
    world["e2"].approved = False
    o1.capacity = 0
    db.session.flush()
    assert build_problem(r)["offers"] == []
    o1.capacity = 2
    world["e2"].approved = True
    o2.status = "withdrawn"
    db.session.flush()
    assert [o["id"] for o in build_problem(r)["offers"]] == [f"O{o1.id}"]


def test_extra_offers_appended(world):
    extra = {"id": "X1", "employer": "EX", "sector": "Digital", "capacity": 5, "lat": 53.4,
             "lon": -2.2}
    problem = build_problem(world["round"], extra_offers=[extra])
    assert problem["offers"][-1] == extra


def test_locks_and_repair_previous(world):
    r, l1, l2, o1, o2 = world["round"], world["l1"], world["l2"], world["o1"], world["o2"]
    db.session.add_all([
        PlacementLock(round_id=r.id, learner_id=l1.id, offer_id=o1.id),
        Placement(round_id=r.id, learner_id=l2.id, offer_id=o2.id,
                  status=PlacementStatus.ACCEPTED),
    ])
    db.session.flush()
    assert build_problem(r)["locked"] == [{"learner": f"L{l1.id}", "offer": f"O{o1.id}"}]
    repair = build_problem(r, previous=True)
    assert repair["locked"] == [{"learner": f"L{l1.id}", "offer": f"O{o1.id}"},
                                {"learner": f"L{l2.id}", "offer": f"O{o2.id}"}]
    assert repair["previous"] == [{"learner": f"L{l2.id}", "offer": f"O{o2.id}"}]
    o1.status = "withdrawn"
    db.session.flush()
    problem = build_problem(r)
    assert problem["locked"] == []
    assert dropped_locks(r, problem) == [(l1.id, o1.id)]


def test_declined_learners_stay_in_repair_without_the_offer_they_declined(world):
    from placements.models import PlacementDecline, Preference

    r, l2, o2 = world["round"], world["l2"], world["o2"]
    db.session.add_all([
        Placement(round_id=r.id, learner_id=l2.id, offer_id=o2.id,
                  status=PlacementStatus.DECLINED),
        PlacementDecline(round_id=r.id, learner_id=l2.id, offer_id=o2.id, reason="Too far"),
        Preference(round_id=r.id, learner_id=l2.id, offer_id=o2.id, rank=1)])
    db.session.flush()
    for previous in (False, True):
        learners = {lrn["id"]: lrn for lrn in build_problem(r, previous=previous)["learners"]}
        assert f"L{l2.id}" in learners
        assert f"O{o2.id}" not in learners[f"L{l2.id}"]["preferences"]


def test_other_rounds_places_are_taken(world):
    from datetime import UTC, datetime, timedelta

    from placements.models import AllocationRound
    other = AllocationRound(name="Other", provider=world["p1"], programmes=[world["prog1"]],
                            preference_deadline=datetime.now(UTC) + timedelta(days=1))
    db.session.add(other)
    db.session.flush()
    db.session.add(Placement(round_id=other.id, learner_id=world["l1"].id,
                             offer_id=world["o1"].id, status=PlacementStatus.PUBLISHED))
    db.session.flush()
    offers = {o["id"]: o for o in build_problem(world["round"])["offers"]}
    assert offers[f"O{world['o1'].id}"]["capacity"] == 1
