"""Officer pages for allocation rounds: set up, run, review, adjust, publish, repair, audit."""

from __future__ import annotations

from datetime import UTC, datetime, time

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

from placements.compliance import services as compliance
from placements.csvio import csv_response
from placements.domain import DomainError, access
from placements.extensions import db
from placements.formkit import EmptyForm, choices, require_button_post, show_domain_error
from placements.jobs import shown_error, shown_status, submit
from placements.models import (
    AllocationRound,
    AllocationRun,
    JobStatus,
    Placement,
    PlacementLock,
    PlacementOffer,
    RankCost,
    Role,
    RunKind,
    utcnow,
)
from placements.navigation import page_number, render_form
from placements.rounds import reports, services
from placements.rounds.forms import LockForm, OverrideForm, RoundForm
from placements.rounds.problem import build_problem
from placements.security import role_required

bp = Blueprint("rounds", __name__, url_prefix="/officer/rounds")

PAGE_SIZE = 50


@bp.before_request
@role_required(Role.OFFICER)
def _officers_only() -> None:
    """Every page here is for placement officers only."""


bp.add_app_template_filter(shown_status, "job_status")


def get_round_or_404(round_id: int) -> AllocationRound:
    """Return a round the officer's provider takes part in, or 404."""
    round_ = db.session.get(AllocationRound, round_id)
    if round_ is None or not access.officer_sees_round(current_user, round_):
        abort(404)
    return round_


def get_managed_round_or_403(round_id: int) -> AllocationRound:
    """Return a round the officer may change: 404 if unseen, 403 if only viewable."""
    round_ = get_round_or_404(round_id)
    if not access.officer_manages_round(current_user, round_):
        abort(403)
    return round_


def get_run_or_404(round_: AllocationRound, run_id: int) -> AllocationRun:
    """Return a run of the round, or 404."""
    run = db.session.get(AllocationRun, run_id)
    if run is None or run.round_id != round_.id:
        abort(404)
    return run


@bp.get("/")
def index():
    """List the rounds the officer's provider takes part in."""
    rounds = db.session.scalars(services.officer_rounds_stmt(current_user)).all()
    return render_template("rounds/index.html", rounds=rounds)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Set up an allocation round over programmes of the provider or its partnership."""
    form = RoundForm()
    form.programmes.choices = choices(services.programme_choices(current_user))
    if form.validate_on_submit():
        programmes = services.programmes_by_id(current_user, form.programmes.data)
        deadline = datetime.combine(form.preference_deadline.data, time(23, 59), tzinfo=UTC)
        try:
            round_ = services.create_round(
                current_user, name=form.name.data, programmes=programmes,
                preference_deadline=deadline, max_preferences=form.max_preferences.data,
                rank_cost=RankCost(form.rank_cost.data), fallback=form.fallback.data == "yes",
                time_limit_s=form.time_limit_s.data,
                providers=[p.provider for p in programmes],
                require_verified_checks=form.verified_checks.data == "yes")
        except DomainError as exc:
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"Round {round_.name} has been created.", "success")
            return redirect(url_for(".detail", round_id=round_.id), 303)
    return render_form("rounds/new.html", form)


@bp.get("/<int:round_id>")
def detail(round_id: int):
    """Show a round: settings, its current allocation, runs and the actions available."""
    round_ = get_round_or_404(round_id)
    return render_template(
        "rounds/detail.html", round=round_, learners=services.learners_in_round(round_),
        runs=services.recent_runs(round_), active=services.active_run(round_),
        can_manage=access.officer_manages_round(current_user, round_),
        counts=reports.allocation_counts(round_), pending=services.pending_changes(round_),
        published=services.has_published(round_),
        latest=services.latest_run(round_, succeeded=True), form=EmptyForm(),
        blocked=len(compliance.blocked_offers(round_)))


@bp.get("/<int:round_id>/problem.json")
def problem_json(round_id: int):
    """Download the round's placement-problem/1 file as it stands now."""
    round_ = get_round_or_404(round_id)
    repair = request.args.get("repair") == "1"
    response = jsonify(build_problem(round_, previous=repair))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="round-{round_.id}-{"repair" if repair else "problem"}.json"')
    return response


