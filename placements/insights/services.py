"""Insight services: load rows for supply and demand, fairness and what-if questions.

The arithmetic lives in `placements.insights.calc`; these functions only gather plain
records from the database (in a few bulk SELECTs) and, for what-if, call the solver.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa

from placements.domain import DomainError, access
from placements.domain.offers import open_to_choices_sql
from placements.extensions import db
from placements.geo import districts
from placements.insights import calc
from placements.models import (
    AllocationRound,
    AllocationRun,
    Employer,
    EmployerSite,
    Job,
    JobStatus,
    Learner,
    PlacementOffer,
    Programme,
    Provider,
    User,
    round_programmes,
)

#: Learner groups of the fairness report: (dimension key, heading).
DIMENSIONS: list[tuple[str, str]] = [
    ("first_in_family_he", "First in family in higher education"),
    ("age_band", "Age band"),
    ("prior_qualification", "Prior qualification"),
    ("disability_declared", "Disability declared"),
    ("provider", "Provider"),
]
UNKNOWN = "Not given"
WHATIF_EMPLOYER = "WHATIF"


# --- areas ----------------------------------------------------------------------------------

@cache
def area_names() -> dict[str, str]:
    """Return postcode area letters -> the area name most of its districts carry."""
    counts: dict[str, Counter] = {}
    for district in districts().values():
        counts.setdefault(calc.postcode_area(district.district), Counter())[district.area] += 1
    return {area: c.most_common(1)[0][0] for area, c in counts.items()}


@cache
def area_regions() -> dict[str, str]:
    """Return postcode area letters -> the ONS region most of its districts are in."""
    counts: dict[str, Counter] = {}
    for district in districts().values():
        counts.setdefault(calc.postcode_area(district.district), Counter())[district.region] += 1
    return {area: c.most_common(1)[0][0] for area, c in counts.items()}


def region_of_postcode(postcode: str) -> str:
    """Return the ONS region of a postcode's district ("Unknown" when not in the data)."""
    outward = (postcode or "").strip().upper().split(" ")[0]
    district = districts().get(outward)
    if district is not None:
        return district.region
    return area_regions().get(calc.postcode_area(postcode), "Unknown")


def area_label(area: str) -> str:
    """Return "SK (Stockport)" for an area code."""
    name = area_names().get(area)
    return f"{area} ({name})" if name else area or "Unknown"


def area_centroid(area: str) -> tuple[float, float]:
    """Return the mean latitude and longitude of the area's postcode districts."""
    points = [(d.lat, d.lon) for d in districts().values()
              if calc.postcode_area(d.district) == area]
    if not points:
        raise DomainError(f"We do not know the postcode area {area}", field="area")
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


# --- scope ----------------------------------------------------------------------------------

def officer_rounds(officer: User) -> list[AllocationRound]:
    """Return the rounds the officer's provider takes part in, newest first."""
    return list(db.session.scalars(sa.select(AllocationRound).where(
        access.officer_rounds_sql(officer)).order_by(AllocationRound.created_at.desc(),
                                                     AllocationRound.id.desc())))


def round_for_officer(officer: User, round_id: int) -> AllocationRound | None:
    """Return the round if the officer may see it, else None."""
    round_ = db.session.get(AllocationRound, round_id)
    if round_ is None or not access.officer_sees_round(officer, round_):
        return None
    return round_


@dataclass
class Scope:
    """Whose learners count: one round's, or all the partnership's."""

    label: str
    programme_ids: list[int]
    round: AllocationRound | None = None


def scope_for(officer: User, round_: AllocationRound | None) -> Scope:
    """Return the programmes in scope: the round's, or the officer's partnership's."""
    if round_ is not None:
        ids = list(db.session.scalars(sa.select(round_programmes.c.programme_id).where(
            round_programmes.c.round_id == round_.id)))
        return Scope(f"Round: {round_.name}", ids, round_)
    provider = db.session.get(Provider, officer.provider_id)
    if provider is None:
        raise LookupError("an officer always belongs to a provider")
    ids = list(db.session.scalars(sa.select(Programme.id).where(
        access.officer_programmes_sql(officer, partnership=True))))
    label = provider.partnership.name if provider.partnership else provider.name
    return Scope(f"All learners of {label}", ids)


