"""The look and feel layer: GOV.UK Frontend templates, asset URLs, CSP nonce and filters.

Templates resolve from three places, in order:

- our own ``templates/`` folder (``app.jinja_loader``), e.g. ``base.html``;
- ``govuk_frontend_jinja/...``: the GOV.UK Frontend macros ported to Jinja, e.g.
  ``{% from "govuk_frontend_jinja/components/button/macro.html" import govukButton %}``;
- ``govuk_frontend_wtf/...``: the templates behind ``govuk_frontend_wtf.wtforms_widgets``.

Front-end assets are built by ``npm ci && npm run build`` into ``placements/static/dist/``;
templates link them with ``asset_url("app.css")``.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, url_for
from govuk_frontend_wtf import wtforms_widgets as gov
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from markupsafe import Markup

from placements.timeutil import date_uk, datetime_uk

#: Folder (under the app's static folder) that ``npm run build`` writes to.
DIST = "dist"


def init_app(app: Flask) -> None:
    """Wire GOV.UK Frontend templates, template globals and filters into app."""
    app.jinja_loader = ChoiceLoader(
        [
            loader
            for loader in (
                app.jinja_loader,
                PrefixLoader(
                    {
                        "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                        "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                    }
                ),
            )
            if loader is not None
        ]
    )
    # If the Jinja environment already exists, give it a fresh dispatching loader
    # (app loader first, then blueprint template folders).
    if "jinja_env" in app.__dict__:
        app.jinja_env.loader = app.create_global_jinja_loader()

    WTFormsHelpers(app)  # registers the wtforms_errors(form) template global
    app.add_template_global(csp_nonce)
    app.add_template_global(asset_url)
    app.add_template_global(endpoint_exists)
    app.add_template_global(form_error_list)
    app.add_template_filter(date_uk)
    app.add_template_filter(datetime_uk)
    app.add_template_filter(km)
    app.add_template_filter(scrolling_tables)
    app.add_template_filter(employer_status_words)
    app.add_template_filter(employer_status_colour)

    @app.context_processor
    def inject_service_name() -> dict[str, Any]:
        return {
            "service_name": app.config["SERVICE_NAME"],
            # Year in the "contains OS data © Crown copyright" footer notice.
            "os_data_year": app.config["OS_DATA_YEAR"] or date.today().year,
        }


def csp_nonce() -> str:
    """Return this request's Content-Security-Policy nonce, creating it on first use."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def asset_url(path: str) -> str:
    """Return the URL of a built asset in static/dist/ with a cache-busting version."""
    static_folder = current_app.static_folder
    filename = f"{DIST}/{path.lstrip('/')}"
    version = None
    if static_folder is not None:
        try:
            version = int(Path(static_folder, filename).stat().st_mtime)
        except OSError:
            version = None
    if version is None:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)


def endpoint_exists(endpoint: str) -> bool:
    """Return True if endpoint is registered, so templates can link to optional features."""
    return endpoint in current_app.view_functions


def form_error_list(form: Any) -> list[dict[str, str]]:
    """List form errors for the GOV.UK error summary: field errors linked to their inputs.

    Each field contributes its first error, linked to the element the govuk-frontend-wtf
    widget renders first (``name-day`` for dates, ``name`` for radios and checkboxes,
    otherwise the field id). Errors on hidden fields (e.g. an expired CSRF token) and
    ``form.form_errors`` are listed without a link.
    """
    items: list[dict[str, str]] = []
    for field in form:
        items.extend(_field_errors(field))
    items.extend({"text": str(error)} for error in getattr(form, "form_errors", []) or [])
    return items


def _field_errors(field: Any) -> list[dict[str, str]]:
    if field.type == "FormField":
        return [item for sub in field for item in _field_errors(sub)]
    if field.type == "FieldList":
        return [item for entry in field.entries for item in _field_errors(entry)]
    errors = [e for e in field.errors if isinstance(e, str)]
    if not errors:
        return []
    if field.type in {"HiddenField", "CSRFTokenField"}:
        message = errors[0]
        if field.type == "CSRFTokenField":
            message = "Your session has expired. Submit the form again."
        return [{"text": message}]
    widget = type(field.widget).__name__
    if widget == "GovDateInput":
        anchor = f"{field.name}-day"
    elif widget in {"GovRadioInput", "GovCheckboxesInput", "GovCheckboxInput"}:
        anchor = field.name
    else:
        anchor = field.id
    return [{"text": errors[0], "href": f"#{anchor}"}]




