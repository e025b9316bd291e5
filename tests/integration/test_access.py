"""Role x page access matrix, with attempts on other people's objects (IDOR)."""

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import Employer

USERS = {
    "admin": "admin@example.test",
    "officer": "officer1@example.test",
    "employer": "emp1@example.test",
    "learner": "learner1@example.test",
}

# path template -> roles allowed to see it
PAGES = {
    "/admin/": {"admin"},
    "/admin/providers": {"admin"},
    "/admin/officers/new": {"admin"},
    "/officer/": {"officer"},
    "/officer/employers": {"officer"},
    "/officer/learners": {"officer"},
    "/officer/learners/new": {"officer"},
    "/officer/learners/{l1}": {"officer"},
    "/officer/outbox": {"officer"},
    "/employer/": {"employer"},
    "/learner/": {"learner"},
    "/auth/password": {"admin", "officer", "employer", "learner"},
}

POSTS = ["/officer/employers/{e_pending}/approve", "/officer/learners/{l1}/invite"]


def _ids(world) -> dict:
    pending = Employer(name="Pending Ltd", sector="Digital", region="North West")
    db.session.add(pending)
    db.session.commit()
    return {"l1": world["l1"].id, "l2": world["l2"].id, "e_pending": pending.id}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_anonymous_is_sent_to_sign_in(client, world, path):
    response = client.get(path.format(**_ids(world)))
    assert response.status_code == 302
    assert "/auth/login?next=" in response.headers["Location"]


@pytest.mark.parametrize("role", sorted(USERS))
@pytest.mark.parametrize("path", sorted(PAGES))
def test_role_page_matrix(client, auth, world, role, path):
    ids = _ids(world)
    auth.login(USERS[role])
    response = client.get(path.format(**ids))
    if role in PAGES[path]:
        assert response.status_code == 200, response.data[:500]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ["admin", "employer", "learner"])
@pytest.mark.parametrize("path", POSTS)
def test_officer_actions_refused_to_other_roles(client, auth, world, role, path):
    ids = _ids(world)
    auth.login(USERS[role])
    response = client.post(path.format(**ids), data={"name": "X", "email": "x@x.example",
                                                      "provider": world["p1"].id})
    assert response.status_code == 403
    db.session.expire_all()
    assert not db.session.get(Employer, ids["e_pending"]).approved


def test_officer_cannot_see_another_providers_learner(client, auth, world):
    auth.login("officer1@example.test")
    assert client.get(f"/officer/learners/{world['l2'].id}").status_code == 404
    assert client.post(f"/officer/learners/{world['l2'].id}/invite").status_code == 404
    assert b"learner2@example.test" not in client.get("/officer/learners").data


def test_officer_learner_list_shows_only_own_provider(client, auth, world):
    auth.login("officer2@example.test")
    page = client.get("/officer/learners").data
    assert b'<td class="govuk-table__cell">B1</td>' in page
    assert b'<td class="govuk-table__cell">A1</td>' not in page


def test_missing_object_is_404(client, auth, world):
    auth.login("officer1@example.test")
    assert client.get("/officer/learners/99999").status_code == 404
    assert client.post("/officer/employers/99999/approve").status_code == 404


def test_learner_home_shows_only_own_data(client, auth, world):
    auth.login("learner1@example.test")
    page = client.get("/learner/").data
    assert b"HTQ Software" in page
    assert b"HTQ Health" not in page


def test_employer_sees_only_own_offers(client, auth, world):
    auth.login("emp1@example.test")
    page = client.get("/employer/").data
    assert b"Junior developer" in page
    assert b"Care assistant" not in page


def test_start_page_and_signed_in_redirect(client, auth, world):
    assert client.get("/").status_code == 200
    auth.login("officer1@example.test")
    assert client.get("/").headers["Location"].endswith("/officer/")


def test_navigation_matches_role(client, auth, world):
    auth.login("learner1@example.test")
    page = client.get("/learner/").data
    assert b"/officer/" not in page
    assert b"/admin/" not in page
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Employer.id))) >= 2
