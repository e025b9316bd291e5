"""Forms for signing in, passwords, invitations and employer registration."""

from __future__ import annotations

import sqlalchemy as sa
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from placements.extensions import db
from placements.formkit import EmailAddress, Form
from placements.geo import PostcodeError, locate
from placements.models import Employer
from placements.reference import sector_choices

MIN_PASSWORD = 10


def _password_field(label: str) -> PasswordField:
    return PasswordField(label, widget=GovPasswordInput(), validators=[
        InputRequired(message=f"Enter {label.lower()}"),
        Length(min=MIN_PASSWORD, max=128,
               message=f"{label} must be between {MIN_PASSWORD} and 128 characters"),
    ])


class LoginForm(Form):
    """Sign in with e-mail and password."""

    email = EmailField("Email address", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your email address")])
    password = PasswordField("Password", widget=GovPasswordInput(), validators=[
        InputRequired(message="Enter your password")])
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class SetPasswordForm(Form):
    """Choose a password (from an invitation link)."""

    password = _password_field("New password")
    confirm = PasswordField("Confirm new password", widget=GovPasswordInput(), validators=[
        InputRequired(message="Confirm your new password"),
        EqualTo("password", message="The passwords do not match")])
    submit = SubmitField("Set password", widget=GovSubmitInput())


class ChangePasswordForm(SetPasswordForm):
    """Change a password, proving the current one."""

    current = PasswordField("Current password", widget=GovPasswordInput(), validators=[
        InputRequired(message="Enter your current password")])
    submit = SubmitField("Change password", widget=GovSubmitInput())


class ForgottenPasswordForm(Form):
    """Ask for a password reset link."""

    email = EmailField("Email address", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your email address"),
        EmailAddress(),
        Length(max=254, message="Email address must be 254 characters or fewer")])
    submit = SubmitField("Send me a link", widget=GovSubmitInput())


class EmployerRegistrationForm(Form):
    """An employer creates an account and its organisation."""

    organisation = StringField("Organisation name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your organisation's name"),
        Length(max=200, message="Your organisation's name must be 200 characters or fewer")])
    sector = SelectField("Main sector", widget=GovSelect(), validators=[
        InputRequired(message="Select your main sector")])
    postcode = StringField("Postcode of your main site", widget=GovTextInput(), validators=[
        InputRequired(message="Enter a postcode")])
    name = StringField("Your full name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your full name"),
        Length(max=200, message="Your name must be 200 characters or fewer")])
    # Not checked against existing accounts here: the page must not say whether an address
    # has an account (the service tells the address's owner by e-mail instead).
    email = EmailField("Your work email address", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your email address"),
        EmailAddress(),
        Length(max=254, message="Email address must be 254 characters or fewer")])
    password = _password_field("Password")
    confirm = PasswordField("Confirm password", widget=GovPasswordInput(), validators=[
        InputRequired(message="Confirm your password"),
        EqualTo("password", message="The passwords do not match")])
    submit = SubmitField("Create account", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sector.choices = [SelectChoice("", "Select a sector"), *sector_choices()]

    def validate_organisation(self, field) -> None:
        name = field.data.strip()
        if db.session.scalar(sa.select(Employer.id).where(
                sa.func.lower(Employer.name) == name.lower())):
            raise ValidationError("An organisation with this name is already registered: "
                                  "ask a colleague there to invite you")


    def validate_postcode(self, field) -> None:
        try:
            self.located = locate(field.data, full=True)
        except PostcodeError as exc:
            raise ValidationError(str(exc)) from exc
