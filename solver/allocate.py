"""Solve a Problem: choose engines, combine components and explain the result."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from . import objective as obj
from .flow import (
    CostRangeError,
    Costs,
    Network,
    build_network,
    instance_coefficients,
    potentials,
    reduced_costs,
    relaxation_face,
    solve_flow,
    unpack,
)
from .geo import haversine_km, haversine_km_array, within_reach_array
from .instance import BoolArray, Instance, IntArray, build_instance
from .mip import solve_mip
from .problem import Problem, ProblemError

RESULT_FORMAT = "placement-result/1"

#: Ideas measured in bench/RESULTS.md, switchable for that comparison only (both exact):
#: solve independent components as separate integer programs, and fix arcs by reduced cost.
SPLIT_COMPONENTS = True
REDUCED_COST_FIXING = True

Progress = Callable[[dict[str, Any]], None]


class Outcome:
    """The flow chosen on every arc of the network, with status and the unproven level."""

    def __init__(self, flow: IntArray, status: str = "optimal", level: str | None = None,
                 value: float = 0.0, bound: float = 0.0, engine: str = "flow",
                 bounds: dict[str, int] | None = None) -> None:
        self.flow, self.status, self.level = flow, status, level
        self.value, self.bound, self.engine = value, bound, engine
        self.bounds = bounds  #: relaxation bounds, when short employers must still be dropped

    @property
    def gap(self) -> float:
        """Relative gap of the unproven level."""
        return obj.relative_gap(self.value, self.bound)


def solve(problem: Problem, progress: Progress | None = None) -> dict[str, Any]:
    """Allocate learners to offers and return a `placement-result/1` dict.

    `progress`, when given, is called (possibly from a solver thread) with
    dicts holding `level` (a name from solver.objective: "mandated_placed", "placed",
    "moved", "rank_cost", "ksb_covered"), `objective` (best value found on that level),
    `bound` (proven best possible value), `elapsed_s` (seconds since the call) and
    `engine` ("flow", "mip-cbc" or "combined" for the final totals); reports
    from the integer engine are per component and add `component`. Nothing is
    shared between calls, so concurrent calls from background threads are safe.
    """
    start = time.perf_counter()
    deadline = start + problem.settings.time_limit_s
    inst = build_instance(problem)
    net = build_network(inst)
    outcome = _allocate(inst, net, start, deadline, progress)
    chosen = _to_arcs(inst, net, outcome.flow)
    if outcome.bounds is not None:
        # Time ran out before the integer engine: drop learners of employers still short
        # and measure against the relaxation's bounds.
        short = _employer_violations(inst, chosen)
        chosen &= ~np.isin(inst.offer_employer[inst.arc_offer], short)
        values = _coefficients(inst).values(chosen.astype(np.int64))
        level = next((lv.name for lv in _coefficients(inst).levels
                      if values[lv.name] != outcome.bounds[lv.name]), None)
        if level is None:  # every level at its bound: optimal after all
            outcome.status = "optimal"
        else:
            outcome.level, outcome.value = level, values[level]
            outcome.bound = outcome.bounds[level]
    if _employer_violations(inst, chosen).size:  # pragma: no cover - engines guarantee it
        raise RuntimeError("allocation breaks employer limits")
    if outcome.status == "optimal":
        _report(progress, inst, chosen, start, outcome.engine)
    result = _result(inst, chosen, outcome)
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


def _coefficients(inst: Instance) -> obj.Coefficients:
    """Level coefficients over the explicit arcs of an instance."""
    return instance_coefficients(inst, inst.arc_learner, inst.arc_stay, inst.arc_cost,
                                 inst.arc_ksb)


def _levels(inst: Instance, chosen: BoolArray) -> dict[str, int]:
    """Compute the objective levels of an allocation as reported (locked learners included).

    `rank_cost` is the true rank cost (fallback at c(K+1), not the engines' reduced cost).
    """
    values = _coefficients(inst).values(chosen.astype(np.int64))
    values[obj.RANK] = _true_rank_cost(inst, chosen)
    return values


def _true_rank_cost(inst: Instance, chosen: BoolArray) -> int:
    """Sum of c(rank) over non-locked placements, fallback placements at c(K+1)."""
    settings = inst.problem.settings
    ranks = inst.arc_rank[chosen]
    k = settings.max_preferences
    listed = ranks[ranks <= k]
    fallback = int((ranks > k).sum())
    return (int(obj.rank_cost(listed, settings.rank_cost).sum())
            + fallback * obj.rank_cost_of(k + 1, settings.rank_cost))


def _employer_counts(inst: Instance, chosen: BoolArray) -> IntArray:
    """Non-locked learners placed per constrained employer."""
    n_e = inst.employer_max.size
    emp = inst.offer_employer[inst.arc_offer[chosen]]
    return np.bincount(emp[emp >= 0], minlength=n_e).astype(np.int64)


def _employer_violations(inst: Instance, chosen: BoolArray) -> IntArray:
    """Return the constrained employers whose limits an allocation breaks."""
    if inst.employer_max.size == 0:
        return np.zeros(0, np.int64)
    count = _employer_counts(inst, chosen)
    return _short_or_over(inst, count)


def _short_or_over(inst: Instance, count: IntArray) -> IntArray:
    """Employers over their cap or with some learners but fewer than their minimum."""
    over = (inst.employer_max >= 0) & (count > inst.employer_max)
    total = count + inst.employer_locked
    under = (inst.employer_min > 0) & (total > 0) & (total < inst.employer_min)
    return np.flatnonzero(over | under)


def _flow_short(inst: Instance, net: Network, flow: IntArray) -> IntArray:
    """Constrained employers a flow leaves short of `min_if_any` (the flow keeps caps)."""
    count = np.where(net.emp_arc >= 0, flow[np.maximum(net.emp_arc, 0)], 0)
    return _short_or_over(inst, count)


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


def _arc_components(net: Network, use: BoolArray) -> IntArray:
    """Label every node by its component over the arcs in `use` (the sink joins nothing)."""
    inner = use & (net.tails != net.sink) & (net.heads != net.sink)
    return components(net.n_nodes, net.tails[inner], net.heads[inner])


def _allocate(
    inst: Instance, net: Network, start: float, deadline: float, progress: Progress | None
) -> Outcome:
    """Return the flow on every arc: the min-cost flow wherever it is exact, else the MIP."""
    forced = _forced_lower(inst)
    if forced.any():
        # Locks below a minimum: is there any allocation at all? (A feasibility flow.)
        zero = np.zeros(net.n_arcs, np.int64)
        if solve_flow(net, zero, lower=forced) is None:
            raise ProblemError(_locked_short_message(inst, net, zero, forced))
    try:
        cost = net.costs()
        face = _relax(net, cost)
    except CostRangeError:
        return _mip_everywhere(inst, net, forced, start, deadline, progress)
    relaxed = face.flow
    short = _flow_short(inst, net, relaxed)
    if short.size == 0:
        return Outcome(relaxed)
    bounds = net.coefs.values(net.side_flow(relaxed))
    label = _arc_components(net, np.ones(net.n_arcs, np.bool_))
    end_label = label[_arc_end(net)]
    incumbent = relaxed.copy()
    for comp in np.unique(label[net.emp_node[short]]).tolist():
        part = end_label == comp
        incumbent[part] = _incumbent(inst, net, cost, relaxed, forced, deadline, part)[part]
    if time.perf_counter() > deadline:
        return Outcome(incumbent, "feasible", engine="combined", bounds=bounds)
    free, label = _free_regions(inst, net, face, incumbent)
    return _solve_regions(inst, net, free, label, relaxed, incumbent, deadline, start, progress)


class Face:
    """The relaxation's flow, and the cost and arc bounds that reduced-cost fixing uses.

    With one folded cost: that cost and the arcs' own bounds. With two stages (mandated
    and placed, then every lower level folded): the second stage's cost on the optimal
    face of the first, which holds every flow with the relaxation's mandated and placed
    counts. With more stages there is no single cost for the lower levels (`cost` None).
    """

    def __init__(self, flow: IntArray, cost: IntArray | None, lo: IntArray,
                 hi: IntArray) -> None:
        self.flow, self.cost, self.lo, self.hi = flow, cost, lo, hi


def _relax(net: Network, cost: Costs) -> Face:
    """Solve the relaxation (the flow without `min_if_any`)."""
    zero = np.zeros(net.n_arcs, np.int64)
    if isinstance(cost, list):
        flow, lo, hi = relaxation_face(net, cost)
        return Face(flow, cost[1] if len(cost) == 2 else None, lo, hi)
    flow_or_none = solve_flow(net, cost)
    assert flow_or_none is not None  # every learner may stay unplaced
    return Face(flow_or_none, cost, zero, net.caps)


def _free_regions(inst: Instance, net: Network, face: Face,
                  incumbent: IntArray) -> tuple[BoolArray, IntArray]:
    """Arcs the integer engine must decide, and a node label separating independent parts.

    Components of the network (the sink excluded) are independent. A component without
    a short employer keeps the relaxation (optimal there). In one whose incumbent has
    the relaxation's mandated and placed counts, reduced-cost fixing leaves only the
    arcs of _fixing_region free; in the others every arc is free.
    """
    relaxed = face.flow
    label = _arc_components(net, np.ones(net.n_arcs, np.bool_))
    end_label = label[_arc_end(net)]
    short = _flow_short(inst, net, relaxed)
    free = np.zeros(net.n_arcs, np.bool_)
    region = label.copy()
    dist: IntArray | None = None
    for comp in np.unique(label[net.emp_node[short]]).tolist():
        part = end_label == comp
        side = part[: net.n_side]
        gain = {lv.name: int(np.dot(net.coefs.arc[lv.name][side],
                                    (incumbent[: net.n_side] - relaxed[: net.n_side])[side]))
                for lv in net.coefs.levels[:2]}
        if (gain[obj.MANDATED] or gain[obj.PLACED] or not REDUCED_COST_FIXING
                or face.cost is None):
            free |= part
            continue
        if dist is None:
            dist = potentials(net, relaxed, face.cost, face.lo, face.hi)
        gap = int(np.dot(face.cost[part], (incumbent - relaxed)[part]))
        usable, sub = _fixing_region(inst, net, face, dist, gap, part)
        free |= usable
        nodes = label == comp
        region[nodes] = net.n_nodes + sub[nodes]
    return free, region


def _arc_end(net: Network) -> IntArray:
    """The end of each arc that is not the sink (arcs into the sink belong to their tail)."""
    return np.where(net.tails == net.sink, net.heads, net.tails)


def _solve_regions(inst: Instance, net: Network, free: BoolArray, label: IntArray,
                   relaxed: IntArray, incumbent: IntArray, deadline: float, start: float,
                   progress: Progress | None) -> Outcome:
    """Solve each component of the free arcs with the integer engine, one after another.

    Components are independent (arcs outside them keep the relaxation's flow), and the
    lexicographic optimum of a sum over independent parts is the sum of their optima.
    Each component gets a share of the time left in proportion to its arcs.
    """
    arc_label = label[_arc_end(net)] if SPLIT_COMPONENTS else np.zeros(net.n_arcs, np.int64)
    flow = relaxed.copy()
    flow[free] = incumbent[free]
    comps, sizes = np.unique(arc_label[free], return_counts=True)
    waiting = int(sizes.sum())
    stopped: dict[str, list[tuple[float, float]]] = {}
    status = "optimal"
    for number, (comp, size) in enumerate(zip(comps.tolist(), sizes.tolist(), strict=True)):
        part = free & (arc_label == comp)
        share = (deadline - time.perf_counter()) * size / max(1, waiting)
        waiting -= size
        trial = flow.copy()
        trial[part] = relaxed[part]
        bounds = net.coefs.values(net.side_flow(trial))
        outcome = solve_mip(inst, net, part, flow, bounds, time.perf_counter() + share, start,
                            progress, number)
        flow = outcome.flow
        if outcome.status != "optimal" and outcome.level is not None:
            status = "feasible"
            stopped.setdefault(outcome.level, []).append((outcome.value, outcome.bound))
    if status == "optimal":
        return Outcome(flow, engine="combined")
    # The first level any component left unproven; its bound adds every such component's.
    values = net.coefs.values(net.side_flow(flow))
    level = next(lv.name for lv in net.coefs.levels if lv.name in stopped)
    bound = values[level] + sum(b - v for v, b in stopped[level])
    return Outcome(flow, "feasible", level, values[level], bound, "combined")


def _fixing_region(inst: Instance, net: Network, face: Face, dist: IntArray, gap: int,
                   part: BoolArray) -> tuple[BoolArray, IntArray]:
    """Arcs of one component that may differ from the relaxation in a better allocation.

    With the incumbent at the relaxation's mandated and placed counts in this component,
    every allocation at least as good has them too, and on such allocations the flow
    cost orders the lower levels exactly (with two stages: they all lie on the face of
    the first, where the second orders them). The difference from the relaxation is a
    sum of residual cycles (within the face) of non-negative reduced cost (potentials
    `dist`) totalling at most `gap` = cost(incumbent) - cost(relaxed) on the component,
    so it uses only arcs whose reduced cost in the used direction is within the gap.
    Arcs the face fixes never change. Cycles in sub-components (over
    those arcs, the sink excluded) holding no short employer can be dropped without
    loss, so only those sub-components stay free. Returns the free arcs and node labels.
    """
    assert face.cost is not None
    relaxed = face.flow
    rc = reduced_costs(net, face.cost, dist)
    usable = part & (((relaxed < face.hi) & (rc <= gap)) | ((relaxed > face.lo) & (-rc <= gap)))
    label = _arc_components(net, usable)
    short = _flow_short(inst, net, relaxed)
    bad = np.zeros(net.n_nodes, np.bool_)
    bad[np.isin(label, label[net.emp_node[short]])] = True
    return usable & bad[_arc_end(net)], label


def _locked_short_message(inst: Instance, net: Network, cost: Costs,
                          forced: IntArray) -> str:
    """Name the employers whose locks leave them below `min_if_any` for good."""
    alone = []
    for e in np.flatnonzero(forced).tolist()[:10]:  # a flow each: name at most a few
        one = np.zeros_like(forced)
        one[e] = forced[e]
        if solve_flow(net, cost, lower=one) is None:
            alone.append(e)
    named = alone or np.flatnonzero(forced).tolist()
    names = ", ".join(f"'{inst.employer_ids[e]}'" for e in named[:5])
    more = f" and {len(named) - 5} more" if len(named) > 5 else ""
    which = "employer" if len(named) == 1 else "employers"
    return (f"locked: employer limits cannot all hold: locked learners at {which} "
            f"{names}{more} are below min_if_any and not enough other learners can join")


def _forced_lower(inst: Instance) -> IntArray:
    """Per constrained employer: learners it must still take because of its locks."""
    need = inst.employer_min - inst.employer_locked
    return np.where((inst.employer_locked > 0) & (need > 0), need, 0).astype(np.int64)


def _incumbent(inst: Instance, net: Network, cost: Costs, relaxed: IntArray,
               forced: IntArray, deadline: float, part: BoolArray) -> IntArray:
    """A good allocation of one component meeting `min_if_any`.

    Re-solves the component's flow until no employer is short, first forcing short
    employers up to their minimum (closing those it cannot force). When that loses
    mandated or placed learners against the relaxation (so reduced-cost fixing cannot
    apply), the other repair, closing short employers, is tried too and the better kept.
    Employers with locks are always forced. Past the deadline the repairs stop
    re-solving; the caller then drops learners of employers still short.
    """
    best = _reflow(inst, net, cost, relaxed, forced, deadline, part, True)
    top = [lv.name for lv in net.coefs.levels[:2]]
    base = net.coefs.values(net.side_flow(np.where(part, relaxed, 0)))
    got = net.coefs.values(net.side_flow(best))
    if all(got[name] == base[name] for name in top) or time.perf_counter() > deadline:
        return best
    other = _reflow(inst, net, cost, relaxed, forced, deadline, part, False)
    if net.coefs.key(net.side_flow(other)) < net.coefs.key(net.side_flow(best)):
        return other
    return best


def _reflow(inst: Instance, net: Network, cost: Costs, relaxed: IntArray,
            forced: IntArray, deadline: float, part: BoolArray, opening: bool) -> IntArray:
    """Repair the relaxation of one component by closing (or first opening) short employers."""
    flow = np.where(part, relaxed, 0)
    closed = np.zeros(inst.employer_max.size, np.bool_)
    lower = forced.copy()
    # Each round closes or forces at least one more employer, so this ends.
    for _ in range(2 * inst.employer_max.size + 2):
        short = _flow_short(inst, net, flow)
        if short.size == 0:
            return flow
        if time.perf_counter() > deadline and not (forced[short] > 0).any():
            return flow  # the caller drops learners of employers still short
        free_short = short[inst.employer_locked[short] == 0]
        again = None
        if opening:
            trial = lower.copy()
            trial[free_short] = inst.employer_min[free_short]
            again = solve_flow(net, cost, closed=closed, lower=trial, part=part)
            if again is not None:
                lower = trial
        if again is None:
            closed[free_short] = True
            lower[free_short] = 0
            again = solve_flow(net, cost, closed=closed, lower=lower, part=part)
        if again is None:  # pragma: no cover - closing never blocks the forced minimums
            again = solve_flow(net, cost, lower=forced, part=part)
            assert again is not None
        flow = again
    return flow


def _mip_everywhere(inst: Instance, net: Network, forced: IntArray, start: float,
                    deadline: float, progress: Progress | None) -> Outcome:
    """Solve with the integer engine alone (even one level's flow costs overflow int64).

    The warm start is a feasible allocation from zero-cost flows (short employers closed,
    those with locks forced), so a stopped search still returns one.
    """
    obj.check_exact_float(net.coefs, net.side_learner, net.n_nodes)
    zero = np.zeros(net.n_arcs, np.int64)
    everything = np.ones(net.n_arcs, np.bool_)
    start_flow = solve_flow(net, zero)
    assert start_flow is not None
    warm = _reflow(inst, net, zero, start_flow, forced, float("inf"), everything, False)
    free = (net.tails != net.sink) | (net.heads != net.sink)
    outcome = solve_mip(inst, net, free, warm, None, deadline, start, progress)
    return Outcome(outcome.flow, outcome.status, outcome.level, outcome.value, outcome.bound,
                   "combined")


def _to_arcs(inst: Instance, net: Network, flow: IntArray) -> BoolArray:
    """Turn a flow into a mask over explicit arcs; hub placements become explicit arcs."""
    chosen, pair_l, pair_o = unpack(inst, net, flow)
    if pair_l.size == 0:
        return chosen
    settings = inst.problem.settings
    # A hub placement at an offer the learner listed keeps its listed rank.
    n_o = max(1, inst.residual.size)
    keys = inst.arc_learner * n_o + inst.arc_offer
    order = np.argsort(keys, kind="stable")
    wanted = pair_l * n_o + pair_o
    where = np.minimum(np.searchsorted(keys[order], wanted), max(0, keys.size - 1))
    ranks = np.full(pair_l.size, settings.max_preferences + 1, np.int64)
    costs = np.full(pair_l.size, inst.fallback_cost, np.int64)
    if keys.size:
        hit = keys[order][where] == wanted
        ranks = np.where(hit, inst.arc_rank[order][where], ranks)
        costs = np.where(hit, inst.arc_cost[order][where], costs)
    problem = inst.problem
    lat = np.fromiter((problem.learners[i].lat for i in pair_l.tolist()), np.float64)
    lon = np.fromiter((problem.learners[i].lon for i in pair_l.tolist()), np.float64)
    inst.arc_learner = np.concatenate([inst.arc_learner, pair_l])
    inst.arc_offer = np.concatenate([inst.arc_offer, pair_o])
    inst.arc_rank = np.concatenate([inst.arc_rank, ranks])
    inst.arc_cost = np.concatenate([inst.arc_cost, costs])
    inst.arc_stay = np.concatenate([inst.arc_stay, inst.previous_offer[pair_l] == pair_o])
    ksb = (inst.ksb_table.pairs(pair_l, pair_o) if inst.ksb_table is not None
           else np.zeros(pair_l.size, np.int64))
    inst.arc_ksb = np.concatenate([inst.arc_ksb, ksb])
    km = haversine_km_array(lat, lon, inst.offer_lat[pair_o], inst.offer_lon[pair_o])
    inst.arc_km = np.concatenate([inst.arc_km, km])
    return np.concatenate([chosen, np.ones(pair_l.size, np.bool_)])


def _result(inst: Instance, chosen: BoolArray, outcome: Outcome) -> dict[str, Any]:
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
    fallback = 0
    per_employer: Counter[str] = Counter()
    has_limits = inst.employer_max.size > 0
    for li, learner in enumerate(learners):
        lock = int(inst.locked_offer[li])
        arc = int(placed_arc[li])
        if lock >= 0:
            offer = offers[lock]
            km = haversine_km(learner.lat, learner.lon, offer.lat, offer.lon)
            assignments.append({"learner": learner.id, "offer": offer.id, "rank": None,
                                "km": round(km, 1), "locked": True})
            per_employer[offer.employer] += 1
        elif arc >= 0:
            rank = int(inst.arc_rank[arc])
            histogram[rank] += 1
            fallback += rank > k
            offer = offers[int(inst.arc_offer[arc])]
            assignments.append({"learner": learner.id, "offer": offer.id,
                                "rank": rank, "km": round(float(inst.arc_km[arc]), 1),
                                "locked": False})
            per_employer[offer.employer] += 1
        else:
            reason, detail = _explain(inst, li, has_limits)
            unplaced.append({"learner": learner.id, "mandated": learner.mandated,
                             "reason": reason, "detail": detail})
    values = _levels(inst, chosen)
    summary: dict[str, Any] = {
        "learners": len(learners),
        "mandated": int(inst.mandated.sum()),
        "mandated_placed": values[obj.MANDATED],
        "placed": values[obj.PLACED],
        "rank_cost": values[obj.RANK],
        "rank_histogram": {str(r): histogram[r] for r in sorted(histogram)},
        "fallback": fallback,
    }
    if obj.MOVED in values:
        summary["moved"] = values[obj.MOVED]
    if obj.KSB in values:
        summary["ksb_covered"] = values[obj.KSB]
    if outcome.status != "optimal":
        summary["gap"] = round(outcome.gap, 6)
        summary["bound"] = {"level": outcome.level, "objective": outcome.value,
                            "bound": outcome.bound}
    summary["solve_seconds"] = 0.0
    result: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "status": outcome.status,
        "assignments": assignments,
        "unplaced": unplaced,
        "warnings": inst.warnings,
        "summary": summary,
    }
    limited = [e for e in problem.employers
               if e.max_learners is not None or e.min_if_any is not None]
    if limited:
        result["employers"] = [
            {"id": e.id, "placed": per_employer[e.id], "max_learners": e.max_learners,
             "min_if_any": e.min_if_any}
            for e in limited
        ]
    return result


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
    limit = np.inf if learner.max_km is None else learner.max_km
    near = same[within_reach_array(learner.lat, learner.lon, inst.offer_lat[same],
                                   inst.offer_lon[same], limit)]
    if inst.excluded:
        near = np.asarray([oi for oi in near.tolist() if (li, oi) not in inst.excluded],
                          np.int64)
    return near


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
        excluded = (inst.offer_index.get(entry) for entry in learner.excluded)
        if learner.max_km is None or any(
            oi is not None and inst.problem.offers[oi].sector == learner.sector
            for oi in excluded
        ):
            return (f"Every {learner.sector} offer within reach is excluded for you "
                    "(declined, or starting after one of your checks expires).")
        return f"There is no {learner.sector} offer within {learner.max_km:g} km of you."
    offer = inst.problem.offers[int(near[0])]
    tags = sorted(set(offer.requires) - set(learner.has))
    return (
        f"Every {learner.sector} offer within reach requires something you do not "
        f"hold yet (for example {', '.join(tags)})."
    )
