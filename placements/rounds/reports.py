"""Read-only views of runs and rounds: result summaries, fill, unplaced reasons, comparisons."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
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
    RunLearner,
    RunOffer,
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
    """Each offer of the run's problem with its places and how many were filled, by
    employer and title (from the recorded table; a run recorded before it, its documents)."""
    if _recorded(run) is not None:
        stmt = (sa.select(RunOffer.offer_key, RunOffer.capacity, RunOffer.filled,
                          PlacementOffer.title, Employer.name)
                .outerjoin(PlacementOffer, PlacementOffer.id == RunOffer.offer_id)
                .outerjoin(Employer, Employer.id == PlacementOffer.employer_id)
                .where(RunOffer.run_id == run.id)
                .order_by(Employer.name, PlacementOffer.title, RunOffer.offer_key))
        if limit is not None:
            stmt = stmt.limit(limit)
        return [{"id": key, "employer": employer or "", "title": title or key,
                 "capacity": cap, "filled": filled}
                for key, cap, filled, title, employer in db.session.execute(stmt)]
    result, problem = run.result or {}, run.problem or {}
    fill = Counter(a["offer"] for a in result.get("assignments", []))
    capacity = {o["id"]: o["capacity"] for o in problem.get("offers", [])}
    names = {f"O{oid}": (employer, title)
             for oid, title, employer in _offer_rows([parse_key(o) for o in capacity
                                                      if o.startswith("O")])}
    rows = sorted(
        ({"id": key, "employer": names.get(key, ("", key))[0],
          "title": names.get(key, ("", key))[1], "capacity": cap, "filled": fill.get(key, 0)}
         for key, cap in capacity.items()),
        key=lambda o: (o["employer"], o["title"]))
    return rows[:limit] if limit is not None else rows


def _offer_rows(offer_ids: list[int]) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for chunk in _chunks(offer_ids):
        rows.extend(db.session.execute(
            sa.select(PlacementOffer.id, PlacementOffer.title, Employer.name)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(PlacementOffer.id.in_(chunk))).all())
    return rows


def _histogram(summary: dict[str, Any], k: int, locked: int) -> tuple[list[str], list[int]]:
    histogram = {int(r): n for r, n in summary.get("rank_histogram", {}).items()}
    labels, values = [], []
    for rank in range(1, k + 1):
        labels.append(ordinal(rank))
        values.append(histogram.get(rank, 0))
    labels.append("Fallback")
    values.append(histogram.get(k + 1, summary.get("fallback", 0)))
    labels.append("Locked")
    values.append(locked)
    return labels, values


def run_report(run: AllocationRun, *, offers_limit: int = 100) -> RunReport | None:
    """Summarise a succeeded run: its summary, the choices learners got, the fill of its
    offers (from what `record_run` kept; a run recorded before it, from its documents)."""
    kept = _recorded(run)
    if kept is None:
        return _report_from_documents(run, offers_limit)
    summary = dict(kept["summary"])
    locked = kept.get("locked")
    if locked is None:  # kept before the count was
        locked = db.session.scalar(sa.select(sa.func.count()).where(
            RunLearner.run_id == run.id, RunLearner.locked.is_(True))) or 0
    labels, values = _histogram(summary, int(kept["k"]), int(locked))
    report = RunReport(summary=summary, status=kept.get("status") or "", k=int(kept["k"]),
                       histogram_labels=labels, histogram_values=values,
                       warnings=int(kept.get("warnings") or 0))
    if "fill" in kept:
        full, part, empty, total = (int(kept["fill"][k]) for k in ("full", "part", "empty",
                                                                    "total"))
    else:  # kept before the counts were
        full, part, empty, total = db.session.execute(sa.select(
            sa.func.count().filter(RunOffer.filled >= RunOffer.capacity),
            sa.func.count().filter(RunOffer.filled > 0, RunOffer.filled < RunOffer.capacity),
            sa.func.count().filter(RunOffer.filled == 0, RunOffer.capacity > 0),
            sa.func.count()).where(RunOffer.run_id == run.id)).one()
    report.fill_counts = {"full": full, "part": part, "empty": empty}
    report.offers_total = total
    report.offers = offer_fill(run, limit=offers_limit)
    report.employer_limits = list(kept.get("employer_limits") or [])
    report.unplaced_total = int(kept["changes"].get(str(Change.UNPLACED), 0)) + int(
        kept["changes"].get(str(Change.LOST), 0))
    return report


def _report_from_documents(run: AllocationRun, offers_limit: int) -> RunReport | None:
    result, problem = run.result, run.problem or {}
    if not result:
        return None
    summary = dict(result.get("summary", {}))
    k = int(problem.get("settings", {}).get("max_preferences", 10))
    locked = sum(1 for a in result.get("assignments", []) if a.get("locked"))
    labels, values = _histogram(summary, k, locked)
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
    report.unplaced_total = len(result.get("unplaced", []))
    return report


def _chunks(ids: list[int], size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def run_settings(run: AllocationRun) -> dict[str, Any]:
    """The solver settings the run solved with."""
    kept = _recorded(run)
    if kept is not None:
        return dict(kept.get("settings") or {})
    return dict((run.problem or {}).get("settings", {}))


def run_learner_ids(run: AllocationRun, *, unplaced_only: bool = False) -> list[int]:
    """The learners the run solved for (or only those it left without a place)."""
    if _recorded(run) is not None:
        stmt = sa.select(RunLearner.learner_id).where(RunLearner.run_id == run.id)
        if unplaced_only:
            stmt = stmt.where(RunLearner.offer_id.is_(None))
        return list(db.session.scalars(stmt.order_by(RunLearner.learner_id)))
    if unplaced_only:
        return [parse_key(u["learner"]) for u in (run.result or {}).get("unplaced", [])]
    return [parse_key(lrn["id"]) for lrn in (run.problem or {}).get("learners", [])]


def run_summary(run: AllocationRun) -> dict[str, Any] | None:
    """The result summary of a succeeded run (kept on its job; else its document)."""
    kept = _recorded(run)
    if kept is not None:
        return dict(kept["summary"])
    return dict(run.result.get("summary", {})) if run.result else None


def compare_runs(run: AllocationRun, before: AllocationRun | None) -> list[tuple] | None:
    """Compare two succeeded runs: (measure, before, now, change) rows plus moved learners."""
    if before is None:
        return None
    a, b = run_summary(before), run_summary(run)
    if a is None or b is None:
        return None
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


#: Reason code of a learner who moved or lost a place because their offer left the problem.
OFFER_CLOSED = "offer-closed"


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
    #: Why a learner left without a place could not be placed (officer's words), if known.
    detail: str = ""


@dataclass
class RunChanges:
    """A run compared with its baseline, learner by learner (the same counts everywhere):
    the counts of every change, and one page of lines."""

    #: What the run is compared with, in words ("the published allocation", "run 12").
    baseline: str
    counts: dict[Change, int]
    rows: list[LearnerChange]
    #: How many lines match the filter the page was asked for.
    total: int = 0

    @property
    def learners(self) -> int:
        return sum(self.counts.values())


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {x["learner"]: x["offer"] for x in items or []}


def _offer_id(key: str | None) -> int | None:
    return parse_key(key) if key and key.startswith("O") and key[1:].isdigit() else None


def outcomes(run: AllocationRun, result: dict[str, Any],
             before: AllocationRun | None) -> tuple[str, list[dict[str, Any]]]:
    """Classify what a run did for each learner against its baseline, from its documents:
    (baseline in words, one row per learner for `RunLearner`).

    A repair run is compared with the published allocation it started from (its problem's
    `previous`): kept, moved and lost are exactly the pending moves and removals publishing
    would send, newly placed the new proposals. A full run is compared with the run before
    it (or with nothing, the first time).
    """
    problem = run.problem or {}
    if "previous" in problem:
        baseline = "the published allocation when the run started"
        old = _pairs(problem.get("previous"))
    elif before is not None and before.result:
        baseline = f"run {before.id}"
        old = _pairs(before.result.get("assignments"))
    else:
        baseline = "no earlier run"
        old = {}
    new_assign = {a["learner"]: a for a in result.get("assignments", [])}
    unplaced = {u["learner"]: u.get("reason") for u in result.get("unplaced", [])}
    open_offers = {o["id"] for o in problem.get("offers", [])}
    mandated = {lrn["id"] for lrn in problem.get("learners", []) if lrn.get("mandated")}
    k = int(problem.get("settings", {}).get("max_preferences", 10))
    keys = [lrn["id"] for lrn in problem.get("learners", [])]
    seen = set(keys)
    keys += [k for k in old if k not in seen]
    rows = []
    for key in keys:
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
        reason = None
        if kind in (Change.MOVED, Change.LOST) and was not in open_offers:
            reason = OFFER_CLOSED
        elif kind in (Change.LOST, Change.UNPLACED):
            reason = unplaced.get(key)
        rows.append({"run_id": run.id, "learner_id": parse_key(key), "change": str(kind),
                     "offer_id": _offer_id(now_offer), "before_offer_id": _offer_id(was),
                     # Rank K+1 is a fallback placement: not one of their choices.
                     "rank": now.get("rank") if now and (now.get("rank") or 0) <= k else None,
                     "locked": bool(now and now.get("locked")), "mandated": key in mandated,
                     "reason": reason})
    return baseline, rows


def record_run(run: AllocationRun, result: dict[str, Any],
               before: AllocationRun | None) -> dict[str, Any]:
    """Keep what a succeeded run did, per learner and per offer, in tables the run's pages
    read (in the run's own transaction); return the small summary kept on its job.

    Each learner's line gets its place in the list (by change, mandated first, then name)
    and, when the run leaves them without a place, why, so that a page of the list is read
    from an index and never needs the problem document again."""
    baseline, rows = outcomes(run, result, before)
    names = _names([r["learner_id"] for r in rows])
    order = {str(c): i for i, c in enumerate(CHANGES)}
    rows.sort(key=lambda r: (order[r["change"]], not r["mandated"],
                             names.get(r["learner_id"], "").lower(), r["learner_id"]))
    left = [f"L{r['learner_id']}" for r in rows
            if r["change"] in (Change.LOST, Change.UNPLACED)]
    why = explain_unplaced(run.problem or {}, left) if left else {}
    for position, r in enumerate(rows, start=1):
        r["position"] = position
        r["explanation"] = why.get(f"L{r['learner_id']}") or None
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(RunLearner), rows[start:start + 5000])
    fill = Counter(a["offer"] for a in result.get("assignments", []))
    offers = [{"run_id": run.id, "offer_key": o["id"], "offer_id": _offer_id(o["id"]),
               "capacity": o["capacity"], "filled": fill.get(o["id"], 0)}
              for o in (run.problem or {}).get("offers", [])]
    for start in range(0, len(offers), 5000):
        db.session.execute(sa.insert(RunOffer), offers[start:start + 5000])
    counts = Counter(r["change"] for r in rows)
    summary = {k: v for k, v in result.get("summary", {}).items()}
    fill_counts = {
        "full": sum(1 for o in offers if o["filled"] >= o["capacity"]),
        "part": sum(1 for o in offers if 0 < o["filled"] < o["capacity"]),
        "empty": sum(1 for o in offers if o["filled"] == 0 and o["capacity"] > 0),
        "total": len(offers)}
    return {"baseline": baseline, "fill": fill_counts, "explained": True,
            "locked": sum(1 for r in rows if r["locked"]),
            "changes": {str(c): counts.get(str(c), 0) for c in CHANGES},
            "summary": summary, "status": result.get("status"),
            "warnings": len(result.get("warnings", [])),
            "settings": dict((run.problem or {}).get("settings", {})),
            "employer_limits": employer_limits(run.problem or {}, result),
            "k": int((run.problem or {}).get("settings", {}).get("max_preferences", 10)),
            "placed": summary.get("placed"), "learners": summary.get("learners")}


def _names(learner_ids: list[int]) -> dict[int, str]:
    """Learners' names by id, read a block at a time."""
    out: dict[int, str] = {}
    ids = sorted(set(learner_ids))
    for start in range(0, len(ids), 5000):
        out.update(db.session.execute(
            sa.select(Learner.id, User.name).join(User, User.id == Learner.user_id)
            .where(Learner.id.in_(ids[start:start + 5000]))).all())
    return out


def _recorded(run: AllocationRun) -> dict[str, Any] | None:
    """The summary `record_run` kept, or None for a run recorded before it existed."""
    kept = run.job.result or {}
    return kept if "changes" in kept else None


def _why(row: Any, declined: dict[int, str]) -> str:
    kind = Change(row.change)
    why = ""
    if row.reason == OFFER_CLOSED:
        why = "The offer they had is no longer open to them (withdrawn, closed or its " \
              "places cut)"
    elif kind == Change.MOVED:
        why = "Moved so that more learners could be placed"
    elif kind in (Change.LOST, Change.UNPLACED):
        why = UNPLACED_REASONS.get(row.reason or "", row.reason or "")
    if kind in (Change.PLACED, Change.MOVED, Change.KEPT) and row.offer_id is not None:
        how = "placed by hand (locked)" if row.locked else (
            f"their {ordinal(row.rank)} choice" if row.rank else
            "fallback: an offer they did not list")
        why = f"{why}; {how}" if why else how.capitalize()
    if row.learner_id in declined and kind == Change.PLACED:
        why = f"Declined {declined[row.learner_id]}; placed again: {why[0].lower()}{why[1:]}"
    return why


def _changes_stmt(run: AllocationRun, kind: str | None) -> sa.Select:
    before = sa.orm.aliased(PlacementOffer)
    before_employer = sa.orm.aliased(Employer)
    stmt = (sa.select(RunLearner, User.name, Learner.student_ref, PlacementOffer.title,
                      Employer.name, before.title, before_employer.name)
            .join(Learner, Learner.id == RunLearner.learner_id)
            .join(User, User.id == Learner.user_id)
            .outerjoin(PlacementOffer, PlacementOffer.id == RunLearner.offer_id)
            .outerjoin(Employer, Employer.id == PlacementOffer.employer_id)
            .outerjoin(before, before.id == RunLearner.before_offer_id)
            .outerjoin(before_employer, before_employer.id == before.employer_id)
            .where(RunLearner.run_id == run.id)
            .order_by(RunLearner.position))
    if kind:
        stmt = stmt.where(RunLearner.change == kind)
    return stmt


def _lines(run: AllocationRun, stmt: sa.Select) -> list[LearnerChange]:
    found = db.session.execute(stmt).all()
    declined = _declines(run.round_id, [r[0].learner_id for r in found
                                        if r[0].change == Change.PLACED])
    lines = []
    for row, name, ref, title, employer, b_title, b_employer in found:
        lines.append(LearnerChange(
            learner_id=row.learner_id, name=name, student_ref=ref, kind=Change(row.change),
            before=f"{b_title} ({b_employer})" if b_title else "",
            after=f"{title} ({employer})" if title else "", why=_why(row, declined),
            mandated=row.mandated, detail=row.explanation or ""))
    return lines


def run_changes(run: AllocationRun, before: AllocationRun | None = None, *,
                kind: str | None = None, page: int = 1,
                per_page: int | None = None) -> RunChanges | None:
    """A succeeded run's changes, learner by learner: every count, and the lines of one
    page (all lines without `per_page`), filtered by `kind` when given."""
    kept = _recorded(run)
    if kept is None:
        if not run.result:
            return None
        return _changes_from_documents(run, before, kind=kind, page=page, per_page=per_page)
    counts = {c: int(kept["changes"].get(str(c), 0)) for c in CHANGES}
    total = counts[Change(kind)] if kind else sum(counts.values())
    stmt = _changes_stmt(run, kind)
    if per_page:
        stmt = stmt.limit(per_page).offset((page - 1) * per_page)
    lines = _lines(run, stmt)
    # A run kept before explanations were (migration 0013): from the problem, when shown.
    unexplained = [f"L{r.learner_id}" for r in lines
                   if r.kind in (Change.LOST, Change.UNPLACED) and not r.detail]
    if unexplained and per_page and not kept.get("explained"):
        found = explain_unplaced(run.problem or {}, unexplained)
        for r in lines:
            r.detail = r.detail or found.get(f"L{r.learner_id}", "")
    return RunChanges(baseline=kept["baseline"], counts=counts, rows=lines, total=total)


def _changes_from_documents(run: AllocationRun, before: AllocationRun | None, *,
                            kind: str | None, page: int,
                            per_page: int | None) -> RunChanges:
    """The same answer for a run recorded before `record_run` existed (its documents)."""
    baseline, rows = outcomes(run, run.result or {}, before)
    people = _people([r["learner_id"] for r in rows])
    offers = _offer_labels(sorted({r["offer_id"] for r in rows if r["offer_id"]} | {
        r["before_offer_id"] for r in rows if r["before_offer_id"]}))
    declined = _declines(run.round_id, [r["learner_id"] for r in rows])
    order = {str(c): i for i, c in enumerate(CHANGES)}
    rows.sort(key=lambda r: (order[r["change"]], not r["mandated"],
                             people.get(r["learner_id"], ("", ""))[1].lower(),
                             r["learner_id"]))
    counts = {c: sum(1 for r in rows if r["change"] == c) for c in CHANGES}
    chosen = [r for r in rows if not kind or r["change"] == kind]
    shown = chosen[(page - 1) * per_page:page * per_page] if per_page else chosen
    left = [f"L{r['learner_id']}" for r in shown
            if r["change"] in (Change.LOST, Change.UNPLACED)]
    details = explain_unplaced(run.problem or {}, left) if left else {}
    lines = []
    for r in shown:
        row = SimpleNamespace(**r)
        ref, name = people.get(row.learner_id, ("", f"L{row.learner_id}"))
        lines.append(LearnerChange(
            learner_id=row.learner_id, name=name, student_ref=ref, kind=Change(row.change),
            before=offers.get(row.before_offer_id, "") if row.before_offer_id else "",
            after=offers.get(row.offer_id, "") if row.offer_id else "",
            why=_why(row, declined), mandated=row.mandated,
            detail=details.get(f"L{row.learner_id}", "")))
    return RunChanges(baseline=baseline, counts=counts, rows=lines, total=len(chosen))


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
    """The offer each of these learners declined in the round (the latest), as a label."""
    from placements.models import PlacementDecline

    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(learner_ids))):
        rows = db.session.execute(
            sa.select(PlacementDecline.learner_id, PlacementOffer.title, Employer.name)
            .join(PlacementOffer, PlacementOffer.id == PlacementDecline.offer_id)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(PlacementDecline.round_id == round_id,
                   PlacementDecline.learner_id.in_(chunk))
            .order_by(PlacementDecline.id)).all()
        for lid, title, employer in rows:
            out[lid] = f"{title} ({employer})"
    return out


