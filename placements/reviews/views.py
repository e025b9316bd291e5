"""Review pages under /reviews, one blueprint per role: officers follow reviews and concerns
(`reviews.officer`), employers name supervisors and complete the supervisor's part
(`reviews.employer`), learners complete theirs (`reviews.learner`), and supervisors without
an account use their e-mailed link (`reviews.supervise`, no sign-in: the link is the key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

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
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError

from placements.domain import DomainError, NotAllowed, access
from placements.domain import reviews as rules
from placements.extensions import db, limiter
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.models import (
    Concern,
    LinkTask,
    Placement,
    PlacementReview,
    ReviewSide,
    Role,
    User,
)
from placements.navigation import render_form
from placements.reviews import services
from placements.reviews.forms import (
    AssignForm,
    CloseForm,
    ConcernForm,
    DueDateForm,
    NoteForm,
    RejectHoursForm,
    ReopenForm,
    SupervisorForm,
    WaiveForm,
    part_form,
)
from placements.security import restrict

bp = Blueprint("reviews", __name__, url_prefix="/reviews")
officer_bp = Blueprint("officer", __name__, url_prefix="/officer")
employer_bp = Blueprint("employer", __name__, url_prefix="/employer")
learner_bp = Blueprint("learner", __name__, url_prefix="/learner")
supervise_bp = Blueprint("supervise", __name__, url_prefix="/supervise")

SUP, LRN = ReviewSide.SUPERVISOR, ReviewSide.LEARNER
STATUS_COLOURS = {"scheduled": "grey", "supervisor-done": "light-blue",
                  "learner-done": "light-blue", "complete": "green", "waived": "grey"}
CONCERN_COLOURS = {"open": "red", "in-hand": "orange", "closed": "green"}


#: How each answer of a review part is named when it is read back.
ANSWER_LABELS = {
    "induction_done": "Induction done", "safety_briefing_done": "Health and safety briefing done",
    "supervisor_known": "Knows who their supervisor is", "objectives": "Objectives agreed",
    "attendance": "Attendance and punctuality", "progress": "Progress on the objectives",
    "progress_note": "Progress, in words", "strengths": "Strengths",
    "development": "Areas to develop", "recommendation": "Recommendation",
    "would_host_again": "Would host again", "would_recommend": "Would recommend the placement",
    "comments": "Anything else",
}


def answers(part: Any) -> list[tuple[str, Any]]:
    """A submitted part's answers as (label, words), in the order the form asked them."""
    review = part.review
    out = []
    for name in [*services.part_fields(review.kind, part.side), "comments"]:
        value = getattr(part, name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        elif name in ("attendance", "progress"):
            text = rules.rating_name(value)
        elif name == "recommendation":
            text = rules.RECOMMENDATIONS.get(value, value)
        else:  # free text keeps the lines it was written in (escaped, joined by <br>)
            text = Markup("<br>").join(escape(line) for line in str(value).splitlines())
        out.append((ANSWER_LABELS[name], text))
    return out


@bp.context_processor
def _review_words() -> dict[str, Any]:
    return {"rules": rules, "status_colours": STATUS_COLOURS,
            "concern_colours": CONCERN_COLOURS, "rating_name": rules.rating_name,
            "ReviewSide": ReviewSide, "answers": answers, "link_state": services.link_state}


restrict(officer_bp, Role.OFFICER)
restrict(employer_bp, Role.EMPLOYER)
restrict(learner_bp, Role.LEARNER)


def _send_limit() -> str:
    return current_app.config["RATELIMIT_SUPERVISOR_SEND"]


def _per_user() -> str:
    return f"user:{current_user.get_id()}"


#: E-mailing a supervisor new links: a few times an hour per signed-in user.
limit_sending = limiter.limit(_send_limit, key_func=_per_user, methods=["POST"])


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


# --- officers -------------------------------------------------------------------------------

def _officer_placement_or_404(placement_id: int) -> Placement:
    placement = services.officer_placement(current_user, placement_id)
    if placement is None:
        abort(404)
    return placement


def _officer_review_or_404(review_id: int) -> PlacementReview:
    review = db.session.get(PlacementReview, review_id)
    if review is None or not access.officer_cares_for(current_user, review.plan.placement):
        abort(404)
    return review


def _officer_concern_or_404(concern_id: int) -> Concern:
    concern = db.session.get(Concern, concern_id)
    if concern is None or not access.officer_sees_concern(current_user, concern):
        abort(404)
    return concern


@officer_bp.get("/")
def attention():
    """Overdue reviews and unresolved concerns, with counts per round and per employer."""
    rounds, employers = services.filter_choices(current_user)
    round_id, employer_id = _int_arg("round"), _int_arg("employer")
    if round_id not in {r for r, _ in rounds}:
        round_id = None
    if employer_id not in {e for e, _ in employers}:
        employer_id = None
    return render_template(
        "reviews/officer_attention.html",
        attention=services.attention(current_user, round_id=round_id, employer_id=employer_id),
        rounds=rounds, employers=employers, round_id=round_id, employer_id=employer_id,
        unplanned=services.unplanned_placements(current_user), form=EmptyForm())


@officer_bp.post("/schedule")
def schedule():
    """Give the provider's published placements that have none their review plans."""
    require_button_post()
    ids = services.unplanned_placement_ids(current_user)
    report = services.schedule_reviews(ids, actor=current_user)
    db.session.commit()
    flash(f"Review plans made for {report.plans} placement{'s' if report.plans != 1 else ''}.",
          "success")
    return redirect(url_for(".attention"), 303)


def _placement_page(placement: Placement, template: str, **context: Any):
    plan = services.current_plan(placement)
    supervisor = services.current_supervisor(placement)
    return render_template(
        template, placement=placement, plan=plan, states=services.plan_states(plan),
        earlier=services.earlier_plans(placement), supervisor=supervisor,
        links=services.links_of(supervisor) if supervisor else [], form=EmptyForm(),
        **context)


@officer_bp.get("/placements/<int:placement_id>")
def placement(placement_id: int):
    """One placement: its review plan and parts, its supervisor and links, its concerns."""
    placement_ = _officer_placement_or_404(placement_id)
    return _placement_page(placement_, "reviews/officer_placement.html",
                           concerns=services.concerns_about(placement_),
                           uses=services.link_uses(placement_),
                           live=placement_.status in rules.LIVE)


@officer_bp.route("/reviews/<int:review_id>/date", methods=["GET", "POST"])
def due_date(review_id: int):
    """Move a review's due date."""
    review = _officer_review_or_404(review_id)
    form = DueDateForm()
    if not form.is_submitted():
        form.due_date.data = review.due_date
    if form.validate_on_submit():
        try:
            services.set_due_date(current_user, review, form.due_date.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "due_date")
        else:
            db.session.commit()
            flash(f"The {review.kind.label.lower()} is now due on "
                  f"{form.due_date.data.day} {form.due_date.data:%B %Y}.", "success")
            return redirect(url_for(".placement", placement_id=review.plan.placement_id), 303)
    return render_form("reviews/officer_due_date.html", form, review=review)


@officer_bp.route("/reviews/<int:review_id>/waive", methods=["GET", "POST"])
def waive(review_id: int):
    """Decide that a review is not needed, saying why."""
    review = _officer_review_or_404(review_id)
    form = WaiveForm()
    if form.validate_on_submit():
        try:
            services.waive_review(current_user, review, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"The {review.kind.label.lower()} has been waived.", "success")
            return redirect(url_for(".placement", placement_id=review.plan.placement_id), 303)
    return render_form("reviews/officer_waive.html", form, review=review)


@officer_bp.post("/placements/<int:placement_id>/send-links", endpoint="send_links")
@limit_sending
def officer_send_links(placement_id: int):
    """E-mail the placement's supervisor their links now."""
    require_button_post()
    placement_ = _officer_placement_or_404(placement_id)
    return _send_links(placement_, url_for(".placement", placement_id=placement_.id))


@officer_bp.post("/placements/<int:placement_id>/revoke-links")
def revoke_links(placement_id: int):
    """Stop every link of the placement's supervisor from working."""
    require_button_post()
    placement_ = _officer_placement_or_404(placement_id)
    back = url_for(".placement", placement_id=placement_.id)
    supervisor = services.current_supervisor(placement_)
    if supervisor is None:
        flash("No supervisor has been named for this placement.", "error")
        return redirect(back, 303)
    count = services.revoke_links(current_user, supervisor)
    db.session.commit()
    flash(f"{count} link{'s' if count != 1 else ''} of {supervisor.name} withdrawn.", "success")
    return redirect(back, 303)


@officer_bp.route("/placements/<int:placement_id>/concern", methods=["GET", "POST"],
                  endpoint="raise_concern")
def officer_concern(placement_id: int):
    """Record a concern someone raised by telephone or in person."""
    placement_ = _officer_placement_or_404(placement_id)
    return _raise(placement_, url_for(".placement", placement_id=placement_.id),
                  "reviews/concern_form.html", who="officer")


def _concern_page(concern: Concern, *, assign_form: AssignForm | None = None,
                  note_form: NoteForm | None = None, close_form: CloseForm | None = None,
                  reopen_form: ReopenForm | None = None):
    officers = services.officers_of(current_user)
    assign_form = assign_form or AssignForm(formdata=None, owner_id=concern.owner_id
                                            or current_user.id)
    assign_form.owner_id.choices = [(o.id, o.name) for o in officers]
    forms: dict[str, Any] = {
        "assign_form": assign_form, "note_form": note_form or NoteForm(formdata=None),
        "close_form": close_form or CloseForm(formdata=None),
        "reopen_form": reopen_form or ReopenForm(formdata=None)}
    failed = [f for f in forms.values() if f.errors or getattr(f, "form_errors", None)]
    return render_template("reviews/officer_concern.html", concern=concern,
                           history=services.concern_history(concern), form=EmptyForm(),
                           error_form=failed[0] if failed else None,
                           **forms), 400 if failed else 200


@officer_bp.get("/concerns/<int:concern_id>")
def concern(concern_id: int):
    """One concern: what was raised, by whom, its owner, history and outcome."""
    return _concern_page(_officer_concern_or_404(concern_id))


def _concern_action(concern_: Concern, form: Any, field: str, action: Callable[[], None],
                    done: str, **page: Any):
    if form.validate_on_submit():
        try:
            action()
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, field)
        else:
            db.session.commit()
            flash(done, "success")
            return redirect(url_for(".concern", concern_id=concern_.id), 303)
    if not form.errors and not getattr(form, "form_errors", None):
        abort(400)  # no CSRF token
    return _concern_page(concern_, **page)


