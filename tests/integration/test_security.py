"""Security sweeps: every route as anonymous and as each role, other users' objects (IDOR),
CSRF, open redirects, session replay, the sign-in rate limit, security headers, the upload
limit and HTML escaping. The route lists come from the app's URL map, so new pages are swept
as soon as they exist."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import AnyConverter, Rule

from placements.extensions import db
from placements.models import AllocationRound, Employer, PlacementOffer, Role, User
from tests.conftest import PASSWORD, confirm_registration

USERS = {
    Role.ADMIN: "admin@example.test",
    Role.OFFICER: "officer1@example.test",
    Role.EMPLOYER: "emp1@example.test",
    Role.LEARNER: "learner1@example.test",
}

#: Endpoints anyone may use without signing in.
PUBLIC = {"main.index", "auth.login", "auth.logout", "auth.register_employer",
          "auth.accept_invitation", "auth.forgotten_password", "auth.reset_password",
          "auth.confirm_email", "auth.confirm_email_post", "static", "api.openapi", "api.docs",
          # A supervisor's e-mailed link is its own key (tests/integration/test_reviews.py).
          "reviews.supervise.link", "reviews.supervise.link_verify",
          "reviews.supervise.link_reject", "reviews.supervise.link_concern"}

#: The JSON API takes API keys only, never the sign-in cookie: without a key it answers 401,
#: whoever is signed in (tests/integration/test_api.py covers it in depth).
API_PREFIX = "/api/"

#: URL prefix -> the only role allowed in (most specific first).
AREAS = {"/admin/": Role.ADMIN, "/officer/": Role.OFFICER, "/employer/": Role.EMPLOYER,
         "/learner/": Role.LEARNER, "/hours/officer/": Role.OFFICER,
         "/hours/verify/": Role.EMPLOYER, "/hours/": Role.LEARNER,
         "/reviews/officer/": Role.OFFICER, "/reviews/employer/": Role.EMPLOYER,
         "/reviews/learner/": Role.LEARNER}

HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
           "Referrer-Policy")

XSS = '<script>alert("xss")</script>'


def _sample_values(world: dict) -> dict:
    """A value for each URL argument name, pointing at the signed-in users' own objects."""
    return {
        "learner_id": world["l1"].id, "offer_id": world["o1"].id, "employer_id": world["e1"].id,
        "programme_id": world["prog1"].id, "round_id": world["round"].id,
        "token": "no-such-token", "filename": "dist/app.css",
        "placement_id": 1, "run_id": 1, "key_id": 1,
    }


def _path(app: Flask, rule: Rule, values: dict) -> str:
    args = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if rule.defaults and name in rule.defaults:  # e.g. hours.csv / hours.xlsx
            args[name] = rule.defaults[name]
        elif isinstance(converter, AnyConverter):
            args[name] = sorted(converter.items)[0]
        elif name in values:
            args[name] = values[name]
        elif name.endswith("_id"):
            args[name] = 1
        else:
            args[name] = "x"
    return app.url_map.bind("localhost").build(rule.endpoint, args)


def _routes(app: Flask, method: str) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if method in r.methods),
                  key=lambda r: r.rule)


def _row_counts() -> dict[str, int]:
    db.session.expire_all()
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def _assert_hardened(response, what: str) -> None:
    response.close()  # static files are streamed from an open file
    for header in HEADERS:
        assert header in response.headers, f"{what}: no {header}"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def _login(client: FlaskClient, email: str, password: str = PASSWORD, **kwargs):
    return client.post("/auth/login", data={"email": email, "password": password}, **kwargs)


# --- Every route as anonymous and as each role ---------------------------------------------


