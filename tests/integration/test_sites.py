"""Employers change and archive their sites: full postcodes, unique names, repairs flagged
when a site with placed learners moves, archiving only when nothing depends on the site."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    AllocationRound,
    AuditEvent,
    EmployerSite,
    Placement,
    PlacementStatus,
)
from tests.conftest import PASSWORD


@pytest.fixture
def employer(client, world):
    client.post("/auth/login", data={"email": "emp1@example.test", "password": PASSWORD})
    return client


def _site(world, **fields):
    data = {"name": "Warehouse", "address": "1 Dock Road", "postcode": "M1 2AB"}
    data.update(fields)
    return data


def test_add_site_needs_a_full_postcode_and_a_new_name(employer, world):
    response = employer.post("/employer/sites/new", data=_site(world, postcode="SW1A"))
    assert response.status_code == 400
    assert "Enter the full postcode, like SW1A 1AA" in response.get_data(as_text=True)
    response = employer.post("/employer/sites/new", data=_site(world, name="hq"))
    assert response.status_code == 400
    assert "You already have a site called hq" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(EmployerSite.id))) == 2
    assert employer.post("/employer/sites/new", data=_site(world)).status_code == 303


def test_a_learner_home_may_still_be_a_district(world):
    from placements.geo import locate

    assert locate("SW1A").postcode == "SW1A"


def test_changing_a_site(employer, world):
    site = world["s1"]
    page = employer.get(f"/employer/sites/{site.id}/edit")
    assert page.status_code == 200
    assert 'value="HQ"' in page.get_data(as_text=True)
    response = employer.post(f"/employer/sites/{site.id}/edit",
                             data=_site(world, name="Head office", postcode="M1 1AA"))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(EmployerSite, site.id).name == "Head office"
    assert not db.session.get(AllocationRound, world["round"].id).needs_repair


def test_moving_a_site_with_placed_learners_flags_their_rounds(employer, world):
    db.session.add(Placement(round=world["round"], learner=world["l1"], offer=world["o1"],
                             status=PlacementStatus.PUBLISHED))
    db.session.commit()
    site = world["s1"]
    page = employer.get(f"/employer/sites/{site.id}/edit").get_data(as_text=True)
    assert "1 learner is placed at this site" in page
    response = employer.post(f"/employer/sites/{site.id}/edit",
                             data=_site(world, name="HQ", postcode="LS1 4AP"))
    assert response.status_code == 303
    assert "their placement officers have been asked" in employer.get(
        "/employer/sites").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(AllocationRound, world["round"].id).needs_repair
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "round.needs_repair")).detail["cause"] == "site.moved"


def test_another_employers_site_is_not_found(employer, world):
    other = world["s2"]
    assert employer.get(f"/employer/sites/{other.id}/edit").status_code == 404
    assert employer.post(f"/employer/sites/{other.id}/edit",
                         data=_site(world)).status_code == 404
    assert employer.post(f"/employer/sites/{other.id}/archive").status_code == 404
    db.session.expire_all()
    assert db.session.get(EmployerSite, other.id).archived_at is None


def test_archiving_a_site_only_when_nothing_depends_on_it(employer, world):
    site = world["s1"]
    page = employer.get(f"/employer/sites/{site.id}/archive").get_data(as_text=True)
    assert "1 offer is still open at this site" in page
    employer.post(f"/employer/sites/{site.id}/archive")
    db.session.expire_all()
    assert db.session.get(EmployerSite, site.id).archived_at is None
    world["o1"].status = "withdrawn"
    db.session.add(Placement(round=world["round"], learner=world["l1"], offer=world["o1"],
                             status=PlacementStatus.ACCEPTED))
    db.session.commit()
    assert "1 learner is placed at this site" in employer.get(
        f"/employer/sites/{site.id}/archive").get_data(as_text=True)
    db.session.execute(sa.delete(Placement))
    db.session.commit()
    assert employer.post(f"/employer/sites/{site.id}/archive").status_code == 303
    db.session.expire_all()
    assert db.session.get(EmployerSite, site.id).archived_at is not None
    # No new offers at an archived site, and it cannot change.
    form = employer.get("/employer/offers/new").get_data(as_text=True)
    assert "HQ, M1 1AA" not in form
    assert employer.post(f"/employer/sites/{site.id}/edit",
                         data=_site(world, name="HQ2")).status_code == 400
    from placements.domain import DomainError
    from placements.employers import services

    data = services.OfferData(site_id=site.id, title="Tester", description="", sector="Digital",
                              capacity=1, start_date=date(2027, 2, 1),
                              end_date=date(2027, 3, 1), hours_per_week=30)
    with pytest.raises(DomainError, match="That site has been archived"):
        services.validate_offer(world["e1"], data)
