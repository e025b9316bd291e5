"""Duty of care in a real browser, axe-core on every page: an employer whose insurance lapses
before its placements start sees its offers held back and the officer sees why (they are
out of the next run's problem file); it uploads a renewed certificate, the officer accepts
it, and the offers are back in the next run. A file that is not a PDF, PNG or JPEG is
refused whatever its name. Every compliance page at desktop width and at 375 px."""

from __future__ import annotations

import json
import re

from tests.e2e.test_e2e_journeys import DEMO

LAPSING = "employer2@demo.placements.test"
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n"
       b"%%EOF\n")


def _round_path(visitor) -> str:
    visitor.goto("/officer/rounds/")
    rounds = [p for p in visitor.page.locator("main a").evaluate_all(
        "els => els.map(e => e.pathname)") if re.fullmatch(r"/officer/rounds/\d+", p)]
    assert rounds
    return rounds[0]


def _problem_offers(visitor, round_path: str) -> set[str]:
    response = visitor.page.request.get(visitor.base_url + round_path + "/problem.json")
    assert response.ok
    return {o["id"] for o in json.loads(response.body())["offers"]}


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px at 375 px"


def test_lapsed_insurance_holds_offers_back_until_a_renewal_is_accepted(visitor):
    page = visitor.page
    # The employer sees what is wrong, and why it matters.
    visitor.sign_in(LAPSING)
    visitor.goto("/employer/compliance/")
    requirements = page.locator("#requirements").inner_text()
    assert "Expires soon" in requirements
    assert "cannot be allocated learners" in requirements
    visitor.goto("/employer/offers")
    offer_ids = sorted({f"O{m}" for m in re.findall(r"/employer/offers/(\d+)", " ".join(
        page.locator("main a").evaluate_all("els => els.map(e => e.pathname)")))})
    assert offer_ids
    visitor.sign_out()

    # The officer: the round lists the offers held back, with the reason, and the next
    # run's problem file leaves them out.
    visitor.sign_in(DEMO["officer"])
    round_path = _round_path(visitor)
    visitor.goto(round_path)
    page.get_by_role("link", name=re.compile("see which, and what would unblock them")).click()
    page.wait_for_load_state("load")
    visitor.check()
    blocked = page.locator("#blocked").inner_text()
    assert "expires before the placement starts" in blocked
    assert not set(offer_ids) & _problem_offers(visitor, round_path)
    visitor.sign_out()

    # The employer uploads a renewal; a file that only pretends to be a PDF is refused.
    visitor.sign_in(LAPSING)
    visitor.goto("/employer/compliance/")
    page.get_by_role("link", name=re.compile("Upload a renewal Employer's liability")).click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_label("Insurer").fill("Aviva")
    page.get_by_label("Policy number").fill("EL-778899")
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("2029")
    page.get_by_label("Insurance certificate").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf",
         "buffer": b"<html><body>not a pdf</body></html>"})
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "The file must be a PDF, PNG or JPEG" in page.locator(
        ".govuk-error-summary").inner_text()
    assert page.get_by_label("Policy number").input_value() == "EL-778899"
    page.get_by_label("Insurance certificate").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": PDF})
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "has been submitted" in page.locator(".govuk-notification-banner").inner_text()
    visitor.sign_out()

    # The officer opens it from the dashboard and accepts it: the offers are back.
    visitor.sign_in(DEMO["officer"])
    visitor.goto("/officer/compliance/")
    link = page.locator("table a[href*='/officer/compliance/items/']").filter(
        has_text="Employer's liability insurance")
    hrefs = link.evaluate_all("els => els.map(e => e.pathname)")
    item = None
    for href in hrefs:
        visitor.goto(href)
        if "EL-778899" in page.locator("main").inner_text():
            item = href
            break
    assert item, "the renewal is not waiting for review"
    visitor.check()
    download = page.get_by_role("link", name=re.compile("Download certificate.pdf"))
    response = page.request.get(visitor.base_url + download.evaluate("e => e.pathname"))
    assert response.body() == PDF
    assert response.headers["content-disposition"].startswith("attachment")
    page.get_by_role("button", name="Accept").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "has been accepted" in page.locator(".govuk-notification-banner").inner_text()
    assert set(offer_ids) <= _problem_offers(visitor, round_path)


def _sign_out_narrow(visitor) -> None:
    """Sign out (the menu folds away at 375 px), then go back to 375 px."""
    visitor.page.set_viewport_size({"width": 1024, "height": 800})
    visitor.sign_out()
    visitor.page.set_viewport_size({"width": 375, "height": 800})


def test_compliance_pages_at_375_px(visitor):
    page = visitor.page
    page.set_viewport_size({"width": 375, "height": 800})
    visitor.sign_in(DEMO["officer"])
    for path in ("/officer/compliance/", "/officer/compliance/types",
                 "/officer/compliance/employers"):
        visitor.goto(path)
        _no_sideways_scroll(page)
    page.locator("a[href*='/officer/compliance/employers/']").first.click()
    page.wait_for_load_state("load")
    visitor.check()
    _no_sideways_scroll(page)
    _sign_out_narrow(visitor)
    visitor.sign_in(DEMO["employer"])
    for path in ("/employer/compliance/", "/employer/compliance/limits"):
        visitor.goto(path)
        _no_sideways_scroll(page)
    _sign_out_narrow(visitor)
    visitor.sign_in(DEMO["learner"])
    visitor.goto("/learner/checks/")
    _no_sideways_scroll(page)
    visitor.goto("/learner/checks/dbs")
    _no_sideways_scroll(page)
