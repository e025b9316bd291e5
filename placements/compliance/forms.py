"""Compliance forms: an item's submission, an officer's review, a checklist, item types,
an employer's hosting limits."""

from __future__ import annotations

from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovFileInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from placements.compliance import services
from placements.formkit import Form, UKDateField, WholeNumberField, choices
from placements.frontend import GovCheckboxesInput, GovCheckboxInput
from placements.models import BuiltinItem, ComplianceItemType, Employer


class ItemForm(Form):
    """Submit one compliance item (fields the item's type does not use are removed)."""

    site_id = SelectField("Site", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Choose the site this covers")])
    issuer = StringField("Insurer", widget=GovTextInput(), validators=[
        Optional(), Length(max=200, message="This must be 200 characters or fewer")])
    reference = StringField("Policy number", widget=GovTextInput(), validators=[
        Optional(), Length(max=100, message="This must be 100 characters or fewer")])
    contact_name = StringField("Safeguarding lead's name", widget=GovTextInput(), validators=[
        Optional(), Length(max=200, message="The name must be 200 characters or fewer")])
    contact_email = StringField("Safeguarding lead's email address",
                                widget=GovTextInput(input_type="email"), validators=[
        Optional(), Email(message="Enter an email address in the correct format, like "
                                  "name@example.com"),
        Length(max=254, message="The email address must be 254 characters or fewer")])
    contact_phone = StringField("Safeguarding lead's phone number", widget=GovTextInput(),
                                validators=[Optional(), Length(max=40, message="Enter a phone "
                                                               "number of 40 characters or fewer")])
    issued_on = UKDateField("Date of the assessment", validators=[Optional()],
                            invalid_message="The date of the assessment must be a real date, "
                                            "like 27 3 2026")
    expires_on = UKDateField("Expiry date", validators=[Optional()],
                             invalid_message="The expiry date must be a real date, like "
                                             "27 3 2027")
    notes = TextAreaField("Notes for the officer (optional)", widget=GovTextArea(), validators=[
        Optional(), Length(max=2000, message="Notes must be 2000 characters or fewer")])
    document = FileField("Document", widget=GovFileInput())
    submit = SubmitField("Submit for review", widget=GovSubmitInput())

    def __init__(self, item_type: ComplianceItemType, employer: Employer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_type = item_type
        if item_type.per_site:
            self.site_id.choices = choices([(0, "Choose a site")] + [
                (s.id, f"{s.name} ({s.postcode})") for s in employer.sites])
        else:
            del self.site_id
        builtin = item_type.builtin
        if builtin == BuiltinItem.RISK_ASSESSMENT.value:
            self.issuer.label.text = "Who reviewed it"
            self.reference.label.text = "Document reference (optional)"
        elif builtin != BuiltinItem.INSURANCE.value:
            self.issuer.label.text = "Issued by (optional)"
            self.reference.label.text = "Reference (optional)"
        if builtin == BuiltinItem.SAFEGUARDING.value:
            del self.issuer
            del self.reference
        else:
            del self.contact_name
            del self.contact_email
            del self.contact_phone
        if builtin != BuiltinItem.RISK_ASSESSMENT.value:
            del self.issued_on
        self.expires_on.label.text = services.expiry_label(item_type) + (
            "" if item_type.expires else " (optional)")
        if builtin == BuiltinItem.SAFEGUARDING.value:
            self.document.label.text = "Safeguarding policy"
        elif builtin == BuiltinItem.INSURANCE.value:
            self.document.label.text = "Insurance certificate"
        elif builtin == BuiltinItem.RISK_ASSESSMENT.value:
            self.document.label.text = "Risk assessment"
        if not services.needs_upload(item_type):
            self.document.label.text += " (optional)"

    def item_data(self) -> services.ItemData:
        def value(name: str):
            field = getattr(self, name, None)
            return field.data if field is not None else None

        return services.ItemData(
            site_id=value("site_id") or None, issuer=value("issuer") or "",
            reference=value("reference") or "", contact_name=value("contact_name") or "",
            contact_email=value("contact_email") or "", contact_phone=value("contact_phone") or "",
            issued_on=value("issued_on"), expires_on=value("expires_on"),
            notes=value("notes") or "")

    def upload(self) -> services.Upload | None:
        from flask import current_app

        data = self.document.data
        if data is None or not getattr(data, "filename", ""):
            return None
        limit = current_app.config["UPLOAD_MAX_BYTES"]
        return services.Upload(data.filename or "document", data.stream.read(limit + 1))


class ReturnForm(Form):
    """Send an item back to the employer."""

    reason = TextAreaField("Why are you returning it?", widget=GovTextArea(), validators=[
        InputRequired(message="Enter why you are returning it: the employer sees this"),
        Length(max=2000, message="The reason must be 2000 characters or fewer")])
    submit = SubmitField("Return to the employer", widget=GovSubmitInput())


class ChecklistForm(Form):
    """An officer's risk assessment of a site, as a checklist."""

    site_id = SelectField("Site", coerce=int, widget=GovSelect(), validators=[
        InputRequired(message="Choose the site you assessed")])
    checks = SelectMultipleField("Confirm each point", choices=choices(services.CHECKLIST),
                                 widget=GovCheckboxesInput(), validators=[Optional()])
    issuer = StringField("Who carried out the assessment", widget=GovTextInput(), validators=[
        InputRequired(message="Enter who carried out the assessment"),
        Length(max=200, message="This must be 200 characters or fewer")])
    issued_on = UKDateField("Date of the assessment", validators=[
        InputRequired(message="Enter the date of the assessment")],
        invalid_message="The date of the assessment must be a real date, like 27 3 2026")
    expires_on = UKDateField("Review-by date", validators=[
        InputRequired(message="Enter the review-by date")],
        invalid_message="The review-by date must be a real date, like 27 3 2027")
    notes = TextAreaField("Notes (optional)", widget=GovTextArea(), validators=[
        Optional(), Length(max=2000, message="Notes must be 2000 characters or fewer")])
    submit = SubmitField("Record and accept", widget=GovSubmitInput())

    def __init__(self, employer: Employer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = choices([(0, "Choose a site")] + [
            (s.id, f"{s.name} ({s.postcode})") for s in employer.sites])


class ItemTypeForm(Form):
    """One of the provider's own compliance item types."""

    name = StringField("Name", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the name of the item"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    description = TextAreaField("What the employer must provide", widget=GovTextArea(),
                                validators=[Optional(), Length(
                                    max=2000, message="The description must be 2000 "
                                                      "characters or fewer")])
    per_site = BooleanField("One for each of the employer's sites", widget=GovCheckboxInput())
    expires = BooleanField("It has an expiry date", widget=GovCheckboxInput())
    blocks_allocation = BooleanField("Learners cannot be allocated to the employer without it",
                                     widget=GovCheckboxInput())
    submit = SubmitField("Add item", widget=GovSubmitInput())


class CheckTypeForm(Form):
    """One of the provider's own learner checks."""

    name = StringField("Name of the check", widget=GovTextInput(), validators=[
        InputRequired(message="Enter the name of the check"),
        Length(max=200, message="The name must be 200 characters or fewer")])
    expires = BooleanField("It has an expiry date", widget=GovCheckboxInput())
    required = BooleanField("Every placement in our rounds needs it", widget=GovCheckboxInput())
    submit = SubmitField("Add check", widget=GovSubmitInput())


class LimitsForm(Form):
    """An employer's hosting limits across all its offers in one round."""

    max_learners = WholeNumberField("Most learners you can host in one round (optional)",
                                    invalid_message="Enter the most learners as a whole "
                                                    "number, like 4",
                                    widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=0, max=1000, message="Enter a number from 0 to 1000")])
    min_if_any = WholeNumberField("Fewest learners worth hosting (optional)",
                                  invalid_message="Enter the fewest learners as a whole "
                                                  "number, like 2",
                                  widget=GovTextInput(), validators=[Optional(), NumberRange(
                                  min=1, max=1000, message="Enter a number from 1 to 1000")])
    submit = SubmitField("Save limits", widget=GovSubmitInput())


class CheckForm(Form):
    """A learner declares one check (fields the check does not use are removed)."""

    reference = StringField("DBS certificate number", widget=GovTextInput(), validators=[
        Optional(), Length(max=40, message="The number must be 40 characters or fewer")])
    issued_on = UKDateField("Date of issue", validators=[Optional()],
                            invalid_message="The date of issue must be a real date, like "
                                            "27 3 2025")
    update_service = BooleanField("I subscribe to the DBS update service",
                                  widget=GovCheckboxInput())
    expires_on = UKDateField("Expiry date", validators=[Optional()],
                             invalid_message="The expiry date must be a real date, like "
                                             "27 3 2028")
    submit = SubmitField("Save", widget=GovSubmitInput())

    def check_data(self):
        from placements.compliance.checks import CheckData

        def value(name: str):
            field = getattr(self, name, None)
            return field.data if field is not None else None

        return CheckData(reference=value("reference") or "", issued_on=value("issued_on"),
                         expires_on=value("expires_on"),
                         update_service=bool(value("update_service")))


def check_form_for(kind, existing) -> CheckForm:
    """The form for one kind of check, filled with what the learner declared before."""
    form = CheckForm(obj=existing)
    if kind.is_dbs:
        del form.expires_on
    else:
        del form.issued_on
        del form.update_service
        form.reference.label.text = "Number on the card or licence (optional)"
        if not kind.expires:
            form.expires_on.label.text = "Expiry date (optional)"
    return form
