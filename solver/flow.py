"""The exact min-cost-flow engine for problems without employer side constraints.

Weights. The learners that can be placed together form a transversal matroid,
so one allocation maximises both the mandated count and the placed count, and
every allocation that places fewer learners or fewer mandated learners
places at least one fewer in total "mandated + placed". So a reward of B per
placed learner plus B per placed mandated learner puts levels 1-2 above the
rest as soon as B exceeds the whole range L of the lower levels:

* rank level: S = sum over learners of their largest arc rank cost;
* repair level: a reward W = S + 1 for each learner kept at its previous offer,
  so L = W * P + S where P counts learners with a previous arc;
* B = L + 1; arc cost = rank cost - W * stay - B * (1 + mandated).

Range. OR-Tools scales costs by (nodes + 1) and needs the result in int64.
For 50,000 learners, K = 10, squared ranks (S <= 50,000 * 121 = 6.05e6) and a
repair run where every learner has a previous arc: W ~ 6.05e6,
L = W * 50,000 + S ~ 3.0e11, max |cost| ~ 2B + W ~ 6.1e11. The nodes are the
learners, offers, hubs, employer nodes and the sink: ~95,000 for the 50,000
learner benchmark (17,000 offers, 7,000 hubs), so the scaled maximum is
~5.8e16, a factor ~80 below 2**62. `fits_int64` checks the exact figure for
every instance before solving, with a factor 2 of headroom below int64; an
instance that does not fit is split into components and, failing that,
handed to the integer engine (which fixes levels one by one, so it needs no
weights at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Largest scaled cost magnitude accepted: half of int64, as headroom.
SCALED_COST_LIMIT = 2**62


class CostRangeError(ArithmeticError):
    """The lexicographic weights would overflow OR-Tools' scaled int64 costs."""


@dataclass(frozen=True)
class FlowWeights:
    """Integer weights that make one min-cost flow lexicographic."""

    stay: int
    place: int


def flow_weights(
    arc_learner: IntArray, arc_cost: IntArray, arc_stay: BoolArray, n_learners: int
) -> FlowWeights:
    """Compute the weights for a set of arcs (see the module docstring)."""
    if arc_learner.size == 0:
        return FlowWeights(0, 1)
    top = np.zeros(n_learners, np.int64)
    np.maximum.at(top, arc_learner, arc_cost)
    spread = int(top.sum())  # Python ints: no overflow while checking
    stayers = int(np.unique(arc_learner[arc_stay]).size)
    stay = spread + 1 if stayers else 0
    lower = stay * stayers + spread
    return FlowWeights(stay, lower + 1)


def fits_int64(weights: FlowWeights, max_cost: int, n_nodes: int) -> bool:
    """Say whether the largest arc cost, scaled by the node count, fits with headroom."""
    biggest = 2 * weights.place + weights.stay + max_cost
    return biggest * (n_nodes + 1) < SCALED_COST_LIMIT


@dataclass(frozen=True)
class HubArcs:
    """Fallback arcs through hub nodes (see solver.instance.Hubs), with their rank cost."""

    n_hubs: int
    arc_learner: IntArray
    arc_hub: IntArray
    cost: int
    member_hub: IntArray
    member_offer: IntArray
    link_from: IntArray
    link_to: IntArray


