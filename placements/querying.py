"""Query helpers the features share: search boxes, and the planner's statistics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from placements.extensions import db

#: The LIKE escape character of `contains_text`.
ESCAPE = "\\"


def like_pattern(search: str) -> str:
    """A LIKE pattern matching values that contain `search` (lower-cased, trimmed), with
    LIKE's own wildcards in it taken literally: "50%" finds "50%", not "500"."""
    term = search.strip().lower()
    for char in (ESCAPE, "%", "_"):
        term = term.replace(char, ESCAPE + char)
    return f"%{term}%"


def contains_text(search: str, *columns: Any) -> sa.ColumnElement[bool]:
    """True where any of the columns contains the search text, ignoring case."""
    pattern = like_pattern(search)
    return sa.or_(*(sa.func.lower(column).like(pattern, escape=ESCAPE)
                    for column in columns))


def refresh_statistics(tables: Iterable[str]) -> list[str]:
    """Have PostgreSQL's planner sample tables again after a bulk write (a run's 50,000
    placements, a publication's reviews), instead of planning from statistics taken before
    them until autovacuum next passes (a page took 272 ms instead of 76 ms meanwhile:
    bench/RESULTS.md). Other databases: nothing to do. Returns the tables analysed."""
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    names = sorted(set(tables))
    for name in names:
        db.session.execute(sa.text(f'ANALYZE "{name}"'))
    return names
