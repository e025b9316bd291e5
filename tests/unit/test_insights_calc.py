"""Unit tests of the insight arithmetic: no database, no app."""

from __future__ import annotations

import numpy as np
import pytest

from placements.insights import calc
from placements.insights.calc import (
    DemandLearner,
    GroupCounts,
    Outcome,
    SupplyOffer,
    clearly_worse,
    conversion,
    group_counts,
    heat_level,
    postcode_area,
    supply_demand,
    suppress,
)
from solver.geo import haversine_km

M1 = (53.4794, -2.2453)  # Manchester city centre
SK1 = (53.4084, -2.1494)  # Stockport, about 10 km from M1
BL1 = (53.5790, -2.4290)  # Bolton, about 17 km from M1


@pytest.mark.parametrize(("postcode", "area"), [
    ("SK4 2AB", "SK"), ("M1 1AA", "M"), ("bl1", "BL"), ("EC1V 9HX", "EC"), ("", "")])
def test_postcode_area(postcode, area):
    assert postcode_area(postcode) == area


def test_supply_demand_by_hand():
    learners = [
        DemandLearner("Digital", "M", True, *M1, 5),       # reaches the M offers only
        DemandLearner("Digital", "M", False, *M1, 5, frozenset({"dbs"})),
        DemandLearner("Digital", "SK", True, *SK1, 5),     # reaches nothing
        DemandLearner("Digital", "SK", True, *SK1, 15),    # reaches M offers (about 10 km)
        DemandLearner("Health", "M", True, *M1, 50),       # other sector: Digital offers no use
    ]
    offers = [
        SupplyOffer("Digital", "M", 3, *M1),
        SupplyOffer("Digital", "M", 2, *M1, frozenset({"dbs"})),
        SupplyOffer("Digital", "BL", 4, *BL1),              # 17 km from M1: nobody reaches
        SupplyOffer("Digital", "M", 0, *M1),                # no places: ignored
    ]
    assert haversine_km(*M1, *SK1) < 15 < haversine_km(*M1, *BL1)
    rows = {(r.sector, r.cell): r for r in supply_demand(learners, offers)}
    assert set(rows) == {("Digital", "BL"), ("Digital", "M"), ("Digital", "SK"), ("Health", "M")}
    m = rows["Digital", "M"]
    # Both offers in M are reachable by the cell (the dbs one through the second learner).
    assert (m.learners, m.mandated, m.offered, m.reachable) == (2, 1, 5, 5)
    sk = rows["Digital", "SK"]
    # Only the 15 km learner reaches anything, and not the dbs offer: the same 3 places M
    # reaches, so reachable places overlap across cells.
    assert (sk.learners, sk.mandated, sk.offered, sk.reachable) == (2, 2, 0, 3)
    bl = rows["Digital", "BL"]
    assert (bl.learners, bl.offered, bl.reachable) == (0, 4, 0)
    health = rows["Health", "M"]
    assert (health.learners, health.reachable) == (1, 0)
    # Without an allocation nothing is placed or unplaced.
    assert all((r.placed, r.unplaced, r.mandated_unplaced) == (0, 0, 0) for r in rows.values())
    totals = calc.sector_totals(rows.values())
    assert totals["Digital"] == {"learners": 4, "mandated": 3, "offered": 9, "placed": 0,
                                 "unplaced": 0, "mandated_unplaced": 0}
    assert "reachable" not in totals["Digital"]  # overlapping: never added up


