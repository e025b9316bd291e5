"""Insight services: supply and demand from a round's allocation, what-if scenarios solved
as jobs, fairness of a run.

The arithmetic lives in `placements.insights.calc`; these functions gather plain records
from the database (in a few bulk SELECTs) and queue solves; the solving itself is the job in
`placements.insights.jobs`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import undefer

from placements import audit
from placements.domain import DomainError, NotAllowed, access
from placements.domain import rounds as round_rules
from placements.domain.offers import open_to_choices_sql
from placements.extensions import db
from placements.geo import districts
from placements.insights import calc, figures
from placements.insights.areas import (
    area_centroid,
    area_label,
    area_names,
    area_regions,
    cell_key,
    cell_label,
)
from placements.jobs import (
    JobConflict,
    enqueue,
    reap_stale,
    request_cancel,
    shown_error,
    shown_status,
)
from placements.models import (
    ACTIVE_JOB_STATUSES,
    AllocationFigures,
    AllocationRound,
    AllocationRun,
    Employer,
    EmployerSite,
    InsightSolve,
    Job,
    JobStatus,
    Learner,
    PlacementOffer,
    Programme,
    Provider,
    SolveKind,
    User,
    round_programmes,
    utcnow,
)
from placements.rounds.problem import offer_ids_now

WHATIF_EMPLOYER = "WHATIF"


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


# --- the allocation the figures come from ---------------------------------------------------

@dataclass
class Source:
    """The allocation supply and demand and the what-if scenarios of a round read: its latest
    finished run, or a baseline solved for the insight pages, whichever finished last.

    Its figures are read from those kept with it (`placements.insights.figures`); one kept
    before figures were is worked out from its documents on each view."""

    round: AllocationRound
    run: AllocationRun | None = None
    solve: InsightSolve | None = None
    _kept: AllocationFigures | None = field(default=None, init=False, repr=False)
    _looked: bool = field(default=False, init=False, repr=False)

    @property
    def problem(self) -> dict[str, Any]:
        owner = self.run if self.run is not None else self.solve
        return (owner.problem if owner is not None else None) or {}

    @property
    def result(self) -> dict[str, Any]:
        owner = self.run if self.run is not None else self.solve
        return (owner.result if owner is not None else None) or {}

    @property
    def finished_at(self) -> datetime | None:
        owner = self.run if self.run is not None else self.solve
        return owner.finished_at if owner is not None else None

    @property
    def kept(self) -> AllocationFigures | None:
        """The figures kept with the allocation (None: kept before figures were)."""
        if not self._looked:
            self._kept = figures.kept_for(run_id=self.run.id) if self.run is not None else \
                figures.kept_for(solve_id=self.solve.id) if self.solve is not None else None
            self._looked = True
        return self._kept

    @property
    def summary(self) -> dict[str, Any]:
        kept = self.kept
        return dict(kept.summary) if kept is not None else self.result.get("summary") or {}

    @property
    def mandated_unplaced(self) -> int:
        """Mandated learners the allocation leaves without a place (its own count)."""
        kept = self.kept
        if kept is not None:
            return kept.mandated_unplaced
        return sum(1 for u in self.result.get("unplaced", []) if u.get("mandated"))

    @property
    def key(self) -> tuple[str, int]:
        """("run", id) or ("solve", id): what scenarios name as their baseline."""
        if self.run is not None:
            return ("run", self.run.id)
        assert self.solve is not None
        return ("solve", self.solve.id)

    @property
    def optimal(self) -> bool:
        kept = self.kept
        return (kept.status if kept is not None else self.result.get("status")) == "optimal"

    def members(self) -> tuple[set[int], set[int]]:
        """Ids of the learners and of the real offers the allocation solved."""
        kept = self.kept
        if kept is not None:
            return set(kept.learner_ids), set(kept.offer_ids)
        problem = self.problem
        return ({int(lr["id"][1:]) for lr in problem.get("learners", [])},
                {int(o["id"][1:]) for o in problem.get("offers", [])
                 if str(o.get("id", "")).startswith("O") and str(o["id"])[1:].isdigit()})

    def cells(self, by: str) -> list[calc.SupplyDemandCell]:
        """The allocation's supply and demand table by area or region."""
        kept = self.kept
        if kept is not None:
            return figures.kept_cells(kept, by)
        return figures.supply_demand_cells(self.round, self.problem, self.result)[by]


