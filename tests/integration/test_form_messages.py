"""Every form error a person can meet is worded for the domain ("Enter the expiry date"),
never the form library's default ("Not a valid integer value.", "This field is required.",
"Field cannot be longer than 200 characters.", "Invalid email address.").

Two sweeps: every field of every form of the app declares its own messages (statically, so a
new form is held to it as soon as it exists), and every form on every page, as each role, is
posted blank and with bad values (page by page, like the route sweep of test_security.py),
and no library wording comes back.
"""

from __future__ import annotations

import html
import importlib
import pkgutil
import re
from collections.abc import Iterator

import pytest
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeField, DecimalField, FloatField, IntegerField
from wtforms.fields.core import UnboundField

import placements
from placements.formkit import LIBRARY_MESSAGES, Form
from tests.integration.test_security import USERS, _login, _path, _routes, _sample_values

#: The form libraries' own words (WTForms, Flask-WTF), as they would read on a page.
LIBRARY_WORDS = re.compile(
    r"This field is required|Not a valid|Invalid (email address|input|value|Mac|URL|UUID)|"
    r"\bField must|\bField cannot|\bNumber must|must be equal to|are not valid choices|"
    r"is not a valid choice|The CSRF token|CSRF token (is missing|has expired)|"
    r"The file is required|File does not have an approved extension")

#: Our plain-word stand-ins for the library's messages (formkit.LIBRARY_MESSAGES): fine for
#: a choice no page offers (a tampered form), but a field a person fills in says more.
GENERIC = {message for message in LIBRARY_MESSAGES.values()
           if message != LIBRARY_MESSAGES["Not a valid choice."]
           and not message.startswith(("Select only", "Enter an email address"))}


# --- every field declares its own words --------------------------------------------------------