def test_allocation_counts_add_up_exactly():
    # An allocation placed the first of each pair; the cells count learners, so they add up.
    learners = [DemandLearner("Digital", cell, mandated, *M1, 10, placed=placed)
                for cell, mandated, placed in [("M", True, True), ("M", True, False),
                                               ("M", False, False), ("SK", True, False),
                                               ("SK", False, True)]]
    learners.append(DemandLearner("Health", "M", True, *M1, 10, placed=False))
    rows = {(r.sector, r.cell): r for r in supply_demand(learners, [])}
    m = rows["Digital", "M"]
    assert (m.learners, m.mandated, m.placed, m.unplaced, m.mandated_unplaced) == (3, 2, 1, 2, 1)
    sk = rows["Digital", "SK"]
    assert (sk.placed, sk.unplaced, sk.mandated_unplaced) == (1, 1, 1)
    totals = calc.sector_totals(rows.values())
    assert calc.grand_total(totals) == {"learners": 6, "mandated": 4, "offered": 0,
                                        "placed": 2, "unplaced": 4, "mandated_unplaced": 3}


def test_reachable_matches_a_pair_loop_on_random_data(monkeypatch):
    monkeypatch.setattr(calc, "CHUNK_ROWS", 7)  # several blocks, groups spanning blocks
    rng = np.random.default_rng(7)
    learners = [DemandLearner("S", str(rng.integers(0, 4)), bool(rng.integers(0, 2)),
                              53.4 + rng.random() * 0.3, -2.4 + rng.random() * 0.4,
                              float(rng.integers(2, 20)),
                              frozenset({"dbs"}) if rng.random() < 0.5 else frozenset())
                for _ in range(60)]
    offers = [SupplyOffer("S", "x", int(rng.integers(1, 4)), 53.4 + rng.random() * 0.3,
                          -2.4 + rng.random() * 0.4,
                          frozenset({"dbs"}) if rng.random() < 0.3 else frozenset())
              for _ in range(25)]
    rows = {r.cell: r for r in supply_demand(learners, offers) if r.learners}
    for cell, row in rows.items():
        reachable = set()
        for lr in learners:
            if lr.cell != cell:
                continue
            for j, of in enumerate(offers):
                if haversine_km(lr.lat, lr.lon, of.lat, of.lon) <= lr.max_km and \
                        of.requires <= lr.has:
                    reachable.add(j)
        assert row.reachable == sum(offers[j].capacity for j in reachable), cell


@pytest.mark.parametrize(("unplaced", "learners", "level"), [
    (0, 10, 0), (0, 0, 0), (2, 10, 1), (3, 10, 2), (4, 10, 2), (5, 10, 3), (10, 10, 3)])
def test_heat_level(unplaced, learners, level):
    assert heat_level(unplaced, learners) == level


# --- fairness ---------------------------------------------------------------------------------

def outcomes(spec):
    """spec: list of (group, mandated, placed, rank) tuples for dimension "g"."""
    return [Outcome({"g": g}, m, p, r) for g, m, p, r in spec]


def test_group_counts_and_rates():
    data = outcomes([("A", True, True, 1), ("A", True, True, 3), ("A", False, False, None),
                     ("A", True, False, None), ("B", False, True, None)])
    groups, total = group_counts(data, "g")
    a, b = groups
    assert (a.label, a.learners, a.placed, a.mandated, a.mandated_placed) == ("A", 4, 2, 3, 2)
    assert (a.first_choice, a.ranked, a.rank_sum) == (1, 2, 4)
    assert (b.placed, b.ranked) == (1, 0)  # a locked placement has no rank
    assert total.learners == 5
    assert total.placed == 3
    assert calc.percent(2, 3) == 66.7
    assert calc.percent(0, 0) is None


def test_missing_group_is_not_given():
    groups, _ = group_counts([Outcome({}, False, True, 1)], "g")
    assert groups[0].label == "Not given"


def big(label, learners, placed, mandated=0, mandated_placed=0, first=0, rank_sum=0):
    g = GroupCounts(label, learners=learners, placed=placed, mandated=mandated,
                    mandated_placed=mandated_placed, first_choice=first, ranked=placed,
                    rank_sum=rank_sum or placed)
    return g


def total_of(groups):
    t = GroupCounts("All learners")
    for g in groups:
        for name in ("learners", "placed", "mandated", "mandated_placed", "first_choice",
                     "ranked", "rank_sum"):
            setattr(t, name, getattr(t, name) + getattr(g, name))
    return t


