"""Administrators add providers and invite officers."""

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import OutboxMessage, Partnership, Provider, Role, User


def test_admin_adds_provider_in_new_partnership(client, auth, world):
    auth.login("admin@example.test")
    assert client.get("/admin/providers/new").status_code == 200
    response = client.post("/admin/providers/new", data={
        "name": "Lancashire IoT", "kind": "institute-of-technology", "ukprn": "10012345",
        "partnership": "0", "new_partnership": "Lancashire partnership"})
    assert response.status_code == 303
    provider = db.session.scalar(sa.select(Provider).where(Provider.name == "Lancashire IoT"))
    assert provider.partnership.name == "Lancashire partnership"
    assert provider.kind.value == "institute-of-technology"


def test_admin_adds_provider_to_existing_partnership(client, auth, world):
    auth.login("admin@example.test")
    partnership = db.session.scalar(sa.select(Partnership))
    response = client.post("/admin/providers/new", data={
        "name": "Third College", "kind": "college", "partnership": str(partnership.id)})
    assert response.status_code == 303
    db.session.expire_all()
    assert world["p1"].partner_ids() == {world["p1"].id, world["p2"].id,
                                         db.session.scalar(sa.select(Provider.id).where(
                                             Provider.name == "Third College"))}


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": "College One"}, b"already exists"),
    ({"ukprn": "123"}, b"8 digits starting with 1"),
    ({"kind": "spaceport"}, b"Select one of the options in the list"),
    ({"new_partnership": "Test partnership"}, b"already exists: choose it"),
])
def test_add_provider_bad_input_saves_nothing(client, auth, world, changes, message):
    auth.login("admin@example.test")
    before = db.session.scalar(sa.select(sa.func.count(Provider.id)))
    response = client.post("/admin/providers/new", data={
        "name": "New College", "kind": "college", "partnership": "0", **changes})
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(sa.select(sa.func.count(Provider.id))) == before


def test_admin_invites_officer(client, auth, world):
    auth.login("admin@example.test")
    response = client.post("/admin/officers/new", data={
        "name": "Olive Officer", "email": "olive@college.example",
        "provider": world["p2"].id})
    assert response.status_code == 303
    officer = db.session.scalar(sa.select(User).where(User.email == "olive@college.example"))
    assert officer.role == Role.OFFICER
    assert officer.provider_id == world["p2"].id
    assert officer.password_hash is None
    assert db.session.scalar(sa.select(OutboxMessage.id).where(
        OutboxMessage.to_address == "olive@college.example"))


def test_only_admins_manage_providers(client, auth, world):
    auth.login("officer1@example.test")
    assert client.get("/admin/providers/new").status_code == 403
    assert client.post("/admin/providers/new", data={
        "name": "Sneaky College", "kind": "college", "partnership": "0"}).status_code == 403
    assert db.session.scalar(sa.select(Provider).where(Provider.name == "Sneaky College")) \
        is None
