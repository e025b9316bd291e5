"""Benchmark: supply and demand ("places reachable") with numpy against a Python pair loop.

Synthetic learners and offers in six sectors (no database); some learners hold a DBS check
and some offers require one. Two kinds of instance: "districts", as the app stores them
(homes and sites at North West postcode-district centroids, travel limits of 10-40 km in
5 km steps), and "random", a worst case where every home is a different point and every
limit a different number (nothing for the code to deduplicate).

Times `placements.insights.calc.supply_demand` (numpy, in blocks) and, as the baseline,
the same count with a plain Python loop over every learner-offer pair of a sector. Both
run on the same instance; the loop only on the smaller sizes (it is slow).
Each timing is the median of --repeat runs.

    .venv/bin/python -P bench/insights_supply_demand.py [--repeat 3]

(-P: do not put bench/ first on the path, where bench/solver.py would shadow the solver.)
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

from placements.geo import districts
from placements.insights.calc import DemandLearner, SupplyOffer, postcode_area, supply_demand
from solver.geo import haversine_km

SECTORS = ["Digital", "Health", "Construction", "Engineering", "Education", "Business"]
AREAS = ["M", "SK", "BL", "OL", "WN", "WA"]


def instance(n_learners: int, n_offers: int, kind: str = "districts", seed: int = 1):
    rng = random.Random(seed)
    places = [d for d in districts().values() if d.region == "North West"]

    def where():
        """Return (area, lat, lon): a district centroid, or any point in a random area."""
        if kind == "districts":
            d = rng.choice(places)
            return postcode_area(d.district), d.lat, d.lon
        return rng.choice(AREAS), 53.35 + rng.random() * 0.35, -2.65 + rng.random() * 0.6

    def limit():
        return float(rng.choice(range(10, 45, 5))) if kind == "districts" else \
            rng.uniform(5, 40)

    learners = []
    for _ in range(n_learners):
        area, lat, lon = where()
        learners.append(DemandLearner(rng.choice(SECTORS), area, rng.random() < 0.6, lat, lon,
                                      limit(), frozenset({"dbs"}) if rng.random() < 0.4
                                      else frozenset()))
    offers = []
    for _ in range(n_offers):
        area, lat, lon = where()
        offers.append(SupplyOffer(rng.choice(SECTORS), area, rng.randint(1, 4), lat, lon,
                                  frozenset({"dbs"}) if rng.random() < 0.3 else frozenset()))
    return learners, offers


def pair_loop(learners, offers) -> dict[tuple[str, str], int]:
    """The baseline: for every cell, every learner against every offer of its sector."""
    reach: dict[tuple[str, str], set[int]] = {}
    for lr in learners:
        cell = reach.setdefault((lr.sector, lr.cell), set())
        for j, of in enumerate(offers):
            if of.sector == lr.sector and of.capacity > 0 and of.requires <= lr.has and \
                    haversine_km(lr.lat, lr.lon, of.lat, of.lon) <= lr.max_km:
                cell.add(j)
    return {k: sum(offers[j].capacity for j in v) for k, v in reach.items()}


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("| instance | learners | offers | numpy (s) | pair loop (s) | loop / numpy |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, n_l, n_o, loop in (("districts", 2_000, 400, True),
                                 ("districts", 10_000, 1_500, True),
                                 ("districts", 50_000, 5_000, False),
                                 ("districts", 200_000, 10_000, False),
                                 ("random", 2_000, 400, True), ("random", 10_000, 1_500, True),
                                 ("random", 50_000, 5_000, False)):
        learners, offers = instance(n_l, n_o, kind)
        fast, rows = median_time(lambda lr=learners, of=offers: supply_demand(lr, of),
                                 args.repeat)
        if loop:
            slow, expected = median_time(lambda lr=learners, of=offers: pair_loop(lr, of), 1)
            got = {(r.sector, r.cell): r.reachable for r in rows if r.learners}
            assert got == expected, "numpy and pair loop disagree"
            print(f"| {kind} | {n_l} | {n_o} | {fast:.3f} | {slow:.2f} | {slow / fast:.0f}x |")
        else:
            print(f"| {kind} | {n_l} | {n_o} | {fast:.3f} | not run | |")


if __name__ == "__main__":
    main()
