"""hours entries and their running totals

Revision ID: 0005_hours
Revises: 0004_workflow
Create Date: 2026-11-22 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_hours"
down_revision = "0004_workflow"
branch_labels = None
depends_on = None

KINDS = ("classroom", "placement", "live-brief", "simulated", "in-work")
STATUSES = ("pending", "verified", "rejected")
SOURCES = ("learner", "import", "officer")
TOTAL_COLUMNS = [
    f"{kind.replace('-', '_')}{suffix}_qh" for suffix in ("", "_pending") for kind in KINDS
] + ["work_integrated_qh", "pending_qh"]


def _kind():
    return sa.Enum(*KINDS, name="hourskind", native_enum=False, length=20)


def _status():
    return sa.Enum(*STATUSES, name="hoursstatus", native_enum=False, length=20)


def upgrade():
    op.create_table(
        "hours_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("quarter_hours", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=True),
        sa.Column("status", _status(), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(*SOURCES, name="hourssource", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "quarter_hours BETWEEN 1 AND 48", name=op.f("ck_hours_entry_quarter_hours_range")
        ),
        sa.CheckConstraint(
            "kind = 'placement' OR placement_id IS NULL",
            name=op.f("ck_hours_entry_placement_only_for_placement_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_hours_entry_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learner.id"],
            name=op.f("fk_hours_entry_learner_id_learner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placement.id"],
            name=op.f("fk_hours_entry_placement_id_placement"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"], ["user.id"], name=op.f("fk_hours_entry_verified_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_entry")),
        sa.UniqueConstraint(
            "learner_id",
            "entry_date",
            "kind",
            name=op.f("uq_hours_entry_learner_id_entry_date_kind"),
        ),
    )
    with op.batch_alter_table("hours_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hours_entry_entry_date"), ["entry_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hours_entry_placement_id"), ["placement_id"], unique=False
        )
        batch_op.create_index(
            "ix_hours_entry_learner_kind_status", ["learner_id", "kind", "status"], unique=False
        )
        batch_op.create_index(
            "ix_hours_entry_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "hours_learner_total",
        sa.Column("learner_id", sa.Integer(), nullable=False),
        *[
            sa.Column(name, sa.Integer(), server_default="0", nullable=False)
            for name in TOTAL_COLUMNS
        ],
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learner.id"],
            name=op.f("fk_hours_learner_total_learner_id_learner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("learner_id", name=op.f("pk_hours_learner_total")),
    )
    op.create_table(
        "hours_programme_month",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("status", _status(), nullable=False),
        sa.Column("quarter_hours", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_hours_programme_month_programme_id_programme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "programme_id", "month", "kind", "status", name=op.f("pk_hours_programme_month")
        ),
    )


def downgrade():
    op.drop_table("hours_programme_month")
    op.drop_table("hours_learner_total")
    with op.batch_alter_table("hours_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_hours_entry_status_created")
        batch_op.drop_index("ix_hours_entry_learner_kind_status")
        batch_op.drop_index(batch_op.f("ix_hours_entry_placement_id"))
        batch_op.drop_index(batch_op.f("ix_hours_entry_entry_date"))
    op.drop_table("hours_entry")
