"""The allocation round lifecycle, its phase, and whether it takes learners' choices.

States (`AllocationRound.status`) are the officers' decisions::

    draft --open--> open --close_choices--> closed --publish--> published --archive--> archived
                     |  <------reopen------'                    ^   |  (publish again after
                     `---------------- publish (deadline passed) '  |   a repair run)
                                                                    `--publish

Time and data add the rest, derived by `phase`: an open round whose deadline has passed
no longer takes choices; a round with a succeeded run but nothing published is
"allocated"; a published round with changes waiting to be published, or with a repair due
(`repair_due_since`: an employer cut or withdrew an offer under placed learners, a learner
declined) says so. Publishing needs choices to be closed (the deadline passed, or an
officer closed them early with a reason) and claims the next publication number
atomically, so two officers pressing "Publish" at once publish once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.domain.errors import ConcurrentChange, DomainError
from placements.domain.lifecycle import Lifecycle, move
from placements.extensions import db
from placements.models import AllocationRound, RoundStatus, User, utcnow

R = RoundStatus

TRANSITIONS = [
    move("open", [R.DRAFT], R.OPEN, event="opened"),
    move("close_choices", [R.OPEN], R.CLOSED, event="choices_closed"),
    move("reopen", [R.CLOSED], R.OPEN, event="choices_reopened"),
    move("publish", [R.OPEN, R.CLOSED, R.PUBLISHED], R.PUBLISHED, event="published"),
    move("archive", [R.DRAFT, R.OPEN, R.CLOSED, R.PUBLISHED], R.ARCHIVED, event="archived"),
]


def _refusal(verb: str, status: Any, _sub: Any) -> str:
    if status == R.ARCHIVED:
        return "This round has been archived: it can no longer be changed"
    if verb == "close_choices":
        return "Choices are not open in this round"
    if verb == "reopen":
        return "Choices can only be reopened after they were closed early"
    if verb == "open":
        return "This round is already open"
    if verb == "publish":
        return "This round cannot be published now"
    return "That cannot be done to this round now"


ROUND: Lifecycle[RoundStatus] = Lifecycle("round", AllocationRound, TRANSITIONS,
                                          refusal=_refusal)


class Phase(enum.StrEnum):
    """Where a round stands, as officers and learners are told."""

    DRAFT = "Draft"
    TAKING_CHOICES = "Taking choices"
    CHOICES_CLOSED = "Choices closed"
    ALLOCATED = "Allocated, not published"
    PUBLISHED = "Published"
    CHANGES_WAITING = "Published, changes waiting to be published"
    REPAIR_DUE = "Published, repair run due"
    ARCHIVED = "Archived"


def takes_choices(status: RoundStatus, deadline: datetime, now: datetime) -> bool:
    """Say whether learners may change their choices (open and before the deadline)."""
    return status == R.OPEN and now < deadline


def choices_closed(status: RoundStatus, deadline: datetime, now: datetime) -> bool:
    """Say whether choices are closed for good (publishing may go ahead)."""
    return status in (R.CLOSED, R.PUBLISHED) or (status == R.OPEN and now >= deadline)


def phase(status: RoundStatus, deadline: datetime, now: datetime, *, allocated: bool,
          changes_waiting: bool, repair_due: bool) -> Phase:
    """Return the round's phase from its state, the time and what its allocation holds."""
    if status == R.ARCHIVED:
        return Phase.ARCHIVED
    if status == R.DRAFT:
        return Phase.DRAFT
    if status == R.PUBLISHED:
        if repair_due:
            return Phase.REPAIR_DUE
        return Phase.CHANGES_WAITING if changes_waiting else Phase.PUBLISHED
    if takes_choices(status, deadline, now):
        return Phase.TAKING_CHOICES
    return Phase.ALLOCATED if allocated else Phase.CHOICES_CLOSED


def visible_to_learners(status: RoundStatus) -> bool:
    """Say whether learners of the round's programmes see it (every state but draft)."""
    return status != R.DRAFT


def visible_to_learners_sql() -> sa.ColumnElement[bool]:
    """The same rule in SQL."""
    return AllocationRound.status != R.DRAFT.value


def require_changeable(round_: AllocationRound) -> None:
    """Refuse any change to an archived round."""
    if round_.status == R.ARCHIVED:
        raise DomainError(_refusal("", R.ARCHIVED, None))


# --- changing a round's settings -------------------------------------------------------------

#: Settings that decide the allocation: fixed once it has been published (a repair run
#: follows what was published).
ALLOCATION_SETTINGS = ("preference_deadline", "max_preferences", "rank_cost", "fallback",
                       "programmes", "require_verified_checks", "ksb_coverage")


