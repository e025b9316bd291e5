"""Employer portal pages: dashboard, sites, offers, placed learners, colleagues."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from placements.domain import DomainError
from placements.domain.placements import places_held
from placements.employers import services
from placements.employers.forms import (
    AskAgainForm,
    ColleagueForm,
    OfferForm,
    PlacementResponseForm,
    SiteForm,
    WithdrawOfferForm,
)
from placements.extensions import db
from placements.formkit import EmptyForm, show_domain_error
from placements.models import Employer, EmployerSite, PlacementOffer, Role
from placements.navigation import render_form
from placements.security import restrict

bp = Blueprint("employers", __name__, url_prefix="/employer")


restrict(bp, Role.EMPLOYER)


def current_employer() -> Employer:
    """Return the signed-in user's organisation (every page works on its own data only)."""
    employer = current_user.employer
    if employer is None:
        abort(404)
    return employer


def own_offer_or_404(offer_id: int) -> PlacementOffer:
    """Return one of the organisation's offers, or 404 (never another employer's)."""
    offer = services.get_own_offer(current_employer(), offer_id)
    if offer is None:
        abort(404)
    return offer



@bp.get("/")
def dashboard():
    """Show approval status, offers, places filled per round and placed learners."""
    employer = current_employer()
    return render_template("employers/dashboard.html", employer=employer,
                           offers=services.own_offers(employer),
                           fills=services.fill_by_round(employer),
                           placements=services.placed_learners(employer))


@bp.route("/approval", methods=["GET", "POST"])
def approval():
    """Where the organisation stands with the placement officers; a rejected organisation
    reads why and asks again, saying what it has changed."""
    employer = current_employer()
    form = AskAgainForm()
    if form.validate_on_submit():
        try:
            services.ask_for_approval_again(current_user, employer, form.note.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "note")
        else:
            db.session.commit()
            flash("You have asked for approval again. A placement officer will look at your "
                  "organisation and e-mail you their decision.", "success")
            return redirect(url_for(".approval"), 303)
    return render_form("employers/approval.html", form, employer=employer)


# --- Sites ---------------------------------------------------------------------------------


@bp.get("/sites")
def sites():
    """List the organisation's sites."""
    employer = current_employer()
    return render_template("employers/sites.html", employer=employer,
                           sites=services.own_sites(employer))


@bp.route("/sites/new", methods=["GET", "POST"])
def site_new():
    """Add a site, located offline from its postcode."""
    employer = current_employer()
    form = SiteForm()
    if form.validate_on_submit():
        try:
            site = services.add_site(current_user, employer, name=form.name.data,
                                     address=form.address.data or "", located=form.located)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"{site.name} ({site.postcode}) has been added.", "success")
            return redirect(url_for(".sites"), 303)
    return render_form("employers/site_new.html", form)


def own_site_or_404(employer, site_id: int):
    site = db.session.get(EmployerSite, site_id)
    if site is None or site.employer_id != employer.id:
        abort(404)
    return site


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
def site_edit(site_id: int):
    """Change a site's name, address or postcode (a move asks officers for a repair)."""
    employer = current_employer()
    site = own_site_or_404(employer, site_id)
    form = SiteForm(obj=site)
    form.submit.label.text = "Save changes"
    if form.validate_on_submit():
        try:
            flagged = services.update_site(current_user, employer, site, name=form.name.data,
                                           address=form.address.data or "",
                                           located=form.located)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(f"{site.name} has been saved." + (
                " Learners are placed at this site: their placement officers have been asked "
                "to check that it is still within their reach." if flagged else ""), "success")
            return redirect(url_for(".sites"), 303)
    return render_form("employers/site_edit.html", form, site=site,
                       placed=services.placed_at_site(site))


@bp.route("/sites/<int:site_id>/archive", methods=["GET", "POST"])
def site_archive(site_id: int):
    """Stop using a site (only when no offer there is open and nobody is placed there)."""
    employer = current_employer()
    site = own_site_or_404(employer, site_id)
    form = EmptyForm()
    form.submit.label.text = "Archive site"
    refusal = services.site_archive_refusal(site)
    if form.validate_on_submit():
        try:
            services.archive_site(current_user, employer, site)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"{site.name} has been archived.", "success")
            return redirect(url_for(".sites"), 303)
    return render_template("employers/site_archive.html", site=site, form=form,
                           refusal=refusal)


# --- Offers --------------------------------------------------------------------------------


def _offer_data(form: OfferForm) -> services.OfferData:
    return services.OfferData.from_values(
        {name: form[name].data for name in services.OfferData.names()})


@bp.get("/offers")
def offers():
    """List the organisation's offers."""
    employer = current_employer()
    return render_template("employers/offers.html", employer=employer,
                           offers=services.own_offers(employer))


