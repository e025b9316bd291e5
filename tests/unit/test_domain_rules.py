"""The domain core's pure rules: lifecycle tables, places held, eligibility, round phase."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from placements.domain import IllegalTransition, eligibility
from placements.domain import placements as placement_rules
from placements.domain import rounds as round_rules
from placements.domain.lifecycle import DELETE, KEEP
from placements.domain.offers import closed_reason
from placements.models import OfferStatus, PendingChange, PlacementStatus, RoundStatus
from solver.geo import haversine_km

P, MOVE, REMOVAL = PlacementStatus, PendingChange.MOVE, PendingChange.REMOVAL
PLACEMENT = placement_rules.PLACEMENT


# --- the placement lifecycle table ---------------------------------------------------------

@pytest.mark.parametrize(("verb", "state", "sub", "after"), [
    ("publish", P.PROPOSED, None, (P.PUBLISHED, None)),
    ("accept", P.PUBLISHED, None, (P.ACCEPTED, None)),
    ("accept", P.PUBLISHED, MOVE, (P.ACCEPTED, MOVE)),
    ("decline", P.ACCEPTED, MOVE, (P.DECLINED, None)),
    ("propose_move", P.ACCEPTED, None, (P.ACCEPTED, MOVE)),
    ("propose_removal", P.PUBLISHED, MOVE, (P.PUBLISHED, REMOVAL)),
    ("cancel_change", P.PUBLISHED, REMOVAL, (P.PUBLISHED, None)),
    ("publish_move", P.ACCEPTED, MOVE, (P.PUBLISHED, None)),
    ("publish_removal", P.ACCEPTED, REMOVAL, (P.WITHDRAWN, None)),
    ("repropose", P.DECLINED, None, (P.PROPOSED, None)),
    ("repropose", P.WITHDRAWN, None, (P.PROPOSED, None)),
])
def test_allowed_placement_moves(verb, state, sub, after):
    assert PLACEMENT.outcome(verb, state, sub) == after


@pytest.mark.parametrize(("verb", "state", "sub"), [
    ("publish", P.PUBLISHED, None), ("accept", P.ACCEPTED, None), ("accept", P.DECLINED, None),
    ("decline", P.DECLINED, None), ("decline", P.PROPOSED, None),
    ("publish_move", P.PUBLISHED, None), ("publish_removal", P.PUBLISHED, MOVE),
    ("cancel_change", P.ACCEPTED, None), ("propose_move", P.WITHDRAWN, None),
    ("repropose", P.PUBLISHED, None), ("discard", P.ACCEPTED, None),
])
def test_refused_placement_moves_say_why(verb, state, sub):
    with pytest.raises(IllegalTransition) as caught:
        PLACEMENT.check(verb, state, sub)
    assert caught.value.message


def test_the_placement_table_is_closed_and_every_state_is_reachable():
    reached = {(P.PROPOSED, None)}
    frontier = [(P.PROPOSED, None)]
    while frontier:
        state, sub = frontier.pop()
        for verb in PLACEMENT.verbs(state, sub):
            t = PLACEMENT.table[verb]
            if t.target == DELETE:
                continue
            nxt = PLACEMENT.outcome(verb, state, sub)
            assert nxt[1] is None or nxt[0] in (P.PUBLISHED, P.ACCEPTED), (verb, nxt)
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert {s for s, _ in reached} == set(P)
    assert {sub for _, sub in reached} == {None, MOVE, REMOVAL}


def test_round_table():
    R = RoundStatus
    rules = round_rules.ROUND
    assert rules.outcome("open", R.DRAFT)[0] == R.OPEN
    assert rules.outcome("publish", R.PUBLISHED)[0] == R.PUBLISHED
    for state in (R.DRAFT, R.OPEN, R.CLOSED, R.PUBLISHED):
        assert rules.can("archive", state)
    assert rules.verbs(R.ARCHIVED) == []
    with pytest.raises(IllegalTransition, match="archived"):
        rules.check("publish", R.ARCHIVED)
    assert KEEP is not None


# --- places held ---------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "pending", "held_at"), [
    (P.PROPOSED, None, 1), (P.PUBLISHED, None, 1), (P.ACCEPTED, None, 1),
    (P.PUBLISHED, MOVE, 2), (P.ACCEPTED, MOVE, 2), (P.PUBLISHED, REMOVAL, None),
    (P.ACCEPTED, REMOVAL, None), (P.DECLINED, None, None), (P.WITHDRAWN, None, None),
])
def test_where_a_placement_holds_its_place(status, pending, held_at):
    assert placement_rules.holds_place_at(status, pending, 1, 2 if pending == MOVE else None) \
        == held_at


# --- round phase -----------------------------------------------------------------------------

def test_choices_close_exactly_at_the_deadline():
    deadline = datetime(2027, 1, 15, 17, tzinfo=UTC)
    just_before = deadline - timedelta(microseconds=1)
    assert round_rules.takes_choices(RoundStatus.OPEN, deadline, just_before)
    assert not round_rules.takes_choices(RoundStatus.OPEN, deadline, deadline)
    assert round_rules.choices_closed(RoundStatus.OPEN, deadline, deadline)
    assert not round_rules.choices_closed(RoundStatus.OPEN, deadline, just_before)
    assert round_rules.choices_closed(RoundStatus.CLOSED, deadline, just_before)
    assert not round_rules.takes_choices(RoundStatus.CLOSED, deadline, just_before)


@pytest.mark.parametrize(("status", "after", "allocated", "waiting", "repair", "phase"), [
    (RoundStatus.DRAFT, False, False, False, False, round_rules.Phase.DRAFT),
    (RoundStatus.OPEN, False, True, False, False, round_rules.Phase.TAKING_CHOICES),
    (RoundStatus.OPEN, True, False, False, False, round_rules.Phase.CHOICES_CLOSED),
    (RoundStatus.OPEN, True, True, False, False, round_rules.Phase.ALLOCATED),
    (RoundStatus.CLOSED, False, True, False, False, round_rules.Phase.ALLOCATED),
    (RoundStatus.PUBLISHED, True, True, False, False, round_rules.Phase.PUBLISHED),
    (RoundStatus.PUBLISHED, True, True, True, False, round_rules.Phase.CHANGES_WAITING),
    (RoundStatus.PUBLISHED, True, True, True, True, round_rules.Phase.REPAIR_DUE),
    (RoundStatus.ARCHIVED, True, True, False, True, round_rules.Phase.ARCHIVED),
])
def test_round_phase(status, after, allocated, waiting, repair, phase):
    deadline = datetime(2027, 1, 15, tzinfo=UTC)
    now = deadline + timedelta(days=1) if after else deadline - timedelta(days=1)
    assert round_rules.phase(status, deadline, now, allocated=allocated,
                             changes_waiting=waiting, repair_due=repair) == phase


# --- offers open to choices ----------------------------------------------------------------

def test_offers_open_to_choices():
    today = date(2026, 11, 30)
    assert closed_reason(OfferStatus.OPEN, True, today, today) is None
    assert "finished" in closed_reason(OfferStatus.OPEN, True, today - timedelta(days=1), today)
    assert "withdrawn" in closed_reason(OfferStatus.WITHDRAWN, True, today, today)
    assert "approved" in closed_reason(OfferStatus.OPEN, False, today, today)


# --- eligibility -----------------------------------------------------------------------------

def _learner(**kw) -> eligibility.LearnerFacts:
    base = {"sector": "Digital", "lat": 53.48, "lon": -2.24, "max_km": 25.0}
    return eligibility.LearnerFacts(**{**base, **kw})


def _offer(**kw) -> eligibility.OfferFacts:
    base = {"id": 1, "sector": "Digital", "lat": 53.48, "lon": -2.24}
    return eligibility.OfferFacts(**{**base, **kw})


def test_eligible_pair():
    answer = eligibility.assess(_learner(), _offer())
    assert answer.ok
    assert answer.km == 0
    assert not answer.for_learner()


def test_every_reason_at_once_in_both_audiences():
    answer = eligibility.assess(
        _learner(declined=frozenset({1}), has=frozenset({"cscs", "check-4"}),
                 valid_until={"cscs": date(2027, 1, 31)}, unverified=frozenset({"check-4"}),
                 needs=frozenset({"check-4"}), names={"check-4": "Occupational health"}),
        _offer(sector="Health", lat=54.5, requires=frozenset({"dbs", "cscs"}),
               closed_because="withdrawn by the employer", start=date(2027, 2, 1)))
    assert set(answer.reasons) == set(eligibility.Reason)
    assert answer.missing == ("dbs",)
    assert answer.expired == ("cscs",)
    assert answer.unverified == ("check-4",)
    learner_words = " ".join(answer.for_learner())
    officer_words = " ".join(answer.for_officer())
    assert "Enhanced DBS check" in learner_words
    assert "you" in learner_words
    assert "The learner does not hold: Enhanced DBS check." in officer_words
    assert "further than the 25 km they can travel" in officer_words
    assert "(for example dbs)" not in learner_words
    assert "Your CSCS card (construction site safety) will no longer be valid when it " \
        "starts on 01/02/2027." in learner_words
    assert "Occupational health must be seen and verified" in learner_words
    assert "has not been verified, and this round needs verified checks" in officer_words


def test_a_check_valid_on_the_start_day_counts():
    learner = _learner(has=frozenset({"dbs"}), valid_until={"dbs": date(2027, 2, 1)})
    assert eligibility.assess(learner, _offer(requires=frozenset({"dbs"}),
                                              start=date(2027, 2, 1))).ok
    late = eligibility.assess(learner, _offer(requires=frozenset({"dbs"}),
                                              start=date(2027, 2, 2)))
    assert late.reasons == (eligibility.Reason.EXPIRED,)
    # A check declared without dates counts as held.
    assert eligibility.assess(_learner(has=frozenset({"dbs"})),
                              _offer(requires=frozenset({"dbs"}), start=date(2030, 1, 1))).ok


def test_dbs_counts_for_its_validity_unless_on_the_update_service():
    until = eligibility.check_valid_until("dbs", issued_on=date(2024, 2, 29), expires_on=None,
                                          update_service=False, dbs_valid_months=36)
    assert until == date(2027, 2, 28)
    assert eligibility.check_valid_until("dbs", issued_on=date(2024, 2, 29), expires_on=None,
                                         update_service=True, dbs_valid_months=36) is None
    assert eligibility.check_valid_until("cscs", issued_on=None, expires_on=date(2028, 1, 1),
                                         update_service=False, dbs_valid_months=36) \
        == date(2028, 1, 1)


def test_distance_exactly_at_the_limit_is_within_reach():
    learner = _learner()
    km = haversine_km(learner.lat, learner.lon, 53.70, -2.24)
    at_limit = _learner(max_km=km)
    assert eligibility.assess(at_limit, _offer(lat=53.70)).ok
    assert eligibility.assess(_learner(max_km=np.nextafter(km, 0)),
                              _offer(lat=53.70)).beyond_travel


def test_travel_warning_edges():
    learner = _learner(max_km=20.0)
    km = haversine_km(learner.lat, learner.lon, 53.70, -2.24)
    assert eligibility.assess(_learner(max_km=km), _offer(lat=53.70)).travel_warning() is None
    beyond = eligibility.assess(learner, _offer(lat=53.70))
    assert beyond.travel_warning() == (
        f"Beyond your travel limit ({km:.1f} km, you said 20 km): this choice will not count")
    assert f"{beyond.travel_warning()}." in beyond.for_learner()
    # Just beyond a whole-kilometre limit never reads as within it.
    just = eligibility.Eligibility(km=25.0001, max_km=25.0,
                                   reasons=(eligibility.Reason.DISTANCE,))
    assert just.travel_warning() == ("Beyond your travel limit (25.1 km, you said 25 km): "
                                     "this choice will not count")
    # Other reasons alone say nothing about travel.
    assert eligibility.assess(_learner(), _offer(sector="Health")).travel_warning() is None


def test_matrix_form_agrees_with_the_pair_rule():
    rng = random.Random(7)
    tags = ["dbs", "cscs", "driving_licence"]
    learners = [_learner(lat=53 + rng.random(), lon=-2.8 + rng.random(),
                         max_km=float(rng.choice([5, 10, 25, 40])),
                         has=frozenset(t for t in tags if rng.random() < 0.4))
                for _ in range(80)]
    offers = [_offer(id=i, lat=53 + rng.random(), lon=-2.8 + rng.random(),
                     requires=frozenset(t for t in tags if rng.random() < 0.2))
              for i in range(60)]
    # Some pairs exactly at the limit.
    for i in range(0, 80, 8):
        o = offers[i % 60]
        lr = learners[i]
        learners[i] = _learner(lat=lr.lat, lon=lr.lon, has=lr.has,
                               max_km=haversine_km(lr.lat, lr.lon, o.lat, o.lon))
    index: dict[str, int] = {}
    need = eligibility.tag_masks([o.requires for o in offers], index)
    has = eligibility.tag_masks([lr.has for lr in learners], index)
    matrix = eligibility.reach_matrix([lr.lat for lr in learners], [lr.lon for lr in learners],
                                      [lr.max_km for lr in learners], has,
                                      [o.lat for o in offers], [o.lon for o in offers], need)
    for i, lr in enumerate(learners):
        for j, o in enumerate(offers):
            assert matrix[i, j] == eligibility.assess(lr, o).ok, (i, j)