def _forms() -> Iterator[type[FlaskForm]]:
    """Every form class of the app (any Flask-WTF form defined in placements/)."""
    for module in pkgutil.walk_packages(placements.__path__, "placements."):
        importlib.import_module(module.name)

    def below(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    yield from sorted((c for c in set(below(FlaskForm)) if c.__module__.startswith("placements")),
                      key=lambda c: (c.__module__, c.__name__))


def _fields(form: type[Form]) -> Iterator[tuple[str, UnboundField]]:
    for name in dir(form):
        value = getattr(form, name, None)
        if isinstance(value, UnboundField):
            yield name, value


def test_every_field_of_every_form_has_its_own_messages():
    problems = []
    forms = list(_forms())
    for form in forms:
        where = f"{form.__module__}.{form.__name__}"
        if not issubclass(form, Form):
            problems.append(f"{where}: not a formkit.Form (the library's own messages, such "
                            "as for a choice not offered, would reach the page)")
        for name, field in _fields(form):
            validators = field.kwargs.get("validators") or []
            for validator in validators:
                if getattr(validator, "message", "") is None:
                    problems.append(f"{where}.{name}: {type(validator).__name__} without a "
                                    "message")
            numeric = (IntegerField, DecimalField, FloatField)
            if issubclass(field.field_class, numeric) and "invalid_message" not in field.kwargs:
                problems.append(f"{where}.{name}: a number field without invalid_message "
                                "(use formkit.WholeNumberField)")
            if issubclass(field.field_class, (DateField, DateTimeField)) and \
                    "invalid_message" not in field.kwargs:
                problems.append(f"{where}.{name}: a date field without invalid_message "
                                "(use formkit.UKDateField)")
    assert len(forms) > 20
    assert not problems, "\n".join(problems)


# --- every form on every page, posted blank and with bad values ----------------------------

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.DOTALL | re.IGNORECASE)
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"', re.IGNORECASE)
_CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.IGNORECASE)
_ERROR = re.compile(r'<(?:p|span)\b[^>]*class="govuk-error-message"[^>]*>(.*?)</(?:p|span)>|'
                    r'<ul\b[^>]*class="govuk-list govuk-error-summary__list"[^>]*>(.*?)</ul>',
                    re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _post_forms(page: str, here: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The POST forms of a page that ask for something (not button-only forms): their
    action and their fields' names and types."""
    for attrs, body in _FORM.findall(page):
        form = dict(_ATTR.findall(attrs))
        if form.get("method", "get").lower() != "post":
            continue
        fields: dict[str, str] = {}
        for tag, control_attrs in _CONTROL.findall(body):
            control = dict(_ATTR.findall(control_attrs))
            kind = control.get("type", tag).lower() if tag.lower() == "input" else tag.lower()
            name = control.get("name")
            if name and kind not in ("hidden", "submit", "button"):
                fields[name] = kind
        if fields:
            yield html.unescape(form.get("action") or here), fields


def _bad(kind: str) -> str:
    return {"select": "not-a-choice", "radio": "not-a-choice", "checkbox": "not-a-choice",
            "file": ""}.get(kind, "x" * 6000)


def _error_texts(page: str) -> list[str]:
    texts = []
    for single, summary in _ERROR.findall(page):
        if single:
            texts.append(single)
        if summary:
            texts.extend(re.findall(r"<li>(.*?)</li>", summary, re.DOTALL))
    return [" ".join(html.unescape(_TAG.sub(" ", t)).replace("Error:", "").split())
            for t in texts]


def _more_forms(world) -> dict[str, int]:
    """Objects whose pages hold more forms: an engagement record (its stage and activity
    forms), an employer awaiting approval (the reject form) and a rejected one (asking
    again, as the employer user)."""
    from placements.domain import employers as employer_rules
    from placements.engagement.services import ProspectData, add_prospect
    from placements.extensions import db
    from placements.models import Employer, EmployerStatus

    record = add_prospect(world["officer1"], ProspectData(name="Prospect Ltd",
                                                         sector="Digital", contact_name="Kim"))
    awaiting = Employer(name="Waiting Ltd", sector="Digital", region="North West")
    db.session.add(awaiting)
    db.session.flush()
    # A fixture: an approved employer is never rejected through the lifecycle.
    world["e1"].status = EmployerStatus.AWAITING
    db.session.flush()
    employer_rules.reject(world["officer1"], world["e1"], "Say who supervises")
    db.session.commit()
    return {"record_id": record.id, "employer_id": awaiting.id}


@pytest.mark.parametrize("role", [None, *USERS])
def test_no_library_wording_reaches_a_page(app, client, world, role):
    values = {**_sample_values(world), **_more_forms(world)}
    if role is not None:
        _login(client, USERS[role])
    posted: set[str] = set()
    problems: list[str] = []
    seen_errors = 0
    for rule in _routes(app, "GET"):
        path = _path(app, rule, values)
        if path.endswith((".csv", ".json")) or path.startswith("/static"):
            continue
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for action, fields in _post_forms(response.get_data(as_text=True), path):
            if action in posted or action.startswith("/auth/logout"):
                continue
            posted.add(action)
            for values_given in ({name: "" for name in fields},
                                 {name: _bad(kind) for name, kind in fields.items()}):
                answer = client.post(action, data=values_given)
                text = answer.get_data(as_text=True)
                messages = _error_texts(text)
                seen_errors += len(messages)
                for message in messages:
                    if LIBRARY_WORDS.search(message) or message in GENERIC:
                        problems.append(f"{role}: POST {action} ({sorted(values_given)}): "
                                        f"{message!r}")
                found = LIBRARY_WORDS.search(html.unescape(_TAG.sub(" ", text)))
                if found:
                    problems.append(f"{role}: POST {action}: library wording on the page: "
                                    f"{found.group(0)!r}")
            if role is not None and client.get("/auth/password").status_code != 200:
                _login(client, USERS[role])  # a form signed us out: carry on signed in
    assert posted
    assert seen_errors >= len(posted)  # every form answered with messages to check
    assert not problems, "\n".join(sorted(set(problems)))
