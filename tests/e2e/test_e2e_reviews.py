"""Placement reviews in a real browser (axe-core on every page): a supervisor without an
account verifies hours and completes a mid-point review from an e-mailed link (read from
the message as delivered: the officers' outbox page hides it); the link is
refused when replayed and once expired; a concern the supervisor raises reaches the
officer, who takes it. The demo's autumn round provides the placements."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import Visitor

EMPLOYER = "employer@demo.placements.test"
OFFICER = "officer@demo.placements.test"


def _links_in_mail(visitor: Visitor, database, address: str) -> dict[str, str]:
    """The links of the latest e-mail to the supervisor, as delivered (the development
    outbox stores it whole); the officers' outbox page hides them. Keyed by task ("hours",
    "Mid-point review", ...)."""
    with closing(sqlite3.connect(database)) as conn:
        (body,) = conn.execute("SELECT body FROM outbox_message WHERE to_address = ? "
                               "ORDER BY id DESC LIMIT 1", (address,)).fetchone()
    visitor.sign_in(OFFICER)
    visitor.goto("/officer/outbox")
    card = visitor.page.locator(".govuk-summary-card", has_text=f"To {address}").first
    shown = card.locator("pre").inner_text()
    assert "/reviews/supervise/[link sent only to the addressee]" in shown
    assert "/reviews/supervise/ey" not in shown
    visitor.sign_out()
    links = {}
    for line in body.splitlines():
        match = re.search(r"https?://[^/\s]+(/reviews/supervise/\S+)", line)
        if match:
            task = "hours" if "hours" in line else line.lstrip("- ").split(",")[0]
            links[task] = match.group(1)
    return links


def test_supervisor_uses_links_without_an_account(browser, live_server, live_database,
                                                  visitor):
    page = visitor.page
    # The employer sends the supervisor of a learner whose mid-point review is overdue
    # their links again.
    visitor.sign_in(EMPLOYER)
    visitor.goto("/reviews/employer/")
    row = page.locator("tbody tr", has_text="Mid-point review").filter(has_text="Overdue").first
    learner = row.locator("a").first.inner_text()
    row.locator("a").first.click()
    page.wait_for_load_state("load")
    visitor.check()
    address = page.locator(".govuk-summary-list__row", has_text="Email").first.locator(
        ".govuk-summary-list__value").inner_text().strip()
    page.get_by_role("button", name="E-mail the supervisor their links now").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text(f"has been e-mailed their links at {address}").is_visible()
    visitor.sign_out()
    links = _links_in_mail(visitor, live_database, address)
    assert {"hours", "Mid-point review"} <= set(links), links

    # The supervisor, in a browser that has never signed in.
    context = browser.new_context(base_url=live_server)
    supervisor = Visitor(context.new_page(), live_server)
    try:
        spage = supervisor.page
        supervisor.goto(links["hours"])
        assert spage.get_by_role("heading", name=f"{learner}'s hours").is_visible()
        assert spage.get_by_role("button", name="Sign out").count() == 0
        waiting = spage.get_by_role("button", name=re.compile("^Verify"))
        before = waiting.count()
        assert before >= 1
        waiting.first.click()
        spage.wait_for_load_state("load")
        supervisor.check()
        assert spage.get_by_text(re.compile(r"hours on .* verified")).is_visible()
        assert spage.get_by_role("button", name=re.compile("^Verify")).count() == before - 1

        # A concern, from the same link.
        spage.get_by_role("link", name="raise a concern").click()
        spage.wait_for_load_state("load")
        supervisor.check()
        spage.get_by_label("Wellbeing").check()
        spage.get_by_label("Describe the concern").fill(
            "Seemed very low this week and said they are not sleeping.")
        spage.get_by_role("button", name="Send the concern to the placement officer").click()
        spage.wait_for_load_state("load")
        supervisor.check()
        assert spage.get_by_text("Your concern has been sent").is_visible()

        # The mid-point review.
        supervisor.goto(links["Mid-point review"])
        assert spage.get_by_role("heading", name=re.compile("Mid-point review")).is_visible()
        spage.get_by_role("button", name="Submit this review").click()
        spage.wait_for_load_state("load")
        supervisor.check()  # the error summary is accessible too
        assert spage.locator(".govuk-error-summary").is_visible()
        spage.locator("input[name=attendance][value='4']").check()
        spage.locator("input[name=progress][value='3']").check()
        spage.locator("textarea[name=progress_note]").fill("Two objectives done, one to go.")
        spage.locator("textarea[name=strengths]").fill("Careful and curious.")
        spage.locator("textarea[name=development]").fill("Speaking up in stand-ups.")
        spage.get_by_role("button", name="Submit this review").click()
        spage.wait_for_load_state("load")
        supervisor.check()
        assert spage.get_by_role("heading", name="Review sent").is_visible()

        # Replayed: refused.
        response = supervisor.goto(links["Mid-point review"])
        assert response.status == 410
        assert spage.get_by_text("already been used").is_visible()

        # Expired (time passes: the link's expiry moves into the past): refused.
        token = links["hours"].rsplit("/", 1)[1]
        past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        with closing(sqlite3.connect(live_database)) as conn, conn:
            changed = conn.execute(
                "UPDATE supervisor_link SET expires_at = ? WHERE token_hash = ?",
                (past, hashlib.sha256(token.encode()).hexdigest())).rowcount
        assert changed == 1
        response = supervisor.goto(links["hours"])
        assert response.status == 410
        assert spage.get_by_text("This link expired").is_visible()
    finally:
        context.close()

    # The concern reached the officer, who takes it.
    visitor.sign_in(OFFICER)
    visitor.goto("/reviews/officer/")
    concern = page.locator("tbody tr", has_text=learner).filter(has_text="Wellbeing").first
    concern.get_by_role("link", name=re.compile("Read the concern")).click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text("not sleeping").is_visible()
    page.get_by_role("button", name="Take this concern yourself").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text("You own this concern now").is_visible()
    # The review the supervisor completed shows on the placement's page.
    page.get_by_role("link", name="See the placement's reviews and supervisor").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert page.get_by_text("Two objectives done, one to go.").is_visible()
