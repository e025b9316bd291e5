"""Generate realistic `placement-problem/1` instances for benchmarks and tests."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

DISTRICTS = Path(__file__).resolve().parents[1] / "seed" / "data" / "postcode-districts.csv"

#: (sector, offer places per learner, share of offers needing an enhanced DBS check)
SECTORS = [
    ("digital", 1.3, 0.05),
    ("engineering", 1.1, 0.0),
    ("construction", 0.8, 0.0),
    ("health", 0.7, 0.9),
    ("care", 0.9, 0.8),
    ("education", 1.0, 1.0),
    ("finance", 1.5, 0.1),
    ("creative", 0.6, 0.05),
]


def towns(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (lat, lon, weight) of towns: UK postcode areas, else a synthetic grid."""
    if DISTRICTS.exists():
        groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
        with DISTRICTS.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if not row["lat"] or not row["lon"]:
                    continue
                groups[row["area"]].append((float(row["lat"]), float(row["lon"])))
        names = sorted(groups, key=lambda a: -len(groups[a]))[:count]
        lat = np.array([np.mean([p[0] for p in groups[a]]) for a in names])
        lon = np.array([np.mean([p[1] for p in groups[a]]) for a in names])
        weight = np.array([len(groups[a]) for a in names], dtype=float)
    else:
        lat = rng.uniform(50.5, 55.5, count)
        lon = rng.uniform(-4.0, 0.5, count)
        weight = rng.pareto(1.2, count) + 1
    return lat, lon, weight / weight.sum()


