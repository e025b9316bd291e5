"""Hours pages, one blueprint per role under /hours: learners log (`hours.learner`),
employers verify (`hours.employer`), officers follow the 80/20 norm (`hours.officer`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from placements.csvio import table_response
from placements.domain import DomainError, access
from placements.domain.ksb import KsbDecision
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.hours import calc, services
from placements.hours.forms import RejectForm, learner_hours_form, officer_hours_form
from placements.ksb import services as ksb_services
from placements.ksb.forms import EvidenceForm
from placements.models import HoursEntry, HoursStatus, Learner, Programme, Role
from placements.navigation import page_number, render_form
from placements.security import restrict

bp = Blueprint("hours", __name__, url_prefix="/hours")
learner_bp = Blueprint("learner", __name__)
employer_bp = Blueprint("employer", __name__, url_prefix="/verify")
officer_bp = Blueprint("officer", __name__, url_prefix="/officer")

PAGE_SIZE = 50
STATUS_FILTERS = {"at-risk": calc.AT_RISK, "on-track": calc.ON_TRACK, "met": calc.MET}
STATUS_COLOURS = {calc.Status.AT_RISK: "red", calc.Status.ON_TRACK: "blue",
                  calc.Status.MET: "green"}
ENTRY_COLOURS = {HoursStatus.PENDING: "yellow", HoursStatus.VERIFIED: "green",
                 HoursStatus.REJECTED: "red"}


@bp.app_template_filter("hours")
def _hours_filter(quarter_hours: int | None) -> str:
    return calc.format_hours(quarter_hours)


@bp.app_template_filter("pct")
def _pct_filter(value: float | None) -> str:
    return calc.format_pct(value)


@bp.context_processor
def _colours() -> dict[str, Any]:
    return {"status_colours": STATUS_COLOURS, "entry_colours": ENTRY_COLOURS,
            "STATUS_CODES": calc.STATUS_CODES}


restrict(learner_bp, Role.LEARNER)
restrict(employer_bp, Role.EMPLOYER)
restrict(officer_bp, Role.OFFICER)


def _entry_or_404(entry_id: int) -> HoursEntry:
    entry = db.session.get(HoursEntry, entry_id)
    if entry is None:
        abort(404)
    return entry


def _verifiable_or_404(entry_id: int) -> HoursEntry:
    """An entry the signed-in employer or officer may decide on, or 404."""
    entry = _entry_or_404(entry_id)
    if not access.may_verify_hours(current_user, entry):
        abort(404)
    return entry


# --- learners -------------------------------------------------------------------------------

@learner_bp.route("/", methods=["GET", "POST"])
def log():
    """Show the learner's hours and status, and log new work-integrated hours."""
    learner = current_user.learner
    if learner is None:
        abort(404)
    placements = services.loggable_placements(learner)
    form = learner_hours_form(placements)
    ksb_choices = ksb_services.evidence_choices(learner)
    ksb_form = EvidenceForm(ksb_choices, prefix="ksb", meta={"csrf": False})
    valid = form.validate_on_submit()
    if request.method == "POST" and ksb_choices and not ksb_form.validate():
        valid = False
    if valid:
        try:
            entry = services.log_hours(current_user, form.entry_data())
            if ksb_choices:
                ksb_services.save_evidence(current_user, entry, ksb_form.ksbs.data or [],
                                           ksb_form.reflection.data or "")
        except DomainError as exc:
            db.session.rollback()
            if exc.field in ("ksbs", "reflection"):
                show_domain_error(ksb_form, exc, "ksbs")
            else:
                show_domain_error(form, exc, "entry_date")
        else:
            db.session.commit()
            flash(f"{calc.format_hours(entry.quarter_hours)} hours on "
                  f"{entry.entry_date:%d/%m/%Y} saved. They count once verified.", "success")
            return redirect(url_for(".log"), 303)
    page, status = render_form(
        "hours/learner_log.html", form, learner=learner, ksb_form=ksb_form,
        ksb_choices=ksb_choices, summary=services.learner_hours(learner),
        entries=services.learner_entries(learner), placements=placements,
        withdraw_form=EmptyForm(), outside=services.outside_placement_dates)
    return page, 400 if ksb_form.errors else status


@learner_bp.post("/entries/<int:entry_id>/withdraw")
def withdraw(entry_id: int):
    """Withdraw one of the learner's own pending or rejected entries."""
    require_button_post()
    entry = _entry_or_404(entry_id)
    learner = current_user.learner
    if learner is None or entry.learner_id != learner.id:
        abort(404)
    try:
        services.withdraw_entry(current_user, entry)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".log"), 303)
    db.session.commit()
    flash("The entry has been withdrawn.", "success")
    return redirect(url_for(".log"), 303)


# --- deciding on hours (employers and officers) ---------------------------------------------

