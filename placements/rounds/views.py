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
from placements.csvio import csv_response, table_response
from placements.domain import DomainError, access
from placements.domain import rounds as round_rules
from placements.extensions import db
from placements.formkit import EmptyForm, choices, require_button_post, show_domain_error
from placements.jobs import shown_error, shown_status, submit
from placements.models import (
    AllocationRound,
    AllocationRun,
    Job,
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
from placements.rounds import audit_words, publication, reports, services
from placements.rounds.forms import (
    CloseChoicesForm,
    LockForm,
    OverrideForm,
    PublishForm,
    RoundForm,
)
from placements.rounds.problem import build_problem
from placements.security import restrict
from placements.timeutil import UK_TIME, today_uk

bp = Blueprint("rounds", __name__, url_prefix="/officer/rounds")

PAGE_SIZE = 50


restrict(bp, Role.OFFICER)


bp.add_app_template_filter(shown_status, "job_status")
bp.add_app_template_filter(shown_error, "job_error")


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
        deadline = _deadline(form.preference_deadline.data)
        try:
            round_ = services.create_round(
                current_user, name=form.name.data, programmes=programmes,
                preference_deadline=deadline, max_preferences=form.max_preferences.data,
                rank_cost=RankCost(form.rank_cost.data), fallback=form.fallback.data == "yes",
                time_limit_s=form.time_limit_s.data,
                providers=[p.provider for p in programmes],
                require_verified_checks=form.verified_checks.data == "yes",
                ksb_coverage=form.ksb_coverage.data == "yes")  # not given: no
        except DomainError as exc:
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"Round {round_.name} has been created.", "success")
            return redirect(url_for(".detail", round_id=round_.id), 303)
    return render_form("rounds/new.html", form)


@bp.get("/<int:round_id>")
def detail(round_id: int):
    """Show a round: settings, where it stands, its allocation, runs and what can be done."""
    round_ = get_round_or_404(round_id)
    can_manage = access.officer_manages_round(current_user, round_)
    return render_template(
        "rounds/detail.html", round=round_, learners=services.learners_in_round(round_),
        runs=services.recent_runs(round_), active=services.active_run(round_),
        can_manage=can_manage, phase=services.round_phase(round_),
        takes_choices=round_rules.takes_choices(round_.status, round_.preference_deadline,
                                                utcnow()),
        counts=reports.allocation_counts(round_), pending=services.pending_changes(round_),
        published=services.has_published(round_), again=services.to_place_again(round_),
        blockers=publication.quick_blockers(round_) if can_manage else [],
        publishing_job=services.publication_job(round_), summarise=publication_summary,
        latest=services.latest_run(round_, succeeded=True), form=EmptyForm(),
        blocked=compliance.count_blocked_offers(round_))


@bp.route("/<int:round_id>/edit", methods=["GET", "POST"])
def edit(round_id: int):
    """Change a round's settings (those that decided a published allocation are fixed)."""
    round_ = get_managed_round_or_403(round_id)
    form = RoundForm()
    form.submit.label.text = "Save changes"
    form.programmes.choices = choices(services.programme_choices(current_user))
    if request.method == "GET":
        form.name.data = round_.name
        form.programmes.data = [p.id for p in round_.programmes]
        form.preference_deadline.data = today_uk(round_.preference_deadline)
        form.max_preferences.data = round_.max_preferences
        form.rank_cost.data = str(round_.rank_cost)
        form.fallback.data = "yes" if round_.fallback else "no"
        form.verified_checks.data = "yes" if round_.require_verified_checks else "no"
        form.time_limit_s.data = round_.time_limit_s
        form.ksb_coverage.data = "yes" if round_.ksb_coverage else "no"
    if form.validate_on_submit():
        programmes = services.programmes_by_id(current_user, form.programmes.data)
        deadline = _deadline(form.preference_deadline.data)
        if today_uk(deadline) == today_uk(round_.preference_deadline):
            deadline = round_.preference_deadline  # the same day: keep the exact time
        try:
            changed = services.update_round(
                current_user, round_, name=form.name.data, programmes=programmes,
                preference_deadline=deadline, max_preferences=form.max_preferences.data,
                rank_cost=RankCost(form.rank_cost.data), fallback=form.fallback.data == "yes",
                time_limit_s=form.time_limit_s.data,
                require_verified_checks=None if form.verified_checks.data not in ("yes", "no")
                else form.verified_checks.data == "yes",
                ksb_coverage=(form.ksb_coverage.data == "yes" if form.ksb_coverage.raw_data
                              else None))  # not given: as it was
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash("The round's settings have been saved." if changed
                  else "Nothing was changed.", "success" if changed else "info")
            return redirect(url_for(".detail", round_id=round_.id), 303)
    return render_form("rounds/edit.html", form, round=round_)


