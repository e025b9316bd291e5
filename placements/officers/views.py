"""Officer pages: dashboard, employer approval, learners, outbox."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from placements.domain import DomainError, IllegalTransition, access
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.mail import redact
from placements.models import (
    Employer,
    EmployerStatus,
    Learner,
    Programme,
    Role,
)
from placements.navigation import page_number, render_form
from placements.officers import services
from placements.officers.forms import (
    LearnerForm,
    ProgrammeForm,
    RejectEmployerForm,
    tri_state,
)
from placements.reviews.services import attention_counts
from placements.security import restrict

bp = Blueprint("officers", __name__, url_prefix="/officer")

PAGE_SIZE = 50


restrict(bp, Role.OFFICER)


def get_learner_or_404(learner_id: int) -> Learner:
    """Return one of the officer's own learners, or 404 (never another provider's)."""
    learner = db.session.get(Learner, learner_id)
    if learner is None or not access.officer_sees_learner(current_user, learner):
        abort(404)
    return learner


@bp.get("/")
def dashboard():
    """Show the officer's overview: learners, programmes, employers awaiting approval."""
    overdue, concerns = attention_counts(current_user)
    return render_template("officers/dashboard.html",
                           counts=services.dashboard_counts(current_user),
                           programmes=services.provider_programmes(current_user),
                           care={"overdue": overdue, "concerns": concerns})


@bp.get("/employers")
def employers():
    """List employers with their approval status, those awaiting a decision first."""
    raw = request.args.get("status", "")
    status = EmployerStatus(raw) if raw in set(EmployerStatus) else None
    search = request.args.get("q", "")[:100]
    pagination = db.paginate(services.employers_stmt(current_user, status, search),
                             page=page_number(), per_page=PAGE_SIZE, error_out=False)
    return render_template("officers/employers.html", pagination=pagination, status=status,
                           search=search, counts=services.employer_counts(current_user),
                           offers=services.offer_counts([e.id for e in pagination.items]))


def get_employer_or_404(employer_id: int) -> Employer:
    """Return an employer the officer may see (`domain.access`), or 404."""
    employer = services.get_employer(current_user, employer_id)
    if employer is None:
        abort(404)
    return employer


@bp.get("/employers/<int:employer_id>")
def employer_detail(employer_id: int):
    """Show an employer: organisation, users, sites, offers, engagement and history, with
    Approve and Reject while it awaits a decision."""
    employer = get_employer_or_404(employer_id)
    return render_template("officers/employer_detail.html",
                           page=services.employer_page(current_user, employer),
                           form=EmptyForm())


@bp.post("/employers/<int:employer_id>/approve")
def approve_employer(employer_id: int):
    """Approve an employer so learners can choose its offers; its users are e-mailed."""
    require_button_post()
    employer = get_employer_or_404(employer_id)
    name = employer.name
    try:
        services.approve_employer(current_user, employer)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".employer_detail", employer_id=employer_id), 303)
    db.session.commit()
    flash(f"{name} is approved: learners can now choose its open offers, and its users have "
          "been e-mailed.", "success")
    return redirect(url_for(".employer_detail", employer_id=employer_id), 303)


@bp.route("/employers/<int:employer_id>/reject", methods=["GET", "POST"])
def reject_employer(employer_id: int):
    """Reject an employer awaiting approval, with a reason e-mailed to its users."""
    employer = get_employer_or_404(employer_id)
    form = RejectEmployerForm()
    if form.validate_on_submit():
        name = employer.name
        try:
            services.reject_employer(current_user, employer, form.reason.data)
        except IllegalTransition as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".employer_detail", employer_id=employer_id), 303)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"{name} has not been approved. Its users have been e-mailed your reason "
                  "and can ask again once they have made changes.", "success")
            return redirect(url_for(".employer_detail", employer_id=employer_id), 303)
    return render_form("officers/employer_reject.html", form, employer=employer)


@bp.get("/learners")
def learners():
    """List the provider's learners, with a search by name or student number."""
    search = request.args.get("q", "")[:100]
    page = page_number()
    pagination = db.paginate(services.learners_query(current_user, search), page=page,
                             per_page=PAGE_SIZE, error_out=False)
    return render_template("officers/learners.html", pagination=pagination, search=search)