# --- supply and demand ----------------------------------------------------------------------

@dataclass
class SupplyDemand:
    """The table, per sector totals and the heat map grid."""

    by: str
    rows: list[calc.SupplyDemandCell]
    totals: dict[str, dict[str, int]]
    sectors: list[str]
    cells: list[str]
    labels: dict[str, str]

    def grid(self) -> list[tuple[str, list[calc.SupplyDemandCell | None]]]:
        """Return rows of the heat map: (sector, cell or None per column)."""
        index = {(r.sector, r.cell): r for r in self.rows}
        return [(s, [index.get((s, c)) for c in self.cells]) for s in self.sectors]


def _cell_key(postcode: str, by: str) -> str:
    return region_of_postcode(postcode) if by == "region" else calc.postcode_area(postcode)


def supply_demand(scope: Scope, by: str = "area") -> SupplyDemand:
    """Count learners needing placements, places offered and places reachable per cell."""
    if by not in ("area", "region"):
        raise DomainError("Group by postcode area or region", field="by")
    learner_rows = db.session.execute(
        sa.select(Learner.home_postcode, Learner.lat, Learner.lon, Learner.max_travel_km,
                  Learner.credentials, Programme.route, Programme.placement_mandated)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.programme_id.in_(scope.programme_ids),
               Learner.in_work_employer.is_(None))).all()
    learners = [calc.DemandLearner(route, _cell_key(pc, by), bool(mandated), lat, lon,
                                   float(max_km), frozenset(creds or ()))
                for pc, lat, lon, max_km, creds, route, mandated in learner_rows]
    sectors = sorted({lr.sector for lr in learners} | set(db.session.scalars(
        sa.select(Programme.route).where(Programme.id.in_(scope.programme_ids)))))
    offer_rows = db.session.execute(
        sa.select(EmployerSite.postcode, EmployerSite.lat, EmployerSite.lon,
                  PlacementOffer.sector, PlacementOffer.capacity, PlacementOffer.requirements)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(open_to_choices_sql(), PlacementOffer.capacity > 0,
               PlacementOffer.sector.in_(sectors))).all()
    offers = [calc.SupplyOffer(sector, _cell_key(pc, by), capacity, lat, lon,
                               frozenset(req or ()))
              for pc, lat, lon, sector, capacity, req in offer_rows]
    rows = calc.supply_demand(learners, offers)
    cells = sorted({r.cell for r in rows if r.learners})
    labels = {c: (area_label(c) if by == "area" else c) for c in {r.cell for r in rows}}
    return SupplyDemand(by=by, rows=rows, totals=calc.sector_totals(rows), sectors=sectors,
                        cells=cells, labels=labels)


CSV_HEADER = ["Sector", "Area code", "Area", "Region", "Learners needing a placement",
              "Of whom placement mandated", "Places offered in area",
              "Places reachable by these learners", "Shortfall", "Mandated shortfall"]


def supply_demand_csv_rows(result: SupplyDemand) -> list[list[Any]]:
    """Return the CSV rows of a supply and demand table (LSIP reporting)."""
    out = []
    for r in result.rows:
        if result.by == "area":
            code, name, region = r.cell, area_names().get(r.cell, ""), \
                area_regions().get(r.cell, "")
        else:
            code, name, region = "", "", r.cell
        out.append([r.sector, code, name, region, r.learners, r.mandated, r.offered,
                    r.reachable, r.shortfall, r.mandated_shortfall])
    return out


# --- fairness -------------------------------------------------------------------------------

def officer_runs(officer: User) -> list[AllocationRun]:
    """Return the finished runs (with a result) of the rounds the officer may see."""
    round_ids = [r.id for r in officer_rounds(officer)]
    if not round_ids:
        return []
    return list(db.session.scalars(
        sa.select(AllocationRun).join(Job, Job.id == AllocationRun.job_id).where(
            AllocationRun.round_id.in_(round_ids), Job.status == JobStatus.SUCCEEDED,
            AllocationRun.result.is_not(None)).order_by(AllocationRun.id.desc())))