@bp.post("/<int:round_id>/runs")
def start_run(round_id: int):
    """Build the problem and start the solver in the background; return at once."""
    require_button_post()
    round_ = get_managed_round_or_403(round_id)
    kind = RunKind.REPAIR if request.form.get("kind") == "repair" else RunKind.FULL
    try:
        run = services.start_run(current_user, round_, kind=kind)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".detail", round_id=round_.id), 303)
    dropped = getattr(run, "dropped_locks", [])
    db.session.commit()
    if dropped:
        flash(f"{len(dropped)} lock{'s' if len(dropped) != 1 else ''} no longer hold (the "
              "offer was withdrawn or the learner left the round) and were left out.", "info")
    submit(run.job_id)
    return redirect(url_for(".run", round_id=round_.id, run_id=run.id), 303)


#: What the solver is doing at each level of the objective, in plain words.
LEVELS = {
    "queued": "Waiting to start",
    "starting": "Reading the problem",
    "mandated_placed": "Placing as many mandated learners as possible",
    "placed": "Placing as many learners as possible",
    "moved": "Keeping published placements where they are",
    "rank_cost": "Giving learners choices as high on their lists as possible",
}


def _progress(run: AllocationRun) -> dict:
    progress = run.progress or {}
    elapsed = progress.get("elapsed_s")
    if run.started_at is not None:
        end = run.finished_at or (utcnow() if run.status == JobStatus.RUNNING else None)
        if end is not None:
            elapsed = round((end - run.started_at).total_seconds(), 1)
    level = progress.get("level") or ""
    return {"status": shown_status(run.job), "elapsed": elapsed,
            "level": LEVELS.get(level, level), "objective": progress.get("objective"),
            "bound": progress.get("bound"), "error": shown_error(run.job)}


@bp.get("/<int:round_id>/runs/<int:run_id>")
def run(round_id: int, run_id: int):
    """Show a run: live progress while it solves, then its results."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    report = reports.run_report(run_) if run_.status == JobStatus.SUCCEEDED else None
    before = services.previous_run(run_) if report else None
    return render_template(
        "rounds/run.html", round=round_, run=run_, progress=_progress(run_), report=report,
        comparison=reports.compare_runs(run_, before), before=before,
        can_manage=access.officer_manages_round(current_user, round_))


@bp.get("/<int:round_id>/runs/<int:run_id>/progress.json")
def run_progress(round_id: int, run_id: int):
    """Report a run's status, elapsed time and best objective so far (polled by the page)."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    return jsonify(_progress(run_))


@bp.get("/<int:round_id>/runs/<int:run_id>/<any(problem, result):which>.json")
def run_file(round_id: int, run_id: int, which: str):
    """Download the exact problem a run solved, or the result it produced."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    data = run_.problem if which == "problem" else run_.result
    if data is None:
        abort(404)
    response = jsonify(data)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="round-{round_.id}-run-{run_.id}-{which}.json"')
    return response


@bp.get("/<int:round_id>/runs/<int:run_id>/offers.csv")
def run_offers_csv(round_id: int, run_id: int):
    """Download how many places each offer filled in a run."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    if not run_.result:
        abort(404)
    return csv_response(f"round-{round_.id}-run-{run_.id}-offers.csv",
                        ["offer_id", "employer", "offer", "places", "filled"],
                        ([o["id"], o["employer"], o["title"], o["capacity"], o["filled"]]
                         for o in reports.offer_fill(run_)))


@bp.get("/<int:round_id>/placements")
def placements(round_id: int):
    """List the round's current allocation, with locks and pending changes."""
    round_ = get_round_or_404(round_id)
    search = request.args.get("q", "")[:100]
    page = page_number()
    pagination = db.paginate(services.placements_stmt(round_, search), page=page,
                             per_page=PAGE_SIZE, error_out=False)
    locks = services.locks_for(round_, [p.learner_id for p in pagination.items])
    return render_template("rounds/placements.html", round=round_, pagination=pagination,
                           search=search, locks=locks, form=LockForm(),
                           can_manage=access.officer_manages_round(current_user, round_))


@bp.get("/<int:round_id>/placements.csv")
def placements_csv(round_id: int):
    """Download the round's allocation as CSV (cells made safe for spreadsheets)."""
    round_ = get_round_or_404(round_id)
    return csv_response(f"round-{round_.id}-placements.csv", services.PLACEMENTS_CSV_HEADER,
                        services.placements_csv_rows(round_))


