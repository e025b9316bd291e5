"""The lexicographic objective: levels, their order, per-arc coefficients and integer weights.

Every engine and the result summary use this module; none re-derives the order of
the levels, their costs or the weights that fold them into one integer cost.

Levels, best first (problem-format.md, "Objective"):

1. ``mandated_placed``: maximise mandated learners placed (locked ones included);
2. ``placed``: maximise learners placed (locked ones included);
3. ``moved`` (repair runs only): minimise learners of ``previous`` not kept at that offer;
4. ``rank_cost``: minimise the rank cost of non-locked placements (r or r squared,
   K+1 for fallback placements);
5. ``ksb_covered`` (only with ``settings.ksb_coverage``): maximise, over non-locked
   placements, the outstanding KSBs of the learner that the offer covers.

A level is ``constant + sum(coefficient[arc] * flow[arc])`` over the learner-side arcs
of an allocation (a learner placed at an offer, directly or through a fallback hub);
``constant`` holds what locked learners contribute.

Flow weights. The learners that can be placed together form a gammoid (a matroid), also
with ``max_learners`` caps, so one allocation maximises mandated and placed at once, and
every allocation that places fewer learners or fewer mandated ones places at least one
fewer in "mandated + placed". So the flow engine rewards each placed learner by B (and a
mandated one by 2B), with B above the whole span of the lower levels, and folds the lower
levels lexicographically: each gets a weight above the span of the levels below it. The
span of a level is the sum over learners of the range of that level's coefficient over the
learner's arcs and "unplaced" (0). With ``min_if_any`` the feasible sets are not a matroid
any more; the flow then only gives the relaxation, and the integer engine solves the
levels one by one with these coefficients (no weights).

Range. OR-Tools scales costs by (nodes + 1) and needs the result in int64: `FlowCosts`
checks the exact figure with Python integers before any solve, with a factor 2 of
headroom (`SCALED_COST_LIMIT`). The integer engine works in floating point, so each
level's span must stay below 2**53 (`check_exact_float`); with the exact reduction of
the fallback cost (`effective_fallback_cost`) that holds for every valid file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MANDATED = "mandated_placed"
PLACED = "placed"
MOVED = "moved"
RANK = "rank_cost"
KSB = "ksb_covered"

#: Largest scaled flow cost magnitude accepted: half of int64, as headroom.
SCALED_COST_LIMIT = 2**62
#: Largest level span the floating-point integer engine handles exactly.
FLOAT_EXACT_LIMIT = 2**53
#: Largest `settings.max_preferences` accepted (problem-format.md).
MAX_PREFERENCES = 1_000_000


class CostRangeError(ArithmeticError):
    """The integer weights would overflow OR-Tools' scaled int64 costs."""


@dataclass(frozen=True)
class Level:
    """One level of the objective."""

    name: str
    maximise: bool


def levels(repair: bool, ksb: bool) -> tuple[Level, ...]:
    """Return the levels in order, best first, for a run with or without repair and KSBs."""
    out = [Level(MANDATED, True), Level(PLACED, True)]
    if repair:
        out.append(Level(MOVED, False))
    out.append(Level(RANK, False))
    if ksb:
        out.append(Level(KSB, True))
    return tuple(out)


def rank_cost(ranks: IntArray, kind: str) -> IntArray:
    """Return the cost of placements at the given ranks (r or r squared)."""
    ranks = np.asarray(ranks, np.int64)
    return ranks * ranks if kind == "squared" else ranks.copy()


def rank_cost_of(rank: int, kind: str) -> int:
    """Return the cost of one rank as a Python integer (never overflows)."""
    return rank * rank if kind == "squared" else rank