@officer_bp.post("/concerns/<int:concern_id>/take")
def take(concern_id: int):
    """Take an open concern yourself."""
    require_button_post()
    concern_ = _officer_concern_or_404(concern_id)
    try:
        services.assign_concern(current_user, concern_, current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("You own this concern now.", "success")
    return redirect(url_for(".concern", concern_id=concern_.id), 303)


@officer_bp.post("/concerns/<int:concern_id>/assign")
def assign(concern_id: int):
    """Give the concern to another officer of the provider."""
    concern_ = _officer_concern_or_404(concern_id)
    form = AssignForm()
    form.owner_id.choices = [(o.id, o.name) for o in services.officers_of(current_user)]
    owner = db.session.get(User, form.owner_id.data) if form.owner_id.data else None

    def act() -> None:
        if owner is None:
            raise DomainError("Choose an officer of your provider", field="owner_id")
        services.assign_concern(current_user, concern_, owner)

    return _concern_action(concern_, form, "owner_id", act,
                           f"{owner.name if owner else ''} owns this concern now.",
                           assign_form=form)


@officer_bp.post("/concerns/<int:concern_id>/note")
def note(concern_id: int):
    """Add a note of what was done to the concern's history."""
    concern_ = _officer_concern_or_404(concern_id)
    form = NoteForm()
    return _concern_action(concern_, form, "note",
                           lambda: services.note_concern(current_user, concern_,
                                                         form.note.data),
                           "Your note has been added.", note_form=form)


@officer_bp.post("/concerns/<int:concern_id>/close")
def close(concern_id: int):
    """Close the concern with its outcome."""
    concern_ = _officer_concern_or_404(concern_id)
    form = CloseForm()
    return _concern_action(concern_, form, "outcome",
                           lambda: services.close_concern(current_user, concern_,
                                                          form.outcome.data),
                           "The concern is closed.", close_form=form)


@officer_bp.post("/concerns/<int:concern_id>/reopen")
def reopen(concern_id: int):
    """Reopen a closed concern."""
    concern_ = _officer_concern_or_404(concern_id)
    form = ReopenForm()
    return _concern_action(concern_, form, "reason",
                           lambda: services.reopen_concern(current_user, concern_,
                                                           form.reason.data),
                           "The concern is open again, and yours.", reopen_form=form)


# --- employers ------------------------------------------------------------------------------

def _host_placement_or_404(placement_id: int) -> Placement:
    placement_ = services.host_placement(current_user, placement_id)
    if placement_ is None:
        abort(404)
    return placement_


@employer_bp.get("/", endpoint="index")
def employer_index():
    """The learners on placement with the organisation: supervisors and reviews."""
    return render_template("reviews/employer_index.html",
                           rows=services.employer_rows(current_user),
                           concerns=services.employer_concerns(current_user))


@employer_bp.get("/placements/<int:placement_id>", endpoint="placement")
def employer_placement(placement_id: int):
    """One learner on placement: the supervisor, the reviews, concerns raised."""
    placement_ = _host_placement_or_404(placement_id)
    return _placement_page(placement_, "reviews/employer_placement.html",
                           concerns=services.employer_concerns(current_user, placement_))


@employer_bp.route("/placements/<int:placement_id>/supervisor", methods=["GET", "POST"])
def supervisor(placement_id: int):
    """Name the placement's supervisor (they get their links by e-mail)."""
    placement_ = _host_placement_or_404(placement_id)
    current = services.current_supervisor(placement_)
    form = SupervisorForm(obj=current)
    if form.validate_on_submit():
        try:
            named = services.name_supervisor(current_user, placement_, form.supervisor_data())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        except IntegrityError:  # a colleague named one at the same moment
            db.session.rollback()
            show_domain_error(form, DomainError(
                "A colleague has just named a supervisor for this learner: check the "
                "placement's page before changing it"), "name")
        else:
            changed = current is None or current.email != named.email
            flash(f"{named.name} is the supervisor" + (
                f" and has been e-mailed their links at {named.email}." if changed else "."),
                "success")
            return redirect(url_for(".placement", placement_id=placement_.id), 303)
    return render_form("reviews/supervisor_form.html", form, placement=placement_,
                       current=current)


@employer_bp.post("/placements/<int:placement_id>/send-links", endpoint="send_links")
@limit_sending
def employer_send_links(placement_id: int):
    """E-mail the supervisor their links now."""
    require_button_post()
    placement_ = _host_placement_or_404(placement_id)
    return _send_links(placement_, url_for(".placement", placement_id=placement_.id))


def _send_links(placement_: Placement, back: str):
    supervisor_ = services.current_supervisor(placement_)
    if supervisor_ is None:
        flash("Name a supervisor first.", "error")
        return redirect(back, 303)
    try:
        services.send_links(current_user, supervisor_)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back, 303)
    db.session.commit()
    flash(f"{supervisor_.name} has been e-mailed their links at {supervisor_.email}.",
          "success")
    return redirect(back, 303)


