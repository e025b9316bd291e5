"""Compliance pages, one blueprint per role under the role's own area:

- `compliance.employer` (/employer/compliance): what the organisation keeps, what is
  missing or due and why, submitting an item with its document, hosting limits;
- `compliance.officer` (/officer/compliance): the dashboard (by state, by expiry month, CSV),
  employers' items and their review, a site's risk assessment as a checklist, the provider's
  own item types and learner checks, learners' checks to verify, offers blocked in a round,
  published placements at risk;
- `compliance.learner` (/learner/checks): the learner's dated checks.

Documents are served only as downloads (Content-Disposition: attachment, nosniff, a CSP
that runs nothing), to the employer's own users and the officers who see the employer.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from placements.compliance import checks, services
from placements.compliance.forms import (
    ChecklistForm,
    CheckTypeForm,
    ItemForm,
    ItemTypeForm,
    LimitsForm,
    ReturnForm,
)
from placements.csvio import csv_response
from placements.domain import DomainError, access
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.models import (
    AllocationRound,
    ComplianceItem,
    ComplianceItemType,
    Employer,
    Learner,
    LearnerCheck,
    Role,
)
from placements.navigation import render_form
from placements.security import restrict
from placements.timeutil import today_uk

bp = Blueprint("compliance", __name__)
employer_bp = Blueprint("employer", __name__, url_prefix="/employer/compliance")
officer_bp = Blueprint("officer", __name__, url_prefix="/officer/compliance")
learner_bp = Blueprint("learner", __name__, url_prefix="/learner/checks")

#: Endpoints that take a document: their request body may be up to twice UPLOAD_MAX_BYTES
#: (so that a file a little over the limit gets the form's own error, not a bare 413).
UPLOAD_ENDPOINTS = {"compliance.employer.submit"}


def _raise_upload_limit() -> None:
    """Before any other request hook (CSRF reads the body): allow larger bodies here only."""
    if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
        request.max_content_length = 2 * current_app.config["UPLOAD_MAX_BYTES"]


@bp.record_once
def _first_hook(state) -> None:
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_upload_limit)


restrict(employer_bp, Role.EMPLOYER)
restrict(officer_bp, Role.OFFICER)
restrict(learner_bp, Role.LEARNER)


@bp.app_context_processor
def _states() -> dict:
    return {"compliance_states": services.STATE_LABELS}


def _download(file_id: int) -> Response:
    found = services.existing_file(current_user, file_id)
    if found is None:
        abort(404)
    stored, data = found
    response = Response(data, mimetype=stored.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{stored.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- employers -----------------------------------------------------------------------------


def _own_employer() -> Employer:
    employer = current_user.employer
    if employer is None:
        abort(404)
    return employer


@employer_bp.get("/")
def index():
    """What the organisation keeps: missing, waiting, returned, accepted, due, and why."""
    employer = _own_employer()
    return render_template("compliance/employer_index.html", employer=employer,
                           requirements=services.employer_requirements(employer),
                           why=services.why_it_matters, history=services.last_items(employer),
                           today=today_uk())


@employer_bp.route("/submit/<int:type_id>", methods=["GET", "POST"])
def submit(type_id: int):
    """Submit one item with its document."""
    employer = _own_employer()
    item_type = db.session.get(ComplianceItemType, type_id)
    if item_type is None or item_type not in services.types_for_employer(employer):
        abort(404)
    form = ItemForm(item_type, employer)
    if not form.is_submitted() and "site_id" in form and request.args.get("site", "").isdigit():
        form.site_id.data = int(request.args["site"])
    if form.validate_on_submit():
        stored = None
        try:
            item = services.submit_item(current_user, employer, item_type, form.item_data(),
                                        form.upload())
            stored = item.file
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "document")
        else:
            try:
                db.session.commit()
            except Exception:
                db.session.rollback()
                services.discard_upload(stored)
                raise
            flash(f"{item_type.name} has been submitted. An officer will review it.", "success")
            return redirect(url_for(".index"), 303)
    return render_form("compliance/submit.html", form, item_type=item_type, employer=employer,
                       max_mb=current_app.config["UPLOAD_MAX_BYTES"] // (1024 * 1024))


@employer_bp.get("/items/<int:item_id>")
def item(item_id: int):
    """One of the organisation's submissions."""
    found = services.get_visible_item(current_user, item_id)
    if found is None:
        abort(404)
    return render_template("compliance/employer_item.html", item=found)


@employer_bp.get("/files/<int:file_id>")
def employer_file(file_id: int):
    """Download one of the organisation's documents."""
    return _download(file_id)


@employer_bp.route("/limits", methods=["GET", "POST"])
def limits():
    """How many learners the organisation hosts in a round, at most and at least."""
    employer = _own_employer()
    form = LimitsForm(obj=employer)
    if form.validate_on_submit():
        try:
            services.set_limits(current_user, employer, form.max_learners.data,
                                form.min_if_any.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "min_if_any")
        else:
            db.session.commit()
            flash("Your hosting limits have been saved. They apply to the next allocation "
                  "run of every round.", "success")
            return redirect(url_for(".limits"), 303)
    return render_form("compliance/limits.html", form, employer=employer)


