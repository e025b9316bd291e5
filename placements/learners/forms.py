"""Learner forms: profile, offer filters, ranked choices, answering a placement."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import (
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from placements.formkit import Form, WholeNumberField
from placements.frontend import GovCheckboxesInput
from placements.geo import PostcodeError, locate
from placements.models import REQUIREMENTS


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class ProfileForm(Form):
    """What a learner tells us about where they live and what they hold."""

    home_postcode = StringField("Home postcode", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your home postcode")])
    max_travel_km = WholeNumberField("Furthest you can travel to a placement",
        invalid_message="Enter the distance in whole kilometres, like 25",
        widget=GovTextInput(),
                                 validators=[
        InputRequired(message="Enter how far you can travel, in km, like 20"),
        NumberRange(min=1, max=500, message="Travel distance must be between 1 and 500 km")])
    credentials = SelectMultipleField("Checks and licences you hold",
                                      choices=_choices(REQUIREMENTS.items()),
                                      widget=GovCheckboxesInput(), validators=[Optional()])
    access_needs = TextAreaField("Access needs (optional)", widget=GovTextArea(), validators=[
        Optional(), Length(max=2000, message="Access needs must be 2000 characters or fewer")])
    in_work_employer = StringField("Your employer, if you are already in work (optional)",
                                   widget=GovTextInput(),
                                   validators=[Optional(), Length(
                                       max=200, message="Your employer's name must be 200 "
                                                        "characters or fewer")])
    submit = SubmitField("Save profile", widget=GovSubmitInput())

    def validate_home_postcode(self, field) -> None:
        try:
            self.located = locate(field.data)
        except PostcodeError as exc:
            raise ValidationError(str(exc)) from exc


class OfferFilterForm(Form):
    """Narrow the offer list (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    max_km = WholeNumberField("Within (km)",
        invalid_message="Enter the distance in whole kilometres, like 10",
        widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=1, max=1000, message="Distance must be between 1 and "
                                                         "1000 km")])
    min_hours = WholeNumberField("At least (hours per week)",
        invalid_message="Enter the hours per week as a whole number, like 20",
        widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=1, max=48, message="Hours must be between 1 and 48")])
    max_hours = WholeNumberField("At most (hours per week)",
        invalid_message="Enter the hours per week as a whole number, like 35",
        widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=1, max=48, message="Hours must be between 1 and 48")])
    eligible = SelectMultipleField("Requirements", choices=[
        SelectChoice("eligible", "Only offers whose requirements I meet")],
        widget=GovCheckboxesInput(), validators=[Optional()])
    exclude = SelectMultipleField("Leave out offers that need", choices=_choices(
        REQUIREMENTS.items()), widget=GovCheckboxesInput(), validators=[Optional()])
    submit = SubmitField("Apply filters", widget=GovSubmitInput())


class ChoicesForm(Form):
    """The ranked-list form: CSRF plus a save button; the list fields are read by the view."""

    submit = SubmitField("Save my choices", widget=GovSubmitInput())


class DeclineForm(Form):
    """Decline a placement, saying why."""

    reason = TextAreaField("Why are you declining this placement?", widget=GovTextArea(),
                           validators=[InputRequired(message="Tell us why you are declining "
                                                             "the placement"),
                                       Length(max=2000, message="Your reason must be 2000 "
                                                                "characters or fewer")])
    submit = SubmitField("Decline placement", widget=GovSubmitInput())
