"""Behaviour of solve(): ranks, fallback, locks, repair runs, explanations and progress."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import numpy as np
import pytest

from solver import parse_problem, solve
from solver.geo import haversine_km, haversine_km_array


def offer(ident: str, capacity: int = 1, **extra: Any) -> dict[str, Any]:
    """An offer in Manchester's digital sector."""
    return {"id": ident, "employer": extra.pop("employer", "E" + ident), "sector": "digital",
            "capacity": capacity, "lat": 53.48, "lon": -2.24, **extra}


def learner(ident: str, prefs: list[str], **extra: Any) -> dict[str, Any]:
    """A digital learner near Manchester."""
    return {"id": ident, "sector": "digital", "lat": 53.5, "lon": -2.3,
            "preferences": prefs, **extra}


def problem(offers: list[dict[str, Any]], learners: list[dict[str, Any]],
            **extra: Any) -> dict[str, Any]:
    """A problem document."""
    return {"format": "placement-problem/1", "offers": offers, "learners": learners, **extra}


def placed(result: dict[str, Any]) -> dict[str, str]:
    """learner -> offer of a result."""
    return {a["learner"]: a["offer"] for a in result["assignments"]}


def test_haversine_known_distance_and_vector_agree() -> None:
    """London to Manchester is about 262 km; the scalar and vector forms agree."""
    d = haversine_km(51.5074, -0.1278, 53.4808, -2.2426)
    assert 261 < d < 263
    v = haversine_km_array([51.5074, 0.0], [-0.1278, 0.0], [53.4808, 0.0], [-2.2426, 180.0])
    assert math.isclose(v[0], d, rel_tol=1e-12)
    assert math.isclose(v[1], math.pi * 6371.0088, rel_tol=1e-12)
    assert isinstance(v, np.ndarray)


def test_rank_is_the_submitted_position_and_ignored_entries_warn() -> None:
    """Unknown, ineligible, repeated and beyond-K entries keep positions and warn."""
    data = problem(
        [offer("A"), offer("B", requires=["dbs"]), offer("C"),
         {**offer("D"), "sector": "care"}],
        [learner("L1", ["X", "B", "D", "A", "A", "C"])],
        settings={"max_preferences": 5, "rank_cost": "linear"},
    )
    result = solve(parse_problem(data))
    assert result["assignments"] == [
        {"learner": "L1", "offer": "A", "rank": 4, "km": pytest.approx(4.5, abs=0.1),
         "locked": False}
    ]
    reasons = [(w["entry"], w["reason"]) for w in result["warnings"]]
    assert reasons == [("X", "unknown-offer"), ("B", "ineligible"), ("D", "ineligible"),
                       ("A", "repeat"), ("C", "beyond-max-preferences")]
    assert result["summary"]["rank_histogram"] == {"4": 1}
    assert result["summary"]["rank_cost"] == 4


def test_mandated_first_then_count_then_rank() -> None:
    """A mandated learner gets the only seat; the rest take the better total."""
    data = problem(
        [offer("A"), offer("B")],
        [learner("N1", ["A"]), learner("M1", ["A"], mandated=True), learner("N2", ["A", "B"])],
        settings={"fallback": False},
    )
    result = solve(parse_problem(data))
    assert placed(result) == {"M1": "A", "N2": "B"}
    assert result["unplaced"][0]["learner"] == "N1"
    assert result["unplaced"][0]["reason"] == "capacity"
    assert result["status"] == "optimal"


def test_fallback_only_for_mandated_learners() -> None:
    """A mandated learner may take an unlisted eligible offer at rank K+1; others may not."""
    data = problem(
        [offer("A", capacity=2)],
        [learner("M1", [], mandated=True), learner("N1", [])],
        settings={"max_preferences": 3},
    )
    result = solve(parse_problem(data))
    assert result["assignments"][0]["rank"] == 4
    assert result["summary"]["fallback"] == 1
    assert result["unplaced"] == [{
        "learner": "N1", "mandated": False, "reason": "no-preferences",
        "detail": result["unplaced"][0]["detail"],
    }]
    assert result["unplaced"][0]["detail"].endswith(".")


def test_no_eligible_offer_is_explained() -> None:
    """Distance and missing checks are explained in a sentence."""
    data = problem(
        [offer("A", requires=["dbs"]), {**offer("B"), "lat": 55.9, "lon": -3.2}],
        [learner("M1", [], mandated=True, max_km=3),
         learner("M2", [], mandated=True, max_km=50),
         {**learner("M3", [], mandated=True), "sector": "care"},
         learner("N1", ["B"], max_km=20)],
    )
    result = solve(parse_problem(data))
    by_id = {u["learner"]: u for u in result["unplaced"]}
    assert {u["reason"] for u in by_id.values()} == {"no-eligible-offer"}
    assert "within 3 km" in by_id["M1"]["detail"]
    assert "dbs" in by_id["M2"]["detail"]
    assert "no care offers" in by_id["M3"]["detail"]
    assert "warnings" in by_id["N1"]["detail"]


def test_locks_hold_whatever_eligibility_says() -> None:
    """A locked pair is placed as given, with rank null, and uses capacity."""
    data = problem(
        [offer("A", requires=["dbs"])],
        [learner("L1", []), learner("L2", ["A"], mandated=True)],
        locked=[{"learner": "L1", "offer": "A"}],
    )
    result = solve(parse_problem(data))
    assert result["assignments"][0]["locked"] is True
    assert result["assignments"][0]["rank"] is None
    assert placed(result) == {"L1": "A"}
    assert result["summary"]["rank_cost"] == 0
    assert result["summary"]["placed"] == 1


