"""insight solves: the round as it stands and what-if scenarios, solved as jobs for the
insight pages (supply and demand, what-if)

Revision ID: 0400_insight_solves
Revises: 0600_ksb
Create Date: 2026-11-30 11:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0400_insight_solves"
down_revision = "0600_ksb"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "insight_solve",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("baseline", "scenario", name="solvekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("base_run_id", sa.Integer(), nullable=True),
        sa.Column("base_solve_id", sa.Integer(), nullable=True),
        sa.Column("sector", sa.String(length=100), nullable=True),
        sa.Column("area", sa.String(length=4), nullable=True),
        sa.Column("places", sa.Integer(), nullable=True),
        sa.Column("spread", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "kind != 'scenario' OR (sector IS NOT NULL AND area IS NOT NULL AND places >= 1)",
            name=op.f("ck_insight_solve_scenario_has_question"),
        ),
        sa.ForeignKeyConstraint(
            ["base_run_id"], ["allocation_run.id"],
            name=op.f("fk_insight_solve_base_run_id_allocation_run"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["base_solve_id"], ["insight_solve.id"],
            name=op.f("fk_insight_solve_base_solve_id_insight_solve"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_insight_solve_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_insight_solve_job_id_job")),
        sa.ForeignKeyConstraint(
            ["round_id"], ["allocation_round.id"],
            name=op.f("fk_insight_solve_round_id_allocation_round"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_solve")),
    )
    with op.batch_alter_table("insight_solve", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insight_solve_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            "ix_insight_solve_round_created", ["round_id", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("insight_solve", schema=None) as batch_op:
        batch_op.drop_index("ix_insight_solve_round_created")
        batch_op.drop_index(batch_op.f("ix_insight_solve_job_id"))
    op.drop_table("insight_solve")
