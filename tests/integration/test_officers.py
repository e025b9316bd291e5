"""Officers add learners, who are invited to set a password."""

import pytest
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
    cell = b'<td class="govuk-table__cell">A1</td>'
    assert cell in client.get("/officer/learners?q=a1").data
    page = client.get("/officer/learners?q=zzz").data
    assert cell not in page
    assert b"0 learners" in page


PROGRAMME = {
    "title": "HTQ Network Engineering", "code": "HTQ-NET", "placement_mandated": "yes",
    "required_placement_hours": "120", "planned_total_hours": "1100",
    "work_integration_target_pct": "20", "start_date": ["14", "9", "2026"],
    "end_date": ["2", "7", "2027"],
}


def _standard_id(reference: str) -> int:
    from placements.models import OccupationalStandard

    return db.session.scalar(sa.select(OccupationalStandard.id).where(
        OccupationalStandard.reference == reference))


def test_officer_adds_programme_with_route_from_standard(client, auth, world):
    from placements.models import Programme

    auth.login("officer1@example.test")
    assert client.get("/officer/programmes/new").status_code == 200
    response = client.post("/officer/programmes/new",
                           data={**PROGRAMME, "standard": _standard_id("ST0116")})
    assert response.status_code == 303, response.data[:2000]
    programme = db.session.scalar(sa.select(Programme).where(Programme.code == "HTQ-NET"))
    assert programme.provider_id == world["p1"].id
    assert (programme.route, programme.level) == ("Digital", 4)
    assert programme.required_placement_hours == 120
    assert programme.start_date.isoformat() == "2026-09-14"


@pytest.mark.parametrize(("changes", "message"), [
    ({"required_placement_hours": ""}, b"Enter the required placement hours"),
    ({"end_date": ["1", "9", "2026"]}, b"The end date must be after the start date"),
    ({"end_date": ["31", "2", "2027"]}, b"Enter a real end date"),
    ({"work_integration_target_pct": "120"}, b"The target must be between 0 and 100"),
    ({"title": "HTQ Software"}, b"already has a programme with this title"),
    ({"planned_total_hours": "0"}, b"Planned hours must be between 1 and 10000"),
])
def test_programme_bad_input_saves_nothing(client, auth, world, changes, message):
    from placements.models import Programme

    auth.login("officer1@example.test")
    before = db.session.scalar(sa.select(sa.func.count(Programme.id)))
    response = client.post("/officer/programmes/new",
                           data={**PROGRAMME, "standard": _standard_id("ST0116"), **changes})
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(sa.select(sa.func.count(Programme.id))) == before


def test_officer_edits_own_programme_only(client, auth, world):
    auth.login("officer1@example.test")
    own, other = world["prog1"].id, world["prog2"].id
    assert client.get(f"/officer/programmes/{own}").status_code == 200
    assert client.get(f"/officer/programmes/{other}").status_code == 404
    response = client.post(f"/officer/programmes/{other}",
                           data={**PROGRAMME, "standard": _standard_id("ST0215")})
    assert response.status_code == 404
    db.session.expire_all()
    from placements.models import Programme

    assert db.session.get(Programme, other).title == "HTQ Health"
    response = client.post(f"/officer/programmes/{own}", data={
        **PROGRAMME, "title": "HTQ Software (renamed)", "standard": _standard_id("ST0116")})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Programme, own).title == "HTQ Software (renamed)"


def test_enrolled_programme_cannot_change_sector(client, auth, world):
    auth.login("officer1@example.test")
    response = client.post(f"/officer/programmes/{world['prog1'].id}", data={
        **PROGRAMME, "standard": _standard_id("ST0215")})
    assert response.status_code == 400
    assert b"choose a standard of the same sector" in response.data