def test_anonymous_reaches_only_public_pages(app, client, world):
    values = _sample_values(world)
    before = _row_counts()
    swept = 0
    for method in ("GET", "POST"):
        for rule in _routes(app, method):
            if rule.endpoint in PUBLIC:
                continue
            path = _path(app, rule, values)
            response = client.open(path, method=method)
            swept += 1
            assert response.status_code in (302, 401), f"{method} {path}"
            if response.status_code == 302:
                assert urlsplit(response.headers["Location"]).path == "/auth/login", path
            _assert_hardened(response, path)
    assert swept > 10
    assert _row_counts() == before


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_every_get_route(app, client, world, role):
    """No page fails with a 500; other roles' areas answer 403; GETs change nothing."""
    values = _sample_values(world)
    _login(client, USERS[role])
    before = _row_counts()
    for rule in _routes(app, "GET"):
        path = _path(app, rule, values)
        response = client.get(path)
        assert response.status_code < 500, f"{role}: GET {path} -> {response.status_code}"
        _assert_hardened(response, path)
        if path.startswith(API_PREFIX) and rule.endpoint not in PUBLIC:
            assert response.status_code == 401, f"{role}: GET {path} with a session cookie"
        area = next((r for prefix, r in AREAS.items() if path.startswith(prefix)), None)
        if area is not None and area != role:
            assert response.status_code == 403, f"{role}: GET {path}"
    assert _row_counts() == before


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_refused_posts_in_other_areas(app, client, world, role):
    values = _sample_values(world)
    _login(client, USERS[role])
    before = _row_counts()
    for rule in _routes(app, "POST"):
        path = _path(app, rule, values)
        area = next((r for prefix, r in AREAS.items() if path.startswith(prefix)), None)
        if area is None or area == role:
            continue
        response = client.post(path, data={"name": "X", "title": "X", "email": "x@x.example"})
        assert response.status_code == 403, f"{role}: POST {path}"
    assert _row_counts() == before


# --- Another user of the same role (IDOR) --------------------------------------------------

#: (signed in as, endpoint, methods, URL values naming the OTHER user's object)
IDOR = [
    ("officer2@example.test", "officers.learner_detail", ("GET",), "l1"),
    ("officer2@example.test", "officers.reinvite_learner", ("POST",), "l1"),
    ("officer2@example.test", "hours.officer.learner", ("GET", "POST"), "l1"),
    ("officer2@example.test", "officers.edit_programme", ("GET", "POST"), "prog1"),
    ("officer2@example.test", "hours.officer.programme", ("GET",), "prog1"),
    ("officer2@example.test", "hours.officer.programme_export", ("GET",), "prog1"),
    ("emp2@example.test", "employers.offer_detail", ("GET",), "o1"),
    ("emp2@example.test", "employers.offer_edit", ("GET", "POST"), "o1"),
    ("emp2@example.test", "employers.offer_withdraw", ("GET", "POST"), "o1"),
    # learner2 studies health: a digital offer is not theirs to see or choose.
    ("learner2@example.test", "learners.offer_detail", ("GET",), "o1"),
    # Reviews and concerns of learner1's placement at Acme Digital (see `_care`).
    ("officer2@example.test", "reviews.officer.placement", ("GET",), "placement"),
    ("officer2@example.test", "reviews.officer.send_links", ("POST",), "placement"),
    ("officer2@example.test", "reviews.officer.revoke_links", ("POST",), "placement"),
    ("officer2@example.test", "reviews.officer.raise_concern", ("GET", "POST"), "placement"),
    ("officer2@example.test", "reviews.officer.due_date", ("GET", "POST"), "review"),
    ("officer2@example.test", "reviews.officer.waive", ("GET", "POST"), "review"),
    ("officer2@example.test", "reviews.officer.concern", ("GET",), "concern"),
    ("officer2@example.test", "reviews.officer.take", ("POST",), "concern"),
    ("officer2@example.test", "reviews.officer.assign", ("POST",), "concern"),
    ("officer2@example.test", "reviews.officer.note", ("POST",), "concern"),
    ("officer2@example.test", "reviews.officer.close", ("POST",), "concern"),
    ("officer2@example.test", "reviews.officer.reopen", ("POST",), "concern"),
    ("emp2@example.test", "reviews.employer.placement", ("GET",), "placement"),
    ("emp2@example.test", "reviews.employer.supervisor", ("GET", "POST"), "placement"),
    ("emp2@example.test", "reviews.employer.send_links", ("POST",), "placement"),
    ("emp2@example.test", "reviews.employer.concern", ("GET", "POST"), "placement"),
    ("emp2@example.test", "reviews.employer.review", ("GET", "POST"), "review"),
    ("learner2@example.test", "reviews.learner.review", ("GET", "POST"), "review"),
    ("learner2@example.test", "reviews.learner.concern", ("GET", "POST"), "placement"),
    # KSBs: another provider's programme mapping and learners, another employer's offer.
    ("officer2@example.test", "ksb.officer.programme", ("GET",), "prog1"),
    ("officer2@example.test", "ksb.officer.module_new", ("GET", "POST"), "prog1"),
    ("officer2@example.test", "ksb.officer.matrix", ("GET",), "prog1"),
    ("officer2@example.test", "ksb.officer.matrix_export", ("GET",), "prog1"),
    ("officer2@example.test", "ksb.officer.programme_learners", ("GET",), "prog1"),
    ("officer2@example.test", "ksb.officer.programme_learners_export", ("GET",), "prog1"),
    ("officer2@example.test", "ksb.officer.learner", ("GET",), "l1"),
    ("emp2@example.test", "ksb.employer.offer", ("GET",), "o1"),
    ("emp2@example.test", "ksb.employer.offer_suggest", ("POST",), "o1"),
    ("emp2@example.test", "ksb.employer.offer_decide", ("POST",), "o1"),
    ("emp2@example.test", "ksb.employer.offer_add", ("POST",), "o1"),
]


