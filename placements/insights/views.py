"""Insight pages for officers: supply and demand, what-if, fairness of a run."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from placements.csvio import table_response
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.insights import calc, services
from placements.insights.forms import WhatIfForm
from placements.jobs import submit
from placements.models import AllocationRound, InsightSolve, Role
from placements.navigation import render_form
from placements.security import restrict

bp = Blueprint("insights", __name__, url_prefix="/officer/insights")

HEAT_CLASSES = {0: "govuk-tag--green", 1: "govuk-tag--yellow", 2: "govuk-tag--orange",
                3: "govuk-tag--red"}


restrict(bp, Role.OFFICER)


@bp.app_template_filter("heat_class")
def heat_class(cell: calc.SupplyDemandCell | None) -> str:
    """Return the tag colour class of a heat map cell: its mandated learners left unplaced."""
    if cell is None:
        return "govuk-tag--grey"
    return HEAT_CLASSES[calc.heat_level(cell.mandated_unplaced, cell.mandated)]


def _round_arg() -> AllocationRound | None:
    """Return the round named by ?round=, 404 when it is not one of the officer's."""
    raw = request.args.get("round", "")
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    round_ = services.round_for_officer(current_user, int(raw))
    if round_ is None:
        abort(404)
    return round_


def _by_arg() -> str:
    by = request.args.get("by", "area")
    return by if by in ("area", "region") else "area"


@bp.get("/")
def index():
    """Show what insight is available: supply and demand, what-if per round, fairness."""
    return render_template("insights/index.html", rounds=services.officer_rounds(current_user),
                           runs=services.officer_runs(current_user))


def _round_or_404(round_id: int) -> AllocationRound:
    round_ = services.round_for_officer(current_user, round_id)
    if round_ is None:
        abort(404)
    return round_


def _solve_or_404(round_: AllocationRound, solve_id: int) -> InsightSolve:
    solve = services.solve_in_round(round_, solve_id)
    if solve is None:
        abort(404)
    return solve


@bp.get("/supply-demand")
def supply_demand():
    """Show learners against places: for a round, from its allocation (the shortfall is the
    mandated learners it leaves unplaced); across the partnership, without a shortfall."""
    round_ = _round_arg()
    by = _by_arg()
    scope = services.scope_for(current_user, round_)
    source = changes = baseline = None
    if round_ is None:
        result = services.supply_demand(scope, by)
    else:
        source = services.latest_source(round_)
        baseline = services.active_baseline(round_)
        result = services.allocation_supply_demand(source, by) if source else None
        changes = services.changes_since(source) if source else None
    return render_template(
        "insights/supply_demand.html", result=result, scope=scope, source=source,
        changes=changes, baseline=baseline,
        baseline_progress=services.solve_progress(baseline) if baseline else None,
        rounds=services.officer_rounds(current_user), by=by, round_=round_, form=EmptyForm())


@bp.get("/supply-demand.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/supply-demand.csv", defaults={"fmt": "csv"})
def supply_demand_csv(fmt: str):
    """Download the supply and demand table as CSV or Excel for LSIP reporting (as the page
    shows it)."""
    round_ = _round_arg()
    by = _by_arg()
    if round_ is None:
        result = services.supply_demand(services.scope_for(current_user, None), by)
    else:
        source = services.latest_source(round_)
        if source is None:
            abort(404)
        result = services.allocation_supply_demand(source, by)
    name = f"supply-demand-{'round-' + str(round_.id) if round_ else 'partnership'}-{by}-" \
           f"{date.today().isoformat()}"
    return table_response(fmt, name, services.CSV_HEADER,
                          services.supply_demand_csv_rows(result))


def _back(round_: AllocationRound, anchor: str = "") -> str:
    if request.form.get("next") == "supply-demand":
        return url_for(".supply_demand", round=round_.id, by=_by_form()) + anchor
    return url_for(".what_if", round_id=round_.id) + anchor


def _by_form() -> str:
    by = request.form.get("by", "area")
    return by if by in ("area", "region") else "area"