def run_for_officer(officer: User, run_id: int) -> AllocationRun | None:
    """Return the run if it belongs to a round the officer may see, else None."""
    run = db.session.get(AllocationRun, run_id)
    if run is None or round_for_officer(officer, run.round_id) is None:
        return None
    return run


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("Yes" if value else "No")


def run_outcomes(result: dict[str, Any]) -> list[calc.Outcome]:
    """Join a run's result to its learners' equality fields (learners since deleted drop)."""
    placed: dict[int, int | None] = {}
    for a in result.get("assignments", []):
        placed[int(a["learner"][1:])] = None if a.get("locked") else a.get("rank")
    unplaced = {int(u["learner"][1:]) for u in result.get("unplaced", [])}
    ids = sorted(set(placed) | unplaced)
    rows = db.session.execute(
        sa.select(Learner.id, Learner.first_in_family_he, Learner.age_band,
                  Learner.prior_qualification, Learner.disability_declared, Provider.name,
                  Programme.placement_mandated)
        .join(Provider, Provider.id == Learner.provider_id)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.id.in_(ids))).all() if ids else []
    outcomes = []
    for lid, fif, age, prior, disability, provider, mandated in rows:
        groups = {"first_in_family_he": _yes_no(fif), "age_band": age or UNKNOWN,
                  "prior_qualification": prior or UNKNOWN,
                  "disability_declared": _yes_no(disability), "provider": provider}
        outcomes.append(calc.Outcome(groups, bool(mandated), lid in placed, placed.get(lid)))
    return outcomes


@dataclass
class FairnessTable:
    """One dimension of the fairness report, suppressed and flagged."""

    key: str
    heading: str
    groups: list[calc.ShownGroup]
    total: calc.ShownGroup

    @property
    def flagged(self) -> list[calc.ShownGroup]:
        return [g for g in self.groups if g.flags]


def fairness_report(run: AllocationRun) -> list[FairnessTable]:
    """Return the fairness tables of a run, one per learner dimension."""
    outcomes = run_outcomes(run.result or {})
    tables = []
    for key, heading in DIMENSIONS:
        groups, total = calc.group_counts(outcomes, key)
        shown, shown_total = calc.suppress(groups, total)
        tables.append(FairnessTable(key, heading, shown, shown_total))
    return tables


# --- what-if --------------------------------------------------------------------------------

@dataclass
class HelpedLearner:
    """A learner the extra places would help."""

    learner_id: int
    name: str
    student_ref: str
    mandated: bool
    area: str
    offer: str  #: "extra place" or the real offer's title
    newly_placed: bool  #: unplaced in the baseline


@dataclass
class WhatIfAnswer:
    """The baseline and the variant allocation of one what-if question."""

    sector: str
    area: str
    places: int
    virtual_offers: list[dict[str, Any]]
    baseline: dict[str, Any]
    variant: dict[str, Any]
    helped: list[HelpedLearner] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def extra_mandated(self) -> int:
        return self.variant["mandated_placed"] - self.baseline["mandated_placed"]

    @property
    def extra_placed(self) -> int:
        return self.variant["placed"] - self.baseline["placed"]

    @property
    def used_places(self) -> int:
        return sum(1 for h in self.helped if h.offer == "extra place")


def virtual_offers(sector: str, area: str, places: int, *, spread: bool = False,
                   learner_postcodes: list[str] | None = None) -> list[dict[str, Any]]:
    """Return the what-if offers: N places at the area's centroid, or spread over its
    districts where most of the sector's learners live (no requirements)."""
    if places < 1:
        raise DomainError("Enter at least 1 place", field="places")
    area = area.strip().upper()
    lat, lon = area_centroid(area)
    if not spread:
        return [{"id": "W1", "employer": WHATIF_EMPLOYER, "sector": sector, "capacity": places,
                 "lat": round(lat, 6), "lon": round(lon, 6), "requires": []}]
    in_area = {d.district: d for d in districts().values()
               if calc.postcode_area(d.district) == area}
    counts = Counter(pc.strip().upper().split(" ")[0] for pc in (learner_postcodes or ()))
    ranked = sorted(in_area, key=lambda code: (-counts.get(code, 0), code))
    chosen = ranked[:min(places, len(ranked))]
    share = [places // len(chosen) + (1 if i < places % len(chosen) else 0)
             for i in range(len(chosen))]
    return [{"id": f"W{i + 1}", "employer": WHATIF_EMPLOYER, "sector": sector,
             "capacity": n, "lat": in_area[code].lat, "lon": in_area[code].lon,
             "requires": []} for i, (code, n) in enumerate(zip(chosen, share, strict=True))]