def _ksb_decision() -> KsbDecision | None:
    """The KSBs a verifier ticked with the hours, when the form showed them (else None)."""
    raw = request.form.get("ksb_version")
    if raw is None:
        return None
    ids = request.form.getlist("ksb")
    if not raw.isdigit() or len(raw) > 9 or not all(i.isdigit() and len(i) < 19 for i in ids):
        abort(400)
    return KsbDecision(frozenset(int(i) for i in ids), int(raw))


def _verify(entry_id: int, back: str):
    require_button_post()
    entry = _verifiable_or_404(entry_id)
    decision = _ksb_decision()
    try:
        services.verify_entry(current_user, entry, decision)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back, 303)
    db.session.commit()
    flash(f"{calc.format_hours(entry.quarter_hours)} hours of {entry.learner.user.name} on "
          f"{entry.entry_date:%d/%m/%Y} verified.", "success")
    return redirect(back, 303)


def _reject(entry_id: int, back: str):
    entry = _verifiable_or_404(entry_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            services.reject_entry(current_user, entry, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"Hours of {entry.learner.user.name} on {entry.entry_date:%d/%m/%Y} "
                  f"rejected.", "success")
            return redirect(back, 303)
    return render_form("hours/reject.html", form, entry=entry, back=back)


# --- employers ------------------------------------------------------------------------------

@employer_bp.get("/")
def pending():
    """List placement hours waiting for the employer's verification."""
    return render_template("hours/employer_verify.html",
                           pending=services.pending_for_employer(current_user),
                           decided=services.decided_by_employer(current_user),
                           form=EmptyForm(), outside=services.outside_placement_dates)


@employer_bp.post("/entries/<int:entry_id>/verify")
def verify(entry_id: int):
    """Verify a learner's pending placement hours."""
    return _verify(entry_id, url_for(".pending"))


@employer_bp.route("/entries/<int:entry_id>/reject", methods=["GET", "POST"])
def reject(entry_id: int):
    """Reject a learner's pending placement hours with a reason."""
    return _reject(entry_id, url_for(".pending"))


# --- officers -------------------------------------------------------------------------------

def _programme_or_404(programme_id: int) -> Programme:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not access.officer_sees_programme(current_user, programme):
        abort(404)
    return programme


def _learner_or_404(learner_id: int) -> Learner:
    learner = db.session.get(Learner, learner_id)
    if learner is None or not access.officer_sees_learner(current_user, learner):
        abort(404)
    return learner


def _officer_back(entry: HoursEntry) -> str:
    if request.values.get("next") == "attention":
        return url_for(".attention")
    return url_for(".learner", learner_id=entry.learner_id)


@officer_bp.post("/entries/<int:entry_id>/verify")
def officer_verify(entry_id: int):
    """Verify a learner's pending hours (entries nobody else answers)."""
    return _verify(entry_id, _officer_back(_verifiable_or_404(entry_id)))


@officer_bp.route("/entries/<int:entry_id>/reject", methods=["GET", "POST"])
def officer_reject(entry_id: int):
    """Reject a learner's pending hours with a reason."""
    return _reject(entry_id, _officer_back(_verifiable_or_404(entry_id)))


def _chart_data(board: services.Board) -> dict[str, Any]:
    months = board.cumulative_shares()
    return {
        "dist_labels": [label for label, _ in board.distribution()],
        "dist_counts": [count for _, count in board.distribution()],
        "month_labels": [m.strftime("%b %Y") for m, _ in months],
        "month_shares": [round(s * 100, 1) if s is not None else None for _, s in months],
        "target": (board.programmes[0].work_integration_target_pct
                   if len(board.programmes) == 1 else None),
    }


@officer_bp.get("/")
def overview():
    """Show the provider's hours: every programme's standing, distribution and trend."""
    programmes = services.provider_programmes(current_user)
    board = services.board(programmes)
    per_programme = [{"programme": p, "learners": sum(board.per_programme[p.id].values()),
                      "at_risk": board.per_programme[p.id][calc.AT_RISK],
                      "met": board.per_programme[p.id][calc.MET]} for p in programmes]
    return render_template("hours/officer_overview.html", board=board,
                           per_programme=per_programme, charts=_chart_data(board))


@officer_bp.get("/programmes/<int:programme_id>")
def programme(programme_id: int):
    """Show one programme: learners' shares, who is at risk, totals by kind, trend."""
    programme_ = _programme_or_404(programme_id)
    board = services.board([programme_])
    status_filter = request.args.get("status", "")
    if status_filter not in STATUS_FILTERS:
        status_filter = ""
    code = STATUS_FILTERS.get(status_filter)
    shown = board.learner_count if code is None else board.status_count(code)
    pages = max(1, -(-shown // PAGE_SIZE))
    page = min(page_number(), pages)
    rows = services.learner_rows(programme_, board.today, status=code, limit=PAGE_SIZE,
                                 offset=(page - 1) * PAGE_SIZE)
    learners = services.learners_by_id(r.learner_id for r in rows)
    return render_template("hours/programme.html", programme=programme_, board=board,
                           rows=[(learners[r.learner_id], r) for r in rows], page=page,
                           pages=pages, shown=shown, status_filter=status_filter,
                           charts=_chart_data(board), terms=services.terms_of(programme_))


EXPORT_HEADER = ["student_ref", "name", "programme_code", "programme", "classroom_hours",
                 "work_integrated_hours", "placement_hours", "pending_hours",
                 "work_integrated_share_pct", "target_pct", "required_placement_hours",
                 "status", "scheduled_placement_hours", "needs_attention_because"]


def _export_rows(programmes: list[Programme]) -> Iterator[list[Any]]:
    today = services.today_uk()
    for programme_ in programmes:
        rows = services.learner_rows(programme_, today)
        learners = services.learners_by_id(r.learner_id for r in rows)
        waiting = services.waiting_counts(learners)
        assessed = services.assess_learners(list(learners.values()), today)
        changes = services.pending_changes(learners, today)
        for r in rows:
            learner_ = learners[r.learner_id]
            assessment, terms = assessed[r.learner_id]
            why = calc.reasons(assessment, terms, waiting=waiting.get(r.learner_id, 0),
                               waiting_days=services.STALE_PENDING_DAYS,
                               changes=changes.get(r.learner_id, []))
            yield [learner_.student_ref, learner_.user.name, programme_.code, programme_.title,
                   calc.format_hours(r.classroom), calc.format_hours(r.work_integrated),
                   calc.format_hours(r.placement), calc.format_hours(r.pending),
                   "" if r.share is None else f"{r.share * 100:.1f}",
                   programme_.work_integration_target_pct,
                   programme_.required_placement_hours if programme_.placement_mandated
                   else "", r.status.value, calc.format_hours(r.scheduled),
                   "; ".join(reason.for_officer() for reason in why)]


@officer_bp.get("/programmes/<int:programme_id>/hours.xlsx", defaults={"fmt": "xlsx"})
@officer_bp.get("/programmes/<int:programme_id>/hours.csv", defaults={"fmt": "csv"})
def programme_export(programme_id: int, fmt: str):
    """Download every learner's hours and status on one programme as CSV or Excel."""
    programme_ = _programme_or_404(programme_id)
    return table_response(fmt, f"hours-{programme_.code or programme_.id}", EXPORT_HEADER,
                          list(_export_rows([programme_])))


@officer_bp.get("/hours.xlsx", defaults={"fmt": "xlsx"})
@officer_bp.get("/hours.csv", defaults={"fmt": "csv"})
def export(fmt: str):
    """Download every learner's hours and status across the provider as CSV or Excel."""
    return table_response(fmt, "hours-all-programmes", EXPORT_HEADER,
                          list(_export_rows(services.provider_programmes(current_user))))


@officer_bp.route("/learners/<int:learner_id>", methods=["GET", "POST"])
def learner(learner_id: int):
    """Show one learner's hours and status; record hours for them."""
    learner_ = _learner_or_404(learner_id)
    placements = services.loggable_placements(learner_)
    form = officer_hours_form(placements)
    if form.validate_on_submit():
        try:
            entry = services.record_hours(current_user, learner_, form.entry_data())
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "entry_date")
        else:
            db.session.commit()
            flash(f"{calc.format_hours(entry.quarter_hours)} {entry.kind.label.lower()} "
                  f"hours on {entry.entry_date:%d/%m/%Y} recorded.", "success")
            return redirect(url_for(".learner", learner_id=learner_.id), 303)
    return render_form("hours/learner_detail.html", form, learner=learner_,
                       summary=services.learner_hours(learner_),
                       entries=services.learner_entries(learner_), action_form=EmptyForm(),
                       outside=services.outside_placement_dates)


@officer_bp.get("/attention")
def attention():
    """List learners needing attention with the reasons why, hours waiting too long for
    verification, and hours outside their placement's dates."""
    return render_template("hours/attention.html",
                           attention=services.needs_attention(current_user, page=page_number()),
                           stale_days=services.STALE_PENDING_DAYS, form=EmptyForm())


bp.register_blueprint(learner_bp)
bp.register_blueprint(employer_bp)
bp.register_blueprint(officer_bp)


@bp.cli.command("rebuild-totals")
def rebuild_totals_command() -> None:
    """Recompute the hours running totals from the entries (after bulk loads or repairs)."""
    import click

    learners, months = services.rebuild_totals()
    db.session.commit()
    click.echo(f"Hours totals rebuilt: {learners} learners, {months} programme-months.")
