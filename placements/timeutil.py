"""Time in one place: moments are stored in UTC; people live in UK time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

#: Dates and times are stored in UTC and shown in UK local time.
UK_TIME = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def today_uk(moment: datetime | None = None) -> date:
    """Return the UK date of a moment (now when not given)."""
    return (moment or utcnow()).astimezone(UK_TIME).date()
