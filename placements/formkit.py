"""Small helpers shared by the FlaskForm classes."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import DateField, EmailField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, StopValidation


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Turn (value, label) pairs into WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


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


def new_account_email_field(label: str, missing: str) -> EmailField:
    """An e-mail field for a new account: required, well-formed and not already in use."""
    from govuk_frontend_wtf.wtforms_widgets import GovTextInput

    return EmailField(label, widget=GovTextInput(), validators=[
        InputRequired(message=missing),
        Email(message="Enter an email address in the correct format, like name@example.com"),
        Length(max=254, message="Email address must be 254 characters or fewer"),
        UnusedEmail(),
    ])