def test_small_group_is_hidden_and_a_second_group_protects_it():
    groups = [big("A", 40, 30, 20, 15, 10, 60), big("B", 12, 8, 6, 5, 5, 16),
              big("C", 3, 1, 1, 1, 1, 1)]
    shown, total = suppress(groups, total_of(groups))
    a, b, c = shown
    assert c.row_hidden
    assert c.placement_rate is None
    assert c.mean_rank is None
    assert c.small >= {"learners"}
    # B is the smallest other group: withheld so C's size is not total - A - B.
    assert b.row_hidden
    assert not b.small & {"learners"}
    assert a.counts["learners"] == 40
    assert a.placement_rate == 75.0
    assert a.mandated_rate == 75.0
    assert a.mean_rank == 2.0
    assert a.first_choice_share == 25.0
    assert total.counts["learners"] == 55


def test_counts_under_five_are_hidden_with_their_rates():
    groups = [big("A", 20, 18, 10, 9, 10), big("B", 20, 15, 3, 2, 6),
              big("C", 30, 25, 10, 8, 12)]
    shown, _ = suppress(groups, total_of(groups))
    a, b, c = shown
    assert b.counts["mandated"] is None
    assert b.counts["mandated_placed"] is None
    assert b.mandated_rate is None
    assert {"mandated", "mandated_placed"} <= b.small
    # B's group size and placement rate stay visible.
    assert b.counts["learners"] == 20
    assert b.placement_rate == 75.0
    # Secondary: one other mandated count is withheld too (the smallest, A's 10 < C's 10
    # ties broken by label), so B's mandated count cannot be worked out from the total.
    assert a.counts["mandated"] is None
    assert "mandated" not in a.small
    assert c.counts["mandated"] == 10
    assert a.mandated_rate is None


def test_no_single_hidden_value_in_any_column():
    rng = np.random.default_rng(3)
    for _ in range(200):
        groups = []
        for k in range(int(rng.integers(2, 6))):
            n = int(rng.integers(0, 30)) + 1
            placed = int(rng.integers(0, n + 1))
            mandated = int(rng.integers(0, n + 1))
            mp = min(mandated, placed, int(rng.integers(0, mandated + 1)))
            groups.append(big(f"G{k}", n, placed, mandated, mp, min(placed, 4), placed))
        shown, total = suppress(groups, total_of(groups))
        for name in calc.COUNT_FIELDS:
            if total.counts[name] is None:
                continue
            hidden = [s for s in shown if s.counts[name] is None]
            assert len(hidden) != 1, (name, groups)
            for s, g in zip(shown, groups, strict=True):
                value = s.counts[name]
                assert value is None or value >= calc.SUPPRESS_BELOW
                assert value is None or value == g.count(name)


def test_whole_run_under_five_hides_the_total():
    groups = [big("A", 3, 2)]
    shown, total = suppress(groups, total_of(groups))
    assert shown[0].row_hidden
    assert total.row_hidden


def test_clearly_worse_flag_rule():
    # A: 10/20 = 50 %; rest: 40/50 = 80 % -> 30 points worse.
    a, rest = big("A", 20, 10), big("R", 50, 40)
    assert clearly_worse(a, total_of([a, rest]), "placed", "learners")
    # Exactly 10 points below is not "more than 10".
    a2, rest2 = big("A", 20, 14), big("R", 20, 16)  # 70 % vs 80 %
    assert not clearly_worse(a2, total_of([a2, rest2]), "placed", "learners")
    # 60 % vs 80 %, but the rest has only 4 learners: no flag.
    a, rest = big("A", 10, 6), big("R", 4, 4)
    assert not clearly_worse(a, total_of([a, rest]), "placed", "learners")
    # Group of 4: no flag.
    a, rest = big("A", 4, 0), big("R", 40, 40)
    assert not clearly_worse(a, total_of([a, rest]), "placed", "learners")


