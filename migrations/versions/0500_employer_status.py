"""employer approval as a lifecycle: awaiting, approved or rejected (with the officer's
reason), and the employer's note when it asks again

Revision ID: 0500_employer_status
Revises: 0012_run_outcomes
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0500_employer_status"
down_revision = "0300_reviews"
branch_labels = None
depends_on = None

STATUS = sa.Enum(
    "awaiting", "approved", "rejected", name="employerstatus", native_enum=False, length=20
)


def upgrade():
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", STATUS, nullable=True))
        batch_op.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rejection_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resubmission_note", sa.Text(), nullable=True))
    op.execute(
        "UPDATE employer SET status = CASE WHEN approved THEN 'approved' ELSE 'awaiting' END, "
        "status_changed_at = approved_at"
    )
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=STATUS, nullable=False)
        batch_op.drop_column("approved")


def downgrade():
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved", sa.Boolean(), nullable=True))
    op.execute("UPDATE employer SET approved = (status = 'approved')")
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.alter_column("approved", existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_column("resubmission_note")
        batch_op.drop_column("rejection_reason")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status")