def _care(world: dict) -> dict:
    """A published placement of learner1 at Acme Digital with its review plan and a concern
    (the objects the review routes of the IDOR sweep point at)."""
    from placements.models import Placement, PlacementStatus, ReviewPlan
    from placements.reviews.services import raise_concern, schedule_reviews

    placement = Placement(round_id=world["round"].id, learner_id=world["l1"].id,
                          offer_id=world["o1"].id, status=PlacementStatus.PUBLISHED)
    db.session.add(placement)
    db.session.flush()
    schedule_reviews([placement.id])
    plan = db.session.scalar(sa.select(ReviewPlan).where(
        ReviewPlan.placement_id == placement.id))
    concern = raise_concern(world["l1"].user, placement, "wellbeing", "Finding it hard")
    db.session.commit()
    return {"placement": placement, "review": plan.reviews[0], "concern": concern}


def _compliance_objects(world: dict) -> dict:
    """An item with a document of Acme Digital, a check of learner1, a type of College One."""
    from placements.compliance import services
    from placements.models import ComplianceItem, LearnerCheck
    from placements.models.compliance import ComplianceItemType, StoredFile

    types = {t.builtin: t for t in services.ensure_builtin_types()}
    stored = StoredFile(storage_key="0" * 40, filename="c.pdf", content_type="application/pdf",
                        size_bytes=5, sha256="0" * 64, employer_id=world["e1"].id)
    db.session.add(stored)
    db.session.flush()
    item = ComplianceItem(type_id=types["insurance"].id, employer_id=world["e1"].id,
                          issuer="A", reference="1", file_id=stored.id)
    check = LearnerCheck(learner_id=world["l1"].id, tag="dbs")
    own = ComplianceItemType(provider_id=world["p1"].id, name="College One's item")
    db.session.add_all([item, check, own])
    db.session.commit()
    return {"item1": item, "file1": stored, "check1": check, "type1": own}


def test_other_users_objects_are_refused(app, client, world):
    names = {"l1": "learner_id", "prog1": "programme_id", "o1": "offer_id",
             "item1": "item_id", "file1": "file_id", "e1": "employer_id",
             "check1": "check_id", "type1": "type_id",
             "placement": "placement_id", "review": "review_id", "concern": "concern_id"}
    world = {**world, **_compliance_objects(world)}
    world = {**world, **_care(world)}
    before = _row_counts()
    offer_before = (world["o1"].title, world["o1"].status, world["o1"].capacity)
    programme_title = world["prog1"].title
    checked = 0
    for email, endpoint, methods, obj in IDOR:
        assert endpoint in app.view_functions, f"no endpoint {endpoint}: update this list"
        client.post("/auth/logout")
        _login(client, email)
        values = {names[obj]: world[obj].id}
        if obj == "check1":
            values["learner_id"] = world["l1"].id
        path = app.url_map.bind("localhost").build(endpoint, values)
        for method in methods:
            response = client.open(path, method=method, data={
                "title": "Hijacked", "capacity": "9", "name": "Hijacked", "reason": "x"})
            assert response.status_code in (403, 404), f"{email}: {method} {path}"
            checked += 1
    assert checked >= 3
    assert _row_counts() == before
    db.session.expire_all()
    offer = db.session.get(PlacementOffer, world["o1"].id)
    assert (offer.title, offer.status, offer.capacity) == offer_before
    assert world["prog1"].title == programme_title


