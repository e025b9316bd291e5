"""Cursor pagination: opaque, signed cursors on (updated_at, id) or on id.

A cursor names the last row a page ended on, the list it belongs to (its resource and
filters, as a digest) and, for change feeds, when the walk through the list began. It is
signed with the app's secret (itsdangerous), so a cursor that was altered, or used with other
filters or by another provider, is refused instead of silently skipping rows.

**Change feeds and late commits.** A row's `updated_at` is taken when its transaction
changes it, but other readers see the change only when that transaction commits. A walk
that has gone past a time can therefore miss a row changed *before* that time by a
transaction that committed *after* the walk passed it. So the cursor handed out with the
last page (for the next sync) never lies later than the walk's start less
`API_SYNC_OVERLAP_S`: the next sync sends again the rows changed in that overlap (each
change arrives at least once) and catches every row whose transaction took less than the
overlap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, json
from itsdangerous import BadSignature, URLSafeSerializer

from placements.api.problems import ApiProblem, FieldError

_SALT = "placements.api.cursor/1"


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's (updated_at, id), or its id alone."""

    id: int
    updated_at: datetime | None = None
    #: When the walk through the list began (change feeds).
    started: datetime | None = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def scope_digest(provider_id: int, resource: str, filters: dict[str, Any]) -> str:
    """A short digest of the list a cursor belongs to."""
    text = json.dumps([provider_id, resource, filters], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(cursor: Cursor, digest: str) -> str:
    payload = {"i": cursor.id, "d": digest}
    if cursor.updated_at is not None:
        payload["u"] = cursor.updated_at.astimezone(UTC).isoformat()
    if cursor.started is not None:
        payload["s"] = cursor.started.astimezone(UTC).isoformat()
    return _serializer().dumps(payload)


def decode(text: str, digest: str) -> Cursor:
    """Read a cursor made for this list, or raise a 400 problem."""
    try:
        payload = _serializer().loads(text)
        if payload["d"] != digest:
            raise ValueError("another list")
        return Cursor(id=int(payload["i"]),
                      updated_at=datetime.fromisoformat(payload["u"]) if "u" in payload
                      else None,
                      started=datetime.fromisoformat(payload["s"]) if "s" in payload
                      else None)
    except (BadSignature, KeyError, TypeError, ValueError):
        raise ApiProblem("bad-request", "The cursor is not one this list gave out: start "
                         "again without a cursor, with the same filters",
                         [FieldError("/cursor", "Use the next_cursor of a page of this list, "
                                                "with the same filters")]) from None


def resume_point(position: Cursor | None, started: datetime) -> Cursor:
    """The cursor for the next sync, after the last page of a change feed (see above):
    where the walk ended (`position`), but no later than its start less the overlap."""
    overlap = timedelta(seconds=int(current_app.config["API_SYNC_OVERLAP_S"]))
    floor = started - overlap
    if position is None or position.updated_at is None or position.updated_at >= floor:
        return Cursor(id=0, updated_at=floor)
    return Cursor(id=position.id, updated_at=position.updated_at)
