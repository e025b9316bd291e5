"""Round forms: create a round, override a placement, lock with a reason."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from placements.formkit import Form, UKDateField, WholeNumberField
from placements.frontend import GovCheckboxesInput, GovCheckboxInput, GovDateInput, GovRadioInput

RANK_COSTS = [SelectChoice("squared", "Squared: strongly avoid low choices (a 3rd choice "
                                       "costs 9)"),
              SelectChoice("linear", "Linear: a 3rd choice costs 3")]
YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


class RoundForm(Form):
    """Set up an allocation round."""

    name = StringField("Name of the round", widget=GovTextInput(), validators=[
        InputRequired(message="Enter a name for the round, like Spring 2027 placements"),
        Length(max=200, message="Name must be 200 characters or fewer")])
    programmes = SelectMultipleField(
        "Programmes in the round", coerce=int, widget=GovCheckboxesInput(),
        description="Programmes of other providers in your partnership make a pooled round: "
                    "their learners share the same employers' places fairly.",
        validators=[InputRequired(message="Select at least one programme")])
    preference_deadline = UKDateField("Deadline for learners' choices",
        invalid_message="Enter a real deadline, like 15 1 2027",
                                    widget=GovDateInput(), validators=[
        InputRequired(message="Enter the deadline for learners' choices")])
    max_preferences = WholeNumberField("How many choices each learner can list (K)",
        invalid_message="Enter how many choices each learner can list as a whole number, like 5",
        default=5,
                                   widget=GovTextInput(), validators=[
        InputRequired(message="Enter how many choices each learner can list"),
        NumberRange(min=1, max=50, message="Choices must be between 1 and 50")])
    rank_cost = RadioField("How to weigh lower choices", choices=RANK_COSTS,
                           default="squared", widget=GovRadioInput(), validators=[
        InputRequired(message="Select how to weigh lower choices")])
    fallback = RadioField("Place mandated learners at an offer they did not list, rather "
                          "than leave them unplaced", choices=YES_NO, default="yes",
                          widget=GovRadioInput(), validators=[
        InputRequired(message="Select yes or no")])
    ksb_coverage = RadioField(
        "After choices, prefer placements that cover more of each learner's outstanding "
        "KSBs", choices=YES_NO, default="no", widget=GovRadioInput(),
        description="Only where it changes nothing above it: mandated learners placed, "
                    "learners placed and their choices come first. Uses the KSBs employers "
                    "confirmed for their offers and each programme's work-integrated KSBs.",
        validators=[Optional()])
    verified_checks = RadioField("Count only learners' checks (such as a DBS certificate) that "
                                 "an officer has seen and verified", choices=YES_NO,
                                 default="no", widget=GovRadioInput(), validators=[Optional()])
    time_limit_s = WholeNumberField("Time limit for the solver, in seconds",
        invalid_message="Enter the time limit in whole seconds, like 60",
        default=60,
                                widget=GovTextInput(), validators=[
        InputRequired(message="Enter a time limit in seconds"),
        NumberRange(min=1, max=3600, message="Time limit must be between 1 and 3600 seconds")])
    submit = SubmitField("Create round", widget=GovSubmitInput())


class OverrideForm(Form):
    """Place a learner by hand."""

    student_ref = StringField("Learner's student number", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the learner's student number"),
        Length(max=40, message="A student number is 40 characters or fewer")])
    offer_id = SelectField("Placement offer", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select the offer")])
    reason = TextAreaField("Why you are placing this learner by hand", widget=GovTextArea(),
                           validators=[InputRequired(message="Say why you are placing this "
                                                             "learner by hand"),
                                       Length(max=2000, message="The reason must be 2000 "
                                                                "characters or fewer")])
    confirm = BooleanField("I understand the warnings and want to place the learner anyway",
                           widget=GovCheckboxInput(), validators=[Optional()])
    submit = SubmitField("Place learner", widget=GovSubmitInput())


class LockForm(Form):
    """Keep a placement in the next run."""

    reason = StringField("Reason (optional)", widget=GovTextInput(),
                         validators=[Optional(), Length(
                             max=500, message="The reason must be 500 characters or fewer")])
    submit = SubmitField("Lock", widget=GovSubmitInput())


#: What a publication's hidden fields say when they are missing or stale (a tampered or
#: long-open confirmation page).
STALE_PAGE = "This page is out of date: go back to the round and check what will be published"


class PublishForm(Form):
    """Publish what the confirmation page showed (its publication count and digest)."""

    seen = WholeNumberField("Publication seen", invalid_message=STALE_PAGE,
                            widget=HiddenInput(),
                            validators=[InputRequired(message=STALE_PAGE)])
    digest = HiddenField(validators=[InputRequired(message=STALE_PAGE),
                                     Length(max=64, message=STALE_PAGE)])
    submit = SubmitField("Publish and send the e-mails", widget=GovSubmitInput())


class CloseChoicesForm(Form):
    """Close choices before the deadline, saying why."""

    reason = TextAreaField(
        "Why choices close before the deadline",
        description="Every learner in the round is e-mailed this reason.",
        widget=GovTextArea(), validators=[
            InputRequired(message="Say why choices close before the deadline"),
            Length(max=1000, message="The reason must be 1000 characters or fewer")])
    submit = SubmitField("Close choices and tell learners", widget=GovSubmitInput())
