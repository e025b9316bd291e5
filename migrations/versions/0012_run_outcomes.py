"""a run's outcome per learner and per offer, for pages that count and page in SQL

Revision ID: 0012_run_outcomes
Revises: 0100_api
Create Date: 2026-11-30 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_run_outcomes"
down_revision = "0100_api"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "run_learner",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("before_offer_id", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("mandated", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["allocation_run.id"],
                                name=op.f("fk_run_learner_run_id_allocation_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "learner_id", name=op.f("pk_run_learner")),
    )
    op.create_index("ix_run_learner_change", "run_learner", ["run_id", "change"])
    op.create_table(
        "run_offer",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("offer_key", sa.String(length=40), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["allocation_run.id"],
                                name=op.f("fk_run_offer_run_id_allocation_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "offer_key", name=op.f("pk_run_offer")),
    )


def downgrade():
    op.drop_table("run_offer")
    op.drop_index("ix_run_learner_change", table_name="run_learner")
    op.drop_table("run_learner")
