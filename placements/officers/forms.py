"""Officer forms: adding a learner, a programme; rejecting an employer."""

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
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from placements.extensions import db
from placements.formkit import Form, UKDateField, WholeNumberField, choices, new_account_email_field
from placements.frontend import GovCheckboxesInput, GovRadioInput
from placements.geo import PostcodeError, locate
from placements.models import REQUIREMENTS, Learner, OccupationalStandard, Programme

AGE_BANDS = ["18-20", "21-24", "25-29", "30-39", "40+"]
PRIOR_QUALIFICATIONS = ["A levels", "BTEC / T level", "Access to HE", "Apprenticeship",
                        "Level 4+ qualification", "Other", "None"]
YES_NO_UNKNOWN = [("", "Prefer not to say"), ("yes", "Yes"), ("no", "No")]



def tri_state(value: str | None) -> bool | None:
    """Turn a yes/no/blank radio value into True/False/None."""
    return {"yes": True, "no": False}.get(value or "")


class LearnerForm(Form):
    """Add a learner, who is then invited to set a password."""

    name = StringField("Full name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the learner's full name"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    email = new_account_email_field("Email address", "Enter the learner's email address")
    student_ref = StringField("Student number", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the student number"),
        Length(max=40, message="The student number must be 40 characters or fewer")])
    programme = SelectField("Programme", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select a programme")])
    home_postcode = StringField("Home postcode", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the learner's home postcode")])
    max_travel_km = WholeNumberField("Furthest they can travel, in km",
        invalid_message="Enter the distance in whole kilometres, like 25",
        default=25,
                                 widget=GovTextInput(), validators=[
        InputRequired(message="Enter how far the learner can travel, in km"),
        NumberRange(min=1, max=500, message="Travel distance must be between 1 and 500 km")])
    credentials = SelectMultipleField("Checks and licences held",
                                      choices=choices(REQUIREMENTS.items()),
                                      widget=GovCheckboxesInput(), validators=[Optional()])
    in_work_employer = StringField("Employer, if already in work (upskiller or apprentice)",
                                   widget=GovTextInput(),
                                   validators=[Optional(), Length(
                                       max=200, message="The employer's name must be 200 "
                                                        "characters or fewer")])
    first_in_family_he = RadioField("First in family to go to higher education",
                                    choices=choices(YES_NO_UNKNOWN), default="",
                                    widget=GovRadioInput(), validators=[Optional()])
    age_band = SelectField("Age band",
                           choices=choices([("", "Prefer not to say")]
                                           + [(a, a) for a in AGE_BANDS]),
                           default="", widget=GovSelect(), validators=[Optional()])
    prior_qualification = SelectField("Prior qualification",
                                      choices=choices([("", "Prefer not to say")]
                                                      + [(q, q) for q in PRIOR_QUALIFICATIONS]),
                                      default="", widget=GovSelect(), validators=[Optional()])
    disability_declared = RadioField("Disability declared", choices=choices(YES_NO_UNKNOWN),
                                     default="", widget=GovRadioInput(),
                                     validators=[Optional()])
    submit = SubmitField("Add learner and send invitation", widget=GovSubmitInput())

    def __init__(self, provider_id: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.provider_id = provider_id
        programmes = db.session.scalars(sa.select(Programme).where(
            Programme.provider_id == provider_id).order_by(Programme.title)).all()
        self.programme.choices = choices((p.id, f"{p.title} (level {p.level})")
                                         for p in programmes)


    def validate_student_ref(self, field) -> None:
        if db.session.scalar(sa.select(Learner.id).where(
                Learner.provider_id == self.provider_id,
                Learner.student_ref == field.data.strip())):
            raise ValidationError("A learner with this student number already exists")

    def validate_home_postcode(self, field) -> None:
        try:
            self.located = locate(field.data)
        except PostcodeError as exc:
            raise ValidationError(str(exc)) from exc


class ProgrammeForm(Form):
    """Add or change an HTQ programme of the officer's provider."""

    title = StringField("Programme title", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the programme title"),
        Length(max=200, message="The title must be 200 characters or fewer")])
    code = StringField("Course code", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the course code used in your student record system"),
        Length(max=40, message="The course code must be 40 characters or fewer")])
    standard = SelectField("Occupational standard", coerce=int, widget=GovSelect(),
                           validators=[InputRequired(message="Select the occupational standard")])
    placement_mandated = RadioField("Does the programme mandate a work placement?",
                                    choices=choices([("yes", "Yes"), ("no", "No")]),
                                    widget=GovRadioInput(), validators=[
        InputRequired(message="Say whether the programme mandates a placement")])
    required_placement_hours = WholeNumberField("Required placement hours",
        invalid_message="Enter the required placement hours as a whole number, like 150",
        widget=GovTextInput(),
                                            validators=[Optional(), NumberRange(
        min=1, max=2000, message="Required placement hours must be between 1 and 2000")])
    planned_total_hours = WholeNumberField("Planned total learning hours",
        invalid_message="Enter the planned learning hours as a whole number, like 1200",
        widget=GovTextInput(),
                                       validators=[
        InputRequired(message="Enter the planned total learning hours"),
        NumberRange(min=1, max=10000, message="Planned hours must be between 1 and 10000")])
    work_integration_target_pct = WholeNumberField(
        "Work-integrated target, percent of planned hours",
        invalid_message="Enter the target as a whole percentage, like 20", default=20,
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the work-integrated target"),
                    NumberRange(min=0, max=100, message="The target must be between 0 and 100")])
    start_date = UKDateField("Start date", invalid_message="Enter a real start date",
                             validators=[InputRequired(message="Enter the start date")])
    end_date = UKDateField("End date", invalid_message="Enter a real end date",
                           validators=[InputRequired(message="Enter the end date")])
    submit = SubmitField("Save programme", widget=GovSubmitInput())

    def __init__(self, provider_id: int, *args, programme_id: int | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.provider_id = provider_id
        self.programme_id = programme_id
        standards = db.session.scalars(sa.select(OccupationalStandard).order_by(
            OccupationalStandard.route, OccupationalStandard.title)).all()
        self.standard.choices = choices(
            (s.id, f"{s.route}: {s.reference} {s.title} (level {s.level})") for s in standards)

    def validate_title(self, field) -> None:
        clash = sa.select(Programme.id).where(Programme.provider_id == self.provider_id,
                                              Programme.title == field.data.strip())
        if self.programme_id:
            clash = clash.where(Programme.id != self.programme_id)
        if db.session.scalar(clash):
            raise ValidationError("Your provider already has a programme with this title")

    def validate_required_placement_hours(self, field) -> None:
        if self.placement_mandated.data == "yes" and not field.data:
            raise ValidationError("Enter the required placement hours for a mandated placement")

    def validate_end_date(self, field) -> None:
        if self.start_date.data and field.data and field.data <= self.start_date.data:
            raise ValidationError("The end date must be after the start date")


class RejectEmployerForm(Form):
    """Reject an employer awaiting approval, with a reason e-mailed to its users."""

    reason = TextAreaField(
        "Why are you not approving this employer?", widget=GovTextArea(), validators=[
            InputRequired(message="Enter the reason, in words the employer will read"),
            Length(max=2000, message="The reason must be 2000 characters or fewer")])
    submit = SubmitField("Reject and e-mail the employer", widget=GovSubmitInput())
