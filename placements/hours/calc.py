"""The arithmetic of work-integrated hours: shares, projections, status and the reasons a
learner needs attention (no database).

Everything is counted in quarter hours (integers). Definitions:

- **Work-integrated (WI) hours** are every kind except classroom (placement, live brief,
  simulated work environment, in-work learning).
- **Share to date** = WI / (WI + classroom), over the verified hours so far; undefined
  (None) when nothing is logged.
- **Elapsed** E = days from the programme's start date to today, clamped to 0..D, where
  D = days from start to end date (at least 1); R = D - E days remain.
- **Scheduled placement hours** (`scheduled_qh`): the hours still to come at the placements
  the learner attends, i.e. their published or accepted placements as published (a change
  waiting to be published does not count until it is; declined and withdrawn placements
  count nothing). A placement's hours per week are spread over Monday to Friday, so each
  weekday is a fifth of a week; only weekdays after today and on or before both the
  placement's end and the programme's end count (a part week counts its weekdays):
  ``hours_per_week * 4 * weekdays // 5`` quarter hours per placement.
- **Projection** to the end of the programme:

  * placement = verified placement hours + scheduled placement hours;
  * other WI (live briefs, simulated work, in-work learning: nothing schedules them) =
    verified other WI scaled to the whole programme at the pace so far, ``other * D // E``
    (as it stands before the start);
  * classroom = verified classroom + the programme's planned classroom hours still to come,
    ``planned * (100 - target) // 100 * R // D`` (planned classroom hours are the planned
    total less the work-integrated target, spread evenly over the programme);
  * projected share = projected WI / max(planned total, projected WI + projected classroom),
    so a learner who does more than planned is measured against what they will really do.

- **Status**, from verified hours only (pending hours are shown beside it, never counted):

  * ``met``: WI hours reach the target share of the *planned* total hours
    (100 * WI >= target_pct * planned) and, when a placement is mandated, verified
    placement hours reach the required hours;
  * ``at risk``: not met, the programme has started (E > 0) and either the projected share
    is below the target (100 * projected WI < target_pct * max(planned, projected total))
    or, for a mandated placement, the projected placement hours fall short of the required
    hours;
  * ``on track``: otherwise (including before the programme starts).

Every comparison is done on integers, so the thresholds are exact: a learner exactly on
the target is on track, one quarter hour short is at risk. The dashboards evaluate the same
rule in SQL (`placements.hours.services.status_sql`, with the scheduled hours of
`placements.hours.services.scheduled_sql`), tested against `assess` at the same edges.

`reasons` says why a learner needs attention, in an officer's words and in the learner's
own (`Reason.for_officer`, `Reason.for_learner`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

#: Quarter hours in an hour.
QH = 4
#: Most hours one entry may hold.
MAX_HOURS_PER_ENTRY = 12
#: Weekdays in a week: a placement's hours per week are spread over Monday to Friday.
WEEKDAYS = 5
#: A Monday long ago, from which weekdays are counted (1970-01-01 was a Thursday).
MONDAY_EPOCH = date(1969, 12, 29)


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
    def planned_classroom_qh(self) -> int:
        """Planned classroom quarter hours: the planned total less the WI target."""
        return self.planned_qh * (100 - self.target_pct) // 100

    @property
    def required_qh(self) -> int:
        return (self.required_placement_hours or 0) * QH

    @property
    def mandated(self) -> bool:
        return self.required_qh > 0


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
class Scheduled:
    """A placement the learner attends (published or accepted, as published)."""

    start_date: date
    end_date: date
    hours_per_week: int
    title: str = ""
    employer: str = ""


def _weekdays_before(days_since_monday_epoch: int) -> int:
    """Weekdays among the first n days counted from MONDAY_EPOCH."""
    weeks, rest = divmod(days_since_monday_epoch, 7)
    return WEEKDAYS * weeks + min(rest, WEEKDAYS)


def day_number(day: date) -> int:
    """Days from 1 January 1970 (the SQL form counts the same way)."""
    return (day - date(1970, 1, 1)).days


def weekdays(first: date, last: date) -> int:
    """Count the Mondays to Fridays from `first` to `last`, both included (0 if none)."""
    if last < first:
        return 0
    return (_weekdays_before((last - MONDAY_EPOCH).days + 1)
            - _weekdays_before((first - MONDAY_EPOCH).days))


def schedule_window(placement: Scheduled, terms: ProgrammeTerms,
                    today: date) -> tuple[date, date]:
    """The days of a placement still to come that count: after today, and on or before
    both its end and the programme's end (empty when the first is after the last)."""
    return (max(placement.start_date, today + timedelta(days=1)),
            min(placement.end_date, terms.end_date))


