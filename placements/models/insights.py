"""Insight models: solves of a round's allocation made for the insight pages (they change no
placement): the round as it stands, and what-if scenarios compared with it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placements.models.allocation import AllocationRun
from placements.models.base import Base, enum_type, utcnow
from placements.models.core import AllocationRound, User
from placements.models.jobs import Job, JobStatus


class SolveKind(enum.StrEnum):
    """What an insight solve works out."""

    BASELINE = "baseline"  # the round's allocation as it stands (no run, or none recent)
    SCENARIO = "scenario"  # the same with extra places of a sector in an area


class InsightSolve(Base):
    """One solve for the insight pages, run as a job (`insights.solve`).

    A baseline keeps the problem it solved and the solver's whole result, so that supply and
    demand and every scenario compared with it read the same allocation. A scenario names
    the allocation it is compared with: a run of the round (`base_run_id`) or a baseline
    (`base_solve_id`, possibly solved by the scenario's own job when there was none), and
    keeps its answer (summaries, the learners it helps by id) in `result`.
    """

    __tablename__ = "insight_solve"
    __table_args__ = (
        sa.CheckConstraint("kind != 'scenario' OR (sector IS NOT NULL AND area IS NOT NULL "
                           "AND places >= 1)", name="scenario_has_question"),
        sa.Index("ix_insight_solve_round_created", "round_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_round.id", ondelete="CASCADE"))
    kind: Mapped[SolveKind] = mapped_column(enum_type(SolveKind, 20))
    #: The job that works it out (a scenario's job may also solve its baseline).
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("job.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: What a scenario is compared with: a run of the round, or a baseline solve.
    base_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("allocation_run.id", ondelete="SET NULL"))
    base_solve_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("insight_solve.id", ondelete="SET NULL"))
    #: A scenario's question: extra places of a sector in a postcode area, spread or not.
    sector: Mapped[str | None] = mapped_column(sa.String(100))
    area: Mapped[str | None] = mapped_column(sa.String(4))
    places: Mapped[int | None]
    spread: Mapped[bool] = mapped_column(default=False)
    #: A baseline's `placement-problem/1` document (megabytes at region scale: loaded only
    #: when read).
    problem: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, deferred=True)
    #: A baseline's `placement-result/1`; a scenario's answer.
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, deferred=True)

    round: Mapped[AllocationRound] = relationship()
    created_by: Mapped[User | None] = relationship()
    job: Mapped[Job] = relationship(lazy="joined", innerjoin=True)
    base_run: Mapped[AllocationRun | None] = relationship()
    base_solve: Mapped[InsightSolve | None] = relationship(remote_side=[id])

    @property
    def status(self) -> JobStatus:
        return self.job.status

    @property
    def finished_at(self) -> datetime | None:
        return self.job.finished_at


class AllocationFigures(Base):
    """What the insight pages show of one allocation (a run, or a baseline solve), worked
    out from its problem and result once, in the transaction that keeps the allocation
    (`placements.insights.figures`), so that the pages read a few rows instead of its
    documents (megabytes at region scale).

    Homes, sites and learners' groups are as they were on record when it was kept."""

    __tablename__ = "allocation_figures"
    __table_args__ = (
        sa.CheckConstraint("(run_id IS NULL) != (solve_id IS NULL)", name="figures_of_one"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("allocation_run.id", ondelete="CASCADE"), unique=True)
    solve_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("insight_solve.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The solver's status ("optimal", "feasible") and its summary's counts.
    status: Mapped[str] = mapped_column(sa.String(20))
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: Mandated learners the allocation leaves without a place (the shortfall).
    mandated_unplaced: Mapped[int]
    #: Ids of the learners and of the real offers of its problem, ascending (what the pages
    #: compare with the round as it stands).
    learner_ids: Mapped[list[int]] = mapped_column(sa.JSON, deferred=True)
    offer_ids: Mapped[list[int]] = mapped_column(sa.JSON, deferred=True)


class FigureCell(Base):
    """One row of an allocation's supply and demand table, grouped by area or region
    (`placements.insights.calc.SupplyDemandCell`)."""

    __tablename__ = "allocation_figure_cell"

    figures_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_figures.id", ondelete="CASCADE"), primary_key=True)
    by: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    sector: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    cell: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    learners: Mapped[int]
    mandated: Mapped[int]
    offered: Mapped[int]
    reachable: Mapped[int]
    placed: Mapped[int]
    unplaced: Mapped[int]
    mandated_unplaced: Mapped[int]


class FigureGroup(Base):
    """A run's raw outcome counts for one learner group of one fairness dimension
    (`placements.insights.calc.GroupCounts`): suppressed only when shown."""

    __tablename__ = "allocation_figure_group"

    figures_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation_figures.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    learners: Mapped[int]
    placed: Mapped[int]
    mandated: Mapped[int]
    mandated_placed: Mapped[int]
    first_choice: Mapped[int]
    ranked: Mapped[int]
    rank_sum: Mapped[int]
