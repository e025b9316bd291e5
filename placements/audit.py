"""Record who did what: every state change a user makes goes through `record`."""

from __future__ import annotations

from typing import Any

from placements.extensions import db
from placements.models import AuditEvent, User


def record(actor: User | None, action: str, obj: Any = None, *, round_id: int | None = None,
           **detail: Any) -> AuditEvent:
    """Add an audit event for `action` on `obj` (flushed with the caller's transaction)."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=getattr(obj, "id", None),
        round_id=round_id,
        detail={k: _plain(v) for k, v in detail.items()},
    )
    db.session.add(event)
    return event


def _plain(value: Any) -> Any:
    """Make a value JSON-safe for the audit detail."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
