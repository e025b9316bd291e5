"""Independent reference checks for the solver tests: eligibility, brute force, max flow."""

from __future__ import annotations

import itertools
import math
from typing import Any

from ortools.graph.python import max_flow


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance written independently of solver.geo."""
    r = 6371.0088
    a = math.radians(lat1)
    b = math.radians(lat2)
    h = math.sin((b - a) / 2) ** 2 + math.cos(a) * math.cos(b) * math.sin(
        math.radians(lon2 - lon1) / 2
    ) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def eligible(learner: dict[str, Any], offer: dict[str, Any]) -> bool:
    """Apply the eligibility rule of problem-format.md."""
    if learner["sector"] != offer["sector"]:
        return False
    limit = learner.get("max_km")
    if limit is not None and km(learner["lat"], learner["lon"], offer["lat"], offer["lon"]) > limit:
        return False
    return set(offer.get("requires", [])) <= set(learner.get("has", []))


def allowed(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Map each non-locked learner to {offer id: rank} of the placements the rules allow."""
    settings = data.get("settings", {})
    k = settings.get("max_preferences", 10)
    fallback = settings.get("fallback", True)
    offers = {o["id"]: o for o in data["offers"]}
    locked = {p["learner"] for p in data.get("locked", [])}
    out: dict[str, dict[str, int]] = {}
    for learner in data["learners"]:
        if learner["id"] in locked:
            continue
        options: dict[str, int] = {}
        seen: set[str] = set()
        excluded = set(learner.get("excluded", []))
        for pos, entry in enumerate(learner.get("preferences", [])[:k]):
            if entry in seen:
                continue
            seen.add(entry)
            if entry in offers and entry not in excluded and eligible(learner, offers[entry]):
                options[entry] = pos + 1
        if learner.get("mandated", False) and fallback:
            for oid, offer in offers.items():
                if oid not in options and oid not in excluded and eligible(learner, offer):
                    options[oid] = k + 1
        out[learner["id"]] = options
    return out


def cost_of(rank: int, kind: str) -> int:
    """Rank cost."""
    return rank * rank if kind == "squared" else rank


def brute_force(data: dict[str, Any]) -> tuple[int, ...] | None:
    """Return the best (−mandated, −placed, [moved,] rank cost[, −ksb]) by enumeration.

    None when no allocation meets the locks and employer limits.
    """
    kind = data.get("settings", {}).get("rank_cost", "squared")
    ksb = data.get("settings", {}).get("ksb_coverage", False)
    offers = {o["id"]: o for o in data["offers"]}
    learners = {le["id"]: le for le in data["learners"]}
    locked = {p["learner"]: p["offer"] for p in data.get("locked", [])}
    previous = data.get("previous")
    options = allowed(data)
    names = list(options)
    choices = [[None, *options[n]] for n in names]
    best: tuple[int, ...] | None = None
    for combo in itertools.product(*choices):
        final = dict(locked)
        final.update({n: o for n, o in zip(names, combo, strict=True) if o is not None})
        use: dict[str, int] = {}
        for o in final.values():
            use[o] = use.get(o, 0) + 1
        if any(use[o] > offers[o]["capacity"] for o in use):
            continue
        if not employer_limits_hold(data, final):
            continue
        mandated = sum(1 for n in final if learners[n].get("mandated", False))
        rank = sum(
            cost_of(options[n][o], kind) for n, o in zip(names, combo, strict=True) if o
        )
        key: tuple[int, ...] = (-mandated, -len(final))
        if previous is not None:
            key += (sum(1 for p in previous if final.get(p["learner"]) != p["offer"]),)
        key += (rank,)
        if ksb:
            key += (-sum(
                len(set(offers[o].get("ksbs", [])) & set(learners[n].get("outstanding_ksbs", [])))
                for n, o in zip(names, combo, strict=True) if o
            ),)
        if best is None or key < best:
            best = key
    return best


def employer_limits_hold(data: dict[str, Any], final: dict[str, str]) -> bool:
    """Check max_learners and min_if_any for an allocation {learner: offer}."""
    employer_of = {o["id"]: o["employer"] for o in data["offers"]}
    count: dict[str, int] = {}
    for offer in final.values():
        count[employer_of[offer]] = count.get(employer_of[offer], 0) + 1
    for emp in data.get("employers", []):
        n = count.get(emp["id"], 0)
        if emp.get("max_learners") is not None and n > emp["max_learners"]:
            return False
        least = emp.get("min_if_any")
        if least is not None and 0 < n < least:
            return False
    return True


def max_mandated(data: dict[str, Any]) -> int:
    """Most mandated learners placeable at once (locks included), by a separate max flow."""
    options = allowed(data)
    learners = {le["id"]: le for le in data["learners"]}
    locked = data.get("locked", [])
    left = {o["id"]: o["capacity"] for o in data["offers"]}
    for pair in locked:
        left[pair["offer"]] -= 1
    mandated = [n for n in options if learners[n].get("mandated", False)]
    locked_mandated = sum(1 for p in locked if learners[p["learner"]].get("mandated", False))
    if not mandated:
        return locked_mandated
    offer_ids = list(left)
    node = {o: 1 + len(mandated) + i for i, o in enumerate(offer_ids)}
    sink = 1 + len(mandated) + len(offer_ids)
    flow = max_flow.SimpleMaxFlow()
    for i, n in enumerate(mandated):
        flow.add_arc_with_capacity(0, 1 + i, 1)
        for o in options[n]:
            flow.add_arc_with_capacity(1 + i, node[o], 1)
    for o in offer_ids:
        flow.add_arc_with_capacity(node[o], sink, max(0, left[o]))
    assert flow.solve(0, sink) == flow.OPTIMAL
    return flow.optimal_flow() + locked_mandated
