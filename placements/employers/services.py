"""Employer services: sites and placement offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError, NotAllowed
from placements.extensions import db
from placements.geo import Located
from placements.models import (
    REQUIREMENTS,
    Employer,
    EmployerSite,
    OccupationalStandard,
    PlacementOffer,
    User,
)
from placements.reference import routes

WORK_MODES = {"on-site": "On site", "hybrid": "Hybrid (some remote working)"}


def add_site(actor: User | None, employer: Employer, *, name: str, address: str,
             located: Located) -> EmployerSite:
    """Add a site to an employer, located offline from its postcode."""
    site = EmployerSite(employer=employer, name=name.strip(), address=address.strip(),
                        postcode=located.postcode, lat=located.lat, lon=located.lon)
    db.session.add(site)
    db.session.flush()
    audit.record(actor, "site.created", site, employer_id=employer.id, postcode=site.postcode)
    return site


@dataclass(frozen=True)
class OfferData:
    """What an employer says about a placement offer."""

    site_id: int
    title: str
    sector: str
    capacity: int
    start_date: date
    end_date: date
    hours_per_week: int
    description: str = ""
    requirements: tuple[str, ...] = ()
    standard_ids: tuple[int, ...] = ()
    work_mode: str = "on-site"
    extra: dict = field(default_factory=dict)


def validate_offer(employer: Employer, data: OfferData) -> EmployerSite:
    """Check an offer against the domain rules; return its site."""
    site = db.session.get(EmployerSite, data.site_id)
    if site is None or site.employer_id != employer.id:
        raise NotAllowed("Choose one of your own sites", field="site_id")
    if data.capacity < 0:
        raise DomainError("Number of places must be 0 or more", field="capacity")
    if data.end_date < data.start_date:
        raise DomainError("End date must be on or after the start date", field="end_date")
    if not 0 < data.hours_per_week <= 48:
        raise DomainError("Hours per week must be between 1 and 48", field="hours_per_week")
    if data.sector not in routes():
        raise DomainError("Choose a sector from the list", field="sector")
    unknown = set(data.requirements) - set(REQUIREMENTS)
    if unknown:
        raise DomainError(f"Unknown requirement: {', '.join(sorted(unknown))}",
                          field="requirements")
    if data.work_mode not in WORK_MODES:
        raise DomainError("Choose on site or hybrid", field="work_mode")
    return site


def create_offer(actor: User | None, employer: Employer, data: OfferData) -> PlacementOffer:
    """Create an open placement offer for an employer."""
    site = validate_offer(employer, data)
    standards = _standards_for(data)
    offer = PlacementOffer(
        employer=employer, site=site, title=data.title.strip(),
        description=data.description.strip(), sector=data.sector, capacity=data.capacity,
        start_date=data.start_date, end_date=data.end_date, hours_per_week=data.hours_per_week,
        requirements=sorted(set(data.requirements)), work_mode=data.work_mode,
        standards=standards)
    db.session.add(offer)
    db.session.flush()
    audit.record(actor, "offer.created", offer, employer_id=employer.id, capacity=data.capacity)
    return offer


def _standards_for(data: OfferData) -> list[OccupationalStandard]:
    if not data.standard_ids:
        return []
    standards = db.session.scalars(sa.select(OccupationalStandard).where(
        OccupationalStandard.id.in_(data.standard_ids))).all()
    if len(standards) != len(set(data.standard_ids)) or any(
            s.route != data.sector for s in standards):
        raise DomainError("Choose standards from the offer's sector", field="standard_ids")
    return list(standards)