def generate(
    n_learners: int,
    seed: int = 0,
    *,
    side_constraints: bool = False,
    region_limits: bool = False,
    max_preferences: int = 10,
    time_limit_s: float = 60.0,
) -> dict[str, Any]:
    """Build one instance: clustered learners, popular employers, tight and ample sectors.

    `side_constraints`: half the employers get limits (the 2k/5k limits instances).
    `region_limits`: a third of employers get `min_if_any` 2, half of those also
    `max_learners` 2-4 (the region-scale limits instance).
    """
    rng = np.random.default_rng(seed)
    n_towns = max(8, min(120, n_learners // 150))
    t_lat, t_lon, t_weight = towns(n_towns, rng)
    km_lat = 111.0
    km_lon = 111.0 * np.cos(np.radians(t_lat))
    # Town-to-town distances, to pick offers a learner could plausibly reach.
    dlat = (t_lat[:, None] - t_lat[None, :]) * km_lat
    dlon = (t_lon[:, None] - t_lon[None, :]) * km_lon[:, None]
    town_km = np.hypot(dlat, dlon)

    sector_share = rng.dirichlet(np.full(len(SECTORS), 4.0))
    offers: list[dict[str, Any]] = []
    employers: list[dict[str, Any]] = []
    by_sector_town: dict[tuple[int, int], list[int]] = defaultdict(list)
    popularity: list[float] = []
    employer_no = 0
    for s, (sector, ratio, dbs_share) in enumerate(SECTORS):
        places = int(n_learners * sector_share[s] * ratio)
        made = 0
        while made < places:
            employer_no += 1
            emp = f"E{employer_no}"
            town = int(rng.choice(n_towns, p=t_weight))
            pop = float(rng.pareto(1.5) + 0.2)
            n_offers = int(rng.integers(1, 4))
            for _ in range(n_offers):
                cap = int(min(12, rng.geometric(0.35)))
                oid = f"O{len(offers) + 1}"
                offers.append({
                    "id": oid, "employer": emp, "sector": sector, "capacity": cap,
                    "lat": round(float(t_lat[town] + rng.normal(0, 0.04)), 5),
                    "lon": round(float(t_lon[town] + rng.normal(0, 0.06)), 5),
                    "requires": ["dbs"] if rng.random() < dbs_share else [],
                })
                by_sector_town[(s, town)].append(len(offers) - 1)
                popularity.append(pop * float(rng.uniform(0.5, 1.5)))
                made += cap
            if side_constraints and rng.random() < 0.5:
                total = sum(o["capacity"] for o in offers[-n_offers:])
                constraint: dict[str, Any] = {"id": emp}
                if total > 2:
                    constraint["max_learners"] = int(rng.integers(max(1, total // 2), total))
                if rng.random() < 0.6:
                    constraint["min_if_any"] = int(rng.integers(2, 4))
                employers.append(constraint)
            elif region_limits and rng.random() < 1 / 3:
                limit: dict[str, Any] = {"id": emp, "min_if_any": 2}
                if rng.random() < 0.5:
                    limit["max_learners"] = int(rng.integers(2, 5))
                employers.append(limit)
    pop_arr = np.array(popularity)

    learners: list[dict[str, Any]] = []
    sector_of = rng.choice(len(SECTORS), size=n_learners, p=sector_share)
    town_of = rng.choice(n_towns, size=n_learners, p=t_weight)
    for i in range(n_learners):
        s, town = int(sector_of[i]), int(town_of[i])
        lat = float(t_lat[town] + rng.normal(0, 0.07))
        lon = float(t_lon[town] + rng.normal(0, 0.1))
        max_km = None if rng.random() < 0.1 else float(rng.choice([10, 15, 20, 25, 30, 40]))
        reach = 60.0 if max_km is None else max_km * 1.3
        near = np.flatnonzero(town_km[town] <= reach).tolist()
        cands = [o for t in near for o in by_sector_town.get((s, t), [])]
        n_prefs = int(rng.integers(0, 13)) if rng.random() < 0.97 else 0
        prefs: list[str] = []
        if cands and n_prefs:
            w = pop_arr[cands] / pop_arr[cands].sum()
            take = min(n_prefs, len(cands))
            picked = rng.choice(len(cands), size=take, replace=False, p=w)
            prefs = [offers[cands[j]]["id"] for j in picked]
        if prefs and rng.random() < 0.03:
            prefs.insert(int(rng.integers(0, len(prefs) + 1)), prefs[0])  # a repeat
        if rng.random() < 0.02:
            prefs.append(f"O{len(offers) + 1 + i}")  # an offer that was withdrawn
        learner: dict[str, Any] = {
            "id": f"L{i + 1}", "sector": SECTORS[s][0], "mandated": bool(rng.random() < 0.3),
            "lat": round(lat, 5), "lon": round(lon, 5),
            "has": ["dbs"] if rng.random() < (0.6 if SECTORS[s][2] > 0.5 else 0.1) else [],
            "preferences": prefs,
        }
        if max_km is not None:
            learner["max_km"] = max_km
        learners.append(learner)

    # A few locks: in-work learners fixed to their first choice where room remains.
    locked: list[dict[str, str]] = []
    left = {o["id"]: o["capacity"] for o in offers}
    for i in rng.choice(n_learners, size=max(1, n_learners // 100), replace=False).tolist():
        prefs = learners[i]["preferences"]
        if prefs and left.get(prefs[0], 0) > 0:
            left[prefs[0]] -= 1
            locked.append({"learner": learners[i]["id"], "offer": prefs[0]})
    if side_constraints or region_limits:
        _respect_locks(employers, offers, locked)
    return {
        "format": "placement-problem/1",
        "settings": {"rank_cost": "squared", "fallback": True,
                     "max_preferences": max_preferences, "time_limit_s": time_limit_s},
        "offers": offers,
        "learners": learners,
        "locked": locked,
        "employers": employers,
    }


def _respect_locks(
    employers: list[dict[str, Any]], offers: list[dict[str, Any]], locked: list[dict[str, str]]
) -> None:
    """Drop side constraints that the generated locks alone would break."""
    employer_of = {o["id"]: o["employer"] for o in offers}
    count: dict[str, int] = defaultdict(int)
    for pair in locked:
        count[employer_of[pair["offer"]]] += 1
    for constraint in employers:
        n = count.get(constraint["id"], 0)
        if n and constraint.get("max_learners", math.inf) < n:
            constraint.pop("max_learners")
        if n and constraint.get("min_if_any", 0) > n:
            constraint.pop("min_if_any", None)
