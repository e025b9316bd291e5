"""Pure arithmetic for the insight pages: supply and demand, fairness, engagement conversion.

Nothing here touches the database or Flask; the services feed plain records in.

Supply and demand (per sector and area, where "area" is a postcode area such as SK, or an
ONS region):

- *learners*: learners of the cell (where they live), and *mandated* those of them whose
  programme mandates a placement;
- with an allocation (a run of the round, or a solve made for the insight pages): *placed*
  and *unplaced* learners of the cell in that allocation, and *mandated unplaced*, the
  mandated learners the allocation's optimum leaves without a place: the shortfall. These
  are counts of learners, so they add up exactly across cells to the allocation's own
  totals;
- *offered*: places (capacity) of the offers whose site is in the cell;
- *reachable*: places of the distinct offers in the sector that at least one learner of the
  cell can take (the eligibility rule: `placements.domain.eligibility.reach_matrix`). The
  same place can be within reach of several cells, so reachable places are context, never a
  shortfall: they do not add up across cells, and learners of neighbouring cells compete
  for them.

Fairness (per learner group of one dimension, e.g. age band):

- placement rate = placed / learners; mandated placement rate = mandated placed / mandated
  learners; mean rank = mean preference rank of the placed learners that have one (fallback
  placements count as K+1; officers' locks have no rank and are left out); first-choice
  share = learners placed at their first choice / learners.
- Suppression: every count under 5 (0 included) is shown as "fewer than 5", and a group
  of fewer than 5 learners shows nothing at all. Because the run's totals are shown, a
  single hidden value in a column could be worked out by subtracting the shown values from
  the total; so when exactly one group of a dimension is hidden in a column, the smallest
  other value of that column is withheld too (secondary suppression; a hidden group size
  hides the whole row). A rate or mean is withheld whenever a count it is made from is.
  Combining two dimensions (e.g. provider and age band) can still narrow values down; the
  report shows one dimension at a time and never cross-tabulates.
- "Clearly worse" flag: a group's placement rate (or mandated placement rate) is more than
  10 percentage points below the rate of all other learners of the run taken together, and
  both the group and the rest have at least 5 learners in that denominator. The flag is
  raised even when the rate itself is withheld; it says no number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from placements.domain import eligibility

SUPPRESS_BELOW = 5
FLAG_GAP_PP = 10.0
#: Rows of the learner x offer distance block computed at once (memory stays ~ rows x offers).
CHUNK_ROWS = 2048


def postcode_area(postcode: str) -> str:
    """Return the postcode area (the letters of the outward code): "SK4 2AB" -> "SK"."""
    outward = (postcode or "").strip().upper().split(" ")[0]
    letters = ""
    for char in outward:
        if not char.isalpha():
            break
        letters += char
    return letters


# --- supply and demand ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DemandLearner:
    """A learner who needs a placement, as far as supply and demand care."""

    sector: str
    cell: str  #: the area or region key of the learner's home
    mandated: bool
    lat: float
    lon: float
    max_km: float
    has: frozenset[str] = frozenset()
    #: In the allocation the figures come from: placed or not (None: no allocation).
    placed: bool | None = None


@dataclass(frozen=True, slots=True)
class SupplyOffer:
    """An open offer's places."""

    sector: str
    cell: str  #: the area or region key of the offer's site
    capacity: int
    lat: float
    lon: float
    requires: frozenset[str] = frozenset()


@dataclass(slots=True)
class SupplyDemandCell:
    """One row of the supply and demand table."""

    sector: str
    cell: str
    learners: int = 0
    mandated: int = 0
    offered: int = 0
    reachable: int = 0
    placed: int = 0
    unplaced: int = 0
    mandated_unplaced: int = 0  #: the shortfall, when the figures come from an allocation


