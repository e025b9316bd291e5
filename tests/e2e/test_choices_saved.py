"""A learner reorders their choices with JavaScript: each move is saved as it happens
("Saved" in the status line), so nothing is lost on leaving the page; a move the server
refuses says so, keeps the order on screen, and the page warns before leaving."""

from __future__ import annotations

import re

DEMO_LEARNER = "learner@demo.placements.test"


def _ranked(page) -> list[str]:
    return page.locator("ol[data-rank-list] > li").evaluate_all(
        "items => items.map(li => li.querySelector('input[name=order]').value)")


def _at_least_two_choices(visitor) -> str:
    """Make sure the learner has two choices; return the choices page's path."""
    page = visitor.page
    visitor.goto("/learner/offers")
    link = page.get_by_role("link", name="See and order your choices")
    choices = link.get_attribute("href")
    visitor.goto(choices)
    while len(_ranked(page)) < 2:
        visitor.goto("/learner/offers")
        page.get_by_role("button", name=re.compile("^Add to my choices")).first.click()
        page.wait_for_load_state("load")
        visitor.goto(choices)
    return choices


def test_each_move_is_saved_and_survives_leaving_the_page(visitor):
    page = visitor.page
    visitor.sign_in(DEMO_LEARNER)
    choices = _at_least_two_choices(visitor)
    before = _ranked(page)
    page.locator(f'button[name=move][value="down:{before[0]}"]').click()
    status = page.locator("[data-rank-live]")
    status.filter(has_text="Saved.").wait_for()
    assert "to position 2" in status.inner_text()
    moved = _ranked(page)
    assert moved[:2] == [before[1], before[0]]
    visitor.check()
    # Leaving asks nothing (everything is saved); coming back shows the new order.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("link", name="Home").first.click()
    page.wait_for_load_state("load")
    assert dialogs == []
    visitor.goto(choices)
    assert _ranked(page) == moved
    # Put the demo back as it was.
    page.locator(f'button[name=move][value="up:{before[0]}"]').click()
    status.filter(has_text="Saved.").wait_for()
    visitor.goto(choices)
    assert _ranked(page) == before


def test_a_refused_move_keeps_the_order_and_warns_before_leaving(visitor):
    page = visitor.page
    visitor.sign_in(DEMO_LEARNER)
    choices = _at_least_two_choices(visitor)
    before = _ranked(page)
    # The server refuses the next save (as when the deadline has just passed).
    page.route(re.compile(r".*/choices$"), lambda route: route.fulfill(
        status=400, content_type="application/json",
        body='{"saved": false, "error": "The deadline for choosing placements has passed"}')
        if route.request.method == "POST" else route.continue_())
    page.locator(f'button[name=move][value="down:{before[0]}"]').click()
    status = page.locator("[data-rank-live]")
    status.filter(has_text="Not saved").wait_for()
    assert "deadline for choosing placements has passed" in status.inner_text()
    assert _ranked(page)[:2] == [before[1], before[0]]  # kept on screen
    visitor.check()
    # Leaving now asks first; staying keeps the page.
    dialogs: list[str] = []

    def answer(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.get_by_role("link", name="Home").first.click()
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(choices)
    page.unroute(re.compile(r".*/choices$"))
    # Nothing was saved: the server still has the old order.
    page.remove_listener("dialog", answer)
    page.on("dialog", lambda dialog: dialog.accept())
    visitor.goto(choices)
    assert _ranked(page) == before
