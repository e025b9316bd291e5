"""`flask ksb suggest`: the contract automation relies on.

    flask --app wsgi ksb suggest --standard ST0116 --top 5 --json "TEXT"
    flask --app wsgi ksb suggest --batch FILE.jsonl

one JSON array of {"code", "score"} per text, best first; bad input exits 2 with a clear
message on standard error and nothing on standard output.
"""

from __future__ import annotations

import json

import pytest

from placements.extensions import db
from placements.ksb import catalogue, engine

TEXT = ("Write clean, tested code in a team: unit tests, pull requests and code review, "
        "continuous integration and deployment.")


@pytest.fixture
def loaded(app, world):
    for data in catalogue.read_bundled():
        if data.reference in ("ST0116", "ST0118"):
            catalogue.upsert_standard(None, data, source=catalogue.BUNDLED_SOURCE)
    db.session.commit()
    return world


def suggest(runner, *args: str, stdin: str | None = None):
    return runner.invoke(args=["ksb", "suggest", *args], input=stdin)


def test_one_text_prints_one_json_array_best_first(runner, loaded):
    result = suggest(runner, "--standard", "ST0116", "--top", "5", "--json", TEXT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    items = json.loads(lines[0])
    assert len(items) == 5
    assert all(set(item) == {"code", "score"} for item in items)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 and round(s, 2) == s for s in scores)
    codes = {k.code for k in catalogue.ksbs_of(
        catalogue.standards_by_reference(["ST0116"])["ST0116"].id)}
    assert {item["code"] for item in items} <= codes
    # The same as the engine says, in the same order.
    expected = engine.suggest("ST0116", TEXT, 5)
    assert [item["code"] for item in items] == [s.code for s in expected]
    assert "S4" in [item["code"] for item in items]
    # Without --json: a line per KSB with its statement.
    plain = suggest(runner, "--standard", "st0116", "--top", "2", TEXT)
    assert plain.exit_code == 0
    assert len(plain.stdout.splitlines()) == 2


def test_batch_prints_one_array_per_line_in_order(runner, loaded, tmp_path):
    texts = [("ST0116", TEXT), ("ST0118", "Clean data, write SQL queries and build "
                                          "dashboards for managers."),
             ("ST0116", "Take part in stand-ups, sprint planning and retrospectives.")]
    path = tmp_path / "texts.jsonl"
    path.write_text("\n".join(json.dumps({"standard": s, "text": t}) for s, t in texts) +
                    "\n\n", encoding="utf-8")
    result = suggest(runner, "--batch", str(path), "--top", "3")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for (standard, text), got in zip(texts, lines, strict=True):
        assert [item["code"] for item in got] == [
            s.code for s in engine.suggest(standard, text, 3)]
    # A line without a standard takes --standard; standard input works too.
    result = suggest(runner, "--batch", "-", "--standard", "ST0118", "--top", "1",
                     stdin=json.dumps({"text": "Build dashboards."}) + "\n")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--standard", "ST9999", "--json", TEXT], None, "unknown standard 'ST9999'"),
    (["--standard", "ST0116", "--json", ""], None, "text is empty"),
    (["--standard", "ST0116", "--json", "  \n\t "], None, "text is empty"),
    (["--standard", "ST0116", "--json", "-"], "x" * 1_048_576,
     "text has 1,048,576 characters; the limit is 20,000"),
    (["--standard", "ST0116", "--json", "x " * 600_000], None, "the limit is 20,000"),
    (["--json", TEXT], None, "give the standard with --standard"),
    (["--standard", "ST0116", "--json"], None, "give the text to match"),
    (["--standard", "ST0116", "--top", "0", "--json", TEXT], None, "--top"),
])
def test_bad_input_exits_2_with_a_clear_message(runner, loaded, args, stdin, message):
    result = suggest(runner, *args, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("lines", "message"), [
    (['{"standard": "ST0116", "text": "Write code."}', '{"standard": "ST9999", "text": "x"}'],
     "item 1: unknown standard 'ST9999'"),
    (['{"standard": "ST0116", "text": "Write code."}', '{"standard": "ST0116", "text": ""}'],
     "item 1: text is empty"),
    (['{"standard": "ST0116", "text": "Write code."}', "not json"], "line 2: not valid JSON"),
    (['["ST0116", "text"]'], "line 1: expected an object"),
    (['{"text": "Write code."}'], "line 1: no standard"),
    (['{"standard": "ST0116", "text": 3}'], 'line 1: "text" must be a string'),
])
def test_a_bad_batch_prints_nothing(runner, loaded, tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = suggest(runner, "--batch", str(path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    missing = suggest(runner, "--batch", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr


def test_load_command_is_idempotent(runner, world):
    first = runner.invoke(args=["ksb", "load"])
    assert first.exit_code == 0
    assert "3815 added" in first.output
    again = runner.invoke(args=["ksb", "load"])
    assert "0 added, 0 changed, 3815 unchanged" in again.output