# --- officers ------------------------------------------------------------------------------


def _visible_employer(employer_id: int) -> Employer:
    employer = db.session.get(Employer, employer_id)
    if employer is None or not access.officer_sees_employer_compliance(current_user, employer):
        abort(404)
    return employer


def _visible_item(item_id: int) -> ComplianceItem:
    found = services.get_visible_item(current_user, item_id)
    if found is None:
        abort(404)
    return found


@officer_bp.get("/")
def dashboard():
    """Compliance by state and by expiry month; items waiting for review; placements at risk."""
    at_risk, at_risk_total = services.placements_at_risk(current_user)
    return render_template("compliance/dashboard.html",
                           board=services.dashboard(current_user),
                           at_risk=at_risk, at_risk_total=at_risk_total, today=today_uk())


@officer_bp.get("/export.csv")
def export():
    """Every requirement of every employer the officer sees, as CSV."""
    return csv_response(f"compliance-{today_uk():%Y-%m-%d}.csv", services.CSV_HEAD,
                        services.csv_rows(current_user))


@officer_bp.get("/employers")
def employers():
    """The employers the officer sees, to open their compliance."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    search = request.args.get("q", "")
    rows, total = services.employers_page(current_user, search=search, page=page)
    return render_template("compliance/employers.html", employers=rows, total=total,
                           page=page, pages=max(1, -(-total // 50)), search=search)


@officer_bp.get("/employers/<int:employer_id>")
def employer(employer_id: int):
    """One employer's items, their review, and its hosting limits."""
    found = _visible_employer(employer_id)
    return render_template("compliance/officer_employer.html", employer=found,
                           requirements=services.employer_requirements(found),
                           history=services.last_items(found), why=services.why_it_matters,
                           form=EmptyForm(), today=today_uk())


@officer_bp.get("/items/<int:item_id>")
def review(item_id: int):
    """One submission, with its document, to accept or return."""
    found = _visible_item(item_id)
    return render_template("compliance/review.html", item=found, form=EmptyForm(),
                           checklist=services.CHECKLIST, today=today_uk())


@officer_bp.post("/items/<int:item_id>/accept")
def accept(item_id: int):
    """Accept a submission."""
    require_button_post()
    found = _visible_item(item_id)
    try:
        services.accept_item(current_user, found)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".review", item_id=item_id), 303)
    db.session.commit()
    flash(f"{found.type.name} of {found.employer.name} has been accepted.", "success")
    return redirect(url_for(".employer", employer_id=found.employer_id), 303)


@officer_bp.route("/items/<int:item_id>/return", methods=["GET", "POST"])
def return_item(item_id: int):
    """Return a submission to the employer with a reason."""
    found = _visible_item(item_id)
    form = ReturnForm()
    if form.validate_on_submit():
        try:
            services.return_item(current_user, found, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            if exc.field == "reason":
                show_domain_error(form, exc, "reason")
            else:
                flash(exc.message, "error")
                return redirect(url_for(".review", item_id=item_id), 303)
        else:
            db.session.commit()
            flash(f"{found.type.name} has been returned to {found.employer.name}.", "success")
            return redirect(url_for(".employer", employer_id=found.employer_id), 303)
    return render_form("compliance/return.html", form, item=found)


@officer_bp.route("/employers/<int:employer_id>/checklist", methods=["GET", "POST"])
def checklist(employer_id: int):
    """Record a site's risk assessment as a checklist (accepted at once)."""
    found = _visible_employer(employer_id)
    form = ChecklistForm(found)
    if not form.is_submitted() and request.args.get("site", "").isdigit():
        form.site_id.data = int(request.args["site"])
    if form.validate_on_submit():
        try:
            services.record_checklist(
                current_user, found, form.site_id.data or None,
                services.ItemData(site_id=form.site_id.data or None, issuer=form.issuer.data,
                                  issued_on=form.issued_on.data,
                                  expires_on=form.expires_on.data, notes=form.notes.data or ""),
                {key: key in (form.checks.data or []) for key, _ in services.CHECKLIST})
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "checks")
        else:
            db.session.commit()
            flash("The risk assessment has been recorded and accepted.", "success")
            return redirect(url_for(".employer", employer_id=found.id), 303)
    return render_form("compliance/checklist.html", form, employer=found)


@officer_bp.get("/files/<int:file_id>")
def officer_file(file_id: int):
    """Download an employer's document."""
    return _download(file_id)