@bp.route("/learners/new", methods=["GET", "POST"])
def new_learner():
    """Add a learner and send them an invitation to set a password."""
    form = LearnerForm(current_user.provider_id)
    if form.validate_on_submit():
        data = services.NewLearner(
            name=form.name.data, email=form.email.data, student_ref=form.student_ref.data,
            programme_id=form.programme.data, home=form.located,
            max_travel_km=form.max_travel_km.data, credentials=tuple(form.credentials.data),
            in_work_employer=form.in_work_employer.data,
            first_in_family_he=tri_state(form.first_in_family_he.data),
            age_band=form.age_band.data or None,
            prior_qualification=form.prior_qualification.data or None,
            disability_declared=tri_state(form.disability_declared.data))
        try:
            learner = services.create_learner(current_user, data)
        except DomainError as exc:
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"{learner.user.name} has been added and sent an invitation.", "success")
            return redirect(url_for(".learner_detail", learner_id=learner.id), 303)
    return render_form("officers/learner_new.html", form)


@bp.get("/learners/<int:learner_id>")
def learner_detail(learner_id: int):
    """Show one of the provider's learners."""
    learner = get_learner_or_404(learner_id)
    return render_template("officers/learner_detail.html", learner=learner, form=EmptyForm(),
                           rounds=services.learner_rounds(learner))


@bp.post("/learners/<int:learner_id>/invite")
def reinvite_learner(learner_id: int):
    """Send a learner a fresh invitation link."""
    require_button_post()
    learner = get_learner_or_404(learner_id)
    services.reinvite_learner(current_user, learner)
    db.session.commit()
    flash(f"A new invitation has been sent to {learner.user.email}.", "success")
    return redirect(url_for(".learner_detail", learner_id=learner.id), 303)


@bp.get("/outbox")
def outbox():
    """Show the e-mails the service has sent for this provider (development mail backend)."""
    page = page_number()
    pagination = db.paginate(services.outbox_stmt(current_user), page=page, per_page=PAGE_SIZE,
                             error_out=False)
    return render_template("officers/outbox.html", pagination=pagination, redact=redact,
                           show_links=bool(current_app.config["OUTBOX_SHOWS_LINKS"]))


def get_programme_or_404(programme_id: int) -> Programme:
    """Return one of the officer's provider's programmes, or 404."""
    programme = db.session.get(Programme, programme_id)
    if programme is None or not access.officer_sees_programme(current_user, programme):
        abort(404)
    return programme


def _programme_data(form: ProgrammeForm) -> services.ProgrammeData:
    return services.ProgrammeData(
        title=form.title.data, code=form.code.data, standard_id=form.standard.data,
        placement_mandated=form.placement_mandated.data == "yes",
        required_placement_hours=form.required_placement_hours.data,
        planned_total_hours=form.planned_total_hours.data,
        work_integration_target_pct=form.work_integration_target_pct.data,
        start_date=form.start_date.data, end_date=form.end_date.data)


@bp.route("/programmes/new", methods=["GET", "POST"])
def new_programme():
    """Add an HTQ programme to the officer's provider."""
    form = ProgrammeForm(current_user.provider_id)
    if form.validate_on_submit():
        try:
            programme = services.save_programme(current_user, _programme_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(f"{programme.title} has been added.", "success")
            return redirect(url_for(".dashboard"), 303)
    return render_form("officers/programme_form.html", form, programme=None)


@bp.route("/programmes/<int:programme_id>", methods=["GET", "POST"])
def edit_programme(programme_id: int):
    """Change one of the provider's programmes."""
    programme = get_programme_or_404(programme_id)
    form = ProgrammeForm(current_user.provider_id, programme_id=programme.id)
    if request.method == "GET":
        form.title.data = programme.title
        form.code.data = programme.code
        form.standard.data = programme.standard_id
        form.placement_mandated.data = "yes" if programme.placement_mandated else "no"
        form.required_placement_hours.data = programme.required_placement_hours
        form.planned_total_hours.data = programme.planned_total_hours
        form.work_integration_target_pct.data = programme.work_integration_target_pct
        form.start_date.data = programme.start_date
        form.end_date.data = programme.end_date
    elif form.validate_on_submit():
        try:
            services.save_programme(current_user, _programme_data(form), programme)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(f"{programme.title} has been updated.", "success")
            return redirect(url_for(".dashboard"), 303)
    return render_form("officers/programme_form.html", form, programme=programme)
