"""The arithmetic of work-integrated hours: shares, projections and status (no database).

Everything is counted in quarter hours (integers). Definitions:

- **Work-integrated (WI) hours** are every kind except classroom (placement, live brief,
  simulated work environment, in-work learning).
- **Share to date** = WI / (WI + classroom), over the hours logged so far; undefined (None)
  when nothing is logged.
- **Elapsed** E = days from the programme's start date to today, clamped to 0..D, where
  D = days from start to end date (at least 1).
- **Projection** (at the current rate): hours of a kind logged so far, scaled to the whole
  programme, i.e. ``logged * D / E``. The projected total is the larger of the planned
  total hours and the projected logged total, so a learner who logs more than planned is
  measured against what they will actually do:

      projected share = projected WI / max(planned total, projected WI + projected classroom)
                      = WI * D / max(planned * E, (WI + classroom) * D)

- **Status**, from verified hours only (pending hours are shown beside it, never counted):

  * ``met``: WI hours reach the target share of the *planned* total hours
    (100 * WI >= target_pct * planned) and, when a placement is mandated, verified
    placement hours reach the required hours;
  * ``at risk``: not met, the programme has started (E > 0) and either the projected share
    is below the target (100 * WI * D < target_pct * max(planned * E, (WI + classroom) * D))
    or, for a mandated placement, the projected placement hours fall short
    (placement * D < required * E);
  * ``on track``: otherwise (including before the programme starts).

Every comparison is done on integers by cross-multiplying, so the thresholds are exact:
a learner exactly on the target is on track, one quarter hour short is at risk.
The dashboards evaluate the same rule in SQL (`placements.hours.services.status_sql`),
tested against `assess` at the same edges.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

#: Quarter hours in an hour.
QH = 4
#: Most hours one entry may hold.
MAX_HOURS_PER_ENTRY = 12


class Status(enum.StrEnum):
    """Where a learner stands against the work-integration norm."""

    ON_TRACK = "on track"
    AT_RISK = "at risk"
    MET = "met"


#: Integer codes of `Status` in SQL results.
#: Ordered as dashboards list learners: at risk first, then on track, then met.
STATUS_CODES: tuple[Status, ...] = (Status.AT_RISK, Status.ON_TRACK, Status.MET)
AT_RISK, ON_TRACK, MET = 0, 1, 2


@dataclass(frozen=True)
class ProgrammeTerms:
    """What a programme expects: its dates, planned hours, target and mandated hours."""

    start_date: date
    end_date: date
    planned_total_hours: int
    target_pct: int = 20
    required_placement_hours: int | None = None

    @property
    def total_days(self) -> int:
        return max(1, (self.end_date - self.start_date).days)

    def elapsed_days(self, today: date) -> int:
        """Days of the programme gone by today, clamped to 0..total_days."""
        return min(self.total_days, max(0, (today - self.start_date).days))

    @property
    def planned_qh(self) -> int:
        return self.planned_total_hours * QH

    @property
    def required_qh(self) -> int:
        return (self.required_placement_hours or 0) * QH


@dataclass(frozen=True)
class Logged:
    """A learner's verified hours so far, in quarter hours."""

    classroom: int = 0
    work_integrated: int = 0  # every non-classroom kind, placement included
    placement: int = 0  # the placement part of work_integrated

    @property
    def total(self) -> int:
        return self.classroom + self.work_integrated


@dataclass(frozen=True)
class Assessment:
    """Share to date, projection and status of one learner."""

    share: float | None  # WI share of hours logged so far, 0..1 (None: nothing logged)
    projected_wi_qh: int | None  # None before the programme starts
    projected_placement_qh: int | None
    projected_share: float | None
    status: Status
    share_short: bool  # projected share below target
    placement_short: bool  # mandated placement hours not reachable at the current rate


def share(work_integrated: int, classroom: int) -> float | None:
    """Return the work-integrated share of the hours logged, or None when there are none."""
    total = work_integrated + classroom
    return None if total <= 0 else work_integrated / total


