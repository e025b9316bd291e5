"""Turn a Problem into arrays: eligible arcs with ranks and costs, locks, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .geo import haversine_km_array
from .problem import Learner, Offer, Problem

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: Largest distance matrix block (learners x offers) computed at once for fallback arcs.
BLOCK_CELLS = 2_000_000


@dataclass
class Instance:
    """The solver's array view of a problem; arcs are the allowed non-locked pairs."""

    problem: Problem
    offer_index: dict[str, int]
    learner_index: dict[str, int]
    mandated: BoolArray
    residual: IntArray  #: capacity left after locks, per offer
    locked_offer: IntArray  #: offer index per learner, -1 when not locked
    previous_offer: IntArray  #: previous offer index per learner, -1 when none or withdrawn
    arc_learner: IntArray
    arc_offer: IntArray
    arc_rank: IntArray  #: 1-based rank; K+1 for fallback arcs
    arc_cost: IntArray  #: rank cost of the arc (r or r squared)
    arc_stay: BoolArray  #: the arc is the learner's previous placement
    arc_km: FloatArray
    counted: IntArray  #: per learner: listed entries that count (eligible, within K, first)
    any_eligible: BoolArray  #: per learner: some offer at all is eligible (fallback learners)
    offer_employer: IntArray  #: constrained-employer index per offer, -1 when unconstrained
    employer_max: IntArray  #: per constrained employer: cap on non-locked learners, -1 none
    employer_min: IntArray  #: per constrained employer: min_if_any (0 when none)
    employer_locked: IntArray  #: per constrained employer: locked learners
    employer_ids: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_arcs(self) -> int:
        """Number of arcs."""
        return int(self.arc_learner.size)


def rank_cost(ranks: IntArray, kind: str) -> IntArray:
    """Return the cost of placements at the given ranks."""
    return ranks * ranks if kind == "squared" else ranks.copy()


