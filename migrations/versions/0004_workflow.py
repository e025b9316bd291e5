"""allocation workflow: pending changes to published placements, CSV import jobs

Revision ID: 0004_workflow
Revises: 0003_portals
Create Date: 2026-11-22 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_workflow"
down_revision = "0003_portals"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_import_job_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_import_job_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_job_provider_id"), ["provider_id"], unique=False
        )

    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposed_change", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("proposed_offer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("proposed_rank", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("proposed_distance_m", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_placement_proposed_offer_id_placement_offer"),
            "placement_offer",
            ["proposed_offer_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_placement_proposed_offer_id_placement_offer"), type_="foreignkey"
        )
        batch_op.drop_column("proposed_distance_m")
        batch_op.drop_column("proposed_rank")
        batch_op.drop_column("proposed_offer_id")
        batch_op.drop_column("proposed_change")

    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_provider_id"))

    op.drop_table("import_job")
