"""Import services: check an upload, queue it as a job, follow the officer's imports.

The rules of importing are the pipeline's (`placements.imports.pipeline`); each kind is
registered by the feature that owns the data (learners, offers, hours, prospects).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from placements.csvio import CSVError, RowError, is_xlsx
from placements.extensions import db
from placements.imports import pipeline
from placements.jobs import enqueue
from placements.models import Job, User

#: The job kind that writes every import (registered by `placements.imports.jobs`).
IMPORT_JOB = "import.csv"


@dataclass
class Checked:
    """An upload after reading and checking: its problems, or how many rows it has."""

    errors: list[RowError]
    rows: int = 0
    #: The file, for the job: CSV text, or an Excel workbook in base64.
    text: str = ""
    #: "csv" or "xlsx".
    format: str = "csv"


def check_upload(officer: User, kind: pipeline.ImportKind, data: bytes) -> Checked:
    """Read and check an uploaded file in full; write nothing."""
    try:
        rows = pipeline.read(kind, data, max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                             max_rows=current_app.config["IMPORT_MAX_ROWS"])
    except CSVError as exc:
        return Checked(errors=exc.errors)
    errors = pipeline.validate(kind, officer, rows)
    if errors:
        return Checked(errors=errors, rows=len(rows))
    if is_xlsx(data):
        return Checked(errors=[], rows=len(rows), text=base64.b64encode(data).decode("ascii"),
                       format="xlsx")
    return Checked(errors=[], rows=len(rows), text=data.decode("utf-8-sig"))


def stored_upload(payload: dict) -> str | bytes:
    """The file an import job was queued with (see `queue_import`)."""
    if payload.get("content_format") == "xlsx":
        return base64.b64decode(payload["content"])
    return payload["content"]


def queue_import(officer: User, kind: pipeline.ImportKind, filename: str,
                 checked: Checked) -> Job:
    """Queue a checked upload to be written by the job runner (flushed, not committed)."""
    return enqueue(IMPORT_JOB, title=f"Import of {kind.title.lower()}: {filename}"[:200],
                   provider_id=officer.provider_id, created_by_id=officer.id,
                   payload={"kind": kind.name, "filename": filename[:255],
                            "rows": checked.rows, "content": checked.text,
                            "content_format": checked.format})


def recent_imports(officer: User, limit: int = 10) -> list[Job]:
    """The officer's provider's latest imports."""
    return list(db.session.scalars(sa.select(Job).where(
        Job.kind == IMPORT_JOB, Job.provider_id == officer.provider_id)
        .order_by(Job.id.desc()).limit(limit)))


def get_import(officer: User, job_id: int) -> Job | None:
    """One of the officer's provider's imports, or None."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != IMPORT_JOB or job.provider_id != officer.provider_id:
        return None
    return job