@employer_bp.route("/reviews/<int:review_id>", methods=["GET", "POST"], endpoint="review")
def employer_review(review_id: int):
    """Complete the supervisor's part of a review in the portal (or read it)."""
    review = services.review_for(current_user, review_id, SUP)
    if review is None:
        abort(404)
    back = url_for(".placement", placement_id=review.plan.placement_id)
    return _part(review, SUP, current_user, back, "reviews/review_form.html")


@employer_bp.route("/placements/<int:placement_id>/concern", methods=["GET", "POST"],
                   endpoint="concern")
def employer_concern(placement_id: int):
    """Raise a concern about a learner on placement."""
    placement_ = _host_placement_or_404(placement_id)
    return _raise(placement_, url_for(".placement", placement_id=placement_.id),
                  "reviews/concern_form.html", who="employer")


# --- learners -------------------------------------------------------------------------------

def _learner():
    learner = current_user.learner
    if learner is None:
        abort(404)
    return learner


@learner_bp.get("/", endpoint="index")
def learner_index():
    """The learner's placement reviews and the concerns they raised."""
    learner = _learner()
    return render_template("reviews/learner_index.html", learner=learner,
                           rows=services.learner_rows(learner),
                           concerns=services.learner_concerns(learner))


@learner_bp.route("/reviews/<int:review_id>", methods=["GET", "POST"], endpoint="review")
def learner_review(review_id: int):
    """Complete the learner's part of a review (or read it)."""
    review = services.review_for(current_user, review_id, LRN)
    if review is None:
        abort(404)
    return _part(review, LRN, current_user, url_for(".index"),
                 "reviews/review_form.html")


