"""Administrator pages: providers, their officers, inviting an officer."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from placements.admin import services
from placements.admin.forms import OfficerForm, ProviderForm
from placements.extensions import db
from placements.models import ProviderKind, Role
from placements.navigation import render_form
from placements.security import restrict

bp = Blueprint("admin", __name__, url_prefix="/admin")


restrict(bp, Role.ADMIN)


@bp.get("/")
def dashboard():
    """Show the number of accounts of each role."""
    return render_template("admin/dashboard.html", counts=services.accounts_by_role())


@bp.get("/providers")
def providers():
    """List providers with their officers."""
    return render_template("admin/providers.html", providers=services.providers(),
                           officers=services.officers())


@bp.route("/providers/new", methods=["GET", "POST"])
def new_provider():
    """Add a provider, optionally creating or joining a regional partnership."""
    form = ProviderForm()
    if form.validate_on_submit():
        provider = services.create_provider(
            current_user, name=form.name.data, kind=ProviderKind(form.kind.data),
            ukprn=form.ukprn.data, partnership_id=form.partnership.data or None,
            new_partnership=form.new_partnership.data)
        db.session.commit()
        flash(f"{provider.name} has been added.", "success")
        return redirect(url_for(".providers"), 303)
    return render_form("admin/provider_new.html", form)


@bp.route("/officers/new", methods=["GET", "POST"])
def new_officer():
    """Invite a placement officer for a provider."""
    form = OfficerForm()
    if form.validate_on_submit():
        officer = services.invite_officer(current_user, name=form.name.data,
                                          email=form.email.data,
                                          provider_id=form.provider.data)
        db.session.commit()
        flash(f"{officer.name} has been invited.", "success")
        return redirect(url_for(".providers"), 303)
    return render_form("admin/officer_new.html", form)
