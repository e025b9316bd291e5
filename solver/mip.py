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

#: OR-Tools linear-solver backend, chosen by measurement (bench/RESULTS.md, Solver section):
#: CBC and SCIP prove the 2k limits instance in similar times (runs vary either way), but
#: at 5k CBC proved the optimum in 35 s where SCIP stopped at the limit far from it;
#: HiGHS crashed through this wrapper and CP-SAT proved neither instance.
ENGINE = "CBC"


@dataclass(frozen=True)
class MipOutcome:
    """Chosen arcs of one component, with status and relative gap."""

    chosen: BoolArray
    status: str
    gap: float


def solve_mip(
    inst: Instance,
    part: IntArray,
    relaxed: BoolArray | None,
    warm: BoolArray,
    deadline: float,
    start: float,
    progress: Callable[[dict[str, Any]], None] | None,
    component: int = 0,
) -> MipOutcome:
    """Solve one component exactly, level by level, within the deadline.

    `relaxed` is the lexicographic optimum without `min_if_any` (a bound on
    every level while the levels above it match; None when the flow could not
    be used); `warm` is a feasible
    allocation used as the hint and as the answer when time runs out.
    """
    solver = pywraplp.Solver.CreateSolver(ENGINE)
    if solver is None:  # pragma: no cover - the wheel ships CBC
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
            # None, or at least `least`: y opens the employer.
            upper = group.size if cap < 0 else min(cap, group.size)
            y = solver.BoolVar(f"y{e}")
            solver.Add(total >= least * y)
            solver.Add(total <= upper * y)

    hint = warm
    # Levels 1 and 2 in one exact integer objective: W * mandated + placed with W above
    # any placed count, so one solve settles both (values stay far below 2**53).
    weight = np.unique(arc_l).size + 1
    levels: list[tuple[str, np.ndarray, bool]] = [
        ("placed", weight * inst.mandated[arc_l].astype(np.int64) + 1, True),
    ]
    if inst.problem.previous is not None:
        levels.append(("moved", inst.arc_stay[part].astype(np.int64), True))
    levels.append(("rank_cost", inst.arc_cost[part], False))

    best = hint
    proven = relaxed is not None  # the hint matches the relaxation on every level so far
    for name, coef, maximise in levels:
        if proven and relaxed is not None and int(coef[best].sum()) == int(
            coef[relaxed].sum()
        ):
            # The relaxation's value bounds this level and the hint reaches it.
            _emit(progress, name, coef, best, float(coef[best].sum()), start, component)
            _fix(solver, x, coef, int(coef[best].sum()), maximise)
            continue
        proven = False
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
        params = pywraplp.MPSolverParameters()
        # Optimal must mean optimal: the wrapper's default relative gap is 1e-4.
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
        status = solver.Solve(params)
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            if status == pywraplp.Solver.INFEASIBLE:
                raise ProblemError(
                    "locked: employer limits (min_if_any, max_learners) cannot all hold "
                    "with these locks"
                )
            return MipOutcome(best, "feasible", _gap_unknown(coef, best, maximise))
        found = np.fromiter((v.solution_value() > 0.5 for v in x), np.bool_, n)
        gain = int(coef[found].sum()) - int(coef[best].sum())
        if status == pywraplp.Solver.OPTIMAL or (gain > 0 if maximise else gain < 0):
            best = found  # a stopped search keeps the hint unless it found better
        value = int(coef[best].sum())
        # The relaxation bounds mandated and placed (both maximal there at once).
        top = relaxed if relaxed is not None and name != "moved" else slice(None)
        trivial = float(coef[top].sum())
        trivial = trivial if maximise else 0.0
        bound = objective.BestBound()
        bound = min(bound, trivial) if maximise else max(bound, trivial)
        if status == pywraplp.Solver.OPTIMAL:
            bound = float(value)
        _emit(progress, name, coef, best, bound, start, component)
        if status != pywraplp.Solver.OPTIMAL:
            gap = abs(bound - value) / max(1.0, abs(value))
            return MipOutcome(best, "feasible", gap)
        _fix(solver, x, coef, value, maximise)
    return MipOutcome(best, "optimal", 0.0)


def _fix(
    solver: pywraplp.Solver, x: list[Any], coef: np.ndarray, value: int, maximise: bool
) -> None:
    """Hold a solved level at its optimum while the next levels are solved."""
    nonzero = np.flatnonzero(coef).tolist()
    fixed = solver.Sum([int(coef[i]) * x[i] for i in nonzero])
    solver.Add(fixed >= value if maximise else fixed <= value)


def _emit(
    progress: Callable[[dict[str, Any]], None] | None,
    name: str,
    coef: np.ndarray,
    chosen: BoolArray,
    bound: float,
    start: float,
    component: int,
) -> None:
    """Report one level of one component to the caller."""
    if progress is None:
        return
    if name == "placed":  # the combined first two levels: report each
        weight = int(coef.max()) - 1  # coef is weight * mandated + 1
        mandated = int((coef[chosen] > 1).sum())
        bound_m, bound_p = divmod(int(bound), weight) if weight > 0 else (0, int(bound))
        for level, value, best in (("mandated_placed", mandated, bound_m),
                                   ("placed", int(chosen.sum()), bound_p)):
            progress({"level": level, "objective": value, "bound": best,
                      "elapsed_s": round(time.perf_counter() - start, 3),
                      "engine": f"mip-{ENGINE.lower()}", "component": component})
        return
    value = int(coef[chosen].sum())
    if name == "moved":  # the engine maximises learners kept in place
        value, bound = int(coef.sum()) - value, float(coef.sum()) - bound
    progress({"level": name, "objective": value, "bound": round(bound, 3),
              "elapsed_s": round(time.perf_counter() - start, 3),
              "engine": f"mip-{ENGINE.lower()}", "component": component})


def _gap_unknown(coef: np.ndarray, best: BoolArray, maximise: bool) -> float:
    """Return the gap when a level was not even started: relative to its trivial bound."""
    value = int(coef[best].sum())
    bound = int(coef.sum()) if maximise else 0
    return abs(bound - value) / max(1.0, abs(value))


def _groups(keys: IntArray) -> list[IntArray]:
    """Split arc positions into groups of equal key."""
    order = np.argsort(keys, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(keys[order])) + 1) if keys.size else []