def _deadline(day) -> datetime:
    """The end of a UK day, as the deadline for choices."""
    return datetime.combine(day, time(23, 59), tzinfo=UK_TIME).astimezone(UTC)


@bp.route("/<int:round_id>/archive", methods=["GET", "POST"])
def archive(round_id: int):
    """Archive a round after saying what that does; it stays readable."""
    round_ = get_managed_round_or_403(round_id)
    plan = services.archive_plan(round_)
    form = EmptyForm()
    form.submit.label.text = "Archive round"
    if form.validate_on_submit():
        try:
            services.archive_round(current_user, round_)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"{round_.name} has been archived.", "success")
            return redirect(url_for(".detail", round_id=round_.id), 303)
    return render_template("rounds/archive.html", round=round_, plan=plan, form=form)


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
    "ksb_covered": "Covering as many of learners' outstanding KSBs as possible",
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
    """Show a run: live progress while it solves, then its results and, learner by learner,
    what it changes (filterable, with the same counts as publishing)."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    report = reports.run_report(run_) if run_.status == JobStatus.SUCCEEDED else None
    before = services.previous_run(run_) if report else None
    kind = request.args.get("change", "")
    if kind not in {str(c) for c in reports.CHANGES}:
        kind = ""
    page = page_number()
    changes = reports.run_changes(run_, before, kind=kind or None, page=page,
                                  per_page=CHANGES_PAGE) if report else None
    pages = max(1, -(-changes.total // CHANGES_PAGE)) if changes else 1
    if changes and page > pages:
        page = pages
        changes = reports.run_changes(run_, before, kind=kind or None, page=page,
                                      per_page=CHANGES_PAGE)
    shown = changes.rows if changes else []
    return render_template(
        "rounds/run.html", round=round_, run=run_, progress=_progress(run_), report=report,
        comparison=reports.compare_runs(run_, before), before=before, changes=changes,
        kind=kind, shown=shown, page=page, pages=pages,
        kinds=reports.CHANGES,
        can_manage=access.officer_manages_round(current_user, round_))


CHANGES_PAGE = 100


@bp.get("/<int:round_id>/runs/<int:run_id>/changes.csv")
def run_changes_csv(round_id: int, run_id: int):
    """Download what a run changes, learner by learner."""
    round_ = get_round_or_404(round_id)
    run_ = get_run_or_404(round_, run_id)
    if run_.status != JobStatus.SUCCEEDED:
        abort(404)
    return csv_response(f"round-{round_.id}-run-{run_.id}-changes.csv",
                        reports.CHANGES_CSV_HEADER,
                        reports.changes_csv_rows(run_, services.previous_run(run_)))


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
                             per_page=PAGE_SIZE, error_out=False, count=False)
    pagination.total = services.placements_total(round_, search)
    locks = services.locks_for(round_, [p.learner_id for p in pagination.items])
    return render_template("rounds/placements.html", round=round_, pagination=pagination,
                           search=search, locks=locks, form=LockForm(),
                           can_manage=access.officer_manages_round(current_user, round_))


@bp.get("/<int:round_id>/placements.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/<int:round_id>/placements.csv", defaults={"fmt": "csv"})
def placements_csv(round_id: int, fmt: str):
    """Download the round's allocation as CSV or Excel (cells made safe for spreadsheets)."""
    round_ = get_round_or_404(round_id)
    return table_response(fmt, f"round-{round_.id}-placements",
                          services.PLACEMENTS_CSV_HEADER, services.placements_csv_rows(round_))


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
    """Place a learner by hand: find the learner, search the offers (distance, places left
    and what each would break shown), then confirm any warnings."""
    round_ = get_managed_round_or_403(round_id)
    form = OverrideForm()
    ref = (request.values.get("student_ref") or "").strip()[:40]
    search = request.args.get("q", "")[:100]
    form.offer_id.choices = [(i, str(i)) for i in sorted(services.override_offer_ids(round_))]
    if request.method == "GET":
        form.student_ref.data = ref
    learner = services.find_learner(round_, ref) if ref else None
    warnings: list[str] = []
    if form.validate_on_submit():
        offer = db.session.get(PlacementOffer, form.offer_id.data)
        if learner is None:
            form.student_ref.errors.append("No learner with that student number is in this "
                                           "round")
        elif offer is None:
            form.offer_id.errors.append("Select the offer")
        else:
            try:
                _placement, warnings = services.override_placement(
                    current_user, round_, learner, offer, reason=form.reason.data,
                    confirmed=bool(form.confirm.data))
            except services.OverrideWarning as exc:
                db.session.rollback()
                warnings = exc.warnings
                form.confirm.errors.append(exc.message)
            except DomainError as exc:
                db.session.rollback()
                show_domain_error(form, exc, "reason")
            else:
                db.session.commit()
                flash(f"{learner.user.name} is placed at {offer.title} and locked there"
                      + (" despite the warnings" if warnings else "") + ".", "success")
                return redirect(url_for(".placements", round_id=round_.id,
                                        q=learner.student_ref), 303)
    candidates, total = services.override_candidates(round_, learner, search) \
        if learner else ([], 0)
    chosen = form.offer_id.data if request.method == "POST" else None
    if chosen and learner and all(c.offer.id != chosen for c in candidates):
        extra = [c for c in services.override_candidates(round_, learner, limit=10**6)[0]
                 if c.offer.id == chosen]
        candidates = extra + candidates
    status = 400 if form.errors or (ref and learner is None) else 200
    return render_template("rounds/override.html", form=form, round=round_, learner=learner,
                           ref=ref, search=search, candidates=candidates, total=total,
                           chosen=chosen, warnings=warnings), status


