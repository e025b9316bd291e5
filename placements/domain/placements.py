"""The placement lifecycle and the rule of places held.

States (`Placement.status`)::

    proposed --publish--> published --accept--> accepted
        ^                     |  \\                  |
        |                     |   `----decline------+--> declined --repropose--> proposed
        |                     |                     |
        +--- repropose ---- withdrawn <--publish_removal (pending removal)

A published or accepted placement may carry a *pending change* (`Placement.pending_change`,
a sub-state): a run or an officer decided to move the learner (`move`, to
`pending_offer_id`) or that no place is left for them (`removal`). The learner and the
employer still see the placement as it was until the officer publishes again
(`publish_move` / `publish_removal`); `cancel_change` drops it.

`TRANSITIONS` below is the one table of allowed moves; `PLACEMENT.apply(placement, verb)`
applies one atomically (see `placements.domain.lifecycle`).

**Places held.** A placement holds one place at one offer: a proposed, published or
accepted placement holds a place at its offer, unless a change is pending: a pending move
holds its place at the offer it moves to, a pending removal holds none. Declined and
withdrawn placements hold nothing. This is the count of "places held" everywhere: what an
employer may cut capacity to, what the override page calls full, what the problem builder
subtracts for other rounds. `holds_place_at` is the rule in Python, `held_at_sql` the same
rule in SQL; `held_places` counts with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from placements.domain.lifecycle import DELETE, KEEP, Lifecycle, move
from placements.extensions import db
from placements.models import EmployerResponse, PendingChange, Placement, PlacementStatus

P = PlacementStatus
MOVE, REMOVAL = PendingChange.MOVE, PendingChange.REMOVAL
VISIBLE = (P.PUBLISHED, P.ACCEPTED)

#: The placement lifecycle: verb, statuses it starts from, status after; pending change
#: it starts from (None: nothing pending; omitted: any) and after (KEEP: unchanged).
TRANSITIONS = [
    move("publish", [P.PROPOSED], P.PUBLISHED, sub_from=[None], event="published"),
    move("accept", [P.PUBLISHED], P.ACCEPTED, event="accepted"),
    move("decline", VISIBLE, P.DECLINED, sub_to=None, event="declined"),
    move("propose_move", VISIBLE, KEEP, sub_to=MOVE, event="move_proposed"),
    move("propose_removal", VISIBLE, KEEP, sub_to=REMOVAL, event="removal_proposed"),
    move("cancel_change", VISIBLE, KEEP, sub_from=[MOVE, REMOVAL], sub_to=None,
         event="change_cancelled"),
    move("publish_move", VISIBLE, P.PUBLISHED, sub_from=[MOVE], sub_to=None, event="moved"),
    move("publish_removal", VISIBLE, P.WITHDRAWN, sub_from=[REMOVAL], sub_to=None,
         event="withdrawn"),
    move("repropose", [P.PROPOSED, P.DECLINED, P.WITHDRAWN], P.PROPOSED, sub_from=[None],
         event="reproposed"),
    move("discard", [P.PROPOSED], DELETE, sub_from=[None], event="discarded"),
]

#: What each status means, in words for the people who see it.
STATUS_WORDS = {
    P.PROPOSED: "proposed, not yet published",
    P.PUBLISHED: "published",
    P.ACCEPTED: "accepted",
    P.DECLINED: "declined",
    P.WITHDRAWN: "withdrawn",
}


def _refusal(verb: str, status: Any, pending: Any) -> str:
    if verb in ("accept", "decline"):
        if status == P.ACCEPTED and verb == "accept":
            return "You have already accepted this placement"
        if status == P.DECLINED:
            return "You have already declined this placement"
        if status == P.WITHDRAWN:
            return "This placement has been withdrawn"
        return "This placement cannot be answered now"
    if verb in ("publish", "publish_move", "publish_removal"):
        return "This change has already been published"
    return f"This placement is {STATUS_WORDS.get(status, status)}: that cannot be done now"


PLACEMENT: Lifecycle[PlacementStatus] = Lifecycle(
    "placement", Placement, TRANSITIONS, column="status", sub_column="pending_change",
    refusal=_refusal)

#: The host employer's answer to a published placement (it may change its answer while
#: the placement stands; see `answer_guard`).
E = EmployerResponse
EMPLOYER_ANSWER: Lifecycle[EmployerResponse] = Lifecycle(
    "placement", Placement, [
        move("employer_accepted", list(E), E.ACCEPTED),
        move("employer_concern", list(E), E.CONCERN),
    ], column="employer_response")


def answer_guard() -> list[sa.ColumnElement[bool]]:
    """An employer answers only a placement that is published or accepted (not declined)."""
    return [Placement.status.in_([s.value for s in VISIBLE])]


# --- places held ----------------------------------------------------------------------------

#: Statuses under which a placement holds a place somewhere.
HOLDING = (P.PROPOSED, P.PUBLISHED, P.ACCEPTED)


def holds_place_at(status: PlacementStatus, pending: PendingChange | None, offer_id: int,
                   pending_offer_id: int | None) -> int | None:
    """Return the offer at which a placement holds a place, or None (the rule, in Python)."""
    if status not in HOLDING:
        return None
    if pending == MOVE:
        return pending_offer_id
    if pending == REMOVAL:
        return None
    return offer_id


def held_at_sql() -> sa.ColumnElement[Any]:
    """The same rule in SQL: the offer id a placement row holds a place at, else NULL."""
    return sa.case(
        (Placement.status.not_in([s.value for s in HOLDING]), sa.null()),
        (Placement.pending_change == MOVE.value, Placement.pending_offer_id),
        (Placement.pending_change == REMOVAL.value, sa.null()),
        else_=Placement.offer_id)


def held_places(offer_ids: Iterable[int] | None = None, *, round_id: int | None = None,
                exclude_round: int | None = None,
                exclude_learner: int | None = None) -> dict[int, int]:
    """Count places held per offer (only the offers given, when given), in every round or
    one round, optionally leaving out one round or one learner."""
    held_at = held_at_sql().label("held_at")
    stmt = sa.select(held_at, sa.func.count()).group_by(held_at)
    if offer_ids is not None:
        ids = sorted(set(offer_ids))
        if not ids:
            return {}
        stmt = stmt.where(sa.or_(Placement.offer_id.in_(ids),
                                 Placement.pending_offer_id.in_(ids)))
    if round_id is not None:
        stmt = stmt.where(Placement.round_id == round_id)
    if exclude_round is not None:
        stmt = stmt.where(Placement.round_id != exclude_round)
    if exclude_learner is not None:
        stmt = stmt.where(Placement.learner_id != exclude_learner)
    counts = {oid: n for oid, n in db.session.execute(stmt) if oid is not None}
    if offer_ids is not None:
        wanted = set(offer_ids)
        counts = {k: v for k, v in counts.items() if k in wanted}
    return counts


def held_places_by_round(offer_id: int) -> dict[int, int]:
    """Count the places held at one offer in each round that holds any there."""
    held_at = held_at_sql()
    rows = db.session.execute(
        sa.select(Placement.round_id, sa.func.count())
        .where(sa.or_(Placement.offer_id == offer_id, Placement.pending_offer_id == offer_id),
               held_at == offer_id)
        .group_by(Placement.round_id))
    return {round_id: n for round_id, n in rows}


def places_held(offer_id: int, *, exclude_learner: int | None = None) -> int:
    """Count the places held at one offer across every round."""
    return held_places([offer_id], exclude_learner=exclude_learner).get(offer_id, 0)
