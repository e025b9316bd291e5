"""KSB forms: modules, pasted outcomes, decisions on suggestions, adding a KSB by hand,
learners' tags and reflections, and the officer's offer filter."""

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
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from placements.formkit import Form
from placements.frontend import GovCheckboxesInput, GovRadioInput
from placements.ksb.suggest import MAX_TEXT_CHARS
from placements.models import Delivery, Ksb

TEXT_TOO_LONG = (f"must be {MAX_TEXT_CHARS:,} characters or fewer (about 3,000 words): split "
                 "them into smaller parts")


def ksb_label(ksb: Ksb, limit: int = 0) -> str:
    """A KSB for a choice list: its code and statement (cut to `limit` characters)."""
    text = ksb.statement
    if limit and len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return f"{ksb.code}: {text}"


class ModuleForm(Form):
    """A module (or a work-integrated part) of a programme."""

    code = StringField("Module code", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the module's code, like SWD401"),
        Length(max=40, message="The code must be 40 characters or fewer")])
    title = StringField("Title", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the module's title"),
        Length(max=200, message="The title must be 200 characters or fewer")])
    delivery = RadioField("How it is delivered", widget=GovRadioInput(),
                          choices=[SelectChoice(d.value, d.label) for d in Delivery],
                          default=Delivery.MODULE.value, validators=[
        InputRequired(message="Select how the module is delivered")])
    outcomes = TextAreaField("Learning outcomes, or the activities planned (optional)",
                             widget=GovTextArea(), validators=[
        Optional(), Length(max=MAX_TEXT_CHARS, message="The learning outcomes " + TEXT_TOO_LONG)])
    submit = SubmitField("Save module", widget=GovSubmitInput())


class SuggestForm(Form):
    """Paste a module's learning outcomes or a placement's planned activities."""

    text = TextAreaField("Learning outcomes or planned activities", widget=GovTextArea(),
                         validators=[
        InputRequired(message="Enter the learning outcomes or planned activities"),
        Length(max=MAX_TEXT_CHARS, message="The text " + TEXT_TOO_LONG)])
    submit = SubmitField("Suggest KSBs", widget=GovSubmitInput())


class AddKsbForm(Form):
    """Confirm a KSB by hand."""

    ksb = SelectField("KSB", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select the KSB to add")])
    submit = SubmitField("Add KSB", widget=GovSubmitInput())

    def __init__(self, ksbs: list[Ksb], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ksb.choices = [SelectChoice(k.id, ksb_label(k, 110)) for k in ksbs]


class EvidenceForm(Form):
    """The KSBs a learner practised on one entry of hours, and a short reflection."""

    ksbs = SelectMultipleField("KSBs you practised", coerce=int, widget=GovCheckboxesInput(),
                               validators=[Optional()])
    reflection = TextAreaField("What you did that shows them", widget=GovTextArea(),
                               validators=[Optional(), Length(
                                   max=2000,
                                   message="The reflection must be 2,000 characters or fewer")])
    submit = SubmitField("Save KSBs", widget=GovSubmitInput())
    suggest = SubmitField("Suggest KSBs from my reflection", widget=GovSubmitInput())

    def __init__(self, choices: list[tuple[Ksb, bool]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ksbs.choices = [SelectChoice(k.id, ksb_label(k) + ("" if expected else ""))
                             for k, expected in choices]
        self.expected = {k.id for k, expected in choices if expected}


class OfferFilterForm(Form):
    """Officers' filter of offers by KSB coverage (a GET form: no CSRF token)."""

    class Meta(Form.Meta):
        csrf = False

    programme = SelectField("Programme", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Select a programme")])
    ksb = SelectField("Covering the KSB", widget=GovSelect(), validate_choice=False,
                      validators=[Optional()])
    covering = RadioField("Show", widget=GovRadioInput(), default="covering", choices=[
        SelectChoice("covering", "Only offers covering them"),
        SelectChoice("all", "Every open offer of the programme's sector")],
        validators=[Optional()])
    submit = SubmitField("Filter offers", widget=GovSubmitInput())