CHANGES_CSV_HEADER = ["student_ref", "learner", "mandated", "change", "before", "after",
                      "why", "details"]


def changes_csv_rows(run: AllocationRun, before: AllocationRun | None) -> Iterable[list[Any]]:
    """Every learner's line of a run's changes as CSV rows (see CHANGES_CSV_HEADER),
    read a block at a time."""
    if _recorded(run) is None:
        changes = run_changes(run, before)
        lines: Iterable[LearnerChange] = changes.rows if changes else []
        for r in lines:
            yield [r.student_ref, r.name, r.mandated, str(r.kind), r.before, r.after, r.why,
                   r.detail]
        return
    block = 5000
    for start in range(0, 10**9, block):
        lines = _lines(run, _changes_stmt(run, None).limit(block).offset(start))
        for r in lines:
            yield [r.student_ref, r.name, r.mandated, str(r.kind), r.before, r.after, r.why,
                   r.detail]
        if len(lines) < block:
            return


def explain_unplaced(problem: dict[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """Say, for an officer, why each of some unplaced learners could not be placed, from the
    problem the run solved and the eligibility rule (`domain.eligibility`).

    Learners placed by fallback (mandated, fallback on) are judged against every open offer
    of their sector (the numpy form of the rule, one block per sector); the others against
    the offers they listed (`assess`, pair by pair).
    """
    wanted = set(keys)
    offers = {o["id"]: o for o in problem.get("offers", [])}
    fallback_on = bool(problem.get("settings", {}).get("fallback", True))
    out: dict[str, str] = {}
    by_sector: dict[str, list[dict[str, Any]]] = {}
    for lrn in problem.get("learners", []):
        key = lrn["id"]
        if key not in wanted:
            continue
        listed = lrn.get("preferences", [])
        if bool(lrn.get("mandated")) and fallback_on:
            by_sector.setdefault(lrn["sector"], []).append(lrn)
        elif not listed:
            out[key] = ("They listed no offers, and fallback placements are "
                        + ("off in this round." if lrn.get("mandated") else
                           "only for mandated learners."))
        else:
            out[key] = _explain_listed(lrn, [offers.get(k) for k in listed])
    for sector, learners in by_sector.items():
        out.update(_explain_fallback(sector, learners, [
            o for o in offers.values() if o["sector"] == sector]))
    return out


def _max_km(lrn: dict[str, Any]) -> float:
    return float(lrn["max_km"]) if lrn.get("max_km") is not None else float("inf")


def _sentence(what: str, max_km: float, *, far: int = 0, needs: int = 0,
              missing: Iterable[str] = (), sector: int = 0, gone: int = 0,
              eligible: int = 0) -> str:
    parts = []
    if far:
        limit = f"{max_km:g} km " if max_km != float("inf") else ""
        parts.append(f"{far} beyond their {limit}travel limit")
    if needs:
        parts.append(f"{needs} need{'s' if needs == 1 else ''} "
                     f"{eligibility.requirement_names(sorted(set(missing)))}, which they do "
                     "not hold")
    if sector:
        parts.append(f"{sector} in another sector")
    if gone:
        parts.append(f"{gone} no longer open")
    if eligible:
        parts.append(f"{eligible} they could take {'was' if eligible == 1 else 'were'} full")
    return f"Of {what}: {'; '.join(parts)}." if parts else ""


def _explain_listed(lrn: dict[str, Any], candidates: list[dict[str, Any] | None]) -> str:
    facts = eligibility.LearnerFacts(sector=lrn["sector"], lat=lrn["lat"], lon=lrn["lon"],
                                     max_km=_max_km(lrn), has=frozenset(lrn.get("has", ())))
    counts = {"far": 0, "needs": 0, "sector": 0, "gone": 0, "eligible": 0}
    missing: set[str] = set()
    for o in candidates:
        if o is None:
            counts["gone"] += 1
            continue
        verdict = eligibility.assess(facts, eligibility.OfferFacts(
            id=0, sector=o["sector"], lat=o["lat"], lon=o["lon"],
            requires=frozenset(o.get("requires", ()))))
        if eligibility.Reason.SECTOR in verdict.reasons:
            counts["sector"] += 1
        elif eligibility.Reason.DISTANCE in verdict.reasons:
            counts["far"] += 1
        elif verdict.missing:
            counts["needs"] += 1
            missing.update(verdict.missing)
        else:
            counts["eligible"] += 1
    return _sentence(f"the {len(candidates)} offers they listed", _max_km(lrn),
                     missing=missing, **counts)


def _explain_fallback(sector: str, learners: list[dict[str, Any]],
                      candidates: list[dict[str, Any]]) -> dict[str, str]:
    if not candidates:
        return {lrn["id"]: f"There are no open {sector} offers in this round."
                for lrn in learners}
    index: dict[str, int] = {}
    needs_mask = eligibility.tag_masks([frozenset(o.get("requires", ())) for o in candidates],
                                       index)
    has_mask = eligibility.tag_masks([frozenset(lrn.get("has", ())) for lrn in learners], index)
    lat = [lrn["lat"] for lrn in learners]
    lon = [lrn["lon"] for lrn in learners]
    reach = [_max_km(lrn) for lrn in learners]
    o_lat = [o["lat"] for o in candidates]
    o_lon = [o["lon"] for o in candidates]
    near = eligibility.reach_matrix(lat, lon, reach, has_mask | ~0, o_lat, o_lon,
                                    needs_mask & 0)
    ok = eligibility.reach_matrix(lat, lon, reach, has_mask, o_lat, o_lon, needs_mask)
    out = {}
    for i, lrn in enumerate(learners):
        within = int(near[i].sum())
        fits = int(ok[i].sum())
        missing: set[str] = set()
        if within > fits:
            held = frozenset(lrn.get("has", ()))
            for j in near[i].nonzero()[0]:
                if not ok[i, j]:
                    missing.update(set(candidates[j].get("requires", ())) - held)
        out[lrn["id"]] = _sentence(
            f"the {len(candidates)} open {sector} offers", _max_km(lrn),
            far=len(candidates) - within, needs=within - fits, missing=missing, eligible=fits)
    return out
