"""Learner portal pages: profile, offers, ranked choices, placement."""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import IntegrityError, OperationalError

from placements.domain import DomainError
from placements.domain.standing import standings_of
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.learners import services
from placements.learners.forms import ChoicesForm, DeclineForm, OfferFilterForm, ProfileForm
from placements.models import AllocationRound, Learner, Role
from placements.navigation import page_number, render_form
from placements.security import is_safe_next, restrict

bp = Blueprint("learners", __name__, url_prefix="/learner")

PAGE_SIZE = 25


restrict(bp, Role.LEARNER)


def current_learner() -> Learner:
    """Return the signed-in learner's record (every page works on the user's own only)."""
    learner = current_user.learner
    if learner is None:
        abort(404)
    return learner


def learner_round_or_404(learner: Learner, round_id: int) -> AllocationRound:
    """Return a round the learner is in, or 404."""
    round_ = services.get_learner_round(learner, round_id)
    if round_ is None:
        abort(404)
    return round_


def _choosing_round(learner: Learner) -> AllocationRound | None:
    """The round the offers page adds choices to: ?round=ID, else the first open one."""
    round_id = request.args.get("round", type=int)
    if round_id is not None:
        return learner_round_or_404(learner, round_id)
    rounds = services.open_rounds(learner)
    return rounds[0] if rounds else None


@bp.get("/")
def dashboard():
    """Show the learner's programme, profile summary, rounds and placement."""
    learner = current_learner()
    return render_template("learners/dashboard.html", learner=learner,
                           standings=standings_of(learner))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Change home postcode, travel limit, checks held, access needs and employer."""
    learner = current_learner()
    form = ProfileForm(obj=learner)
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, learner, services.LearnerProfile(
                home=form.located, max_travel_km=form.max_travel_km.data,
                credentials=tuple(form.credentials.data or ()),
                access_needs=form.access_needs.data or "",
                in_work_employer=form.in_work_employer.data or ""))
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "home_postcode")
        else:
            db.session.commit()
            flash("Your profile has been saved.", "success")
            return redirect(url_for(".dashboard"), 303)
    return render_form("learners/profile.html", form, learner=learner)


@bp.get("/offers")
def offers():
    """Browse the offers of the learner's sector, nearest first, with filters."""
    learner = current_learner()
    round_ = _choosing_round(learner)
    form = OfferFilterForm(formdata=request.args if request.args else None)
    filters = services.OfferFilters()
    status = 200
    if request.args and not form.validate():
        status = 400
    elif request.args:
        filters = services.OfferFilters(
            max_km=form.max_km.data, min_hours=form.min_hours.data,
            max_hours=form.max_hours.data, only_eligible=bool(form.eligible.data),
            exclude_requirements=tuple(form.exclude.data or ()))
    hits = services.search_offers(learner, filters)
    pages = max(1, math.ceil(len(hits) / PAGE_SIZE))
    page = min(page_number(), pages)
    ranked = services.ranked_offer_ids(learner, round_) if round_ else []
    query = {k: v for k, v in request.args.items(multi=True) if k not in ("page", "submit")}
    return render_template(
        "learners/offers.html", learner=learner, form=form, round=round_,
        views=services.offer_views(hits[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], learner),
        total=len(hits), page=page,
        pages=pages, ranked=ranked, add_form=ChoicesForm(), query=query,
        can_add=round_ is not None and services.takes_choices(round_)
        and len(ranked) < round_.max_preferences), status


@bp.get("/offers/<int:offer_id>")
def offer_detail(offer_id: int):
    """Show one offer the learner may choose."""
    learner = current_learner()
    offer = services.get_visible_offer(learner, offer_id)
    if offer is None:
        abort(404)
    round_ = _choosing_round(learner)
    ranked = services.ranked_offer_ids(learner, round_) if round_ else []
    return render_template(
        "learners/offer_detail.html", learner=learner, view=services.offer_view(learner, offer),
        round=round_, ranked=ranked, add_form=ChoicesForm(),
        can_add=round_ is not None and services.takes_choices(round_)
        and len(ranked) < round_.max_preferences)