def test_repair_run_keeps_previous_pairs_unless_levels_improve() -> None:
    """Previous pairs stay put even when a cheaper rank total exists; withdrawals move."""
    data = problem(
        [offer("A"), offer("B")],
        [learner("L1", ["A", "B"]), learner("L2", ["A", "B"])],
        settings={"rank_cost": "squared"},
        previous=[{"learner": "L1", "offer": "B"}, {"learner": "L2", "offer": "A"}],
    )
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "B", "L2": "A"}
    assert result["summary"]["moved"] == 0
    # Offer A withdrawn: L2 moves to B only if L1 gives way; placing both needs... one seat.
    data["offers"] = [offer("B")]
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "B"}
    assert result["summary"]["moved"] == 1
    assert "moved" not in solve(parse_problem(problem([offer("A")], [])))["summary"]


def test_employer_limits_bind_and_stay_exact() -> None:
    """max_learners caps an employer; min_if_any makes it all or nothing."""
    offers = [offer("A", capacity=3, employer="E1"), offer("B", capacity=3, employer="E2")]
    learners = [learner(f"L{i}", ["A", "B"]) for i in range(4)]
    data = problem(offers, learners, employers=[{"id": "E1", "max_learners": 2},
                                                {"id": "E2", "min_if_any": 3}])
    seen: list[dict[str, Any]] = []
    result = solve(parse_problem(data), progress=seen.append)
    counts = {"A": 0, "B": 0}
    for o in placed(result).values():
        counts[o] += 1
    assert result["status"] == "optimal"
    assert counts["A"] <= 2
    assert counts["B"] in (0, 3)
    # Best: 2 at A (rank 1) + ... B must take 0 or 3, so 4 placed needs A=1,B=3 or A=2,B=2(bad).
    assert result["summary"]["placed"] == 4
    assert counts == {"A": 1, "B": 3}
    assert seen
    assert {"level", "objective", "bound", "elapsed_s"} <= seen[-1].keys()
    json.dumps(result)


def test_solve_is_safe_from_threads() -> None:
    """Concurrent solves in background threads give identical results."""
    offers = [offer(f"O{i}", capacity=2, employer=f"E{i % 3}") for i in range(6)]
    learners = [learner(f"L{i}", [f"O{(i * 7 + j) % 6}" for j in range(3)],
                        mandated=i % 3 == 0) for i in range(20)]
    data = problem(offers, learners, employers=[{"id": "E0", "max_learners": 3},
                                                {"id": "E1", "min_if_any": 3}])
    expected = solve(parse_problem(data))
    results: list[dict[str, Any]] = []

    def work() -> None:
        results.append(solve(parse_problem(data)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for r in results:
        assert r["summary"]["placed"] == expected["summary"]["placed"]
        assert r["summary"]["rank_cost"] == expected["summary"]["rank_cost"]


def test_time_limit_gives_feasible_with_gap() -> None:
    """When the time limit stops the integer engine the best allocation found is returned."""
    data = problem(
        [offer("A", capacity=3, employer="E1"), offer("B", employer="E2")],
        [learner("L1", ["A"]), learner("L2", ["B"])],
        employers=[{"id": "E1", "min_if_any": 2}],
        settings={"time_limit_s": 1e-9},
    )
    result = solve(parse_problem(data))
    assert result["status"] == "feasible"
    assert result["summary"]["gap"] > 0
    assert placed(result) == {"L2": "B"}
    data["settings"]["time_limit_s"] = 30
    result = solve(parse_problem(data))
    assert result["status"] == "optimal"
    assert "gap" not in result["summary"]
    assert placed(result) == {"L2": "B"}


def test_progress_reports_flow_levels() -> None:
    """The flow engine reports every level as proven (objective equals bound)."""
    seen: list[dict[str, Any]] = []
    data = problem([offer("A")], [learner("L1", ["A"], mandated=True)],
                   previous=[{"learner": "L1", "offer": "A"}])
    solve(parse_problem(data), progress=seen.append)
    assert [d["level"] for d in seen] == ["mandated_placed", "placed", "moved", "rank_cost"]
    assert all(d["objective"] == d["bound"] and d["engine"] == "flow" for d in seen)
    assert [d["objective"] for d in seen] == [1, 1, 0, 1]


def test_weights_fit_int64_for_50000_learners_in_a_repair_run() -> None:
    """The worst case the objective docstring works out: 50,000 learners, K = 10, repair."""
    from solver.objective import CostRangeError, coefficients, flow_costs, levels

    n, k = 50_000, 10
    arc_learner = np.repeat(np.arange(n, dtype=np.int64), k + 1)
    ranks = np.tile(np.arange(1, k + 2, dtype=np.int64), n)
    coefs = coefficients(levels(True, False), np.zeros(ranks.size, np.bool_), ranks == 1,
                         ranks * ranks, np.zeros(ranks.size, np.int64), locked_mandated=0,
                         locked=0, previous_total=n, locked_kept=0)
    costs = flow_costs(coefs, arc_learner, n, n + 2 * 20_000 + 10_000 + 1)
    assert costs.weights == (n * (k + 1) ** 2 + 1, 1)
    with pytest.raises(CostRangeError):
        flow_costs(coefs, arc_learner, n, 10**9)
