"""Every page at 375 px wide, as each role: nothing wider than the screen, nothing axe-core
reports (WCAG 2.2 AA and its best practices, any impact: a back link outside a landmark is
"moderate").

The pages come from the app's URL map, like the route sweep of
tests/integration/test_security.py: each role starts from its home page and its menu and
follows every link to a page of the app (at most `PER_ENDPOINT` pages of one route), then
visits each route of the URL map it has not reached whose URL arguments it has seen on the
way (a round's id, say), so a new page is measured as soon as it exists. A route that no
role reached fails the test unless `NOT_LINKED` says why the demo data cannot show it.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from placements import create_app
from tests.e2e.conftest import AXE_TAGS, DEMO_PASSWORD, Visitor, _axe_source

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
    "api_keys.revoke_confirm": "needs an API key (the demo has none)",
    "admin_api_keys.revoke_confirm": "needs an API key (the demo has none)",
    "compliance.employer.employer_file": "an uploaded document, always a download (no page)",
    "compliance.officer.officer_file": "an uploaded document, always a download (no page)",
    "ksb.employer.check_hours_employer": "needs hours with KSBs waiting for this employer",
    "ksb.officer.module": "needs a programme module (the e2e data has none)",
    "ksb.officer.module_edit": "needs a programme module (the e2e data has none)",
    "ksb.officer.module_remove": "needs a programme module (the e2e data has none)",
    "reviews.supervise.link": "a supervisor's e-mailed link (a signed token, no login)",
    "reviews.supervise.link_concern": "a supervisor's e-mailed link (a signed token, no login)",
    "reviews.supervise.link_reject": "a supervisor's e-mailed link (a signed token, no login)",
}

#: Routes that answer with a file, not a page.
FILE_SUFFIXES = (".csv", ".json", ".xlsx", ".pdf", ".zip")

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
    """Every GET route that answers with an HTML page (not an endpoint of any file)."""
    files = {rule.endpoint for rule in routes.map.iter_rules()
             if rule.rule.endswith(FILE_SUFFIXES) or rule.rule.startswith("/api/")}
    return {rule.endpoint for rule in routes.map.iter_rules()
            if "GET" in (rule.methods or ()) and rule.endpoint != "static"
            and rule.endpoint not in files}


def _match(routes: MapAdapter, path: str) -> tuple[str | None, dict[str, Any]]:
    try:
        endpoint, args = routes.match(urlsplit(path).path, method="GET")
    except HTTPException:
        return None, {}
    return endpoint, args


#: Links, and the actions of GET forms that are only a button ("Reject", filters).
LINKS = """() => [
    ...Array.from(document.querySelectorAll("a[href]"))
        .filter(a => a.origin === location.origin && !a.hasAttribute("download"))
        .map(a => a.pathname + a.search),
    ...Array.from(document.querySelectorAll("form"))
        .filter(f => (f.getAttribute("method") || "get").toLowerCase() === "get")
        .map(f => new URL(f.action, location.href))
        .filter(u => u.origin === location.origin)
        .map(u => u.pathname)]"""


class Crawl:
    """One role's visit of the app: every page it can reach, measured once per route."""

    def __init__(self, visitor: Visitor, routes: MapAdapter, role: str, pages: set[str],
                 problems: list[str]) -> None:
        self.visitor, self.routes, self.role = visitor, routes, role
        self.pages, self.problems = pages, problems
        self.counts: dict[str, int] = {}
        #: URL arguments seen on the way (round_id: {3}, ...), to build the pages no link
        #: leads to from the URL map.
        self.seen: dict[str, list[Any]] = {}
        self.visited = 0

    def run(self, start: list[str]) -> set[str]:
        """Follow links breadth first, then visit each route of the URL map not reached
        yet whose arguments were all seen; return the routes measured."""
        queue = deque(start)
        queued = set(start)
        while queue and self.visited < MAX_PAGES:
            for link in self.measure(queue.popleft()):
                if link not in queued:
                    queued.add(link)
                    queue.append(link)
        for rule in self.routes.map.iter_rules():
            if rule.endpoint not in self.pages or rule.endpoint in self.counts:
                continue
            if not all(self.seen.get(name) for name in rule.arguments):
                continue
            path = self.routes.build(rule.endpoint, {name: self.seen[name][0]
                                                     for name in rule.arguments})
            self.measure(path, quietly_refused=True)
        return set(self.counts)

    def measure(self, path: str, *, quietly_refused: bool = False) -> list[str]:
        """Visit one page: its width, axe-core; return its links (none if not measured)."""
        endpoint, args = _match(self.routes, path)
        if endpoint not in self.pages or self.counts.get(endpoint, 0) >= PER_ENDPOINT:
            return []
        page = self.visitor.page
        try:
            response = page.goto(self.visitor.base_url + path)
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                return []  # a file after all
            raise
        page.wait_for_load_state("load")
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            return []
        if quietly_refused and response.status != 200:
            return []  # built from the URL map: not a page of this role, or not now
        self.visited += 1
        where = f"{self.role}: {path}"
        if response.status >= 500:
            self.problems.append(f"{where} answered {response.status}")
            return []
        # Measured (a refusal page too, such as an e-mailed link that is not valid).
        self.counts[endpoint] = self.counts.get(endpoint, 0) + 1
        if response.status == 200:
            for name, value in args.items():
                self.seen.setdefault(name, []).append(value)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            widest = page.evaluate(WIDEST, WIDTH)
            self.problems.append(f"{where} is {width} px wide at {WIDTH} px: {widest}")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(_axe_source())
        for violation in page.evaluate(AXE_ALL, [*AXE_TAGS, "best-practice"]):
            self.problems.append(f"{where}: axe: {violation}")
        return page.evaluate(LINKS)


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
            reached |= Crawl(visitor, routes, role, pages, problems).run(start)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
    unreached = sorted(pages - reached - set(NOT_LINKED))
    assert not unreached, (
        f"No role reached these pages, by links or from the URL map: {unreached}. Link to "
        "them, or say in NOT_LINKED why the demo data cannot show them.")
