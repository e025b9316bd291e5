"""The figures the insight pages show of an allocation, worked out once when it is kept.

An allocation (a run of a round, or a baseline solved for the insight pages) carries its
problem and result documents: megabytes at region scale, seconds to read. Supply and demand,
what-if and the fairness report need little of them: the table by area and by region, the
solver's summary, which learners and offers it solved, and (for a run) outcome counts per
learner group. So those are worked out from the documents when the allocation is kept, in
the same transaction (a run: on `placements.rounds.signals.run_solved`; a baseline: by the
insight job), and the pages read them as rows.

Homes, sites and learners' groups are taken as they are on record at that moment: the
figures describe the allocation as it was made, and the pages say what changed since.
Allocations kept before figures were (an upgraded database) are worked out from their
documents on each view by the same code (`work_out`), until `flask insights figures` keeps
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from placements.extensions import db
from placements.insights import calc
from placements.insights.areas import GROUPINGS, cell_key
from placements.models import (
    AllocationFigures,
    AllocationRound,
    AllocationRun,
    EmployerSite,
    FigureCell,
    FigureGroup,
    InsightSolve,
    Learner,
    PlacementOffer,
    Programme,
    Provider,
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
#: Rows written at once.
BATCH = 5000
#: The counts kept per supply and demand cell and per fairness group.
CELL_COUNTS = ("learners", "mandated", "offered", "reachable", "placed", "unplaced",
               "mandated_unplaced")
GROUP_COUNTS = ("learners", "placed", "mandated", "mandated_placed", "first_choice", "ranked",
                "rank_sum")


@dataclass
class Figures:
    """An allocation's figures as worked out from its documents (what `keep` writes)."""

    status: str
    summary: dict[str, Any]
    mandated_unplaced: int
    learner_ids: list[int]
    offer_ids: list[int]
    #: "area" / "region" -> the supply and demand table's rows.
    cells: dict[str, list[calc.SupplyDemandCell]]
    #: dimension -> raw counts per group (a run's; empty for a baseline).
    groups: dict[str, list[calc.GroupCounts]] = field(default_factory=dict)


def _key_id(key: Any) -> int | None:
    """The database id in a problem key ("L12", "O7"); None for a key of something else
    (a what-if's extra offer "W1")."""
    text = str(key or "")
    return int(text[1:]) if len(text) > 1 and text[1:].isdigit() else None


def _home_postcodes(round_: AllocationRound, ids: list[int]) -> dict[int, str]:
    """Home postcodes of the learners of an allocation: the round's programmes' learners in
    one query, any others (moved to another programme since) by id."""
    programme_ids = [p.id for p in round_.programmes]
    out: dict[int, str] = {lid: pc for lid, pc in db.session.execute(
        sa.select(Learner.id, Learner.home_postcode).where(
            Learner.programme_id.in_(programme_ids)))} if programme_ids else {}
    missing = [i for i in ids if i not in out]
    for start in range(0, len(missing), 1000):
        out.update((lid, pc) for lid, pc in db.session.execute(
            sa.select(Learner.id, Learner.home_postcode).where(
                Learner.id.in_(missing[start:start + 1000]))))
    return out


def _site_postcodes(sectors: list[str], ids: list[int]) -> dict[int, str]:
    """Site postcodes of an allocation's offers: the offers of its sectors in one query, any
    others by id."""
    stmt = sa.select(PlacementOffer.id, EmployerSite.postcode).join(
        EmployerSite, EmployerSite.id == PlacementOffer.site_id)
    out: dict[int, str] = {oid: pc for oid, pc in db.session.execute(
        stmt.where(PlacementOffer.sector.in_(sectors)))} if sectors else {}
    missing = [i for i in ids if i not in out]
    for start in range(0, len(missing), 1000):
        out.update((oid, pc) for oid, pc in db.session.execute(stmt.where(
            PlacementOffer.id.in_(missing[start:start + 1000]))))
    return out