def scheduled_days(placement: Scheduled, terms: ProgrammeTerms, today: date) -> int:
    """Weekdays of the placement still to come (see `schedule_window`)."""
    return weekdays(*schedule_window(placement, terms, today))


def scheduled_qh(placement: Scheduled, terms: ProgrammeTerms, today: date) -> int:
    """Quarter hours of the placement still to come: a fifth of a week per weekday."""
    return placement.hours_per_week * QH * scheduled_days(placement, terms, today) // WEEKDAYS


@dataclass(frozen=True)
class Assessment:
    """Share to date, projection, status of one learner, and the facts behind them."""

    share: float | None  # WI share of hours logged so far, 0..1 (None: nothing logged)
    projected_wi_qh: int
    projected_placement_qh: int
    projected_classroom_qh: int
    projected_share: float | None
    status: Status
    share_short: bool  # projected share below target
    placement_short: bool  # mandated placement hours not reached even with the schedule
    started: bool  # the programme has started (before, nothing is judged)
    placement_qh: int = 0  # verified placement hours so far
    scheduled_qh: int = 0  # placement hours still to come
    scheduled_days: int = 0  # weekdays of placement still to come
    placements: int = 0  # placements the learner attends (ended ones included)
    last_placement_day: date | None = None  # when the last of them ends


def share(work_integrated: int, classroom: int) -> float | None:
    """Return the work-integrated share of the hours logged, or None when there are none."""
    total = work_integrated + classroom
    return None if total <= 0 else work_integrated / total


def project(logged_qh: int, elapsed_days: int, total_days: int) -> int:
    """Return hours logged so far scaled to the whole programme (rounded down); before the
    programme starts, the hours as they stand."""
    if elapsed_days <= 0:
        return logged_qh
    return logged_qh * total_days // elapsed_days


def assess(logged: Logged, terms: ProgrammeTerms, today: date,
           schedule: Sequence[Scheduled] = ()) -> Assessment:
    """Work out one learner's share, projection and status (see the module docstring)."""
    d = terms.total_days
    e = terms.elapsed_days(today)
    wi, cr, pl = logged.work_integrated, logged.classroom, logged.placement
    target = terms.target_pct
    mandated = terms.mandated
    sched_qh = sum(scheduled_qh(p, terms, today) for p in schedule)
    sched_days = sum(scheduled_days(p, terms, today) for p in schedule)
    projected_placement = pl + sched_qh
    projected_wi = projected_placement + project(wi - pl, e, d)
    projected_cr = cr + terms.planned_classroom_qh * (d - e) // d
    denominator = max(terms.planned_qh, projected_wi + projected_cr)
    met = 100 * wi >= target * terms.planned_qh and (not mandated or pl >= terms.required_qh)
    share_short = placement_short = False
    if e > 0:
        share_short = 100 * projected_wi < target * denominator
        placement_short = mandated and projected_placement < terms.required_qh
    if met:
        status = Status.MET
    elif share_short or placement_short:
        status = Status.AT_RISK
    else:
        status = Status.ON_TRACK
    return Assessment(
        share=share(wi, cr), projected_wi_qh=projected_wi,
        projected_placement_qh=projected_placement, projected_classroom_qh=projected_cr,
        projected_share=projected_wi / denominator if denominator else None, status=status,
        share_short=share_short, placement_short=placement_short, started=e > 0,
        placement_qh=pl, scheduled_qh=sched_qh, scheduled_days=sched_days,
        placements=len(schedule),
        last_placement_day=max((p.end_date for p in schedule), default=None))


# --- why a learner needs attention ------------------------------------------------------------

