"""Regression tests for defects found by fuzzing, and the optional fields of the format."""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import ProblemError, parse_problem, solve
from solver.geo import haversine_km, haversine_km_array, within_reach, within_reach_array

ROOT = Path(__file__).resolve().parents[3]

#: Defect 1, verbatim: a lock below min_if_any made a feasible problem exit 2.
LOCKED_BELOW_MINIMUM: dict[str, Any] = {
    "format": "placement-problem/1",
    "settings": {"rank_cost": "linear", "fallback": False, "max_preferences": 10},
    "offers": [{"id": "A", "employer": "E1", "sector": "digital", "capacity": 1,
                "lat": 53.48, "lon": -2.24},
               {"id": "B", "employer": "E2", "sector": "digital", "capacity": 2,
                "lat": 53.48, "lon": -2.24}],
    "learners": [{"id": "L1", "sector": "digital", "lat": 53.5, "lon": -2.3,
                  "preferences": ["B"]},
                 {"id": "L2", "sector": "digital", "lat": 53.5, "lon": -2.3,
                  "preferences": ["A", "B"]}],
    "locked": [{"learner": "L1", "offer": "B"}],
    "employers": [{"id": "E2", "min_if_any": 2}],
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m solver` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "solver", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)


def placed(result: dict[str, Any]) -> dict[str, str]:
    """learner -> offer of a result."""
    return {a["learner"]: a["offer"] for a in result["assignments"]}


def test_lock_below_minimum_is_feasible_and_optimal() -> None:
    """Both learners at E2 meets the minimum: optimal, not an input error."""
    result = solve(parse_problem(LOCKED_BELOW_MINIMUM))
    assert result["status"] == "optimal"
    assert placed(result) == {"L1": "B", "L2": "B"}
    assert result["summary"]["rank_cost"] == 2
    assert result["employers"] == [{"id": "E2", "placed": 2, "max_learners": None,
                                    "min_if_any": 2}]


@pytest.mark.parametrize("n", [200, 2000])
def test_locks_below_minimum_at_scale(n: int) -> None:
    """Generated instances with locks below min_if_any solve and meet every limit."""
    from bench.instances import generate

    data = generate(n, seed=n, region_limits=True)
    offers = {o["id"]: o for o in data["offers"]}
    limited = {e["id"]: e for e in data["employers"]}
    locked_employers = {offers[p["offer"]]["employer"] for p in data["locked"]}
    for emp in locked_employers:
        limited.setdefault(emp, {"id": emp})["min_if_any"] = 2
        limited[emp].pop("max_learners", None)
    data["employers"] = list(limited.values())
    for _ in range(20):  # some locked employers cannot reach 2: the error names them
        try:
            result = solve(parse_problem(data))
            break
        except ProblemError as exc:
            named = re.findall(r"'(E\d+)'", str(exc).split(" are below")[0])
            assert named
            for emp in named:
                del limited[emp]["min_if_any"]
            data["employers"] = list(limited.values())
    assert result["status"] == "optimal"
    count: dict[str, int] = {}
    for a in result["assignments"]:
        emp = offers[a["offer"]]["employer"]
        count[emp] = count.get(emp, 0) + 1
    for emp in limited.values():
        got = count.get(emp["id"], 0)
        assert got == 0 or got >= emp.get("min_if_any", 0)
        assert got <= emp.get("max_learners", got)
    reported = {e["id"]: e["placed"] for e in result["employers"]}
    assert reported == {e: count.get(e, 0) for e, lim in limited.items() if len(lim) > 1}


def test_lock_below_minimum_under_a_tiny_time_limit() -> None:
    """Stopped at once, the locked employer still gets its minimum (locks cannot be dropped)."""
    data = copy.deepcopy(LOCKED_BELOW_MINIMUM)
    data["settings"]["time_limit_s"] = 1e-9
    data["learners"].append({"id": "L3", "sector": "digital", "lat": 53.5, "lon": -2.3,
                             "preferences": ["C"]})
    data["offers"].append({"id": "C", "employer": "E3", "sector": "digital", "capacity": 1,
                           "lat": 53.48, "lon": -2.24})
    data["employers"].append({"id": "E3", "min_if_any": 2})
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "B", "L2": "B"}
    assert result["status"] in ("optimal", "feasible")


def test_lock_below_an_unreachable_minimum_names_the_employer() -> None:
    """When nobody else can join, the locks cannot hold: exit 2 naming the employer."""
    data = copy.deepcopy(LOCKED_BELOW_MINIMUM)
    data["learners"][1]["preferences"] = ["A"]
    with pytest.raises(ValueError, match="employer 'E2'"):
        solve(parse_problem(data))


@pytest.mark.parametrize("extra", [
    {"employers": [{"id": "E2", "min_if_any": 2}]},
    {"previous": [{"learner": "L2", "offer": "B"}]},
    {"employers": [{"id": "E1", "min_if_any": 2}], "previous": [{"learner": "L2", "offer": "A"}]},
])
def test_cli_stdout_is_one_json_document(tmp_path: Path, extra: dict[str, Any]) -> None:
    """The integer engine's log never reaches stdout: it parses as one JSON document."""
    data = copy.deepcopy(LOCKED_BELOW_MINIMUM)
    data.update(extra)
    data["learners"].append({"id": "L3", "sector": "digital", "lat": 53.5, "lon": -2.3,
                             "preferences": ["A", "B"], "mandated": True})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    done = run_cli("solve", str(path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["format"] == "placement-result/1"


def _bad(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "p.json"
    path.write_text(text)
    return run_cli("solve", str(path))


def _with(**changes: Any) -> str:
    data = copy.deepcopy(LOCKED_BELOW_MINIMUM)
    for where, value in changes.items():
        section, _, field = where.partition("__")
        if section == "offer":
            data["offers"][0][field] = value
        else:
            data["settings"][field] = value
    return json.dumps(data)


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (_with(offer__capacity=2**63), "capacity must be at most"),
    (_with(offer__capacity=10**30), "capacity must be at most"),
    (_with(offer__capacity=1e300), "capacity must be at most"),
    (_with(settings__max_preferences=10**20), "max_preferences must be at most"),
    (_with(settings__max_preferences=3_037_000_499), "max_preferences must be at most"),
    (_with(settings__max_preferences=4_294_967_295), "max_preferences must be at most"),
    (_with(settings__time_limit_s=1e300), "time_limit_s must be at most"),
    ('{"format": "placement-problem/1", "offers": [], "learners": [], "settings": '
     '{"time_limit_s": ' + "9" * 5000 + "}}", "bad JSON"),
])
def test_cli_huge_values_exit_2_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    """Huge or deeply nested input: exit 2, one line on stderr, no traceback."""
    done = _bad(tmp_path, text)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_huge_k_places_at_the_first_choice() -> None:
    """Defect 4: K at the maximum never overflows: the first choice beats any fallback."""
    offers = [{"id": f"O{i}", "employer": f"E{i}", "sector": "digital", "capacity": 1,
               "lat": 53.48, "lon": -2.24} for i in range(3)]
    learners = [{"id": "L1", "sector": "digital", "lat": 53.5, "lon": -2.3, "mandated": True,
                 "preferences": ["O0"]},
                {"id": "L2", "sector": "digital", "lat": 53.5, "lon": -2.3, "mandated": True,
                 "preferences": []}]
    data = {"format": "placement-problem/1", "offers": offers, "learners": learners,
            "settings": {"rank_cost": "squared", "max_preferences": 1_000_000}}
    result = solve(parse_problem(data))
    assert placed(result)["L1"] == "O0"
    assert result["summary"]["rank_cost"] == 1 + 1_000_001**2
    assert result["summary"]["fallback"] == 1


#: Points a hair either side of a limit, and near antipodes.
coords = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@settings(max_examples=300, deadline=None)
@given(coords, coords, st.floats(-1e-9, 1e-9), st.integers(-3, 3))
def test_within_reach_scalar_and_array_agree(
    a: tuple[float, float], b: tuple[float, float], nudge: float, ulps: int
) -> None:
    """Scalar and array forms agree, also for limits placed exactly at the distance."""
    exact = haversine_km(a[0], a[1], b[0], b[1])
    limits = [exact, exact * (1 + nudge), float(np.nextafter(exact, np.inf)),
              float(np.nextafter(exact, -np.inf)), exact + ulps * math.ulp(max(exact, 1e-300)),
              float(haversine_km_array(a[0], a[1], b[0], b[1]))]
    limits = [lim for lim in limits if lim >= 0]
    arr = within_reach_array(np.full(len(limits), a[0]), np.full(len(limits), a[1]),
                             np.full(len(limits), b[0]), np.full(len(limits), b[1]),
                             np.asarray(limits))
    assert arr.tolist() == [within_reach(a[0], a[1], b[0], b[1], lim) for lim in limits]


@settings(max_examples=100, deadline=None)
@given(st.floats(-89, 89), st.floats(-179, 179), st.floats(-1e-4, 1e-4),
       st.floats(-1e-4, 1e-4))
def test_antipodal_fallback_never_beyond_the_limit(lat: float, lon: float, dlat: float,
                                                   dlon: float) -> None:
    """Near antipodes (about 20,015 km) hubs never place a learner past its limit."""
    anti_lat, anti_lon = -lat, lon + 180 if lon <= 0 else lon - 180
    offers = [{"id": f"O{i}", "employer": f"E{i}", "sector": "s", "capacity": 1,
               "lat": min(90.0, max(-90.0, anti_lat + dlat * i)),
               "lon": min(180.0, max(-180.0, anti_lon + dlon * (i % 3)))} for i in range(6)]
    dists = sorted(haversine_km(lat, lon, o["lat"], o["lon"]) for o in offers)
    limit = dists[len(dists) // 2]
    learners = [{"id": f"L{i}", "sector": "s", "lat": lat, "lon": lon, "mandated": True,
                 "max_km": limit} for i in range(6)]
    data = {"format": "placement-problem/1", "offers": offers, "learners": learners}
    result = solve(parse_problem(data))
    by_id = {o["id"]: o for o in offers}
    for a in result["assignments"]:
        o = by_id[a["offer"]]
        assert within_reach(lat, lon, o["lat"], o["lon"], limit)
    reachable = sum(within_reach(lat, lon, o["lat"], o["lon"], limit) for o in offers)
    assert result["summary"]["placed"] == reachable


def test_excluded_offer_is_never_used_and_warns() -> None:
    """An excluded offer: ignored in the list with a warning, never a fallback; locks win."""
    offers = [{"id": o, "employer": "E" + o, "sector": "digital", "capacity": 2,
               "lat": 53.48, "lon": -2.24} for o in ("A", "B")]
    learners = [
        {"id": "L1", "sector": "digital", "lat": 53.5, "lon": -2.3, "mandated": True,
         "preferences": ["A"], "excluded": ["A", "NOPE"]},
        {"id": "L2", "sector": "digital", "lat": 53.5, "lon": -2.3, "preferences": ["A"],
         "excluded": ["A"]},
    ]
    data = {"format": "placement-problem/1", "offers": offers, "learners": learners}
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "B"}
    assert result["summary"]["fallback"] == 1
    assert [w["reason"] for w in result["warnings"]] == ["excluded", "excluded"]
    data["locked"] = [{"learner": "L2", "offer": "A"}]
    assert placed(solve(parse_problem(data)))["L2"] == "A"


def test_ksb_coverage_breaks_rank_ties_only() -> None:
    """The KSB level picks among rank-optimal allocations and costs nothing above it."""
    offers = [{"id": "A", "employer": "E1", "sector": "digital", "capacity": 1, "lat": 53.48,
               "lon": -2.24, "ksbs": ["S4"]},
              {"id": "B", "employer": "E2", "sector": "digital", "capacity": 1, "lat": 53.48,
               "lon": -2.24, "ksbs": ["K1", "B2"]}]
    learners = [{"id": "L1", "sector": "digital", "lat": 53.5, "lon": -2.3,
                 "preferences": ["A", "B"], "outstanding_ksbs": ["K1", "B2"]},
                {"id": "L2", "sector": "digital", "lat": 53.5, "lon": -2.3,
                 "preferences": ["B", "A"], "outstanding_ksbs": ["S4"]}]
    data: dict[str, Any] = {"format": "placement-problem/1", "offers": offers,
                            "learners": learners, "settings": {"ksb_coverage": True}}
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "A", "L2": "B"}  # rank 1 each beats any KSB gain
    assert result["summary"]["ksb_covered"] == 0
    learners[1]["preferences"] = ["A", "B"]
    result = solve(parse_problem(data))
    assert placed(result) == {"L1": "B", "L2": "A"}  # same rank cost, 3 KSBs covered
    assert result["summary"]["ksb_covered"] == 3
    data["settings"]["ksb_coverage"] = False
    assert "ksb_covered" not in solve(parse_problem(data))["summary"]


@pytest.mark.parametrize("seed", [1, 2])
def test_files_without_new_fields_solve_as_before(seed: int) -> None:
    """Optional fields at their defaults change nothing; figures match the previous solver."""
    from bench.instances import generate

    expected = json.loads((Path(__file__).parent / "before.json").read_text())[str(seed)]
    data = generate(800, seed=seed, side_constraints=seed == 2)
    plain = solve(parse_problem(data))
    for le in data["learners"]:
        le["excluded"] = []
        le["outstanding_ksbs"] = ["S1"]
    for o in data["offers"]:
        o["ksbs"] = ["S1"]
    data["settings"]["ksb_coverage"] = False
    extended = solve(parse_problem(data))
    levels = ("learners", "mandated", "mandated_placed", "placed", "rank_cost")
    for result in (plain, extended):
        assert result["status"] == "optimal"
        assert {k: result["summary"][k] for k in levels} == {k: expected[k] for k in levels}
        assert "ksb_covered" not in result["summary"]
    assert plain["assignments"] == extended["assignments"]


NOISY_CLI = """
import ctypes, sys
import solver.allocate as allocate
libc = ctypes.CDLL(None)
real = allocate.solve
def noisy(problem, progress=None):
    libc.printf(b"1 slacks added\\n")  # buffered by the C library, like CBC's log
    return real(problem, progress)
import solver.__main__ as cli
cli.solve = noisy
sys.exit(cli.main(sys.argv[1:]))
"""


def test_cli_native_log_lines_never_reach_stdout(tmp_path: Path) -> None:
    """Defect 2: C-level prints during the solve, even buffered until exit, go to stderr."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps(LOCKED_BELOW_MINIMUM))
    done = subprocess.run([sys.executable, "-c", NOISY_CLI, "solve", str(path)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"
    assert "1 slacks added" in done.stderr
