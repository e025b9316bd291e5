"""Background jobs: long work (allocation runs, imports, what-if solves, reminder e-mails)
done off the request by the job runner (`placements.jobs`), with its progress and outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from placements.models.base import Base, enum_type, utcnow


class JobStatus(enum.StrEnum):
    """Lifecycle of a job (transitions: placements.jobs.runner.JOB)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Statuses of a job that is not finished.
ACTIVE_JOB_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class Job(Base):
    """One piece of background work of a registered kind."""

    __tablename__ = "job"
    __table_args__ = (
        # At most one unfinished job per subject (e.g. one allocation run per round),
        # enforced by the database even against concurrent requests.
        sa.Index("uq_job_active_subject", "subject", unique=True,
                 sqlite_where=sa.text("status IN ('queued', 'running')"),
                 postgresql_where=sa.text("status IN ('queued', 'running')")),
        sa.Index("ix_job_provider_created", "provider_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Registered kind, e.g. "allocation.run", "import.learners".
    kind: Mapped[str] = mapped_column(sa.String(60), index=True)
    status: Mapped[JobStatus] = mapped_column(enum_type(JobStatus, 20),
                                              default=JobStatus.QUEUED)
    #: Provider whose officers may follow it (None: a system job).
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: Exclusivity key, e.g. "round:12:allocation": one unfinished job per subject.
    subject: Mapped[str | None] = mapped_column(sa.String(80))
    #: What it is, in words, for lists.
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    #: The job's input (kind-specific; uploads are dropped once the job has finished).
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Latest progress: done and total, a message, and kind-specific figures.
    progress: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The outcome (kind-specific), when succeeded or failed with a report.
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: Set by an officer's cancel; the worker stops at its next check.
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    #: Process and thread that runs it, and when it last reported.
    worker: Mapped[str | None] = mapped_column(sa.String(100))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
