"""Turn a Problem into arrays: eligible arcs with ranks and costs, locks, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .geo import haversine_km_array, reach_margin, within_reach_array
from .objective import effective_fallback_cost, rank_cost
from .problem import Learner, Problem

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
    arc_cost: IntArray  #: rank cost the engines use (r or r squared; fallback reduced exactly)
    arc_ksb: IntArray  #: outstanding KSBs of the learner the offer covers (0 unless enabled)
    arc_stay: BoolArray  #: the arc is the learner's previous placement
    arc_km: FloatArray
    counted: IntArray  #: per learner: listed entries that count (eligible, within K, first)
    any_eligible: BoolArray  #: per learner: some offer at all is eligible (fallback learners)
    offer_employer: IntArray  #: constrained-employer index per offer, -1 when unconstrained
    employer_max: IntArray  #: per constrained employer: cap on non-locked learners, -1 none
    employer_min: IntArray  #: per constrained employer: min_if_any (0 when none)
    employer_locked: IntArray  #: per constrained employer: locked learners
    employer_ids: list[str]
    fallback_cost: int = 0  #: rank cost of a fallback placement in the engines
    excluded: set[tuple[int, int]] = field(default_factory=set)  #: (learner, offer) pairs
    ksb_table: KsbTable | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    hubs: Hubs | None = None  #: fallback arcs grouped through hub nodes (flow engine only)
    offer_lat: FloatArray = field(default_factory=lambda: np.zeros(0))
    offer_lon: FloatArray = field(default_factory=lambda: np.zeros(0))
    sector_offers: dict[str, IntArray] | None = None  #: filled when explanations need it

    @property
    def n_arcs(self) -> int:
        """Number of arcs."""
        return int(self.arc_learner.size)


@dataclass
class Hubs:
    """Fallback eligibility in compressed form for the flow engine.

    A fine hub groups offers of one sector and one set of required tags that lie
    in one small grid cell; a learner links to a hub only when every offer in it
    is certainly within reach, so the hub stands for all those learner-offer arcs.
    A super hub groups all fine hubs of one sector and tag set, for learners who
    reach every one of them. Pairs in partly reachable cells stay explicit arcs.
    """

    n_hubs: int
    arc_learner: IntArray  #: learner -> hub arcs (fallback cost K+1)
    arc_hub: IntArray
    member_hub: IntArray  #: fine hub -> offer edges
    member_offer: IntArray
    link_from: IntArray  #: super hub -> fine hub edges
    link_to: IntArray
    hub_kind: IntArray  #: kind code (required tags, KSBs) of each hub, super hubs included
    #: KSBs the hub's offers cover for the learner of each learner -> hub arc
    arc_ksb: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))


class KsbTable:
    """Count |offer.ksbs & learner.outstanding_ksbs| through codes of distinct sets."""

    def __init__(self, problem: Problem) -> None:
        self.offer_code, self.offer_sets = _codes([frozenset(o.ksbs) for o in problem.offers])
        self.learner_code, self.learner_sets = _codes(
            [frozenset(le.outstanding_ksbs) for le in problem.learners]
        )
        self._cache: dict[tuple[int, int], int] = {}

    def count(self, learner_code: IntArray, ksb_sets: list[frozenset[str]],
              set_code: IntArray) -> IntArray:
        """Return, per pair, the size of the intersection of a learner's set and a KSB set."""
        out = np.zeros(learner_code.size, np.int64)
        if learner_code.size == 0:
            return out
        keys = learner_code * max(1, len(ksb_sets)) + set_code
        uniq, inv = np.unique(keys, return_inverse=True)
        vals = np.fromiter(
            (len(self.learner_sets[int(k) // max(1, len(ksb_sets))]
                 & ksb_sets[int(k) % max(1, len(ksb_sets))]) for k in uniq.tolist()),
            np.int64, uniq.size,
        )
        return vals[inv.ravel()]

    def pairs(self, learners: IntArray, offers: IntArray) -> IntArray:
        """Return the KSB count of (learner, offer) pairs."""
        return self.count(self.learner_code[learners], self.offer_sets, self.offer_code[offers])


def _codes(values: list[Any]) -> tuple[IntArray, list[Any]]:
    """Map hashable values to dense integer codes."""
    table: dict[Any, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    return codes, list(table)


def build_instance(problem: Problem, *, hubs: bool = True) -> Instance:
    """Compute eligibility, ranks and arcs for every non-locked learner.

    With `hubs` (the default) fallback arcs are grouped through hub nodes; without,
    all are explicit (tests compare the two).
    """
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
    ksb_table = KsbTable(problem) if settings.ksb_coverage else None
    # Offers are grouped by kind: required tags and, when KSB coverage counts, KSBs.
    kinds = [(frozenset(o.requires), frozenset(o.ksbs) if ksb_table else frozenset())
             for o in offers]
    kind_codes, kind_sets = _codes(kinds)
    req_codes, req_sets = _codes([frozenset(o.requires) for o in offers])
    has_codes, has_sets = _codes([frozenset(le.has) for le in learners])
    compat = np.array(
        [[r <= h for r in req_sets] for h in has_sets], dtype=np.bool_
    ).reshape(len(has_sets), len(req_sets))
    kind_compat = np.array(
        [[kd[0] <= h for kd in kind_sets] for h in has_sets], dtype=np.bool_
    ).reshape(len(has_sets), len(kind_sets))

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
    # Exclusions of known offers (unknown ids are ignored); locked learners keep their lock.
    excluded: set[tuple[int, int]] = set()
    for li, learner in enumerate(learners):
        for entry in learner.excluded:
            oi = offer_index.get(entry)
            if oi is not None:
                excluded.add((li, oi))
    has_exclusion = np.zeros(n_l, np.bool_)
    for li, _ in excluded:
        has_exclusion[li] = True

    # Listed entries: positions, repeats, unknown and excluded ids (one pass over the lists).
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
            if (li, oi) in excluded:
                warnings.append((li, pos, _warning(learner, entry, "excluded",
                                                   "this offer is excluded for you")))
                continue
            cand_l.append(li)
            cand_o.append(oi)
            cand_r.append(pos + 1)
    c_l = np.asarray(cand_l, np.int64)
    c_o = np.asarray(cand_o, np.int64)
    c_r = np.asarray(cand_r, np.int64)
    c_km = haversine_km_array(l_lat[c_l], l_lon[c_l], o_lat[c_o], o_lon[c_o])
    reach = within_reach_array(l_lat[c_l], l_lon[c_l], o_lat[c_o], o_lon[c_o], l_max[c_l],
                               km=c_km)
    ok = (l_sector[c_l] == o_sector[c_o]) & reach & compat[has_codes[c_l], req_codes[c_o]]
    bad = np.flatnonzero(~ok)
    # Reason per ignored entry: sector, then distance, then requirements (docs order).
    other = (l_sector[c_l[bad]] != o_sector[c_o[bad]]).tolist()
    far = (~reach[bad]).tolist()
    missing: dict[tuple[int, int], str] = {}
    for j, idx in enumerate(bad.tolist()):
        li, oi = int(c_l[idx]), int(c_o[idx])
        learner, offer = learners[li], offers[oi]
        if other[j]:
            why = f"offer is in sector {offer.sector}, not {learner.sector}"
        elif far[j]:
            why = f"offer is {c_km[idx]:.1f} km away, beyond the {learner.max_km:g} km limit"
        else:
            key = (int(has_codes[li]), int(req_codes[oi]))
            if key not in missing:
                missing[key] = "offer requires " + ", ".join(
                    sorted(set(offer.requires) - set(learner.has))
                )
            why = missing[key]
        warnings.append((li, int(c_r[idx]) - 1, _warning(learner, offer.id, "ineligible", why)))
    counted = np.bincount(c_l[ok], minlength=n_l).astype(np.int64)
    p_l, p_o, p_r, p_km = c_l[ok], c_o[ok], c_r[ok], c_km[ok]

    # The engines' fallback cost: c(K+1), reduced exactly past the listed costs' total.
    p_cost = rank_cost(p_r, settings.rank_cost)
    top = np.zeros(n_l, np.int64)
    np.maximum.at(top, p_l, p_cost)
    fallback_cost = effective_fallback_cost(k, settings.rank_cost, sum(top.tolist()))

    # Fallback arcs: every eligible offer for mandated learners, at rank K+1.
    any_eligible = counted > 0
    wanted = mandated & (locked_offer < 0)
    geo = (l_sector, o_sector, l_lat, l_lon, l_max, o_lat, o_lon, has_codes, kind_codes,
           kind_compat)
    hub_data: Hubs | None = None
    f_l = f_o = np.zeros(0, np.int64)
    f_km = np.zeros(0, np.float64)
    if settings.fallback and wanted.any():
        # Learners with exclusions never go through hubs (a hub may hand out any member).
        plain = wanted & has_exclusion if hubs else wanted
        if hubs and (wanted & ~has_exclusion).any():
            h_l, h_o, h_km, hub_data = _fallback_hubs(
                wanted & ~has_exclusion, previous_offer, residual, *geo
            )
            f_l, f_o, f_km = h_l, h_o, h_km
        if plain.any():
            e_l, e_o, e_km = _fallback_arcs(plain, *geo, any_eligible, residual)
            if excluded:
                drop = np.fromiter(((a, b) in excluded for a, b in
                                    zip(e_l.tolist(), e_o.tolist(), strict=True)),
                                   np.bool_, e_l.size)
                e_l, e_o, e_km = e_l[~drop], e_o[~drop], e_km[~drop]
            f_l, f_o, f_km = (np.concatenate([f_l, e_l]), np.concatenate([f_o, e_o]),
                              np.concatenate([f_km, e_km]))
    if f_l.size:
        listed_keys = p_l * max(n_o, 1) + p_o
        keep = ~np.isin(f_l * max(n_o, 1) + f_o, listed_keys)
        f_l, f_o, f_km = f_l[keep], f_o[keep], f_km[keep]

    arc_learner = np.concatenate([p_l, f_l])
    arc_offer = np.concatenate([p_o, f_o])
    arc_rank = np.concatenate([p_r, np.full(f_l.size, k + 1, np.int64)])
    arc_cost = np.concatenate([p_cost, np.full(f_l.size, fallback_cost, np.int64)])
    arc_km = np.concatenate([p_km, f_km])
    usable = (locked_offer[arc_learner] < 0) & (residual[arc_offer] > 0)
    arc_learner, arc_offer, arc_rank, arc_cost, arc_km = (
        arc_learner[usable], arc_offer[usable], arc_rank[usable], arc_cost[usable],
        arc_km[usable],
    )
    arc_stay = previous_offer[arc_learner] == arc_offer
    arc_ksb = (ksb_table.pairs(arc_learner, arc_offer) if ksb_table is not None
               else np.zeros(arc_learner.size, np.int64))
    if hub_data is not None:
        if ksb_table is not None:
            kind_ksbs = [kd[1] for kd in kind_sets]
            hub_data.arc_ksb = ksb_table.count(ksb_table.learner_code[hub_data.arc_learner],
                                               kind_ksbs, hub_data.hub_kind[hub_data.arc_hub])
        else:
            hub_data.arc_ksb = np.zeros(hub_data.arc_learner.size, np.int64)

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
        arc_cost=arc_cost,
        arc_ksb=arc_ksb,
        arc_stay=arc_stay,
        arc_km=arc_km,
        counted=counted,
        any_eligible=any_eligible,
        offer_employer=offer_employer,
        employer_max=employer_max,
        employer_min=np.asarray(mins, np.int64),
        employer_locked=employer_locked,
        employer_ids=employer_ids,
        fallback_cost=fallback_cost,
        excluded=excluded,
        ksb_table=ksb_table,
        warnings=[w for _, _, w in warnings],
        hubs=hub_data,
        offer_lat=o_lat,
        offer_lon=o_lon,
    )


def _warning(learner: Learner, entry: str, reason: str, detail: str) -> dict[str, Any]:
    """Build one warning about a listed entry that could not count."""
    return {"learner": learner.id, "entry": entry, "reason": reason, "detail": detail}


def _fallback_arcs(
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
    if not wanted.any():
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
            reach = within_reach_array(l_lat[block, None], l_lon[block, None],
                                       o_lat[None, offs], o_lon[None, offs],
                                       l_max[block, None], km=km)
            ok = reach & compat[has_codes[block][:, None], req_codes[offs][None, :]]
            any_eligible[block[ok.any(axis=1)]] = True
            r, c = np.nonzero(ok & (capacity[offs] > 0)[None, :])
            parts_l.append(block[r])
            parts_o.append(offs[c])
            parts_km.append(km[r, c])
    if not parts_l:
        return empty, empty, np.zeros(0, np.float64)
    return np.concatenate(parts_l), np.concatenate(parts_o), np.concatenate(parts_km)


#: Grid cell of a fine hub, in degrees of latitude and longitude (about 5.5 km x 5.3 km).
CELL_LAT, CELL_LON = 0.05, 0.08


def _fallback_hubs(
    wanted: BoolArray,
    previous_offer: IntArray,
    residual: IntArray,
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
) -> tuple[IntArray, IntArray, FloatArray, Hubs]:
    """Build hubs and the explicit fallback arcs they leave over, sector by sector.

    Reachability of a whole hub uses the triangle inequality on the sphere:
    distance(learner, centre) + radius <= max_km means every member is within
    reach; distance - radius > max_km means none is; other cells are checked
    pair by pair with the exact rule.
    """
    parts_l: list[IntArray] = []
    parts_o: list[IntArray] = []
    parts_km: list[FloatArray] = []
    hub_l: list[IntArray] = []
    hub_h: list[IntArray] = []
    mem_h: list[IntArray] = []
    mem_o: list[IntArray] = []
    link_f: list[IntArray] = []
    link_t: list[IntArray] = []
    supers: list[tuple[int, int]] = []  # (sector, req code) of each super hub, numbered later
    super_l: list[IntArray] = []
    fine_kind: list[IntArray] = []
    super_k: list[IntArray] = []
    n_fine = 0
    for sector in np.unique(l_sector[wanted]).tolist():
        offs = np.flatnonzero((o_sector == sector) & (residual > 0))
        rows = np.flatnonzero(wanted & (l_sector == sector))
        if offs.size == 0:
            continue
        # Fine hubs: offers sharing a grid cell and a set of required tags.
        key = np.stack([np.floor(o_lat[offs] / CELL_LAT), np.floor(o_lon[offs] / CELL_LON),
                        req_codes[offs].astype(np.float64)], axis=1)
        _, local = np.unique(key, axis=0, return_inverse=True)
        local = local.ravel()
        n_h = int(local.max()) + 1
        size = np.bincount(local, minlength=n_h)
        c_lat = np.bincount(local, o_lat[offs], n_h) / size
        c_lon = np.bincount(local, o_lon[offs], n_h) / size
        radius = np.zeros(n_h)
        np.maximum.at(radius, local, haversine_km_array(c_lat[local], c_lon[local],
                                                        o_lat[offs], o_lon[offs]))
        h_req = np.zeros(n_h, np.int64)
        h_req[local] = req_codes[offs]
        fine_kind.append(h_req)
        mem_h.append(n_fine + local)
        mem_o.append(offs)
        codes = np.unique(h_req).tolist()
        step = max(1, BLOCK_CELLS // n_h)
        for start in range(0, rows.size, step):
            block = rows[start:start + step]
            lim = l_max[block, None]
            dist = haversine_km_array(l_lat[block, None], l_lon[block, None],
                                      c_lat[None, :], c_lon[None, :])
            ok = compat[has_codes[block][:, None], h_req[None, :]]
            # The margin grows with the distance: floating-point error does too.
            margin = reach_margin(lim) + 4 * reach_margin(dist + radius[None, :])
            full = ok & (dist + radius[None, :] <= lim - margin)
            part = ok & ~full & (dist - radius[None, :] <= lim + margin)
            for code in codes:
                cols = h_req == code
                every = full[:, cols].all(axis=1) & compat[has_codes[block], code]
                if every.any() and cols.sum() > 1:
                    full[np.ix_(every, cols)] = False
                    super_l.append(block[every])
                    super_k.append(np.full(int(every.sum()), len(supers), np.int64))
                    link_f.append(np.full(int(cols.sum()), len(supers), np.int64))
                    link_t.append(n_fine + np.flatnonzero(cols))
                    supers.append((sector, code))
            r, c = np.nonzero(full)
            hub_l.append(block[r])
            hub_h.append(n_fine + c)
            # Partly reachable cells: expand to member offers and check each pair exactly.
            r, c = np.nonzero(part)
            order = np.argsort(local, kind="stable")
            ptr = np.concatenate([[0], np.cumsum(size)])
            lens = size[c]
            first = np.repeat(ptr[c], lens)
            within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
            pair_l = np.repeat(block[r], lens)
            pair_o = offs[order[first + within]]
            km = haversine_km_array(l_lat[pair_l], l_lon[pair_l], o_lat[pair_o], o_lon[pair_o])
            good = within_reach_array(l_lat[pair_l], l_lon[pair_l], o_lat[pair_o],
                                      o_lon[pair_o], l_max[pair_l], km=km)
            parts_l.append(pair_l[good])
            parts_o.append(pair_o[good])
            parts_km.append(km[good])
        n_fine += n_h
    # Super hubs are numbered after the fine hubs (one per sector and tag set used).
    super_ids = {sk: n_fine + i for i, sk in enumerate(dict.fromkeys(supers))}
    renumber = np.array([super_ids[sk] for sk in supers], np.int64)
    # A learner's previous offer, when eligible, stays an explicit arc (it carries the reward).
    prev_l = np.flatnonzero(wanted & (previous_offer >= 0))
    prev_o = previous_offer[prev_l]
    km = haversine_km_array(l_lat[prev_l], l_lon[prev_l], o_lat[prev_o], o_lon[prev_o])
    near = within_reach_array(l_lat[prev_l], l_lon[prev_l], o_lat[prev_o], o_lon[prev_o],
                              l_max[prev_l], km=km)
    good = ((l_sector[prev_l] == o_sector[prev_o]) & near
            & compat[has_codes[prev_l], req_codes[prev_o]] & (residual[prev_o] > 0))
    parts_l.append(prev_l[good])
    parts_o.append(prev_o[good])
    parts_km.append(km[good])

    def cat(items: list[IntArray]) -> IntArray:
        return np.concatenate(items).astype(np.int64) if items else np.zeros(0, np.int64)

    s_l, s_k = cat(super_l), cat(super_k)
    l_from = cat(link_f)
    hubs = Hubs(
        hub_kind=np.concatenate([cat(fine_kind),
                                 np.array([sk[1] for sk in super_ids], np.int64)]),
        n_hubs=n_fine + len(super_ids),
        arc_learner=np.concatenate([cat(hub_l), s_l]),
        arc_hub=np.concatenate([cat(hub_h), renumber[s_k] if s_k.size else s_k]),
        member_hub=cat(mem_h),
        member_offer=cat(mem_o),
        link_from=renumber[l_from] if l_from.size else l_from,
        link_to=cat(link_t),
    )
    # Several blocks may add the same super-hub link; keep each once.
    if hubs.link_from.size:
        links = np.unique(np.stack([hubs.link_from, hubs.link_to]), axis=1)
        hubs.link_from, hubs.link_to = links[0], links[1]
    km_all = np.concatenate(parts_km) if parts_km else np.zeros(0)
    pairs = np.unique(np.stack([cat(parts_l), cat(parts_o)]), axis=1, return_index=True)
    return pairs[0][0], pairs[0][1], km_all[pairs[1]], hubs
