"""Solve a Problem: choose engines, combine components and explain the result."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from .flow import CostRangeError, HubArcs, solve_flow
from .geo import haversine_km, haversine_km_array
from .instance import (
    BoolArray,
    Instance,
    IntArray,
    build_instance,
    rank_cost,
)
from .mip import MipOutcome, solve_mip
from .problem import Problem, ProblemError

RESULT_FORMAT = "placement-result/1"

Progress = Callable[[dict[str, Any]], None]


def solve(problem: Problem, progress: Progress | None = None) -> dict[str, Any]:
    """Allocate learners to offers and return a `placement-result/1` dict.

    `progress`, when given, is called (possibly from a solver thread) with
    dicts holding `level` (one of "mandated_placed", "placed", "moved",
    "rank_cost"), `objective` (best value found on that level), `bound`
    (proven best possible value), `elapsed_s` (seconds since the call) and
    `engine` ("flow", "mip-cbc" or "combined" for the final totals); reports
    from the integer engine are per component and add `component`. Nothing is
    shared between calls, so concurrent calls from background threads are safe.
    """
    start = time.perf_counter()
    inst = build_instance(problem)
    deadline = start + problem.settings.time_limit_s
    inst, chosen, status, gap = _allocate(inst, start, deadline, progress)
    result = _result(inst, chosen, status, gap)
    result["summary"]["solve_seconds"] = round(time.perf_counter() - start, 3)
    return result


def _report(
    progress: Progress | None, inst: Instance, chosen: BoolArray, start: float, engine: str
) -> None:
    """Report the levels of a proven-optimal allocation."""
    if progress is None:
        return
    for level, value in _levels(inst, chosen).items():
        progress({"level": level, "objective": value, "bound": value,
                  "elapsed_s": round(time.perf_counter() - start, 3), "engine": engine})


def _levels(inst: Instance, chosen: BoolArray) -> dict[str, int]:
    """Compute the objective levels of an allocation (locked learners included)."""
    locked = inst.locked_offer >= 0
    arc_l = inst.arc_learner[chosen]
    levels = {
        "mandated_placed": int(inst.mandated[arc_l].sum() + inst.mandated[locked].sum()),
        "placed": int(arc_l.size + locked.sum()),
    }
    if inst.problem.previous is not None:
        levels["moved"] = _moved(inst, chosen)
    levels["rank_cost"] = int(inst.arc_cost[chosen].sum())
    return levels


def _moved(inst: Instance, chosen: BoolArray) -> int:
    """Count previous pairs whose learner is not at that offer any more."""
    final = inst.locked_offer.copy()
    final[inst.arc_learner[chosen]] = inst.arc_offer[chosen]
    previous = inst.problem.previous or ()
    kept = 0
    for pair in previous:
        li = inst.learner_index.get(pair.learner)
        oi = inst.offer_index.get(pair.offer)
        if li is not None and oi is not None and final[li] == oi:
            kept += 1
    return len(previous) - kept


def _employer_violations(inst: Instance, chosen: BoolArray) -> IntArray:
    """Return the constrained employers whose limits an allocation breaks."""
    n_e = inst.employer_max.size
    if n_e == 0:
        return np.zeros(0, np.int64)
    emp = inst.offer_employer[inst.arc_offer[chosen]]
    count = np.bincount(emp[emp >= 0], minlength=n_e)
    over = (inst.employer_max >= 0) & (count > inst.employer_max)
    total = count + inst.employer_locked
    under = (inst.employer_min > 0) & (total > 0) & (total < inst.employer_min)
    return np.flatnonzero(over | under)


def components(n_nodes: int, u: IntArray, v: IntArray) -> IntArray:
    """Label connected components of an undirected graph (vectorised hooking)."""
    label = np.arange(n_nodes, dtype=np.int64)
    while True:
        lu, lv = label[u], label[v]
        low = np.minimum(lu, lv)
        new = label.copy()
        np.minimum.at(new, lu, low)
        np.minimum.at(new, lv, low)
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


def _arc_components(inst: Instance) -> IntArray:
    """Label each arc with its component: learners, offers and employer ties joined."""
    n_l, n_o = inst.mandated.size, inst.residual.size
    u = [inst.arc_learner]
    v = [n_l + inst.arc_offer]
    emp = inst.offer_employer
    has = np.flatnonzero(emp >= 0)
    if has.size:
        order = has[np.argsort(emp[has], kind="stable")]
        same = emp[order[1:]] == emp[order[:-1]]
        u.append(n_l + order[:-1][same])
        v.append(n_l + order[1:][same])
    label = components(n_l + n_o, np.concatenate(u), np.concatenate(v))
    return label[inst.arc_learner]


def _flow(inst: Instance, sel: IntArray) -> BoolArray:
    """Solve the flow relaxation on a subset of explicit arcs."""
    chosen, _, _ = solve_flow(
        inst.arc_learner[sel], inst.arc_offer[sel], inst.arc_cost[sel],
        inst.arc_stay[sel], inst.mandated, inst.residual,
        inst.offer_employer, inst.employer_max,
    )
    return chosen


def _flow_with_hubs(inst: Instance) -> BoolArray:
    """Solve the whole flow with fallback hubs; hub placements become explicit arcs."""
    hubs = inst.hubs
    assert hubs is not None
    settings = inst.problem.settings
    fallback_cost = int(rank_cost(np.array([settings.max_preferences + 1]),
                                  settings.rank_cost)[0])
    chosen, pair_l, pair_o = solve_flow(
        inst.arc_learner, inst.arc_offer, inst.arc_cost, inst.arc_stay, inst.mandated,
        inst.residual, inst.offer_employer, inst.employer_max,
        HubArcs(hubs.n_hubs, hubs.arc_learner, hubs.arc_hub, fallback_cost,
                hubs.member_hub, hubs.member_offer, hubs.link_from, hubs.link_to),
    )
    if pair_l.size == 0:
        return chosen
    # A hub placement at an offer the learner listed keeps its listed rank.
    n_o = max(1, inst.residual.size)
    keys = inst.arc_learner * n_o + inst.arc_offer
    order = np.argsort(keys, kind="stable")
    where = np.searchsorted(keys[order], pair_l * n_o + pair_o)
    where = np.minimum(where, max(0, keys.size - 1))
    hit = keys.size > 0 and keys[order][where] == pair_l * n_o + pair_o
    ranks = np.full(pair_l.size, settings.max_preferences + 1, np.int64)
    if keys.size:
        ranks = np.where(hit, inst.arc_rank[order][where], ranks)
    problem = inst.problem
    lat = np.fromiter((problem.learners[i].lat for i in pair_l.tolist()), np.float64)
    lon = np.fromiter((problem.learners[i].lon for i in pair_l.tolist()), np.float64)
    o_lat = np.fromiter((problem.offers[i].lat for i in pair_o.tolist()), np.float64)
    o_lon = np.fromiter((problem.offers[i].lon for i in pair_o.tolist()), np.float64)
    inst.arc_learner = np.concatenate([inst.arc_learner, pair_l])
    inst.arc_offer = np.concatenate([inst.arc_offer, pair_o])
    inst.arc_rank = np.concatenate([inst.arc_rank, ranks])
    inst.arc_cost = np.concatenate([inst.arc_cost, rank_cost(ranks, settings.rank_cost)])
    inst.arc_stay = np.concatenate(
        [inst.arc_stay, inst.previous_offer[pair_l] == pair_o]
    )
    inst.arc_km = np.concatenate([inst.arc_km, haversine_km_array(lat, lon, o_lat, o_lon)])
    return np.concatenate([chosen, np.ones(pair_l.size, np.bool_)])


def _allocate(
    inst: Instance, start: float, deadline: float, progress: Progress | None
) -> tuple[Instance, BoolArray, str, float | None]:
    """Return the instance used, chosen arcs, status and gap; the flow wherever it is exact."""
    _check_locked_minimums(inst)
    chosen: BoolArray | None = None
    if inst.hubs is not None:
        try:
            chosen = _flow_with_hubs(inst)
        except CostRangeError:
            pass
        else:
            if _employer_violations(inst, chosen).size == 0:
                _report(progress, inst, chosen, start, "flow")
                return inst, chosen, "optimal", None
        # Hubs serve the plain flow only: continue with every fallback arc explicit.
        inst = build_instance(inst.problem, hubs=False)
        chosen = None
    every = np.arange(inst.n_arcs)
    try:
        chosen = _flow(inst, every)
    except CostRangeError:
        chosen = None
    if chosen is not None and _employer_violations(inst, chosen).size == 0:
        _report(progress, inst, chosen, start, "flow")
        return inst, chosen, "optimal", None

    label = _arc_components(inst)
    result = np.zeros(inst.n_arcs, np.bool_)
    hard: list[IntArray] = []
    unbounded: set[int] = set()  # components with no flow relaxation to bound them
    if chosen is not None:
        # Only components holding an employer whose limits the flow broke need more work.
        result = chosen.copy()
        bad = np.isin(inst.offer_employer[inst.arc_offer], _employer_violations(inst, chosen))
        for comp in np.unique(label[bad]).tolist():
            hard.append(np.flatnonzero(label == comp))
    else:
        order = np.argsort(label, kind="stable")
        for part in np.split(order, np.flatnonzero(np.diff(label[order])) + 1):
            try:
                local = _flow(inst, part)
            except CostRangeError:
                hard.append(part)
                unbounded.add(len(hard) - 1)
                continue
            result[part] = local
            mask = np.zeros(inst.n_arcs, np.bool_)
            mask[part[local]] = True
            if _employer_violations(inst, mask).size:
                hard.append(part)
    status, gap = "optimal", None
    waiting = sum(part.size for part in hard)
    for number, part in enumerate(hard):
        # Each component gets a share of the time left in proportion to its arcs.
        share = (deadline - time.perf_counter()) * part.size / max(1, waiting)
        waiting -= part.size
        relaxed = None if number in unbounded else result[part].copy()
        warm = (np.zeros(part.size, np.bool_) if relaxed is None
                else _close_and_reflow(inst, part, relaxed))
        outcome: MipOutcome = solve_mip(
            inst, part, relaxed, warm, time.perf_counter() + share, start, progress, number
        )
        result[part] = outcome.chosen
        if outcome.status != "optimal":
            status = "feasible"
            gap = max(gap or 0.0, outcome.gap)
    if _employer_violations(inst, result).size:
        raise ProblemError("locked: employer limits cannot all hold with these locks")
    if status == "optimal":
        _report(progress, inst, result, start, "combined")
    return inst, result, status, gap


def _close_and_reflow(inst: Instance, part: IntArray, relaxed: BoolArray) -> BoolArray:
    """Find a good allocation meeting `min_if_any`: close short employers and re-solve.

    Employers left below their minimum are closed (their arcs removed) and the flow
    is solved again, until no open employer falls short; the flow keeps the caps.
    """
    local = relaxed
    emp = inst.offer_employer[inst.arc_offer[part]]
    closed = np.zeros(part.size, np.bool_)
    for _ in range(100):
        mask = np.zeros(inst.n_arcs, np.bool_)
        mask[part[local]] = True
        short = _employer_violations(inst, mask)
        short = short[inst.employer_locked[short] == 0]
        newly = np.isin(emp, short) & ~closed
        if not newly.any():
            return local
        closed |= newly
        local = np.zeros(part.size, np.bool_)
        keep = np.flatnonzero(~closed)
        try:
            local[keep] = _flow(inst, part[keep])
        except CostRangeError:
            break
    return local


def _check_locked_minimums(inst: Instance) -> None:
    """Reject locks that leave an employer below `min_if_any` with no way to catch up."""
    need = np.flatnonzero((inst.employer_locked > 0) & (inst.employer_min > inst.employer_locked))
    for e in need.tolist():
        offers = np.flatnonzero(inst.offer_employer == e)
        arcs = np.isin(inst.arc_offer, offers)
        room = min(int(inst.residual[offers].sum()), np.unique(inst.arc_learner[arcs]).size)
        if inst.employer_max[e] >= 0:
            room = min(room, int(inst.employer_max[e]))
        if inst.employer_locked[e] + room < inst.employer_min[e]:
            raise ProblemError(
                f"employer '{inst.employer_ids[e]}': {inst.employer_locked[e]} locked learners "
                f"are below min_if_any {inst.employer_min[e]} and no other learner can join"
            )


def _result(
    inst: Instance, chosen: BoolArray, status: str, gap: float | None
) -> dict[str, Any]:
    """Build the result document with explanations for every unplaced learner."""
    problem = inst.problem
    k = problem.settings.max_preferences
    offers, learners = problem.offers, problem.learners
    placed_arc = np.full(len(learners), -1, np.int64)
    idx = np.flatnonzero(chosen)
    placed_arc[inst.arc_learner[idx]] = idx
    assignments: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    histogram: Counter[int] = Counter()
    rank_total = fallback = mandated_placed = 0
    has_limits = inst.employer_max.size > 0
    for li, learner in enumerate(learners):
        lock = int(inst.locked_offer[li])
        arc = int(placed_arc[li])
        if lock >= 0:
            offer = offers[lock]
            km = haversine_km(learner.lat, learner.lon, offer.lat, offer.lon)
            assignments.append({"learner": learner.id, "offer": offer.id, "rank": None,
                                "km": round(km, 1), "locked": True})
        elif arc >= 0:
            rank = int(inst.arc_rank[arc])
            histogram[rank] += 1
            rank_total += int(inst.arc_cost[arc])
            fallback += rank > k
            assignments.append({"learner": learner.id,
                                "offer": offers[int(inst.arc_offer[arc])].id,
                                "rank": rank, "km": round(float(inst.arc_km[arc]), 1),
                                "locked": False})
        else:
            reason, detail = _explain(inst, li, has_limits)
            unplaced.append({"learner": learner.id, "mandated": learner.mandated,
                             "reason": reason, "detail": detail})
            continue
        mandated_placed += learner.mandated
    summary: dict[str, Any] = {
        "learners": len(learners),
        "mandated": int(inst.mandated.sum()),
        "mandated_placed": mandated_placed,
        "placed": len(assignments),
        "rank_cost": rank_total,
        "rank_histogram": {str(r): histogram[r] for r in sorted(histogram)},
        "fallback": fallback,
    }
    if problem.previous is not None:
        summary["moved"] = _moved(inst, chosen)
    if status != "optimal":
        summary["gap"] = round(gap or 0.0, 6)
    summary["solve_seconds"] = 0.0
    return {
        "format": RESULT_FORMAT,
        "status": status,
        "assignments": assignments,
        "unplaced": unplaced,
        "warnings": inst.warnings,
        "summary": summary,
    }


def _explain(inst: Instance, li: int, has_limits: bool) -> tuple[str, str]:
    """Give the reason code and a plain sentence for an unplaced learner."""
    problem = inst.problem
    learner = problem.learners[li]
    uses_fallback = learner.mandated and problem.settings.fallback
    limits = " or their employers had reached their limits" if has_limits else ""
    if uses_fallback:
        if inst.any_eligible[li] or _reaches_any(inst, li):
            return "capacity", (
                f"Every {learner.sector} offer you could take, listed or not, was already "
                f"full{limits}."
            )
        return "no-eligible-offer", _why_nothing(inst, li)
    if inst.counted[li] > 0:
        return "capacity", f"Every offer you listed and could take was already full{limits}."
    if not learner.preferences:
        return "no-preferences", (
            "You did not list any offers, so there was nothing to place you in."
        )
    return "no-eligible-offer", (
        "None of the offers you listed could be used (see the warnings for each one)."
    )


def _near_offers(inst: Instance, li: int) -> IntArray | None:
    """Offers of the learner's sector within its reach (None when the sector has none)."""
    problem = inst.problem
    learner = problem.learners[li]
    if inst.sector_offers is None:
        table: dict[str, list[int]] = {}
        for oi, offer in enumerate(problem.offers):
            table.setdefault(offer.sector, []).append(oi)
        inst.sector_offers = {k: np.asarray(v, np.int64) for k, v in table.items()}
    same = inst.sector_offers.get(learner.sector)
    if same is None:
        return None
    km = haversine_km_array(learner.lat, learner.lon, inst.offer_lat[same],
                            inst.offer_lon[same])
    limit = np.inf if learner.max_km is None else learner.max_km
    return same[km <= limit]


def _reaches_any(inst: Instance, li: int) -> bool:
    """Say whether any offer at all (full ones included) is eligible for a learner."""
    near = _near_offers(inst, li)
    if near is None:
        return False
    held = set(inst.problem.learners[li].has)
    return any(set(inst.problem.offers[oi].requires) <= held for oi in near.tolist())


def _why_nothing(inst: Instance, li: int) -> str:
    """Say why no offer at all is eligible for a learner."""
    learner = inst.problem.learners[li]
    near = _near_offers(inst, li)
    if near is None:
        return f"There are no {learner.sector} offers in this round."
    if near.size == 0:
        return f"There is no {learner.sector} offer within {learner.max_km:g} km of you."
    offer = inst.problem.offers[int(near[0])]
    tags = sorted(set(offer.requires) - set(learner.has))
    return (
        f"Every {learner.sector} offer within reach requires something you do not "
        f"hold yet (for example {', '.join(tags)})."
    )
