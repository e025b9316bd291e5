"""engagement records belong to a provider (shared within its partnership only)

Revision ID: 0009_engagement_scope
Revises: 0008_jobs
Create Date: 2026-11-30 17:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_engagement_scope"
down_revision = "0008_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("employer_engagement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
    # Existing records go to the provider of the officer who created them, else of their
    # owner, else the first provider (a platform with one partnership loses nothing).
    op.execute(
        "UPDATE employer_engagement SET provider_id = COALESCE("
        '(SELECT provider_id FROM "user" WHERE "user".id = employer_engagement.created_by_id),'
        '(SELECT provider_id FROM "user" WHERE "user".id = employer_engagement.owner_id),'
        "(SELECT MIN(id) FROM provider))"
    )
    op.execute("DELETE FROM employer_engagement WHERE provider_id IS NULL")
    with op.batch_alter_table("employer_engagement", schema=None) as batch_op:
        batch_op.drop_constraint("uq_employer_engagement_employer_id", type_="unique")
        batch_op.alter_column("provider_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_employer_engagement_provider_id_provider"),
            "provider",
            ["provider_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_employer_engagement_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_employer_engagement_employer_id"), ["employer_id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_employer_engagement_provider_id_employer_id"),
            ["provider_id", "employer_id"],
        )


def downgrade():
    with op.batch_alter_table("employer_engagement", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_employer_engagement_provider_id_employer_id"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_employer_engagement_employer_id"))
        batch_op.drop_index(batch_op.f("ix_employer_engagement_provider_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_employer_engagement_provider_id_provider"), type_="foreignkey"
        )
        batch_op.drop_column("provider_id")
        batch_op.create_unique_constraint("uq_employer_engagement_employer_id", ["employer_id"])
