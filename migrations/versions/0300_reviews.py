"""reviews: placement review plans, reviews and their parts, supervisors without accounts
and their e-mailed links, concerns

New tables only (nothing existing changes). Plans for placements published before this
revision are made by `flask reviews schedule` (the weekly digest job runs it too).

Revision ID: 0300_reviews
Revises: 0400_insight_solves
Create Date: 2026-11-30 10:24:47

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0300_reviews"
down_revision = "0400_insight_solves"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "placement_supervisor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("named_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"],
            ["employer.id"],
            name=op.f("fk_placement_supervisor_employer_id_employer"),
        ),
        sa.ForeignKeyConstraint(
            ["named_by_id"], ["user.id"], name=op.f("fk_placement_supervisor_named_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placement.id"],
            name=op.f("fk_placement_supervisor_placement_id_placement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_supervisor")),
        sa.UniqueConstraint(
            "placement_id",
            "employer_id",
            name=op.f("uq_placement_supervisor_placement_id_employer_id"),
        ),
    )
    with op.batch_alter_table("placement_supervisor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placement_supervisor_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_placement_supervisor_employer_id"), ["employer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_placement_supervisor_placement_id"), ["placement_id"], unique=False
        )

    op.create_table(
        "review_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("objectives", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_review_plan_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learner.id"],
            name=op.f("fk_review_plan_learner_id_learner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["placement_offer.id"],
            name=op.f("fk_review_plan_offer_id_placement_offer"),
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placement.id"],
            name=op.f("fk_review_plan_placement_id_placement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["allocation_round.id"],
            name=op.f("fk_review_plan_round_id_allocation_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_plan")),
        sa.UniqueConstraint(
            "placement_id", "offer_id", name=op.f("uq_review_plan_placement_id_offer_id")
        ),
    )
    with op.batch_alter_table("review_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_plan_employer_id"), ["employer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_plan_learner_id"), ["learner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_plan_offer_id"), ["offer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_plan_placement_id"), ["placement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_plan_round_id"), ["round_id"], unique=False)

    op.create_table(
        "concern",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "safeguarding",
                "health-and-safety",
                "attendance",
                "conduct",
                "wellbeing",
                name="concerncategory",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "raised_by",
            sa.Enum(
                "learner",
                "supervisor",
                "employer",
                "officer",
                name="raisedby",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("raised_by_user_id", sa.Integer(), nullable=True),
        sa.Column("raised_by_supervisor_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "in-hand", "closed", name="concernstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status != 'closed' OR outcome IS NOT NULL", name=op.f("ck_concern_closed_has_outcome")
        ),
        sa.CheckConstraint(
            "status = 'open' OR owner_id IS NOT NULL", name=op.f("ck_concern_taken_has_owner")
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_concern_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learner.id"],
            name=op.f("fk_concern_learner_id_learner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_concern_owner_id_user")),
        sa.ForeignKeyConstraint(
            ["placement_id"], ["placement.id"], name=op.f("fk_concern_placement_id_placement")
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_supervisor_id"],
            ["placement_supervisor.id"],
            name=op.f("fk_concern_raised_by_supervisor_id_placement_supervisor"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_user_id"], ["user.id"], name=op.f("fk_concern_raised_by_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["allocation_round.id"], name=op.f("fk_concern_round_id_allocation_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern")),
    )
    with op.batch_alter_table("concern", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concern_employer_id"), ["employer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_concern_learner_id"), ["learner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_concern_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_concern_placement_id"), ["placement_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_concern_raised_by_user_id"), ["raised_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_concern_round_id"), ["round_id"], unique=False)
        batch_op.create_index("ix_concern_status_raised", ["status", "raised_at"], unique=False)

    op.create_table(
        "placement_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("start", "midpoint", "final", name="reviewkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_set_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "supervisor-done",
                "learner-done",
                "complete",
                "waived",
                name="reviewstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waived_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status != 'waived' OR waived_reason IS NOT NULL",
            name=op.f("ck_placement_review_waived_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["due_set_by_id"], ["user.id"], name=op.f("fk_placement_review_due_set_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["review_plan.id"],
            name=op.f("fk_placement_review_plan_id_review_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_review")),
        sa.UniqueConstraint("plan_id", "kind", name=op.f("uq_placement_review_plan_id_kind")),
    )
    with op.batch_alter_table("placement_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placement_review_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ix_placement_review_status_due", ["status", "due_date"], unique=False
        )

    op.create_table(
        "review_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum("supervisor", "learner", name="reviewside", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("induction_done", sa.Boolean(), nullable=True),
        sa.Column("safety_briefing_done", sa.Boolean(), nullable=True),
        sa.Column("supervisor_known", sa.Boolean(), nullable=True),
        sa.Column("objectives", sa.Text(), nullable=True),
        sa.Column("attendance", sa.Integer(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("progress_note", sa.Text(), nullable=True),
        sa.Column("strengths", sa.Text(), nullable=True),
        sa.Column("development", sa.Text(), nullable=True),
        sa.Column("recommendation", sa.String(length=20), nullable=True),
        sa.Column("would_host_again", sa.Boolean(), nullable=True),
        sa.Column("would_recommend", sa.Boolean(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "attendance IS NULL OR attendance BETWEEN 1 AND 4",
            name=op.f("ck_review_part_attendance_on_scale"),
        ),
        sa.CheckConstraint(
            "progress IS NULL OR progress BETWEEN 1 AND 4",
            name=op.f("ck_review_part_progress_on_scale"),
        ),
        sa.CheckConstraint(
            "submitted_by_id IS NOT NULL OR supervisor_id IS NOT NULL",
            name=op.f("ck_review_part_has_author"),
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["placement_review.id"],
            name=op.f("fk_review_part_review_id_placement_review"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["user.id"], name=op.f("fk_review_part_submitted_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["placement_supervisor.id"],
            name=op.f("fk_review_part_supervisor_id_placement_supervisor"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_part")),
        sa.UniqueConstraint("review_id", "side", name=op.f("uq_review_part_review_id_side")),
    )
    with op.batch_alter_table("review_part", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_part_review_id"), ["review_id"], unique=False)

    op.create_table(
        "supervisor_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("hours", "review", name="linktask", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(purpose = 'review') = (review_id IS NOT NULL)",
            name=op.f("ck_supervisor_link_review_link_names_review"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_supervisor_link_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["placement_review.id"],
            name=op.f("fk_supervisor_link_review_id_placement_review"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["placement_supervisor.id"],
            name=op.f("fk_supervisor_link_supervisor_id_placement_supervisor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisor_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_supervisor_link_token_hash")),
    )
    with op.batch_alter_table("supervisor_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supervisor_link_review_id"), ["review_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supervisor_link_supervisor_id"), ["supervisor_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("supervisor_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervisor_link_supervisor_id"))
        batch_op.drop_index(batch_op.f("ix_supervisor_link_review_id"))

    op.drop_table("supervisor_link")
    with op.batch_alter_table("review_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_part_review_id"))

    op.drop_table("review_part")
    with op.batch_alter_table("placement_review", schema=None) as batch_op:
        batch_op.drop_index("ix_placement_review_status_due")
        batch_op.drop_index(batch_op.f("ix_placement_review_plan_id"))

    op.drop_table("placement_review")
    with op.batch_alter_table("concern", schema=None) as batch_op:
        batch_op.drop_index("ix_concern_status_raised")
        batch_op.drop_index(batch_op.f("ix_concern_round_id"))
        batch_op.drop_index(batch_op.f("ix_concern_raised_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_concern_placement_id"))
        batch_op.drop_index(batch_op.f("ix_concern_owner_id"))
        batch_op.drop_index(batch_op.f("ix_concern_learner_id"))
        batch_op.drop_index(batch_op.f("ix_concern_employer_id"))

    op.drop_table("concern")
    with op.batch_alter_table("review_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_plan_round_id"))
        batch_op.drop_index(batch_op.f("ix_review_plan_placement_id"))
        batch_op.drop_index(batch_op.f("ix_review_plan_offer_id"))
        batch_op.drop_index(batch_op.f("ix_review_plan_learner_id"))
        batch_op.drop_index(batch_op.f("ix_review_plan_employer_id"))

    op.drop_table("review_plan")
    with op.batch_alter_table("placement_supervisor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_placement_supervisor_placement_id"))
        batch_op.drop_index(batch_op.f("ix_placement_supervisor_employer_id"))
        batch_op.drop_index(batch_op.f("ix_placement_supervisor_email"))

    op.drop_table("placement_supervisor")
