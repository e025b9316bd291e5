"""portals: offer change history

Revision ID: 0003_portals
Revises: 0002_allocation
Create Date: 2026-11-22 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_portals"
down_revision = "0002_allocation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "offer_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("old_capacity", sa.Integer(), nullable=False),
        sa.Column("new_capacity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rounds_flagged", sa.JSON(), nullable=False),
        sa.Column("placements_held", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('capacity', 'withdrawn')", name=op.f("ck_offer_change_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_offer_change_actor_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["placement_offer.id"],
            name=op.f("fk_offer_change_offer_id_placement_offer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_change")),
    )
    with op.batch_alter_table("offer_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_change_offer_id"), ["offer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("offer_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_change_offer_id"))

    op.drop_table("offer_change")
