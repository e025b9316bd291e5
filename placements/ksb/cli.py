"""`flask ksb ...`: suggestions for automation and testing, and loading the bundled KSBs.

    flask --app wsgi ksb suggest --standard ST0116 --top 5 --json "TEXT"
    flask --app wsgi ksb suggest --batch FILE.jsonl [--top 5]
    flask --app wsgi ksb load

`suggest --json` prints one JSON array of {"code": "S4", "score": 0.83}, best first (scores
to two decimals); `--batch` reads lines of {"standard": ..., "text": ...} (a line without
a standard takes --standard) and prints one such array per line, in order. TEXT "-" reads
the text from standard input. Any bad input (an unknown standard, an empty or too long
text, a bad line) prints a clear message on standard error and exits with status 2, before
anything is printed on standard output.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from placements.extensions import db
from placements.ksb import catalogue, engine
from placements.ksb.views import bp


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _plain(suggestions: list[engine.Suggestion]) -> list[dict[str, Any]]:
    return [{"code": s.code, "score": round(s.score, 2)} for s in suggestions]


def _unknown(error: engine.UnknownStandard) -> NoReturn:
    loaded = len(catalogue.standards_with_ksbs())
    where = str(error).split(":", 1)[0] + ": " if str(error).startswith("item ") else ""
    _fail(f"{where}unknown standard {error.standard!r}: no KSB statements are loaded for it "
          f"({loaded} standards are). Load the bundled ones with `flask seed reference` or "
          "import the standard's KSBs on the imports page.")


def _batch_items(path: str, default_standard: str | None) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(f"line {number}: not valid JSON ({exc.msg})")
            if not isinstance(record, dict):
                _fail(f'line {number}: expected an object like {{"standard": "ST0116", '
                      f'"text": "..."}}')
            standard = record.get("standard", default_standard)
            text = record.get("text")
            if not isinstance(standard, str) or not standard.strip():
                _fail(f"line {number}: no standard (give one on the line or --standard)")
            if not isinstance(text, str):
                _fail(f'line {number}: "text" must be a string')
            items.append((standard.strip().upper(), text))
    return items


@bp.cli.command("suggest")
@click.option("--standard", help="The standard's reference, like ST0116.")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100),
              help="How many KSBs to suggest for each text.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON array of {code, score}, best first.")
@click.option("--batch", "batch", metavar="FILE.jsonl",
              help='Suggest for each line {"standard": ..., "text": ...} of a file ("-": '
                   "standard input); prints one JSON array per line, in order.")
@click.argument("text", required=False)
def suggest_command(standard: str | None, top: int, as_json: bool, batch: str | None,
                    text: str | None) -> None:
    """Suggest the KSBs of a standard that a text most likely covers."""
    if batch is not None:
        if text is not None:
            _fail("give either TEXT or --batch, not both")
        items = _batch_items(batch, standard.strip().upper() if standard else None)
        try:
            results = engine.suggest_many(items, top)
        except engine.UnknownStandard as exc:
            _unknown(exc)
        except ValueError as exc:
            _fail(str(exc))
        for suggestions in results:
            click.echo(json.dumps(_plain(suggestions)))
        return
    if not standard:
        _fail("give the standard with --standard, like --standard ST0116")
    if text is None:
        _fail('give the text to match, like "Write and test code in a team" ("-" reads '
              "standard input)")
    if text == "-":
        text = sys.stdin.read()
    try:
        suggestions = engine.suggest(standard.strip().upper(), text, top)
    except engine.UnknownStandard as exc:
        _unknown(exc)
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(_plain(suggestions)))
        return
    statements = catalogue.ksbs_by_code(
        catalogue.standards_by_reference([standard.strip().upper()])[
            standard.strip().upper()].id)
    for s in suggestions:
        matched = f"  [{', '.join(s.matched)}]" if s.matched else ""
        click.echo(f"{s.code:>5}  {s.score:.2f}  {statements[s.code].statement}{matched}")


@bp.cli.command("load")
def load_command() -> None:
    """Load or refresh the bundled KSB statements (safe to run again)."""
    outcome = catalogue.load_bundled()
    db.session.commit()
    click.echo(f"KSB statements: {outcome.created} added, {outcome.updated} changed, "
               f"{outcome.unchanged} unchanged.")
