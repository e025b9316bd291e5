"""The suggestion engine over the database: each standard's KSB statements as loaded (bundled,
imported from CSV or from Skills England's JSON), indexed once per process and rebuilt
when the standard's statements change (its `KsbStandardVersion.revision` moves).

`placements.ksb.suggest` does the ranking and knows nothing of the database; this module
feeds it the statements and keeps one index per standard. The method comes from the
`KSB_SUGGEST_METHOD` setting (hybrid by default: BM25 plus the Universal Sentence
Encoder, whose weights are files of an installed package: no network, ever).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from placements.extensions import db
from placements.ksb.suggest import (
    MAX_TEXT_CHARS,
    EmptyText,
    KsbStatement,
    Method,
    SuggestIndex,
    Suggestion,
    TextTooLong,
    UnknownStandard,
    build_index,
    check_text,
)
from placements.models import Ksb, KsbStandardVersion, OccupationalStandard

__all__ = ["MAX_TEXT_CHARS", "EmptyText", "Suggestion", "TextTooLong", "UnknownStandard",
           "check_text", "index_for", "statements_of", "suggest", "suggest_many"]


@dataclass
class _Cached:
    stamp: tuple[int, str]
    method: str
    index: SuggestIndex


#: (database, standard) -> the index of its statements as of a revision.
_cache: dict[tuple[str, str], _Cached] = {}
_lock = threading.Lock()


def _method() -> Method:
    method = current_app.config["KSB_SUGGEST_METHOD"]
    if method not in ("bm25", "embedding", "hybrid"):
        raise ValueError(f"KSB_SUGGEST_METHOD must be bm25, embedding or hybrid, not "
                         f"{method!r}")
    return method


def _revisions(references: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The loaded revision (and when it was loaded) of each standard with KSB statements."""
    return {ref: (revision, loaded_at.isoformat()) for ref, revision, loaded_at in
            db.session.execute(
                sa.select(OccupationalStandard.reference, KsbStandardVersion.revision,
                          KsbStandardVersion.loaded_at)
                .join(KsbStandardVersion,
                      KsbStandardVersion.standard_id == OccupationalStandard.id)
                .where(OccupationalStandard.reference.in_(sorted(set(references)))))}


def statements_of(references: Iterable[str]) -> list[KsbStatement]:
    """The KSB statements of some standards, from the database."""
    rows = db.session.execute(
        sa.select(OccupationalStandard.reference, Ksb.code, Ksb.kind, Ksb.statement)
        .join(Ksb, Ksb.standard_id == OccupationalStandard.id)
        .where(OccupationalStandard.reference.in_(sorted(set(references))))
        .order_by(Ksb.standard_id, Ksb.position, Ksb.id))
    return [KsbStatement(ref, code, str(kind), statement) for ref, code, kind, statement in rows]


def index_for(reference: str) -> SuggestIndex:
    """The index of one standard's statements (built on first use, rebuilt after a change).

    Raises UnknownStandard when the standard has no KSB statements loaded.
    """
    method = _method()
    stamp = _revisions([reference]).get(reference)
    if stamp is None:
        raise UnknownStandard(reference)
    key = (str(db.engine.url), reference)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.stamp == stamp and cached.method == method:
            return cached.index
    index = build_index(statements_of([reference]), method=method)
    with _lock:
        _cache[key] = _Cached(stamp, method, index)
    return index


def suggest(reference: str, text: str, top: int = 10, *,
            min_score: float = 0.0) -> list[Suggestion]:
    """The standard's KSBs the text most likely covers, best first (see suggest.py).

    Raises UnknownStandard, EmptyText or TextTooLong (the last two are ValueErrors).
    """
    check_text(text)  # refuse an empty or huge text before loading anything
    return index_for(reference).suggest(reference, text, top, min_score=min_score)


def suggest_many(items: Sequence[tuple[str, str]], top: int = 5) -> list[list[Suggestion]]:
    """suggest() for many (standard, text) pairs in one pass: each standard's cached index
    (index_for), one encoder call per standard named. Every pair is checked first
    (UnknownStandard, EmptyText, TextTooLong name the item's position); results keep the
    order of the items."""
    references = {standard for standard, _ in items}
    known = _revisions(references)
    for position, (standard, text) in enumerate(items):
        if standard not in known:
            raise UnknownStandard(standard, position if len(items) > 1 else None)
        try:
            check_text(text)
        except (EmptyText, TextTooLong) as error:
            if len(items) == 1:
                raise
            raise type(error)(f"item {position}: {error}") from error
    if not items:
        return []
    # Each standard's cached index (built once per process), one encoder call per standard.
    by_standard: dict[str, list[int]] = {}
    for position, (standard, _) in enumerate(items):
        by_standard.setdefault(standard, []).append(position)
    out: list[list[Suggestion]] = [[] for _ in items]
    for standard, positions in by_standard.items():
        results = index_for(standard).suggest_batch([items[p] for p in positions], top)
        for position, suggestions in zip(positions, results, strict=True):
            out[position] = suggestions
    return out


def forget() -> None:
    """Drop every cached index (tests, after bulk changes)."""
    with _lock:
        _cache.clear()
