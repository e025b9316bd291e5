"""KSBs in a real browser, with axe-core on every page visited: an officer maps a module
with suggestions and confirms some; an employer's offer gets suggested KSBs; a learner tags
hours with the KSBs practised and the hours' verifier confirms them. Plus the suggestion
CLI on the demo database, and the new pages at 375 px without sideways scrolling."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta

from tests.e2e.conftest import ROOT

OUTCOMES = ("Build responsive web pages with HTML, CSS and JavaScript. Write and test code "
            "for a web application, analyse the results of unit tests and correct the errors "
            "found. Use version control and follow the team's approach to code review.")


def _flash(page) -> str:
    banner = page.locator(".govuk-notification-banner")
    return banner.first.inner_text() if banner.count() else ""


def _no_sideways_scroll(visitor, path: str) -> None:
    page = visitor.page
    page.set_viewport_size({"width": 375, "height": 800})
    visitor.goto(path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{path} is {width} px wide at 375 px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_officer_maps_a_module_with_suggestions_and_confirms_some(visitor, live_db):
    page = visitor.page
    visitor.sign_in("officer@demo.placements.test")
    page.get_by_role("link", name="KSBs", exact=True).click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("link", name="HTQ Software Development").click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("link", name="Add a module").click()
    page.wait_for_load_state("load")
    visitor.check()
    code = f"SWD{time.time_ns() % 100000}"
    page.get_by_label("Module code").fill(code)
    page.get_by_label("Title").fill("Web development")
    page.get_by_role("button", name="Save module").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert code in page.locator("h1").inner_text()
    page.get_by_label("Learning outcomes").fill(OUTCOMES)
    page.get_by_role("button", name="Suggest KSBs").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "new suggestions" in _flash(page)
    module_id = live_db("SELECT id FROM programme_module WHERE code = ?", code)[0][0]
    rows = page.locator("#suggested-form tbody tr")
    assert rows.count() == 10
    # Scores are shown best first with the words that matched.
    scores = [float(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(3)]
    assert scores == sorted(scores, reverse=True)
    first_code = rows.first.locator("td").nth(1).locator("strong").inner_text()
    # Confirm the best one with its own button ...
    rows.first.get_by_role("button", name=re.compile("^Confirm")).click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "1 KSB confirmed." in _flash(page)
    # ... tick two more and confirm them together; reject the next.
    rows = page.locator("#suggested-form tbody tr")
    rows.nth(0).locator("input[type=checkbox]").check()
    rows.nth(1).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Confirm ticked KSBs").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "2 KSBs confirmed." in _flash(page)
    page.locator("#suggested-form tbody tr").first.get_by_role(
        "button", name=re.compile("^Reject")).click()
    page.wait_for_load_state("load")
    visitor.check()
    statuses = dict(live_db("SELECT status, COUNT(*) FROM module_ksb WHERE module_id = ? "
                            "GROUP BY status", module_id))
    assert statuses == {"confirmed": 3, "rejected": 1, "suggested": 6}
    confirmed = [c for (c,) in live_db(
        "SELECT k.code FROM module_ksb l JOIN ksb k ON k.id = l.ksb_id "
        "WHERE l.module_id = ? AND l.status = 'confirmed'", module_id)]
    assert first_code in confirmed
    confirmed_section = page.locator("#confirmed + form, #confirmed ~ form").first.inner_text()
    for c in confirmed:
        assert c in confirmed_section
    # The matrix shows the module's column with its three confirmed KSBs.
    page.get_by_role("link", name="HTQ Software Development").click()
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Coverage matrix").click()
    page.wait_for_load_state("load")
    visitor.check()
    headers = page.locator(".app-ksb-matrix thead th").all_inner_texts()
    column = next(i for i, h in enumerate(headers) if h.startswith(code))
    yes = [row.locator("th").first.inner_text() for row in
           page.locator(".app-ksb-matrix tbody tr").all()
           if row.locator("th, td").nth(column).inner_text().strip() == "Yes"]
    assert sorted(yes) == sorted(confirmed)
    _no_sideways_scroll(visitor, page.url.replace(visitor.base_url, ""))
    _no_sideways_scroll(visitor, f"/officer/ksbs/modules/{module_id}")


def test_employer_offer_gets_suggested_ksbs(visitor, live_db):
    page = visitor.page
    visitor.sign_in("employer@demo.placements.test")
    visitor.goto("/employer/offers")
    page.get_by_role("link", name="Software developer").first.click()
    page.wait_for_load_state("load")
    visitor.check()
    offer_id = int(re.search(r"/offers/(\d+)", page.url).group(1))
    page.get_by_role("link", name="KSBs this placement develops").click()
    page.wait_for_load_state("load")
    visitor.check()
    page.get_by_role("button", name="Suggest KSBs from the description").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "suggested from the description" in _flash(page)
    rows = page.locator("#suggested-form tbody tr")
    assert rows.count() >= 5
    suggested = live_db("SELECT COUNT(*) FROM offer_ksb WHERE offer_id = ? AND "
                        "status = 'suggested'", offer_id)[0][0]
    assert suggested == rows.count()
    rows.nth(0).locator("input[type=checkbox]").check()
    rows.nth(1).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Confirm ticked KSBs").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "2 KSBs confirmed." in _flash(page)
    assert live_db("SELECT COUNT(*) FROM offer_ksb WHERE offer_id = ? AND "
                   "status = 'confirmed'", offer_id)[0][0] == 2
    _no_sideways_scroll(visitor, f"/employer/ksbs/offers/{offer_id}")


def test_learner_tags_hours_with_ksbs_and_the_verifier_confirms(visitor, live_db):
    """learner2 (HTQ Software Development) logs a live employer brief; live briefs are
    verified by the placement officer, who confirms one of the two KSBs tagged."""
    page = visitor.page
    visitor.sign_in("learner2@demo.placements.test")
    page.get_by_role("link", name="Hours", exact=True).click()
    page.wait_for_load_state("load")
    visitor.check()
    learner_id = live_db("SELECT l.id FROM learner l JOIN user u ON u.id = l.user_id "
                         "WHERE u.email = 'learner2@demo.placements.test'")[0][0]
    taken = {d for (d,) in live_db("SELECT entry_date FROM hours_entry WHERE learner_id = ? "
                                   "AND kind = 'live-brief'", learner_id)}
    day = date.today() - timedelta(days=1)
    while day.isoformat() in taken:
        day -= timedelta(days=1)
    page.locator("#entry_date-day").fill(str(day.day))
    page.locator("#entry_date-month").fill(str(day.month))
    page.locator("#entry_date-year").fill(str(day.year))
    page.get_by_label("Hours", exact=True).fill("6")
    page.get_by_label("Live employer brief or project").check()
    page.get_by_text("KSBs you practised (optional)").click()
    page.get_by_label("What you did that shows them").fill(
        "I wrote unit tests for the charity's booking form, fixed the two bugs they found "
        "and merged my branch after code review.")
    page.get_by_label(re.compile(r"^S4 ")).check()
    page.get_by_label(re.compile(r"^S14 ")).check()
    page.get_by_role("button", name="Save hours").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "saved" in _flash(page)
    entry_id = live_db("SELECT id FROM hours_entry WHERE learner_id = ? AND entry_date = ? "
                       "AND kind = 'live-brief'", learner_id, day.isoformat())[0][0]
    claimed = live_db("SELECT k.code, i.status FROM ksb_evidence e JOIN ksb_evidence_item i "
                      "ON i.evidence_id = e.id JOIN ksb k ON k.id = i.ksb_id "
                      "WHERE e.hours_entry_id = ? ORDER BY k.code", entry_id)
    assert claimed == [("S14", "claimed"), ("S4", "claimed")]
    page.get_by_role("link", name="KSBs", exact=True).click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "Evidenced, to confirm" in page.locator("main").inner_text()
    visitor.sign_out()

    visitor.sign_in("officer@demo.placements.test")
    visitor.goto(f"/hours/officer/learners/{learner_id}")
    page.get_by_role("link", name=re.compile("^Check KSBs and verify")).first.click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "I wrote unit tests for the charity's booking form" in page.locator("main") \
        .inner_text()
    page.get_by_label(re.compile(r"^S14 ")).uncheck()
    page.get_by_role("button", name="Verify hours and confirm ticked KSBs").click()
    page.wait_for_load_state("load")
    visitor.check()
    assert "verified" in _flash(page)
    assert live_db("SELECT status FROM hours_entry WHERE id = ?", entry_id)[0][0] == "verified"
    decided = live_db("SELECT k.code, i.status FROM ksb_evidence e JOIN ksb_evidence_item i "
                      "ON i.evidence_id = e.id JOIN ksb k ON k.id = i.ksb_id "
                      "WHERE e.hours_entry_id = ? ORDER BY k.code", entry_id)
    assert decided == [("S14", "not-confirmed"), ("S4", "confirmed")]
    visitor.goto(f"/officer/ksbs/learners/{learner_id}")
    _no_sideways_scroll(visitor, f"/officer/ksbs/learners/{learner_id}")
    visitor.sign_out()

    visitor.sign_in("learner2@demo.placements.test")
    visitor.goto("/learner/ksbs/")
    row = page.locator("tr", has=page.locator("th", has_text=re.compile(r"^S4 ")))
    assert "Confirmed" in row.inner_text()
    _no_sideways_scroll(visitor, "/learner/ksbs/")
    _no_sideways_scroll(visitor, "/hours/")


def _flask(database, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ,
           "PLACEMENTS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
           "PLACEMENTS_SECRET_KEY": "e2e-secret", "FLASK_APP": "wsgi.py"}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, input=stdin, timeout=300,
                          check=False)


def test_suggest_cli_on_the_demo_database(live_database, tmp_path):
    """The CLI as automation calls it, on the database `make run` prepares."""
    text = "Write code, test it and fix the errors found, in a team using version control."
    done = _flask(live_database, "ksb", "suggest", "--standard", "ST0116", "--top", "5",
                  "--json", text)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    assert len(items) == 5
    assert [item["score"] for item in items] == sorted((i["score"] for i in items),
                                                       reverse=True)
    batch = tmp_path / "texts.jsonl"
    batch.write_text("\n".join(json.dumps({"standard": s, "text": t}) for s, t in [
        ("ST0116", text), ("ST0118", "Clean data and build dashboards."),
        ("ST0215", "Take patients' observations and record them.")]), encoding="utf-8")
    done = _flask(live_database, "ksb", "suggest", "--batch", str(batch))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0]) == items
    unknown = _flask(live_database, "ksb", "suggest", "--standard", "ST9999", "--json", text)
    assert unknown.returncode == 2
    assert "unknown standard 'ST9999'" in unknown.stderr
    assert unknown.stdout == ""
    huge = _flask(live_database, "ksb", "suggest", "--standard", "ST0116", "--json", "-",
                  stdin="word " * 210_000)
    assert huge.returncode == 2
    assert "the limit is 20,000" in huge.stderr
