"""Read-only views of runs and rounds: result summaries, fill, unplaced reasons, comparisons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

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

#: Plain words for the solver's reasons a learner was not placed.
UNPLACED_REASONS = {
    "no-preferences": "Listed no offers, and fallback placements do not apply to them",
    "no-eligible-offer": "No offer they could take (sector, distance or checks needed)",
    "capacity": "The offers they could take were all full",
}

#: Plain words for audit actions.
ACTIONS = {
    "round.created": "Round created",
    "run.started": "Allocation run started",
    "run.succeeded": "Allocation run finished",
    "run.failed": "Allocation run failed",
    "placement.locked": "Placement locked",
    "placement.unlocked": "Lock removed",
    "placement.overridden": "Learner placed by hand",
    "round.published": "Allocation published",
    "round.needs_repair": "Offer changed: repair needed",
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
    #: Employers whose limits shaped the result: {"name", "placed", "max_learners",
    #: "min_if_any", "why"} (offers left empty for a minimum, employers at their maximum).
    employer_limits: list[dict[str, Any]] = field(default_factory=list)


def ordinal(n: int) -> str:
    """Return 1st, 2nd, 3rd, 4th ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def employer_limits(problem: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """Employers whose limits shaped a result, with why in words.

    Uses the result's `employers` (placed, max_learners, min_if_any) when the solver gives
    it, else counts the assignments against the problem's `employers`.
    """
    limits = {e["id"]: e for e in problem.get("employers", [])}
    if not limits:
        return []
    by_offer = {o["id"]: o["employer"] for o in problem.get("offers", [])}
    placed = Counter(by_offer.get(a["offer"]) for a in result.get("assignments", []))
    for row in result.get("employers", []) or []:
        if row.get("id") in limits:
            placed[row["id"]] = int(row.get("placed", placed[row["id"]]))
    names = dict(db.session.execute(sa.select(Employer.id, Employer.name).where(
        Employer.id.in_([parse_key(k) for k in limits]))).all())
    out = []
    for key, limit in sorted(limits.items(), key=lambda kv: names.get(parse_key(kv[0]), "")):
        n, least, most = placed.get(key, 0), limit.get("min_if_any"), limit.get("max_learners")
        why = ""
        if least and least > 1 and n == 0:
            why = (f"Hosts only with at least {least} learners; fewer than that could be "
                   "placed there, so its offers were left empty.")
        elif most is not None and n >= most:
            why = (f"Reached its limit of {most} learner{'s' if most != 1 else ''} across "
                   "all its offers.")
        if why:
            out.append({"name": names.get(parse_key(key), key), "placed": n,
                        "max_learners": most, "min_if_any": least, "why": why})
    return out


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
    report.employer_limits = employer_limits(problem, result)
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
    report.unplaced = [{
        "learner_id": parse_key(u["learner"]),
        "student_ref": people.get(u["learner"], ("", ""))[0],
        "name": people.get(u["learner"], ("", u["learner"]))[1],
        "mandated": bool(u.get("mandated")),
        "reason": UNPLACED_REASONS.get(u.get("reason", ""), u.get("reason", "")),
        "detail": u.get("detail", ""),
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
    old_map = {x["learner"]: x["offer"] for x in before.result.get("assignments", [])}
    new_map = {x["learner"]: x["offer"] for x in run.result.get("assignments", [])}
    changed = sum(1 for lid in old_map.keys() | new_map.keys()
                  if old_map.get(lid) != new_map.get(lid))
    rows.append(("Learners whose placement differs", "", changed, ""))
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


def describe(event: AuditEvent) -> str:
    """Render an audit event's detail as one readable line."""
    parts = []
    for key, value in (event.detail or {}).items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return ", ".join(parts)
