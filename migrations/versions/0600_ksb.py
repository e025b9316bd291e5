"""ksb: the knowledge, skills and behaviours of occupational standards (with the version of
each standard's statements), programme modules and their links to KSBs, the KSBs placement
offers develop, learners' evidence on their hours, and a round's opt-in to prefer KSB
coverage in the allocation

Revision ID: 0600_ksb
Revises: 0013_region_pages
Create Date: 2026-11-30 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0600_ksb"
down_revision = "0013_region_pages"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target],
                                   name=op.f(f"fk_{table}_{column}_{target_table}"),
                                   ondelete=ondelete)


def _link_table(table: str, owner: str, owner_target: str) -> None:
    """module_ksb and offer_ksb: the same columns, owned by a module or an offer."""
    op.create_table(
        table,
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ksb_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("linkstatus", "suggested", "confirmed", "rejected"),
                  nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("matched", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        _fk(table, "decided_by_id", "user.id", "SET NULL"),
        _fk(table, "ksb_id", "ksb.id", "CASCADE"),
        _fk(table, owner, owner_target, "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(owner, "ksb_id", name=op.f(f"uq_{table}_{owner}_ksb_id")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_ksb_id"), ["ksb_id"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{table}_{owner}"), [owner], unique=False)


def upgrade():
    op.create_table(
        "ksb",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("kind", _enum("ksbkind", "knowledge", "skill", "behaviour"), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("ksb", "standard_id", "occupational_standard.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ksb")),
        sa.UniqueConstraint("standard_id", "code", name=op.f("uq_ksb_standard_id_code")),
    )
    with op.batch_alter_table("ksb", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ksb_standard_id"), ["standard_id"], unique=False)

    op.create_table(
        "ksb_standard_version",
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("version_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("loaded_by_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        _fk("ksb_standard_version", "loaded_by_id", "user.id", "SET NULL"),
        _fk("ksb_standard_version", "standard_id", "occupational_standard.id", "CASCADE"),
        sa.PrimaryKeyConstraint("standard_id", name=op.f("pk_ksb_standard_version")),
    )

    op.create_table(
        "programme_module",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("delivery", _enum("delivery", "module", "placement", "live-brief",
                                    "simulated"), nullable=False),
        sa.Column("outcomes", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("programme_module", "programme_id", "programme.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_module")),
        sa.UniqueConstraint("programme_id", "code",
                            name=op.f("uq_programme_module_programme_id_code")),
    )
    with op.batch_alter_table("programme_module", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programme_module_programme_id"),
                              ["programme_id"], unique=False)

    _link_table("module_ksb", "module_id", "programme_module.id")
    _link_table("offer_ksb", "offer_id", "placement_offer.id")

    op.create_table(
        "ksb_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hours_entry_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("reflection", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("ksb_evidence", "hours_entry_id", "hours_entry.id", "CASCADE"),
        _fk("ksb_evidence", "learner_id", "learner.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ksb_evidence")),
        sa.UniqueConstraint("hours_entry_id", name=op.f("uq_ksb_evidence_hours_entry_id")),
    )
    with op.batch_alter_table("ksb_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ksb_evidence_learner_id"), ["learner_id"],
                              unique=False)

    op.create_table(
        "ksb_evidence_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("ksb_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("evidencestatus", "claimed", "confirmed", "not-confirmed"),
                  nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_name", sa.String(length=200), nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        _fk("ksb_evidence_item", "decided_by_id", "user.id", "SET NULL"),
        _fk("ksb_evidence_item", "evidence_id", "ksb_evidence.id", "CASCADE"),
        _fk("ksb_evidence_item", "ksb_id", "ksb.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ksb_evidence_item")),
        sa.UniqueConstraint("evidence_id", "ksb_id",
                            name=op.f("uq_ksb_evidence_item_evidence_id_ksb_id")),
    )
    with op.batch_alter_table("ksb_evidence_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ksb_evidence_item_evidence_id"), ["evidence_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_ksb_evidence_item_ksb_id"), ["ksb_id"],
                              unique=False)

    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ksb_coverage", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table("allocation_round", schema=None) as batch_op:
        batch_op.drop_column("ksb_coverage")
    for table in ("ksb_evidence_item", "ksb_evidence", "offer_ksb", "module_ksb",
                  "programme_module", "ksb_standard_version", "ksb"):
        op.drop_table(table)
