"""Employer forms: sites, placement offers, withdrawals, placed learners, colleagues, asking
for approval again."""

from __future__ import annotations

import sqlalchemy as sa
from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from placements.employers.services import EMPLOYER_RESPONSES, WORK_MODES
from placements.extensions import db
from placements.formkit import Form, UKDateField, WholeNumberField, new_account_email_field
from placements.frontend import GovCheckboxesInput, GovDateInput, GovRadioInput
from placements.geo import PostcodeError, locate
from placements.models import (
    CONCERN_LABELS,
    REQUIREMENTS,
    Employer,
    EmployerSite,
    OccupationalStandard,
)
from placements.reference import routes


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class SiteForm(Form):
    """Add or change a place of work; its full postcode is located offline."""

    name = StringField("Site name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter a name for the site, like Head office"),
        Length(max=200, message="The site's name must be 200 characters or fewer")])
    address = TextAreaField("Address", widget=GovTextArea(), validators=[
        Optional(), Length(max=500, message="Address must be 500 characters or fewer")])
    postcode = StringField("Postcode", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the site's postcode")])
    submit = SubmitField("Add site", widget=GovSubmitInput())

    def validate_postcode(self, field) -> None:
        try:
            self.located = locate(field.data, full=True)
        except PostcodeError as exc:
            raise ValidationError(str(exc)) from exc


class OfferForm(Form):
    """Describe a placement offer."""

    site_id = SelectField("Site", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select the site where the placement happens")])
    title = StringField("Title", widget=GovTextInput(), validators=[
        InputRequired(message="Enter a title for the placement"),
        Length(max=200, message="The title must be 200 characters or fewer")])
    description = TextAreaField("Description", widget=GovTextArea(), validators=[
        Optional(), Length(max=5000, message="Description must be 5000 characters or fewer")])
    sector = SelectField("Sector (occupational route)", widget=GovSelect(), validators=[
        InputRequired(message="Select the sector")])
    standard_ids = SelectMultipleField("Occupational standards it suits", coerce=int,
                                       widget=GovCheckboxesInput(), validators=[Optional()])
    capacity = WholeNumberField("Number of places",
        invalid_message="Enter the number of places as a whole number, like 2",
        widget=GovTextInput(), validators=[
        InputRequired(message="Enter the number of places, like 2"),
        NumberRange(min=1, max=500, message="Enter a number of places between 1 and 500")])
    start_date = UKDateField("Start date",
        invalid_message="Enter a real start date, like 1 2 2027",
        widget=GovDateInput(), validators=[
        InputRequired(message="Enter the start date")])
    end_date = UKDateField("End date",
        invalid_message="Enter a real end date, like 28 5 2027",
        widget=GovDateInput(), validators=[
        InputRequired(message="Enter the end date")])
    hours_per_week = WholeNumberField("Hours per week",
        invalid_message="Enter the hours per week as a whole number, like 30",
        widget=GovTextInput(), validators=[
        InputRequired(message="Enter the hours per week, like 30"),
        NumberRange(min=1, max=48, message="Hours per week must be between 1 and 48")])
    requirements = SelectMultipleField("Requirements", choices=_choices(REQUIREMENTS.items()),
                                       widget=GovCheckboxesInput(), validators=[Optional()])
    work_mode = RadioField("Where the work happens", choices=_choices(WORK_MODES.items()),
                           default="on-site", widget=GovRadioInput(), validators=[
        InputRequired(message="Select on site or hybrid")])
    reason = TextAreaField("Reason for changing the number of places", widget=GovTextArea(),
                           validators=[Optional(), Length(
                               max=2000, message="The reason must be 2000 characters or fewer")])
    submit = SubmitField("Save offer", widget=GovSubmitInput())

    #: How each field is shown (GOV.UK macro parameters); the page shows the fields in the
    #: order they are declared, so a new field appears without touching the template.
    PARAMS: dict[str, dict] = {
        "title": {"hint": {"text": "For example, Junior software developer"}},
        "description": {"rows": 5, "hint": {"text": "What the learner will do, who "
                                                    "supervises them, what they will learn"}},
        "sector": {"hint": {"text": "Only learners on programmes in this sector see the offer"}},
        "capacity": {"classes": "govuk-input--width-4", "inputmode": "numeric",
                     "hint": {"text": "How many learners you can take"}},
        "start_date": {"fieldset": {"legend": {"text": "Start date",
                                               "classes": "govuk-fieldset__legend--s"}},
                       "hint": {"text": "For example, 1 2 2027"}},
        "end_date": {"fieldset": {"legend": {"text": "End date",
                                             "classes": "govuk-fieldset__legend--s"}},
                     "hint": {"text": "For example, 28 5 2027"}},
        "hours_per_week": {"classes": "govuk-input--width-4", "inputmode": "numeric",
                           "suffix": {"text": "hours"}},
        "work_mode": {"fieldset": {"legend": {"text": "Where the work happens",
                                              "classes": "govuk-fieldset__legend--s"}}},
        "requirements": {"fieldset": {"legend": {"text": "Requirements",
                                                 "classes": "govuk-fieldset__legend--s"}},
                         "hint": {"text": "Select every check the learner must already hold"}},
        "standard_ids": {"fieldset": {"legend": {"text": "Occupational standards",
                                                 "classes": "govuk-fieldset__legend--s"}},
                         "hint": {"text": "Choose standards of the offer's sector only"},
                         "classes": "govuk-checkboxes--small"},
    }
    #: Fields the page lays out itself.
    LAID_OUT = ("csrf_token", "submit", "reason", "standard_ids")

    def __init__(self, employer: Employer, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = getattr(kwargs.get("obj"), "site_id", None)
        sites = db.session.scalars(sa.select(EmployerSite).where(
            EmployerSite.employer_id == employer.id,
            sa.or_(EmployerSite.archived_at.is_(None), EmployerSite.id == current))
            .order_by(EmployerSite.name)).all()
        self.site_id.choices = [SelectChoice(s.id, f"{s.name}, {s.postcode}") for s in sites]
        self.sector.choices = [SelectChoice("", "Select a sector"),
                               *(SelectChoice(r, r) for r in routes())]
        standards = db.session.scalars(sa.select(OccupationalStandard).order_by(
            OccupationalStandard.route, OccupationalStandard.title)).all()
        self.standard_ids.choices = [SelectChoice(s.id, f"{s.route}: {s.title} ({s.reference}, "
                                                        f"level {s.level})") for s in standards]

    def validate_end_date(self, field) -> None:
        if self.start_date.data and field.data and field.data <= self.start_date.data:
            raise ValidationError("The end date must be after the start date")


class WithdrawOfferForm(Form):
    """Withdraw an offer, saying why."""

    reason = TextAreaField("Why are you withdrawing this offer?", widget=GovTextArea(),
                           validators=[InputRequired(message="Give a reason for withdrawing "
                                                             "the offer"),
                                       Length(max=2000, message="The reason must be 2000 "
                                                                "characters or fewer")])
    submit = SubmitField("Withdraw offer", widget=GovSubmitInput())


class PlacementResponseForm(Form):
    """Accept a placed learner or raise a concern about them."""

    response = RadioField("Your response", choices=_choices(EMPLOYER_RESPONSES.items()),
                          widget=GovRadioInput(), validators=[
        InputRequired(message="Choose whether to accept the learner or raise a concern")])
    category = RadioField("If you raise a concern, what is it about?",
                          choices=_choices((c.value, label) for c, label in
                                           CONCERN_LABELS.items()),
                          widget=GovRadioInput(), validate_choice=False)
    note = TextAreaField("Note for the placement officer", widget=GovTextArea(),
                         validators=[Optional(), Length(
                             max=2000, message="The note must be 2000 characters or fewer")])
    submit = SubmitField("Send response", widget=GovSubmitInput())


class ColleagueForm(Form):
    """Invite a colleague into the organisation."""

    name = StringField("Full name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter your colleague's full name"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    email = new_account_email_field("Email address", "Enter your colleague's email address")
    submit = SubmitField("Send invitation", widget=GovSubmitInput())



class AskAgainForm(Form):
    """A rejected employer asks for approval again, saying what it has changed."""

    note = TextAreaField("What have you changed?", widget=GovTextArea(), validators=[
        InputRequired(message="Tell the placement officers what you have changed"),
        Length(max=2000, message="What you have changed must be 2000 characters or fewer")])
    submit = SubmitField("Ask for approval again", widget=GovSubmitInput())
