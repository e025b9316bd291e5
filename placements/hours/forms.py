"""Hours forms: logging hours, recording them as an officer, rejecting, importing."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from placements.formkit import Form, UKDateField
from placements.frontend import GovDateInput, GovRadioInput
from placements.hours import calc
from placements.hours.services import LEARNER_KINDS, EntryData
from placements.models import HoursKind, Placement


def _optional_int(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(str(value))


def placement_label(placement: Placement) -> str:
    """Name a placement for a choice list: offer, employer and dates."""
    offer = placement.offer
    return (f"{offer.title} at {offer.employer.name} ({offer.start_date:%d/%m/%Y} to "
            f"{offer.end_date:%d/%m/%Y})")


class HoursForm(Form):
    """One day's hours of one kind."""

    entry_date = UKDateField("Date",
        invalid_message="Enter a real date, like 3 11 2026",
        widget=GovDateInput(), validators=[
        InputRequired(message="Enter the date, like 5 10 2026")])
    hours = StringField("Hours", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the number of hours")])
    kind = RadioField("Kind of learning", widget=GovRadioInput(), validators=[
        InputRequired(message="Select the kind of learning")])
    placement = SelectField("Placement", coerce=_optional_int, widget=GovSelect(),
                            validators=[Optional()])
    note = TextAreaField("Note (optional)", widget=GovTextArea(), validators=[
        Optional(), Length(max=500, message="The note must be 500 characters or fewer")])
    submit = SubmitField("Save hours", widget=GovSubmitInput())

    def __init__(self, kinds: tuple[HoursKind, ...], placements: list[Placement],
                 *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice(k.value, k.label) for k in kinds]
        self.placement.choices = [SelectChoice("", "Not a placement")] + [
            SelectChoice(p.id, placement_label(p)) for p in placements]
        self.quarter_hours = 0

    def validate_hours(self, field) -> None:
        try:
            self.quarter_hours = calc.parse_hours(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_placement(self, field) -> None:
        if self.kind.data == HoursKind.PLACEMENT.value and field.data is None:
            raise ValidationError("Select the placement the hours were spent on")

    def entry_data(self) -> EntryData:
        """Return the form's values as service input."""
        kind = HoursKind(self.kind.data)
        return EntryData(entry_date=self.entry_date.data, quarter_hours=self.quarter_hours,
                         kind=kind, note=self.note.data or "",
                         placement_id=self.placement.data if kind is HoursKind.PLACEMENT
                         else None)


def learner_hours_form(placements: list[Placement], *args, **kwargs) -> HoursForm:
    """The learner's form: work-integrated kinds only (placement only when they have one)."""
    kinds = tuple(k for k in LEARNER_KINDS if placements or k is not HoursKind.PLACEMENT)
    return HoursForm(kinds, placements, *args, **kwargs)


def officer_hours_form(placements: list[Placement], *args, **kwargs) -> HoursForm:
    """The officer's form: every kind."""
    form = HoursForm(tuple(HoursKind), placements, *args, **kwargs)
    form.submit.label.text = "Record hours"
    return form


class RejectForm(Form):
    """Turn down hours, saying why."""

    reason = TextAreaField("Why are you rejecting these hours?", widget=GovTextArea(),
                           validators=[
        InputRequired(message="Enter the reason you are rejecting these hours"),
        Length(max=1000, message="The reason must be 1000 characters or fewer")])
    submit = SubmitField("Reject hours", widget=GovSubmitInput())