def supply_demand_cells(round_: AllocationRound, problem: dict[str, Any],
                        result: dict[str, Any]) -> dict[str, list[calc.SupplyDemandCell]]:
    """The supply and demand table of an allocation by area and by region: its learners by
    sector and home, placed or not (so the mandated unplaced add up exactly to its own
    count), its offers' places where they are, and the places within reach of each cell
    (eligibility's rule, on the same problem)."""
    unplaced = {u["learner"] for u in result.get("unplaced", [])}
    p_learners = problem.get("learners", [])
    l_ids = [_key_id(lr["id"]) for lr in p_learners]
    homes = _home_postcodes(round_, [i for i in l_ids if i is not None])
    learners = [calc.DemandLearner(
        lr["sector"], "", bool(lr.get("mandated")), float(lr["lat"]), float(lr["lon"]),
        float(lr["max_km"]) if lr.get("max_km") is not None else float("inf"),
        frozenset(lr.get("has") or ()), placed=lr["id"] not in unplaced)
        for lr in p_learners]
    # Many learners share a home postcode: each postcode's cells are worked out once.
    cells_of_home = {home: tuple(cell_key(home, by) for by in GROUPINGS)
                     for home in set(homes.values()) | {None}}
    learner_cells = [cells_of_home[homes.get(i) if i is not None else None] for i in l_ids]
    p_offers = [o for o in problem.get("offers", []) if str(o.get("id", "")).startswith("O")]
    o_ids = [_key_id(o["id"]) for o in p_offers]
    sites = _site_postcodes(sorted({o["sector"] for o in p_offers}),
                            [i for i in o_ids if i is not None])
    offers = [calc.SupplyOffer(o["sector"], "", int(o["capacity"]), float(o["lat"]),
                               float(o["lon"]), frozenset(o.get("requires") or ()))
              for o in p_offers]
    offer_cells = [tuple(cell_key(sites.get(i) if i is not None else None, by)
                         for by in GROUPINGS) for i in o_ids]
    tables = calc.supply_demand_grouped(learners, offers, learner_cells, offer_cells,
                                        views=len(GROUPINGS))
    return dict(zip(GROUPINGS, tables, strict=True))


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("Yes" if value else "No")


def run_outcomes(result: dict[str, Any]) -> list[calc.Outcome]:
    """Join a run's result to its learners' equality fields (learners since deleted drop)."""
    placed: dict[int, int | None] = {}
    for a in result.get("assignments", []):
        placed[int(a["learner"][1:])] = None if a.get("locked") else a.get("rank")
    unplaced = {int(u["learner"][1:]) for u in result.get("unplaced", [])}
    ids = sorted(set(placed) | unplaced)
    rows: list[Any] = []
    for start in range(0, len(ids), 20000):
        rows += db.session.execute(
            sa.select(Learner.id, Learner.first_in_family_he, Learner.age_band,
                      Learner.prior_qualification, Learner.disability_declared, Provider.name,
                      Programme.placement_mandated)
            .join(Provider, Provider.id == Learner.provider_id)
            .join(Programme, Programme.id == Learner.programme_id)
            .where(Learner.id.in_(ids[start:start + 20000]))).all()
    outcomes = []
    for lid, fif, age, prior, disability, provider, mandated in rows:
        groups = {"first_in_family_he": _yes_no(fif), "age_band": age or UNKNOWN,
                  "prior_qualification": prior or UNKNOWN,
                  "disability_declared": _yes_no(disability), "provider": provider}
        outcomes.append(calc.Outcome(groups, bool(mandated), lid in placed, placed.get(lid)))
    return outcomes


def fairness_groups(result: dict[str, Any]) -> dict[str, list[calc.GroupCounts]]:
    """A run's raw outcome counts per group of each fairness dimension."""
    outcomes = run_outcomes(result)
    return {key: calc.group_counts(outcomes, key)[0] for key, _ in DIMENSIONS}


def work_out(round_: AllocationRound, problem: dict[str, Any], result: dict[str, Any], *,
             fairness: bool) -> Figures:
    """Work an allocation's figures out from its documents (and what is on record now)."""
    learner_ids = sorted(i for i in (_key_id(lr["id"]) for lr in problem.get("learners", []))
                         if i is not None)
    offer_ids = sorted(i for i in (_key_id(o["id"]) for o in problem.get("offers", [])
                                   if str(o.get("id", "")).startswith("O")) if i is not None)
    return Figures(
        status=str(result.get("status") or ""), summary=dict(result.get("summary") or {}),
        mandated_unplaced=sum(1 for u in result.get("unplaced", []) if u.get("mandated")),
        learner_ids=learner_ids, offer_ids=offer_ids,
        cells=supply_demand_cells(round_, problem, result),
        groups=fairness_groups(result) if fairness else {})


