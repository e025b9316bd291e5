"""Placement reviews and concerns: when reviews are due, their lifecycle, what is overdue,
which plans still apply, and the concern lifecycle.

**Schedule.** Every published placement gets three reviews, due on dates derived from its
offer's dates (`schedule`): the start check-in at the end of the first week, the mid-point
review halfway, the final review on the last day. An officer may move a due date; a date
nobody moved follows the offer's dates. A review can be completed from `opens_on` (its
window) onwards, and late.

**Review lifecycle** (`ReviewPlan` -> `PlacementReview.status`)::

    scheduled --supervisor_submits--> supervisor-done --learner_completes----> complete
        |  `------learner_submits---> learner-done ----supervisor_completes--> complete
        `--waive (officer, with a reason; also from either *-done) --> waived

Each side submits its part once; `verb_for(side, status)` names the move a submission
makes. Two submissions of the same part at once cannot both pass (conditional UPDATE).

**Overdue** is derived, never stored: a review still waiting for a part whose due date has
passed (`is_overdue`, `overdue_sql`).

**Which plans apply.** A plan applies while its placement is published or accepted *at the
plan's offer* (`plan_live`, `plan_live_sql`): once the learner declines, the placement is
withdrawn, or the learner moves to another offer (which gets its own plan), the old plan's
reviews are no longer asked for. Nothing is written when that happens.

**Concern lifecycle** (`Concern.status`)::

    open --take--> in-hand --close (outcome)--> closed --reopen--> in-hand
      `---------------close----------------'       in-hand --reassign--> in-hand
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from placements.domain.lifecycle import KEEP, Lifecycle, move
from placements.models import (
    Concern,
    ConcernStatus,
    Placement,
    PlacementReview,
    PlacementStatus,
    ReviewKind,
    ReviewPlan,
    ReviewSide,
    ReviewStatus,
)

# --- ratings and recommendations ----------------------------------------------------------

#: The rating scale of every review (attendance and punctuality, progress on objectives):
#: value -> (name, what it means). Both sides use the same words.
RATINGS: dict[int, tuple[str, str]] = {
    4: ("Excellent", "Consistently goes beyond what we expect at this stage"),
    3: ("Good", "Meets what we expect at this stage"),
    2: ("Developing", "Meets some of what we expect; needs support to meet the rest"),
    1: ("Cause for concern", "Falls short of what we expect; needs action now"),
}

#: The supervisor's recommendation in the final review: value -> words.
RECOMMENDATIONS: dict[str, str] = {
    "ready": "Ready to work in this occupation at this level",
    "nearly": "Nearly ready: would benefit from more experience",
    "not-yet": "Not ready yet: needs significant further development",
}


def rating_name(value: int | None) -> str:
    """Say a rating in words ("Good (3 of 4)")."""
    if value is None or value not in RATINGS:
        return ""
    return f"{RATINGS[value][0]} ({value} of {len(RATINGS)})"


# --- schedule -----------------------------------------------------------------------------

#: Days before its due date from which a review can be completed.
WINDOW_DAYS: dict[ReviewKind, int] = {
    ReviewKind.START: 6, ReviewKind.MIDPOINT: 14, ReviewKind.FINAL: 14}


def schedule(start: date, end: date) -> dict[ReviewKind, date]:
    """Return each review's due date for a placement from `start` to `end` (inclusive).

    Start check-in: the end of the first week (not after the end); mid-point: halfway
    (not before the start check-in); final: the last day.
    """
    if end < start:
        raise ValueError("a placement cannot end before it starts")
    first_week = min(start + timedelta(days=6), end)
    midpoint = max(start + (end - start) // 2, first_week)
    return {ReviewKind.START: first_week, ReviewKind.MIDPOINT: midpoint,
            ReviewKind.FINAL: end}


def opens_on(kind: ReviewKind, due: date) -> date:
    """The first day a review can be completed."""
    return due - timedelta(days=WINDOW_DAYS[kind])


# --- review lifecycle ---------------------------------------------------------------------

RS = ReviewStatus
#: Statuses of a review that still waits for at least one part.
WAITING = (RS.SCHEDULED, RS.SUPERVISOR_DONE, RS.LEARNER_DONE)

REVIEW_TRANSITIONS = [
    move("supervisor_submits", [RS.SCHEDULED], RS.SUPERVISOR_DONE,
         event="supervisor_part_submitted"),
    move("learner_submits", [RS.SCHEDULED], RS.LEARNER_DONE, event="learner_part_submitted"),
    move("supervisor_completes", [RS.LEARNER_DONE], RS.COMPLETE, event="completed"),
    move("learner_completes", [RS.SUPERVISOR_DONE], RS.COMPLETE, event="completed"),
    move("waive", WAITING, RS.WAIVED, event="waived"),
]


def _review_refusal(verb: str, status: Any, _sub: Any) -> str:
    if status == RS.WAIVED:
        return "This review is no longer needed: the placement officer has waived it"
    if status == RS.COMPLETE:
        return "This review is already complete" if verb == "waive" else \
            "This part of the review has already been submitted"
    if verb.startswith("supervisor") and status == RS.SUPERVISOR_DONE:
        return "The supervisor's part of this review has already been submitted"
    if verb.startswith("learner") and status == RS.LEARNER_DONE:
        return "Your part of this review has already been submitted"
    return "This review cannot be changed now"


REVIEW: Lifecycle[ReviewStatus] = Lifecycle("review", PlacementReview, REVIEW_TRANSITIONS,
                                            refusal=_review_refusal)


def verb_for(side: ReviewSide, status: ReviewStatus) -> str:
    """The move one side's submission makes from `status` (IllegalTransition if none)."""
    other_done = RS.LEARNER_DONE if side == ReviewSide.SUPERVISOR else RS.SUPERVISOR_DONE
    verb = f"{side.value}_completes" if status == other_done else f"{side.value}_submits"
    REVIEW.check(verb, status)
    return verb