def _latest_run(round_: AllocationRound) -> tuple[int, datetime | None] | None:
    """(id, finished) of the round's latest finished run (its documents are not loaded)."""
    row = db.session.execute(
        sa.select(AllocationRun.id, Job.finished_at).join(Job, Job.id == AllocationRun.job_id)
        .where(AllocationRun.round_id == round_.id, Job.status == JobStatus.SUCCEEDED,
               AllocationRun.result.is_not(None))
        .order_by(Job.finished_at.desc(), AllocationRun.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def _latest_baseline(round_: AllocationRound) -> tuple[int, datetime | None] | None:
    """(id, finished) of the round's latest baseline solve (documents not loaded)."""
    row = db.session.execute(
        sa.select(InsightSolve.id, Job.finished_at).join(Job, Job.id == InsightSolve.job_id)
        .where(InsightSolve.round_id == round_.id, InsightSolve.kind == SolveKind.BASELINE,
               Job.status == JobStatus.SUCCEEDED, InsightSolve.result.is_not(None))
        .order_by(Job.finished_at.desc(), InsightSolve.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def latest_source(round_: AllocationRound) -> Source | None:
    """Return the allocation the round's insight figures come from, or None (none yet): its
    latest finished run, or its latest baseline solve when that finished later."""
    run, solve = _latest_run(round_), _latest_baseline(round_)
    if solve is not None and (run is None or (solve[1] is not None and (
            run[1] is None or solve[1] > run[1]))):
        return Source(round_, solve=db.session.get(InsightSolve, solve[0]))
    if run is not None:
        return Source(round_, run=db.session.get(AllocationRun, run[0]))
    return None


def source_of(solve: InsightSolve) -> Source | None:
    """The allocation a scenario is compared with (None before its job has found one)."""
    if solve.base_run is not None:
        return Source(solve.round, run=solve.base_run)
    if solve.base_solve is not None:
        return Source(solve.round, solve=solve.base_solve)
    return None


@dataclass
class Changes:
    """What changed in the round since the allocation the figures come from."""

    learners_added: int = 0
    learners_gone: int = 0
    offers_added: int = 0
    offers_gone: int = 0
    offers_changed: int = 0
    choices_open: bool = False

    def sentences(self) -> list[str]:
        """The changes in words for an officer (empty: nothing changed that we can tell)."""
        out = []

        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        if self.learners_added:
            out.append(f"{n(self.learners_added, 'learner')} joined the round's programmes")
        if self.learners_gone:
            out.append(f"{n(self.learners_gone, 'learner')} left them")
        if self.offers_added:
            out.append(f"{n(self.offers_added, 'offer')} now take learners that it did not "
                       "include" if self.offers_added != 1 else
                       "1 offer now takes learners that it did not include")
        if self.offers_gone:
            out.append(f"{n(self.offers_gone, 'offer')} it included no longer take learners"
                       if self.offers_gone != 1 else
                       "1 offer it included no longer takes learners")
        if self.offers_changed:
            out.append(f"{n(self.offers_changed, 'offer')} changed")
        return out

    @property
    def any(self) -> bool:
        return bool(self.sentences())


def changes_since(source: Source, now: datetime | None = None) -> Changes:
    """Compare the round as it stands with the allocation's problem: learners in the round's
    programmes, the offers its problem would include now (open to choices in its sectors,
    with places left after other rounds' holds: `rounds.problem.offer_ids_now`), offers
    edited since, and whether learners may still change their choices."""
    round_ = source.round
    then_learners, then_offers = source.members()
    programme_ids = list(db.session.scalars(sa.select(round_programmes.c.programme_id).where(
        round_programmes.c.round_id == round_.id)))
    now_learners = set(db.session.scalars(sa.select(Learner.id).where(
        Learner.programme_id.in_(programme_ids)))) if programme_ids else set()
    now_offers = offer_ids_now(round_)
    finished = source.finished_at
    # Offers edited since are few: read them, then keep those in both.
    edited = set(db.session.scalars(sa.select(PlacementOffer.id).where(
        PlacementOffer.updated_at > finished))) if finished is not None else set()
    changed = len(edited & then_offers & now_offers)
    return Changes(learners_added=len(now_learners - then_learners),
                   learners_gone=len(then_learners - now_learners),
                   offers_added=len(now_offers - then_offers),
                   offers_gone=len(then_offers - now_offers), offers_changed=changed,
                   choices_open=round_rules.takes_choices(
                       round_.status, round_.preference_deadline, now or utcnow()))


# --- supply and demand ----------------------------------------------------------------------

@dataclass
class SupplyDemand:
    """The table, per sector totals and the heat map grid (with an allocation: the source)."""

    by: str
    rows: list[calc.SupplyDemandCell]
    totals: dict[str, dict[str, int]]
    sectors: list[str]
    cells: list[str]
    labels: dict[str, str]
    source: Source | None = None

    def grid(self) -> list[tuple[str, list[calc.SupplyDemandCell | None]]]:
        """Return rows of the heat map: (sector, cell or None per column)."""
        index = {(r.sector, r.cell): r for r in self.rows}
        return [(s, [index.get((s, c)) for c in self.cells]) for s in self.sectors]

    @property
    def total(self) -> dict[str, int]:
        """Every additive column over all sectors."""
        return calc.grand_total(self.totals)


def _check_by(by: str) -> None:
    if by not in ("area", "region"):
        raise DomainError("Group by postcode area or region", field="by")


def _finish(by: str, rows: list[calc.SupplyDemandCell], sectors: list[str],
            source: Source | None = None) -> SupplyDemand:
    cells = sorted({r.cell for r in rows if r.learners})
    labels = {c: cell_label(c, by) for c in {r.cell for r in rows}}
    return SupplyDemand(by=by, rows=rows, totals=calc.sector_totals(rows), sectors=sectors,
                        cells=cells, labels=labels, source=source)


def supply_demand(scope: Scope, by: str = "area") -> SupplyDemand:
    """Learners of the scope's programmes against the places open to them today, with no
    allocation (the partnership view: no shortfall, since no allocation covers it)."""
    _check_by(by)
    learner_rows = db.session.execute(
        sa.select(Learner.home_postcode, Learner.lat, Learner.lon, Learner.max_travel_km,
                  Learner.credentials, Programme.route, Programme.placement_mandated)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.programme_id.in_(scope.programme_ids),
               Learner.in_work_employer.is_(None))).all()
    learners = [calc.DemandLearner(route, cell_key(pc, by), bool(mandated), lat, lon,
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
    offers = [calc.SupplyOffer(sector, cell_key(pc, by), capacity, lat, lon,
                               frozenset(req or ()))
              for pc, lat, lon, sector, capacity, req in offer_rows]
    return _finish(by, calc.supply_demand(learners, offers), sectors)


def allocation_supply_demand(source: Source, by: str = "area") -> SupplyDemand:
    """Supply and demand of a round from an allocation: its learners by sector and home,
    placed or not (the shortfall is the mandated learners it leaves unplaced, so the cells
    add up exactly to its own count), the places of its offers where they are, and the
    places within reach of each cell (`placements.insights.figures`)."""
    _check_by(by)
    rows = source.cells(by)
    sectors = sorted({r.sector for r in rows if r.learners} | source.round.sectors())
    return _finish(by, rows, sectors, source)


CSV_HEADER = ["Sector", "Area code", "Area", "Region", "Learners",
              "Of whom placement mandated", "Placed", "Not placed",
              "Mandated not placed (shortfall)", "Places offered in area",
              "Places within reach of these learners (overlapping)"]


def supply_demand_csv_rows(result: SupplyDemand) -> list[list[Any]]:
    """Return the CSV rows of a supply and demand table (LSIP reporting), as the page shows
    them: without an allocation the placed, not placed and shortfall columns are blank."""
    allocated = result.source is not None
    out = []
    for r in result.rows:
        if result.by == "area":
            code, name, region = r.cell, area_names().get(r.cell, ""), \
                area_regions().get(r.cell, "")
        else:
            code, name, region = "", "", r.cell
        out.append([r.sector, code, name, region, r.learners, r.mandated,
                    r.placed if allocated else "", r.unplaced if allocated else "",
                    r.mandated_unplaced if allocated else "", r.offered, r.reachable])
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


def has_result(run: AllocationRun) -> bool:
    """Say whether the run succeeded with a result (without reading it)."""
    return run.status == JobStatus.SUCCEEDED and bool(db.session.scalar(
        sa.select(sa.literal(True)).where(AllocationRun.id == run.id,
                                          AllocationRun.result.is_not(None))))


def groups_recorded_at(run: AllocationRun) -> datetime | None:
    """When the learners' groups of a run's fairness report were read: when the run's
    figures were kept (None: a run kept before figures were, read as they are now)."""
    return db.session.scalar(sa.select(AllocationFigures.created_at).where(
        AllocationFigures.run_id == run.id))


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


def fairness_tables(by_dimension: dict[str, list[calc.GroupCounts]]) -> list[FairnessTable]:
    """The fairness tables, one per learner dimension, suppressed and flagged."""
    tables = []
    for key, heading in figures.DIMENSIONS:
        groups = by_dimension.get(key, [])
        shown, shown_total = calc.suppress(groups, figures.total(groups))
        tables.append(FairnessTable(key, heading, shown, shown_total))
    return tables


def fairness_report(run: AllocationRun) -> list[FairnessTable]:
    """Return the fairness tables of a run (from the groups kept with it; a run kept before
    figures were is worked out from its result)."""
    kept = figures.kept_for(run_id=run.id)
    return fairness_tables(figures.kept_groups(kept) if kept is not None else
                           figures.fairness_groups(run.result or {}))


# --- what-if --------------------------------------------------------------------------------
#
# A question ("5 more Digital places in M, spread over its districts") is a scenario solve:
# a job (`insights.solve`, placements/insights/jobs.py) adds the extra places to the problem
# of the allocation the round's figures come from (its latest run, or a baseline solve) and
# solves it again as a repair of that allocation, so that the solver keeps every placement it
# can and the difference is the effect of the extra places. Supply and demand reads the same
# allocation, so the two pages agree. Answers are kept on the solve; nothing real changes.

INSIGHTS_JOB = "insights.solve"
EXTRA_PLACE = "extra place"


def solve_subject(round_id: int, slot: int | str) -> str:
    """The job subject of an insight solve: one baseline and a few scenarios at a time."""
    return f"round:{round_id}:insights:{slot}"


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


def sector_postcodes(round_: AllocationRound, sector: str) -> list[str]:
    """Home postcodes of the round's learners of one sector (where to spread places)."""
    programme_ids = [p.id for p in round_.programmes if p.route == sector]
    if not programme_ids:
        return []
    return list(db.session.scalars(sa.select(Learner.home_postcode).where(
        Learner.programme_id.in_(programme_ids))))


def variant_problem(base_problem: dict[str, Any], base_result: dict[str, Any],
                    extra: list[dict[str, Any]]) -> dict[str, Any]:
    """The base problem with the extra offers, solved as a repair of the base allocation."""
    doc = dict(base_problem)
    doc["offers"] = list(base_problem.get("offers", [])) + [dict(o) for o in extra]
    doc["previous"] = [{"learner": a["learner"], "offer": a["offer"]}
                       for a in base_result.get("assignments", [])]
    return doc


def scenario_answer(base_result: dict[str, Any], variant: dict[str, Any],
                    extra: list[dict[str, Any]], *, fallback: bool) -> dict[str, Any]:
    """Compare a scenario's allocation with its baseline: the figures kept on the solve
    (learners by id only: names are looked up when shown)."""
    virtual = {o["id"] for o in extra}
    base_placed = {a["learner"] for a in base_result.get("assignments", [])}
    helped = []
    for a in variant.get("assignments", []):
        if a["offer"] in virtual or a["learner"] not in base_placed:
            helped.append({"learner": int(a["learner"][1:]),
                           "offer": EXTRA_PLACE if a["offer"] in virtual
                           else int(a["offer"][1:]),
                           "newly_placed": a["learner"] not in base_placed})
    warnings = []
    if not fallback:
        warnings.append("This round has no fallback: learners are only placed at offers they "
                        "listed, so extra places nobody listed help no one.")
    if base_result.get("status") != "optimal" or variant.get("status") != "optimal":
        warnings.append("The solver hit the round's time limit, so the figures may be "
                        "slightly off.")

    def figures(summary: dict[str, Any]) -> dict[str, int]:
        return {k: int(summary.get(k, 0)) for k in ("learners", "mandated", "placed",
                                                   "mandated_placed")}

    return {"baseline": figures(base_result.get("summary", {})),
            "variant": figures(variant.get("summary", {})),
            "extra_offers": extra, "helped": helped,
            "used_places": sum(1 for a in variant.get("assignments", [])
                               if a["offer"] in virtual),
            "warnings": warnings}


class SlotTaken(JobConflict):
    """Another question took the free slot at the same moment (the caller may roll back and
    ask again: another slot may be free)."""


def _free_slot(round_: AllocationRound) -> str:
    """A scenario slot of the round with no unfinished job (stale ones reaped first)."""
    limit = max(1, int(current_app.config["INSIGHTS_SOLVES_AT_ONCE"]))
    for slot in range(limit):
        reap_stale(solve_subject(round_.id, slot))
    busy = set(db.session.scalars(sa.select(Job.subject).where(
        Job.subject.in_([solve_subject(round_.id, k) for k in range(limit)]),
        Job.status.in_(ACTIVE_JOB_STATUSES))))
    for slot in range(limit):
        if solve_subject(round_.id, slot) not in busy:
            return solve_subject(round_.id, slot)
    raise JobConflict(f"{limit} questions about this round are being worked out: wait for "
                      "one to finish, or cancel one")


def _enqueue_solve(officer: User, round_: AllocationRound, solve: InsightSolve, *,
                   subject: str, title: str, busy: str) -> InsightSolve:
    job = enqueue(INSIGHTS_JOB, title=title, provider_id=officer.provider_id,
                  created_by_id=officer.id, subject=subject, busy_message=busy)
    solve.job = job
    db.session.add(solve)
    db.session.flush()
    job.payload = {"solve_id": solve.id}
    return solve


def _require_learners(round_: AllocationRound) -> None:
    programme_ids = [p.id for p in round_.programmes]
    if not programme_ids or db.session.scalar(sa.select(Learner.id).where(
            Learner.programme_id.in_(programme_ids)).limit(1)) is None:
        raise DomainError("No learners are in this round's programmes yet")


def ask_what_if(officer: User, round_: AllocationRound, *, sector: str, area: str,
                places: int, spread: bool = False) -> InsightSolve:
    """Queue a scenario: the round's allocation with extra places of a sector in an area,
    compared with the allocation its figures come from now (flushed; the caller commits
    and submits the job)."""
    if sector not in round_.sectors():
        raise DomainError("Choose a sector of the round's programmes", field="sector")
    area = area.strip().upper()
    if area not in area_names():
        raise DomainError("Enter a postcode area such as M, SK or BL", field="area")
    if not 1 <= places <= 500:
        raise DomainError("Extra places must be between 1 and 500", field="places")
    _require_learners(round_)
    source = latest_source(round_)
    solve = InsightSolve(round_id=round_.id, kind=SolveKind.SCENARIO, created_by_id=officer.id,
                         sector=sector, area=area, places=places, spread=bool(spread),
                         base_run_id=source.run.id if source and source.run else None,
                         base_solve_id=source.solve.id if source and source.solve else None)
    try:
        _enqueue_solve(officer, round_, solve, subject=_free_slot(round_),
                       title=f"What if: {places} {sector} place{'s' if places != 1 else ''} "
                             f"in {area}, {round_.name}",
                       busy="Another question about this round was asked at the same "
                            "moment: try again")
    except JobConflict as exc:
        raise SlotTaken(exc.message, exc.field) from None
    audit.record(officer, "insights.what_if", solve, round_id=round_.id, sector=sector,
                 area=area, places=places, spread=bool(spread))
    return solve


def start_baseline(officer: User, round_: AllocationRound) -> InsightSolve:
    """Queue a solve of the round as it stands, for the insight pages (changes nothing)."""
    _require_learners(round_)
    subject = solve_subject(round_.id, "baseline")
    reap_stale(subject)
    solve = InsightSolve(round_id=round_.id, kind=SolveKind.BASELINE, created_by_id=officer.id)
    _enqueue_solve(officer, round_, solve, subject=subject,
                   title=f"Allocation as it stands, {round_.name} (for insights)",
                   busy="The allocation as it stands is already being worked out")
    audit.record(officer, "insights.baseline", solve, round_id=round_.id)
    return solve


def may_cancel(officer: User, solve: InsightSolve) -> bool:
    """Who may stop a solve: the officer who asked for it, or an officer of the round's
    owning provider."""
    return solve.created_by_id == officer.id or access.officer_manages_round(officer,
                                                                           solve.round)


def cancel_solve(officer: User, solve: InsightSolve) -> str:
    """Cancel a queued solve, or ask a running one to stop ("cancelled" or "stopping")."""
    if not may_cancel(officer, solve):
        raise NotAllowed("Only the officer who asked, or an officer of the round's own "
                         "provider, can cancel this")
    return request_cancel(solve.job)


#: Baselines of a round whose documents are kept (older ones keep their row, not their
#: problem and result: a 50,000-learner round's pair is tens of megabytes).
KEEP_BASELINES = 2


def prune_baselines(round_id: int) -> int:
    """Drop the documents and figures of the round's older baselines (flushed baselines
    count); return how many were dropped."""
    kept = list(db.session.scalars(
        sa.select(InsightSolve.id).where(InsightSolve.round_id == round_id,
                                         InsightSolve.kind == SolveKind.BASELINE,
                                         InsightSolve.result.is_not(None))
        .order_by(InsightSolve.id.desc())))
    old = kept[KEEP_BASELINES:]
    if not old:
        return 0
    db.session.execute(sa.update(InsightSolve).where(InsightSolve.id.in_(old))
                       .values(problem=None, result=None))
    db.session.execute(sa.delete(AllocationFigures).where(AllocationFigures.solve_id.in_(old)))
    return len(old)


def solve_in_round(round_: AllocationRound, solve_id: int) -> InsightSolve | None:
    """Return the round's insight solve, or None."""
    solve = db.session.get(InsightSolve, solve_id)
    if solve is None or solve.round_id != round_.id:
        return None
    return solve


def active_baseline(round_: AllocationRound) -> InsightSolve | None:
    """The round's baseline being worked out, if any."""
    return db.session.scalar(
        sa.select(InsightSolve).join(Job, Job.id == InsightSolve.job_id)
        .where(InsightSolve.round_id == round_.id, InsightSolve.kind == SolveKind.BASELINE,
               Job.status.in_(ACTIVE_JOB_STATUSES))
        .order_by(InsightSolve.id.desc()).limit(1))


def solve_progress(solve: InsightSolve) -> dict[str, Any]:
    """Status, elapsed seconds and stage of a solve (polled by the page)."""
    job = solve.job
    progress = job.progress or {}
    elapsed = progress.get("elapsed_s")
    if job.started_at is not None:
        end = job.finished_at or (utcnow() if job.status == JobStatus.RUNNING else None)
        if end is not None:
            elapsed = round((end - job.started_at).total_seconds(), 1)
    return {"status": shown_status(job), "elapsed": elapsed,
            "stage": progress.get("message") or "", "error": shown_error(job)}


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
class Scenario:
    """A scenario as the page shows it: its question, where its job stands, its answer."""

    solve: InsightSolve
    progress: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.progress["status"])

    @property
    def answer(self) -> dict[str, Any] | None:
        return self.solve.result if self.status == JobStatus.SUCCEEDED.value else None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def question(self) -> str:
        s = self.solve
        places = f"{s.places} more {s.sector} place{'' if s.places == 1 else 's'}"
        where = f"in {area_label(s.area or '')}"
        return f"{places} {where}" + (", spread over its districts" if s.spread else "")

    def _delta(self, name: str) -> int:
        answer = self.answer or {}
        return int(answer.get("variant", {}).get(name, 0)) - int(
            answer.get("baseline", {}).get(name, 0))

    @property
    def extra_mandated(self) -> int:
        return self._delta("mandated_placed")

    @property
    def extra_placed(self) -> int:
        return self._delta("placed")

    @property
    def newly_placed(self) -> int:
        return sum(1 for h in (self.answer or {}).get("helped", []) if h["newly_placed"])

    @property
    def used_places(self) -> int:
        return int((self.answer or {}).get("used_places", 0))


@dataclass
class ScenarioBoard:
    """The round's scenarios: those compared with the current allocation side by side,
    those still being worked out, and earlier ones compared with an older allocation."""

    source: Source | None
    current: list[Scenario]
    active: list[Scenario]
    earlier: list[Scenario]
    failed: list[Scenario]


def scenario_board(round_: AllocationRound, source: Source | None,
                   limit: int = 30) -> ScenarioBoard:
    """Sort the round's latest scenarios for the page (no writes)."""
    solves = db.session.scalars(
        sa.select(InsightSolve).where(InsightSolve.round_id == round_.id,
                                      InsightSolve.kind == SolveKind.SCENARIO)
        .options(undefer(InsightSolve.result))  # a scenario's answer is small
        .order_by(InsightSolve.created_at.desc(), InsightSolve.id.desc()).limit(limit)).all()
    board = ScenarioBoard(source, [], [], [], [])
    key = source.key if source is not None else None
    for solve in reversed(solves):
        scenario = Scenario(solve, solve_progress(solve))
        if scenario.active:
            board.active.append(scenario)
        elif scenario.answer is None:
            board.failed.append(scenario)
        else:
            base = ("run", solve.base_run_id) if solve.base_run_id is not None else \
                ("solve", solve.base_solve_id)
            (board.current if base == key else board.earlier).append(scenario)
    board.failed = board.failed[-5:]
    return board


def helped_learners(scenario: Scenario) -> list[HelpedLearner]:
    """The learners a scenario's extra places would help, with their names (officers only)."""
    helped = (scenario.answer or {}).get("helped", [])
    ids = [h["learner"] for h in helped]
    if not ids:
        return []
    details = {lid: (name, ref, pc, mandated) for lid, name, ref, pc, mandated in
               db.session.execute(
                   sa.select(Learner.id, User.name, Learner.student_ref, Learner.home_postcode,
                             Programme.placement_mandated)
                   .join(User, User.id == Learner.user_id)
                   .join(Programme, Programme.id == Learner.programme_id)
                   .where(Learner.id.in_(ids)))}
    offer_ids = [h["offer"] for h in helped if h["offer"] != EXTRA_PLACE]
    titles = {oid: title for oid, title in db.session.execute(
        sa.select(PlacementOffer.id, PlacementOffer.title).where(
            PlacementOffer.id.in_(offer_ids)))} if offer_ids else {}
    out = []
    for h in helped:
        if h["learner"] not in details:
            continue  # no longer on record
        name, ref, pc, mandated = details[h["learner"]]
        offer = EXTRA_PLACE if h["offer"] == EXTRA_PLACE else \
            titles.get(h["offer"], f"offer {h['offer']}")
        out.append(HelpedLearner(h["learner"], name, ref, bool(mandated),
                                 calc.postcode_area(pc), offer, bool(h["newly_placed"])))
    out.sort(key=lambda h: (not h.newly_placed, not h.mandated, h.name))
    return out