class Concern(enum.StrEnum):
    """Why a learner is listed as needing attention."""

    NO_PLACEMENT = "no placement"  # mandated, nothing scheduled, hours short
    PLACEMENT_SHORT = "placement short"  # mandated, placed, but the schedule falls short
    SHARE_SHORT = "share short"  # heading below the work-integrated target
    WAITING = "waiting"  # entries waiting for verification too long
    CHANGE_PENDING = "change pending"  # a move or removal waits to be published (officers)


@dataclass(frozen=True)
class Change:
    """A change to a placement the learner attends, decided but not yet published."""

    kind: str  #: "move" or "removal"
    offer: str  #: the placement as published, "title, employer"
    to_offer: str = ""  #: where a move goes
    scheduled_qh: int = 0  #: the placement's hours still to come, as published


def day_uk(day: date) -> str:
    """A date in GOV.UK style, e.g. 2 July 2027."""
    return f"{day.day} {day:%B %Y}"


def hours_text(quarter_hours: int) -> str:
    """Hours for a sentence: "1 hour", "7.5 hours", "120 hours"."""
    return f"{format_hours(quarter_hours)} hour{'' if quarter_hours == QH else 's'}"


def weeks_text(days: int) -> str:
    """Weekdays as weeks and days: "4 weeks", "3 weeks and 2 days", "1 day"."""
    weeks, rest = divmod(days, WEEKDAYS)
    parts = []
    if weeks:
        parts.append(f"{weeks} week{'' if weeks == 1 else 's'}")
    if rest or not weeks:
        parts.append(f"{rest} day{'' if rest == 1 else 's'}")
    return " and ".join(parts)


@dataclass(frozen=True)
class Reason:
    """One reason a learner needs attention, with the figures its sentences need."""

    concern: Concern
    required_qh: int = 0
    placement_qh: int = 0
    scheduled_qh: int = 0
    scheduled_days: int = 0
    placements: int = 0
    end_date: date | None = None  # the programme's end
    last_placement_day: date | None = None
    projected_share: float | None = None
    target_pct: int = 0
    target_qh: int = 0  # the work-integrated hours the target asks of the planned total
    waiting: int = 0
    waiting_days: int = 0
    change: Change | None = None

    @property
    def officer_only(self) -> bool:
        """A pending change is the officer's to publish: learners are not told before."""
        return self.concern is Concern.CHANGE_PENDING

    def _end(self) -> str:
        return day_uk(self.end_date) if self.end_date else "the end of the programme"

    def for_officer(self) -> str:
        """The reason in a sentence for a placement officer."""
        c = self.concern
        if c is Concern.NO_PLACEMENT:
            if self.placement_qh:
                return (f"No placement scheduled and mandated: "
                        f"{format_hours(self.placement_qh)} of "
                        f"{format_hours(self.required_qh)} placement hours logged, "
                        f"{format_hours(self.shortfall_qh)} more needed by {self._end()}")
            return (f"No placement yet and mandated: {format_hours(self.required_qh)} "
                    f"placement hours needed by {self._end()}")
        if c is Concern.PLACEMENT_SHORT:
            logged = (f"Logged {format_hours(self.placement_qh)} h of "
                      f"{format_hours(self.required_qh)} placement hours")
            if self.scheduled_days:
                return (f"{logged} with {weeks_text(self.scheduled_days)} of placement left "
                        f"({format_hours(self.scheduled_qh)} h scheduled): "
                        f"{format_hours(self.shortfall_qh)} h short")
            ended = (f" and the placement ended on {day_uk(self.last_placement_day)}"
                     if self.last_placement_day else "")
            return f"{logged}{ended}: {format_hours(self.shortfall_qh)} h short"
        if c is Concern.SHARE_SHORT:
            if not self.projected_share:
                return (f"No work-integrated hours so far and none scheduled: "
                        f"{self.target_pct}% of planned hours ({format_hours(self.target_qh)} h)"
                        f" expected by {self._end()}")
            return (f"Work-integrated share heading for {format_pct(self.projected_share)} "
                    f"by {self._end()}, below the {self.target_pct}% target")
        if c is Concern.WAITING:
            entries = "1 entry" if self.waiting == 1 else f"{self.waiting} entries"
            return f"{entries} waiting for verification over {self.waiting_days} days"
        change = self.change or Change("move", "")
        if change.kind == "removal":
            return (f"Removal from {change.offer} waiting to be published: its "
                    f"{format_hours(change.scheduled_qh)} h still to come are counted until "
                    "then")
        return (f"Move from {change.offer} to {change.to_offer} waiting to be published: "
                f"the figures count {change.offer} until then")

    def for_learner(self) -> str:
        """The reason in a sentence addressed to the learner."""
        c = self.concern
        end = day_uk(self.end_date) if self.end_date else "the end of your programme"
        if c is Concern.NO_PLACEMENT:
            if self.placement_qh:
                return (f"You have no placement scheduled. You have "
                        f"{hours_text(self.placement_qh)} of the "
                        f"{format_hours(self.required_qh)} placement hours your programme "
                        f"needs by {end}; talk to your placement officer.")
            return (f"You have no placement yet, and your programme needs "
                    f"{format_hours(self.required_qh)} placement hours by {end}.")
        if c is Concern.PLACEMENT_SHORT:
            have = (f"You have {hours_text(self.placement_qh)} of verified placement time "
                    f"of the {format_hours(self.required_qh)} hours your programme needs")
            if self.scheduled_days:
                return (f"{have}, and {weeks_text(self.scheduled_days)} of placement left "
                        f"({hours_text(self.scheduled_qh)}), which leaves you "
                        f"{hours_text(self.shortfall_qh)} short. Log your placement hours "
                        "and talk to your placement officer.")
            return (f"{have}, and your placement has ended, which leaves you "
                    f"{hours_text(self.shortfall_qh)} short. Log any placement hours you "
                    "have not logged yet and talk to your placement officer.")
        if c is Concern.SHARE_SHORT and not self.projected_share:
            return (f"You have no work-integrated hours yet and none are scheduled. About "
                    f"{self.target_pct}% of your planned hours "
                    f"({hours_text(self.target_qh)}) should be work-integrated by {end}: "
                    "log your placement, live brief, simulated or in-work hours as you do "
                    "them.")
        if c is Concern.SHARE_SHORT:
            return (f"With your hours so far, your placement hours still to come and your "
                    f"planned classroom hours, {format_pct(self.projected_share)} of your "
                    f"hours will be work-integrated by {end}, below the {self.target_pct}% "
                    "target.")
        if c is Concern.CHANGE_PENDING:
            return ""
        if self.waiting == 1:
            return (f"One of your entries has waited more than {self.waiting_days} days for "
                    "verification: ask your supervisor or placement officer to verify it.")
        return (f"{self.waiting} of your entries have waited more than {self.waiting_days} "
                "days for verification: ask your supervisor or placement officer to verify "
                "them.")

    @property
    def shortfall_qh(self) -> int:
        return max(0, self.required_qh - self.placement_qh - self.scheduled_qh)


