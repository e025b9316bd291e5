"""The exact integer engine: the flow network with `min_if_any`, level by level, on CBC.

The model is the flow network of solver.flow restricted to `free` arcs (integer flow
variables); every other arc keeps a fixed flow. Node balances hold at every node a free
arc touches; an employer with `min_if_any` and no locks gets a binary y (none, or at
least the minimum), one with locks must reach its minimum. The lexicographic objective
(solver.objective) is solved level by level, each optimum fixed as a constraint before
the next, so no big weights reach the floating-point solver; levels 1-2 are one exact
integer objective (W * mandated + placed, W above any placed count). A level whose
bound the warm start already reaches is fixed without solving. Building the model checks
the deadline, and a stopped search returns the best allocation with its bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp

from .flow import Network
from .instance import Instance
from .objective import MANDATED, PLACED, Coefficients, IntArray, relative_gap

#: OR-Tools linear-solver backend, chosen by measurement (bench/RESULTS.md, Solver section).
ENGINE = "CBC"


class Deadline(Exception):
    """The time limit passed while the model was being built."""


@dataclass(frozen=True)
class MipOutcome:
    """Flow on every arc, status, and the first level not proven (with value and bound)."""

    flow: IntArray
    status: str  #: "optimal", "feasible" or "infeasible"
    level: str | None = None
    value: float = 0.0
    bound: float = 0.0

    @property
    def gap(self) -> float:
        """Relative gap of the first unproven level (0 when optimal)."""
        return 0.0 if self.status == "optimal" else relative_gap(self.value, self.bound)


def flush_native_stdout() -> None:
    """Flush the C library's stdout buffer (native solvers print through it)."""
    with contextlib.suppress(OSError, AttributeError):  # not a POSIX C library: nothing
        ctypes.CDLL(None).fflush(None)