def effective_fallback_cost(k: int, kind: str, listed_top: int) -> int:
    """Return the fallback rank cost the engines use, reduced exactly.

    A fallback placement costs c(K+1). `listed_top` is the sum over learners of their
    most expensive listed arc. Once c(K+1) exceeds it, any allocation with fewer
    fallback placements has the lower rank cost whatever its listed ranks, so every
    cost above `listed_top` gives the same optimal allocations: the engines use
    min(c(K+1), listed_top + 1), and the summary reports the true cost.
    """
    return min(rank_cost_of(k + 1, kind), listed_top + 1)


@dataclass(frozen=True)
class Coefficients:
    """Per-arc coefficients of every level over learner-side arcs, plus lock constants."""

    levels: tuple[Level, ...]
    arc: dict[str, IntArray]  #: level name -> coefficient per arc
    constant: dict[str, int]  #: level name -> value contributed by locked learners

    def value(self, name: str, flow: IntArray) -> int:
        """Return a level's value for a flow (0/1 or integer per arc)."""
        coef = self.arc[name]
        return self.constant[name] + int(np.dot(coef, flow.astype(np.int64)))

    def values(self, flow: IntArray) -> dict[str, int]:
        """Return every level's value, in order."""
        return {lv.name: self.value(lv.name, flow) for lv in self.levels}

    def key(self, flow: IntArray) -> tuple[int, ...]:
        """Return a tuple that sorts allocations best first (smaller is better)."""
        return tuple(
            -self.value(lv.name, flow) if lv.maximise else self.value(lv.name, flow)
            for lv in self.levels
        )


def coefficients(
    tiers: tuple[Level, ...],
    mandated: BoolArray,
    stay: BoolArray,
    cost: IntArray,
    ksb: IntArray,
    *,
    locked_mandated: int,
    locked: int,
    previous_total: int,
    locked_kept: int,
) -> Coefficients:
    """Build the coefficients of each level for learner-side arcs.

    `mandated`, `stay`, `cost` and `ksb` are per arc: the learner is mandated, the arc
    is the learner's previous placement, the arc's rank cost, and the KSBs it covers.
    """
    n = cost.size
    arc: dict[str, IntArray] = {}
    constant: dict[str, int] = {}
    for lv in tiers:
        if lv.name == MANDATED:
            arc[lv.name], constant[lv.name] = mandated.astype(np.int64), locked_mandated
        elif lv.name == PLACED:
            arc[lv.name], constant[lv.name] = np.ones(n, np.int64), locked
        elif lv.name == MOVED:
            arc[lv.name] = -stay.astype(np.int64)
            constant[lv.name] = previous_total - locked_kept
        elif lv.name == RANK:
            arc[lv.name], constant[lv.name] = cost.astype(np.int64), 0
        elif lv.name == KSB:
            arc[lv.name], constant[lv.name] = ksb.astype(np.int64), 0
        else:  # pragma: no cover - levels() names every level
            raise ValueError(lv.name)
    return Coefficients(tiers, arc, constant)


def spans(coef: IntArray, arc_learner: IntArray, n_learners: int) -> int:
    """Return the sum over learners of the range of `coef` over their arcs and 0 (unplaced)."""
    if coef.size == 0:
        return 0
    top = np.zeros(n_learners, np.int64)
    low = np.zeros(n_learners, np.int64)
    np.maximum.at(top, arc_learner, coef)
    np.minimum.at(low, arc_learner, coef)
    return sum(int(t) - int(b) for t, b in zip(top.tolist(), low.tolist(), strict=True))


def check_exact_float(coefs: Coefficients, arc_learner: IntArray, n_learners: int) -> None:
    """Raise CostRangeError when a level's span is too wide for exact floating point."""
    for lv in coefs.levels:
        if spans(coefs.arc[lv.name], arc_learner, n_learners) >= FLOAT_EXACT_LIMIT:
            raise CostRangeError(f"level {lv.name} spans more than 2**53")


@dataclass(frozen=True)
class FlowCosts:
    """One integer cost per learner-side arc making a min-cost flow lexicographic."""

    cost: IntArray
    place: int  #: B, the reward per placed learner (2B for a mandated one)
    weights: tuple[int, ...]  #: weight of each level below "placed", in order