@bp.get("/<int:round_id>/publish")
def publish_confirm(round_id: int):
    """Show exactly what publishing would do and whom it would e-mail, before it is done."""
    round_ = get_managed_round_or_403(round_id)
    plan = publication.publication_plan(round_)
    form = PublishForm(seen=round_.publications, digest=plan.digest)
    return render_template("rounds/publish.html", round=round_, plan=plan, form=form,
                           close_form=CloseChoicesForm())


@bp.get("/<int:round_id>/publication.json")
def publication_progress(round_id: int):
    """Report the round's latest publication job (polled by the round page)."""
    round_ = get_round_or_404(round_id)
    job = services.publication_job(round_)
    if job is None:
        return jsonify({"status": "none", "message": ""})
    return jsonify({"status": shown_status(job),
                    "message": (job.progress or {}).get("message", "")})


@bp.get("/<int:round_id>/publish.csv")
def publish_csv(round_id: int):
    """Download everyone publishing now would e-mail, and what each is told."""
    round_ = get_managed_round_or_403(round_id)
    plan = publication.publication_plan(round_, shown=0)
    rows = []
    for learners, employers in publication.all_news(plan):
        rows += [["learner", n.learner.user.name, n.learner.student_ref, n.notice.to,
                  n.summary, n.notice.subject] for n in learners]
        rows += [["employer", e.employer.name, "", n.to,
                  "; ".join(line[2:] for line in e.lines), n.subject]
                 for e in employers for n in e.notices]
    return csv_response(f"round-{round_.id}-publication-{plan.number}.csv",
                        ["who", "name", "student_ref", "email", "what_changes", "subject"], rows)


