"""Review forms: the parts of a review, supervisors, concerns and the officer's decisions.

A review part's form follows `services.part_fields(kind, side)`: the fields a kind of
review asks one side for are kept (and required, with its messages), the others removed.
"""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from placements.domain import reviews as rules
from placements.formkit import Form, UKDateField, choices
from placements.frontend import GovRadioInput
from placements.models import CONCERN_LABELS, ReviewKind, ReviewSide
from placements.reviews.services import MAX_TEXT, PartData, SupervisorData, part_fields

YES_NO = choices([("yes", "Yes"), ("no", "No")])
_TOO_LONG = f"Write at most {MAX_TEXT:,} characters"


def _text(label: str) -> TextAreaField:
    return TextAreaField(label, widget=GovTextArea(), validators=[
        Optional(), Length(max=MAX_TEXT, message=_TOO_LONG)])


def _yes_no(label: str) -> RadioField:
    return RadioField(label, choices=YES_NO, widget=GovRadioInput())


def _rating_value(value: object) -> int | None:
    """A rating from the form (None for a missing or malformed one: "choose a rating")."""
    try:
        return int(str(value))
    except ValueError:
        return None


def _rating(label: str) -> RadioField:
    return RadioField(label, coerce=_rating_value, widget=GovRadioInput(),
                      choices=choices((value, name) for value, (name, _) in
                                      rules.RATINGS.items()))


class ReviewPartForm(Form):
    """Every field a part of a review may ask; `part_form` keeps those one part asks."""

    induction_done = _yes_no("Induction done")
    safety_briefing_done = _yes_no("Health and safety briefing done")
    supervisor_known = _yes_no("Do you know who your supervisor is?")
    objectives = _text("Objectives agreed with the learner")
    attendance = _rating("Attendance and punctuality")
    progress = _rating("Progress on the agreed objectives")
    progress_note = _text("Progress on the agreed objectives, in words")
    strengths = _text("Strengths")
    development = _text("Areas to develop")
    recommendation = RadioField("Your recommendation", widget=GovRadioInput(),
                                choices=choices(rules.RECOMMENDATIONS.items()))
    would_host_again = _yes_no("Would your organisation host a learner again?")
    would_recommend = _yes_no("Would you recommend this placement to another learner?")
    comments = _text("Anything else (optional)")
    submit = SubmitField("Submit this review", widget=GovSubmitInput())

    kind: ReviewKind
    side: ReviewSide

    def part_data(self) -> PartData:
        """The submitted answers as a service's PartData."""
        values: dict[str, Any] = {}
        for name in PartData.__dataclass_fields__:
            if name not in self:
                continue
            value = self[name].data
            if name in ("induction_done", "safety_briefing_done", "supervisor_known",
                        "would_host_again", "would_recommend"):
                value = {"yes": True, "no": False}.get(value)
            elif isinstance(value, str) or value is None:
                value = value or ("" if name not in ("attendance", "progress") else None)
            values[name] = value
        return PartData(**values)


#: Labels that depend on who answers (the learner speaks for themselves).
_LEARNER_LABELS = {
    "induction_done": "Have you had an induction?",
    "safety_briefing_done": "Have you had a health and safety briefing?",
    "attendance": "Your attendance and punctuality",
    "progress": "Your progress on the agreed objectives",
    "progress_note": "Your progress on the agreed objectives, in words",
    "strengths": "Your strengths",
    "development": "What you want to develop next",
}
_SUPERVISOR_LABELS = {
    "induction_done": "Has the learner had an induction?",
    "safety_briefing_done": "Has the learner had a health and safety briefing?",
    "attendance": "The learner's attendance and punctuality",
    "progress": "The learner's progress on the agreed objectives",
    "progress_note": "The learner's progress on the agreed objectives, in words",
    "strengths": "The learner's strengths",
    "development": "Areas for the learner to develop",
}


