"""insight figures kept with each allocation: supply and demand by area and by region, a
run's fairness counts, its summary and the learners and offers it solved

Revision ID: 0700_allocation_figures
Revises: 0500_employer_status
Create Date: 2026-11-30 16:00:00

Supply and demand, what-if and fairness read these rows instead of an allocation's problem
and result documents (megabytes at region scale) on every view. Allocations kept before this
revision have none: the pages work their figures out from the documents on each view, as
before, until `flask insights figures` keeps them (see README, "Upgrading").
"""

import sqlalchemy as sa
from alembic import op

revision = "0700_allocation_figures"
down_revision = "0500_employer_status"
branch_labels = None
depends_on = None

COUNTS = ("learners", "mandated", "offered", "reachable", "placed", "unplaced",
          "mandated_unplaced")
GROUP_COUNTS = ("learners", "placed", "mandated", "mandated_placed", "first_choice",
                "ranked", "rank_sum")


def upgrade():
    op.create_table(
        "allocation_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("solve_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("mandated_unplaced", sa.Integer(), nullable=False),
        sa.Column("learner_ids", sa.JSON(), nullable=False),
        sa.Column("offer_ids", sa.JSON(), nullable=False),
        sa.CheckConstraint("(run_id IS NULL) != (solve_id IS NULL)",
                           name=op.f("ck_allocation_figures_figures_of_one")),
        sa.ForeignKeyConstraint(["run_id"], ["allocation_run.id"], ondelete="CASCADE",
                                name=op.f("fk_allocation_figures_run_id_allocation_run")),
        sa.ForeignKeyConstraint(["solve_id"], ["insight_solve.id"], ondelete="CASCADE",
                                name=op.f("fk_allocation_figures_solve_id_insight_solve")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_figures")),
        sa.UniqueConstraint("run_id", name=op.f("uq_allocation_figures_run_id")),
        sa.UniqueConstraint("solve_id", name=op.f("uq_allocation_figures_solve_id")),
    )
    op.create_table(
        "allocation_figure_cell",
        sa.Column("figures_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=10), nullable=False),
        sa.Column("sector", sa.String(length=100), nullable=False),
        sa.Column("cell", sa.String(length=100), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.ForeignKeyConstraint(
            ["figures_id"], ["allocation_figures.id"], ondelete="CASCADE",
            name=op.f("fk_allocation_figure_cell_figures_id_allocation_figures")),
        sa.PrimaryKeyConstraint("figures_id", "by", "sector", "cell",
                                name=op.f("pk_allocation_figure_cell")),
    )
    op.create_table(
        "allocation_figure_group",
        sa.Column("figures_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in GROUP_COUNTS],
        sa.ForeignKeyConstraint(
            ["figures_id"], ["allocation_figures.id"], ondelete="CASCADE",
            name=op.f("fk_allocation_figure_group_figures_id_allocation_figures")),
        sa.PrimaryKeyConstraint("figures_id", "dimension", "label",
                                name=op.f("pk_allocation_figure_group")),
    )


def downgrade():
    op.drop_table("allocation_figure_group")
    op.drop_table("allocation_figure_cell")
    op.drop_table("allocation_figures")
