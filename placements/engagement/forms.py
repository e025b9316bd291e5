"""Engagement forms: prospects, stages, activities, links and CSV uploads."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    EmailField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from placements.engagement.services import untracked_employers
from placements.formkit import EmailAddress, Form, UKDateField, WholeNumberField, choices
from placements.frontend import GovDateInput, GovRadioInput
from placements.models import ActivityKind, EngagementStage, User
from placements.reference import sector_choices

STAGE_CHOICES = [(s.value, s.label) for s in EngagementStage]


class ProspectForm(Form):
    """Add an organisation that has not registered yet."""

    name = StringField("Organisation name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the organisation's name"),
        Length(max=200, message="The organisation's name must be 200 characters or fewer")])
    sector = SelectField("Sector (occupational route)", widget=GovSelect(), validators=[
        InputRequired(message="Select the sector")])
    postcode_area = StringField("Postcode area", widget=GovTextInput(), validators=[
        Optional(), Length(max=10, message="Enter a postcode area, like M or SK")])
    contact_name = StringField("Contact name", widget=GovTextInput(), validators=[
        Optional(), Length(max=200, message="The contact's name must be 200 characters or "
                                            "fewer")])
    contact_email = EmailField("Contact email address", widget=GovTextInput(), validators=[
        Optional(), EmailAddress(),
        Length(max=254, message="The email address must be 254 characters or fewer")])
    stage = SelectField("Stage", widget=GovSelect(), default="prospect",
                        validators=[InputRequired(message="Select a stage")])
    submit = SubmitField("Add to pipeline", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sector.choices = sector_choices()
        self.stage.choices = choices(STAGE_CHOICES)


class StageForm(Form):
    """Move an organisation to another stage."""

    stage = SelectField("Stage", widget=GovSelect(),
                        validators=[InputRequired(message="Select a stage")])
    pledged_places = WholeNumberField("Places pledged",
        invalid_message="Enter the places pledged as a whole number, like 3",
        widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=0, max=500,
                                message="Places pledged must be between 0 and 500")])
    submit = SubmitField("Update stage", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stage.choices = choices(STAGE_CHOICES)


class ActivityForm(Form):
    """Log a call, visit, workshop, roundtable or email, and the next action."""

    kind = SelectField("What happened", widget=GovRadioInput(), validators=[
        InputRequired(message="Select what sort of contact it was")])
    happened_on = UKDateField("Date",
        invalid_message="Enter a real date, like 3 11 2026",
        widget=GovDateInput(), validators=[
        InputRequired(message="Enter the date, like 27 3 2027")])
    notes = TextAreaField("Notes", widget=GovTextArea(), validators=[
        Optional(), Length(max=5000, message="Notes must be 5000 characters or fewer")])
    next_action = StringField("Next action", widget=GovTextInput(), validators=[
        Optional(), Length(max=300, message="The next action must be 300 characters or fewer")])
    next_action_due = UKDateField("Next action due",
        invalid_message="Enter a real due date, like 17 11 2026",
        widget=GovDateInput(),
                                validators=[Optional()])
    submit = SubmitField("Add to the log", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices((k.value, k.label) for k in ActivityKind)


class LinkForm(Form):
    """Link a prospect to the employer it registered as."""

    employer_id = SelectField("Registered employer", coerce=int, widget=GovSelect(),
                              validators=[InputRequired(message="Select the employer")])
    submit = SubmitField("Link", widget=GovSubmitInput())

    def __init__(self, officer: User, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.employer_id.choices = choices((e.id, e.name)
                                           for e in untracked_employers(officer))