def test_flag_on_suppressed_rate_says_no_number():
    groups = [big("A", 8, 2, 0, 0), big("B", 40, 36, 0, 0)]
    shown, _ = suppress(groups, total_of(groups))
    a = shown[0]
    assert a.placement_rate is None  # 2 placed: under 5
    assert a.flags == ["placement rate"]


def test_conversion_counts_contacted_or_later():
    result = conversion({"Digital": ["prospect", "contacted", "hosting", "hosting", "lapsed"],
                         "Health": ["prospect"]})
    assert result["Digital"] == {"contacted": 4, "hosting": 2, "rate": 50.0}
    assert result["Health"] == {"contacted": 0, "hosting": 0, "rate": None}


def test_reach_at_exactly_the_travel_limit_matches_the_solver():
    from solver.geo import haversine_km_array

    exact = float(haversine_km_array(M1[0], M1[1], SK1[0], SK1[1]))
    offers = [SupplyOffer("D", "SK", 1, *SK1)]
    at_limit = supply_demand([DemandLearner("D", "M", True, *M1, exact)], offers)
    assert [r.reachable for r in at_limit if r.learners] == [1]
    below = supply_demand([DemandLearner("D", "M", True, *M1, exact - 1e-9)], offers)
    assert [r.reachable for r in below if r.learners] == [0]


@pytest.mark.parametrize("seed", range(5))
def test_reach_by_group_is_the_pair_rule_over_every_learner(seed):
    """Learners sharing a home and checks are folded into the one who travels furthest: the
    union per group is still exactly what `assess` gives pair by pair."""
    from placements.domain import eligibility

    rng = np.random.default_rng(seed)
    homes = [(53.48 + rng.normal(0, 0.05), -2.24 + rng.normal(0, 0.05)) for _ in range(4)]
    tags = [frozenset(), frozenset({"dbs"}), frozenset({"cscs"}), frozenset({"dbs", "cscs"})]
    learners = []
    for _ in range(60):
        lat, lon = homes[rng.integers(len(homes))]
        learners.append(DemandLearner(
            "S", "A", False, lat, lon,
            float(rng.choice([2.0, 5.0, 10.0, float("inf")])), tags[rng.integers(4)]))
    offers = [SupplyOffer("S", "B", 1, 53.48 + rng.normal(0, 0.08), -2.24 + rng.normal(0, 0.08),
                          tags[rng.integers(4)]) for _ in range(40)]
    groups = np.array([rng.integers(3) for _ in learners], dtype=np.int64)
    got = calc.reachable_by_group(learners, offers, groups, 3)
    want = np.zeros((3, len(offers)), dtype=bool)
    for g, lr in zip(groups, learners, strict=True):
        facts = eligibility.LearnerFacts(sector="S", lat=lr.lat, lon=lr.lon, max_km=lr.max_km,
                                         has=lr.has)
        for j, o in enumerate(offers):
            verdict = eligibility.assess(facts, eligibility.OfferFacts(
                id=j, sector="S", lat=o.lat, lon=o.lon, requires=o.requires))
            want[g, j] |= not verdict.reasons
    assert (got == want).all()
    assert want.any()


def test_group_counts_of_alike_learners_equal_counting_one_by_one():
    """Counting learners with the same outcome together gives the one-by-one counts."""
    rng = np.random.default_rng(7)
    outcomes = [Outcome({"age_band": str(rng.choice(["18-20", "21-24", ""]))},
                        bool(rng.integers(2)), placed := bool(rng.integers(2)),
                        int(rng.integers(1, 5)) if placed and rng.integers(3) else None)
                for _ in range(500)]
    groups, total = group_counts(outcomes, "age_band")
    by_hand: dict[str, GroupCounts] = {}
    whole = GroupCounts("All learners")
    for o in outcomes:
        label = o.groups.get("age_band") or "Not given"
        by_hand.setdefault(label, GroupCounts(label)).add(o)
        whole.add(o)
    assert groups == [by_hand[k] for k in sorted(by_hand)]
    assert total == whole
