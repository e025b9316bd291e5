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


def test_employer_registers_and_offers_places(visitor, live_db):
    page = visitor.page
    email = f"dee{time.time_ns()}@delta.example"
    visitor.goto("/auth/register")
    page.get_by_label("Organisation name").fill("Delta Engineering")
    page.get_by_label("Main sector").select_option(label="Digital")
    page.get_by_label("Postcode of your main site").fill("M15 4FN")
    page.get_by_label("Your full name").fill("Dee Delta")
    page.get_by_label("Your work email address").fill(email)
    page.get_by_role("textbox", name="Password", exact=True).fill("delta engineering 2027")
    page.get_by_role("textbox", name="Confirm password").fill("delta engineering 2027")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_role("heading", name=re.compile("Check your email", re.I)).is_visible()
    # The address is confirmed from the e-mailed link.
    body = live_db("SELECT body FROM outbox_message WHERE to_address = ? ORDER BY id DESC",
                   email)[0][0]
    visitor.goto(re.search(r"/auth/confirm/[A-Za-z0-9_\-]+", body).group(0))
    page.get_by_role("button", name=re.compile("Confirm")).click()
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


def _wait_for_run(visitor) -> None:
    page = visitor.page
    from playwright.sync_api import Error

    deadline = time.monotonic() + 120
    url = page.url
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        try:  # the page reloads itself when the run ends: never race it
            page.goto(url)
            if not page.locator("[data-poll-url]").count():
                break
        except Error:
            continue
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_role("heading", name="Results").is_visible(), page.content()[:3000]


def _summary(page, key: str) -> str:
    row = page.locator(".govuk-summary-list__row", has=page.locator(
        ".govuk-summary-list__key", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$")))
    return row.locator(".govuk-summary-list__value").inner_text().strip()


def test_officer_runs_closes_choices_publishes_and_repairs_after_a_decline(visitor, live_db,
                                                                        give_demo_password):
    page = visitor.page
    visitor.sign_in(DEMO["officer"])
    visitor.goto("/officer/rounds/")
    rounds = [p for p in page.locator("main a").evaluate_all("els => els.map(e => e.pathname)")
              if re.fullmatch(r"/officer/rounds/\d+", p)]
    assert rounds, "the demo officer has no round"
    round_path = next(p for p in rounds if visitor.goto(p) and page.get_by_role(
        "button", name="Run allocation").count())
    round_id = int(round_path.rsplit("/", 1)[1])
    page.get_by_role("button", name="Run allocation").click()
    page.wait_for_load_state("load")
    assert "/runs/" in page.url, page.url
    visitor.check()
    _wait_for_run(visitor)
    assert page.get_by_role("heading", name="What this run changes").is_visible()
    visitor.goto(round_path + "/placements")

    # Choices are still open (the demo deadline is weeks away): no publishing yet.
    visitor.goto(round_path)
    assert page.get_by_role("link", name="Check and publish").count() == 0
    assert page.get_by_text("Learners can still change their choices until").first.is_visible()
    page.get_by_role("link", name="Close choices early").click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("button", name="Close choices and tell learners").click()
    page.wait_for_load_state("load")
    assert page.locator(".govuk-error-summary").is_visible()  # a reason is needed
    visitor.check()
    page.get_by_label("Why choices close before the deadline").fill(
        "Employers confirmed their places early")
    page.get_by_role("button", name="Close choices and tell learners").click()
    page.wait_for_load_state("load")
    visitor.check()
    told = int(re.search(r"Choices are closed\. (\d+) learner", page.content()).group(1))
    assert told == live_db("SELECT count(*) FROM outbox_message WHERE round_id = ? AND "
                           "subject LIKE 'Choices have closed%'", round_id)[0][0] > 0

    # The confirmation page says exactly who is e-mailed, and that is who is e-mailed.
    page.get_by_role("link", name="Check and publish").click()
    page.wait_for_load_state("load")
    visitor.check()
    learners = int(_summary(page, "Learners e-mailed"))
    employer_emails = int(re.search(r"\((\d+) e-mail", _summary(page, "Employers e-mailed"))
                          .group(1))
    placed = int(_summary(page, "New placements"))
    assert learners == placed + int(_summary(page, "Learners told they were not placed"))
    in_round = live_db("SELECT count(*) FROM placement WHERE round_id = ?", round_id)[0][0]
    assert placed == in_round
    before = live_db("SELECT max(id) FROM outbox_message")[0][0]
    page.get_by_role("button", name=re.compile(r"^Publish and send \d+ e-mails?$")).click()
    page.wait_for_load_state("load")
    visitor.check()
    # Publishing runs in the background; the round page follows it and says when it is done.
    page.get_by_text(re.compile(r"^Publication 1 went out on ")).wait_for(timeout=90000)
    visitor.check()
    assert "Published: " in page.locator("main").inner_text()
    sent = live_db("SELECT to_address, subject FROM outbox_message WHERE id > ?", before)
    assert len(sent) == learners + employer_emails
    assert len({to for to, _ in sent}) == len(sent)  # nobody twice

    # A learner declines; the officer sees her to place again; a repair names the change.
    email, name = live_db(
        "SELECT u.email, u.name FROM placement p JOIN learner l ON l.id = p.learner_id "
        "JOIN user u ON u.id = l.user_id WHERE p.round_id = ? AND p.status = 'published' "
        "ORDER BY p.id LIMIT 1", round_id)[0]
    give_demo_password(email)  # demo learners other than the two logins have none
    visitor.sign_out()
    visitor.sign_in(email)
    visitor.goto("/learner/placement")
    page.get_by_role("link", name="Decline placement").first.click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_label(re.compile("Why")).fill("I have moved away")
    page.get_by_role("button", name=re.compile("Decline")).click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text(re.compile("^You declined ")).first.is_visible()
    visitor.sign_out()
    visitor.sign_in(DEMO["officer"])
    visitor.goto(round_path)
    assert page.get_by_role("heading", name=re.compile(r"To place again \(1\)")).is_visible()
    assert page.locator("#to-place-again ~ div").get_by_text(name).first.is_visible()
    page.get_by_role("button", name="Run repair").click()
    page.wait_for_load_state("load")
    _wait_for_run(visitor)
    changes = page.locator("main table").filter(has_text=name)
    assert changes.count(), "the repair does not name the learner who declined"
    line = changes.locator("tr", has_text=name).first.inner_text()
    assert "Declined" in line or "Not placed" in line, line
    for kind in ("Moved", "Newly placed", "Lost a place"):
        link = page.get_by_role("link", name=re.compile(f"^{kind} \\(\\d+\\)$"))
        if link.count():
            link.click()
            page.wait_for_load_state("load")
            visitor.check()
    visitor.goto(round_path)
    if page.get_by_role("link", name="Check and publish").count():
        page.get_by_role("link", name="Check and publish").click()
        page.wait_for_load_state("load")
        visitor.check()
        assert "These are the changes since publication 1" in page.content()


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
