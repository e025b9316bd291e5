"""Insight pages for officers: supply and demand, what-if, fairness of a run."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from placements import audit
from placements.csvio import table_response
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import show_domain_error
from placements.insights import calc, services
from placements.insights.forms import WhatIfForm
from placements.models import AllocationRound, Role
from placements.navigation import render_form
from placements.security import role_required

bp = Blueprint("insights", __name__, url_prefix="/officer/insights")

HEAT_CLASSES = {0: "govuk-tag--green", 1: "govuk-tag--yellow", 2: "govuk-tag--orange",
                3: "govuk-tag--red"}


@bp.before_request
@role_required(Role.OFFICER)
def _officers_only() -> None:
    """Every page here is for placement officers only (equality data included)."""


@bp.app_template_filter("heat_class")
def heat_class(cell: calc.SupplyDemandCell | None) -> str:
    """Return the tag colour class of a heat map cell."""
    if cell is None:
        return "govuk-tag--grey"
    return HEAT_CLASSES[calc.heat_level(cell.shortfall, cell.learners)]


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


@bp.get("/supply-demand")
def supply_demand():
    """Show learners needing placements against places offered and reachable."""
    round_ = _round_arg()
    by = _by_arg()
    scope = services.scope_for(current_user, round_)
    result = services.supply_demand(scope, by)
    return render_template("insights/supply_demand.html", result=result, scope=scope,
                           rounds=services.officer_rounds(current_user), by=by,
                           round_=round_)


@bp.get("/supply-demand.xlsx", defaults={"fmt": "xlsx"})
@bp.get("/supply-demand.csv", defaults={"fmt": "csv"})
def supply_demand_csv(fmt: str):
    """Download the supply and demand table as CSV or Excel for LSIP reporting."""
    round_ = _round_arg()
    by = _by_arg()
    result = services.supply_demand(services.scope_for(current_user, round_), by)
    name = f"supply-demand-{'round-' + str(round_.id) if round_ else 'partnership'}-{by}-" \
           f"{date.today().isoformat()}"
    return table_response(fmt, name, services.CSV_HEADER,
                          services.supply_demand_csv_rows(result))


@bp.route("/rounds/<int:round_id>/what-if", methods=["GET", "POST"])
def what_if(round_id: int):
    """Ask how many more mandated learners N extra places in a sector and area would place."""
    round_ = services.round_for_officer(current_user, round_id)
    if round_ is None:
        abort(404)
    form = WhatIfForm(sorted(round_.sectors()))
    answer = None
    if form.validate_on_submit():
        try:
            answer = services.what_if(round_, sector=form.sector.data, area=form.area.data,
                                      places=form.places.data, spread=form.spread.data)
        except DomainError as exc:
            show_domain_error(form, exc, "area")
        else:
            audit.record(current_user, "insights.what_if", round_, round_id=round_.id,
                         sector=answer.sector, area=answer.area, places=answer.places,
                         extra_mandated=answer.extra_mandated)
            db.session.commit()
    return render_form("insights/what_if.html", form, round_=round_, answer=answer,
                       area_label=services.area_label)


@bp.get("/runs/<int:run_id>/fairness")
def fairness(run_id: int):
    """Show placement outcomes by learner group for a run, small numbers suppressed."""
    run = services.run_for_officer(current_user, run_id)
    if run is None or not run.result:
        abort(404)
    return render_template("insights/fairness.html", run=run,
                           tables=services.fairness_report(run),
                           gap=calc.FLAG_GAP_PP, threshold=calc.SUPPRESS_BELOW)
