"""CSV import jobs: one uploaded file being written to the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from placements.models.base import Base, utcnow


class ImportJob(Base):
    """An officer's CSV import: validated first, then written in one transaction."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    #: "learners" or "offers".
    kind: Mapped[str] = mapped_column(sa.String(20))
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    #: "queued", "running", "succeeded" or "failed".
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    total_rows: Mapped[int] = mapped_column(default=0)
    #: Counts written: created, updated, unchanged.
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