def _codes(values: list[Any]) -> tuple[IntArray, list[Any]]:
    """Map hashable values to dense integer codes."""
    table: dict[Any, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    return codes, list(table)


def ineligibility(learner: Learner, offer: Offer, km: float) -> str | None:
    """Say why an offer is not eligible for a learner, or None when it is."""
    if offer.sector != learner.sector:
        return f"offer is in sector {offer.sector}, not {learner.sector}"
    if learner.max_km is not None and km > learner.max_km:
        return f"offer is {km:.1f} km away, beyond the {learner.max_km:g} km limit"
    missing = sorted(set(offer.requires) - set(learner.has))
    if missing:
        return "offer requires " + ", ".join(missing)
    return None


def build_instance(problem: Problem) -> Instance:
    """Compute eligibility, ranks and arcs for every non-locked learner."""
    settings = problem.settings
    k = settings.max_preferences
    offers, learners = problem.offers, problem.learners
    n_o, n_l = len(offers), len(learners)
    offer_index = {o.id: i for i, o in enumerate(offers)}
    learner_index = {le.id: i for i, le in enumerate(learners)}

    sector_codes, _ = _codes([o.sector for o in offers] + [le.sector for le in learners])
    o_sector, l_sector = sector_codes[:n_o], sector_codes[n_o:]
    o_lat = np.fromiter((o.lat for o in offers), np.float64, n_o)
    o_lon = np.fromiter((o.lon for o in offers), np.float64, n_o)
    l_lat = np.fromiter((le.lat for le in learners), np.float64, n_l)
    l_lon = np.fromiter((le.lon for le in learners), np.float64, n_l)
    l_max = np.fromiter(
        (np.inf if le.max_km is None else le.max_km for le in learners), np.float64, n_l
    )
    mandated = np.fromiter((le.mandated for le in learners), np.bool_, n_l)
    # Tag compatibility through a small table of distinct tag sets.
    req_codes, req_sets = _codes([frozenset(o.requires) for o in offers])
    has_codes, has_sets = _codes([frozenset(le.has) for le in learners])
    compat = np.array(
        [[r <= h for r in req_sets] for h in has_sets], dtype=np.bool_
    ).reshape(len(has_sets), len(req_sets))

    capacity = np.fromiter((o.capacity for o in offers), np.int64, n_o)
    locked_offer = np.full(n_l, -1, np.int64)
    for pair in problem.locked:
        locked_offer[learner_index[pair.learner]] = offer_index[pair.offer]
    residual = capacity - np.bincount(locked_offer[locked_offer >= 0], minlength=n_o)
    previous_offer = np.full(n_l, -1, np.int64)
    for pair in problem.previous or ():
        li = learner_index.get(pair.learner)
        if li is not None:
            previous_offer[li] = offer_index.get(pair.offer, -1)

    # Listed entries: positions, repeats and unknown ids (one pass over the raw lists).
    warnings: list[tuple[int, int, dict[str, Any]]] = []
    cand_l: list[int] = []
    cand_o: list[int] = []
    cand_r: list[int] = []
    for li, learner in enumerate(learners):
        seen: set[str] = set()
        for pos, entry in enumerate(learner.preferences):
            if pos >= k:
                warnings.append((li, pos, _warning(learner, entry, "beyond-max-preferences",
                                                   f"only the first {k} choices count")))
                continue
            if entry in seen:
                warnings.append((li, pos, _warning(learner, entry, "repeat",
                                                   "listed earlier; the first listing counts")))
                continue
            seen.add(entry)
            oi = offer_index.get(entry)
            if oi is None:
                warnings.append((li, pos, _warning(learner, entry, "unknown-offer",
                                                   "no such offer in this round")))
                continue
            cand_l.append(li)
            cand_o.append(oi)
            cand_r.append(pos + 1)
    c_l = np.asarray(cand_l, np.int64)
    c_o = np.asarray(cand_o, np.int64)
    c_r = np.asarray(cand_r, np.int64)
    c_km = haversine_km_array(l_lat[c_l], l_lon[c_l], o_lat[c_o], o_lon[c_o])
    ok = (
        (l_sector[c_l] == o_sector[c_o])
        & (c_km <= l_max[c_l])
        & compat[has_codes[c_l], req_codes[c_o]]
    )
    for idx in np.flatnonzero(~ok).tolist():
        li, oi = int(c_l[idx]), int(c_o[idx])
        why = ineligibility(learners[li], offers[oi], float(c_km[idx])) or "not eligible"
        warnings.append(
            (li, int(c_r[idx]) - 1, _warning(learners[li], offers[oi].id, "ineligible", why))
        )
    counted = np.bincount(c_l[ok], minlength=n_l).astype(np.int64)
    p_l, p_o, p_r, p_km = c_l[ok], c_o[ok], c_r[ok], c_km[ok]

    # Fallback arcs: every eligible offer for mandated learners, at rank K+1.
    any_eligible = counted > 0
    f_l, f_o, f_km = _fallback_arcs(
        problem, mandated & (locked_offer < 0), l_sector, o_sector, l_lat, l_lon, l_max,
        o_lat, o_lon, has_codes, req_codes, compat, any_eligible, residual,
    )
    if f_l.size:
        listed_keys = p_l * max(n_o, 1) + p_o
        keep = ~np.isin(f_l * max(n_o, 1) + f_o, listed_keys)
        f_l, f_o, f_km = f_l[keep], f_o[keep], f_km[keep]

    arc_learner = np.concatenate([p_l, f_l])
    arc_offer = np.concatenate([p_o, f_o])
    arc_rank = np.concatenate([p_r, np.full(f_l.size, k + 1, np.int64)])
    arc_km = np.concatenate([p_km, f_km])
    usable = (locked_offer[arc_learner] < 0) & (residual[arc_offer] > 0)
    arc_learner, arc_offer, arc_rank, arc_km = (
        arc_learner[usable], arc_offer[usable], arc_rank[usable], arc_km[usable]
    )
    arc_stay = previous_offer[arc_learner] == arc_offer

    employer_ids: list[str] = []
    maxes: list[int] = []
    mins: list[int] = []
    for emp in problem.employers:
        least = emp.min_if_any if emp.min_if_any is not None and emp.min_if_any > 1 else 0
        if emp.max_learners is None and least == 0:
            continue
        employer_ids.append(emp.id)
        maxes.append(-1 if emp.max_learners is None else emp.max_learners)
        mins.append(least)
    emp_pos = {e: i for i, e in enumerate(employer_ids)}
    offer_employer = np.fromiter((emp_pos.get(o.employer, -1) for o in offers), np.int64, n_o)
    locked_per_offer = capacity - residual
    employer_locked = np.zeros(len(employer_ids), np.int64)
    has_emp = offer_employer >= 0
    np.add.at(employer_locked, offer_employer[has_emp], locked_per_offer[has_emp])
    employer_max = np.asarray(maxes, np.int64)
    employer_max = np.where(employer_max >= 0, employer_max - employer_locked, -1)

    warnings.sort(key=lambda w: (w[0], w[1]))
    return Instance(
        problem=problem,
        offer_index=offer_index,
        learner_index=learner_index,
        mandated=mandated,
        residual=residual,
        locked_offer=locked_offer,
        previous_offer=previous_offer,
        arc_learner=arc_learner,
        arc_offer=arc_offer,
        arc_rank=arc_rank,
        arc_cost=rank_cost(arc_rank, settings.rank_cost),
        arc_stay=arc_stay,
        arc_km=arc_km,
        counted=counted,
        any_eligible=any_eligible,
        offer_employer=offer_employer,
        employer_max=employer_max,
        employer_min=np.asarray(mins, np.int64),
        employer_locked=employer_locked,
        employer_ids=employer_ids,
        warnings=[w for _, _, w in warnings],
    )


def _warning(learner: Learner, entry: str, reason: str, detail: str) -> dict[str, Any]:
    """Build one warning about a listed entry that could not count."""
    return {"learner": learner.id, "entry": entry, "reason": reason, "detail": detail}


def _fallback_arcs(
    problem: Problem,
    wanted: BoolArray,
    l_sector: IntArray,
    o_sector: IntArray,
    l_lat: FloatArray,
    l_lon: FloatArray,
    l_max: FloatArray,
    o_lat: FloatArray,
    o_lon: FloatArray,
    has_codes: IntArray,
    req_codes: IntArray,
    compat: BoolArray,
    any_eligible: BoolArray,
    capacity: IntArray,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Find all eligible (learner, offer) pairs for fallback learners, sector by sector.

    `any_eligible` is set for learners with an eligible offer; only offers with
    some capacity yield arcs.
    """
    empty = np.zeros(0, np.int64)
    if not problem.settings.fallback or not wanted.any():
        return empty, empty, np.zeros(0, np.float64)
    parts_l: list[IntArray] = []
    parts_o: list[IntArray] = []
    parts_km: list[FloatArray] = []
    order = np.argsort(o_sector, kind="stable")
    sectors, starts = np.unique(o_sector[order], return_index=True)
    bounds = dict(zip(sectors.tolist(), zip(starts.tolist(), [*starts[1:].tolist(),
                                                              order.size], strict=True),
                      strict=True))
    for sector in np.unique(l_sector[wanted]).tolist():
        if sector not in bounds:
            continue
        lo, hi = bounds[sector]
        offs = order[lo:hi]
        rows = np.flatnonzero(wanted & (l_sector == sector))
        step = max(1, BLOCK_CELLS // max(1, offs.size))
        for start in range(0, rows.size, step):
            block = rows[start:start + step]
            km = haversine_km_array(
                l_lat[block, None], l_lon[block, None], o_lat[None, offs], o_lon[None, offs]
            )
            ok = (km <= l_max[block, None]) & compat[has_codes[block][:, None],
                                                     req_codes[offs][None, :]]
            any_eligible[block[ok.any(axis=1)]] = True
            r, c = np.nonzero(ok & (capacity[offs] > 0)[None, :])
            parts_l.append(block[r])
            parts_o.append(offs[c])
            parts_km.append(km[r, c])
    if not parts_l:
        return empty, empty, np.zeros(0, np.float64)
    return np.concatenate(parts_l), np.concatenate(parts_o), np.concatenate(parts_km)
