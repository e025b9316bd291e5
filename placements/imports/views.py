"""Officer pages for CSV imports of learners and of employers with their offers."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user

from placements.csvio import CSVError, read_csv, template_response
from placements.extensions import db
from placements.imports.forms import UploadForm
from placements.imports.services import IMPORTS
from placements.jobs import import_progress, run_import, submit_import
from placements.models import ImportJob, Role
from placements.security import role_required

bp = Blueprint("imports", __name__, url_prefix="/officer/imports")

TITLES = {"learners": "Learners", "offers": "Employers and offers"}


@bp.before_request
@role_required(Role.OFFICER)
def _officers_only() -> None:
    """Every page here is for placement officers only."""


def _kind_or_404(kind: str) -> str:
    if kind not in IMPORTS:
        abort(404)
    return kind


def _recent_jobs() -> list[ImportJob]:
    return list(db.session.scalars(sa.select(ImportJob).where(
        ImportJob.provider_id == current_user.provider_id).order_by(
        ImportJob.id.desc()).limit(10)))


def _page(forms: dict[str, UploadForm], errors=None, failed_kind: str | None = None,
          status: int = 200):
    return render_template(
        "imports/index.html", forms=forms, errors=errors or [], failed_kind=failed_kind,
        columns={k: v[0] for k, v in IMPORTS.items()}, titles=TITLES, jobs=_recent_jobs(),
        max_kb=current_app.config["IMPORT_MAX_BYTES"] // 1000,
        max_rows=current_app.config["IMPORT_MAX_ROWS"]), status


@bp.get("/")
def index():
    """Show the import forms, the columns each file needs and recent imports."""
    return _page({k: UploadForm(prefix=k) for k in IMPORTS})


@bp.get("/<kind>/template.csv")
def template(kind: str):
    """Download a CSV template with the headers and one example row."""
    columns = IMPORTS[_kind_or_404(kind)][0]
    return template_response(f"{kind}-template.csv", columns)


@bp.post("/<kind>")
def upload(kind: str):
    """Check an uploaded CSV; write it (all rows or none) only when every row is valid."""
    _kind_or_404(kind)
    forms = {k: UploadForm(prefix=k) for k in IMPORTS}
    form = forms[kind]
    if not form.validate_on_submit():
        return _page(forms, failed_kind=kind, status=400)
    columns, check, _apply = IMPORTS[kind]
    upload_file = form.file.data
    try:
        rows = read_csv(upload_file, columns=columns,
                        max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                        max_rows=current_app.config["IMPORT_MAX_ROWS"])
    except CSVError as exc:
        errors = exc.errors
    else:
        errors = check(current_user, rows)
    if errors:
        db.session.rollback()
        form.file.errors.append(f"The file has {len(errors)} problem"
                                f"{'s' if len(errors) != 1 else ''}: nothing has been "
                                "imported. Correct them and upload the file again.")
        return _page(forms, errors=errors, failed_kind=kind, status=400)
    job = ImportJob(provider_id=current_user.provider_id, kind=kind,
                    filename=(upload_file.filename or "")[:255], status="queued",
                    total_rows=len(rows), created_by_id=current_user.id)
    db.session.add(job)
    db.session.commit()
    if len(rows) <= current_app.config["IMPORT_INLINE_ROWS"]:
        run_import(job.id, kind, current_user.id, rows)
    else:
        submit_import(job.id, kind, current_user.id, rows)
    return redirect(url_for(".job", job_id=job.id), 303)


def _job_or_404(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None or job.provider_id != current_user.provider_id:
        abort(404)
    return job


def _status(job: ImportJob) -> dict:
    done = job.total_rows if job.status == "succeeded" else import_progress(job.id)
    return {"status": job.status, "done": done, "total": job.total_rows, "error": job.error}


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    """Show an import's progress, then what it created, updated and left unchanged."""
    job_ = _job_or_404(job_id)
    return render_template("imports/job.html", job=job_, progress=_status(job_),
                           title=TITLES.get(job_.kind, job_.kind))


@bp.get("/jobs/<int:job_id>/status.json")
def job_status(job_id: int):
    """Report an import's progress (polled by the page)."""
    return jsonify(_status(_job_or_404(job_id)))
