"""account links: invitations, password resets and e-mail confirmations in one table,
with superseded links revoked

Revision ID: 0010_account_links
Revises: 0009_engagement_scope
Create Date: 2026-11-30 18:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_account_links"
down_revision = "0009_engagement_scope"
branch_labels = None
depends_on = None

PURPOSE = sa.Enum(
    "invitation",
    "password-reset",
    "email-confirmation",
    name="linkpurpose",
    native_enum=False,
    length=30,
)


def upgrade():
    op.create_table(
        "account_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", PURPOSE, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_account_link_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_account_link_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_link_token_hash")),
    )
    with op.batch_alter_table("account_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_link_user_id"), ["user_id"], unique=False)
    # Every invitation carries over; of a user's unused ones only the newest stays live.
    op.execute(
        "INSERT INTO account_link (id, user_id, purpose, token_hash, expires_at, used_at, "
        "revoked_at, created_at, created_by_id) "
        "SELECT i.id, i.user_id, 'invitation', i.token_hash, i.expires_at, i.used_at, "
        "CASE WHEN i.used_at IS NULL AND EXISTS (SELECT 1 FROM invitation n "
        "WHERE n.user_id = i.user_id AND n.id > i.id) THEN i.created_at END, "
        "i.created_at, i.created_by_id FROM invitation i"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('account_link', 'id'), "
            "COALESCE((SELECT MAX(id) FROM account_link), 0) + 1, false)"
        )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_user_id"))
    op.drop_table("invitation")


def downgrade():
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_invitation_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_invitation_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitation_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO invitation (id, user_id, token_hash, expires_at, used_at, created_at, "
        "created_by_id) SELECT id, user_id, token_hash, expires_at, COALESCE(used_at, "
        "revoked_at), created_at, created_by_id FROM account_link WHERE purpose = 'invitation'"
    )
    with op.batch_alter_table("account_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_link_user_id"))
    op.drop_table("account_link")