@bp.post("/<int:round_id>/placements/<int:placement_id>/lock")
def lock(round_id: int, placement_id: int):
    """Keep a learner's placement in the next run."""
    form = LockForm()
    if not form.validate_on_submit():
        abort(400)
    round_ = get_managed_round_or_403(round_id)
    placement = db.session.get(Placement, placement_id)
    if placement is None or placement.round_id != round_.id:
        abort(404)
    try:
        services.lock_placement(current_user, round_, placement, form.reason.data or "")
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"{placement.learner.user.name} is locked to their placement.", "success")
    return redirect(request.referrer if _local(request.referrer)
                    else url_for(".placements", round_id=round_.id), 303)


@bp.post("/<int:round_id>/locks/<int:lock_id>/delete")
def unlock(round_id: int, lock_id: int):
    """Remove a lock so the next run may move the learner."""
    require_button_post()
    round_ = get_managed_round_or_403(round_id)
    lock_ = db.session.get(PlacementLock, lock_id)
    if lock_ is None or lock_.round_id != round_.id:
        abort(404)
    name = lock_.learner.user.name
    services.unlock(current_user, round_, lock_)
    db.session.commit()
    flash(f"The lock on {name} has been removed.", "success")
    return redirect(request.referrer if _local(request.referrer)
                    else url_for(".placements", round_id=round_.id), 303)


def _local(url: str | None) -> bool:
    from placements.security import is_safe_next

    if not url:
        return False
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc in ("", request.host) and is_safe_next(parts.path or "/")


@bp.route("/<int:round_id>/override", methods=["GET", "POST"])
def override(round_id: int):
    """Place a learner by hand, warning when the pair breaks eligibility or capacity."""
    round_ = get_managed_round_or_403(round_id)
    form = OverrideForm()
    if request.method == "GET" and request.args.get("student_ref"):
        form.student_ref.data = request.args["student_ref"][:40]
    form.offer_id.choices = choices(services.override_offer_choices(round_))
    warnings: list[str] = []
    if form.validate_on_submit():
        learner = services.find_learner(round_, form.student_ref.data)
        offer = db.session.get(PlacementOffer, form.offer_id.data)
        if learner is None:
            form.student_ref.errors.append("No learner with that student number is in this "
                                           "round")
        elif offer is None:
            form.offer_id.errors.append("Select an offer")
        else:
            try:
                _placement, warnings = services.override_placement(
                    current_user, round_, learner, offer, reason=form.reason.data,
                    confirmed=bool(form.confirm.data))
            except services.OverrideWarning as exc:
                warnings = exc.warnings
                form.confirm.errors.append(exc.message)
            except DomainError as exc:
                show_domain_error(form, exc, "reason")
            else:
                db.session.commit()
                flash(f"{learner.user.name} is placed at {offer.title} and locked there"
                      + (" despite the warnings" if warnings else "") + ".", "success")
                return redirect(url_for(".placements", round_id=round_.id,
                                        q=learner.student_ref), 303)
    return render_form("rounds/override.html", form, round=round_, warnings=warnings)


@bp.post("/<int:round_id>/publish")
def publish(round_id: int):
    """Publish the allocation to learners and employers and e-mail those affected."""
    require_button_post()
    round_ = get_managed_round_or_403(round_id)
    try:
        counts = services.publish_round(current_user, round_)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".detail", round_id=round_.id), 303)
    db.session.commit()
    flash(f"Published: {counts['published']} new placements, {counts['moved']} moved, "
          f"{counts['removed']} withdrawn. {counts['learners_told']} learners and "
          f"{counts['employers_told']} employers have been e-mailed.", "success")
    return redirect(url_for(".detail", round_id=round_.id), 303)


@bp.get("/<int:round_id>/audit")
def audit_trail(round_id: int):
    """List the round's runs, overrides, locks, publications and repairs."""
    round_ = get_round_or_404(round_id)
    page = page_number()
    pagination = db.paginate(reports.audit_stmt(round_), page=page, per_page=PAGE_SIZE,
                             error_out=False)
    return render_template("rounds/audit.html", round=round_, pagination=pagination,
                           actions=reports.ACTIONS, describe=reports.describe)
