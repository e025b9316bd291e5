"""Input validation: every rule gives one clear ProblemError line, and the CLI exits 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from solver import ProblemError, load_problem, parse_problem, solve

BASE: dict[str, Any] = {
    "format": "placement-problem/1",
    "settings": {"rank_cost": "squared", "fallback": True, "max_preferences": 10},
    "offers": [
        {"id": "O1", "employer": "E1", "sector": "digital", "capacity": 1,
         "lat": 53.48, "lon": -2.24, "requires": ["dbs"]},
        {"id": "O2", "employer": "E1", "sector": "digital", "capacity": 2,
         "lat": 53.40, "lon": -2.20},
    ],
    "learners": [
        {"id": "L1", "sector": "digital", "mandated": True, "lat": 53.5, "lon": -2.3,
         "max_km": 25, "has": ["dbs"], "preferences": ["O1", "O2"]},
        {"id": "L2", "sector": "digital", "lat": 53.5, "lon": -2.3, "preferences": ["O1"]},
    ],
}


def mutate(path: str, value: Any) -> dict[str, Any]:
    """Return BASE with one field replaced (a dotted path; '-' deletes it)."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value == "-":
        del node[key]
    else:
        node[key] = value
    return data


BAD = [
    ("format", "placement-problem/2", "format"),
    ("format", "-", "format"),
    ("learners", {"L1": 1}, "learners must be a list"),
    ("offers", "-", "missing required field 'offers'"),
    ("offers.0.capacity", 1.5, "offer 'O1' capacity must be an integer"),
    ("offers.0.capacity", "2", "offer 'O1' capacity must be an integer"),
    ("offers.0.capacity", True, "offer 'O1' capacity must be an integer"),
    ("offers.0.capacity", -1, "offer 'O1' capacity must be at least 0"),
    ("offers.0.capacity", "-", "offer 'O1': missing required field 'capacity'"),
    ("offers.0.lat", "53.4", "offer 'O1' lat must be a number"),
    ("offers.0.lat", 91, "offer 'O1' lat must be in [-90, 90]"),
    ("offers.1.lon", -180.5, "offer 'O2' lon must be in [-180, 180]"),
    ("offers.0.employer", "-", "offer 'O1': missing required field 'employer'"),
    ("offers.0.id", "", "offers[0] id must be a non-empty string"),
    ("offers.0.requires", "dbs", "offer 'O1' requires must be a list"),
    ("learners.1.sector", "-", "learner 'L2': missing required field 'sector'"),
    ("learners.1.lon", None, "learner 'L2' lon must be a number"),
    ("learners.0.mandated", "yes", "learner 'L1' mandated must be true or false"),
    ("learners.0.max_km", -3, "learner 'L1' max_km must not be negative"),
    ("learners.0.preferences", ["O1", 7], "learner 'L1' preferences[1] must be a string"),
    ("learners.0", [], "learners[0] must be an object"),
    ("settings.rank_cost", "cubic", "settings.rank_cost must be 'linear' or 'squared'"),
    ("settings.max_preferences", 0, "settings.max_preferences must be a positive integer"),
    ("settings.max_preferences", 2.5, "settings.max_preferences must be a positive integer"),
    ("settings.fallback", 1, "settings.fallback must be true or false"),
    ("settings.time_limit_s", 0, "settings.time_limit_s must be positive"),
    ("offers.1.id", "O1", "duplicate offer id 'O1'"),
    ("learners.1.id", "L1", "duplicate learner id 'L1'"),
    ("locked", [{"learner": "L9", "offer": "O1"}], "locked[0]: unknown learner 'L9'"),
    ("locked", [{"learner": "L1", "offer": "O9"}], "locked[0]: unknown offer 'O9'"),
    ("locked", [{"learner": "L1", "offer": "O1"}, {"learner": "L1", "offer": "O2"}],
     "locked[1]: learner 'L1' is locked twice"),
    ("locked", [{"learner": "L1", "offer": "O1"}, {"learner": "L2", "offer": "O1"}],
     "locked[1]: locks overfill offer 'O1'"),
    ("locked", [{"learner": "L1"}], "locked[0]: missing required field 'offer'"),
    ("employers", [{"id": "E1", "max_learners": 1}, {"id": "E1"}], "duplicate employer id 'E1'"),
    ("employers", [{"id": "E1", "max_learners": -1}], "employer 'E1' max_learners must be at"),
    ("previous", [{"learner": "L1", "offer": "O1"}, {"learner": "L1", "offer": "O2"}],
     "previous: learner 'L1' appears more than once"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD)
def test_bad_input_names_the_entry(path: str, value: Any, message: str) -> None:
    """Each validation rule raises ProblemError with a one-line message naming the entry."""
    with pytest.raises(ProblemError) as caught:
        parse_problem(mutate(path, value))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_problem_error_is_a_value_error() -> None:
    """Callers can catch ProblemError as ValueError."""
    assert issubclass(ProblemError, ValueError)


def test_locks_beyond_employer_cap_name_the_employer() -> None:
    """Locks that alone exceed max_learners are an input error naming the employer."""
    data = copy.deepcopy(BASE)
    data["locked"] = [{"learner": "L1", "offer": "O1"}, {"learner": "L2", "offer": "O2"}]
    data["employers"] = [{"id": "E1", "max_learners": 1}]
    with pytest.raises(ProblemError, match="employer 'E1'"):
        parse_problem(data)


def test_locks_below_unreachable_minimum_name_the_employer() -> None:
    """A lock that leaves its employer below min_if_any with nobody to add is an input error."""
    data = copy.deepcopy(BASE)
    data["learners"][1]["preferences"] = []
    data["locked"] = [{"learner": "L1", "offer": "O1"}]
    data["employers"] = [{"id": "E1", "min_if_any": 3}]
    with pytest.raises(ProblemError, match="employer 'E1'"):
        solve(parse_problem(data))


def test_defaults_apply() -> None:
    """Omitted settings and optional fields take the documented defaults."""
    data = copy.deepcopy(BASE)
    del data["settings"]
    problem = parse_problem(data)
    assert problem.settings.rank_cost == "squared"
    assert problem.settings.fallback is True
    assert problem.settings.max_preferences == 10
    assert problem.settings.time_limit_s == 60
    assert problem.learners[1].mandated is False
    assert problem.learners[1].max_km is None
    assert problem.offers[1].requires == ()
    assert problem.previous is None
    assert problem.locked == ()


def test_previous_may_name_withdrawn_ids() -> None:
    """Previous pairs naming unknown learners or offers are accepted and count as moved."""
    data = copy.deepcopy(BASE)
    data["previous"] = [{"learner": "L1", "offer": "O1"}, {"learner": "GONE", "offer": "O1"},
                        {"learner": "L2", "offer": "WITHDRAWN"}]
    result = solve(parse_problem(data))
    assert result["summary"]["moved"] == 2


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m solver` in a subprocess."""
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-m", "solver", *args],
        capture_output=True, text=True, cwd=root, check=False,
    )


def test_cli_round_trip(tmp_path: Path) -> None:
    """The CLI reads a problem and writes the same result solve() returns."""
    problem_file = tmp_path / "problem.json"
    problem_file.write_text(json.dumps(BASE))
    out = tmp_path / "result.json"
    done = run_cli("solve", str(problem_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    expected = solve(load_problem(problem_file))
    written["summary"].pop("solve_seconds")
    expected["summary"].pop("solve_seconds")
    assert written == expected
    assert written["format"] == "placement-result/1"
    stdout = run_cli("solve", str(problem_file))
    assert stdout.returncode == 0
    assert json.loads(stdout.stdout)["assignments"] == expected["assignments"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "bad JSON at line 1"),
        (json.dumps(mutate("offers.0.capacity", -2)), "offer 'O1' capacity"),
        (json.dumps(mutate("locked", [{"learner": "L1", "offer": "O9"}])), "unknown offer 'O9'"),
        (json.dumps([1, 2]), "problem must be an object"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """Bad input: exit code 2, one line on stderr, no traceback, nothing on stdout."""
    path = tmp_path / "problem.json"
    if content is not None:
        path.write_text(content)
    done = run_cli("solve", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("path", "value", "message"), BAD)
def test_cli_main_rejects_each_rule_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, value: Any, message: str
) -> None:
    """The command line turns every validation rule into exit 2 and one stderr line."""
    from solver.__main__ import main

    problem_file = tmp_path / "problem.json"
    problem_file.write_text(json.dumps(mutate(path, value)))
    assert main(["solve", str(problem_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1