@learner_bp.route("/placements/<int:placement_id>/concern", methods=["GET", "POST"],
                  endpoint="concern")
def learner_concern(placement_id: int):
    """Raise a concern about your placement."""
    learner = _learner()
    placement_ = db.session.get(Placement, placement_id)
    if placement_ is None or placement_.learner_id != learner.id \
            or placement_.status not in rules.LIVE:
        abort(404)
    return _raise(placement_, url_for(".index"), "reviews/concern_form.html",
                  who="learner")


# --- shared by the portals ------------------------------------------------------------------

def _part(review: PlacementReview, side: ReviewSide, author: Any, back: str, template: str,
          **context: Any):
    """Show one side's part of a review: the form while it is awaited, the answers after."""
    state = services.review_state(review)
    own = review.part(side)
    form = part_form(review.kind, side)
    if own is None and form.validate_on_submit():
        try:
            if isinstance(author, access.SupervisorScope):
                services.supervisor_reviews(context["use"], form.part_data())
            else:
                services.submit_part(author, review, side, form.part_data())
        except services.LinkRefused:
            raise
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, next(iter(services.part_fields(review.kind, side))))
        else:
            db.session.commit()
            if isinstance(author, access.SupervisorScope):
                return render_template("reviews/supervise_done.html", review=review,
                                       use=context["use"])
            flash(f"Your part of the {review.kind.label.lower()} has been sent.", "success")
            return redirect(back, 303)
    elif own is not None and request.method == "POST":
        if isinstance(author, access.SupervisorScope):  # submitted meanwhile
            raise services.LinkRefused("The supervisor's part of this review has already "
                                       "been submitted.")
        flash("This part of the review has already been submitted.", "info")
        return redirect(back, 303)
    return render_form(template, form, review=review, side=side, state=state, own=own,
                       other=review.part(LRN if side == SUP else SUP), back=back,
                       plan=review.plan, **context)


