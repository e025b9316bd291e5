"""Views for signing in and out, passwords, invitations and employer registration."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from placements.auth import services
from placements.auth.forms import (
    ChangePasswordForm,
    EmployerRegistrationForm,
    LoginForm,
    SetPasswordForm,
)
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import show_domain_error
from placements.navigation import home_url, render_form
from placements.security import is_safe_next, limit_sign_in

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _start_session(user) -> None:
    session.clear()
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    """Sign in and go to the page asked for, or the role's home page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.email.errors = [*form.email.errors, "Email address or password is incorrect"]
        else:
            db.session.commit()
            target = request.args.get("next")
            _start_session(user)
            return redirect(target if is_safe_next(target) else home_url(user))
    return render_form("auth/login.html", form)


@bp.post("/logout")
def logout():
    """Sign out, ending this and every other session of the account."""
    if current_user.is_authenticated:
        current_user.rotate_session()
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@limit_sign_in
@login_required
def change_password():
    """Change your password; other sessions are signed out."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.password.data)
        except DomainError as exc:
            show_domain_error(form, exc, "current")
        else:
            db.session.commit()
            _start_session(current_user._get_current_object())
            flash("Your password has been changed.", "success")
            return redirect(home_url(current_user))
    return render_form("auth/change_password.html", form)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limit_sign_in
def accept_invitation(token: str):
    """Set a password from an invitation link (single use, expires)."""
    try:
        invitation = services.find_invitation(token)
    except DomainError as exc:
        return render_template("auth/invitation_invalid.html", message=exc.message), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        user = services.accept_invitation(token, form.password.data)
        db.session.commit()
        _start_session(user)
        flash("Your password is set. Welcome to Placements.", "success")
        return redirect(home_url(user))
    return render_form("auth/invitation.html", form, user=invitation.user)


@bp.route("/register", methods=["GET", "POST"])
@limit_sign_in
def register_employer():
    """Register an employer organisation and its first user account."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = EmployerRegistrationForm()
    if form.validate_on_submit():
        user = services.register_employer(
            organisation=form.organisation.data, sector=form.sector.data,
            site=form.located, name=form.name.data, email=form.email.data,
            password=form.password.data)
        db.session.commit()
        _start_session(user)
        flash("Your organisation is registered. A placement officer will approve it before "
              "your offers are visible to learners.", "success")
        return redirect(home_url(user))
    return render_form("auth/register.html", form)
