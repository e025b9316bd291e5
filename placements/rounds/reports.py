"""Read-only views of runs and rounds: result summaries, fill, unplaced reasons, comparisons."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from placements.domain import eligibility
from placements.extensions import db
from placements.models import (
    AllocationRound,
    AllocationRun,
    AuditEvent,
    Employer,
    Learner,
    Placement,
    PlacementOffer,
    PlacementStatus,
    User,
)
from placements.rounds.problem import parse_key

#: The solver's reasons a learner was not placed, in an officer's words (the detail for
#: each learner comes from `explain_unplaced`).
UNPLACED_REASONS = {
    "no-preferences": "Listed no offers",
    "no-eligible-offer": "No offer they could take",
    "capacity": "Every offer they could take was already full",
}

@dataclass
class RunReport:
    """What an officer needs to judge a run's result."""

    summary: dict[str, Any]
    status: str
    k: int
    histogram_labels: list[str] = field(default_factory=list)
    histogram_values: list[int] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    offers_total: int = 0
    #: Offers by how full they are: "full", "part" (some places filled), "empty".
    fill_counts: dict[str, int] = field(default_factory=dict)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    unplaced_total: int = 0
    warnings: int = 0


def ordinal(n: int) -> str:
    """Return 1st, 2nd, 3rd, 4th ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def offer_fill(run: AllocationRun, limit: int | None = None) -> list[dict[str, Any]]:
    """Return each offer of the run's problem with its places and how many were filled."""
    result, problem = run.result or {}, run.problem or {}
    fill = Counter(a["offer"] for a in result.get("assignments", []))
    capacity = {o["id"]: o["capacity"] for o in problem.get("offers", [])}
    offer_ids = [parse_key(o) for o in capacity if o.startswith("O")]
    names = {}
    for chunk in _chunks(offer_ids):
        for oid, title, employer in db.session.execute(
                sa.select(PlacementOffer.id, PlacementOffer.title, Employer.name)
                .join(Employer, Employer.id == PlacementOffer.employer_id)
                .where(PlacementOffer.id.in_(chunk))):
            names[f"O{oid}"] = (employer, title)
    rows = sorted(
        ({"id": key, "employer": names.get(key, ("", key))[0],
          "title": names.get(key, ("", key))[1], "capacity": cap, "filled": fill.get(key, 0)}
         for key, cap in capacity.items()),
        key=lambda o: (o["employer"], o["title"]))
    return rows[:limit] if limit is not None else rows


def run_report(run: AllocationRun, *, unplaced_limit: int = 300,
               offers_limit: int = 300) -> RunReport | None:
    """Summarise a succeeded run's result, with names for offers and learners."""
    result, problem = run.result, run.problem or {}
    if not result:
        return None
    summary = dict(result.get("summary", {}))
    k = int(problem.get("settings", {}).get("max_preferences", 10))
    histogram = {int(r): n for r, n in summary.get("rank_histogram", {}).items()}
    labels, values = [], []
    for rank in range(1, k + 1):
        labels.append(ordinal(rank))
        values.append(histogram.get(rank, 0))
    labels.append("Fallback")
    values.append(histogram.get(k + 1, summary.get("fallback", 0)))
    locked = sum(1 for a in result.get("assignments", []) if a.get("locked"))
    labels.append("Locked")
    values.append(locked)
    report = RunReport(summary=summary, status=result.get("status", ""), k=k,
                       histogram_labels=labels, histogram_values=values,
                       warnings=len(result.get("warnings", [])))
    fill = Counter(a["offer"] for a in result.get("assignments", []))
    capacity = {o["id"]: o["capacity"] for o in problem.get("offers", [])}
    report.offers_total = len(capacity)
    report.fill_counts = {
        "full": sum(1 for k, c in capacity.items() if fill.get(k, 0) >= c),
        "part": sum(1 for k, c in capacity.items() if 0 < fill.get(k, 0) < c),
        "empty": sum(1 for k, c in capacity.items() if fill.get(k, 0) == 0 and c > 0),
    }
    report.offers = offer_fill(run, limit=offers_limit)
    unplaced = result.get("unplaced", [])
    report.unplaced_total = len(unplaced)
    shown = sorted(unplaced, key=lambda u: (not u.get("mandated"), u["learner"]))
    shown = shown[:unplaced_limit]
    people = {}
    ids = [parse_key(u["learner"]) for u in shown]
    for chunk in _chunks(ids):
        for lid, ref, name in db.session.execute(
                sa.select(Learner.id, Learner.student_ref, User.name)
                .join(User, User.id == Learner.user_id).where(Learner.id.in_(chunk))):
            people[f"L{lid}"] = (ref, name)
    details = explain_unplaced(problem, [u["learner"] for u in shown])
    report.unplaced = [{
        "learner_id": parse_key(u["learner"]),
        "student_ref": people.get(u["learner"], ("", ""))[0],
        "name": people.get(u["learner"], ("", u["learner"]))[1],
        "mandated": bool(u.get("mandated")),
        "reason": UNPLACED_REASONS.get(u.get("reason", ""), u.get("reason", "")),
        "detail": details.get(u["learner"], ""),
    } for u in shown]
    return report