@bp.post("/<int:round_id>/publish")
def publish(round_id: int):
    """Publish the allocation the officer confirmed (in the background), and e-mail those
    affected."""
    round_ = get_managed_round_or_403(round_id)
    form = PublishForm()
    if not form.validate_on_submit():
        flash("Check what publishing does before you publish.", "error")
        return redirect(url_for(".publish_confirm", round_id=round_.id), 303)
    try:
        job = publication.request_publication(current_user, round_, seen=form.seen.data,
                                              digest=form.digest.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".publish_confirm", round_id=round_.id), 303)
    db.session.commit()
    job_id = job.id
    submit(job_id)
    db.session.expire_all()
    done = db.session.get(Job, job_id)
    if done is not None and done.status == JobStatus.SUCCEEDED:
        flash(publication_summary(done.result or {}), "success")
    elif done is not None and done.status == JobStatus.FAILED:
        flash(shown_error(done) or "The publication failed: nothing was published.", "error")
    else:
        flash("Publishing: the e-mails are being written. This page says when it is done.",
              "info")
    return redirect(url_for(".detail", round_id=round_.id), 303)


def publication_summary(counts: dict[str, int]) -> str:
    """One sentence on what a publication did."""
    def n(count: int, one: str, many: str) -> str:
        return f"{count} {one if count == 1 else many}"

    parts = [n(counts["published"], "new placement", "new placements"),
             n(counts["moved"], "move", "moves"),
             n(counts["removed"], "placement withdrawn", "placements withdrawn")]
    if counts.get("unplaced"):
        parts.append(n(counts["unplaced"], "learner told they were not placed",
                       "learners told they were not placed"))
    return (f"Published: {', '.join(parts)}. "
            f"{n(counts['learners_told'], 'learner', 'learners')} and "
            f"{n(counts['employers_told'], 'employer', 'employers')} have been e-mailed.")


@bp.route("/<int:round_id>/close-choices", methods=["GET", "POST"])
def close_choices(round_id: int):
    """Close choices before the deadline, with a reason every learner is e-mailed."""
    round_ = get_managed_round_or_403(round_id)
    form = CloseChoicesForm()
    if form.validate_on_submit():
        try:
            told = publication.close_choices_early(current_user, round_, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"Choices are closed. {told} learner{'s' if told != 1 else ''} "
                  f"{'have' if told != 1 else 'has'} been e-mailed why.", "success")
            return redirect(url_for(".detail", round_id=round_.id), 303)
    return render_form("rounds/close_choices.html", form, round=round_,
                       learners=services.learners_in_round(round_))


@bp.post("/<int:round_id>/reopen-choices")
def reopen_choices(round_id: int):
    """Take choices again until the deadline (before anything is published)."""
    require_button_post()
    round_ = get_managed_round_or_403(round_id)
    try:
        told = publication.reopen_choices(current_user, round_)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"Choices are open again. {told} learner{'s' if told != 1 else ''} "
              f"{'have' if told != 1 else 'has'} been e-mailed.", "success")
    return redirect(url_for(".detail", round_id=round_.id), 303)


@bp.get("/<int:round_id>/audit")
def audit_trail(round_id: int):
    """List the round's runs, overrides, locks, publications and repairs."""
    round_ = get_round_or_404(round_id)
    page = page_number()
    pagination = db.paginate(reports.audit_stmt(round_), page=page, per_page=PAGE_SIZE,
                             error_out=False)
    return render_template("rounds/audit.html", round=round_, pagination=pagination,
                           actions=audit_words.ACTIONS,
                           sentences=audit_words.sentences(round_, pagination.items))
