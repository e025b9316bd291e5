"""allocation workflow: pending changes to published placements

Revision ID: 0004_workflow
Revises: 0002_allocation
Create Date: 2026-11-22 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_workflow'
down_revision = '0002_allocation'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_change', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('proposed_offer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposed_rank', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposed_distance_m', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_placement_proposed_offer_id_placement_offer'),
            'placement_offer', ['proposed_offer_id'], ['id'])


def downgrade():
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_placement_proposed_offer_id_placement_offer'),
                                 type_='foreignkey')
        batch_op.drop_column('proposed_distance_m')
        batch_op.drop_column('proposed_rank')
        batch_op.drop_column('proposed_offer_id')
        batch_op.drop_column('proposed_change')
