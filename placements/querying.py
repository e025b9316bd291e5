"""Query helpers every feature's search boxes share."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

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
