"""Browser tests: the real app (migrated SQLite database, demo data) served on a free loopback
port in a subprocess, driven by Playwright with Debian's chromium, and every page checked with
axe-core for WCAG 2.2 AA.

Never `playwright install`: the browser is Debian's /usr/bin/chromium (scripts/ensure-chromium.sh
installs it; `make test` runs that first).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: axe-core from node_modules (a test tool: never in the production bundle).
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DEMO_PASSWORD = "placements-demo"
AXE_RUN = """tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
    .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))})))"""


def _missing(what: str) -> None:
    """Skip on a developer's machine without the browser; fail in CI, which must have it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI must run the browser tests)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Where the live server's database is (set by `live_server`), for tests that compare
#: what pages say with what the database holds.
LIVE: dict[str, Path] = {}


@contextlib.contextmanager
def serve_demo(workdir: Path, prepare: str | None = None) -> Iterator[str]:
    """Migrate and seed a fresh demo database in `workdir`, run the Python source `prepare`
    against it (an app context is open; `db` and the models are imported), serve the app on a
    free loopback port and yield its base URL."""
    env = {
        **os.environ,
        "PLACEMENTS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'e2e.sqlite'}",
        "PLACEMENTS_SECRET_KEY": "e2e-secret",
        "PLACEMENTS_RATELIMIT_ENABLED": "false",
        "PLACEMENTS_UPLOAD_DIR": str(workdir / "uploads"),
        "FLASK_APP": "wsgi.py",
    }
    for variable in ("DATABASE_URL", "CELERY_BROKER_URL"):  # this server stands alone
        env.pop(variable, None)
    flask = [sys.executable, "-m", "flask"]
    for command in (["db", "upgrade", "heads"], ["seed", "demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=300)
    if prepare:
        script = ("from placements import create_app\nfrom placements.extensions import db\n"
                  "from placements.models import *  # noqa: F403\n"
                  "with create_app().app_context():\n"
                  + "".join(f"    {line}\n" for line in prepare.strip().splitlines()))
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
    port = _free_port()
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(
        flask + ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload",
                 "--no-debugger", "--with-threads"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/auth/login", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start: " +
                                       (workdir / "server.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """Serve a freshly migrated and seeded app; yield its base URL."""
    workdir = tmp_path_factory.mktemp("e2e")
    LIVE["database"] = workdir / "e2e.sqlite"
    with serve_demo(workdir) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _missing("chromium is not installed (scripts/ensure-chromium.sh)")
    if not AXE.exists():
        _missing("axe-core is not installed (npm ci)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


_AXE_SOURCE: list[str] = []


def _axe_source() -> str:
    if not _AXE_SOURCE:
        _AXE_SOURCE.append(AXE.read_text(encoding="utf-8"))
    return _AXE_SOURCE[0]


class Visitor:
    """A page in a fresh browser context, checking each page it lands on with axe-core."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.checked: list[str] = []
        self.console_errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(
            f"{page.url}: {msg.text}"))
        page.on("pageerror", lambda exc: self.console_errors.append(f"{page.url}: {exc}"))

    def goto(self, path: str):
        response = self.page.goto(self.base_url + path)
        self.check()
        return response

    def check(self) -> None:
        """Run axe-core on the current page: no serious or critical WCAG 2.2 AA violation."""
        from playwright.sync_api import Error

        page = self.page
        for attempt in range(3):
            page.wait_for_load_state("load")
            try:
                # Evaluated through the browser's debugging protocol, which the page's
                # Content-Security-Policy does not govern (the page never loads axe itself).
                if not page.evaluate("typeof window.axe !== 'undefined'"):
                    page.evaluate(_axe_source())
                violations = page.evaluate(AXE_RUN, AXE_TAGS)
                break
            except Error as exc:
                # The page replaced itself (a live progress page reloads when a run ends).
                if "context was destroyed" not in str(exc) or attempt == 2:
                    raise
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe on {page.url}: {bad}"
        csp = [e for e in self.console_errors if "Content Security Policy" in e]
        assert not csp, csp
        self.checked.append(page.url)

    def sign_in(self, email: str, password: str = DEMO_PASSWORD) -> None:
        self.goto("/auth/login")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_role("textbox", name="Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state("load")
        if "/auth/login" in self.page.url:
            raise AssertionError(f"{email} could not sign in: "
                                 + self.page.locator("main").inner_text()[:1000])
        self.check()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_load_state("load")

    def nav_paths(self) -> list[str]:
        """The paths of the main menu's links on the current page."""
        hrefs = self.page.locator("nav a").evaluate_all("els => els.map(e => e.pathname)")
        return list(dict.fromkeys(hrefs))


@pytest.fixture
def live_db(live_server):
    """Run one read-only SQL query on the live server's database."""
    import sqlite3

    def query(sql: str, *params):
        with sqlite3.connect(f"file:{LIVE['database']}?mode=ro", uri=True) as conn:
            return conn.execute(sql, params).fetchall()

    return query


@pytest.fixture
def live_database(live_server) -> Path:
    """The live server's SQLite file (for a command run beside it, like `flask ksb`).

    Test modules get it from here: pytest loads this file as `conftest`, so importing
    `tests.e2e.conftest` would give a second, empty LIVE."""
    return LIVE["database"]


@pytest.fixture
def give_demo_password(live_server):
    """Let a test sign in as any demo account: copy the demo learner's password hash."""
    import sqlite3

    def give(email: str) -> None:
        with sqlite3.connect(LIVE["database"]) as conn:
            conn.execute("UPDATE user SET password_hash = (SELECT password_hash FROM user "
                         "WHERE email = 'learner@demo.placements.test') WHERE email = ?",
                         (email,))

    return give


@pytest.fixture
def visitor(browser, live_server) -> Iterator[Visitor]:
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield Visitor(page, live_server)
    context.close()
