"""The look and feel layer: base template, form and UI macros, CSP nonce, filters, assets.

These tests build a minimal Flask app around placements.frontend rather than the real
app factory, so they exercise only the templates and helpers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask, flash, g, render_template, render_template_string, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from govuk_frontend_wtf.wtforms_widgets import (
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    DateField,
    EmailField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from placements import frontend
from placements.frontend import GovCheckboxesInput, GovDateInput, GovRadioInput

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "placements" / "static" / "dist"


class ExampleForm(FlaskForm):
    """Every govuk-frontend-wtf widget our forms use."""

    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[DataRequired("Enter your email address"), Email("Enter a valid email")],
    )
    organisation = StringField("Organisation", widget=GovTextInput())
    notes = TextAreaField(
        "Notes", widget=GovTextArea(), validators=[Length(max=20, message="Too long")]
    )
    sector = SelectField(
        "Sector",
        widget=GovSelect(),
        choices=[SelectChoice("digital", "Digital"), SelectChoice("eng", "Engineering")],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        choices=[SelectChoice("learner", "Learner"), SelectChoice("employer", "Employer")],
        validators=[DataRequired("Select your role")],
    )
    days = SelectMultipleField(
        "Days",
        widget=GovCheckboxesInput(),
        choices=[SelectChoice("mon", "Monday"), SelectChoice("tue", "Tuesday")],
    )
    start = DateField(
        "Start date",
        widget=GovDateInput(),
        format="%d %m %Y",
        validators=[DataRequired("Enter a date")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.organisation.data == "clash":
            self.form_errors.append("That organisation already has an offer in this round")
            return False
        return ok


FORM_PAGE = """
{% extends "base.html" %}
{% from "macros/forms.html" import error_summary, csrf_only_form %}
{% block page_title %}{{ "Error: " if form.errors }}Example{% endblock %}
{% block content %}
  {{ error_summary(form) }}
  <h1 class="govuk-heading-l">Example form</h1>
  <form method="post" novalidate>
    {{ form.csrf_token }}
    {{ form.email(params={"label": {"text": "Email address"}, "autocomplete": "email"}) }}
    {{ form.organisation(params={"hint": {"text": hint}}) }}
    {{ form.notes }}
    {{ form.sector }}
    {{ form.role(params={"fieldset": {"legend": {"text": "Role"}}}) }}
    {{ form.days(params={"fieldset": {"legend": {"text": "Days"}}}) }}
    {{ form.start }}
    {{ form.submit }}
  </form>
  {{ csrf_only_form("/withdraw", "Withdraw", "govuk-button--warning") }}
{% endblock %}
"""

UI_PAGE = """
{% extends "base.html" %}
{% from "macros/ui.html" import summary_list, data_table, status_tag, chart, pagination,
    rank_list %}
{% macro page_url(n) %}/list?page={{ n }}{% endmacro %}
{% block page_title %}Insights{% endblock %}
{% block content %}
  <h1 class="govuk-heading-l">Round insights</h1>
  {{ status_tag("Published", "green") }}
  {{ summary_list([("Employer", employer), {"key": "Capacity", "value": 3, "href": "/edit"},
                   ("Phone", none)]) }}
  {{ chart("ranks", "bar", ["1st", "2nd", "3rd"], [{"label": "Learners", "data": [12, 5, 2]}],
           "Rank of allocated placement", "How many learners got their 1st, 2nd or 3rd choice") }}
  {{ data_table("Shortfalls", ["Employer", "Places short"], [[employer, 2]], numeric=[1]) }}
  {{ pagination(2, 5, page_url) }}
  <form method="post">{{ rank_list([(7, employer), (9, "Beta Robotics")]) }}</form>
{% endblock %}
"""


def make_app(tmp_path: Path | None = None) -> Flask:
    """Build a minimal app with the frontend layer and a few demo routes."""
    app = Flask(
        "placements_frontend_test",
        root_path=str(ROOT / "placements"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "placements" / "static"),
        static_url_path="/static",
    )
    app.config.update(SECRET_KEY="test", SERVICE_NAME="Placements", OS_DATA_YEAR=None,
                      WTF_CSRF_CHECK_DEFAULT=False)
    CSRFProtect(app)
    frontend.init_app(app)

    @app.context_processor
    def navigation():
        return {
            "nav_items": [
                {"text": "Placements", "href": "/", "active": True},
                {"text": "Rounds", "href": "/rounds", "active": False},
            ],
            "logout_url": "/auth/logout",
            "current_user": type("User", (), {"is_authenticated": True})(),
        }

    @app.route("/")
    def index():
        return render_template("index.html")

    @app.route("/form", methods=["GET", "POST"])
    def form_page():
        form = ExampleForm()
        if request.method == "POST" or request.args.get("invalid"):
            form.validate()
        if request.args.get("flash"):
            flash("Offer saved", "success")
            flash("Could not publish the round", "error")
            flash("Round closes on Friday", "info")
        return render_template_string(
            FORM_PAGE, form=form, hint=request.args.get("hint", "As registered")
        )

    @app.route("/ui")
    def ui_page():
        return render_template_string(UI_PAGE, employer=request.args.get("employer", "Acme Ltd"))

    @app.route("/error")
    def error_page():
        return render_template(
            "errors/error.html", code=404, title="Page not found", message="Check the address."
        ), 404

    @app.route("/nonce")
    def nonce():
        html = render_template("base.html")
        return {"html": html, "nonce": g.csp_nonce}

    return app


@pytest.fixture
def app() -> Flask:
    app = make_app()
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_base_has_service_name_and_no_crown(client):
    html = client.get("/").get_data(as_text=True)
    assert "<title>Get HTQ learners into work placements – Placements</title>" in html
    assert 'class="app-header__service-name">Placements</span>' in html
    assert 'href="/auth/login"' in html
    assert "govuk-logo" not in html
    assert "govuk-header__logotype" not in html
    assert "govuk-footer__crown" not in html
    assert "govuk-footer__copyright-logo" not in html
    assert "GOV.UK" not in html.replace("GOV.UK Frontend", "")
    assert "Open Government Licence v3.0" in html
    assert "contains OS data © Crown copyright" in html
    assert "open-source placement allocation" in html


def test_navigation_and_sign_out(client):
    html = client.get("/").get_data(as_text=True)
    assert 'aria-current="true"' in html
    assert 'href="/rounds"' in html
    form = re.search(r'<form method="post" action="/auth/logout".*?</form>', html, re.S)
    assert form is not None
    assert 'name="csrf_token"' in form.group(0)
    assert "Sign out" in form.group(0)


def test_navigation_absent_without_nav_items():
    app = Flask("bare", template_folder=str(ROOT / "templates"))
    app.config.update(SECRET_KEY="test", SERVICE_NAME="Placements", OS_DATA_YEAR=None)
    frontend.init_app(app)
    with app.test_request_context("/"):
        html = render_template("base.html")
    assert "govuk-service-navigation" not in html
    assert "Sign out" not in html
    assert "Placements" in html


def test_inline_script_carries_request_nonce(client):
    data = client.get("/nonce").get_json()
    html, nonce = data["html"], data["nonce"]
    assert len(nonce) >= 16
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts, "expected the js-enabled script and app.js"
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag
    assert "js-enabled" in html
    assert " on" + "click=" not in html
    assert " style=" not in html
    assert client.get("/nonce").get_json()["nonce"] != nonce


def test_error_summary_links_to_field_ids(client):
    data = {"organisation": "clash", "notes": "x" * 30, "start": ["", "", ""]}
    html = client.post("/form", data=data).get_data(as_text=True)
    assert "<title>Error: Example – Placements</title>" in html
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S).group(0)
    assert 'href="#email">Enter your email address</a>' in summary
    assert 'href="#notes">Too long</a>' in summary
    assert 'href="#role">Select your role</a>' in summary
    assert 'href="#start-day">' in summary
    # CSRF token missing: reported without a link to the hidden input.
    assert "Your session has expired" in summary
    assert 'href="#csrf_token"' not in summary
    # Form-level error.
    assert "That organisation already has an offer in this round" in summary
    # The linked ids exist on the page.
    for anchor in ("email", "notes", "role", "start-day"):
        assert f'id="{anchor}"' in html
    assert 'class="govuk-error-message"' in html


def test_no_error_summary_when_valid_or_get(client):
    html = client.get("/form").get_data(as_text=True)
    assert "govuk-error-summary" not in html
    assert "<title>Example – Placements</title>" in html


def test_widgets_render_govuk_markup(client):
    html = client.get("/form").get_data(as_text=True)
    assert re.search(r'<input\s+class="govuk-input"[^>]*id="email"[^>]*name="email"', html)
    assert 'autocomplete="email"' in html
    assert '<textarea class="govuk-textarea"' in html
    assert '<select class="govuk-select" id="sector" name="sector"' in html
    assert 'class="govuk-radios__input" id="role" name="role" type="radio" value="learner"' in html
    assert 'id="days" name="days" type="checkbox" value="mon"' in html
    assert 'id="start-day" name="start"' in html
    assert re.search(r'<button type="submit"[^>]*class="govuk-button"', html)
    assert re.search(r"<legend[^>]*>\s*Start date\s*</legend>", html)
    # placements.frontend widget fixes: no empty hints, no `required` on the date <div>.
    assert 'id="role-hint"' not in html
    assert 'id="days-hint"' not in html
    assert not re.search(r'<div class="govuk-date-input"[^>]*required', html)


def test_date_input_survives_missing_field(client):
    response = client.post("/form", data={"email": "a@example.com"})
    assert response.status_code == 200
    assert 'href="#start-day">Enter a date</a>' in response.get_data(as_text=True)


def test_flashed_messages_render_as_banners(client):
    html = client.get("/form?flash=1").get_data(as_text=True)
    assert "govuk-notification-banner--success" in html
    assert "Offer saved" in html
    assert "app-notification-banner--error" in html
    assert "Could not publish the round" in html
    assert "Round closes on Friday" in html
    ids = re.findall(r'id="(flash-title-\d+)"', html)
    assert len(ids) == len(set(ids)) == 3


def test_user_text_is_escaped(client):
    html = client.get("/form?hint=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = client.get('/ui?employer=<script>x</script>"&').get_data(as_text=True)
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_chart_renders_canvas_and_fallback_table(client):
    html = client.get("/ui?employer=Acme").get_data(as_text=True)
    canvas = re.search(r"<canvas[^>]*data-chart='([^']*)'", html)
    assert canvas is not None
    assert '"labels": ["1st", "2nd", "3rd"]' in canvas.group(1)
    assert '"data": [12, 5, 2]' in canvas.group(1)
    table = re.search(r'<figure class="app-chart".*?</figure>', html, re.S).group(0)
    assert "<table" in table
    for cell in ("1st", "12", "2nd", "5", "3rd", "2", "Learners"):
        assert re.search(rf"<t[dh][^>]*>\s*{cell}\s*</t[dh]>", table), cell


def test_ui_macros(client):
    html = client.get("/ui").get_data(as_text=True)
    assert "govuk-tag--green" in html
    assert "govuk-summary-list" in html
    assert "Not provided" in html
    assert 'href="/edit"' in html
    assert 'href="/list?page=1"' in html
    assert 'href="/list?page=3"' in html
    assert "govuk-pagination__item--current" in html
    rank = re.search(r"<ol[^>]*data-rank-list.*?</ol>", html, re.S).group(0)
    assert re.findall(r'name="order" value="(\d+)"', rank) == ["7", "9"]
    assert 'name="move" value="up:7" aria-disabled="true"' in rank
    assert 'name="move" value="down:9" aria-disabled="true"' in rank
    assert 'name="move" value="down:7">' in rank


def test_error_page(client):
    response = client.get("/error")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in html
    assert "Error 404" in html


def test_filters():
    assert frontend.date_uk(date(2026, 9, 1)) == "1 September 2026"
    assert frontend.date_uk(None) == ""
    assert frontend.datetime_uk(datetime(2026, 9, 1, 13, 5, tzinfo=UTC)) == (
        "1 September 2026 at 2:05pm"
    )
    assert frontend.datetime_uk(datetime(2026, 1, 1, 0, 0)) == "1 January 2026 at midnight"
    assert frontend.km(12.345) == "12.3 km"
    assert frontend.km(None) == ""


def test_filters_registered(app):
    with app.test_request_context("/"):
        out = render_template_string("{{ d|date_uk }} {{ 3.14159|km }}", d=date(2026, 9, 1))
    assert out == "1 September 2026 3.1 km"


def test_asset_url_adds_version(app):
    if not DIST.is_dir():
        pytest.skip("placements/static/dist missing: run `npm ci && npm run build`")
    with app.test_request_context("/"):
        url = frontend.asset_url("app.css")
        missing = frontend.asset_url("no-such-file.css")
    assert re.fullmatch(r"/static/dist/app\.css\?v=\d+", url)
    assert missing == "/static/dist/no-such-file.css"
    assert (DIST / "app.js").is_file()
    assert (DIST / "govuk-frontend.min.js").is_file()
    assert not (DIST / "axe.min.js").exists()  # a test tool, never shipped
    assert not (DIST / "htmx.min.js").exists()
    css = (DIST / "app.css").read_text(encoding="utf-8")
    assert "GDS Transport" not in css
    assert "@font-face" not in css