def _solve(problem: dict[str, Any]) -> dict[str, Any]:
    from solver import parse_problem, solve

    return solve(parse_problem(problem))


def what_if(round_: AllocationRound, *, sector: str, area: str, places: int,
            spread: bool = False) -> WhatIfAnswer:
    """Solve the round as it stands and with N extra places; compare mandated placed."""
    from placements.rounds.problem import build_problem

    if sector not in round_.sectors():
        raise DomainError("Choose a sector of the round's programmes", field="sector")
    area = area.strip().upper()
    if area not in area_names():
        raise DomainError("Enter a postcode area such as M, SK or BL", field="area")
    programme_ids = [p.id for p in round_.programmes if p.route == sector]
    postcodes = list(db.session.scalars(sa.select(Learner.home_postcode).where(
        Learner.programme_id.in_(programme_ids)))) if programme_ids else []
    extra = virtual_offers(sector, area, places, spread=spread, learner_postcodes=postcodes)
    started = time.perf_counter()
    base_doc = build_problem(round_)
    base = _solve(base_doc)
    variant_doc = build_problem(round_, extra_offers=extra)
    # Solve the variant as a repair of the baseline, so that the solver keeps every baseline
    # placement it can (the levels "mandated placed" and "placed" come first, as always):
    # the difference is then the effect of the extra places, not another equally good
    # allocation.
    variant_doc["previous"] = [{"learner": a["learner"], "offer": a["offer"]}
                               for a in base["assignments"]]
    variant = _solve(variant_doc)
    answer = WhatIfAnswer(sector=sector, area=area, places=places, virtual_offers=extra,
                          baseline=base["summary"], variant=variant["summary"],
                          seconds=round(time.perf_counter() - started, 2))
    if not round_.fallback:
        answer.warnings.append("This round has no fallback: learners are only placed at "
                               "offers they listed, so extra places nobody listed help no "
                               "one.")
    for result in (base, variant):
        if result.get("status") != "optimal":
            answer.warnings.append("The solver hit the round's time limit, so the figures "
                                   "may be slightly off.")
            break
    virtual_ids = {o["id"] for o in extra}
    base_placed = {a["learner"] for a in base["assignments"]}
    picks = [a for a in variant["assignments"]
             if a["offer"] in virtual_ids or a["learner"] not in base_placed]
    ids = [int(a["learner"][1:]) for a in picks]
    details = {lid: (name, ref, pc, mandated) for lid, name, ref, pc, mandated in
               db.session.execute(
                   sa.select(Learner.id, User.name, Learner.student_ref, Learner.home_postcode,
                             Programme.placement_mandated)
                   .join(User, User.id == Learner.user_id)
                   .join(Programme, Programme.id == Learner.programme_id)
                   .where(Learner.id.in_(ids)))} if ids else {}
    titles = dict(db.session.execute(sa.select(PlacementOffer.id, PlacementOffer.title).where(
        PlacementOffer.id.in_([int(a["offer"][1:]) for a in picks
                               if a["offer"] not in virtual_ids]))).all()) if picks else {}
    for a in picks:
        lid = int(a["learner"][1:])
        if lid not in details:
            continue
        name, ref, pc, mandated = details[lid]
        offer = "extra place" if a["offer"] in virtual_ids else \
            titles.get(int(a["offer"][1:]), a["offer"])
        answer.helped.append(HelpedLearner(lid, name, ref, bool(mandated),
                                           calc.postcode_area(pc), offer,
                                           a["learner"] not in base_placed))
    answer.helped.sort(key=lambda h: (not h.newly_placed, not h.mandated, h.name))
    return answer
