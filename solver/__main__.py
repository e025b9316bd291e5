"""Command line: `python -m solver solve PROBLEM.json [-o RESULT.json]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator

from .allocate import solve
from .mip import flush_native_stdout
from .problem import ProblemError, load_problem


@contextlib.contextmanager
def _native_output_to_stderr() -> Iterator[None]:
    """While solving, file descriptor 1 is stderr: stdout carries only the result.

    Native solver libraries may print log lines (CBC does), possibly buffered until
    exit; their C buffer is flushed before stdout is given back.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - no stdout at all
        yield
        return
    os.dup2(2, 1)
    try:
        yield
    finally:
        flush_native_stdout()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code (2 for bad input)."""
    parser = argparse.ArgumentParser(prog="python -m solver", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("solve", help="solve a placement-problem/1 file")
    run.add_argument("problem", help="path of the problem file (JSON)")
    run.add_argument("-o", "--output", help="write the result here instead of stdout")
    args = parser.parse_args(argv)
    try:
        with _native_output_to_stderr():
            result = solve(load_problem(args.problem))
    except ProblemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            print(f"error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
