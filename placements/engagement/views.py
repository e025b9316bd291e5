"""Engagement pages for officers: the pipeline board, one organisation, prospects."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from placements.domain import DomainError
from placements.domain.access import partner_ids
from placements.domain.reviews import RECOMMENDATIONS
from placements.engagement import services
from placements.engagement.forms import (
    ActivityForm,
    LinkForm,
    ProspectForm,
    StageForm,
)
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.models import (
    ActivityKind,
    Employer,
    EmployerEngagement,
    EngagementStage,
    Role,
)
from placements.navigation import page_number, render_form
from placements.reference import routes
from placements.reviews.services import hosting_records, hosting_summaries
from placements.security import restrict

bp = Blueprint("engagement", __name__, url_prefix="/officer/engagement")

STAGE_COLOURS = {"prospect": "grey", "contacted": "light-blue", "interested": "blue",
                 "pledged": "purple", "hosting": "green", "lapsed": "red"}


restrict(bp, Role.OFFICER)


@bp.context_processor
def _stage_colours() -> dict:
    return {"stage_colours": STAGE_COLOURS}


def _filters() -> tuple[str, str]:
    sector = request.args.get("sector", "")
    area = request.args.get("area", "").strip().upper()
    return (sector if sector in routes() else "", area[:2] if area.isalpha() else "")


@bp.get("/")
def board():
    """Show the organisations by stage (each stage's count and first few, or one stage's
    whole list a page at a time), overdue next actions and conversion by sector."""
    sector, area = _filters()
    stage = next((s for s in EngagementStage if s.value == request.args.get("stage")), None)
    columns = services.board(current_user, sector, area)
    listing = db.paginate(services.stage_records(current_user, stage, sector, area),
                          page=page_number(), per_page=STAGE_PAGE, error_out=False) \
        if stage is not None else None
    shown = listing.items if listing is not None else [
        r for column in columns.values() for r in column.records]
    employer_ids = [r.employer_id for r in shown if r.employer_id is not None]
    return render_template(
        "engagement/board.html", columns=columns, stage=stage, listing=listing,
        hosting=hosting_summaries(employer_ids, providers=partner_ids(current_user.provider_id)),
        overdue=services.overdue_actions(current_user, sector=sector, area=area),
        conversion=services.conversion_by_sector(current_user, sector, area), sector=sector,
        area=area, sectors=routes(), areas=services.areas_in_use(current_user),
        untracked=len(services.untracked_employers(current_user)), form=EmptyForm(),
        today=date.today())


#: Records per page of one stage's list.
STAGE_PAGE = 100


@bp.post("/track-registered")
def track_registered():
    """Start engagement records for registered employers that have none."""
    require_button_post()
    records = services.track_registered_employers(current_user)
    db.session.commit()
    flash(f"{len(records)} registered employer{'' if len(records) == 1 else 's'} added to "
          "the board.", "success")
    return redirect(url_for(".board"), 303)


@bp.route("/prospects/new", methods=["GET", "POST"])
def new_prospect():
    """Add an organisation that has not registered yet."""
    form = ProspectForm()
    if form.validate_on_submit():
        data = services.ProspectData(
            name=form.name.data, sector=form.sector.data,
            postcode_area=form.postcode_area.data or "",
            contact_name=form.contact_name.data or "",
            contact_email=form.contact_email.data or "",
            stage=EngagementStage(form.stage.data))
        try:
            record = services.add_prospect(current_user, data)
        except DomainError as exc:
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"{record.name} is in the pipeline.", "success")
            return redirect(url_for(".detail", record_id=record.id), 303)
    return render_form("engagement/prospect_new.html", form)


def _record_or_404(record_id: int) -> EmployerEngagement:
    record = services.get_record(current_user, record_id)
    if record is None:
        abort(404)
    return record


def _detail(record: EmployerEngagement, *, stage_form=None, activity_form=None,
            link_form=None):
    # Forms not being submitted are built from the record, never from the request.
    stage_form = stage_form or StageForm(formdata=None, stage=record.stage.value,
                                         pledged_places=record.pledged_places)
    activity_form = activity_form or ActivityForm(formdata=None, kind=ActivityKind.CALL.value,
                                                  happened_on=date.today())
    link_form = link_form or (LinkForm(current_user, formdata=None)
                              if record.employer_id is None else None)
    failed = [f for f in (stage_form, activity_form, link_form) if f is not None and f.errors]
    status = 400 if failed else 200
    hosting = (hosting_records([record.employer_id],
                               providers=partner_ids(current_user.provider_id))
               .get(record.employer_id, []) if record.employer_id is not None else [])
    return render_template("engagement/detail.html", record=record, stage_form=stage_form,
                           hosting=hosting, recommendations=RECOMMENDATIONS,
                           activity_form=activity_form, link_form=link_form,
                           error_form=failed[0] if failed else None, form=EmptyForm(),
                           today=date.today()), status


@bp.get("/<int:record_id>")
def detail(record_id: int):
    """Show one organisation: its stage, contacts and activity log."""
    return _detail(_record_or_404(record_id))


@bp.post("/<int:record_id>/stage")
def set_stage(record_id: int):
    """Move an organisation to another stage."""
    record = _record_or_404(record_id)
    form = StageForm()
    if form.validate_on_submit():
        try:
            services.set_stage(current_user, record, EngagementStage(form.stage.data),
                               form.pledged_places.data)
        except DomainError as exc:
            show_domain_error(form, exc, "stage")
        else:
            db.session.commit()
            flash(f"{record.name} is now at stage {record.stage.label.lower()}.", "success")
            return redirect(url_for(".detail", record_id=record.id), 303)
    return _detail(record, stage_form=form)


@bp.post("/<int:record_id>/activities")
def log_activity(record_id: int):
    """Add a call, visit, workshop, roundtable or email to the log."""
    record = _record_or_404(record_id)
    form = ActivityForm()
    if form.validate_on_submit():
        data = services.ActivityData(
            kind=ActivityKind(form.kind.data), happened_on=form.happened_on.data,
            notes=form.notes.data or "", next_action=form.next_action.data or "",
            next_action_due=form.next_action_due.data)
        try:
            services.log_activity(current_user, record, data)
        except DomainError as exc:
            show_domain_error(form, exc, "notes")
        else:
            db.session.commit()
            flash("The activity is in the log.", "success")
            return redirect(url_for(".detail", record_id=record.id), 303)
    return _detail(record, activity_form=form)


@bp.post("/activities/<int:activity_id>/done")
def complete_action(activity_id: int):
    """Mark a next action as done."""
    require_button_post()
    activity = services.get_activity(current_user, activity_id)
    if activity is None:
        abort(404)
    try:
        services.complete_action(current_user, activity)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("The action is marked as done.", "success")
    target = request.form.get("back") == "board"
    return redirect(url_for(".board") if target else
                    url_for(".detail", record_id=activity.engagement_id), 303)


@bp.post("/<int:record_id>/owner")
def take_ownership(record_id: int):
    """Make the signed-in officer the owner of the relationship."""
    require_button_post()
    record = _record_or_404(record_id)
    services.set_owner(current_user, record)
    db.session.commit()
    flash(f"You now look after {record.name}.", "success")
    return redirect(url_for(".detail", record_id=record.id), 303)


@bp.post("/<int:record_id>/link")
def link_employer(record_id: int):
    """Link a prospect to the employer it registered as."""
    record = _record_or_404(record_id)
    form = LinkForm(current_user)
    if form.validate_on_submit():
        employer = db.session.get(Employer, form.employer_id.data)
        try:
            if employer is None:
                raise DomainError("Select the employer", field="employer_id")
            services.link_employer(current_user, record, employer)
        except DomainError as exc:
            form.employer_id.errors.append(exc.message)
        else:
            db.session.commit()
            flash(f"Linked to the registered employer {employer.name}.", "success")
            return redirect(url_for(".detail", record_id=record.id), 303)
    return _detail(record, link_form=form)