def keep(figures: Figures, *, run_id: int | None = None,
         solve_id: int | None = None) -> AllocationFigures:
    """Write an allocation's figures (in the caller's transaction). They are written once:
    an allocation that has figures already makes the flush fail (a unique key)."""
    if (run_id is None) == (solve_id is None):
        raise ValueError("figures belong to one run or one solve")
    kept = AllocationFigures(run_id=run_id, solve_id=solve_id, status=figures.status,
                             summary=figures.summary,
                             mandated_unplaced=figures.mandated_unplaced,
                             learner_ids=figures.learner_ids, offer_ids=figures.offer_ids)
    db.session.add(kept)
    db.session.flush()
    cells = [{"figures_id": kept.id, "by": by, "sector": c.sector, "cell": c.cell,
              **{name: getattr(c, name) for name in CELL_COUNTS}}
             for by, rows in figures.cells.items() for c in rows]
    groups = [{"figures_id": kept.id, "dimension": dimension, "label": g.label,
               **{name: getattr(g, name) for name in GROUP_COUNTS}}
              for dimension, rows in figures.groups.items() for g in rows]
    for model, rows in ((FigureCell, cells), (FigureGroup, groups)):
        for start in range(0, len(rows), BATCH):
            db.session.execute(sa.insert(model), rows[start:start + BATCH])
    return kept


def kept_for(*, run_id: int | None = None,
             solve_id: int | None = None) -> AllocationFigures | None:
    """The figures kept with a run or a solve (None: kept before figures were, or not
    stored at all)."""
    if run_id is not None:
        owner = AllocationFigures.run_id == run_id
    elif solve_id is not None:
        owner = AllocationFigures.solve_id == solve_id
    else:
        return None
    return db.session.scalar(sa.select(AllocationFigures).where(owner))


def kept_cells(kept: AllocationFigures, by: str) -> list[calc.SupplyDemandCell]:
    """The kept supply and demand table by area or region, sorted by sector and cell."""
    rows = db.session.scalars(sa.select(FigureCell).where(FigureCell.figures_id == kept.id,
                                                          FigureCell.by == by)).all()
    cells = [calc.SupplyDemandCell(r.sector, r.cell, **{n: getattr(r, n) for n in CELL_COUNTS})
             for r in rows]
    return sorted(cells, key=lambda c: (c.sector, c.cell))


def kept_groups(kept: AllocationFigures) -> dict[str, list[calc.GroupCounts]]:
    """A run's kept outcome counts per group of each dimension, groups sorted by label."""
    out: dict[str, list[calc.GroupCounts]] = {key: [] for key, _ in DIMENSIONS}
    for r in db.session.scalars(sa.select(FigureGroup).where(
            FigureGroup.figures_id == kept.id)):
        out.setdefault(r.dimension, []).append(
            calc.GroupCounts(r.label, **{n: getattr(r, n) for n in GROUP_COUNTS}))
    return {key: sorted(groups, key=lambda g: g.label) for key, groups in out.items()}


def keep_for_run(run: AllocationRun, result: dict[str, Any]) -> AllocationFigures:
    """Work out and keep a run's figures (its problem is the one it solved)."""
    return keep(work_out(run.round, run.problem or {}, result, fairness=True), run_id=run.id)


def keep_missing(*, run_id: int | None = None, solve_id: int | None = None) -> bool:
    """Work out and keep, in a transaction of its own, the figures of a run or a baseline
    kept before figures were (an upgrade); return False when it has them already (kept
    meanwhile by another process too: the unique key decides) or has no documents."""
    if kept_for(run_id=run_id, solve_id=solve_id) is not None:
        return False
    if run_id is not None:
        run = db.session.get(AllocationRun, run_id)
        if run is None or not run.result:
            return False
        worked = work_out(run.round, run.problem or {}, run.result, fairness=True)
    else:
        solve = db.session.get(InsightSolve, solve_id)
        if solve is None or not solve.result or not solve.problem:
            return False
        worked = work_out(solve.round, solve.problem, solve.result, fairness=False)
    try:
        keep(worked, run_id=run_id, solve_id=solve_id)
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False
    return True


def total(groups: list[calc.GroupCounts]) -> calc.GroupCounts:
    """All learners of a dimension: every learner is in exactly one of its groups."""
    out = calc.GroupCounts("All learners")
    for g in groups:
        for name in GROUP_COUNTS:
            setattr(out, name, out.count(name) + g.count(name))
    return out

