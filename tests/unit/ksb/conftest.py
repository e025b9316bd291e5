"""Fixtures for the KSB suggestion engine: no Flask app, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from placements.ksb.suggest import KsbStatement, SuggestIndex, build_index, default_statements

LABELLED = Path(__file__).resolve().parents[3] / "bench" / "data" / "ksb-labelled.jsonl"


@pytest.fixture(scope="session")
def statements() -> list[KsbStatement]:
    return default_statements()


@pytest.fixture(scope="session")
def hybrid(statements: list[KsbStatement]) -> SuggestIndex:
    """The default index (hybrid, with the bundled model), shared by the session."""
    return build_index(statements)


@pytest.fixture(scope="session")
def bm25(statements: list[KsbStatement]) -> SuggestIndex:
    return build_index(statements, method="bm25")


@pytest.fixture(scope="session")
def labelled() -> list[dict[str, object]]:
    with LABELLED.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
