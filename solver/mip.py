"""The exact integer engine for components that employer side constraints bind.

One binary per eligible arc of the component, one binary per employer with a
`min_if_any` and no locks. The lexicographic objective is solved level by
level; each level's optimum is fixed as a constraint before the next, so no
big-M weights reach the floating-point solver. The flow solution of the
component (which ignores the employer limits) is an upper bound on level 1
and, repaired by dropping learners, a complete warm start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.linear_solver import pywraplp

from .problem import ProblemError

if TYPE_CHECKING:
    from .instance import BoolArray, Instance, IntArray

#: OR-Tools linear-solver backend, chosen by measurement (see bench/RESULTS.md).
ENGINE = "SCIP"


@dataclass(frozen=True)
class MipOutcome:
    """Chosen arcs of one component, with status and relative gap."""

    chosen: BoolArray
    status: str
    gap: float


def _repair(inst: Instance, part: IntArray, chosen: BoolArray) -> BoolArray:
    """Make a flow solution meet the employer limits by dropping learners."""
    keep = chosen.copy()
    emp = inst.offer_employer[inst.arc_offer[part]]
    # Least valuable placements first: non-mandated, then most expensive.
    value = inst.mandated[inst.arc_learner[part]].astype(np.int64) * 10**12 - inst.arc_cost[part]
    for e in np.unique(emp[emp >= 0]).tolist():
        arcs = np.flatnonzero(keep & (emp == e))
        cap = int(inst.employer_max[e])
        if 0 <= cap < arcs.size:
            drop = arcs[np.argsort(value[arcs], kind="stable")[: arcs.size - cap]]
            keep[drop] = False
            arcs = np.flatnonzero(keep & (emp == e))
        least, locked = int(inst.employer_min[e]), int(inst.employer_locked[e])
        if least and locked == 0 and 0 < arcs.size < least:
            keep[arcs] = False
    return keep


def solve_mip(
    inst: Instance,
    part: IntArray,
    warm: BoolArray,
    deadline: float,
    start: float,
    progress: Callable[[dict[str, Any]], None] | None,
) -> MipOutcome:
    """Solve one component exactly, level by level, within the deadline."""
    solver = pywraplp.Solver.CreateSolver(ENGINE)
    if solver is None:  # pragma: no cover - the wheel ships SCIP
        raise RuntimeError(f"OR-Tools backend {ENGINE} is not available")
    solver.SetNumThreads(1)
    n = part.size
    x = [solver.BoolVar(f"x{i}") for i in range(n)]
    arc_l = inst.arc_learner[part]
    arc_o = inst.arc_offer[part]
    for group in _groups(arc_l):
        if group.size > 1:
            solver.Add(solver.Sum([x[i] for i in group.tolist()]) <= 1)
    for group in _groups(arc_o):
        cap = int(inst.residual[arc_o[group[0]]])
        if cap < group.size:
            solver.Add(solver.Sum([x[i] for i in group.tolist()]) <= cap)
    emp = inst.offer_employer[arc_o]
    for group in _groups(emp):
        e = int(emp[group[0]])
        if e < 0:
            continue
        total = solver.Sum([x[i] for i in group.tolist()])
        cap = int(inst.employer_max[e])
        least, locked = int(inst.employer_min[e]), int(inst.employer_locked[e])
        if cap >= 0:
            solver.Add(total <= cap)
        if least and locked:
            solver.Add(total >= least - locked)
        elif least:
            # "None or at least `least`": x <= y per arc is the tight (disaggregated) link.
            y = solver.BoolVar(f"y{e}")
            solver.Add(total >= least * y)
            for i in group.tolist():
                solver.Add(x[i] <= y)

    hint = _repair(inst, part, warm)
    levels: list[tuple[str, np.ndarray, bool]] = [
        ("mandated_placed", inst.mandated[arc_l].astype(np.int64), True),
        ("placed", np.ones(n, np.int64), True),
    ]
    if inst.problem.previous is not None:
        levels.append(("moved", inst.arc_stay[part].astype(np.int64), True))
    levels.append(("rank_cost", inst.arc_cost[part], False))

    best = hint
    for name, coef, maximise in levels:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return MipOutcome(best, "feasible", _gap_unknown(coef, best, maximise))
        nonzero = np.flatnonzero(coef).tolist()
        objective = solver.Objective()
        objective.Clear()
        for i in nonzero:
            objective.SetCoefficient(x[i], float(coef[i]))
        objective.SetOptimizationDirection(maximise)
        solver.SetHint(x, [float(v) for v in best.tolist()])
        solver.SetTimeLimit(max(1, int(remaining * 1000)))
        status = solver.Solve()
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            if status == pywraplp.Solver.INFEASIBLE:
                raise ProblemError(
                    "locked: employer limits (min_if_any, max_learners) cannot all hold "
                    "with these locks"
                )
            return MipOutcome(best, "feasible", _gap_unknown(coef, best, maximise))
        best = np.fromiter((v.solution_value() > 0.5 for v in x), np.bool_, n)
        value = int(coef[best].sum())
        bound = objective.BestBound()
        if name == "moved":  # the solver maximises learners kept in place
            value_shown, bound_shown = int(coef.sum()) - value, float(coef.sum()) - bound
        else:
            value_shown, bound_shown = value, bound
        if progress is not None:
            progress({"level": name, "objective": value_shown, "bound": round(bound_shown, 3),
                      "elapsed_s": round(time.perf_counter() - start, 3),
                      "engine": f"mip-{ENGINE.lower()}"})
        if status != pywraplp.Solver.OPTIMAL:
            gap = abs(bound - value) / max(1.0, abs(value))
            return MipOutcome(best, "feasible", gap)
        terms = [x[i] for i in nonzero]
        weights = [int(coef[i]) for i in nonzero]
        fixed = solver.Sum([w * t for w, t in zip(weights, terms, strict=True)])
        solver.Add(fixed >= value if maximise else fixed <= value)
    return MipOutcome(best, "optimal", 0.0)


def _gap_unknown(coef: np.ndarray, best: BoolArray, maximise: bool) -> float:
    """Return the gap when a level was not even started: relative to its trivial bound."""
    value = int(coef[best].sum())
    bound = int(coef.sum()) if maximise else 0
    return abs(bound - value) / max(1.0, abs(value))


def _groups(keys: IntArray) -> list[IntArray]:
    """Split arc positions into groups of equal key."""
    order = np.argsort(keys, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(keys[order])) + 1) if keys.size else []