def flow_costs(
    coefs: Coefficients, arc_learner: IntArray, n_learners: int, n_nodes: int
) -> FlowCosts:
    """Fold the levels into one int64 cost per arc (see the module docstring).

    Raises CostRangeError when the costs scaled by the node count would not fit int64.
    """
    lower = [lv for lv in coefs.levels if lv.name not in (MANDATED, PLACED)]
    signed = [(-coefs.arc[lv.name] if lv.maximise else coefs.arc[lv.name]) for lv in lower]
    # Weights from the last level up: each exceeds the weighted span of those below it.
    weights = [0] * len(lower)
    below = 0
    for i in range(len(lower) - 1, -1, -1):
        weights[i] = below + 1
        below += weights[i] * spans(signed[i], arc_learner, n_learners)
    place = below + 1
    mandated = coefs.arc[MANDATED]
    biggest = 2 * place + sum(
        w * (int(np.abs(s).max()) if s.size else 0) for w, s in zip(weights, signed, strict=True)
    )
    if biggest * (n_nodes + 1) >= SCALED_COST_LIMIT:
        raise CostRangeError(f"flow costs up to {biggest} overflow for {n_nodes} nodes")
    cost = -place * (1 + mandated)
    for w, s in zip(weights, signed, strict=True):
        cost = cost + w * s
    return FlowCosts(cost.astype(np.int64), place, tuple(weights))


def flow_cost_stages(
    coefs: Coefficients, arc_learner: IntArray, n_learners: int, n_nodes: int
) -> list[IntArray]:
    """Return the flow costs as one folded stage when they fit, else as several stages.

    Stages are solved one after another, each on the optimal face of the previous ones
    (solver.flow.solve_flow): mandated and placed first (reward 1 per placed learner, 2
    per mandated one: the matroid argument), then the lower levels folded together, or
    one by one when even that would overflow. Raises CostRangeError when a single
    level's costs do not fit.
    """
    try:
        return [flow_costs(coefs, arc_learner, n_learners, n_nodes).cost]
    except CostRangeError:
        pass
    lower = [lv for lv in coefs.levels if lv.name not in (MANDATED, PLACED)]
    stages = [-(1 + coefs.arc[MANDATED])]
    for group in ([lower], [[lv] for lv in lower]):
        try:
            folded = [_fold(coefs, tiers, arc_learner, n_learners, n_nodes) for tiers in group]
        except CostRangeError:
            continue
        return stages + folded
    raise CostRangeError("a single level's costs overflow int64")


def _fold(coefs: Coefficients, tiers: list[Level], arc_learner: IntArray, n_learners: int,
          n_nodes: int) -> IntArray:
    """Fold levels (none of them mandated or placed) into one cost, checking the range."""
    signed = [(-coefs.arc[lv.name] if lv.maximise else coefs.arc[lv.name]) for lv in tiers]
    weights = [0] * len(tiers)
    below = 0
    for i in range(len(tiers) - 1, -1, -1):
        weights[i] = below + 1
        below += weights[i] * spans(signed[i], arc_learner, n_learners)
    biggest = sum(w * (int(np.abs(s).max()) if s.size else 0)
                  for w, s in zip(weights, signed, strict=True))
    if biggest * (n_nodes + 1) >= SCALED_COST_LIMIT:
        raise CostRangeError(f"flow costs up to {biggest} overflow for {n_nodes} nodes")
    cost = np.zeros(coefs.arc[MANDATED].size, np.int64)
    for w, s in zip(weights, signed, strict=True):
        cost = cost + w * s
    return cost


def relative_gap(value: float, bound: float) -> float:
    """Return |bound - value| / max(1, |value|), the gap reported in the summary."""
    return abs(bound - value) / max(1.0, abs(value))
