"""jobs: one table for background work (allocation runs, imports, ...); runs and imports
move their execution state onto it

Revision ID: 0008_jobs
Revises: 0007_lifecycles
Create Date: 2026-11-30 15:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_jobs"
down_revision = "0007_lifecycles"
branch_labels = None
depends_on = None

STATUS = sa.Enum(
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    name="jobstatus",
    native_enum=False,
    length=20,
)
ACTIVE = "status IN ('queued', 'running')"

job = sa.table(
    "job",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("provider_id", sa.Integer),
    sa.column("created_by_id", sa.Integer),
    sa.column("subject", sa.String),
    sa.column("title", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("progress", sa.JSON),
    sa.column("result", sa.JSON),
    sa.column("error", sa.Text),
    sa.column("cancel_requested", sa.Boolean),
    sa.column("worker", sa.String),
    sa.column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("finished_at", sa.DateTime(timezone=True)),
)


TS = sa.DateTime(timezone=True)
run_table = sa.table(
    "allocation_run",
    sa.column("id", sa.Integer),
    sa.column("round_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("created_at", TS),
    sa.column("started_at", TS),
    sa.column("finished_at", TS),
    sa.column("started_by_id", sa.Integer),
    sa.column("progress", sa.JSON),
    sa.column("error", sa.Text),
    sa.column("worker", sa.String),
    sa.column("heartbeat_at", TS),
)
round_table = sa.table(
    "allocation_round",
    sa.column("id", sa.Integer),
    sa.column("provider_id", sa.Integer),
    sa.column("name", sa.String),
)
import_table = sa.table(
    "import_job",
    sa.column("id", sa.Integer),
    sa.column("provider_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("filename", sa.String),
    sa.column("status", sa.String),
    sa.column("total_rows", sa.Integer),
    sa.column("summary", sa.JSON),
    sa.column("error", sa.Text),
    sa.column("created_by_id", sa.Integer),
    sa.column("created_at", TS),
    sa.column("finished_at", TS),
)


def upgrade():
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_job_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_job_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_kind"), ["kind"], unique=False)
        batch_op.create_index(
            "ix_job_provider_created", ["provider_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_job_active_subject",
            ["subject"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )

    conn = op.get_bind()
    # Allocation runs: each becomes the domain record of a job holding its execution state.
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.Integer(), nullable=True))
    runs = conn.execute(
        sa.select(run_table, round_table.c.provider_id, round_table.c.name)
        .join(round_table, round_table.c.id == run_table.c.round_id)
        .order_by(run_table.c.id)
    ).all()
    for r in runs:
        active = r.status in ("queued", "running")
        job_id = conn.execute(
            job.insert()
            .values(
                kind="allocation.run",
                status=r.status,
                provider_id=r.provider_id,
                created_by_id=r.started_by_id,
                subject=f"round:{r.round_id}:allocation" if active else None,
                title=f"{r.kind.capitalize()} run of {r.name}"[:200],
                payload={"run_id": r.id},
                progress=_json(r.progress),
                result=None,
                error=r.error,
                cancel_requested=False,
                worker=r.worker,
                heartbeat_at=r.heartbeat_at,
                created_at=r.created_at,
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            .returning(job.c.id)
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE allocation_run SET job_id = :job WHERE id = :run"),
            {"job": job_id, "run": r.id},
        )
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.drop_index("uq_allocation_run_active_round")
        batch_op.alter_column("job_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_allocation_run_job_id"), ["job_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_allocation_run_job_id_job"), "job", ["job_id"], ["id"]
        )
        for column in (
            "status",
            "started_at",
            "finished_at",
            "progress",
            "error",
            "worker",
            "heartbeat_at",
        ):
            batch_op.drop_column(column)

    # Imports: finished import jobs keep their outcome as jobs of the import kind.
    for i in conn.execute(sa.select(import_table).order_by(import_table.c.id)).all():
        summary = _json(i.summary)
        conn.execute(
            job.insert().values(
                kind="import.csv",
                status=i.status if i.status in ("succeeded", "failed") else "failed",
                provider_id=i.provider_id,
                created_by_id=i.created_by_id,
                subject=None,
                title=f"Import of {i.kind}: {i.filename}"[:200],
                payload={"kind": i.kind, "filename": i.filename, "rows": i.total_rows},
                progress={"done": i.total_rows, "total": i.total_rows},
                result={"rows": i.total_rows, **summary} if i.status == "succeeded" else None,
                error=i.error
                or (None if i.status == "succeeded" else "Stopped by an upgrade of the service"),
                cancel_requested=False,
                created_at=i.created_at,
                finished_at=i.finished_at,
            )
        )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_provider_id"))
    op.drop_table("import_job")


def _json(value):
    if value is None or isinstance(value, dict):
        return value or {}
    import json

    return json.loads(value)


def downgrade():
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
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="failed", nullable=False)
        )
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("progress", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE allocation_run SET status = (SELECT status FROM job WHERE job.id = "
        "allocation_run.job_id), started_at = (SELECT started_at FROM job WHERE job.id = "
        "allocation_run.job_id), finished_at = (SELECT finished_at FROM job WHERE job.id = "
        "allocation_run.job_id), error = (SELECT error FROM job WHERE job.id = "
        "allocation_run.job_id)"
    )
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_allocation_run_job_id_job"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_allocation_run_job_id"), type_="unique")
        batch_op.drop_column("job_id")
        batch_op.create_index(
            "uq_allocation_run_active_round",
            ["round_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("uq_job_active_subject")
        batch_op.drop_index("ix_job_provider_created")
        batch_op.drop_index(batch_op.f("ix_job_kind"))
    op.drop_table("job")
