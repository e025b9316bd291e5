"""Forms of the API key pages."""

from __future__ import annotations

import sqlalchemy as sa
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import InputRequired, Length

from placements.api.keys import EXPIRY_DAYS
from placements.extensions import db
from placements.formkit import Form, choices
from placements.frontend import GovCheckboxesInput, GovRadioInput
from placements.models import SCOPE_LABELS, Provider


class KeyForm(Form):
    """Create an API key."""

    name = StringField("What is the key for?", widget=GovTextInput(), validators=[
        InputRequired(message="Enter what the key is for"),
        Length(max=100, message="What the key is for must be 100 characters or fewer")],
        description="For example, the student record system's nightly sync. You will see "
                    "this name in the list of keys.")
    scopes = SelectMultipleField(
        "What may the key do?", widget=GovCheckboxesInput(),
        choices=choices((s.value, f"{label} ({s.value})") for s, label in SCOPE_LABELS.items()),
        validators=[InputRequired(message="Choose at least one thing the key may do")],
        description="Give a key only what its system needs.")
    days = RadioField("When does it expire?", widget=GovRadioInput(), coerce=int,
                      choices=choices((d, f"In {d} days") for d in EXPIRY_DAYS),
                      validators=[InputRequired(message="Choose when the key expires")])
    submit = SubmitField("Create key", widget=GovSubmitInput())


class AdminKeyForm(KeyForm):
    """Create an API key for a provider (administrators)."""

    provider = SelectField("Provider", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select the provider")])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.provider.choices = choices((p.id, p.name) for p in db.session.scalars(
            sa.select(Provider).order_by(Provider.name)))