def part_form(kind: ReviewKind, side: ReviewSide, **kwargs: Any) -> ReviewPartForm:
    """A form for one side's part of one kind of review."""
    form = ReviewPartForm(**kwargs)
    form.kind, form.side = kind, side
    wanted = part_fields(kind, side)
    labels = _LEARNER_LABELS if side == ReviewSide.LEARNER else _SUPERVISOR_LABELS
    for name in list(PartData.__dataclass_fields__):
        if name == "comments":
            continue
        if name not in wanted:
            delattr(form, name)
            continue
        field = form[name]
        if name in labels:
            field.label.text = labels[name]
        if isinstance(field, RadioField):
            field.invalid_choice_message = wanted[name]
        else:
            field.validators = [InputRequired(message=wanted[name]),
                                Length(max=MAX_TEXT, message=_TOO_LONG)]
    return form


class SupervisorForm(Form):
    """Who supervises a placement."""

    name = StringField("Full name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the supervisor's full name"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    email = StringField("Email address", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the supervisor's email address"),
        Length(max=254, message="The email address must be 254 characters or fewer")])
    phone = StringField("Telephone (optional)", widget=GovTextInput(), validators=[
        Optional(), Length(max=40, message="The telephone number must be 40 characters or "
                                           "fewer")])
    submit = SubmitField("Save and send the supervisor their links", widget=GovSubmitInput())

    def supervisor_data(self) -> SupervisorData:
        return SupervisorData(name=self.name.data or "", email=self.email.data or "",
                              phone=self.phone.data or "")


class ConcernForm(Form):
    """Raise a concern about a placement."""

    category = RadioField("What is the concern about?", widget=GovRadioInput(),
                          choices=choices((c.value, label) for c, label in
                                          CONCERN_LABELS.items()),
                          invalid_choice_message="Choose what the concern is about")
    description = TextAreaField("Describe the concern", widget=GovTextArea(), validators=[
        InputRequired(message="Describe the concern so the placement officer can act on it"),
        Length(max=MAX_TEXT, message=_TOO_LONG)])
    submit = SubmitField("Send the concern to the placement officer",
                         widget=GovSubmitInput())


class DueDateForm(Form):
    """Move a review's due date."""

    due_date = UKDateField("New due date", invalid_message="Enter a real date, like 27 3 2027",
                           validators=[InputRequired(message="Enter the new due date, like "
                                                             "27 3 2027")])
    submit = SubmitField("Change the date", widget=GovSubmitInput())


class WaiveForm(Form):
    """Decide that a review is not needed."""

    reason = TextAreaField("Why is this review not needed?", widget=GovTextArea(), validators=[
        InputRequired(message="Say why this review is not needed"),
        Length(max=MAX_TEXT, message=_TOO_LONG)])
    submit = SubmitField("Waive this review", widget=GovSubmitInput())


class AssignForm(Form):
    """Give a concern an owner."""

    owner_id = SelectField("Owner", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Choose who owns this concern")])
    submit = SubmitField("Give it to this officer", widget=GovSubmitInput())


class NoteForm(Form):
    """Add a note to a concern's history."""

    note = TextAreaField("Add a note", widget=GovTextArea(), validators=[
        InputRequired(message="Write the note"), Length(max=MAX_TEXT, message=_TOO_LONG)])
    submit = SubmitField("Add the note", widget=GovSubmitInput())


class CloseForm(Form):
    """Close a concern with its outcome."""

    outcome = TextAreaField("Outcome", widget=GovTextArea(), validators=[
        InputRequired(message="Describe the outcome"), Length(max=MAX_TEXT, message=_TOO_LONG)])
    submit = SubmitField("Close the concern", widget=GovSubmitInput())


class ReopenForm(Form):
    """Reopen a closed concern."""

    reason = TextAreaField("Why reopen it?", widget=GovTextArea(), validators=[
        InputRequired(message="Say why the concern is reopened"),
        Length(max=MAX_TEXT, message=_TOO_LONG)])
    submit = SubmitField("Reopen the concern", widget=GovSubmitInput())


class RejectHoursForm(Form):
    """Reject hours through a supervisor's link, saying why."""

    reason = TextAreaField("Why are you rejecting these hours?", widget=GovTextArea(),
                           validators=[InputRequired(message="Enter the reason you are "
                                                             "rejecting these hours"),
                                       Length(max=2000, message="Write at most 2,000 "
                                                                "characters")])
    submit = SubmitField("Reject these hours", widget=GovSubmitInput())
