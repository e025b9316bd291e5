"""Unit tests of solver.objective: level order, coefficients, weights and range checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import objective as obj


def test_levels_in_order() -> None:
    """Repair inserts moved before rank cost; KSB coverage comes last."""
    names = [lv.name for lv in obj.levels(repair=False, ksb=False)]
    assert names == ["mandated_placed", "placed", "rank_cost"]
    full = obj.levels(repair=True, ksb=True)
    assert [lv.name for lv in full] == ["mandated_placed", "placed", "moved", "rank_cost",
                                        "ksb_covered"]
    assert [lv.maximise for lv in full] == [True, True, False, False, True]


def test_rank_costs() -> None:
    """Linear and squared rank costs, array and scalar alike (no overflow in Python ints)."""
    ranks = np.array([1, 2, 11])
    assert obj.rank_cost(ranks, "linear").tolist() == [1, 2, 11]
    assert obj.rank_cost(ranks, "squared").tolist() == [1, 4, 121]
    assert obj.rank_cost_of(4_294_967_296, "squared") == 4_294_967_296**2


def test_fallback_cost_reduced_only_past_the_listed_total() -> None:
    """c(K+1) stays when small, and becomes listed total + 1 when it is larger."""
    assert obj.effective_fallback_cost(10, "squared", 10_000) == 121
    assert obj.effective_fallback_cost(10**6, "squared", 500) == 501
    assert obj.effective_fallback_cost(3, "linear", 3) == 4


def _coefs(repair: bool, ksb: bool) -> obj.Coefficients:
    mandated = np.array([True, True, False, False, False])
    stay = np.array([False, True, False, True, False])
    cost = np.array([1, 4, 1, 9, 121])
    ksbs = np.array([2, 0, 1, 0, 3])
    return obj.coefficients(obj.levels(repair, ksb), mandated, stay, cost, ksbs,
                            locked_mandated=1, locked=2, previous_total=3, locked_kept=1)


def test_values_and_key() -> None:
    """Levels add the locks' constants; the key sorts best first."""
    coefs = _coefs(repair=True, ksb=True)
    flow = np.array([1, 0, 0, 1, 0])
    assert coefs.values(flow) == {"mandated_placed": 2, "placed": 4, "moved": 1,
                                  "rank_cost": 10, "ksb_covered": 2}
    assert coefs.key(flow) == (-2, -4, 1, 10, -2)
    worse = np.array([0, 0, 1, 1, 0])
    assert coefs.key(flow) < coefs.key(worse)


def test_spans_count_unplaced_as_zero() -> None:
    """A learner's span runs from min(0, arcs) to max(0, arcs)."""
    learner = np.array([0, 0, 1])
    assert obj.spans(np.array([3, 5, -2]), learner, 2) == 5 + 2


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.booleans(), st.booleans())
def test_flow_costs_order_allocations_lexicographically(seed: int, repair: bool,
                                                        ksb: bool) -> None:
    """Over every allocation of a small instance the folded cost sorts like the levels.

    Four learners with three arcs each; an allocation picks at most one arc per learner
    (no capacities here: the weights must order any choice correctly).
    """
    rng = np.random.default_rng(seed)
    n, per = 4, 3
    arc_learner = np.repeat(np.arange(n), per)
    mandated = np.repeat(rng.random(n) < 0.5, per)
    stay = rng.random(n * per) < 0.3
    cost = rng.integers(1, 30, n * per)
    ksbs = rng.integers(0, 4, n * per)
    coefs = obj.coefficients(obj.levels(repair, ksb), mandated, stay, cost, ksbs,
                             locked_mandated=0, locked=0, previous_total=n, locked_kept=0)
    folded = obj.flow_costs(coefs, arc_learner, n, 10)
    seen = []
    for choice in itertools.product(range(per + 1), repeat=n):
        flow = np.zeros(n * per, np.int64)
        for learner, pick in enumerate(choice):
            if pick < per:
                flow[learner * per + pick] = 1
        seen.append((coefs.key(flow), int(np.dot(folded.cost, flow))))
    # Among allocations with equal mandated + placed (the matroid argument covers the
    # rest), a lower folded cost means a lexicographically better key, and vice versa.
    for (k1, c1), (k2, c2) in itertools.combinations(seen, 2):
        if k1[0] + k1[1] == k2[0] + k2[1]:
            if k1[0] == k2[0]:
                assert (c1 < c2) == (k1 < k2)
                assert (c1 == c2) == (k1 == k2)
        elif k1[0] + k1[1] < k2[0] + k2[1]:
            assert c1 < c2


def test_flow_costs_refuse_overflow() -> None:
    """Costs whose scaled maximum would pass 2**62 raise CostRangeError."""
    coefs = _coefs(repair=True, ksb=True)
    arc_learner = np.arange(5)
    obj.flow_costs(coefs, arc_learner, 5, 1000)
    with pytest.raises(obj.CostRangeError):
        obj.flow_costs(coefs, arc_learner, 5, 2**61)


def test_check_exact_float() -> None:
    """A level spanning 2**53 or more is refused for the floating-point engine."""
    n = 3
    big = np.array([2**52, 2**52, 1])
    coefs = obj.coefficients(obj.levels(False, False), np.zeros(n, bool), np.zeros(n, bool),
                             big, np.zeros(n, np.int64), locked_mandated=0, locked=0,
                             previous_total=0, locked_kept=0)
    with pytest.raises(obj.CostRangeError):
        obj.check_exact_float(coefs, np.arange(n), n)
    obj.check_exact_float(coefs, np.zeros(n, np.int64), 1)


def test_relative_gap() -> None:
    """Gap relative to the value, with 1 as the floor."""
    assert obj.relative_gap(100, 90) == pytest.approx(0.1)
    assert obj.relative_gap(0, 2) == 2