def _int_or_400(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        abort(400)
    return int(raw)


@bp.route("/rounds/<int:round_id>/choices", methods=["GET", "POST"])
def preferences(round_id: int):
    """Rank up to K offers; works with up/down buttons alone or with JavaScript.

    With JavaScript each move is the same POST as the Up or Down button's (the order on
    screen and `move`), sent as it happens and answered in JSON (`Accept:
    application/json`): the saved order, or why nothing was saved."""
    learner = current_learner()
    round_ = learner_round_or_404(learner, round_id)
    form = ChoicesForm()
    as_json = _wants_json()
    if form.validate_on_submit():
        order = [i for i in map(_int_or_400, request.form.getlist("order")) if i is not None]
        add = _int_or_400(request.form.get("add"))
        remove = _int_or_400(request.form.get("remove"))
        move = request.form.get("move") or None
        message = _save_choices(learner, round_, order=order if "order" in request.form
                                else None, move=move, add=add, remove=remove)
        if as_json:
            if message is not None:
                return jsonify(saved=False, error=message), 400
            return jsonify(saved=True, order=services.ranked_offer_ids(current_learner(),
                                                                       round_))
        if message is None:
            if add is not None:
                warning = services.added_choice_warning(current_learner(), add)
                if warning:
                    flash(f"The offer has been added to your choices. {warning}. You can "
                          "keep it, for example if you are about to change how far you can "
                          "travel in your profile.", "info")
                else:
                    flash("The offer has been added to your choices.", "success")
                target = request.form.get("next")
                if target and is_safe_next(target):
                    return redirect(target, 303)
            elif move is None:
                flash("Your choices have been saved.", "success")
            return redirect(url_for(".preferences", round_id=round_.id), 303)
        form.form_errors.append(message)
        learner = current_learner()
        round_ = learner_round_or_404(learner, round_id)
    elif form.is_submitted():
        if as_json:
            return jsonify(saved=False, error="Your session has expired: reload the page "
                                              "and try again"), 400
        abort(400)
    return render_form("learners/preferences.html", form, learner=learner, round=round_,
                       views=services.ranked_offers(learner, round_),
                       deadline_passed=not services.takes_choices(round_),
                       available=services.is_available)


def _wants_json() -> bool:
    """Whether the request asks for JSON rather than a page (the choices page's script)."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
        "application/json"


def _save_choices(learner: Learner, round_: AllocationRound, **change) -> str | None:
    """Apply and commit a change to the ranked list; return an error message or None.

    Two tabs saving at once cannot leave duplicate or missing ranks: the unique
    constraints reject a clash, and the losing request rolls back and retries once on
    the fresh list.
    """
    for attempt in (1, 2):
        try:
            services.change_preferences(current_user, learner, round_, **change)
            db.session.commit()
            return None
        except DomainError as exc:
            db.session.rollback()
            return exc.message
        except (IntegrityError, OperationalError) as exc:
            db.session.rollback()
            if attempt == 2 or (isinstance(exc, OperationalError)
                                and "locked" not in str(exc).lower()):
                raise
    return None  # pragma: no cover


@bp.get("/placement")
def placement():
    """Show where the learner stands in each round, and their placements to answer."""
    learner = current_learner()
    return render_template("learners/placement.html", learner=learner,
                           standings=standings_of(learner), form=EmptyForm(),
                           distance=lambda p: services.offer_view(learner, p.offer).km)


def own_placement_or_404(learner: Learner, placement_id: int):
    placement = services.get_own_placement(learner, placement_id)
    if placement is None:
        abort(404)
    return placement


@bp.post("/placement/<int:placement_id>/accept")
def placement_accept(placement_id: int):
    """Accept a published placement."""
    learner = current_learner()
    placement = own_placement_or_404(learner, placement_id)
    require_button_post()
    try:
        services.accept_placement(current_user, learner, placement)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"You have accepted your placement with {placement.offer.employer.name}.",
              "success")
    return redirect(url_for(".placement"), 303)


@bp.route("/placement/<int:placement_id>/decline", methods=["GET", "POST"])
def placement_decline(placement_id: int):
    """Decline a published placement, saying why."""
    learner = current_learner()
    placement = own_placement_or_404(learner, placement_id)
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            services.decline_placement(current_user, learner, placement, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            form.reason.errors.append(exc.message)
        else:
            db.session.commit()
            flash("You have declined the placement. Your placement officer will look for "
                  "another placement for you; you will be e-mailed when one is published.",
                  "success")
            return redirect(url_for(".placement"), 303)
    return render_form("learners/placement_decline.html", form, placement=placement)
