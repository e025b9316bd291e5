"""Officer pages for CSV imports of every kind: check, queue, follow, cancel."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user

from placements.csvio import csv_response
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post
from placements.imports import pipeline, services
from placements.imports.forms import UploadForm
from placements.jobs import request_cancel, shown_error, shown_status, submit
from placements.models import Job, Role
from placements.security import restrict

bp = Blueprint("imports", __name__, url_prefix="/officer/imports")


restrict(bp, Role.OFFICER)


def _kind_or_404(name: str) -> pipeline.ImportKind:
    kind = pipeline.KINDS.get(name)
    if kind is None:
        abort(404)
    return kind


def _page(forms: dict[str, UploadForm], errors=None, failed_kind: str | None = None,
          status: int = 200):
    return render_template(
        "imports/index.html", forms=forms, errors=errors or [], failed_kind=failed_kind,
        kinds=pipeline.kinds(), jobs=services.recent_imports(current_user),
        job_status=shown_status,
        max_kb=current_app.config["IMPORT_MAX_BYTES"] // 1000,
        max_rows=current_app.config["IMPORT_MAX_ROWS"]), status


def _forms() -> dict[str, UploadForm]:
    return {k.name: UploadForm(prefix=k.name) for k in pipeline.kinds()}


@bp.get("/")
def index():
    """Show every kind of import, the columns each file needs and recent imports."""
    return _page(_forms())


@bp.get("/<kind>/template.csv")
def template(kind: str):
    """Download a template: the header row and a sample row that imports as it is."""
    import_kind = _kind_or_404(kind)
    return csv_response(f"{kind}-template.csv", list(import_kind.columns),
                        [pipeline.template_row(import_kind, current_user)])


@bp.post("/<kind>")
def upload(kind: str):
    """Check an uploaded CSV in full; queue it to be written only when every row is valid."""
    import_kind = _kind_or_404(kind)
    forms = _forms()
    form = forms[kind]
    if not form.validate_on_submit():
        return _page(forms, failed_kind=kind, status=400)
    upload_file = form.file.data
    data = upload_file.stream.read(current_app.config["IMPORT_MAX_BYTES"] + 1)
    checked = services.check_upload(current_user, import_kind, data)
    if checked.errors:
        db.session.rollback()
        form.file.errors.append(f"The file has {len(checked.errors)} problem"
                                f"{'s' if len(checked.errors) != 1 else ''}: nothing has been "
                                "imported. Correct them and upload the file again.")
        return _page(forms, errors=checked.errors, failed_kind=kind, status=400)
    job = services.queue_import(current_user, import_kind, upload_file.filename or "", checked)
    db.session.commit()
    small = checked.rows <= current_app.config["IMPORT_INLINE_ROWS"]
    submit(job.id, mode="inline" if small else None)
    return redirect(url_for(".job", job_id=job.id), 303)


def _job_or_404(job_id: int) -> Job:
    job = services.get_import(current_user, job_id)
    if job is None:
        abort(404)
    return job


def _status(job: Job) -> dict:
    progress = job.progress or {}
    total = progress.get("total", (job.payload or {}).get("rows", 0))
    done = total if job.status == "succeeded" else progress.get("done", 0)
    return {"status": shown_status(job), "done": done, "total": total,
            "message": progress.get("message", ""), "error": shown_error(job)}


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    """Show an import's progress, then what it created, updated and left unchanged."""
    job_ = _job_or_404(job_id)
    kind = pipeline.KINDS.get((job_.payload or {}).get("kind", ""))
    return render_template("imports/job.html", job=job_, progress=_status(job_),
                           title=kind.title if kind else "Import", form=EmptyForm())


@bp.get("/jobs/<int:job_id>/status.json")
def job_status(job_id: int):
    """Report an import's progress (polled by the page)."""
    return jsonify(_status(_job_or_404(job_id)))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel(job_id: int):
    """Stop an import that has not finished (nothing it wrote is kept)."""
    require_button_post()
    job_ = _job_or_404(job_id)
    try:
        outcome = request_cancel(job_)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("The import has been cancelled: nothing was imported." if outcome == "cancelled"
              else "The import is stopping: nothing it wrote will be kept.", "success")
    return redirect(url_for(".job", job_id=job_.id), 303)


@bp.app_template_global()
def import_url(kind: str) -> str:
    """Where to import files of a kind (other features link here)."""
    return url_for("imports.index", _anchor=kind)