def reasons(assessment: Assessment, terms: ProgrammeTerms, *, waiting: int = 0,
            waiting_days: int = 14, changes: Sequence[Change] = ()) -> list[Reason]:
    """Say why a learner needs attention (an empty list: they do not).

    A pending removal of a mandated learner's placement who has not met the hours is a
    reason of its own (publishing it takes scheduled hours away); a pending move is only
    noted beside other reasons (the officer decided it; the figures count the placement
    as published until it is published).
    """
    a = assessment
    out: list[Reason] = []

    def reason(concern: Concern) -> Reason:
        return Reason(concern, required_qh=terms.required_qh, placement_qh=a.placement_qh,
                      scheduled_qh=a.scheduled_qh, scheduled_days=a.scheduled_days,
                      placements=a.placements, end_date=terms.end_date,
                      last_placement_day=a.last_placement_day,
                      projected_share=a.projected_share, target_pct=terms.target_pct,
                      target_qh=terms.planned_qh * terms.target_pct // 100)

    if a.status is Status.AT_RISK:
        if a.placement_short:
            out.append(reason(Concern.PLACEMENT_SHORT if a.placements
                              else Concern.NO_PLACEMENT))
        if a.share_short:
            out.append(reason(Concern.SHARE_SHORT))
    if waiting:
        out.append(Reason(Concern.WAITING, waiting=waiting, waiting_days=waiting_days))
    for change in changes:
        if (change.kind == "removal" and terms.mandated and a.status is not Status.MET) \
                or out:
            out.append(Reason(Concern.CHANGE_PENDING, change=change))
    return out


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
