"""Views for signing in and out, passwords, e-mailed account links and employer registration.

Every form that takes a password, a token or an address is rate-limited per client address
(`limit_sign_in`); signing in is also limited per account, with a delay that grows with each
failure (`security.account_wait`), shared between workers through the limiter's storage.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from placements.auth import services
from placements.auth.forms import (
    ChangePasswordForm,
    EmployerRegistrationForm,
    ForgottenPasswordForm,
    LoginForm,
    SetPasswordForm,
)
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.models import LinkPurpose
from placements.navigation import home_url, render_form
from placements.security import (
    account_failed,
    account_succeeded,
    account_wait,
    is_safe_next,
    limit_sign_in,
)

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
        wait = account_wait(form.email.data)
        if wait:
            minutes = max(1, round(wait / 60))
            form.email.errors = [*form.email.errors,
                                 "Too many wrong passwords for this account: try again in "
                                 f"{minutes} minute{'s' if minutes != 1 else ''}, or reset "
                                 "your password"]
            return render_form("auth/login.html", form)
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            account_failed(form.email.data)
            db.session.rollback()
            form.email.errors = [*form.email.errors, "Email address or password is incorrect"]
        else:
            account_succeeded(form.email.data)
            db.session.commit()
            target = request.args.get("next")
            _start_session(user)
            return redirect(target if target and is_safe_next(target) else home_url(user))
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
            db.session.rollback()
            show_domain_error(form, exc, "current")
        else:
            db.session.commit()
            _start_session(current_user._get_current_object())
            flash("Your password has been changed.", "success")
            return redirect(home_url(current_user))
    return render_form("auth/change_password.html", form)


def _link_invalid(message: str):
    return render_template("auth/link_invalid.html", message=message), 410


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limit_sign_in
def accept_invitation(token: str):
    """Set a password from an invitation link (single use, expires, superseded by newer)."""
    try:
        invitation = services.find_invitation(token)
    except DomainError as exc:
        return _link_invalid(exc.message)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(token, form.password.data)
        except DomainError as exc:
            db.session.rollback()
            return _link_invalid(exc.message)
        db.session.commit()
        _start_session(user)
        flash("Your password is set. Welcome to Placements.", "success")
        return redirect(home_url(user))
    return render_form("auth/invitation.html", form, user=invitation.user)


@bp.route("/forgotten-password", methods=["GET", "POST"])
@limit_sign_in
def forgotten_password():
    """Ask for a password reset link (the answer is the same for any address)."""
    form = ForgottenPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("auth/check_email.html", reason="reset",
                               email=form.email.data)
    return render_form("auth/forgotten_password.html", form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset_password(token: str):
    """Choose a new password from a reset link; every other session ends."""
    try:
        link = services.find_reset(token)
    except DomainError as exc:
        return _link_invalid(exc.message)
    form = SetPasswordForm()
    form.submit.label.text = "Change password"
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except DomainError as exc:
            db.session.rollback()
            return _link_invalid(exc.message)
        db.session.commit()
        account_succeeded(user.email)
        _start_session(user)
        flash("Your password has been changed.", "success")
        return redirect(home_url(user))
    return render_form("auth/reset_password.html", form, user=link.user)


@bp.route("/register", methods=["GET", "POST"])
@limit_sign_in
def register_employer():
    """Register an employer organisation and its first user account."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = EmployerRegistrationForm()
    if form.validate_on_submit():
        services.register_employer(
            organisation=form.organisation.data, sector=form.sector.data,
            site=form.located, name=form.name.data, email=form.email.data,
            password=form.password.data)
        db.session.commit()
        return render_template("auth/check_email.html", reason="register",
                               email=form.email.data)
    return render_form("auth/register.html", form)


@bp.get("/confirm/<token>")
@limit_sign_in
def confirm_email(token: str):
    """Show the confirmation of a registered address (confirming is the button's POST)."""
    try:
        link = services.find_link(token, LinkPurpose.EMAIL_CONFIRMATION)
    except DomainError as exc:
        return _link_invalid(exc.message)
    return render_template("auth/confirm_email.html", user=link.user, form=EmptyForm())


@bp.post("/confirm/<token>")
@limit_sign_in
def confirm_email_post(token: str):
    """Confirm a registered address: the account becomes active and signs in."""
    require_button_post()
    try:
        user = services.confirm_email(token)
    except DomainError as exc:
        db.session.rollback()
        return _link_invalid(exc.message)
    db.session.commit()
    _start_session(user)
    flash("Your organisation is registered. A placement officer will approve it before "
          "your offers are visible to learners.", "success")
    return redirect(home_url(user))
