"""A learner's standing in a round (what they are told), and which round settings may change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from placements.domain import rounds as round_rules
from placements.domain.standing import TO_PLACE_AGAIN, WORDS, Standing, standing, words
from placements.models import PlacementStatus, RoundStatus

P, R = PlacementStatus, RoundStatus
NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)
LATER, EARLIER = NOW + timedelta(days=5), NOW - timedelta(days=5)


@pytest.mark.parametrize(("status", "deadline", "published", "placement", "expected"), [
    (R.OPEN, LATER, False, None, Standing.CHOOSING),
    (R.OPEN, LATER, False, P.PROPOSED, Standing.CHOOSING),  # a proposal is not shown
    (R.OPEN, NOW, False, None, Standing.WAITING),  # the deadline is the end of choosing
    (R.OPEN, EARLIER, False, P.PROPOSED, Standing.WAITING),
    (R.CLOSED, LATER, False, None, Standing.WAITING),  # closed early
    (R.PUBLISHED, EARLIER, True, P.PUBLISHED, Standing.OFFERED),
    (R.PUBLISHED, EARLIER, True, P.ACCEPTED, Standing.ACCEPTED),
    (R.PUBLISHED, EARLIER, True, P.DECLINED, Standing.DECLINED),
    (R.PUBLISHED, EARLIER, True, P.WITHDRAWN, Standing.WITHDRAWN),
    (R.PUBLISHED, EARLIER, True, P.PROPOSED, Standing.ARRANGING),
    (R.PUBLISHED, EARLIER, True, None, Standing.NOT_PLACED),
    (R.ARCHIVED, EARLIER, True, None, Standing.FINISHED),
    (R.ARCHIVED, EARLIER, True, P.ACCEPTED, Standing.ACCEPTED),
    (R.ARCHIVED, EARLIER, False, None, Standing.FINISHED),
])
def test_standing(status, deadline, published, placement, expected):
    assert standing(round_status=status, deadline=deadline, now=NOW, published=published,
                    placement_status=placement) == expected


def test_every_standing_has_words_for_both_readers():
    assert set(WORDS) == set(Standing)
    for kind in Standing:
        learner, officer = words(kind, round="Spring", deadline="1 March 2027",
                                 offer="Tester", employer="Acme")
        assert learner
        assert officer
        assert "{" not in learner + officer


def test_officers_words_never_address_the_learner():
    for kind in Standing:
        _, officer = words(kind, round="R", deadline="D", offer="O", employer="E")
        assert " you" not in f" {officer.lower()}"


def test_declined_and_withdrawn_are_to_be_placed_again():
    assert {Standing.DECLINED, Standing.WITHDRAWN} == TO_PLACE_AGAIN


def _round(status=R.OPEN, publications=0, deadline=LATER):
    return SimpleNamespace(status=status, publications=publications,
                           preference_deadline=deadline)


@pytest.mark.parametrize(("round_", "changes", "most", "field"), [
    (_round(), {"name": "x"}, 0, None),
    (_round(), {"preference_deadline": EARLIER}, 0, "preference_deadline"),
    (_round(), {"preference_deadline": NOW + timedelta(days=800)}, 0, "preference_deadline"),
    (_round(R.CLOSED), {"preference_deadline": EARLIER}, 0, None),  # closed early: allowed
    (_round(), {"max_preferences": 2}, 3, "max_preferences"),
    (_round(), {"max_preferences": 3}, 3, None),
    (_round(deadline=EARLIER), {"max_preferences": 2}, 3, None),  # nobody can change now
    (_round(R.PUBLISHED, 1), {"max_preferences": 2}, 0, "max_preferences"),
    (_round(R.PUBLISHED, 1), {"programmes": ["p"]}, 0, "programmes"),
    (_round(R.PUBLISHED, 1), {"name": "x", "time_limit_s": 9}, 0, None),
    (_round(R.ARCHIVED), {"name": "x"}, 0, "name"),
    (_round(), {"programmes": []}, 0, "programmes"),
])
def test_which_round_settings_may_change(round_, changes, most, field):
    refusals = round_rules.change_refusals(round_, changes, NOW, most_listed=most)
    assert (refusals[0][0] if refusals else None) == field
