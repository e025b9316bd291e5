"""The three journeys of the issue in a real browser, with axe-core on every page visited:
an employer registers and offers places; a learner ranks offers; an officer runs an
allocation, watches its progress, reviews and publishes. Plus every menu page of each role."""

from __future__ import annotations

import re
import time

import pytest

DEMO = {
    "admin": "admin@demo.placements.test",
    "officer": "officer@demo.placements.test",
    "employer": "employer@demo.placements.test",
    "learner": "learner@demo.placements.test",
}


@pytest.mark.parametrize("role", list(DEMO))
def test_each_role_signs_in_and_every_menu_page_is_accessible(visitor, role):
    visitor.sign_in(DEMO[role])
    paths = [p for p in visitor.nav_paths() if not p.startswith("/auth/")]
    assert paths, "no menu"
    for path in paths:
        response = visitor.goto(path)
        assert response.status == 200, path
    visitor.goto("/auth/password")
    visitor.sign_out()
    assert "/auth/login" in visitor.page.url
    visitor.check()


def test_pages_without_sign_in_are_accessible(visitor):
    for path in ("/auth/login", "/auth/register"):
        visitor.goto(path)
    response = visitor.goto("/no-such-page")
    assert response.status == 404
    # A form with errors: the error summary is accessible too.
    visitor.goto("/auth/login")
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_load_state("load")
    assert visitor.page.locator(".govuk-error-summary").is_visible()
    visitor.check()


def test_employer_registers_and_offers_places(visitor):
    page = visitor.page
    visitor.goto("/auth/register")
    page.get_by_label("Organisation name").fill("Delta Engineering")
    page.get_by_label("Main sector").select_option(label="Digital")
    page.get_by_label("Postcode of your main site").fill("M15 4FN")
    page.get_by_label("Your full name").fill("Dee Delta")
    page.get_by_label("Your work email address").fill(f"dee{time.time_ns()}@delta.example")
    page.get_by_role("textbox", name="Password", exact=True).fill("delta engineering 2027")
    page.get_by_role("textbox", name="Confirm password").fill("delta engineering 2027")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/employer/"), page.url
    visitor.check()

    visitor.goto("/employer/offers/new")
    page.get_by_label("Title").fill("Junior data engineer")
    page.get_by_label("Description").fill("Build data pipelines with our platform team.")
    page.get_by_label("Sector (occupational route)").select_option(label="Digital")
    page.get_by_label("Number of places").fill("3")
    for field, (day, month, year) in (("start_date", ("1", "2", "2027")),
                                      ("end_date", ("30", "4", "2027"))):
        page.locator(f"#{field}-day").fill(day)
        page.locator(f"#{field}-month").fill(month)
        page.locator(f"#{field}-year").fill(year)
    page.get_by_label("Hours per week").fill("30")
    work_mode = page.locator("input[name=work_mode]")
    if work_mode.count():
        work_mode.first.check()
    page.get_by_role("button", name="Save offer").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.locator(".govuk-error-summary").count() == 0, page.content()[:3000]
    visitor.goto("/employer/offers")
    assert page.get_by_text("Junior data engineer").first.is_visible()


def test_learner_ranks_offers(visitor):
    page = visitor.page
    visitor.sign_in(DEMO["learner"])
    visitor.goto("/learner/offers")
    buttons = page.get_by_role("button", name=re.compile("^Add to my choices"))
    count = min(buttons.count(), 2)
    assert count >= 1, "the demo learner sees no offers to choose"
    for _ in range(count):
        page.get_by_role("button", name=re.compile("^Add to my choices")).first.click()
        page.wait_for_load_state("load")
        visitor.check()
    visitor.goto("/learner/")
    link = page.get_by_role("link", name=re.compile("choice", re.I)).first
    link.click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "/choices" in page.url
    ranked = page.locator("ol li, .app-rank-list li")
    assert ranked.count() >= count
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text("Your choices have been saved").is_visible()


def test_officer_runs_an_allocation_watches_reviews_and_publishes(visitor):
    page = visitor.page
    visitor.sign_in(DEMO["officer"])
    visitor.goto("/officer/rounds/")
    rounds = [p for p in page.locator("main a").evaluate_all("els => els.map(e => e.pathname)")
              if re.fullmatch(r"/officer/rounds/\d+", p)]
    assert rounds, "the demo officer has no round"
    visitor.goto(rounds[0])
    page.get_by_role("button", name="Run allocation").click()
    page.wait_for_load_state("load")
    assert "/runs/" in page.url, page.url
    visitor.check()
    # Progress is polled by the page's script; wait for the run to finish.
    deadline = time.monotonic() + 120
    while page.locator("[data-poll-url]").count() and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_role("heading", name="Results").is_visible(), page.content()[:3000]
    run_url = page.url
    round_url = run_url.split("/runs/")[0]
    visitor.goto(round_url.removeprefix(visitor.base_url) + "/placements")
    visitor.goto(round_url.removeprefix(visitor.base_url))
    page.get_by_role("button", name="Publish allocation").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.locator(".govuk-notification-banner, .govuk-panel").first.is_visible()


def test_officer_creates_uses_and_revokes_an_api_key(visitor):
    """The key pages and the API reference, in the browser with axe; the key works once
    created and stops at once when revoked."""
    page = visitor.page
    visitor.sign_in(DEMO["officer"])
    page.get_by_role("link", name=re.compile("API keys")).click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("link", name="Create a key").click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("button", name="Create key").click()  # nothing chosen: errors
    page.wait_for_load_state("load")
    assert page.locator(".govuk-error-summary").is_visible()
    visitor.check()
    page.get_by_label("What is the key for?").fill("Browser test sync")
    page.get_by_label(re.compile(r"Read programmes")).check()
    page.get_by_label("In 30 days").check()
    page.get_by_role("button", name="Create key").click()
    page.wait_for_load_state("load")
    visitor.check()
    token = page.locator("#api-key").input_value()
    assert token.startswith("plk_")
    api = page.context.request
    answer = api.get(visitor.base_url + "/api/v1/programmes",
                     headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    assert answer.json()["data"]
    visitor.goto("/officer/api-keys/")
    assert token not in page.content()
    page.get_by_role("link", name=re.compile(r"^Revoke.*Browser test sync")).click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "has been revoked" in page.content()
    assert api.get(visitor.base_url + "/api/v1/programmes",
                   headers={"Authorization": f"Bearer {token}"}).status == 401
    visitor.goto("/api/v1/docs")
