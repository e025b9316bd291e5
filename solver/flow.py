"""The allocation as a flow network, its exact min-cost flow, and reduced costs.

Nodes: learners (supply 1 each when they have an arc), offers, fallback hubs, one node
per constrained employer, and the sink. Arcs, in this order:

* ``PAIR`` learner -> offer (one per explicit arc of the instance, capacity 1);
* ``HUB`` learner -> hub (fallback through a hub, capacity 1);
* ``UNPLACED`` learner -> sink (capacity 1, cost 0);
* ``OUT`` offer -> its employer's node, or the sink (capacity: seats left after locks);
* ``EMP`` employer -> sink (capacity: `max_learners` left after locks);
* ``MEMBER`` hub -> offer, ``LINK`` super hub -> fine hub.

Only learner-side arcs (``PAIR`` and ``HUB``, which come first) carry objective
coefficients (solver.objective). Each offer has one employer, so the caps are laminar and
the placeable learner sets form a gammoid: the flow with solver.objective's weights is
lexicographically optimal without `min_if_any`. With it, the flow is the relaxation, and
its reduced costs bound how any better allocation can differ from it (solver.allocate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

from .instance import Hubs, Instance
from .objective import Coefficients, CostRangeError, coefficients, flow_cost_stages, levels

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PAIR, HUB, UNPLACED, OUT, EMP, MEMBER, LINK = range(7)

#: Close employers that can never reach their minimum (exact; switchable for bench/ only).
CLOSE_HOPELESS = True


@dataclass
class Network:
    """A flow network of an instance (see the module docstring)."""

    n_nodes: int
    sink: int
    tails: IntArray
    heads: IntArray
    caps: IntArray
    supplies: IntArray
    kind: npt.NDArray[np.int8]
    n_side: int  #: learner-side arcs (PAIR then HUB) come first
    n_pair: int
    side_learner: IntArray  #: learner of each learner-side arc
    coefs: Coefficients  #: per learner-side arc
    emp_arc: IntArray  #: EMP arc of each constrained employer (-1 when it has no seats)
    emp_node: IntArray
    hubs: Hubs | None

    @property
    def n_arcs(self) -> int:
        """Number of arcs."""
        return int(self.tails.size)

    def costs(self) -> IntArray | list[IntArray]:
        """Return the lexicographic int64 cost of every arc, or stages when it would overflow.

        Raises CostRangeError when even one level alone would overflow.
        """
        n_learners = int(self.side_learner.max()) + 1 if self.side_learner.size else 0
        pad = np.zeros(self.n_arcs - self.n_side, np.int64)
        stages = flow_cost_stages(self.coefs, self.side_learner, n_learners, self.n_nodes)
        full = [np.concatenate([side, pad]) for side in stages]
        return full[0] if len(full) == 1 else full

    def side_flow(self, flow: IntArray) -> IntArray:
        """Return the flow on the learner-side arcs."""
        return flow[: self.n_side]


def instance_coefficients(inst: Instance, arc_learner: IntArray, stay: BoolArray,
                          cost: IntArray, ksb: IntArray) -> Coefficients:
    """Coefficients of every level over given learner-side arcs of an instance."""
    problem = inst.problem
    locked = inst.locked_offer >= 0
    previous = problem.previous
    kept = 0
    for pair in previous or ():
        li = inst.learner_index.get(pair.learner)
        oi = inst.offer_index.get(pair.offer)
        if li is not None and oi is not None and inst.locked_offer[li] == oi:
            kept += 1
    tiers = levels(previous is not None, problem.settings.ksb_coverage)
    return coefficients(
        tiers, inst.mandated[arc_learner], stay, cost, ksb,
        locked_mandated=int(inst.mandated[locked].sum()), locked=int(locked.sum()),
        previous_total=len(previous or ()), locked_kept=kept,
    )


def build_network(inst: Instance) -> Network:
    """Build the flow network of an instance (hubs included when the instance has them)."""
    n_l, n_o = inst.mandated.size, inst.residual.size
    h = inst.hubs if inst.hubs is not None and inst.hubs.arc_learner.size else None
    n_h = h.n_hubs if h else 0
    n_e = inst.employer_max.size
    hub0, emp0 = n_l + n_o, n_l + n_o + n_h
    sink = emp0 + n_e
    empty = np.zeros(0, np.int64)
    h_l = h.arc_learner if h else empty
    side_l = np.concatenate([inst.arc_learner, h_l])
    active = np.zeros(n_l, np.bool_)
    active[side_l] = True
    learners = np.flatnonzero(active)
    offers = np.flatnonzero(inst.residual > 0)
    emp_of = inst.offer_employer[offers]
    out_head = np.where(emp_of >= 0, emp0 + emp_of, sink)
    seats = np.zeros(n_e, np.int64)
    np.add.at(seats, emp_of[emp_of >= 0], inst.residual[offers[emp_of >= 0]])
    emps = np.arange(n_e, dtype=np.int64)
    emp_cap = np.where(inst.employer_max >= 0, np.minimum(inst.employer_max, seats), seats)
    # An employer without locks that cannot reach its minimum (too few seats, or a cap
    # below it) can never take anyone: closing it is exact and tightens the relaxation.
    never = (inst.employer_min > 0) & (inst.employer_locked == 0) & (emp_cap < inst.employer_min)
    emp_cap = np.where(never & CLOSE_HOPELESS, 0, emp_cap)
    member_o = h.member_offer if h else empty
    parts = [
        (PAIR, inst.arc_learner, n_l + inst.arc_offer, np.ones(inst.n_arcs, np.int64)),
        (HUB, h_l, hub0 + (h.arc_hub if h else empty), np.ones(h_l.size, np.int64)),
        (UNPLACED, learners, np.full(learners.size, sink), np.ones(learners.size, np.int64)),
        (OUT, n_l + offers, out_head, inst.residual[offers].astype(np.int64)),
        (EMP, emp0 + emps, np.full(n_e, sink), emp_cap.astype(np.int64)),
        (MEMBER, hub0 + (h.member_hub if h else empty), n_l + member_o,
         inst.residual[member_o].astype(np.int64)),
        (LINK, hub0 + (h.link_from if h else empty), hub0 + (h.link_to if h else empty),
         np.full(h.link_from.size if h else 0, max(1, learners.size), np.int64)),
    ]
    tails = np.concatenate([p[1] for p in parts]).astype(np.int64)
    heads = np.concatenate([p[2] for p in parts]).astype(np.int64)
    caps = np.concatenate([p[3] for p in parts]).astype(np.int64)
    kind = np.concatenate([np.full(p[1].size, p[0], np.int8) for p in parts])
    supplies = np.zeros(sink + 1, np.int64)
    supplies[learners] = 1
    supplies[sink] = -learners.size
    emp_start = sum(p[1].size for p in parts[:4])
    emp_arc = np.where(seats > 0, emp_start + emps, -1)
    fallback = np.full(h_l.size, inst.fallback_cost, np.int64)
    coefs = instance_coefficients(
        inst, side_l, np.concatenate([inst.arc_stay, np.zeros(h_l.size, np.bool_)]),
        np.concatenate([inst.arc_cost, fallback]),
        np.concatenate([inst.arc_ksb, h.arc_ksb if h else empty]),
    )
    return Network(
        n_nodes=sink + 1, sink=sink, tails=tails, heads=heads, caps=caps, supplies=supplies,
        kind=kind, n_side=side_l.size, n_pair=inst.n_arcs, side_learner=side_l, coefs=coefs,
        emp_arc=emp_arc, emp_node=emp0 + emps, hubs=h,
    )


#: Costs of a flow: one folded int64 cost per arc, or stages solved one after another.
Costs = IntArray | list[IntArray]


def solve_flow(
    net: Network,
    cost: Costs,
    closed: BoolArray | None = None,
    lower: IntArray | None = None,
    part: BoolArray | None = None,
) -> IntArray | None:
    """Return a min-cost flow (flow per arc), or None when the bounds admit none.

    `cost` is one folded cost per arc, or a list of stages (solver.objective
    .flow_cost_stages): each stage is solved on the optimal face of the ones before it
    (arcs with a positive reduced cost held at their lower bound, negative at their upper
    bound, by complementary slackness), which is exact for a flow. `closed` (per
    constrained employer) removes an employer's capacity; `lower` (per constrained
    employer) forces at least that many learners through it. With `part` (arcs of
    independent components, their arcs into the sink included) only those arcs are
    solved; the others get flow 0. Raises CostRangeError when OR-Tools reports the costs
    out of range.
    """
    if part is not None:
        return _solve_part(net, cost, closed, lower, part)
    hi = net.caps.copy()
    lo = np.zeros(net.n_arcs, np.int64)
    has = net.emp_arc >= 0
    if closed is not None:
        hi[net.emp_arc[has & closed]] = 0
    if lower is not None:
        if (lower[~has] > 0).any():
            return None
        arcs = net.emp_arc[has]
        lo[arcs] = lower[has]
        if (lo[arcs] > hi[arcs]).any():
            return None
    return _staged(net, lo, hi, cost if isinstance(cost, list) else [cost])[0]


def relaxation_face(net: Network, stages: list[IntArray]) -> tuple[IntArray, IntArray, IntArray]:
    """Solve staged costs; return the flow and the optimal face of all stages but the last.

    The face is given as per-arc lower and upper bounds: every flow optimal for the
    earlier stages lies within them (complementary slackness with their potentials).
    """
    flow, lo, hi = _staged(net, np.zeros(net.n_arcs, np.int64), net.caps.copy(), stages)
    assert flow is not None  # every learner may stay unplaced
    return flow, lo, hi


def _staged(net: Network, lo: IntArray, hi: IntArray,
            stages: list[IntArray]) -> tuple[IntArray | None, IntArray, IntArray]:
    """Solve the stages one after another, each on the optimal face of the ones before."""
    flow: IntArray | None = None
    for k, stage in enumerate(stages):
        flow = _min_cost_flow(net, lo, hi, stage)
        if flow is None or k == len(stages) - 1:
            break
        dist = _distances(net.n_nodes, net.tails, net.heads, flow < hi, flow > lo, stage)
        rc = stage + dist[net.tails] - dist[net.heads]
        hi, lo = np.where(rc > 0, lo, hi), np.where(rc < 0, hi, lo)
    return flow, lo, hi


def _min_cost_flow(net: Network, lo: IntArray, hi: IntArray, cost: IntArray) -> IntArray | None:
    """One OR-Tools min-cost flow with per-arc lower bounds (moved into the supplies)."""
    supplies = net.supplies.copy()
    np.subtract.at(supplies, net.tails, lo)
    np.add.at(supplies, net.heads, lo)
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(
        net.tails.astype(np.int32), net.heads.astype(np.int32), hi - lo, cost
    )
    mcf.set_nodes_supplies(np.arange(net.n_nodes, dtype=np.int32), supplies)
    status = mcf.solve()
    if status == mcf.BAD_COST_RANGE:
        raise CostRangeError("OR-Tools reported BAD_COST_RANGE")
    if status == mcf.INFEASIBLE:
        return None
    if status != mcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    return np.asarray(mcf.flows(np.arange(net.n_arcs, dtype=np.int32)), np.int64) + lo


def _solve_part(net: Network, cost: Costs, closed: BoolArray | None,
                lower: IntArray | None, part: BoolArray) -> IntArray | None:
    """solve_flow on the sub-network of the arcs in `part` (nodes renumbered)."""
    idx = np.flatnonzero(part)
    nodes, inv = np.unique(np.concatenate([net.tails[idx], net.heads[idx], [net.sink]]),
                           return_inverse=True)
    inv = inv.ravel()
    sub_sink = int(np.searchsorted(nodes, net.sink))
    supplies = net.supplies[nodes].copy()
    supplies[sub_sink] = 0
    supplies[sub_sink] = -int(supplies.sum())
    position = np.full(net.n_arcs, -1, np.int64)
    position[idx] = np.arange(idx.size)
    emp_in = (net.emp_arc >= 0) & (position[np.maximum(net.emp_arc, 0)] >= 0)
    sub_emp_arc = np.where(emp_in, position[np.maximum(net.emp_arc, 0)], -1)
    node_pos = np.full(net.n_nodes, -1, np.int64)
    node_pos[nodes] = np.arange(nodes.size)
    sub = Network(
        n_nodes=nodes.size, sink=sub_sink, tails=inv[: idx.size],
        heads=inv[idx.size: 2 * idx.size], caps=net.caps[idx], supplies=supplies,
        kind=net.kind[idx], n_side=0, n_pair=0, side_learner=net.side_learner[:0],
        coefs=net.coefs, emp_arc=sub_emp_arc, emp_node=node_pos[net.emp_node], hubs=None,
    )
    low = None if lower is None else np.where(emp_in, lower, 0)
    sliced = [c[idx] for c in cost] if isinstance(cost, list) else cost[idx]
    got = solve_flow(sub, sliced, closed, low)
    if got is None:
        return None
    flow = np.zeros(net.n_arcs, np.int64)
    flow[idx] = got
    return flow


def potentials(net: Network, flow: IntArray, cost: IntArray, lo: IntArray | None = None,
               hi: IntArray | None = None) -> IntArray:
    """Return node potentials making every residual arc's reduced cost non-negative.

    `lo` and `hi` bound the arcs (a face of the network); by default 0 and capacity.
    """
    lo = np.zeros(net.n_arcs, np.int64) if lo is None else lo
    hi = net.caps if hi is None else hi
    return _distances(net.n_nodes, net.tails, net.heads, flow < hi, flow > lo, cost)


def _distances(n_nodes: int, arc_tails: IntArray, arc_heads: IntArray, fwd: BoolArray,
               bwd: BoolArray, cost: IntArray) -> IntArray:
    """Shortest distances in a residual network from a virtual source joined to every node.

    `fwd` and `bwd` say which arcs have residual capacity forwards and backwards. For an
    optimal flow there is no negative cycle, so this vectorised Bellman-Ford converges,
    and the distances are potentials with non-negative reduced costs on residual arcs.
    """
    tails = np.concatenate([arc_tails[fwd], arc_heads[bwd]])
    heads = np.concatenate([arc_heads[fwd], arc_tails[bwd]])
    costs = np.concatenate([cost[fwd], -cost[bwd]])
    order = np.argsort(heads, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]]) if heads.size else heads
    targets = heads[starts]
    dist = np.zeros(n_nodes, np.int64)
    if tails.size == 0:
        return dist
    for _ in range(n_nodes + 1):
        best = np.minimum.reduceat(dist[tails] + costs, starts)
        improved = best < dist[targets]
        if not improved.any():
            return dist
        dist[targets[improved]] = best[improved]
    raise RuntimeError("negative cycle in the residual network of an optimal flow")


def reduced_costs(net: Network, cost: IntArray, dist: IntArray) -> IntArray:
    """Return c + d(tail) - d(head) per arc."""
    return cost + dist[net.tails] - dist[net.heads]


def unpack(inst: Instance, net: Network, flow: IntArray) -> tuple[BoolArray, IntArray, IntArray]:
    """Turn a flow into chosen explicit arcs and (learner, offer) pairs placed through hubs."""
    chosen = flow[: net.n_pair] > 0
    h = net.hubs
    empty = np.zeros(0, np.int64)
    if h is None:
        return chosen, empty, empty
    hub_flow = flow[net.n_pair: net.n_side]
    member_flow = flow[net.kind == MEMBER]
    link_flow = flow[net.kind == LINK]
    entered = h.arc_learner[hub_flow > 0]
    at_hub = h.arc_hub[hub_flow > 0]
    pair_l, pair_o = _unpack_hubs(entered, at_hub, h, member_flow, link_flow)
    return chosen, pair_l, pair_o


def _unpack_hubs(
    entered: IntArray, at_hub: IntArray, h: Hubs, member_flow: IntArray, link_flow: IntArray
) -> tuple[IntArray, IntArray]:
    """Turn hub flows into (learner, offer) pairs: any learner in a hub may take any member."""
    queue: dict[int, list[int]] = {}
    for learner, hub in zip(entered.tolist(), at_hub.tolist(), strict=True):
        queue.setdefault(hub, []).append(learner)
    # Super hubs hand learners down to fine hubs first.
    for i in np.flatnonzero(link_flow > 0).tolist():
        source = queue[int(h.link_from[i])]
        moved = [source.pop() for _ in range(int(link_flow[i]))]
        queue.setdefault(int(h.link_to[i]), []).extend(moved)
    out_l: list[int] = []
    out_o: list[int] = []
    for i in np.flatnonzero(member_flow > 0).tolist():
        source = queue[int(h.member_hub[i])]
        for _ in range(int(member_flow[i])):
            out_l.append(source.pop())
            out_o.append(int(h.member_offer[i]))
    return np.asarray(out_l, np.int64), np.asarray(out_o, np.int64)


__all__ = [
    "CostRangeError", "Network", "build_network", "potentials", "reduced_costs",
    "relaxation_face", "solve_flow", "unpack",
]