def _chunks(ids: list[int], size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def compare_runs(run: AllocationRun, before: AllocationRun | None) -> list[tuple] | None:
    """Compare two succeeded runs: (measure, before, now, change) rows plus moved learners."""
    if before is None or not before.result or not run.result:
        return None
    a, b = before.result.get("summary", {}), run.result.get("summary", {})
    rows = []
    for key, label in (("mandated_placed", "Mandated learners placed"),
                       ("placed", "Learners placed"), ("fallback", "Fallback placements"),
                       ("rank_cost", "Total rank cost (lower is better)"),
                       ("learners", "Learners in the round")):
        old, new = a.get(key), b.get(key)
        change = (new - old) if isinstance(old, int) and isinstance(new, int) else None
        rows.append((label, old, new, f"{change:+d}" if change is not None else ""))
    return rows


def allocation_counts(round_: AllocationRound) -> dict[str, int]:
    """Count the round's placements by status, and pending changes."""
    counts = dict(db.session.execute(
        sa.select(Placement.status, sa.func.count(Placement.id))
        .where(Placement.round_id == round_.id).group_by(Placement.status)).all())
    out = {str(s): counts.get(s, 0) for s in PlacementStatus}
    out["pending_moves"] = db.session.scalar(sa.select(sa.func.count(Placement.id)).where(
        Placement.round_id == round_.id, Placement.pending_change.is_not(None))) or 0
    return out


def audit_stmt(round_: AllocationRound) -> sa.Select:
    """Select the round's audit events, newest first."""
    return (sa.select(AuditEvent).where(AuditEvent.round_id == round_.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


# --- what a run changes, learner by learner ---------------------------------------------------


class Change(enum.StrEnum):
    """What a run does to one learner, compared with its baseline."""

    KEPT = "kept"
    MOVED = "moved"
    PLACED = "newly placed"
    LOST = "lost a place"
    UNPLACED = "not placed"


#: The order changes are counted and shown in.
CHANGES = [Change.MOVED, Change.PLACED, Change.LOST, Change.UNPLACED, Change.KEPT]


@dataclass
class LearnerChange:
    """One learner's line in a run's comparison."""

    learner_id: int
    name: str
    student_ref: str
    kind: Change
    before: str
    after: str
    why: str
    mandated: bool = False


@dataclass
class RunChanges:
    """A run compared with its baseline, learner by learner (the same counts everywhere)."""

    #: What the run is compared with, in words ("the published allocation", "run 12").
    baseline: str
    counts: dict[Change, int]
    rows: list[LearnerChange]

    def only(self, kind: str | None) -> list[LearnerChange]:
        if not kind:
            return self.rows
        return [r for r in self.rows if r.kind == kind]


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {x["learner"]: x["offer"] for x in items or []}


def run_changes(run: AllocationRun, before: AllocationRun | None) -> RunChanges | None:
    """Compare a succeeded run with what it would change.

    A repair run is compared with the published allocation it started from (its problem's
    `previous`): kept, moved and lost are exactly the pending moves and removals publishing
    would send, newly placed the new proposals. A full run is compared with the run before
    it (or with nothing, the first time).
    """
    result, problem = run.result, run.problem or {}
    if not result:
        return None
    if "previous" in problem:
        baseline_label = "the published allocation when the run started"
        old = _pairs(problem.get("previous"))
    elif before is not None and before.result:
        baseline_label = f"run {before.id}"
        old = _pairs(before.result.get("assignments"))
    else:
        baseline_label = "no earlier run"
        old = {}
    new_assign = {a["learner"]: a for a in result.get("assignments", [])}
    unplaced = {u["learner"]: u for u in result.get("unplaced", [])}
    open_offers = {o["id"] for o in problem.get("offers", [])}
    mandated = {lrn["id"] for lrn in problem.get("learners", []) if lrn.get("mandated")}
    keys = [lrn["id"] for lrn in problem.get("learners", [])]
    keys += [k for k in old if k not in set(keys)]
    learner_ids = [parse_key(k) for k in keys]
    offer_ids = {parse_key(o) for o in old.values()} | {
        parse_key(a["offer"]) for a in new_assign.values()}
    people = _people(learner_ids)
    offers = _offer_labels(sorted(offer_ids))
    declined = _declines(run.round_id, learner_ids)
    rows: list[LearnerChange] = []
    for key in keys:
        lid = parse_key(key)
        was, now = old.get(key), new_assign.get(key)
        now_offer = now["offer"] if now else None
        if was and now_offer == was:
            kind = Change.KEPT
        elif was and now_offer:
            kind = Change.MOVED
        elif now_offer:
            kind = Change.PLACED
        elif was:
            kind = Change.LOST
        else:
            kind = Change.UNPLACED
        why = ""
        if kind in (Change.MOVED, Change.LOST) and was not in open_offers:
            why = "The offer they had is no longer open to them (withdrawn, closed or its " \
                  "places cut)"
        elif kind == Change.MOVED:
            why = "Moved so that more learners could be placed"
        elif kind in (Change.LOST, Change.UNPLACED):
            code = unplaced.get(key, {}).get("reason", "")
            why = UNPLACED_REASONS.get(code, code)
        if kind in (Change.PLACED, Change.MOVED, Change.KEPT) and now:
            how = "placed by hand (locked)" if now.get("locked") else (
                f"their {ordinal(now['rank'])} choice" if now.get("rank") else
                "fallback: an offer they did not list")
            why = f"{why}; {how}" if why else how.capitalize()
        if lid in declined and kind == Change.PLACED:
            why = f"Declined {declined[lid]}; placed again: {why[0].lower()}{why[1:]}"
        ref, name = people.get(lid, ("", key))
        rows.append(LearnerChange(
            learner_id=lid, name=name, student_ref=ref, kind=kind,
            before=offers.get(parse_key(was), was) if was else "",
            after=offers.get(parse_key(now_offer), now_offer) if now_offer else "", why=why,
            mandated=key in mandated))
    order = {c: i for i, c in enumerate(CHANGES)}
    rows.sort(key=lambda r: (order[r.kind], not r.mandated, r.name.lower(), r.learner_id))
    counts = {c: 0 for c in CHANGES}
    for r in rows:
        counts[r.kind] += 1
    return RunChanges(baseline=baseline_label, counts=counts, rows=rows)


def _people(learner_ids: list[int]) -> dict[int, tuple[str, str]]:
    people: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(learner_ids):
        for lid, ref, name in db.session.execute(
                sa.select(Learner.id, Learner.student_ref, User.name)
                .join(User, User.id == Learner.user_id).where(Learner.id.in_(chunk))):
            people[lid] = (ref, name)
    return people


def _offer_labels(offer_ids: list[int]) -> dict[int, str]:
    labels: dict[int, str] = {}
    for chunk in _chunks(offer_ids):
        for oid, title, employer in db.session.execute(
                sa.select(PlacementOffer.id, PlacementOffer.title, Employer.name)
                .join(Employer, Employer.id == PlacementOffer.employer_id)
                .where(PlacementOffer.id.in_(chunk))):
            labels[oid] = f"{title} ({employer})"
    return labels


def _declines(round_id: int, learner_ids: list[int]) -> dict[int, str]:
    """The offer each learner declined in the round (the latest), as a label."""
    from placements.models import PlacementDecline

    out: dict[int, str] = {}
    rows = db.session.execute(
        sa.select(PlacementDecline.learner_id, PlacementOffer.title, Employer.name)
        .join(PlacementOffer, PlacementOffer.id == PlacementDecline.offer_id)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(PlacementDecline.round_id == round_id)
        .order_by(PlacementDecline.id)).all()
    wanted = set(learner_ids)
    for lid, title, employer in rows:
        if lid in wanted:
            out[lid] = f"{title} ({employer})"
    return out


CHANGES_CSV_HEADER = ["student_ref", "learner", "mandated", "change", "before", "after",
                      "why"]


def changes_csv_rows(changes: RunChanges) -> list[list[Any]]:
    """The comparison as CSV rows (see CHANGES_CSV_HEADER)."""
    return [[r.student_ref, r.name, r.mandated, str(r.kind), r.before, r.after, r.why]
            for r in changes.rows]


def explain_unplaced(problem: dict[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """Say, for an officer, why each of some unplaced learners could not be placed, from the
    problem the run solved and the eligibility rule (`domain.eligibility.assess`).

    Learners placed by fallback (mandated, fallback on) are judged against every open offer
    of their sector; the others against the offers they listed.
    """
    wanted = set(keys)
    offers = {o["id"]: o for o in problem.get("offers", [])}
    fallback_on = bool(problem.get("settings", {}).get("fallback", True))
    by_sector: dict[str, list[dict[str, Any]]] = {}
    for o in offers.values():
        by_sector.setdefault(o["sector"], []).append(o)
    out: dict[str, str] = {}
    for lrn in problem.get("learners", []):
        key = lrn["id"]
        if key not in wanted:
            continue
        max_km = float(lrn["max_km"]) if lrn.get("max_km") is not None else float("inf")
        facts = eligibility.LearnerFacts(sector=lrn["sector"], lat=lrn["lat"], lon=lrn["lon"],
                                         max_km=max_km, has=frozenset(lrn.get("has", ())))
        fallback = bool(lrn.get("mandated")) and fallback_on
        listed = lrn.get("preferences", [])
        if not fallback and not listed:
            out[key] = ("They listed no offers, and fallback placements are "
                        + ("off in this round." if lrn.get("mandated") else
                           "only for mandated learners."))
            continue
        candidates = by_sector.get(lrn["sector"], []) if fallback else [
            offers.get(k) for k in listed]
        gone = far = sector = needs = eligible = 0
        missing: set[str] = set()
        for o in candidates:
            if o is None:
                gone += 1
                continue
            verdict = eligibility.assess(facts, eligibility.OfferFacts(
                id=0, sector=o["sector"], lat=o["lat"], lon=o["lon"],
                requires=frozenset(o.get("requires", ()))))
            if eligibility.Reason.SECTOR in verdict.reasons:
                sector += 1
            elif eligibility.Reason.DISTANCE in verdict.reasons:
                far += 1
            elif verdict.missing:
                needs += 1
                missing.update(verdict.missing)
            else:
                eligible += 1
        parts = []
        if far:
            limit = f"{max_km:g} km" if max_km != float("inf") else "their"
            parts.append(f"{far} beyond their {limit} travel limit")
        if needs:
            parts.append(f"{needs} need{'s' if needs == 1 else ''} "
                         f"{eligibility.requirement_names(sorted(missing))}, which they do "
                         "not hold")
        if sector:
            parts.append(f"{sector} in another sector")
        if gone:
            parts.append(f"{gone} no longer open")
        if eligible:
            parts.append(f"{eligible} they could take {'was' if eligible == 1 else 'were'} "
                         "full")
        what = (f"the {len(candidates)} open {lrn['sector']} offers" if fallback
                else f"the {len(candidates)} offers they listed")
        if not candidates:
            out[key] = f"There are no open {lrn['sector']} offers in this round."
        else:
            out[key] = f"Of {what}: {'; '.join(parts)}." if parts else ""
    return out
