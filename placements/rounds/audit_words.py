"""A round's audit trail in an officer's words: what happened, to whom, with links.

Audit events store ids and codes (`placement.employer_accepted`, `offers: [129, 13]`); the
trail shows sentences with the names of learners, offers and runs, resolved for a whole
page at once (a few SELECTs, whatever the page holds), every name escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import url_for
from markupsafe import Markup, escape

from placements.extensions import db
from placements.models import (
    AllocationRound,
    AuditEvent,
    Employer,
    Learner,
    Placement,
    PlacementLock,
    PlacementOffer,
    User,
)

#: What happened, as a heading for each action (anything else shows its code).
ACTIONS = {
    "round.created": "Round created",
    "round.changed": "Settings changed",
    "round.opened": "Opened to learners",
    "round.choices_closed": "Choices closed early",
    "round.choices_reopened": "Choices reopened",
    "round.learners_told_choices_closed": "Learners told choices closed",
    "round.published": "Allocation published",
    "round.archived": "Round archived",
    "round.publication_failed": "Publication did not go ahead",
    "round.needs_repair": "Repair needed",
    "run.started": "Run started",
    "run.succeeded": "Run finished",
    "run.failed": "Run failed",
    "run.cancelled": "Run cancelled",
    "placement.locked": "Placement locked",
    "placement.unlocked": "Lock removed",
    "placement.overridden": "Placed by hand",
    "placement.accepted": "Learner accepted",
    "placement.declined": "Learner declined",
    "placement.employer_accepted": "Employer confirmed",
    "placement.employer_concern": "Employer raised a concern",
    "preferences.saved": "Choices saved",
    "insights.what_if": "What-if question",
    "insights.baseline": "Allocation worked out for insights",
}

#: Why a repair became due, in words.
REPAIR_CAUSES = {
    "placement.declined": "a learner declined their placement",
    "offer.withdrawn": "an offer with placed learners was withdrawn",
    "offer.capacity_changed": "an offer's places were cut below the learners placed there",
    "site.moved": "a site with placed learners moved to another postcode",
}


@dataclass
class Names:
    """Names of the learners, offers and placements a page of events mentions."""

    round: AllocationRound
    learners: dict[int, tuple[str, str]] = field(default_factory=dict)
    offers: dict[int, str] = field(default_factory=dict)
    placements: dict[int, tuple[int, int]] = field(default_factory=dict)
    locks: dict[int, tuple[int, int]] = field(default_factory=dict)

    def learner(self, learner_id: Any) -> Markup:
        if not isinstance(learner_id, int) or learner_id not in self.learners:
            return Markup("a learner")
        name, ref = self.learners[learner_id]
        href = url_for("officers.learner_detail", learner_id=learner_id)
        return Markup('<a class="govuk-link" href="{}">{}</a> ({})').format(href, name, ref)

    def offer(self, offer_id: Any, fallback: str = "an offer") -> Markup:
        if isinstance(offer_id, int) and offer_id in self.offers:
            return escape(self.offers[offer_id])
        return escape(fallback)

    def run(self, run_id: Any) -> Markup:
        if not isinstance(run_id, int):
            return Markup("a run")
        href = url_for("rounds.run", round_id=self.round.id, run_id=run_id)
        return Markup('<a class="govuk-link" href="{}">run {}</a>').format(href, run_id)

    def of_placement(self, placement_id: Any) -> tuple[Markup, Markup]:
        learner_id, offer_id = self.placements.get(placement_id, (None, None))
        return self.learner(learner_id), self.offer(offer_id)


def _ints(values: Iterable[Any]) -> set[int]:
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}


def resolve(round_: AllocationRound, events: Sequence[AuditEvent]) -> Names:
    """Look up every name the events mention, in bulk."""
    names = Names(round=round_)
    placement_ids = _ints(e.object_id for e in events if e.object_type == "Placement")
    lock_ids = _ints(e.object_id for e in events if e.object_type == "PlacementLock")
    learner_ids = _ints(e.object_id for e in events if e.object_type == "Learner")
    offer_ids: set[int] = set()
    for e in events:
        d = e.detail or {}
        learner_ids |= _ints([d.get("learner_id")])
        offer_ids |= _ints([d.get("offer_id"), d.get("previous_offer_id")])
        if e.action == "preferences.saved":
            offer_ids |= _ints(d.get("offers") or [])
    if placement_ids:
        for pid, lid, oid in db.session.execute(sa.select(
                Placement.id, Placement.learner_id, Placement.offer_id)
                .where(Placement.id.in_(placement_ids))):
            names.placements[pid] = (lid, oid)
            learner_ids.add(lid)
            offer_ids.add(oid)
    if lock_ids:
        for kid, lid, oid in db.session.execute(sa.select(
                PlacementLock.id, PlacementLock.learner_id, PlacementLock.offer_id)
                .where(PlacementLock.id.in_(lock_ids))):
            names.locks[kid] = (lid, oid)
    if learner_ids:
        for lid, name, ref in db.session.execute(
                sa.select(Learner.id, User.name, Learner.student_ref)
                .join(User, User.id == Learner.user_id).where(Learner.id.in_(learner_ids))):
            names.learners[lid] = (name, ref)
    if offer_ids:
        for oid, title, employer in db.session.execute(
                sa.select(PlacementOffer.id, PlacementOffer.title, Employer.name)
                .join(Employer, Employer.id == PlacementOffer.employer_id)
                .where(PlacementOffer.id.in_(offer_ids))):
            names.offers[oid] = f"{title} ({employer})"
    return names


def _n(count: Any, one: str, many: str | None = None) -> str:
    count = count if isinstance(count, int) else 0
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _quote(text: Any) -> Markup:
    return Markup("“{}”").format(text) if text else Markup("")


Sentence = Callable[[AuditEvent, dict[str, Any], Names], Markup]


def _preferences(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    offers = [n.offer(o) for o in d.get("offers") or []]
    who = n.learner(e.object_id)
    if not offers:
        return Markup("{} removed every choice").format(who)
    return Markup("{} listed, best first: {}").format(who, Markup("; ").join(offers))


def _placement_answer(verb: str) -> Sentence:
    def sentence(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
        learner, offer = n.of_placement(e.object_id)
        text = Markup("{} {} {}").format(learner, verb, offer)
        reason = d.get("reason") or d.get("note")
        return text + (Markup(": ") + _quote(reason) if reason else Markup(""))
    return sentence


def _employer(e: AuditEvent, d: dict[str, Any], n: Names, verb: str) -> Markup:
    learner, offer = n.of_placement(e.object_id)
    text = Markup("The employer {} {} at {}").format(verb, learner, offer)
    return text + (Markup(": ") + _quote(d["note"]) if d.get("note") else Markup(""))


def _lock(e: AuditEvent, d: dict[str, Any], n: Names, verb: str) -> Markup:
    text = Markup("{} {} {}").format(n.learner(d.get("learner_id")), verb,
                                     n.offer(d.get("offer_id")))
    return text + (Markup(": ") + _quote(d["reason"]) if d.get("reason") else Markup(""))


def _override(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    text = Markup("{} placed at {}").format(n.learner(d.get("learner_id")),
                                            n.offer(d.get("offer_id"), d.get("offer_title", "")))
    if d.get("previous_offer_id"):
        text += Markup(" (was {})").format(n.offer(d["previous_offer_id"]))
    text += Markup(": ") + _quote(d.get("reason"))
    if d.get("warnings"):
        text += Markup(". Despite: {}").format(" ".join(d["warnings"]))
    return text


def _run_started(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    kind = "Repair" if d.get("kind") == "repair" else "Full"
    text = Markup("{} {} with {}, {} and {}").format(
        kind, n.run(e.object_id), _n(d.get("learners"), "learner"), _n(d.get("offers"), "offer"),
        _n(d.get("locked"), "locked placement"))
    if d.get("locks_left_out"):
        text += Markup(" ({} left out: learner or offer gone)").format(
            _n(d["locks_left_out"], "lock"))
    return text


def _run_done(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    how = "proven best" if d.get("status") == "optimal" else "best found in the time limit"
    return Markup("{} placed {} of {} ({})").format(
        n.run(e.object_id), d.get("placed", "?"), _n(d.get("learners"), "learner"), how)


def _run_failed(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    return Markup("{}: {}. The allocation did not change").format(
        n.run(e.object_id), d.get("error") or "no reason given")


def _published(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    parts = [_n(d.get("published"), "new placement"), _n(d.get("moved"), "move"),
             _n(d.get("removed"), "placement withdrawn", "placements withdrawn")]
    if d.get("unplaced"):
        parts.append(_n(d["unplaced"], "learner told they were not placed",
                        "learners told they were not placed"))
    run = Markup(" from {}").format(n.run(d["run_id"])) if d.get("run_id") else Markup("")
    return Markup("Publication {}{}: {}. {} and {} e-mailed").format(
        d.get("publication", "?"), run, ", ".join(parts), _n(d.get("learners_told"), "learner"),
        _n(d.get("employers_told"), "employer"))


def _repair(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    cause = REPAIR_CAUSES.get(d.get("cause", ""), d.get("cause", "something changed"))
    text = Markup("Because {}").format(cause)
    if d.get("learner_id"):
        text += Markup(" ({})").format(n.learner(d["learner_id"]))
    elif d.get("site_name"):
        text += Markup(" ({}, now {})").format(d["site_name"], d.get("postcode", ""))
    elif d.get("offer_id") or d.get("offer_title"):
        text += Markup(" ({})").format(n.offer(d.get("offer_id"), d.get("offer_title", "")))
    return text


def _changed(e: AuditEvent, d: dict[str, Any], n: Names) -> Markup:
    labels = {"name": "name", "preference_deadline": "deadline for choices",
              "max_preferences": "choices that count", "rank_cost": "rank cost",
              "fallback": "fallback", "time_limit_s": "time limit (seconds)",
              "programmes": "programmes", "ksb_coverage": "preferring KSB coverage",
              "require_verified_checks": "counting only verified checks"}
    before, after = d.get("before") or {}, d.get("after") or {}
    parts = []
    for key in d.get("changed") or []:
        old, new = before.get(key), after.get(key)
        if isinstance(old, list):
            old, new = "; ".join(old), "; ".join(new or [])
        elif isinstance(old, bool) or isinstance(new, bool):
            old, new = ("yes" if old else "no"), ("yes" if new else "no")
        parts.append(Markup("{} from {} to {}").format(labels.get(key, key), old, new))
    return Markup(", ").join(parts)


SENTENCES: dict[str, Sentence] = {
    "preferences.saved": _preferences,
    "placement.accepted": _placement_answer("accepted"),
    "placement.declined": _placement_answer("declined"),
    "placement.employer_accepted": lambda e, d, n: _employer(e, d, n, "confirmed"),
    "placement.employer_concern": lambda e, d, n: _employer(e, d, n,
                                                            "raised a concern about"),
    "placement.locked": lambda e, d, n: _lock(e, d, n, "locked to"),
    "placement.unlocked": lambda e, d, n: _lock(e, d, n, "no longer locked to"),
    "placement.overridden": _override,
    "run.started": _run_started,
    "run.succeeded": _run_done,
    "run.failed": _run_failed,
    "run.cancelled": _run_failed,
    "round.published": _published,
    "round.needs_repair": _repair,
    "round.changed": _changed,
    "round.created": lambda e, d, n: Markup("As {}").format(_quote(d.get("name"))),
    "round.choices_closed": lambda e, d, n: Markup("Because: {}").format(_quote(d.get("reason"))),
    "round.publication_failed": lambda e, d, n: Markup("{}. Nothing was published").format(
        d.get("error") or "No reason given"),
    "round.learners_told_choices_closed": lambda e, d, n: Markup("{} e-mailed").format(
        _n(d.get("learners"), "learner")),
    "insights.what_if": lambda e, d, n: Markup("{} more {} place{} in {}{}").format(
        d["places"], d["sector"], "" if d["places"] == 1 else "s", d["area"],
        ", spread over its districts" if d.get("spread") else ""),
    "insights.baseline": lambda e, d, n: Markup(
        "The allocation as it stands, for supply and demand and what-if questions (no "
        "placement changed)"),
}


def sentences(round_: AllocationRound, events: Sequence[AuditEvent]) -> dict[int, Markup]:
    """Each event's sentence, by event id."""
    names = resolve(round_, events)
    out: dict[int, Markup] = {}
    for e in events:
        sentence = SENTENCES.get(e.action)
        detail = dict(e.detail or {})
        try:
            out[e.id] = sentence(e, detail, names) if sentence else _generic(detail)
        except (KeyError, TypeError, ValueError):  # an old event with other keys
            out[e.id] = _generic(detail)
    return out


def _generic(detail: dict[str, Any]) -> Markup:
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}) or key.endswith("_id"):
            continue
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return escape(", ".join(parts))
