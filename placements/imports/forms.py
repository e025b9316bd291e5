"""Import forms: one CSV upload."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovSubmitInput
from wtforms import SubmitField

from placements.formkit import Form


class UploadForm(Form):
    """Upload a CSV file or an Excel workbook."""

    file = FileField("CSV or Excel file", widget=GovFileInput(), validators=[
        FileRequired(message="Select a CSV or Excel (.xlsx) file")])
    submit = SubmitField("Check and import", widget=GovSubmitInput())
