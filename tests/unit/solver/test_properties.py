"""Property tests on random small instances: feasibility, locks, exactness."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solver_reference import allowed, brute_force, employer_limits_hold, max_mandated

from solver import ProblemError, parse_problem, solve

SECTORS = ["digital", "care"]
KSBS = ["K1", "S4", "B2"]


@st.composite
def problems(draw: st.DrawFn, *, side: bool = False, max_learners: int = 5,
             extras: bool = False) -> dict[str, Any]:
    """Draw a small valid problem, optionally with locks, a previous run and employer limits.

    `extras` adds the optional fields: exclusions, KSBs and the KSB coverage level.
    """
    n_offers = draw(st.integers(1, 4))
    n_learners = draw(st.integers(1, max_learners))
    coord = st.floats(-0.3, 0.3, allow_nan=False)
    offers = [
        {
            "id": f"O{i}",
            "employer": f"E{draw(st.integers(0, 2))}",
            "sector": draw(st.sampled_from(SECTORS)),
            "capacity": draw(st.integers(0, 2)),
            "lat": 53.0 + draw(coord),
            "lon": -2.0 + draw(coord),
            "requires": draw(st.sampled_from([[], ["dbs"]])),
        }
        for i in range(n_offers)
    ]
    ids = [o["id"] for o in offers] + ["O99"]
    learners = []
    for i in range(n_learners):
        learner: dict[str, Any] = {
            "id": f"L{i}",
            "sector": draw(st.sampled_from(SECTORS)),
            "mandated": draw(st.booleans()),
            "lat": 53.0 + draw(coord),
            "lon": -2.0 + draw(coord),
            "has": draw(st.sampled_from([[], ["dbs"]])),
            "preferences": draw(st.lists(st.sampled_from(ids), max_size=5)),
        }
        limit = draw(st.sampled_from([None, 10, 25, 60]))
        if limit is not None:
            learner["max_km"] = limit
        if extras:
            learner["excluded"] = draw(st.lists(st.sampled_from(ids), max_size=2))
            learner["outstanding_ksbs"] = draw(st.lists(st.sampled_from(KSBS), max_size=3))
        learners.append(learner)
    if extras:
        for o in offers:
            o["ksbs"] = draw(st.lists(st.sampled_from(KSBS), max_size=3))
    data: dict[str, Any] = {
        "format": "placement-problem/1",
        "settings": {
            "rank_cost": draw(st.sampled_from(["linear", "squared"])),
            "fallback": draw(st.booleans()),
            "max_preferences": draw(st.integers(1, 4)),
            **({"ksb_coverage": draw(st.booleans())} if extras else {}),
        },
        "offers": offers,
        "learners": learners,
    }
    left = {o["id"]: o["capacity"] for o in offers}
    locked = []
    for learner in learners:
        if draw(st.integers(0, 5)) == 0:
            offer = draw(st.sampled_from(offers))
            if left[offer["id"]] > 0:
                left[offer["id"]] -= 1
                locked.append({"learner": learner["id"], "offer": offer["id"]})
    data["locked"] = locked
    if draw(st.booleans()):
        data["previous"] = [
            {"learner": le["id"], "offer": draw(st.sampled_from(ids))}
            for le in learners
            if draw(st.booleans())
        ]
    if side:
        employers = []
        for e in range(3):
            entry: dict[str, Any] = {"id": f"E{e}"}
            if draw(st.booleans()):
                entry["max_learners"] = draw(st.integers(0, 3))
            if draw(st.booleans()):
                entry["min_if_any"] = draw(st.integers(0, 3))
            employers.append(entry)
        data["employers"] = employers
    return data


def _key(data: dict[str, Any], result: dict[str, Any]) -> tuple[int, ...]:
    """The lexicographic objective of a result, comparable with brute_force()."""
    summary = result["summary"]
    key: tuple[int, ...] = (-summary["mandated_placed"], -summary["placed"])
    if data.get("previous") is not None:
        key += (summary["moved"],)
    key += (summary["rank_cost"],)
    if data["settings"].get("ksb_coverage"):
        key += (-summary["ksb_covered"],)
    return key


def _check_feasible(data: dict[str, Any], result: dict[str, Any]) -> None:
    """Assert capacity, once-only, allowed pairs, locks kept and complete accounting."""
    options = allowed(data)
    capacity = {o["id"]: o["capacity"] for o in data["offers"]}
    locked = {p["learner"]: p["offer"] for p in data.get("locked", [])}
    learner_of = {le["id"]: le for le in data["learners"]}
    seen: set[str] = set()
    use: dict[str, int] = {}
    for a in result["assignments"]:
        assert a["learner"] not in seen
        seen.add(a["learner"])
        use[a["offer"]] = use.get(a["offer"], 0) + 1
        if a["locked"]:
            assert locked[a["learner"]] == a["offer"]
            assert a["rank"] is None
        else:
            assert a["offer"] in options[a["learner"]]
            assert a["offer"] not in learner_of[a["learner"]].get("excluded", [])
            assert a["rank"] == options[a["learner"]][a["offer"]]
    assert all(use[o] <= capacity[o] for o in use)
    assert locked.keys() <= seen
    unplaced = {u["learner"] for u in result["unplaced"]}
    assert not unplaced & seen
    assert unplaced | seen == {le["id"] for le in data["learners"]}
    assert result["summary"]["placed"] == len(seen)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_flow_allocation_is_feasible_and_exact(data: dict[str, Any]) -> None:
    """Without employer limits: feasible, mandated maximal, optimal against brute force."""
    result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    assert result["summary"]["mandated_placed"] == max_mandated(data)
    assert _key(data, result) == brute_force(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4))
def test_employer_limits_are_met_and_exact(data: dict[str, Any]) -> None:
    """With employer limits: limits hold and the objective matches brute force."""
    best = brute_force(data)
    if best is None:  # locks and limits admit no allocation: an input error
        with pytest.raises(ProblemError, match="employer"):
            solve(parse_problem(data))
        return
    result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    final = {a["learner"]: a["offer"] for a in result["assignments"]}
    assert employer_limits_hold(data, final)
    assert _key(data, result) == best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hubs_match_explicit_fallback_arcs(seed: int) -> None:
    """On realistic instances the hub-compressed flow reaches the same optimum as all arcs."""
    from bench.instances import generate
    from solver.allocate import _levels, _to_arcs
    from solver.flow import build_network, solve_flow
    from solver.instance import build_instance

    def optimum(inst: Any) -> dict[str, int]:
        net = build_network(inst)
        flow = solve_flow(net, net.costs())
        assert flow is not None
        return _levels(inst, _to_arcs(inst, net, flow))

    data = generate(600, seed=seed)
    data["previous"] = [{"learner": le["id"], "offer": le["preferences"][-1]}
                        for le in data["learners"][::7] if le["preferences"]]
    problem = parse_problem(data)
    with_hubs = build_instance(problem)
    assert with_hubs.hubs is not None
    assert with_hubs.hubs.link_from.size > 0  # super hubs are exercised
    assert optimum(with_hubs) == optimum(build_instance(problem, hubs=False))
    result = solve(problem)
    _check_feasible(data, result)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4))
def test_integer_engine_alone_is_exact(data: dict[str, Any]) -> None:
    """With the flow refused (as if its costs overflowed) the integer engine is still exact."""
    best = brute_force(data)
    if best is None:
        return
    with patch("solver.objective.SCALED_COST_LIMIT", 0):
        result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    assert _key(data, result) == best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4, extras=True))
def test_exclusions_and_ksb_level_are_exact(data: dict[str, Any]) -> None:
    """Exclusions, KSB coverage and employer limits together match brute force."""
    best = brute_force(data)
    if best is None:
        with pytest.raises(ProblemError, match="employer"):
            solve(parse_problem(data))
        return
    result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    final = {a["learner"]: a["offer"] for a in result["assignments"]}
    assert employer_limits_hold(data, final)
    assert _key(data, result) == best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4, extras=True))
def test_integer_engine_alone_is_exact_with_extras(data: dict[str, Any]) -> None:
    """The integer engine alone (flow refused) handles exclusions and the KSB level too."""
    best = brute_force(data)
    if best is None:
        return
    with patch("solver.objective.SCALED_COST_LIMIT", 0):
        result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    assert _key(data, result) == best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4), st.sampled_from([1000, 10**6]))
def test_huge_max_preferences_stays_exact(data: dict[str, Any], k: int) -> None:
    """A huge K (fallback cost reduced exactly inside the engines) still matches brute force."""
    data["settings"]["max_preferences"] = k
    data["settings"]["rank_cost"] = "squared"
    best = brute_force(data)
    if best is None:
        return
    result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    assert _key(data, result) == best


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4, extras=True))
def test_time_limit_gives_a_feasible_allocation_and_a_valid_bound(data: dict[str, Any]) -> None:
    """Stopped at once, the allocation still meets every rule and the bound holds."""
    best = brute_force(data)
    if best is None:
        return
    data["settings"]["time_limit_s"] = 1e-9
    result = solve(parse_problem(data))
    _check_feasible(data, result)
    final = {a["learner"]: a["offer"] for a in result["assignments"]}
    assert employer_limits_hold(data, final)
    key = _key(data, result)
    assert key >= best
    if result["status"] == "optimal":
        assert key == best
        return
    summary = result["summary"]
    assert summary["gap"] >= 0
    bound = summary["bound"]
    names = ["mandated_placed", "placed"]
    if data.get("previous") is not None:
        names.append("moved")
    names.append("rank_cost")
    if data["settings"].get("ksb_coverage"):
        names.append("ksb_covered")
    i = names.index(bound["level"])
    optimum = abs(best[i])
    low, high = sorted((bound["objective"], bound["bound"]))
    if key[:i] == best[:i] and bound["level"] != "rank_cost":  # rank: engine units
        assert low <= optimum <= high


def _refuse(*_: Any, **__: Any) -> Any:
    from solver.objective import CostRangeError

    raise CostRangeError("as if the folded costs overflowed")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(side=True, max_learners=4, extras=True))
def test_staged_flows_are_exact(data: dict[str, Any]) -> None:
    """With the folded cost refused, flows solved stage by stage (optimal faces) stay exact."""
    best = brute_force(data)
    if best is None:
        return
    with patch("solver.objective.flow_costs", _refuse):
        result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    _check_feasible(data, result)
    assert _key(data, result) == best


@pytest.mark.parametrize(("seed", "staged"), [(3, False), (4, False), (5, False), (6, False),
                                             (7, True), (8, True)])
def test_reduced_cost_fixing_and_splitting_match_one_plain_mip(seed: int, staged: bool) -> None:
    """On realistic instances with region-scale limits the fast path (hopeless employers
    closed, components apart, reduced-cost fixing, also on the face of staged flows)
    reaches the plain MIP's optimum."""
    from bench.instances import generate

    data = generate(700, seed=seed, region_limits=True)
    if seed % 2:
        data["previous"] = [{"learner": le["id"], "offer": le["preferences"][0]}
                            for le in data["learners"][::5] if le["preferences"]]
    if staged:
        with patch("solver.objective.flow_costs", _refuse):
            fast = solve(parse_problem(data))
    else:
        fast = solve(parse_problem(data))
    with patch("solver.allocate.SPLIT_COMPONENTS", False), \
            patch("solver.allocate.REDUCED_COST_FIXING", False), \
            patch("solver.flow.CLOSE_HOPELESS", False):
        plain = solve(parse_problem(data))
    assert fast["status"] == plain["status"] == "optimal"
    _check_feasible(data, fast)
    assert _key(data, fast) == _key(data, plain)