def change_refusals(round_: AllocationRound, changes: dict[str, Any], now: datetime, *,
                    most_listed: int = 0) -> list[tuple[str, str]]:
    """Why each change asked for cannot be made, as (field, message) pairs (none: allowed).

    `changes` holds only the settings that differ from the round's; `most_listed` is the
    most offers any learner has listed in the round (lowering K below it would silently
    stop some learners' choices counting while they can still change them).
    """
    if round_.status == R.ARCHIVED:
        return [("name", _refusal("", R.ARCHIVED, None))]
    refusals = []
    if round_.publications:
        for name in ALLOCATION_SETTINGS:
            if name in changes:
                refusals.append((name, "The allocation has been published: this setting "
                                       "decided it and can no longer change (repair runs "
                                       "follow it). Set up a new round instead"))
        return refusals
    deadline = changes.get("preference_deadline")
    if deadline is not None:
        if round_.status == R.OPEN and deadline <= now:
            refusals.append(("preference_deadline",
                             "While choices are open the deadline must be in the future: to "
                             "stop taking choices now, close them early instead"))
        elif deadline > now + timedelta(days=2 * 366):
            refusals.append(("preference_deadline",
                             "The deadline for choices must be within two years from today"))
    k = changes.get("max_preferences")
    if k is not None and k < most_listed and takes_choices(round_.status,
                                                           round_.preference_deadline, now):
        refusals.append(("max_preferences",
                         f"Some learners have already listed {most_listed} offers: choices "
                         f"cannot go below {most_listed} while learners can still change them"))
    if "programmes" in changes and not changes["programmes"]:
        refusals.append(("programmes", "Choose at least one programme"))
    return refusals


# --- transitions ----------------------------------------------------------------------------

def open_for_choices(actor: User, round_: AllocationRound) -> None:
    """Let learners see the round and choose offers until the deadline."""
    if round_.deadline_passed():
        raise DomainError("The deadline for choices has passed: set a later deadline first",
                          field="preference_deadline")
    ROUND.apply(round_, "open", actor=actor, round_id=round_.id)


def close_choices(actor: User, round_: AllocationRound, reason: str) -> None:
    """Close choices before the deadline, saying why (learners are told by the caller)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why choices close before the deadline", field="reason")
    if round_.status == R.OPEN and round_.deadline_passed():
        raise DomainError("The deadline has already passed: choices are closed")
    ROUND.apply(round_, "close_choices", actor=actor, round_id=round_.id,
                values={"choices_closed_at": utcnow(), "choices_closed_reason": reason},
                reason=reason)


def reopen_choices(actor: User, round_: AllocationRound) -> None:
    """Take choices again after closing them early (never once published)."""
    if round_.publications:
        raise DomainError("The allocation has been published: choices cannot reopen")
    if round_.deadline_passed():
        raise DomainError("The deadline for choices has passed: set a later deadline first",
                          field="preference_deadline")
    ROUND.apply(round_, "reopen", actor=actor, round_id=round_.id,
                values={"choices_closed_at": None, "choices_closed_reason": None})


def claim_publication(actor: User, round_: AllocationRound, *, seen: int) -> int:
    """Claim publication number `seen + 1` for the round, atomically; return it.

    `seen` is the number of publications the officer's confirmation page was built on: a
    publication made meanwhile (by anyone) makes this one refuse, so nothing is published
    twice and nobody is e-mailed twice.
    """
    now = utcnow()
    if round_.status == R.OPEN and not round_.deadline_passed(now):
        raise DomainError("Choices are still open: close them early (saying why) before "
                          "publishing")
    if round_.publications != seen:
        raise ConcurrentChange("This allocation has already been published meanwhile: "
                               "check the round again")
    number = seen + 1
    ROUND.apply(round_, "publish", actor=None, record=False,
                values={"publications": number},
                where=[AllocationRound.publications == seen,
                       sa.or_(AllocationRound.status != R.OPEN.value,
                              AllocationRound.preference_deadline <= now)])
    return number


def archive(actor: User, round_: AllocationRound) -> None:
    """Archive a finished round: it stays readable and can no longer change."""
    ROUND.apply(round_, "archive", actor=actor, round_id=round_.id,
                values={"archived_at": utcnow()})


def flag_repair(round_ids: Iterable[int], *, actor: User | None, cause: str,
                **detail: Any) -> list[int]:
    """Mark rounds as needing a repair run (keeping the earliest time it became due)."""
    ids = sorted(set(round_ids))
    if not ids:
        return []
    now = utcnow()
    db.session.execute(
        sa.update(AllocationRound)
        .where(AllocationRound.id.in_(ids), AllocationRound.repair_due_since.is_(None),
               AllocationRound.status != R.ARCHIVED.value)
        .values(repair_due_since=now), execution_options={"synchronize_session": "fetch"})
    for round_id in ids:
        audit.record(actor, "round.needs_repair", None, round_id=round_id, cause=cause,
                     **detail)
    return ids


def clear_repair(round_: AllocationRound, *, run_started: datetime) -> None:
    """Clear a due repair that a run started after it became due has dealt with."""
    db.session.execute(
        sa.update(AllocationRound)
        .where(AllocationRound.id == round_.id,
               AllocationRound.repair_due_since <= run_started)
        .values(repair_due_since=None), execution_options={"synchronize_session": "fetch"})