def test_another_providers_round_is_refused(app, client, world):
    """A round of College One alone: University Two's officer can neither see nor run it."""
    private = AllocationRound(name="College One only", provider=world["p1"],
                              providers=[world["p1"]], programmes=[world["prog1"]],
                              preference_deadline=world["round"].preference_deadline,
                              max_preferences=3)
    db.session.add(private)
    db.session.commit()
    _login(client, "officer2@example.test")
    before = _row_counts()
    checked = 0
    for method in ("GET", "POST"):
        for rule in _routes(app, method):
            if "round_id" not in rule.arguments or not rule.rule.startswith("/officer/"):
                continue
            path = _path(app, rule, {**_sample_values(world), "round_id": private.id})
            response = client.open(path, method=method, data={"name": "X"})
            response.close()
            assert response.status_code in (403, 404), f"officer2: {method} {path}"
            checked += 1
    assert checked >= 3
    assert _row_counts() == before


# --- CSRF ----------------------------------------------------------------------------------


def _csrf_token(page: bytes) -> str:
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


def test_csrf_is_enforced_on_every_post(make_app, world):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    # Sign-in itself needs the token.
    assert _login(client, "officer1@example.test").status_code == 400
    token = _csrf_token(client.get("/auth/login").data)
    response = client.post("/auth/login", data={
        "email": "officer1@example.test", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/officer/").status_code == 200

    values = _sample_values(world)
    before = _row_counts()
    for rule in _routes(csrf_app, "POST"):
        path = _path(csrf_app, rule, values)
        response = client.post(path, data={"name": "X", "title": "X", "email": "x@x.example"})
        if path.startswith(API_PREFIX):  # exempt from CSRF because it ignores the cookie
            assert response.status_code == 401, f"POST {path} with only a session cookie"
            continue
        assert response.status_code == 400, f"POST {path} without a CSRF token"
        _assert_hardened(response, path)
    assert _row_counts() == before
    # Signing out was refused too: still signed in.
    assert client.get("/officer/").status_code == 200


# --- Open redirects ------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example",
    "http:evil.example", "javascript:alert(1)", "///evil.example", "/\\/evil.example",
    " //evil.example", "/\t/evil.example", "https:/evil.example",
])
def test_next_never_leaves_the_site(client, world, target):
    response = _login(client, "officer1@example.test", query_string={"next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost")
    assert parts.path == "/officer/"


def test_next_to_a_local_page_is_followed(client, world):
    response = _login(client, "officer1@example.test",
                      query_string={"next": "/officer/learners?page=2"})
    assert response.headers["Location"].endswith("/officer/learners?page=2")


# --- Session replay ------------------------------------------------------------------------


def _replay(app: Flask, cookie) -> int:
    other = app.test_client()
    other.set_cookie("session", cookie.value, domain=cookie.domain)
    return other.get("/officer/").status_code


def test_cookie_is_dead_after_sign_out(app, client, world):
    _login(client, "officer1@example.test")
    cookie = client.get_cookie("session")
    assert _replay(app, cookie) == 200
    client.post("/auth/logout")
    assert _replay(app, cookie) == 302
    assert client.get("/officer/").status_code == 302


def test_cookie_is_dead_after_password_change(app, client, world):
    _login(client, "officer1@example.test")
    cookie = client.get_cookie("session")
    response = client.post("/auth/password", data={
        "current": PASSWORD, "password": "another long password",
        "confirm": "another long password"})
    assert response.status_code == 302
    assert _replay(app, cookie) == 302
    assert client.get("/officer/").status_code == 200  # this browser stays signed in


def test_cookie_is_dead_after_account_is_deactivated(app, client, world):
    _login(client, "officer1@example.test")
    user = db.session.get(User, world["officer1"].id)
    user.active = False
    db.session.commit()
    assert client.get("/officer/").status_code == 302


# --- Sign-in rate limit --------------------------------------------------------------------


def test_sign_in_is_rate_limited_per_address(make_app, world):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="3 per minute")
    client = limited.test_client()
    for _ in range(3):
        assert _login(client, "officer1@example.test", "wrong password!").status_code == 400
    response = _login(client, "officer1@example.test", "wrong password!")
    assert response.status_code == 429
    assert b"Too many attempts" in response.data
    assert "Retry-After" in response.headers
    _assert_hardened(response, "429")
    # Not even the right password gets through now, nor a spoofed forwarding header.
    assert _login(client, "officer1@example.test").status_code == 429
    for spoof in ("203.0.113.7", "198.51.100.1, 203.0.113.8"):
        assert _login(client, "officer1@example.test",
                      headers={"X-Forwarded-For": spoof}).status_code == 429
    # Another address has its own allowance; reading the page is never limited.
    other = limited.test_client()
    assert _login(other, "officer1@example.test",
                  environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 302
    assert client.get("/auth/login").status_code == 200


def test_forwarded_for_counts_only_behind_a_trusted_proxy(make_app, world):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="2 per minute",
                       TRUSTED_PROXIES=1)
    client = limited.test_client()
    for _ in range(2):
        _login(client, "nobody@example.test", "wrong password!",
               headers={"X-Forwarded-For": "192.0.2.1"})
    assert _login(client, "nobody@example.test", "wrong password!",
                  headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    # Behind the proxy, a different client is a different address.
    assert _login(client, "nobody@example.test", "wrong password!",
                  headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 400


# --- Headers, errors, uploads --------------------------------------------------------------


def test_headers_on_static_files_errors_and_json(make_app, world):
    plain = make_app(PROPAGATE_EXCEPTIONS=False)

    def broken():
        raise RuntimeError("boom")

    plain.add_url_rule("/test-broken", "test_broken", broken)
    client = plain.test_client()
    for path, status in [("/static/dist/app.css", 200), ("/no-such-page", 404),
                         ("/test-broken", 500), ("/auth/login", 200)]:
        response = client.get(path)
        assert response.status_code == status, path
        _assert_hardened(response, path)
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    _assert_hardened(response, "json 404")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


def test_signed_in_pages_are_not_cached(client, world):
    _login(client, "officer1@example.test")
    assert client.get("/officer/").headers["Cache-Control"] == "no-store"


def test_strict_transport_security_over_https(client, world):
    response = client.get("/auth/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_upload_size_limit(app, client, world):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 5 * 1024 * 1024
    before = _row_counts()
    body = b"x" * (limit + 1)
    response = client.post("/auth/login", data={"email": "a@b.example", "password": body})
    assert response.status_code == 413
    assert b"too large" in response.data
    _assert_hardened(response, "413")
    if "imports.upload" in app.view_functions:
        _login(client, "officer1@example.test")
        response = client.post(
            app.url_map.bind("localhost").build("imports.upload", {"kind": "learners"}),
            data=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
                 b"Content-Type: text/csv\r\n\r\n" + body + b"\r\n--b--\r\n",
            content_type="multipart/form-data; boundary=b")
        assert response.status_code == 413
    assert _row_counts() == before


# --- HTML in text fields -------------------------------------------------------------------


def test_employer_name_with_html_is_escaped(app, client, world):
    response = client.post("/auth/register", data={
        "organisation": XSS, "sector": "Engineering and manufacturing", "postcode": "M15 4FN",
        "name": XSS, "email": "xss@markup.example", "password": "a long password here",
        "confirm": "a long password here"})
    assert response.status_code == 200, response.data[:2000]
    assert db.session.scalar(sa.select(Employer).where(Employer.name == XSS)) is not None
    assert confirm_registration(client, "xss@markup.example").status_code == 302
    page = client.get("/employer/")
    assert XSS.encode() not in page.data
    assert b"&lt;script&gt;" in page.data
    client.post("/auth/logout")
    _login(client, "officer1@example.test")
    page = client.get("/officer/employers")
    assert page.status_code == 200
    assert XSS.encode() not in page.data
    assert b"&lt;script&gt;alert(" in page.data


def test_html_in_every_text_field_is_escaped_on_every_page(app, client, world):
    """Put markup into every free-text column of the test data; no HTML page shows it raw."""
    for obj in (world[k] for k in ("p1", "p2", "prog1", "prog2", "e1", "e2", "s1", "s2", "o1",
                                   "o2", "round")):
        for column in sa.inspect(type(obj)).columns:
            if isinstance(column.type, sa.String) and not isinstance(column.type, sa.Enum) \
                    and column.key in ("name", "title", "description", "sector_notes"):
                setattr(obj, column.key, f"{XSS}{getattr(obj, column.key)}"[
                    :column.type.length or None])
    for user in ("admin", "officer1", "emp1", "l1"):
        target = world[user].user if user == "l1" else world[user]
        target.name = XSS
    db.session.commit()
    values = _sample_values(world)
    escaped = 0
    for role, email in USERS.items():
        client.post("/auth/logout")
        _login(client, email)
        for rule in _routes(app, "GET"):
            path = _path(app, rule, values)
            response = client.get(path)
            response.close()
            if response.mimetype == "text/html":
                assert XSS.encode() not in response.data, f"{role}: {path} shows raw HTML"
                escaped += b"&lt;script&gt;alert(" in response.data
    assert escaped >= 10  # the names are shown (escaped) on many pages


# --- An officer of a provider outside the partnership ----------------------------------------

#: Officer routes whose object every officer of the platform may act on (employers are
#: pooled: any officer may approve a registered employer).
PLATFORM_WIDE = {"officers.approve_employer", "officers.employer_detail",
                 "officers.reject_employer"}


def test_an_outside_providers_officer_reaches_nothing_of_the_partnership(app, client, world):
    """Every officer route naming an object of the partnership (learners, programmes, rounds,
    runs, placements, engagement records and their activity, imports) answers 403 or 404 to
    an officer of a provider outside it, and changes nothing."""
    from datetime import date as _date

    from placements.engagement.services import (
        ActivityData,
        ProspectData,
        add_prospect,
        log_activity,
    )
    from placements.models import ActivityKind, Provider, ProviderKind
    from tests.conftest import make_run, make_user

    outside = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(outside)
    make_user("outsider@example.test", Role.OFFICER, provider=outside)
    record = add_prospect(world["officer1"], ProspectData(name="Secret Prospect Ltd",
                                                         sector="Digital", contact_name="Kim"))
    activity = log_activity(world["officer1"], record, ActivityData(
        kind=ActivityKind.CALL, happened_on=_date(2026, 11, 2), notes="Private notes",
        next_action="Call back", next_action_due=_date(2026, 12, 1)))
    run = make_run(world["round"].id, "succeeded", result={"assignments": [], "unplaced": []})
    from placements.models import InsightSolve, Job, SolveKind

    solve = InsightSolve(round_id=world["round"].id, kind=SolveKind.BASELINE,
                         job=Job(kind="insights.solve", status="queued"))
    db.session.add(solve)
    db.session.commit()
    values = {**_sample_values(world), "record_id": record.id, "activity_id": activity.id,
              "run_id": run.id, "job_id": run.job_id, "solve_id": solve.id}
    _login(client, "outsider@example.test")
    before = _row_counts()
    checked = 0
    for method in ("GET", "POST"):
        for rule in _routes(app, method):
            if not rule.rule.startswith(("/officer/", "/hours/officer/")):
                continue
            if not any(a.endswith("_id") for a in rule.arguments):
                continue
            if rule.endpoint in PLATFORM_WIDE:
                continue
            path = _path(app, rule, values)
            response = client.open(path, method=method, data={
                "name": "X", "stage": "hosting", "notes": "x", "kind": "call"})
            response.close()
            assert response.status_code in (403, 404), f"outsider: {method} {path}"
            checked += 1
    assert checked >= 20
    assert _row_counts() == before
    board = client.get("/officer/engagement/").get_data(as_text=True)
    assert "Secret Prospect Ltd" not in board
    # The partnership's own other provider shares the record.
    client.post("/auth/logout")
    _login(client, "officer2@example.test")
    assert client.get(f"/officer/engagement/{record.id}").status_code == 200