@bp.post("/rounds/<int:round_id>/baseline")
def start_baseline(round_id: int):
    """Work out the round's allocation as it stands, in the background (changes nothing)."""
    require_button_post()
    round_ = _round_or_404(round_id)
    try:
        solve = services.start_baseline(current_user, round_)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_back(round_), 303)
    db.session.commit()
    submit(solve.job_id)
    flash("The allocation as it stands is being worked out. This page shows it when it is "
          "ready.", "info")
    return redirect(_back(round_), 303)


def _ask(round_: AllocationRound, form: WhatIfForm) -> InsightSolve:
    """Queue the question; when another took the same free slot at the same moment, try the
    next one (each try in a fresh transaction)."""
    for _ in range(int(current_app.config["INSIGHTS_SOLVES_AT_ONCE"])):
        try:
            return services.ask_what_if(current_user, round_, sector=form.sector.data,
                                        area=form.area.data, places=form.places.data,
                                        spread=form.spread.data)
        except services.SlotTaken:
            db.session.rollback()
            round_ = _round_or_404(round_.id)
    return services.ask_what_if(current_user, round_, sector=form.sector.data,
                                area=form.area.data, places=form.places.data,
                                spread=form.spread.data)


@bp.route("/rounds/<int:round_id>/what-if", methods=["GET", "POST"])
def what_if(round_id: int):
    """Ask what extra places of a sector in an area would do (each question a background
    solve), and compare the answers side by side with the round's allocation."""
    round_ = _round_or_404(round_id)
    form = WhatIfForm(sorted(round_.sectors()))
    if form.validate_on_submit():
        try:
            solve = _ask(round_, form)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "area")
        else:
            db.session.commit()
            submit(solve.job_id)
            return redirect(url_for(".what_if", round_id=round_.id, scenario=solve.id)
                            + "#scenarios", 303)
    source = services.latest_source(round_)
    board = services.scenario_board(round_, source)
    chosen = None
    raw = request.args.get("scenario", "")
    shown = board.current + board.earlier
    if raw.isdigit():
        chosen = next((sc for sc in shown if sc.solve.id == int(raw)), None)
    if chosen is None and board.current:
        chosen = board.current[-1]
    return render_form(
        "insights/what_if.html", form, round_=round_, source=source, board=board,
        chosen=chosen, helped=services.helped_learners(chosen) if chosen else [],
        changes=services.changes_since(source) if source else None,
        baseline=services.active_baseline(round_), area_label=services.area_label,
        action_form=EmptyForm())


@bp.post("/rounds/<int:round_id>/solves/<int:solve_id>/cancel")
def cancel_solve(round_id: int, solve_id: int):
    """Cancel a question (or a baseline) being worked out."""
    require_button_post()
    round_ = _round_or_404(round_id)
    solve = _solve_or_404(round_, solve_id)
    try:
        outcome = services.cancel_solve(current_user, solve)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_back(round_), 303)
    db.session.commit()
    flash("Cancelled." if outcome == "cancelled" else
          "Stopping: it will stop at its next check.", "info")
    return redirect(_back(round_), 303)


@bp.get("/rounds/<int:round_id>/solves/<int:solve_id>/progress.json")
def solve_progress(round_id: int, solve_id: int):
    """Report a solve's status, elapsed time and stage (polled by the page)."""
    round_ = _round_or_404(round_id)
    return jsonify(services.solve_progress(_solve_or_404(round_, solve_id)))


@bp.get("/runs/<int:run_id>/fairness")
def fairness(run_id: int):
    """Show placement outcomes by learner group for a run, small numbers suppressed."""
    run = services.run_for_officer(current_user, run_id)
    if run is None or not services.has_result(run):
        abort(404)
    return render_template("insights/fairness.html", run=run,
                           tables=services.fairness_report(run),
                           recorded_at=services.groups_recorded_at(run),
                           gap=calc.FLAG_GAP_PP, threshold=calc.SUPPRESS_BELOW)
