"""Administrator forms: providers and officers."""

from __future__ import annotations

import sqlalchemy as sa
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.validators import (
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from placements.extensions import db
from placements.formkit import Form, choices, new_account_email_field
from placements.frontend import GovRadioInput
from placements.models import Partnership, Provider, ProviderKind


class OfficerForm(Form):
    """Invite a placement officer for a provider."""

    name = StringField("Full name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the officer's full name"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    email = new_account_email_field("Email address", "Enter the officer's email address")
    provider = SelectField("Provider", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select a provider")])
    submit = SubmitField("Invite officer", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.provider.choices = choices((p.id, p.name) for p in db.session.scalars(
            sa.select(Provider).order_by(Provider.name)))


    def validate_provider(self, field) -> None:
        if field.data is None or db.session.get(Provider, field.data) is None:
            raise ValidationError("Select a provider")


class ProviderForm(Form):
    """Add a provider, optionally in a regional partnership."""

    name = StringField("Provider name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the provider's name"),
        Length(max=200, message="The provider's name must be 200 characters or fewer")])
    kind = RadioField("Kind of provider", widget=GovRadioInput(),
                      choices=choices((k.value, k.value.replace("-", " ").capitalize())
                                      for k in ProviderKind),
                      validators=[InputRequired(message="Select the kind of provider")])
    ukprn = StringField("UK Provider Reference Number (UKPRN), if known", widget=GovTextInput(),
                        validators=[Optional(), Regexp(
                            r"^1\d{7}$", message="A UKPRN is 8 digits starting with 1")])
    partnership = SelectField("Regional partnership", coerce=int, widget=GovSelect())
    new_partnership = StringField("Or a new partnership's name", widget=GovTextInput(),
                                  validators=[Optional(), Length(
        max=200, message="The partnership's name must be 200 characters or fewer")])
    submit = SubmitField("Add provider", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partnership.choices = choices([(0, "None")] + [
            (p.id, p.name) for p in db.session.scalars(
                sa.select(Partnership).order_by(Partnership.name))])

    def validate_name(self, field) -> None:
        if db.session.scalar(sa.select(Provider.id).where(
                sa.func.lower(Provider.name) == field.data.strip().lower())):
            raise ValidationError("A provider with this name already exists")

    def validate_ukprn(self, field) -> None:
        if field.data and db.session.scalar(sa.select(Provider.id).where(
                Provider.ukprn == field.data)):
            raise ValidationError("A provider with this UKPRN already exists")

    def validate_new_partnership(self, field) -> None:
        name = (field.data or "").strip()
        if name and self.partnership.data:
            raise ValidationError("Choose an existing partnership or name a new one, not both")
        if name and db.session.scalar(sa.select(Partnership.id).where(
                sa.func.lower(Partnership.name) == name.lower())):
            raise ValidationError("A partnership with this name already exists: choose it")
