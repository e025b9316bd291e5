"""Small helpers shared by the FlaskForm classes."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import DateField
from wtforms.fields.choices import SelectChoice


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Turn (value, label) pairs into WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class UKDateField(DateField):
    """A GOV.UK day/month/year date field with a plain-English message for a bad date."""

    def __init__(self, label: str, *, invalid_message: str, **kwargs) -> None:
        from placements.frontend import GovDateInput

        kwargs.setdefault("widget", GovDateInput())
        super().__init__(label, format="%d %m %Y", **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.invalid_message) from exc