def employer_status_words(status: Any) -> str:
    """An employer's approval status in words ("Awaiting approval")."""
    from placements.domain.employers import STATUS_WORDS

    return STATUS_WORDS.get(status, str(status))


def employer_status_colour(status: Any) -> str:
    """The tag colour of an employer's approval status."""
    from placements.domain.employers import STATUS_COLOURS

    return STATUS_COLOURS.get(status, "grey")


def km(value: float | int | None) -> str:
    """Format a distance in kilometres to one decimal place, e.g. 12.3 km."""
    if value is None:
        return ""
    return f"{float(value):,.1f} km"


# --- tables on narrow screens ----------------------------------------------------------------

#: A table (tables are never nested in our pages), with the opening tag of a scroll container
#: right before it when the template wrote one.
_TABLE = re.compile(r"(<div\b[^>]*\bapp-table-scroll\b[^>]*>\s*)?(<table\b.*?</table>)",
                    re.DOTALL | re.IGNORECASE)
_CAPTION = re.compile(r"<caption\b[^>]*>(.*?)</caption>", re.DOTALL | re.IGNORECASE)
_HEADING = re.compile(r"<h[1-6]\b[^>]*>(.*?)</h[1-6]>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _text(fragment: str) -> str:
    """The plain text of an HTML fragment (tags dropped, whitespace collapsed)."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def scrolling_tables(content: str) -> Markup:
    """Put every table of a page in its own scroll container (the `content` block of
    base.html goes through this filter).

    A table wider than a phone's screen then scrolls sideways inside the page instead of
    widening the whole page. The container is a focusable region named after the table's
    caption (or the heading before it), so keyboard users can scroll it and screen readers
    announce it. A container the template wrote itself (``<div class="app-table-scroll">``)
    gets the same attributes.
    """
    source = str(content)

    def wrap(match: re.Match[str]) -> str:
        opening, table = match.group(1), match.group(2)
        if opening and "tabindex" in opening:
            return match.group(0)
        caption = _CAPTION.search(table)
        label = _text(caption.group(1)) if caption else ""
        if not label:
            headings = _HEADING.findall(source, 0, match.start())
            label = _text(headings[-1]) if headings else ""
        attrs = (f'class="app-table-scroll" tabindex="0" role="region" '
                 f'aria-label="{html.escape(label or "Table", quote=True)}"')
        if opening:  # the template closes its own container
            return f"<div {attrs}>{table}"
        return f"<div {attrs}>{table}</div>"

    return Markup(_TABLE.sub(wrap, source))


# --- govuk-frontend-wtf 3.2.0 fixes -------------------------------------------------------
# Drop-in replacements for three widgets whose output is slightly wrong with
# govuk-frontend 6.3.0 / WTForms 3.3. Import them from here instead of
# govuk_frontend_wtf.wtforms_widgets; every other widget is fine to use as it is.


class _OmitEmptyHint:
    """Leave out the hint when the field has no description.

    GovIterableBase always passes ``{"text": field.description}``, so radios and
    checkboxes get an empty hint <div> that the fieldset's aria-describedby points to.
    """

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)  # type: ignore[misc]
        hint = params.get("hint")
        if isinstance(hint, dict) and not (hint.get("text") or hint.get("html")):
            params.pop("hint")
        return params


class GovRadioInput(_OmitEmptyHint, gov.GovRadioInput):
    """Radios with the field label as legend and no empty hint."""


class GovCheckboxesInput(_OmitEmptyHint, gov.GovCheckboxesInput):
    """Checkboxes (SelectMultipleField) with the field label as legend and no empty hint."""


class GovCheckboxInput(_OmitEmptyHint, gov.GovCheckboxInput):
    """A single checkbox (BooleanField) with no empty hint."""


class GovDateInput(gov.GovDateInput):
    """Day, month and year inputs; use with ``DateField(format="%d %m %Y")``.

    Fixes two upstream problems: a crash when the request has no value for the
    field (``raw_data == []``), and ``required`` ending up on the wrapper <div>.
    """

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        if field.raw_data is not None and len(field.raw_data) != 3:
            field.raw_data = [*list(field.raw_data)[:3], "", "", ""][:3]
        params = super().map_gov_params(field, **kwargs)
        params.get("attributes", {}).pop("required", None)
        return params
