"""Form pieces every feature shares: choices, dates, e-mail fields, the button-only form
and the one mapping from a service's DomainError to a form field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import abort
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput
from wtforms import DateField, EmailField, IntegerField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from placements.domain import DomainError


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Turn (value, label) pairs into WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


#: Plain words for the form library's own messages (fields give domain words where they
#: can: see WholeNumberField, UKDateField); nobody should read "Not a valid choice."
LIBRARY_MESSAGES = {
    "Not a valid integer value.": "Enter a whole number",
    "Not a valid decimal value.": "Enter a number",
    "Not a valid float value.": "Enter a number",
    "Not a valid date value.": "Enter a real date",
    "Not a valid datetime value.": "Enter a real date and time",
    "Not a valid choice.": "Select one of the options in the list",
    "'%(value)s' is not a valid choice for this field.": "Select one of the options in the "
                                                         "list",
    "'%(value)s' are not valid choices for this field.": "Select only options in the list",
    "Invalid email address.": "Enter an email address in the correct format, like "
                              "name@example.com",
    "This field is required.": "Enter a value",
    "Invalid input.": "Check what you entered",
}


class _PlainWords:
    """WTForms 'translations' that replace its messages with plain words."""

    def gettext(self, string: str) -> str:
        return LIBRARY_MESSAGES.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class Form(FlaskForm):
    """The base of every form of the service: CSRF (Flask-WTF) and plain-word messages."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> _PlainWords:
            return _PlainWords()


class WholeNumberField(IntegerField):
    """A whole number, with a message in the domain's words when it is not one."""

    def __init__(self, label: str, *, invalid_message: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.invalid_message) from exc


class UKDateField(DateField):
    """A GOV.UK day/month/year date field with a plain-English message for a bad date."""

    def __init__(self, label: str, *, invalid_message: str, **kwargs) -> None:
        from placements.frontend import GovDateInput

        kwargs.setdefault("widget", GovDateInput())
        super().__init__(label, format="%d %m %Y", **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.invalid_message) from exc


class UnusedEmail:
    """Validator: no account uses this e-mail address yet (case-insensitive)."""

    message = "An account with this email address already exists"

    def __call__(self, form, field) -> None:
        import sqlalchemy as sa

        from placements.extensions import db
        from placements.models import User

        if field.data and db.session.scalar(sa.select(User.id).where(
                sa.func.lower(User.email) == field.data.strip().lower())):
            raise StopValidation(self.message)


class EmailAddress:
    """An e-mail address in the correct format (its domain is not looked up, and the
    reserved `.test` domains of demo and test data are accepted)."""

    message = "Enter an email address in the correct format, like name@example.com"

    def __init__(self, message: str | None = None) -> None:
        if message:
            self.message = message

    def __call__(self, form, field) -> None:
        import email_validator

        if not field.data:
            return
        try:
            email_validator.validate_email(field.data, check_deliverability=False,
                                           test_environment=True)
        except email_validator.EmailNotValidError:
            raise ValidationError(self.message) from None


def new_account_email_field(label: str, missing: str) -> EmailField:
    """An e-mail field for a new account: required, well-formed and not already in use."""
    from govuk_frontend_wtf.wtforms_widgets import GovTextInput

    return EmailField(label, widget=GovTextInput(), validators=[
        InputRequired(message=missing),
        EmailAddress(),
        Length(max=254, message="Email address must be 254 characters or fewer"),
        UnusedEmail(),
    ])


class EmptyForm(Form):
    """A button-only POST, which still carries the CSRF token."""

    submit = SubmitField("Continue", widget=GovSubmitInput())


def require_button_post() -> None:
    """Refuse (400) a button-only POST whose CSRF token is missing or wrong."""
    if not EmptyForm().validate_on_submit():
        abort(400)


def show_domain_error(form: Form, exc: DomainError, default: str) -> None:
    """Show a service's DomainError on the form field it names (else on `default`).

    The one mapping from domain errors to form fields: a field the form does not have
    falls back to `default`, and a form without that either shows it above the form.
    """
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        field = getattr(form, default, None)
    if field is None:
        errors = getattr(form, "form_errors", None)
        if errors is None:
            form.form_errors = errors = []
        errors.append(exc.message)
        return
    field.errors = [*field.errors, exc.message]