@bp.route("/offers/new", methods=["GET", "POST"])
def offer_new():
    """Add a placement offer at one of the organisation's sites."""
    employer = current_employer()
    if not employer.sites:
        flash("Add a site before you add an offer: an offer happens at one of your sites.",
              "info")
        return redirect(url_for(".site_new"), 303)
    form = OfferForm(employer)
    del form.reason
    if not form.is_submitted():
        form.sector.data = employer.sector
    if form.validate_on_submit():
        try:
            offer = services.create_offer(current_user, employer, _offer_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(f"“{offer.title}” has been added.", "success")
            return redirect(url_for(".offer_detail", offer_id=offer.id), 303)
    return render_form("employers/offer_form.html", form, employer=employer, offer=None)


@bp.get("/offers/<int:offer_id>")
def offer_detail(offer_id: int):
    """Show one of the organisation's offers and the history of its capacity."""
    offer = own_offer_or_404(offer_id)
    return render_template("employers/offer_detail.html", offer=offer,
                           summary=services.offer_summary(offer),
                           changes=services.offer_changes(offer),
                           held=places_held(offer.id))


@bp.route("/offers/<int:offer_id>/edit", methods=["GET", "POST"])
def offer_edit(offer_id: int):
    """Change an offer; fewer places need a reason and may call for a repair run."""
    employer = current_employer()
    offer = own_offer_or_404(offer_id)
    if not offer.is_open:
        flash("This offer has been withdrawn and can no longer be changed.", "info")
        return redirect(url_for(".offer_detail", offer_id=offer.id), 303)
    form = OfferForm(employer, obj=offer)
    if not form.is_submitted():
        form.standard_ids.data = [s.id for s in offer.standards]
    if form.validate_on_submit():
        try:
            change = services.update_offer(current_user, employer, offer, _offer_data(form),
                                           reason=form.reason.data or "")
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            message = f"“{offer.title}” has been updated."
            if change is not None and change.rounds_flagged:
                message += (" Learners are already placed here, so the placement officers "
                            "have been told to re-allocate them.")
            flash(message, "success")
            return redirect(url_for(".offer_detail", offer_id=offer.id), 303)
    return render_form("employers/offer_form.html", form, employer=employer, offer=offer,
                       held=places_held(offer.id))


@bp.route("/offers/<int:offer_id>/withdraw", methods=["GET", "POST"])
def offer_withdraw(offer_id: int):
    """Withdraw an offer with a reason (placed learners are re-allocated by officers)."""
    employer = current_employer()
    offer = own_offer_or_404(offer_id)
    if not offer.is_open:
        flash("This offer has already been withdrawn.", "info")
        return redirect(url_for(".offer_detail", offer_id=offer.id), 303)
    form = WithdrawOfferForm()
    if form.validate_on_submit():
        try:
            services.withdraw_offer(current_user, employer, offer, form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            flash(f"“{offer.title}” has been withdrawn.", "success")
            return redirect(url_for(".offer_detail", offer_id=offer.id), 303)
    return render_form("employers/offer_withdraw.html", form, offer=offer,
                       held=places_held(offer.id))


# --- Placed learners -----------------------------------------------------------------------


@bp.route("/placements/<int:placement_id>", methods=["GET", "POST"])
def placement_respond(placement_id: int):
    """Accept a placed learner or raise a concern (only once the round is published)."""
    employer = current_employer()
    placement = services.get_visible_placement(employer, placement_id)
    if placement is None:
        abort(404)
    form = PlacementResponseForm()
    if not form.is_submitted() and placement.employer_response in ("accepted", "concern"):
        form.response.data = placement.employer_response
        form.note.data = placement.employer_note
    if form.validate_on_submit():
        try:
            services.respond_to_placement(current_user, employer, placement,
                                          form.response.data, form.note.data or "",
                                          form.category.data or "")
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "response")
        else:
            db.session.commit()
            flash("Your concern has been sent to the placement officers, who have been "
                  "e-mailed about it." if form.response.data == "concern" else
                  f"You have accepted {placement.learner.user.name}.", "success")
            return redirect(url_for(".dashboard"), 303)
    return render_form("employers/placement.html", form, placement=placement)


# --- Colleagues ----------------------------------------------------------------------------


@bp.route("/colleagues", methods=["GET", "POST"])
def colleagues():
    """List the organisation's users and invite a colleague."""
    employer = current_employer()
    form = ColleagueForm()
    if form.validate_on_submit():
        try:
            user = services.invite_colleague(current_user, employer, name=form.name.data,
                                             email=form.email.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "email")
        else:
            db.session.commit()
            flash(f"An invitation has been sent to {user.email}.", "success")
            return redirect(url_for(".colleagues"), 303)
    return render_form("employers/colleagues.html", form, employer=employer,
                       users=services.colleagues(employer))