@officer_bp.route("/types", methods=["GET", "POST"])
def types():
    """The provider's own compliance items and learner checks."""
    form = ItemTypeForm(prefix="item")
    check_form = CheckTypeForm(prefix="check")
    if request.method == "POST" and "item-submit" in request.form and form.validate_on_submit():
        try:
            services.add_item_type(current_user, name=form.name.data,
                                   description=form.description.data or "",
                                   per_site=form.per_site.data, expires=form.expires.data,
                                   blocks_allocation=form.blocks_allocation.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"“{form.name.data.strip()}” has been added.", "success")
            return redirect(url_for(".types"), 303)
    elif request.method == "POST" and "check-submit" in request.form and \
            check_form.validate_on_submit():
        try:
            checks.add_check_type(current_user, name=check_form.name.data,
                                  expires=check_form.expires.data,
                                  required=check_form.required.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(check_form, exc, "name")
        else:
            db.session.commit()
            flash(f"“{check_form.name.data.strip()}” has been added.", "success")
            return redirect(url_for(".types"), 303)
    elif request.method == "POST" and not (form.errors or check_form.errors):
        abort(400)
    status = 400 if form.errors or check_form.errors else 200
    return render_template("compliance/types.html", form=form, check_form=check_form,
                           builtin=[t for t in services.types_for_officer(current_user)
                                    if t.provider_id is None],
                           own=services.provider_types(current_user),
                           own_checks=checks.provider_check_types(current_user),
                           button=EmptyForm()), status


@officer_bp.post("/types/<int:type_id>/active")
def type_active(type_id: int):
    """Retire one of the provider's own items, or bring it back."""
    require_button_post()
    item_type = db.session.get(ComplianceItemType, type_id)
    if item_type is None or item_type.provider_id != current_user.provider_id:
        abort(404)
    services.set_type_active(current_user, item_type, not item_type.active)
    db.session.commit()
    flash(f"“{item_type.name}” is {'asked for again' if item_type.active else 'retired'}.",
          "success")
    return redirect(url_for(".types"), 303)


def _own_learner(learner_id: int) -> Learner:
    learner = db.session.get(Learner, learner_id)
    if learner is None or not access.officer_sees_learner(current_user, learner):
        abort(404)
    return learner


@officer_bp.get("/learners/<int:learner_id>/checks")
def learner_checks(learner_id: int):
    """A learner's checks, to verify having seen the certificates."""
    learner = _own_learner(learner_id)
    return render_template("compliance/officer_checks.html", learner=learner,
                           kinds=checks.kinds_for(learner), held=checks.learner_checks(learner),
                           valid_until=checks.valid_until, form=EmptyForm(), today=today_uk())


@officer_bp.post("/learners/<int:learner_id>/checks/<int:check_id>/verify")
def verify_check(learner_id: int, check_id: int):
    """Mark a check as seen and verified."""
    require_button_post()
    learner = _own_learner(learner_id)
    check = db.session.get(LearnerCheck, check_id)
    if check is None or check.learner_id != learner.id:
        abort(404)
    try:
        checks.verify_check(current_user, check)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("The check has been marked as seen and verified.", "success")
    return redirect(url_for(".learner_checks", learner_id=learner.id), 303)


@officer_bp.get("/rounds/<int:round_id>/blocked")
def blocked(round_id: int):
    """The offers compliance keeps out of a round, and what would unblock each."""
    round_ = db.session.get(AllocationRound, round_id)
    if round_ is None or not access.officer_sees_round(current_user, round_):
        abort(404)
    return render_template("compliance/blocked.html", round=round_,
                           blocked=services.blocked_offers(round_), today=today_uk())


# --- learners ------------------------------------------------------------------------------


def _me() -> Learner:
    learner = current_user.learner
    if learner is None:
        abort(404)
    return learner


@learner_bp.get("/")
def my_checks():
    """The learner's checks, with their dates and whether they are verified."""
    learner = _me()
    return render_template("compliance/learner_checks.html", learner=learner,
                           kinds=checks.kinds_for(learner), held=checks.learner_checks(learner),
                           valid_until=checks.valid_until, form=EmptyForm(), today=today_uk())


@learner_bp.route("/<tag>", methods=["GET", "POST"])
def declare(tag: str):
    """Declare or update one check."""
    from placements.compliance.forms import check_form_for

    learner = _me()
    kind = checks.kind_for(learner, tag)
    if kind is None:
        abort(404)
    existing = checks.learner_checks(learner).get(tag)
    form = check_form_for(kind, existing)
    if form.validate_on_submit():
        try:
            checks.declare_check(current_user, learner, kind, form.check_data())
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reference" if kind.is_dbs else "expires_on")
        else:
            db.session.commit()
            flash(f"Your {kind.name} has been saved. Your provider will verify it when they "
                  "have seen it.", "success")
            return redirect(url_for(".my_checks"), 303)
    return render_form("compliance/declare.html", form, kind=kind, existing=existing)


@learner_bp.post("/<tag>/remove")
def remove(tag: str):
    """The learner no longer holds a check."""
    require_button_post()
    learner = _me()
    try:
        checks.remove_check(current_user, learner, tag)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("The check has been removed.", "success")
    return redirect(url_for(".my_checks"), 303)


bp.register_blueprint(employer_bp)
bp.register_blueprint(officer_bp)
bp.register_blueprint(learner_bp)
