"""Sign in and out, passwords, invitations, employer self-registration."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from placements.auth.services import create_invitation
from placements.extensions import db
from placements.models import AccountLink, Employer, OutboxMessage, Role, User, utcnow
from tests.conftest import PASSWORD, confirm_registration


def test_login_goes_to_role_home(client, auth, world):
    response = auth.login("officer1@example.test")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/officer/")
    assert client.get("/officer/").status_code == 200


@pytest.mark.parametrize(("email", "home"), [
    ("admin@example.test", "/admin/"), ("emp1@example.test", "/employer/"),
    ("learner1@example.test", "/learner/"),
])
def test_each_role_has_a_home(client, auth, world, email, home):
    assert auth.login(email).headers["Location"].endswith(home)
    assert client.get(home).status_code == 200


def test_bad_password_is_a_form_error(client, auth, world):
    response = auth.login("officer1@example.test", "wrong password!")
    assert response.status_code == 400
    assert b"Email address or password is incorrect" in response.data
    assert client.get("/officer/").status_code == 302


def test_unknown_email_gives_the_same_message(auth, world):
    response = auth.login("nobody@example.test")
    assert response.status_code == 400
    assert b"Email address or password is incorrect" in response.data


def test_inactive_user_cannot_sign_in(auth, world):
    world["officer1"].active = False
    db.session.commit()
    assert auth.login("officer1@example.test").status_code == 400


def test_empty_login_form(client, world):
    response = client.post("/auth/login", data={})
    assert response.status_code == 400
    assert b"Enter your email address" in response.data
    assert b"Enter your password" in response.data


@pytest.mark.parametrize("target", ["/officer/learners", "/officer/learners?q=a"])
def test_safe_next_is_followed(auth, world, target):
    response = auth.login("officer1@example.test", query_string={"next": target})
    assert response.headers["Location"].endswith(target)


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example",
                                    "https://evil.example/", "javascript:alert(1)",
                                    "http:/evil.example", " //evil.example"])
def test_unsafe_next_is_ignored(auth, world, target):
    response = auth.login("officer1@example.test", query_string={"next": target})
    location = response.headers["Location"]
    assert "evil" not in location
    assert "javascript" not in location
    assert location.endswith("/officer/")


def test_logout_ends_session_and_old_cookie_is_refused(app, client, auth, world):
    auth.login("officer1@example.test")
    cookie = client.get_cookie("session")
    assert cookie is not None
    auth.logout()
    assert client.get("/officer/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie.value, domain=cookie.domain)
    assert replay.get("/officer/").status_code == 302


def test_change_password(app, client, auth, world):
    auth.login("officer1@example.test")
    old_cookie = client.get_cookie("session")
    response = client.post("/auth/password", data={
        "current": PASSWORD, "password": "a brand new password", "confirm": "a brand new password"})
    assert response.status_code == 302
    # This browser stays signed in; a replay of the old cookie does not.
    assert client.get("/officer/").status_code == 200
    replay = app.test_client()
    replay.set_cookie("session", old_cookie.value, domain=old_cookie.domain)
    assert replay.get("/officer/").status_code == 302
    auth.logout()
    assert auth.login("officer1@example.test", "a brand new password").status_code == 302


@pytest.mark.parametrize(("data", "message"), [
    ({"current": "wrong password!!", "password": "a brand new password",
      "confirm": "a brand new password"}, b"Your current password is incorrect"),
    ({"current": PASSWORD, "password": "short", "confirm": "short"},
     b"must be between 10 and 128 characters"),
    ({"current": PASSWORD, "password": "a brand new password", "confirm": "different one!!"},
     b"The passwords do not match"),
    ({"current": PASSWORD, "password": PASSWORD, "confirm": PASSWORD},
     b"different from your current one"),
])
def test_change_password_bad_input_keeps_old_password(client, auth, world, data, message):
    auth.login("officer1@example.test")
    response = client.post("/auth/password", data=data)
    assert response.status_code == 400
    assert message in response.data
    db.session.expire_all()
    assert db.session.get(User, world["officer1"].id).check_password(PASSWORD)


def _invite(world) -> tuple[User, str]:
    user = User(email="new.learner@example.test", name="New Learner", role=Role.LEARNER)
    db.session.add(user)
    db.session.flush()
    token = create_invitation(user, world["officer1"])
    db.session.commit()
    return user, token


def test_invitation_sets_password_once(client, world):
    user, token = _invite(world)
    mail = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == user.email))
    assert token in mail.body
    assert client.get(f"/auth/invitation/{token}").status_code == 200
    response = client.post(f"/auth/invitation/{token}", data={
        "password": "my own password", "confirm": "my own password"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("my own password")
    # Single use: the same link no longer works.
    client.post("/auth/logout")
    again = client.get(f"/auth/invitation/{token}")
    assert again.status_code == 410
    assert b"already been used" in again.data


def test_expired_invitation_is_refused(client, world):
    user, token = _invite(world)
    invitation = db.session.scalar(sa.select(AccountLink).where(AccountLink.user_id == user.id))
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.post(f"/auth/invitation/{token}", data={
        "password": "my own password", "confirm": "my own password"})
    assert response.status_code == 410
    assert b"expired" in response.data
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash is None


def test_unknown_invitation_token(client, world):
    assert client.get("/auth/invitation/not-a-token").status_code == 410


def test_invitation_token_is_not_stored(world):
    _, token = _invite(world)
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id)).where(
        AccountLink.token_hash == token)) == 0


REGISTRATION = {
    "organisation": "Gamma Robotics", "sector": "Engineering and manufacturing",
    "postcode": "M15 4FN", "name": "Gina Gamma", "email": "gina@gamma.example",
    "password": "gamma robotics 2027", "confirm": "gamma robotics 2027",
}


def test_employer_registers_confirms_the_address_and_awaits_approval(client, world):
    response = client.post("/auth/register", data=REGISTRATION)
    assert response.status_code == 200
    assert b"Check your email" in response.data
    employer = db.session.scalar(sa.select(Employer).where(Employer.name == "Gamma Robotics"))
    assert employer is not None
    assert not employer.approved
    assert employer.region == "North West"
    assert employer.sites[0].postcode == "M15 4FN"
    # Not signed in, and cannot sign in, until the address is confirmed.
    assert client.get("/employer/").status_code == 302
    assert client.post("/auth/login", data={"email": REGISTRATION["email"],
                                            "password": REGISTRATION["password"]}
                       ).status_code == 400
    response = confirm_registration(client, REGISTRATION["email"])
    assert response.status_code == 302
    page = client.get("/employer/")
    assert b"Awaiting approval" in page.data


def test_registering_with_an_address_in_use_says_the_same_and_tells_its_owner(client, world):
    """Regression: registration said "an account with this email address already exists"."""
    db.session.add(User(email="erin@acme.example", name="Erin", role=Role.EMPLOYER,
                        employer=world["e1"], password_hash="x"))
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post("/auth/register", data={**REGISTRATION,
                                                   "email": "Erin@Acme.example"})
    assert response.status_code == 200
    assert b"Check your email" in response.data
    assert b"already exists" not in response.data
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before
    assert db.session.scalar(sa.select(Employer.id).where(
        Employer.name == "Gamma Robotics")) is None
    notice = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == "erin@acme.example"))
    assert "Someone tried to register" in notice.subject


@pytest.mark.parametrize(("field", "value", "message"), [
    ("postcode", "ZZ9 9ZZ", b"We do not know the postcode district"),
    ("postcode", "not a postcode", b"Enter a real UK postcode"),
    ("email", "not-an-email", b"correct format"),
    ("organisation", "Acme Digital", b"already registered"),
    ("sector", "Underwater basket weaving", b"Select one of the options in the list"),
    ("confirm", "something else entirely", b"The passwords do not match"),
])
def test_employer_registration_bad_input_saves_nothing(client, world, field, value, message):
    db.session.add(User(email="erin@acme.example", name="Erin", role=Role.EMPLOYER,
                        employer=world["e1"]))
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post("/auth/register", data={**REGISTRATION, field: value})
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before
    assert db.session.scalar(sa.select(Employer.id).where(
        Employer.name == "Gamma Robotics")) is None


def test_officer_approves_employer(client, auth, world):
    client.post("/auth/register", data=REGISTRATION)
    client.post("/auth/logout")
    employer = db.session.scalar(sa.select(Employer).where(Employer.name == "Gamma Robotics"))
    auth.login("officer1@example.test")
    assert b"Awaiting approval" in client.get("/officer/employers").data
    response = client.post(f"/officer/employers/{employer.id}/approve")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Employer, employer.id).approved
    again = client.post(f"/officer/employers/{employer.id}/approve", follow_redirects=True)
    assert b"already approved" in again.data