def solve_flow(
    arc_learner: IntArray,
    arc_offer: IntArray,
    arc_cost: IntArray,
    arc_stay: BoolArray,
    mandated: BoolArray,
    residual: IntArray,
    offer_group: IntArray | None = None,
    group_cap: IntArray | None = None,
    hubs: HubArcs | None = None,
) -> tuple[BoolArray, IntArray, IntArray]:
    """Return the chosen explicit arcs and the (learner, offer) pairs placed through hubs.

    Arcs index learners and offers of the whole instance; only the learners and
    offers they touch become nodes. `offer_group` (per offer, -1 for none) and
    `group_cap` (per group, -1 for no cap) add an employer node capping the
    learners across its offers: each offer has one employer, so the caps are
    laminar and the placeable learner sets still form a matroid (a gammoid).
    Raises CostRangeError when the weights would not fit OR-Tools' int64 arithmetic.
    """
    empty = np.zeros(0, np.int64)
    h = hubs if hubs is not None and hubs.arc_learner.size else None
    h_l = h.arc_learner if h else empty
    n_arcs = arc_learner.size
    if n_arcs + h_l.size == 0:
        return np.zeros(0, np.bool_), empty, empty
    member_offer = h.member_offer if h else empty
    learners, l_inv = np.unique(np.concatenate([arc_learner, h_l]), return_inverse=True)
    offers, o_inv = np.unique(np.concatenate([arc_offer, member_offer]), return_inverse=True)
    l_node, hl_node = l_inv[:n_arcs], l_inv[n_arcs:]
    o_node, mo_node = o_inv[:n_arcs], o_inv[n_arcs:]
    n_l, n_o = learners.size, offers.size
    n_h = h.n_hubs if h else 0
    all_costs = np.concatenate([arc_cost, np.full(h_l.size, h.cost if h else 0, np.int64)])
    all_l = np.concatenate([l_node, hl_node])
    stay = np.concatenate([arc_stay, np.zeros(h_l.size, np.bool_)])
    weights = flow_weights(all_l, all_costs, stay, n_l)
    n_nodes = n_l + 2 * n_o + n_h + 1  # employer nodes are at most one per offer
    if not fits_int64(weights, int(all_costs.max()), n_nodes):
        raise CostRangeError(f"weights {weights} overflow for {n_nodes} nodes")
    reward = weights.place * (1 + mandated[learners].astype(np.int64))
    cost = all_costs - weights.stay * stay.astype(np.int64) - reward[all_l]

    hub0 = n_l + n_o  # hub nodes follow the offers
    # Offers of a capped employer drain through that employer's node.
    groups = np.full(n_o, -1, np.int64)
    if offer_group is not None and group_cap is not None and group_cap.size:
        capped = offer_group[offers]
        capped = np.where(capped >= 0, group_cap[np.maximum(capped, 0)], -1)
        groups = np.where(capped >= 0, offer_group[offers], -1)
    used, g_node = np.unique(groups[groups >= 0], return_inverse=True)
    n_g = used.size
    g0 = hub0 + n_h
    sink = g0 + n_g
    offer_head = np.full(n_o, sink, np.int64)
    offer_head[groups >= 0] = g0 + g_node
    g_caps = group_cap[used] if n_g else empty  # type: ignore[index]
    link_from = h.link_from if h else empty
    link_to = h.link_to if h else empty
    member_hub = h.member_hub if h else empty
    seats = residual[offers].astype(np.int64)
    link_cap = np.full(link_from.size, n_l, np.int64)

    tails = np.concatenate([
        l_node, hl_node, np.arange(n_l), n_l + np.arange(n_o), g0 + np.arange(n_g),
        hub0 + member_hub, hub0 + link_from,
    ]).astype(np.int32)
    heads = np.concatenate([
        n_l + o_node, hub0 + (h.arc_hub if h else empty), np.full(n_l, sink), offer_head,
        np.full(n_g, sink), n_l + mo_node, hub0 + link_to,
    ]).astype(np.int32)
    n_first = n_arcs + h_l.size
    caps = np.concatenate([
        np.ones(n_first + n_l, np.int64), seats, g_caps.astype(np.int64),
        seats[mo_node], link_cap,
    ])
    costs = np.concatenate([cost, np.zeros(tails.size - n_first, np.int64)]).astype(np.int64)
    supplies = np.concatenate(
        [np.ones(n_l, np.int64), np.zeros(n_o + n_h + n_g, np.int64), [-n_l]]
    )

    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    mcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies.astype(np.int64))
    status = mcf.solve()
    if status == mcf.BAD_COST_RANGE:
        raise CostRangeError("OR-Tools reported BAD_COST_RANGE")
    if status != mcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = np.asarray(mcf.flows(np.arange(tails.size, dtype=np.int32)))
    chosen = flows[:n_arcs] > 0
    if h is None:
        return chosen, empty, empty
    start = n_arcs + h_l.size + n_l + n_o + n_g
    member_flow = flows[start:start + member_hub.size]
    link_flow = flows[start + member_hub.size:]
    entered = h_l[flows[n_arcs:n_arcs + h_l.size] > 0]
    at_hub = h.arc_hub[flows[n_arcs:n_arcs + h_l.size] > 0]
    pair_l, pair_o = _unpack_hubs(entered, at_hub, h, member_flow, link_flow)
    return chosen, pair_l, pair_o


def _unpack_hubs(
    entered: IntArray, at_hub: IntArray, h: HubArcs, member_flow: IntArray, link_flow: IntArray
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
