"""Officers add learners, who are invited to set a password."""

import sqlalchemy as sa

from placements.extensions import db
from placements.models import Learner, OutboxMessage, User

NEW_LEARNER = {
    "name": "Nadia Newton", "email": "nadia@student.example", "student_ref": "A2",
    "home_postcode": "m14 5ab", "max_travel_km": "15", "credentials": ["dbs"],
    "first_in_family_he": "yes", "age_band": "18-20", "prior_qualification": "A levels",
    "disability_declared": "",
}


def test_officer_adds_learner_and_invitation_is_sent(client, auth, world):
    auth.login("officer1@example.test")
    response = client.post("/officer/learners/new",
                           data={**NEW_LEARNER, "programme": world["prog1"].id})
    assert response.status_code == 303
    learner = db.session.scalar(sa.select(Learner).where(Learner.student_ref == "A2"))
    assert learner.home_postcode == "M14 5AB"
    assert learner.credentials == ["dbs"]
    assert learner.first_in_family_he is True
    assert learner.disability_declared is None
    assert learner.user.password_hash is None
    mail = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == "nadia@student.example"))
    assert "/auth/invitation/" in mail.body
    assert b"Set up your Placements account" in client.get("/officer/outbox").data


def test_add_learner_bad_input_saves_nothing(client, auth, world):
    auth.login("officer1@example.test")
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    bad = {**NEW_LEARNER, "programme": world["prog1"].id, "home_postcode": "XX1 1XX",
           "max_travel_km": "-4", "student_ref": "A1"}
    response = client.post("/officer/learners/new", data=bad)
    assert response.status_code == 400
    assert b"We do not know the postcode district" in response.data
    assert b"Travel distance must be between 1 and 500 km" in response.data
    assert b"already exists" in response.data
    assert b'href="#home_postcode"' in response.data  # error summary links to the field
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_officer_cannot_add_learner_to_another_providers_programme(client, auth, world):
    auth.login("officer1@example.test")
    response = client.post("/officer/learners/new",
                           data={**NEW_LEARNER, "programme": world["prog2"].id})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(Learner).where(Learner.student_ref == "A2")) is None


def test_learner_search(client, auth, world):
    auth.login("officer1@example.test")
    assert b"A1" in client.get("/officer/learners?q=a1").data
    assert b"A1" not in client.get("/officer/learners?q=zzz").data