def awaits(status: ReviewStatus, side: ReviewSide) -> bool:
    """Say whether a review in `status` still waits for `side`'s part."""
    other = RS.LEARNER_DONE if side == ReviewSide.SUPERVISOR else RS.SUPERVISOR_DONE
    return status in (RS.SCHEDULED, other)


def awaits_sql(side: ReviewSide) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on PlacementReview)."""
    other = RS.LEARNER_DONE if side == ReviewSide.SUPERVISOR else RS.SUPERVISOR_DONE
    return PlacementReview.status.in_([RS.SCHEDULED.value, other.value])


def is_overdue(status: ReviewStatus, due: date, today: date) -> bool:
    """Say whether a review is overdue: still waiting for a part after its due date."""
    return status in WAITING and due < today


def overdue_sql(today: date) -> sa.ColumnElement[bool]:
    """The same rule in SQL (a WHERE clause on PlacementReview)."""
    return sa.and_(PlacementReview.status.in_([s.value for s in WAITING]),
                   PlacementReview.due_date < today)


def is_open(kind: ReviewKind, due: date, today: date) -> bool:
    """Say whether a review's window has opened (it can be completed now)."""
    return today >= opens_on(kind, due)


# --- which plans apply --------------------------------------------------------------------

#: Placement statuses under which a placement's review plan applies.
LIVE = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)


def plan_live(placement_status: PlacementStatus, placement_offer_id: int,
              plan_offer_id: int) -> bool:
    """Say whether a plan applies: its placement is published or accepted at its offer."""
    return placement_status in LIVE and placement_offer_id == plan_offer_id


def plan_is_live(plan: ReviewPlan) -> bool:
    """`plan_live` for a loaded plan."""
    return plan_live(plan.placement.status, plan.placement.offer_id, plan.offer_id)


def plan_live_sql() -> sa.ColumnElement[bool]:
    """The same rule in SQL (the statement must join Placement on ReviewPlan.placement_id)."""
    return sa.and_(Placement.status.in_([s.value for s in LIVE]),
                   Placement.offer_id == ReviewPlan.offer_id)


# --- concern lifecycle --------------------------------------------------------------------

CS = ConcernStatus
#: Statuses of a concern that needs an officer.
UNRESOLVED = (CS.OPEN, CS.IN_HAND)

CONCERN_TRANSITIONS = [
    move("take", [CS.OPEN], CS.IN_HAND, event="taken"),
    move("reassign", [CS.IN_HAND], KEEP, event="reassigned"),
    move("close", [CS.OPEN, CS.IN_HAND], CS.CLOSED, event="closed"),
    move("reopen", [CS.CLOSED], CS.IN_HAND, event="reopened"),
]


def _concern_refusal(verb: str, status: Any, _sub: Any) -> str:
    if status == CS.CLOSED:
        return "This concern has already been closed"
    if verb == "take":
        return "Someone has already taken this concern"
    if verb == "reopen":
        return "This concern is not closed"
    return "This concern cannot be changed now"


CONCERN: Lifecycle[ConcernStatus] = Lifecycle("concern", Concern, CONCERN_TRANSITIONS,
                                              refusal=_concern_refusal)

#: What each concern status means, for officers.
CONCERN_STATUS_WORDS = {CS.OPEN: "Open: nobody has taken it yet", CS.IN_HAND: "In hand",
                        CS.CLOSED: "Closed"}

#: What each review status means, for the people who see it.
REVIEW_STATUS_WORDS = {
    RS.SCHEDULED: "Waiting for both parts",
    RS.SUPERVISOR_DONE: "Waiting for the learner's part",
    RS.LEARNER_DONE: "Waiting for the supervisor's part",
    RS.COMPLETE: "Complete",
    RS.WAIVED: "Waived",
}

#: A scheduled review before it opens: nobody can complete a part yet.
NOT_OPEN_WORDS = "Not open yet"


def review_words(status: ReviewStatus, is_open_now: bool) -> str:
    """What a review's status means today (a scheduled review not yet open says so)."""
    if status == RS.SCHEDULED and not is_open_now:
        return NOT_OPEN_WORDS
    return REVIEW_STATUS_WORDS[status]

