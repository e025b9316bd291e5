"""Where a learner stands in a round, and what they and their officer are told.

One rule for every page and e-mail that speaks to a learner about a round (their home page,
their placement page) and for the officer's view of that learner, so that what a learner
reads always follows the round's state and their placement's state, and matches what they
were e-mailed:

- before publication the learner is choosing (round takes choices) or waiting (choices
  closed; a proposal made by a run or an officer is not shown before it is published);
- after publication they hold an offer to answer, an accepted placement, a placement they
  declined or that was withdrawn (both: to be placed again, the officer's "to place again"
  list and the next repair), a placement being arranged (a proposal not published yet), or
  no placement (they were e-mailed that they were not placed).

A pending move or removal is not shown to the learner until it is published.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from placements.domain.rounds import takes_choices, visible_to_learners_sql
from placements.extensions import db
from placements.models import (
    AllocationRound,
    Learner,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Preference,
    RoundStatus,
    round_programmes,
    utcnow,
)
from placements.timeutil import date_uk

P = PlacementStatus


class Standing(enum.StrEnum):
    """A learner's standing in one round."""

    CHOOSING = "choosing"
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    ARRANGING = "arranging"
    NOT_PLACED = "not placed"
    FINISHED = "finished"


#: Standings in which the learner needs placing again (the officer's "to place again").
TO_PLACE_AGAIN = frozenset({Standing.DECLINED, Standing.WITHDRAWN})


def standing(*, round_status: RoundStatus, deadline: datetime, now: datetime,
             published: bool, placement_status: PlacementStatus | None) -> Standing:
    """Return where a learner stands in a round (the rule)."""
    if not published:
        if round_status == RoundStatus.ARCHIVED:
            return Standing.FINISHED
        if takes_choices(round_status, deadline, now):
            return Standing.CHOOSING
        return Standing.WAITING
    if placement_status == P.PUBLISHED:
        return Standing.OFFERED
    if placement_status == P.ACCEPTED:
        return Standing.ACCEPTED
    if placement_status == P.DECLINED:
        return Standing.DECLINED
    if placement_status == P.WITHDRAWN:
        return Standing.WITHDRAWN
    if round_status == RoundStatus.ARCHIVED:
        return Standing.FINISHED
    if placement_status == P.PROPOSED:
        return Standing.ARRANGING
    return Standing.NOT_PLACED


@dataclass(frozen=True)
class Words:
    """What a learner is told, and the short status their officer sees."""

    tag: str
    colour: str
    learner: str
    officer: str


#: The words for each standing. Placeholders: {round}, {deadline}, {offer}, {employer}.
WORDS: dict[Standing, Words] = {
    Standing.CHOOSING: Words(
        "Choosing", "blue",
        "Choose the offers you want, best first, by {deadline}.",
        "Choosing offers (choices close {deadline})"),
    Standing.WAITING: Words(
        "Choices closed", "grey",
        "Choices for {round} have closed. Your placement officer will publish the "
        "placements; you will be e-mailed when they do.",
        "Waiting for publication"),
    Standing.OFFERED: Words(
        "Waiting for your answer", "blue",
        "You have been offered {offer} with {employer}. Accept or decline it.",
        "Offered {offer} ({employer}), no answer yet"),
    Standing.ACCEPTED: Words(
        "Accepted", "green",
        "You have accepted {offer} with {employer}.",
        "Accepted {offer} ({employer})"),
    Standing.DECLINED: Words(
        "Declined", "red",
        "You declined {offer} with {employer}. Your placement officer will look for "
        "another placement for you; you will be e-mailed when one is published.",
        "Declined {offer} ({employer}): to place again"),
    Standing.WITHDRAWN: Words(
        "Withdrawn", "red",
        "Your placement {offer} with {employer} was withdrawn. Your placement officer "
        "will look for another placement for you and will contact you.",
        "Placement at {offer} ({employer}) withdrawn: to place again"),
    Standing.ARRANGING: Words(
        "Being arranged", "yellow",
        "Your placement officer is arranging a placement for you. You will be e-mailed "
        "when it is confirmed.",
        "Placement proposed, not yet published"),
    Standing.NOT_PLACED: Words(
        "Not placed", "grey",
        "We could not place you in {round}. Your placement officer will contact you about "
        "what happens next.",
        "Not placed when the round was published"),
    Standing.FINISHED: Words(
        "Finished", "grey",
        "{round} has finished.",
        "Round finished"),
}


def words(kind: Standing, **names: str) -> tuple[str, str]:
    """Return (learner's sentence, officer's sentence) with the names filled in."""
    entry = WORDS[kind]
    values = {"round": "", "deadline": "", "offer": "", "employer": "", **names}
    return entry.learner.format(**values), entry.officer.format(**values)


# --- a learner's rounds ----------------------------------------------------------------------


@dataclass
class RoundStanding:
    """A learner's standing in one round, with what makes it up."""

    round: AllocationRound
    standing: Standing
    #: The learner's placement row in the round, when they may see it (published or later).
    placement: Placement | None
    #: How many offers the learner listed in the round.
    listed: int
    learner_words: str
    officer_words: str

    @property
    def tag(self) -> str:
        return WORDS[self.standing].tag

    @property
    def colour(self) -> str:
        return WORDS[self.standing].colour


def standings_of(learner: Learner, now: datetime | None = None) -> list[RoundStanding]:
    """The learner's standing in each round they are in and may see, newest deadline first."""
    now = now or utcnow()
    rounds = list(db.session.scalars(
        sa.select(AllocationRound).join(
            round_programmes, round_programmes.c.round_id == AllocationRound.id)
        .where(round_programmes.c.programme_id == learner.programme_id,
               visible_to_learners_sql())
        .order_by(AllocationRound.preference_deadline.desc(), AllocationRound.id.desc())))
    if not rounds:
        return []
    ids = [r.id for r in rounds]
    placements = {p.round_id: p for p in db.session.scalars(
        sa.select(Placement).where(Placement.learner_id == learner.id,
                                   Placement.round_id.in_(ids))
        .options(selectinload(Placement.offer).selectinload(PlacementOffer.employer)))}
    listed = dict(db.session.execute(
        sa.select(Preference.round_id, sa.func.count()).where(
            Preference.learner_id == learner.id, Preference.round_id.in_(ids))
        .group_by(Preference.round_id)).all())
    out = []
    for round_ in rounds:
        row = placements.get(round_.id)
        kind = standing(round_status=round_.status, deadline=round_.preference_deadline,
                        now=now, published=round_.publications > 0 or (
                            row is not None and row.status != P.PROPOSED),
                        placement_status=row.status if row is not None else None)
        shown = row if kind in (Standing.OFFERED, Standing.ACCEPTED, Standing.DECLINED,
                                Standing.WITHDRAWN) else None
        names = {"round": round_.name, "deadline": date_uk(round_.preference_deadline)}
        if shown is not None:
            names |= {"offer": shown.offer.title, "employer": shown.offer.employer.name}
        learner_text, officer_text = words(kind, **names)
        out.append(RoundStanding(round=round_, standing=kind, placement=shown,
                                 listed=listed.get(round_.id, 0), learner_words=learner_text,
                                 officer_words=officer_text))
    return out
