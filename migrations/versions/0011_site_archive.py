"""sites can be archived

Revision ID: 0011_site_archive
Revises: 0010_account_links
Create Date: 2026-11-30 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_site_archive"
down_revision = "0010_account_links"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("employer_site") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("employer_site") as batch:
        batch.drop_column("archived_at")