def reachable_by_group(learners: Sequence[DemandLearner], offers: Sequence[SupplyOffer],
                       groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Return a (n_groups x offers) boolean array: some learner of the group can take it.

    All learners and offers must be of one sector; `groups[i]` is learner i's group index.
    The pair rule is eligibility's (`placements.domain.eligibility.reach_matrix`), applied
    in blocks of CHUNK_ROWS learners. Homes are postcode-district centroids and travel
    limits are round numbers, so many learners of a group are the same as far as reach
    goes: one of each is kept. Of learners of a group at the same home holding the same
    checks, only the one who travels furthest is kept: the others reach no offer it does
    not (the rule's distance test is monotone in the limit).
    """
    reach = np.zeros((n_groups, len(offers)), dtype=bool)
    if not learners or not offers:
        return reach
    tag_index: dict[str, int] = {}
    need = eligibility.tag_masks([o.requires for o in offers], tag_index)
    has = eligibility.tag_masks([lr.has for lr in learners], tag_index)
    o_lat = np.array([o.lat for o in offers])
    o_lon = np.array([o.lon for o in offers])
    keys = np.unique(np.column_stack([groups, [lr.lat for lr in learners],
                                      [lr.lon for lr in learners], has,
                                      [lr.max_km for lr in learners]]), axis=0)
    # Sorted by group, home, checks, then limit: keep the last (furthest) of each run.
    last = np.r_[np.any(keys[1:, :4] != keys[:-1, :4], axis=1), True]
    keys = keys[last]
    groups = keys[:, 0].astype(np.int64)  # sorted by group, which the loop relies on
    l_lat, l_lon, l_max = keys[:, 1], keys[:, 2], keys[:, 4]
    l_has = keys[:, 3].astype(np.int64)
    for start in range(0, len(groups), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        ok = eligibility.reach_matrix(l_lat[rows], l_lon[rows], l_max[rows], l_has[rows],
                                      o_lat, o_lon, need)
        g = groups[rows]
        firsts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        reach[g[firsts]] |= np.logical_or.reduceat(ok, firsts, axis=0)
    return reach


def supply_demand(learners: Iterable[DemandLearner],
                  offers: Iterable[SupplyOffer]) -> list[SupplyDemandCell]:
    """Return one row per (sector, cell) with learners or places, sorted by sector and cell."""
    learners, offers = list(learners), list(offers)
    return supply_demand_grouped(learners, offers, [(lr.cell,) for lr in learners],
                                 [(o.cell,) for o in offers], views=1)[0]


def supply_demand_grouped(learners: Sequence[DemandLearner], offers: Sequence[SupplyOffer],
                          learner_cells: Sequence[tuple[str, ...]],
                          offer_cells: Sequence[tuple[str, ...]], *,
                          views: int) -> list[list[SupplyDemandCell]]:
    """Return the table of `supply_demand` once per grouping (area and region, say) with the
    reach worked out once: `learner_cells[i]` and `offer_cells[j]` hold the cell of learner i
    and offer j in each of the `views` groupings (the `cell` of the records is not read).
    Reach is worked out for each distinct combination of cells learners have, and a cell of
    one grouping reaches the places some combination with that cell reaches."""
    by_sector_l: dict[str, list[int]] = defaultdict(list)
    by_sector_o: dict[str, list[int]] = defaultdict(list)
    for i, lr in enumerate(learners):
        by_sector_l[lr.sector].append(i)
    for j, of in enumerate(offers):
        if of.capacity > 0:
            by_sector_o[of.sector].append(j)
    tables: list[dict[tuple[str, str], SupplyDemandCell]] = [{} for _ in range(views)]

    def cell(v: int, sector: str, key: str) -> SupplyDemandCell:
        return tables[v].setdefault((sector, key), SupplyDemandCell(sector, key))

    for sector in sorted(set(by_sector_l) | set(by_sector_o)):
        l_ids, o_ids = by_sector_l.get(sector, []), by_sector_o.get(sector, [])
        for j in o_ids:
            for v in range(views):
                cell(v, sector, offer_cells[j][v]).offered += offers[j].capacity
        combos = sorted({learner_cells[i] for i in l_ids})
        combo_index = {c: k for k, c in enumerate(combos)}
        for i in l_ids:
            lr = learners[i]
            for v in range(views):
                row = cell(v, sector, learner_cells[i][v])
                row.learners += 1
                row.mandated += int(lr.mandated)
                if lr.placed is not None:
                    row.placed += int(lr.placed)
                    row.unplaced += int(not lr.placed)
                    row.mandated_unplaced += int(lr.mandated and not lr.placed)
        if not l_ids:
            continue
        s_offers = [offers[j] for j in o_ids]
        groups = np.array([combo_index[learner_cells[i]] for i in l_ids], dtype=np.int64)
        reach = reachable_by_group([learners[i] for i in l_ids], s_offers, groups, len(combos))
        capacity = np.array([o.capacity for o in s_offers], dtype=np.int64)
        for v in range(views):
            keys = sorted({c[v] for c in combos})
            key_index = {k: n for n, k in enumerate(keys)}
            rows = np.array([key_index[c[v]] for c in combos], dtype=np.int64)
            by_key = np.zeros((len(keys), len(s_offers)), dtype=bool)
            np.logical_or.at(by_key, rows, reach)
            places = by_key.astype(np.int64) @ capacity if s_offers else \
                np.zeros(len(keys), dtype=np.int64)
            for key, n in key_index.items():
                cell(v, sector, key).reachable = int(places[n])
    return [[t[k] for k in sorted(t)] for t in tables]


#: Columns that add up across cells (reachable places do not: they overlap).
ADDITIVE = ("learners", "mandated", "offered", "placed", "unplaced", "mandated_unplaced")


def sector_totals(rows: Iterable[SupplyDemandCell]) -> dict[str, dict[str, int]]:
    """Add up the additive columns per sector (reachable places overlap: never added)."""
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        t = totals.setdefault(row.sector, dict.fromkeys(ADDITIVE, 0))
        for name in ADDITIVE:
            t[name] += getattr(row, name)
    return totals


def grand_total(totals: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Add the sector totals up (every column of `ADDITIVE`)."""
    return {name: sum(t[name] for t in totals.values()) for name in ADDITIVE}


def heat_level(unplaced: int, learners: int) -> int:
    """Grade a cell 0-3 for the heat map by the share of its learners left unplaced: none,
    under a quarter, under a half, a half or more."""
    if learners <= 0 or unplaced <= 0:
        return 0
    share = unplaced / learners
    if share < 0.25:
        return 1
    if share < 0.5:
        return 2
    return 3


# --- fairness ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Outcome:
    """One learner of a run: their groups and what the run did for them."""

    groups: Mapping[str, str]  #: dimension -> group label ("Not given" when unknown)
    mandated: bool
    placed: bool
    rank: int | None = None  #: preference rank when placed (None when locked or unplaced)


COUNT_FIELDS = ("learners", "placed", "mandated", "mandated_placed", "first_choice")


@dataclass(slots=True)
class GroupCounts:
    """Raw counts of one group (never shown as such: see `suppress`)."""

    label: str
    learners: int = 0
    placed: int = 0
    mandated: int = 0
    mandated_placed: int = 0
    first_choice: int = 0
    ranked: int = 0
    rank_sum: int = 0

    def add(self, outcome: Outcome) -> None:
        self.add_alike(outcome.mandated, outcome.placed, outcome.rank, 1)

    def add_alike(self, mandated: bool, placed: bool, rank: int | None, n: int) -> None:
        """Count `n` learners with the same outcome at once."""
        self.learners += n
        self.mandated += n * int(mandated)
        if placed:
            self.placed += n
            self.mandated_placed += n * int(mandated)
            if rank is not None:
                self.ranked += n
                self.rank_sum += n * rank
                self.first_choice += n * int(rank == 1)

    def count(self, name: str) -> int:
        return int(getattr(self, name))


def percent(numerator: int, denominator: int) -> float | None:
    """Return numerator/denominator as a percentage to one decimal place (None for 0/0)."""
    if denominator <= 0:
        return None
    return round(100.0 * numerator / denominator, 1)


def group_counts(outcomes: Iterable[Outcome], dimension: str) -> tuple[list[GroupCounts],
                                                                      GroupCounts]:
    """Count the outcomes per group of one dimension; return (groups by label, total)."""
    alike = Counter((o.groups.get(dimension) or "Not given", o.mandated, o.placed, o.rank)
                    for o in outcomes)
    groups: dict[str, GroupCounts] = {}
    total = GroupCounts("All learners")
    for (label, mandated, placed, rank), n in alike.items():
        groups.setdefault(label, GroupCounts(label)).add_alike(mandated, placed, rank, n)
        total.add_alike(mandated, placed, rank, n)
    return [groups[k] for k in sorted(groups)], total


@dataclass(slots=True)
class ShownGroup:
    """One row of the fairness table after suppression: None means withheld."""

    label: str
    counts: dict[str, int | None]
    placement_rate: float | None
    mandated_rate: float | None
    mean_rank: float | None
    first_choice_share: float | None
    #: Fields withheld because they are under 5 (as opposed to withheld to protect others).
    small: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)

    @property
    def row_hidden(self) -> bool:
        return self.counts["learners"] is None


def clearly_worse(group: GroupCounts, total: GroupCounts, numerator: str,
                  denominator: str) -> bool:
    """Say whether the group's numerator/denominator rate is more than FLAG_GAP_PP points
    below that of every other learner taken together, with at least 5 in both."""
    g_den, g_num = group.count(denominator), group.count(numerator)
    r_den = total.count(denominator) - g_den
    r_num = total.count(numerator) - g_num
    if g_den < SUPPRESS_BELOW or r_den < SUPPRESS_BELOW:
        return False
    return 100.0 * r_num / r_den - 100.0 * g_num / g_den > FLAG_GAP_PP


def suppress(groups: Sequence[GroupCounts], total: GroupCounts) -> tuple[list[ShownGroup],
                                                                         ShownGroup]:
    """Apply small-number suppression to one dimension's groups and its total."""
    hidden: dict[str, set[str]] = {g.label: set() for g in groups}
    small: dict[str, set[str]] = {g.label: set() for g in groups}
    for g in groups:
        if g.learners < SUPPRESS_BELOW:
            hidden[g.label].update(COUNT_FIELDS)
            small[g.label].update(COUNT_FIELDS)
            continue
        for name in COUNT_FIELDS:
            if g.count(name) < SUPPRESS_BELOW:
                hidden[g.label].add(name)
                small[g.label].add(name)
    # Secondary suppression, group sizes first (a hidden size hides the whole row).
    for name in COUNT_FIELDS:
        _protect_column(groups, hidden, name)
        if name == "learners":
            for g in groups:
                if "learners" in hidden[g.label]:
                    hidden[g.label].update(COUNT_FIELDS)
    shown = [_shown(g, hidden[g.label], small[g.label]) for g in groups]
    for row, g in zip(shown, groups, strict=True):
        if clearly_worse(g, total, "placed", "learners"):
            row.flags.append("placement rate")
        if clearly_worse(g, total, "mandated_placed", "mandated"):
            row.flags.append("mandated placement rate")
    total_hidden = {n for n in COUNT_FIELDS if total.count(n) < SUPPRESS_BELOW}
    if total.learners < SUPPRESS_BELOW:
        total_hidden = set(COUNT_FIELDS)
    return shown, _shown(total, total_hidden, set(total_hidden))


def _protect_column(groups: Sequence[GroupCounts], hidden: dict[str, set[str]],
                    name: str) -> None:
    """Withhold a second value of a column when only one is hidden (so no subtraction)."""
    hidden_here = [g for g in groups if name in hidden[g.label]]
    if len(hidden_here) != 1:
        return
    others = [g for g in groups if name not in hidden[g.label]]
    if not others:
        return
    victim = min(others, key=lambda g: (g.count(name), g.label))
    hidden[victim.label].add(name)


def _shown(g: GroupCounts, hidden: set[str], small: set[str]) -> ShownGroup:
    def value(name: str) -> int | None:
        return None if name in hidden else g.count(name)

    def rate(num: str, den: str) -> float | None:
        if num in hidden or den in hidden:
            return None
        return percent(g.count(num), g.count(den))

    mean = None
    if "placed" not in hidden and "learners" not in hidden and g.ranked >= SUPPRESS_BELOW:
        mean = round(g.rank_sum / g.ranked, 2)
    return ShownGroup(
        label=g.label, counts={n: value(n) for n in COUNT_FIELDS},
        placement_rate=rate("placed", "learners"),
        mandated_rate=rate("mandated_placed", "mandated"),
        mean_rank=mean, first_choice_share=rate("first_choice", "learners"),
        small=set(small) & hidden)


# --- engagement ----------------------------------------------------------------------------

#: Stages that mean the organisation has been contacted (lapsed ones were, then dropped out).
CONTACTED_OR_LATER = ("contacted", "interested", "pledged", "hosting", "lapsed")


def conversion(stages_by_sector: Mapping[str, Iterable[str]]) -> dict[str, dict[str, object]]:
    """Return, per sector, how many organisations were contacted (stage contacted or later,
    lapsed included), how many host, and hosting/contacted as a percentage."""
    out: dict[str, dict[str, object]] = {}
    for sector, stages in sorted(stages_by_sector.items()):
        values = list(stages)
        contacted = sum(1 for s in values if s in CONTACTED_OR_LATER)
        hosting = sum(1 for s in values if s == "hosting")
        out[sector] = {"contacted": contacted, "hosting": hosting,
                       "rate": percent(hosting, contacted)}
    return out