def _raise(placement_: Placement, back: str, template: str, who: str, **context: Any):
    form = ConcernForm()
    if form.validate_on_submit():
        try:
            use = context.get("use")
            if use is not None:
                services.supervisor_raises(use, form.category.data, form.description.data)
            else:
                services.raise_concern(current_user, placement_, form.category.data,
                                       form.description.data)
        except services.LinkRefused:
            raise
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "description")
        else:
            db.session.commit()
            flash("Your concern has been sent to the placement officer, who has been e-mailed "
                  "about it.", "success")
            return redirect(back, 303)
    return render_form(template, form, placement=placement_, back=back, who=who, **context)


# --- supervisors, through their e-mailed link (no account) ----------------------------------

def _link_limit() -> str:
    return current_app.config["RATELIMIT_SUPERVISOR_LINK"]


def _address_limit() -> str:
    return current_app.config["RATELIMIT_SUPERVISOR_ADDRESS"]


def _per_link() -> str:
    token = (request.view_args or {}).get("token", "")
    return "supervisor-link:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _link_limits(view: Callable[..., Any]) -> Callable[..., Any]:
    """Rate-limit a link page per link and per client address (every method)."""
    return limiter.limit(_address_limit)(limiter.limit(_link_limit, key_func=_per_link)(view))