_STDOUT_LOCK = threading.Lock()
_stdout_users = 0
_saved_stdout: int | None = None


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the native solver's log lines (CBC writes some to fd 1) to stderr.

    Reference-counted, so concurrent solves in threads share one redirection.
    """
    global _stdout_users, _saved_stdout
    with _STDOUT_LOCK:
        if _stdout_users == 0:
            sys.stdout.flush()
            _saved_stdout = os.dup(1)
            os.dup2(2, 1)
        _stdout_users += 1
    try:
        yield
    finally:
        with _STDOUT_LOCK:
            _stdout_users -= 1
            if _stdout_users == 0 and _saved_stdout is not None:
                flush_native_stdout()  # buffered log lines go to stderr too, not later
                os.dup2(_saved_stdout, 1)
                os.close(_saved_stdout)
                _saved_stdout = None


def solve_mip(
    inst: Instance,
    net: Network,
    free: np.ndarray,
    warm: IntArray,
    bounds: dict[str, int] | None,
    deadline: float,
    start: float,
    progress: Callable[[dict[str, Any]], None] | None,
    component: int = 0,
) -> MipOutcome:
    """Solve the network with `min_if_any` exactly over the free arcs, within the deadline.

    `warm` is a feasible flow on every arc (fixed arcs keep its values); `bounds` holds
    the relaxation's value per level (valid for a level while the levels above it equal
    theirs), or None.
    """
    try:
        with quiet_stdout():
            return _solve(inst, net, free, warm, bounds, deadline, start, progress, component)
    except Deadline:
        return _stopped(net, warm, bounds)


def _stopped(net: Network, warm: IntArray, bounds: dict[str, int] | None) -> MipOutcome:
    """The outcome when time ran out while the model was built: the warm start."""
    return _unsolved(net, warm, bounds, [lv.name for lv in net.coefs.levels])


def _trivial(net: Network, name: str, maximise: bool) -> int:
    """A bound that needs no solve."""
    coef = net.coefs.arc[name]
    if maximise:
        top = np.zeros(net.n_nodes, np.int64)
        np.maximum.at(top, net.side_learner, np.maximum(coef, 0))
        return net.coefs.constant[name] + int(top.sum())
    low = np.zeros(net.n_nodes, np.int64)
    np.minimum.at(low, net.side_learner, np.minimum(coef, 0))
    return net.coefs.constant[name] + int(low.sum())


def _check(deadline: float) -> None:
    if time.perf_counter() > deadline:
        raise Deadline


def _solve(
    inst: Instance,
    net: Network,
    free: np.ndarray,
    warm: IntArray,
    bounds: dict[str, int] | None,
    deadline: float,
    start: float,
    progress: Callable[[dict[str, Any]], None] | None,
    component: int,
) -> MipOutcome:
    solver = pywraplp.Solver.CreateSolver(ENGINE)
    if solver is None:  # pragma: no cover - the wheel ships CBC
        raise RuntimeError(f"OR-Tools backend {ENGINE} is not available")
    solver.SuppressOutput()
    solver.SetNumThreads(1)
    idx = np.flatnonzero(free)
    n = idx.size
    caps = net.caps[idx]
    x: list[Any] = []
    for i, cap in enumerate(caps.tolist()):
        if i % 20000 == 0:
            _check(deadline)
        x.append(solver.BoolVar(f"x{i}") if cap == 1 else solver.IntVar(0, cap, f"x{i}"))
    fixed = np.ones(net.n_arcs, np.bool_)
    fixed[idx] = False
    # Node balances: out - in = supply, fixed arcs moved to the right-hand side.
    rhs = net.supplies.copy()
    np.subtract.at(rhs, net.tails[fixed], warm[fixed])
    np.add.at(rhs, net.heads[fixed], warm[fixed])
    ends = np.concatenate([net.tails[idx], net.heads[idx]])
    sign = np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)])
    var = np.concatenate([np.arange(n), np.arange(n)])
    keep = ends != net.sink
    ends, sign, var = ends[keep], sign[keep], var[keep]
    order = np.argsort(ends, kind="stable")
    ends, sign, var = ends[order], sign[order], var[order]
    cuts = np.flatnonzero(np.diff(ends)) + 1
    for count, (node_vars, node_signs) in enumerate(
        zip(np.split(var, cuts), np.split(sign, cuts), strict=True)
    ):
        if count % 5000 == 0:
            _check(deadline)
        if node_vars.size == 0:
            continue
        node = int(ends[0] if count == 0 else ends[cuts[count - 1]])
        row = solver.Constraint(float(rhs[node]), float(rhs[node]))
        for v, sg in zip(node_vars.tolist(), node_signs.tolist(), strict=True):
            row.SetCoefficient(x[v], float(sg))
    # Employer minimums on free employer arcs.
    position = np.full(net.n_arcs, -1, np.int64)
    position[idx] = np.arange(n)
    for e in np.flatnonzero(inst.employer_min > 0).tolist():
        arc = int(net.emp_arc[e])
        if arc < 0 or position[arc] < 0:
            continue
        least = int(inst.employer_min[e])
        locked = int(inst.employer_locked[e])
        var_e = x[int(position[arc])]
        if locked:
            if least - locked > 0:
                solver.Add(var_e >= least - locked)
        else:
            y = solver.BoolVar(f"y{e}")
            solver.Add(var_e >= least * y)
            solver.Add(var_e <= int(net.caps[arc]) * y)
    _check(deadline)

    side = idx[idx < net.n_side]
    side_pos = position[side]
    coefs = net.coefs
    warm_side = net.side_flow(warm)
    fixed_side = warm_side.copy()
    fixed_side[side] = 0
    best = warm.copy()
    # Levels 1-2 as one objective: weight * mandated + placed.
    learners = int(np.unique(net.side_learner[side]).size) if side.size else 0
    weight = learners + 1
    plan: list[tuple[list[str], IntArray, bool]] = [
        ([MANDATED, PLACED], weight * coefs.arc[MANDATED] + coefs.arc[PLACED], True),
    ]
    for lv in coefs.levels[2:]:
        plan.append(([lv.name], coefs.arc[lv.name], lv.maximise))

    def combined(names: list[str], values: dict[str, int]) -> int:
        if len(names) == 2:
            return weight * values[MANDATED] + values[PLACED]
        return values[names[0]]

    proven = bounds is not None
    for names, coef, maximise in plan:
        values = coefs.values(net.side_flow(best))
        value = combined(names, values)
        if proven and bounds is not None and all(values[nm] == bounds[nm] for nm in names):
            _emit(progress, names, values, values, start, component)
            _fix_levels(solver, x, side, side_pos, coefs, names, values, fixed_side)
            continue
        proven = False
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return _unsolved(net, best, bounds, names)
        objective = solver.Objective()
        objective.Clear()
        c = coef[side]
        for j in np.flatnonzero(c).tolist():
            objective.SetCoefficient(x[int(side_pos[j])], float(c[j]))
        objective.SetOptimizationDirection(maximise)
        solver.SetHint(x, [float(v) for v in best[idx].tolist()])
        solver.SetTimeLimit(max(1, min(int(remaining * 1000), 2**31)))
        params = pywraplp.MPSolverParameters()
        # Optimal must mean optimal: the wrapper's default relative gap is 1e-4.
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
        status = solver.Solve(params)
        if status == pywraplp.Solver.INFEASIBLE:
            # The warm start is feasible, so this is the backend's numerical trouble (seen
            # once with CBC on a 50,000-learner component): keep the best allocation.
            return _unsolved(net, best, bounds, names)
        if status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            found = best.copy()
            found[idx] = np.fromiter((round(v.solution_value()) for v in x), np.int64, n)
            new = combined(names, coefs.values(net.side_flow(found)))
            if not valid_flow(inst, net, found):
                status = pywraplp.Solver.FEASIBLE  # never trust a solution that breaks a rule
            elif status == pywraplp.Solver.OPTIMAL or (new > value if maximise
                                                       else new < value):
                best, value = found, new
        values = coefs.values(net.side_flow(best))
        const = combined(names, coefs.constant) + int(np.dot(coef, fixed_side))
        if status == pywraplp.Solver.OPTIMAL:
            _emit(progress, names, values, values, start, component)
            _fix_levels(solver, x, side, side_pos, coefs, names, values, fixed_side)
            continue
        raw = objective.BestBound()
        bound = int(np.floor(raw + 1e-6) if maximise else np.ceil(raw - 1e-6)) + const
        if bounds is not None and len(names) == 2:
            rb = combined(names, bounds)
            bound = min(bound, rb) if maximise else max(bound, rb)
        if len(names) == 2:
            # combined = weight * mandated + placed, and placed is at least its fixed part.
            fixed_placed = coefs.constant[PLACED] + int(np.dot(coefs.arc[PLACED], fixed_side))
            mand_bound = (bound - fixed_placed) // weight
            if bounds is not None:
                mand_bound = min(mand_bound, bounds[MANDATED])
            if values[MANDATED] < mand_bound:
                name, shown = MANDATED, mand_bound
            else:
                name, shown = PLACED, bound - weight * values[MANDATED]
        else:
            name, shown = names[0], bound
        shown_bounds = dict(values)
        shown_bounds[name] = shown
        _emit(progress, [name], values, shown_bounds, start, component)
        return MipOutcome(best, "feasible", name, float(values[name]), float(shown))
    return MipOutcome(best, "optimal")


def valid_flow(inst: Instance, net: Network, flow: IntArray) -> bool:
    """Check a flow against every rule: bounds, node balances, employer minimums."""
    if (flow < 0).any() or (flow > net.caps).any():
        return False
    balance = np.zeros(net.n_nodes, np.int64)
    np.add.at(balance, net.tails, flow)
    np.subtract.at(balance, net.heads, flow)
    if not np.array_equal(balance, net.supplies):
        return False
    has = net.emp_arc >= 0
    total = inst.employer_locked.copy()
    total[has] += flow[net.emp_arc[has]]
    least = inst.employer_min
    short = (least > 0) & (total < least) & ((total > 0) | (inst.employer_locked > 0))
    return not short.any()


def _unsolved(net: Network, flow: IntArray, bounds: dict[str, int] | None,
              names: list[str]) -> MipOutcome:
    """The outcome when time ran out before the levels `names` were solved.

    The relaxation's value bounds a level while every level above it equals the
    relaxation's (then those are optimal); past that only a trivial bound is known.
    """
    values = net.coefs.values(net.side_flow(flow))
    chain = bounds is not None
    for lv in net.coefs.levels:
        relaxed = bounds[lv.name] if bounds is not None and chain else None
        if lv.name in names:
            bound = relaxed if relaxed is not None else _trivial(net, lv.name, lv.maximise)
            if bound != values[lv.name] or lv.name == names[-1]:
                return MipOutcome(flow, "feasible", lv.name, float(values[lv.name]),
                                  float(bound))
        chain = chain and relaxed == values[lv.name]
    return MipOutcome(flow, "feasible", names[-1], float(values[names[-1]]),  # pragma: no cover
                      float(values[names[-1]]))


def _fix_levels(solver: pywraplp.Solver, x: list[Any], side: IntArray, pos: IntArray,
                coefs: Coefficients, names: list[str], values: dict[str, int],
                fixed_side: IntArray) -> None:
    """Hold solved levels at their optimum (one constraint each) for the next levels."""
    for lv in coefs.levels:
        if lv.name not in names:
            continue
        coef = coefs.arc[lv.name]
        offset = coefs.constant[lv.name] + int(np.dot(coef, fixed_side))
        local = coef[side]
        nz = np.flatnonzero(local)
        if not nz.size:
            continue
        target = float(values[lv.name] - offset)
        inf = solver.infinity()
        row = solver.Constraint(target, inf) if lv.maximise else solver.Constraint(-inf, target)
        for j, c in zip(pos[nz].tolist(), local[nz].tolist(), strict=True):
            row.SetCoefficient(x[j], float(c))


def _emit(progress: Callable[[dict[str, Any]], None] | None, names: list[str],
          values: dict[str, int], bounds: dict[str, int], start: float,
          component: int) -> None:
    """Report levels of one component to the caller."""
    if progress is None:
        return
    for name in names:
        progress({"level": name, "objective": values[name], "bound": bounds[name],
                  "elapsed_s": round(time.perf_counter() - start, 3),
                  "engine": f"mip-{ENGINE.lower()}", "component": component})
