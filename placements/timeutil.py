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


def _to_uk(value: datetime) -> datetime:
    if value.tzinfo is None:  # naive datetimes are UTC by house rule
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UK_TIME)


def date_uk(value: date | datetime | None) -> str:
    """Format a date as GOV.UK style, e.g. 1 September 2026 ('' for None)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _to_uk(value)
    return f"{value.day} {value:%B %Y}"


def datetime_uk(value: datetime | None) -> str:
    """Format a datetime in UK time as GOV.UK style, e.g. 1 September 2026 at 2:05pm."""
    if value is None:
        return ""
    local = _to_uk(value)
    hour = local.hour % 12 or 12
    if local.hour == 0 and local.minute == 0:
        clock = "midnight"
    elif local.hour == 12 and local.minute == 0:
        clock = "midday"
    else:
        clock = f"{hour}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return f"{local.day} {local:%B %Y} at {clock}"