def _address() -> str:
    return request.remote_addr or ""


def _refused(exc: services.LinkRefused):
    current_app.logger.info("supervisor link refused from %s: %s", _address(), exc.message)
    return render_template("reviews/supervise_refused.html", message=exc.message), (
        410 if exc.gone else 404)


@supervise_bp.after_request
def _private(response):
    """A link's pages show a learner's details to whoever holds the link: never cached,
    never indexed, and the link never sent on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@supervise_bp.errorhandler(services.LinkRefused)
def _link_refused(exc: services.LinkRefused):
    """A link that does not (or no longer) work: the page says why, nothing is kept."""
    db.session.rollback()
    return _refused(exc)


def _resolve(token: str, purpose: LinkTask | None = None) -> services.LinkUse:
    """Check the link (LinkRefused, answered by `_link_refused`, when it does not work)."""
    use = services.resolve_link(token, purpose, address=_address())
    current_app.logger.info("supervisor link %s (%s) opened from %s", use.link.id,
                            use.link.purpose.value, _address())
    return use


@supervise_bp.route("/<token>", methods=["GET", "POST"])
@_link_limits
def link(token: str):
    """The link's one task: the placement's hours to verify, or one review to complete."""
    use = _resolve(token)
    if use.link.purpose == LinkTask.REVIEW:
        assert use.review is not None
        return _part(use.review, SUP, use.scope, url_for(".link", token=token),
                     "reviews/review_form.html", use=use, token=token)
    if request.method == "POST":
        abort(405)
    return render_template("reviews/supervise_hours.html", use=use, token=token,
                           pending=services.pending_hours(use.placement),
                           decided=services.decided_hours(use.placement), form=EmptyForm())


@supervise_bp.post("/<token>/hours/<int:entry_id>/verify")
@_link_limits
def link_verify(token: str, entry_id: int):
    """Verify one day of the placement's hours."""
    require_button_post()
    use = _resolve(token, LinkTask.HOURS)
    try:
        entry = services.supervisor_verifies(use, entry_id)
    except services.LinkRefused:
        raise
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, NotAllowed):
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for(".link", token=token), 303)
    db.session.commit()
    flash(f"{entry.quarter_hours / 4:g} hours on {entry.entry_date.day} "
          f"{entry.entry_date:%B %Y} verified.", "success")
    return redirect(url_for(".link", token=token), 303)


@supervise_bp.route("/<token>/hours/<int:entry_id>/reject", methods=["GET", "POST"])
@_link_limits
def link_reject(token: str, entry_id: int):
    """Reject one day of the placement's hours, saying why."""
    use = _resolve(token, LinkTask.HOURS)
    try:
        entry = services.entry_for_link(use, entry_id)
    except DomainError:
        abort(404)
    form = RejectHoursForm()
    if form.validate_on_submit():
        try:
            services.supervisor_rejects(use, entry_id, form.reason.data)
        except services.LinkRefused:
            raise
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"Hours on {entry.entry_date.day} {entry.entry_date:%B %Y} rejected.",
                  "success")
            return redirect(url_for(".link", token=token), 303)
    return render_form("reviews/supervise_reject.html", form, use=use, entry=entry,
                       token=token)


@supervise_bp.route("/<token>/concern", methods=["GET", "POST"])
@_link_limits
def link_concern(token: str):
    """Raise a concern about the placement."""
    use = _resolve(token)
    return _raise(use.placement, url_for(".link", token=token), "reviews/concern_form.html",
                  who="supervisor", use=use, token=token)


bp.register_blueprint(officer_bp)
bp.register_blueprint(employer_bp)
bp.register_blueprint(learner_bp)
bp.register_blueprint(supervise_bp)
