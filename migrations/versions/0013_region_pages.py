"""pages at region scale: a run's lines kept in their list order with why each learner left
unplaced was not placed; placements indexed by round and state

Revision ID: 0013_region_pages
Revises: 0200_compliance
Create Date: 2026-11-30 13:10:00

The run page reads one page of a 50,000-learner run from an index on (run, position)
instead of sorting every learner by name, and the officer's explanation of an unplaced
learner is worked out once, when the run finishes, instead of from the problem document
(megabytes) on every view. Lines kept before this revision get their position here; their
explanations are still worked out from the problem when shown. The round page's counts of
placements by state read an index instead of every placement of the round.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_region_pages"
down_revision = "0200_compliance"
branch_labels = None
depends_on = None

ORDER = ("CASE run_learner.change WHEN 'moved' THEN 0 WHEN 'newly placed' THEN 1 "
         "WHEN 'lost a place' THEN 2 WHEN 'not placed' THEN 3 ELSE 4 END")


def upgrade():
    with op.batch_alter_table("run_learner") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("explanation", sa.Text(), nullable=True))
        batch.drop_index("ix_run_learner_change")
    op.execute(
        "UPDATE run_learner SET position = ranked.position FROM ("
        " SELECT run_learner.run_id AS run_id, run_learner.learner_id AS learner_id,"
        f" row_number() OVER (PARTITION BY run_learner.run_id ORDER BY {ORDER},"
        "  CASE WHEN run_learner.mandated THEN 0 ELSE 1 END, lower(coalesce(u.name, '')),"
        "  run_learner.learner_id) AS position"
        " FROM run_learner LEFT JOIN learner ON learner.id = run_learner.learner_id"
        " LEFT JOIN \"user\" u ON u.id = learner.user_id) AS ranked"
        " WHERE run_learner.run_id = ranked.run_id"
        " AND run_learner.learner_id = ranked.learner_id")
    op.create_index("ix_run_learner_position", "run_learner", ["run_id", "position"])
    op.create_index("ix_run_learner_change", "run_learner", ["run_id", "change", "position"])
    op.create_index("ix_placement_round_state", "placement",
                    ["round_id", "status", "pending_change"])


def downgrade():
    op.drop_index("ix_placement_round_state", table_name="placement")
    op.drop_index("ix_run_learner_change", table_name="run_learner")
    op.drop_index("ix_run_learner_position", table_name="run_learner")
    with op.batch_alter_table("run_learner") as batch:
        batch.drop_column("explanation")
        batch.drop_column("position")
    op.create_index("ix_run_learner_change", "run_learner", ["run_id", "change"])
