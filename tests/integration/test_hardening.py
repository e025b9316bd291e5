"""Account links, password resets, sign-in limits per account, cookies behind proxies,
out-of-range numbers, the error page of last resort, and CSV input hardening."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placements import csvio
from placements.auth import services as auth_services
from placements.extensions import db
from placements.models import AccountLink, OutboxMessage, User, utcnow
from tests.conftest import PASSWORD


def _last_mail(email: str) -> OutboxMessage | None:
    return db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc()))


def _link(email: str, kind: str) -> str:
    message = _last_mail(email)
    assert message is not None, f"nothing e-mailed to {email}"
    found = re.search(rf"/auth/{kind}/[A-Za-z0-9_\-]+", message.body)
    assert found, message.body
    return found.group(0)


def _login(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post("/auth/login", data={"email": email, "password": password}, **kwargs)


# --- account links ---------------------------------------------------------------------------


def test_a_new_invitation_supersedes_the_old_one(client, world):
    learner = world["l1"].user
    first = auth_services.create_invitation(learner, world["officer1"])
    second = auth_services.create_invitation(learner, world["officer1"])
    db.session.commit()
    response = client.get(f"/auth/invitation/{first}")
    assert response.status_code == 410
    assert b"replaced by a newer one" in response.data
    assert client.get(f"/auth/invitation/{second}").status_code == 200


def test_signing_in_ends_outstanding_links(client, world):
    token = auth_services.create_invitation(world["officer1"], None)
    db.session.commit()
    assert _login(client, "officer1@example.test").status_code == 302
    assert client.get(f"/auth/invitation/{token}").status_code == 410


def test_outbox_hides_account_links_unless_the_development_setting_says(make_app, world):
    token = auth_services.create_invitation(world["l1"].user, world["officer1"])
    db.session.commit()
    for shows, expect_token in ((False, False), (True, True)):
        app = make_app(OUTBOX_SHOWS_LINKS=shows)
        client = app.test_client()
        _login(client, "officer1@example.test")
        page = client.get("/officer/outbox").get_data(as_text=True)
        assert (token in page) is expect_token
        assert ("OUTBOX_SHOWS_LINKS is on" in page) is shows
        if not shows:
            assert "[link sent only to the addressee]" in page


class FakeSMTP:
    """Records what would have been sent; refuses everything when `down`."""

    sent: list[str] = []
    down = False

    def __init__(self, *args, **kwargs):
        if FakeSMTP.down:
            raise OSError("connection refused")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_message(self, message):
        FakeSMTP.sent.append(message.get_content())


@pytest.fixture
def smtp_app(make_app, monkeypatch):
    import smtplib

    FakeSMTP.sent, FakeSMTP.down = [], False
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    return make_app(MAIL_BACKEND="smtp")


def test_smtp_mail_goes_after_the_commit_without_a_live_link_kept(smtp_app, world):
    with smtp_app.app_context(), smtp_app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.email == "learner1@example.test"))
        token = auth_services.create_invitation(user, None)
        assert FakeSMTP.sent == []  # nothing leaves before the commit
        db.session.commit()
        stored = _last_mail("learner1@example.test")
        assert token not in stored.body
        assert token in FakeSMTP.sent[-1]
        db.session.expire_all()
        assert _last_mail("learner1@example.test").status == "sent"


def test_smtp_mail_of_a_rolled_back_change_is_never_sent(smtp_app, world):
    with smtp_app.app_context(), smtp_app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.email == "learner1@example.test"))
        auth_services.create_invitation(user, None)
        db.session.rollback()
        db.session.commit()
        assert FakeSMTP.sent == []
        assert _last_mail("learner1@example.test") is None


def test_smtp_failures_are_recorded_on_the_message(smtp_app, world):
    FakeSMTP.down = True
    with smtp_app.app_context(), smtp_app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.email == "learner1@example.test"))
        auth_services.create_invitation(user, None)
        db.session.commit()
        db.session.expire_all()
        message = _last_mail("learner1@example.test")
        assert (message.status, message.error) == ("failed", "connection refused")


# --- password reset --------------------------------------------------------------------------


def test_password_reset_answers_the_same_for_any_address(client, world):
    known = client.post("/auth/forgotten-password", data={"email": "officer1@example.test"})
    unknown = client.post("/auth/forgotten-password", data={"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: r.get_data(as_text=True).replace("officer1@example.test", "X").replace(  # noqa: E731
        "nobody@example.test", "X")
    assert strip(known) == strip(unknown)
    assert _last_mail("nobody@example.test") is None
    assert _last_mail("officer1@example.test") is not None


def test_password_reset_works_once_and_ends_other_sessions(app, client, world):
    other = app.test_client()
    assert _login(other, "officer1@example.test").status_code == 302
    client.post("/auth/forgotten-password", data={"email": "officer1@example.test"})
    link = _link("officer1@example.test", "reset")
    assert client.get(link).status_code == 200
    new = "a brand new password 42"
    response = client.post(link, data={"password": new, "confirm": new})
    assert response.status_code == 302
    assert client.get("/officer/").status_code == 200
    assert other.get("/officer/").status_code == 302  # the other session has ended
    replay = client.post(link, data={"password": new, "confirm": new})
    assert replay.status_code == 410
    assert b"already been used" in replay.data
    fresh = app.test_client()
    assert _login(fresh, "officer1@example.test").status_code == 400
    assert _login(fresh, "officer1@example.test", new).status_code == 302


def test_expired_reset_link_is_refused(client, world):
    client.post("/auth/forgotten-password", data={"email": "officer1@example.test"})
    link = _link("officer1@example.test", "reset")
    db.session.execute(sa.update(AccountLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    response = client.get(link)
    assert response.status_code == 410
    assert b"expired" in response.data


def test_reset_with_a_bad_password_keeps_the_link(client, world):
    client.post("/auth/forgotten-password", data={"email": "officer1@example.test"})
    link = _link("officer1@example.test", "reset")
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 400
    assert client.get(link).status_code == 200
    assert _login(client, "officer1@example.test").status_code == 302


def test_reset_requests_are_rate_limited(make_app, world):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="2 per minute")
    client = limited.test_client()
    for _ in range(2):
        assert client.post("/auth/forgotten-password",
                           data={"email": "officer1@example.test"}).status_code == 200
    assert client.post("/auth/forgotten-password",
                       data={"email": "officer1@example.test"}).status_code == 429


def test_unknown_address_costs_a_password_check(client, world, monkeypatch):
    calls: list[str] = []
    real = auth_services._check_dummy_password
    monkeypatch.setattr(auth_services, "_check_dummy_password",
                        lambda password: (calls.append(password), real(password)))
    _login(client, "nobody@example.test", "whatever it is")
    assert calls == ["whatever it is"]


# --- sign-in limits per account --------------------------------------------------------------


def test_wrong_passwords_from_many_addresses_make_the_account_wait(make_app, world):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="1000 per minute",
                   SIGN_IN_FREE_FAILURES=5)
    client = app.test_client()
    for n in range(30):
        _login(client, "officer1@example.test", "wrong password!",
               environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
    response = _login(client, "officer1@example.test",
                      environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert response.status_code == 400
    assert b"Too many wrong passwords for this account" in response.data
    # Another account is not held up by this one's failures, even from the same addresses.
    assert _login(client, "admin@example.test",
                  environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 302


def test_a_busy_shared_address_does_not_lock_out_its_other_users(make_app, world):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="1000 per minute",
                   SIGN_IN_FREE_FAILURES=3)
    nat = {"REMOTE_ADDR": "203.0.113.10"}
    client = app.test_client()
    for _ in range(10):
        _login(client, "nobody@example.test", "wrong password!", environ_base=nat)
    assert _login(app.test_client(), "officer1@example.test",
                  environ_base=nat).status_code == 302


def test_few_failures_then_success_clears_the_count(make_app, world):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="1000 per minute",
                   SIGN_IN_FREE_FAILURES=3)
    client = app.test_client()
    for _ in range(2):
        _login(client, "officer1@example.test", "wrong password!")
    assert _login(client, "officer1@example.test").status_code == 302
    other = app.test_client()
    for _ in range(2):
        _login(other, "officer1@example.test", "wrong password!")
    # Had the earlier failures counted, this would be the fourth: it is only the second.
    assert _login(other, "officer1@example.test").status_code == 302


# --- cookies, proxies ------------------------------------------------------------------------


def _session_cookie_header(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_secure_over_https_only(client, world):
    plain = _login(client, "officer1@example.test")
    assert "Secure" not in _session_cookie_header(plain)
    client.post("/auth/logout")
    secure = _login(client, "officer1@example.test", base_url="https://localhost")
    assert "Secure" in _session_cookie_header(secure)
    assert "HttpOnly" in _session_cookie_header(secure)


def test_forwarded_proto_counts_only_from_a_trusted_proxy(make_app, world):
    untrusted = make_app().test_client()
    response = _login(untrusted, "officer1@example.test",
                      headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in _session_cookie_header(response)
    trusted = make_app(TRUSTED_PROXIES=1).test_client()
    response = _login(trusted, "officer1@example.test",
                      headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"})
    assert "Secure" in _session_cookie_header(response)


def test_https_base_url_makes_every_session_cookie_secure(make_app, world):
    client = make_app(BASE_URL="https://placements.example.ac.uk").test_client()
    assert "Secure" in _session_cookie_header(_login(client, "officer1@example.test"))


def test_a_stolen_cookie_replayed_with_a_spoofed_address_is_refused(app, client, world):
    _login(client, "officer1@example.test",
           environ_base={"REMOTE_ADDR": "192.0.2.10"}, headers={"User-Agent": "Browser A"})
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    response = thief.get("/officer/", environ_base={"REMOTE_ADDR": "198.51.100.66"},
                         headers={"User-Agent": "Browser A", "X-Forwarded-For": "192.0.2.10"})
    assert response.status_code == 302
    # The owner, from their own address, is still signed in.
    assert client.get("/officer/", environ_base={"REMOTE_ADDR": "192.0.2.10"},
                      headers={"User-Agent": "Browser A"}).status_code == 200


# --- numbers out of range, error pages -------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/officer/learners/99999999999999999999999",
    "/officer/rounds/9223372036854775808",
    "/officer/learners/-1",
])
def test_huge_or_negative_ids_are_not_found(client, world, path):
    _login(client, "officer1@example.test")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999", "-5", "abc", "0"])
def test_any_page_number_is_answered(client, world, page):
    _login(client, "officer1@example.test")
    assert client.get(f"/officer/learners?page={page}").status_code == 200


def test_a_broken_error_page_still_answers_safely(make_app, world, monkeypatch):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    import placements.errors as errors

    def broken(*args, **kwargs):
        raise RuntimeError("template is broken")

    monkeypatch.setattr(errors, "render_template", broken)
    response = app.test_client().get("/no-such-page?<script>")
    assert response.status_code == 404
    assert b"Page not found" in response.data
    assert b"<script>" not in response.data
    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- CSV input -------------------------------------------------------------------------------

COLUMNS = {"name": csvio.ColumnSpec(required=True), "note": csvio.ColumnSpec()}


def _read(text: str | bytes):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return csvio.read_csv(io.BytesIO(data), columns=COLUMNS)


def test_control_characters_are_a_row_error_not_a_crash():
    rows = _read("name,note\nAda\x00,fine\nGrace,ok\n")
    assert rows[0].errors
    assert "control characters" in rows[0].errors[0].message
    assert not rows[1].errors


def test_utf8_with_bom_reads_and_other_encodings_are_one_clear_error():
    assert _read("\ufeffname,note\nZoë,x\n")[0]["name"] == "Zoë"
    with pytest.raises(csvio.CSVError) as caught:
        _read("name,note\nZoë,x\n".encode("cp1252"))
    assert "CSV UTF-8" in caught.value.errors[0].message


@pytest.mark.parametrize(("value", "guarded"), [
    ("=1+1", True), ("+44 20", True), ("-3", True), ("@SUM(A1)", True),
    ("safe;=1+1", True), ("a, -b", True), ("plain text", False), ("5 - 3", False),
    ("ada@example.test", False),
])
def test_spreadsheet_formulas_are_neutralised_in_downloads(value, guarded):
    assert csvio.safe_cell(value).startswith("'") is guarded


def test_downloads_declare_their_charset_once(client, world):
    _login(client, "officer1@example.test")
    response = client.get("/officer/imports/learners/template.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith("\ufeff".encode())
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("value", ["01/01/1899", "31/12/2101", "30/02/2027", "2027-13-01"])
def test_dates_outside_the_service_range_are_refused(value):
    with pytest.raises(ValueError, match="Enter a date"):
        csvio.parse_date(value)


# --- addresses in e-mails --------------------------------------------------------------------


def test_emailed_links_use_the_configured_address(make_app, world):
    app = make_app(BASE_URL="https://placements.example.ac.uk/")
    client = app.test_client()
    client.post("/auth/forgotten-password", data={"email": "officer1@example.test"},
                base_url="http://10.0.0.5:8000")
    with app.app_context():
        body = _last_mail("officer1@example.test").body
    assert "https://placements.example.ac.uk/auth/reset/" in body
    assert "10.0.0.5" not in body


def test_emailed_links_fall_back_to_the_address_the_request_came_to(client, world):
    client.post("/auth/forgotten-password", data={"email": "officer1@example.test"},
                base_url="https://placements.college.example")
    body = _last_mail("officer1@example.test").body
    assert "https://placements.college.example/auth/reset/" in body
    assert ":5000" not in body


def test_a_background_job_links_to_where_it_was_asked_for(app, client, world):
    from placements.jobs import enqueue

    with app.test_request_context(base_url="https://placements.college.example"):
        job = enqueue("allocation.run", title="t", subject="x")
    assert job.payload["base_url"] == "https://placements.college.example/"
    db.session.rollback()