def project(logged_qh: int, elapsed_days: int, total_days: int) -> int | None:
    """Return hours logged so far scaled to the whole programme (rounded down), or None."""
    if elapsed_days <= 0:
        return None
    return logged_qh * total_days // elapsed_days


def assess(logged: Logged, terms: ProgrammeTerms, today: date) -> Assessment:
    """Work out one learner's share, projection and status (see the module docstring)."""
    d = terms.total_days
    e = terms.elapsed_days(today)
    wi, cr, pl = logged.work_integrated, logged.classroom, logged.placement
    target = terms.target_pct
    mandated = terms.required_qh > 0
    met = 100 * wi >= target * terms.planned_qh and (not mandated or pl >= terms.required_qh)
    share_short = placement_short = False
    projected_share = None
    if e > 0:
        denominator = max(terms.planned_qh * e, (wi + cr) * d)
        share_short = 100 * wi * d < target * denominator
        placement_short = mandated and pl * d < terms.required_qh * e
        projected_share = wi * d / denominator if denominator else None
    if met:
        status = Status.MET
    elif share_short or placement_short:
        status = Status.AT_RISK
    else:
        status = Status.ON_TRACK
    return Assessment(share=share(wi, cr), projected_wi_qh=project(wi, e, d),
                      projected_placement_qh=project(pl, e, d) if mandated else None,
                      projected_share=projected_share, status=status,
                      share_short=share_short, placement_short=placement_short)


#: Share bands of the distribution chart: (label, lowest percent in the band).
SHARE_BANDS: tuple[tuple[str, int], ...] = (
    ("Under 5%", 0), ("5% to 9%", 5), ("10% to 14%", 10), ("15% to 19%", 15),
    ("20% to 24%", 20), ("25% to 29%", 25), ("30% to 39%", 30), ("40% or more", 40),
)
#: Band of learners with no hours at all.
NO_HOURS_BAND = -1


def share_band(work_integrated: int, classroom: int) -> int:
    """Return the index in SHARE_BANDS of a share (exact), or NO_HOURS_BAND."""
    total = work_integrated + classroom
    if total <= 0:
        return NO_HOURS_BAND
    band = 0
    for i, (_, low) in enumerate(SHARE_BANDS):
        if 100 * work_integrated >= low * total:
            band = i
    return band


def parse_hours(text: str) -> int:
    """Read hours such as "7", "7.5", "7.25" or "7:30" and return quarter hours.

    Raises ValueError with a message fit to show the user when the value is not a number,
    not a whole number of quarter hours, not more than 0 or more than 12.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("Enter the number of hours")
    try:
        if ":" in text:
            whole, _, minutes = text.partition(":")
            if not (whole.isdigit() and minutes.isdigit() and len(minutes) == 2):
                raise InvalidOperation
            value = Decimal(int(whole)) + Decimal(int(minutes)) / 60
        else:
            value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError("Enter hours as a number, like 7.5") from None
    if not value.is_finite():
        raise ValueError("Enter hours as a number, like 7.5")
    if value <= 0:
        raise ValueError("Hours must be more than 0")
    if value > MAX_HOURS_PER_ENTRY:
        raise ValueError(f"Hours must be {MAX_HOURS_PER_ENTRY} or fewer in a day")
    quarters = value * QH
    if quarters != quarters.to_integral_value():
        raise ValueError("Enter hours in quarter hours, like 7.25, 7.5 or 7.75")
    return int(quarters)


def format_hours(quarter_hours: int | None) -> str:
    """Show quarter hours as hours, e.g. 30 -> "7.5", 29 -> "7.25", 1200 -> "300"."""
    if quarter_hours is None:
        return ""
    whole, rest = divmod(int(quarter_hours), QH)
    return f"{whole:,}" + ("", ".25", ".5", ".75")[rest]


def format_pct(value: float | None) -> str:
    """Show a 0..1 share as a percentage with one decimal, e.g. 0.2 -> "20.0%"."""
    if value is None or value != value:  # None or NaN
        return "No hours yet"
    return f"{value * 100:.1f}%"
