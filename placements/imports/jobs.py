"""The imports' background work: writing a checked file, all rows or none."""

from __future__ import annotations

from typing import Any

from placements import audit
from placements.extensions import db
from placements.imports import pipeline
from placements.imports.services import IMPORT_JOB, stored_upload
from placements.jobs import JobContext, JobRejected, job_kind
from placements.models import User


@job_kind(IMPORT_JOB, title="CSV import")
def write_import(ctx: JobContext) -> dict[str, Any]:
    """Check the file again (the database may have changed) and write every row."""
    kind = pipeline.KINDS[ctx.payload["kind"]]
    officer = db.session.get(User, ctx.created_by_id)
    if officer is None:
        raise LookupError("the officer who started the import no longer exists")
    rows = pipeline.read(kind, stored_upload(ctx.payload), max_bytes=10**9, max_rows=10**7)
    total = len(rows)
    ctx.progress(done=0, total=total, message="Checking the file")
    errors = pipeline.validate(kind, officer, rows)
    if errors:
        raise JobRejected(
            f"The file has {len(errors)} problem{'s' if len(errors) != 1 else ''} now "
            "(the data changed since it was checked): nothing has been imported.",
            {"errors": [[e.row, e.field, e.message] for e in errors[:1000]],
             "error_count": len(errors)})
    ctx.progress(done=0, total=total, message="Writing")

    def progress(done: int) -> None:
        ctx.progress(done=min(done, total), total=total, message="Writing", writing=True)
        ctx.check_cancelled()

    try:
        outcome = kind.write(officer, rows, progress)
    except pipeline.ImportRowError as exc:
        e = exc.error
        raise JobRejected(f"Row {e.row}, {e.field}: {e.message}. Nothing has been imported.",
                          {"errors": [[e.row, e.field, e.message]], "error_count": 1}) from exc
    ctx.progress(done=total, total=total, message="Done")
    summary = outcome.as_dict()
    audit.record(officer, f"import.{kind.name}", None,
                 filename=ctx.payload.get("filename", ""), rows=total, **summary)
    note = kind.done_note(outcome) if kind.done_note is not None else ""
    return {"rows": total, **summary, "note": note}
