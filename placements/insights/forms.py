"""Insight forms: the what-if question."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from placements.formkit import Form, WholeNumberField, choices
from placements.frontend import GovCheckboxInput
from placements.insights.areas import area_names


class WhatIfForm(Form):
    """Ask how many more mandated learners N extra places in a sector and area would place."""

    sector = SelectField("Sector", widget=GovSelect(),
                         validators=[InputRequired(message="Select a sector")])
    area = StringField("Postcode area", widget=GovTextInput(), validators=[
        InputRequired(message="Enter a postcode area, such as M or SK"),
        Length(max=2, message="Enter a postcode area of one or two letters, such as M or SK")])
    places = WholeNumberField("Extra places",
        invalid_message="Enter the number of extra places as a whole number, like 5",
        default=5, widget=GovTextInput(), validators=[
        InputRequired(message="Enter how many extra places, as a whole number"),
        NumberRange(min=1, max=500, message="Extra places must be between 1 and 500")])
    spread = BooleanField("Spread the places over the area's postcode districts where most "
                          "learners live", widget=GovCheckboxInput())
    submit = SubmitField("Work it out", widget=GovSubmitInput())

    def __init__(self, sectors: list[str], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sector.choices = choices((s, s) for s in sectors)

    def validate_area(self, field) -> None:
        field.data = (field.data or "").strip().upper()
        if field.data not in area_names():
            raise ValidationError("Enter a postcode area we know, such as M, SK or BL")
