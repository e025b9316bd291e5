"""The start page, each role's home page and the service navigation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from placements.models import REQUIREMENTS, Role, User

bp = Blueprint("main", __name__)

#: (label, endpoint) pairs shown in the navigation for each role; an endpoint that is not
#: registered (a feature not installed) is left out.
NAV: dict[Role, list[tuple[str, str]]] = {
    Role.ADMIN: [("Home", "admin.dashboard"), ("Providers", "admin.providers"),
                 ("API keys", "admin_api_keys.index")],
    Role.OFFICER: [
        ("Home", "officers.dashboard"),
        ("Employers", "officers.employers"),
        ("Learners", "officers.learners"),
        ("Rounds", "rounds.index"),
        ("Hours", "hours.officer.overview"),
        ("Reviews", "reviews.officer.attention"),
        ("KSBs", "ksb.officer.index"),
        ("Insights", "insights.index"),
        ("Engagement", "engagement.board"),
        ("Compliance", "compliance.officer.dashboard"),
    ],
    Role.EMPLOYER: [
        ("Home", "employers.dashboard"),
        ("Sites", "employers.sites"),
        ("Offers", "employers.offers"),
        ("Hours", "hours.employer.pending"),
        ("Reviews", "reviews.employer.index"),
        ("Compliance", "compliance.employer.index"),
        ("Colleagues", "employers.colleagues"),
    ],
    Role.LEARNER: [
        ("Home", "learners.dashboard"),
        ("Profile", "learners.profile"),
        ("Checks", "compliance.learner.my_checks"),
        ("Offers", "learners.offers"),
        ("Hours", "hours.learner.log"),
        ("Reviews", "reviews.learner.index"),
        ("KSBs", "ksb.learner.progress"),
    ],
}

HOME: dict[Role, str] = {role: items[0][1] for role, items in NAV.items()}


def home_url(user: User) -> str:
    """Return the URL of the user's home page."""
    return url_for(HOME[user.role])


#: Highest page number a list accepts (beyond it, the last page is shown anyway).
MAX_PAGE = 100_000


def page_number() -> int:
    """The ?page= of a list: a whole number from 1, anything else (negative, huge, text) 1
    or the last page the list has (pagination clamps it)."""
    raw = request.args.get("page", "1")
    if not raw.isdigit():
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


class Int64Converter(IntegerConverter):
    """The URL `int` converter, bounded to the database's 64-bit ids: a larger number is no
    page (404), never a database error."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = 2**63 - 1, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits, min, max, signed)


def render_form(template: str, form: Any, **context: Any):
    """Render a form page: 200 when fresh, 400 when submitted with errors."""
    status = 400 if form.errors or getattr(form, "form_errors", None) else 200
    return render_template(template, form=form, **context), status


def _nav_items() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"nav_items": []}
    from flask import current_app

    endpoints = current_app.view_functions
    here = request.endpoint or ""
    here_section = here.partition(".")[0]
    entries = [(label, e) for label, e in NAV.get(current_user.role, []) if e in endpoints]
    per_section: dict[str, int] = {}
    for _, endpoint in entries:
        section = endpoint.partition(".")[0]
        per_section[section] = per_section.get(section, 0) + 1
    items = []
    for label, endpoint in entries:
        section = endpoint.partition(".")[0]
        if here == endpoint:
            active = True
        elif label == "Home":
            active = False
        elif per_section[section] == 1:
            active = here_section == section
        else:
            active = here.startswith(endpoint.rstrip("s"))
        items.append({"text": label, "href": url_for(endpoint), "active": active})
    return {"nav_items": items}


@bp.get("/")
def index():
    """Show the start page, or send a signed-in user to their home page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return render_template("index.html")


def init_app(app: Flask) -> None:
    """Register the start page, the navigation context processor and the id converter."""
    app.url_map.converters["int"] = Int64Converter
    app.register_blueprint(bp)
    app.context_processor(_nav_items)
    app.add_template_filter(lambda tag: REQUIREMENTS.get(tag, tag), "requirement_name")