@st.composite
def locked_below_minimum(draw: st.DrawFn) -> dict[str, Any]:
    """A small problem whose locked employers all get a minimum above their locks."""
    data = draw(problems(side=True, max_learners=4))
    employer_of = {o["id"]: o["employer"] for o in data["offers"]}
    limits = {e["id"]: e for e in data.get("employers", [])}
    for pair in data["locked"]:
        emp = limits.setdefault(employer_of[pair["offer"]], {"id": employer_of[pair["offer"]]})
        emp["min_if_any"] = draw(st.integers(2, 3))
        emp.pop("max_learners", None)
    data["employers"] = list(limits.values())
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(locked_below_minimum(), st.sampled_from([1e-9, 60.0]))
def test_locks_below_minimum_are_exact_or_named(data: dict[str, Any], limit: float) -> None:
    """Locks below min_if_any: exact when some allocation exists, else an error naming one."""
    data["settings"]["time_limit_s"] = limit
    best = brute_force(data)
    if best is None:
        with pytest.raises(ProblemError, match="employer"):
            solve(parse_problem(data))
        return
    result = solve(parse_problem(data))
    _check_feasible(data, result)
    final = {a["learner"]: a["offer"] for a in result["assignments"]}
    assert employer_limits_hold(data, final)
    if limit > 1:
        assert result["status"] == "optimal"
        assert _key(data, result) == best
