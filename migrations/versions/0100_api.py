"""api: keys for the JSON API, the answers kept for retried writes, and learners'
updated_at (existing learners: their created_at) with the indexes the API's lists use

Revision ID: 0100_api
Revises: 0011_site_archive
Create Date: 2026-11-30 10:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0100_api"
down_revision = "0011_site_archive"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("active", "revoked", name="apikeystatus",
                                    native_enum=False, length=20), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"],
                                name=op.f("fk_api_key_created_by_id_user")),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"],
                                name=op.f("fk_api_key_provider_id_provider")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["user.id"],
                                name=op.f("fk_api_key_revoked_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_key_token_hash")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_provider_id"), ["provider_id"],
                              unique=False)

    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"],
                                name=op.f("fk_api_idempotency_api_key_id_api_key"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint("api_key_id", "idempotency_key",
                            name=op.f("uq_api_idempotency_api_key_id_idempotency_key")),
    )
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_idempotency_expires_at"), ["expires_at"],
                              unique=False)

    # Existing learners changed last when they were created (as far as anyone knows).
    with op.batch_alter_table("learner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", TS, nullable=True))
    learner = sa.table("learner", sa.column("created_at", TS), sa.column("updated_at", TS))
    op.execute(learner.update().values(updated_at=learner.c.created_at))
    with op.batch_alter_table("learner", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=TS, nullable=False)
        batch_op.create_index("ix_learner_provider_updated",
                              ["provider_id", "updated_at", "id"], unique=False)

    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.create_index("ix_placement_updated_id", ["updated_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.drop_index("ix_placement_updated_id")

    with op.batch_alter_table("learner", schema=None) as batch_op:
        batch_op.drop_index("ix_learner_provider_updated")
        batch_op.drop_column("updated_at")

    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_idempotency_expires_at"))
    op.drop_table("api_idempotency")

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_provider_id"))
    op.drop_table("api_key")
