"""lifecycles: a placement's pending change as a typed sub-state, declines remembered,
round states (closed early, archived, repair due, publication number)

Revision ID: 0007_lifecycles
Revises: 0006_engagement
Create Date: 2026-11-30 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_lifecycles"
down_revision = "0006_engagement"
branch_labels = None
depends_on = None

PENDING = sa.Enum("move", "removal", name="pendingchange", native_enum=False, length=10)
RESPONSE = sa.Enum(
    "pending", "accepted", "concern", name="employerresponse", native_enum=False, length=20
)


def upgrade():
    # Placement: proposed_* -> pending_* ("remove" becomes "removal"), checked.
    op.execute("UPDATE placement SET proposed_change = 'removal' WHERE proposed_change = 'remove'")
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_placement_proposed_offer_id_placement_offer"), type_="foreignkey"
        )
        batch_op.alter_column(
            "proposed_change",
            new_column_name="pending_change",
            existing_type=sa.String(length=10),
            type_=PENDING,
            existing_nullable=True,
        )
        batch_op.alter_column(
            "proposed_offer_id", new_column_name="pending_offer_id", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "proposed_rank", new_column_name="pending_rank", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "proposed_distance_m", new_column_name="pending_distance_m", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "employer_response",
            existing_type=sa.String(length=20),
            type_=RESPONSE,
            existing_nullable=False,
        )
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_placement_pending_offer_id_placement_offer"),
            "placement_offer",
            ["pending_offer_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            "pending_only_when_visible",
            "pending_change IS NULL OR status IN ('published', 'accepted')",
        )
        batch_op.create_check_constraint(
            "move_names_offer",
            "(pending_change IS NULL AND pending_offer_id IS NULL) OR "
            "(pending_change = 'removal' AND pending_offer_id IS NULL) OR "
            "(pending_change = 'move' AND pending_offer_id IS NOT NULL)",
        )

    op.create_table(
        "placement_decline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learner.id"],
            name=op.f("fk_placement_decline_learner_id_learner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["placement_offer.id"],
            name=op.f("fk_placement_decline_offer_id_placement_offer"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["allocation_round.id"],
            name=op.f("fk_placement_decline_round_id_allocation_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_decline")),
    )
    with op.batch_alter_table("placement_decline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_placement_decline_learner_id"), ["learner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_placement_decline_round_id"), ["round_id"], unique=False
        )
    # Declines made before this revision, from the placements that record them.
    op.execute(
        "INSERT INTO placement_decline (round_id, learner_id, offer_id, reason, declined_at) "
        "SELECT round_id, learner_id, offer_id, COALESCE(decline_reason, ''), "
        "COALESCE(responded_at, updated_at) FROM placement WHERE status = 'declined'"
    )

    # Allocation round: closed early (with a reason), repair due since, publications, archive.
    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("choices_closed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("choices_closed_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("repair_due_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("publications", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE allocation_round SET repair_due_since = created_at WHERE needs_repair"
        if op.get_bind().dialect.name == "postgresql"
        else "UPDATE allocation_round SET repair_due_since = created_at WHERE needs_repair = 1"
    )
    op.execute("UPDATE allocation_round SET publications = 1 WHERE status = 'published'")
    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.drop_column("needs_repair")


def downgrade():
    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("needs_repair", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE allocation_round SET needs_repair = (repair_due_since IS NOT NULL)")
    op.execute("UPDATE allocation_round SET status = 'published' WHERE status = 'archived'")
    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
        batch_op.drop_column("publications")
        batch_op.drop_column("repair_due_since")
        batch_op.drop_column("choices_closed_reason")
        batch_op.drop_column("choices_closed_at")

    with op.batch_alter_table("placement_decline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_placement_decline_round_id"))
        batch_op.drop_index(batch_op.f("ix_placement_decline_learner_id"))
    op.drop_table("placement_decline")

    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.drop_constraint("move_names_offer", type_="check")
        batch_op.drop_constraint("pending_only_when_visible", type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_placement_pending_offer_id_placement_offer"), type_="foreignkey"
        )
        batch_op.alter_column(
            "employer_response",
            existing_type=RESPONSE,
            type_=sa.String(length=20),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "pending_distance_m", new_column_name="proposed_distance_m", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "pending_rank", new_column_name="proposed_rank", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "pending_offer_id", new_column_name="proposed_offer_id", existing_type=sa.Integer()
        )
        batch_op.alter_column(
            "pending_change",
            new_column_name="proposed_change",
            existing_type=PENDING,
            type_=sa.String(length=10),
            existing_nullable=True,
        )
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_placement_proposed_offer_id_placement_offer"),
            "placement_offer",
            ["proposed_offer_id"],
            ["id"],
        )
    op.execute("UPDATE placement SET proposed_change = 'remove' WHERE proposed_change = 'removal'")
