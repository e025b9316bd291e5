"""Every page at 375 px wide, as each role: nothing wider than the screen, nothing axe-core
reports (WCAG 2.2 AA and its best practices, any impact: a back link outside a landmark is
"moderate").

The pages come from the app's URL map, like the route sweep of
tests/integration/test_security.py: each role starts from its home page and its menu and
follows every link to a page of the app (at most `PER_ENDPOINT` pages of one route), so a
new page is measured as soon as something links to it. A route that no role reached fails
the test unless `NOT_LINKED` says why the demo data cannot reach it.
"""

from __future__ import annotations

from collections import deque
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from placements import create_app
from tests.e2e.conftest import AXE_TAGS, DEMO_PASSWORD, Visitor

WIDTH = 375
#: Pages of one route measured per role.
PER_ENDPOINT = 1
#: Most pages one role visits (a safety net against a crawl that never ends).
MAX_PAGES = 150

ROLES = {
    "anonymous": None,
    "admin": "admin@demo.placements.test",
    "officer": "officer@demo.placements.test",
    "employer": "employer@demo.placements.test",
    "employer awaiting approval": "newemployer@demo.placements.test",
    "employer not approved": "rejected@demo.placements.test",
    "learner": "learner@demo.placements.test",
    "learner without a mandated placement": "learner2@demo.placements.test",
}

#: Where anonymous visitors start besides the home page: e-mailed links that no page links
#: to (an unknown token shows the "link not valid" page).
ANONYMOUS_START = ["/auth/login", "/auth/register", "/auth/forgotten-password",
                   "/auth/invitation/not-a-real-token", "/auth/reset/not-a-real-token",
                   "/auth/confirm/not-a-real-token"]

#: Pages a role starts from besides its home page and menu (linked only in some states).
ROLE_START = {
    "learner": ["/learner/placement"],  # linked once a placement is published
}

#: Routes the demo data gives no link to (with why); measured whenever a link does appear.
NOT_LINKED = {
    "employers.placement_respond": "needs a published placement (the demo publishes none)",
    "learners.placement_decline": "needs a published placement (the demo publishes none)",
    "hours.employer.reject": "needs hours waiting for this employer's verification",
    "imports.job": "needs an import to have been run",
    "insights.fairness": "needs an allocation run",
    "rounds.run": "needs an allocation run",
}

#: Routes that answer with a file, not a page.
FILE_SUFFIXES = (".csv", ".json")

AXE_ALL = """tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
    .then(r => r.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
                                     v.nodes.slice(0, 3).map(n => n.target.join(" "))
                                            .join(", ")))"""

#: The elements that stick out on the right, or whose text does, to name in a failure.
WIDEST = """width => Array.from(document.querySelectorAll("body *"))
    .filter(el => !el.closest(".app-table-scroll") &&
                  (el.getBoundingClientRect().right > width + 1 ||
                   (el.scrollWidth > el.clientWidth + 1 &&
                    getComputedStyle(el).overflowX === "visible" && el.clientWidth > 0)))
    .slice(-5)
    .map(el => `<${el.tagName.toLowerCase()} class="${el.className}"> ` +
               `"${(el.textContent || "").trim().slice(0, 40)}" ending at ` +
               `${Math.round(el.getBoundingClientRect().right)} px, ` +
               `${el.scrollWidth} px of content in ${el.clientWidth} px`)"""


@pytest.fixture(scope="module")
def routes() -> MapAdapter:
    """The app's URL map (an app of its own: nothing is served or stored by it)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "url-map-only",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return app.url_map.bind("localhost")


def _pages(routes: MapAdapter) -> set[str]:
    """Every GET route that answers with an HTML page."""
    return {rule.endpoint for rule in routes.map.iter_rules()
            if "GET" in (rule.methods or ()) and rule.endpoint != "static"
            and not rule.rule.endswith(FILE_SUFFIXES)}


def _endpoint(routes: MapAdapter, path: str) -> str | None:
    try:
        endpoint, _args = routes.match(urlsplit(path).path, method="GET")
    except HTTPException:
        return None
    return endpoint


def _crawl(visitor: Visitor, routes: MapAdapter, role: str, start: list[str],
           pages: set[str], problems: list[str]) -> set[str]:
    """Visit the role's pages breadth first; return the routes measured."""
    page = visitor.page
    queue = deque(start)
    queued = set(start)
    counts: dict[str, int] = {}
    visited = 0
    while queue and visited < MAX_PAGES:
        path = queue.popleft()
        endpoint = _endpoint(routes, path)
        if endpoint not in pages or counts.get(endpoint, 0) >= PER_ENDPOINT:
            continue
        response = page.goto(visitor.base_url + path)
        page.wait_for_load_state("load")
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        counts[endpoint] = counts.get(endpoint, 0) + 1
        visited += 1
        where = f"{role}: {path}"
        if response.status >= 500:
            problems.append(f"{where} answered {response.status}")
            continue
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            widest = page.evaluate(WIDEST, WIDTH)
            problems.append(f"{where} is {width} px wide at {WIDTH} px: {widest}")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            from tests.e2e.conftest import _axe_source

            page.evaluate(_axe_source())
        for violation in page.evaluate(AXE_ALL, [*AXE_TAGS, "best-practice"]):
            problems.append(f"{where}: axe: {violation}")
        links = page.locator("a[href]").evaluate_all(
            "els => els.filter(a => a.origin === location.origin && !a.hasAttribute('download'))"
            ".map(a => a.pathname + a.search)")
        for link in links:
            if link not in queued:
                queued.add(link)
                queue.append(link)
    return set(counts)


def test_every_page_fits_a_narrow_screen_and_passes_axe(browser, live_server, routes):
    pages = _pages(routes)
    problems: list[str] = []
    reached: set[str] = set()
    for role, email in ROLES.items():
        context = browser.new_context(base_url=live_server,
                                      viewport={"width": WIDTH, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15000)
        visitor = Visitor(page, live_server)
        try:
            start = ["/"]
            if email is None:
                start += ANONYMOUS_START
            else:
                visitor.sign_in(email, DEMO_PASSWORD)
                start += visitor.nav_paths() + ["/auth/password", *ROLE_START.get(role, [])]
            reached |= _crawl(visitor, routes, role, start, pages, problems)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
    unreached = sorted(pages - reached - set(NOT_LINKED))
    assert not unreached, (
        f"No role reached these pages by following links: {unreached}. Link to them, or "
        "say in NOT_LINKED why the demo data has no link to them.")
