"""Importing employers with their sites and offers (through the one import pipeline).

Rows are upserted on the employer's name, the site's name within the employer and the
offer's title within the site. New employers are approved by the importing officer;
offers are created and changed through the same services as the employer portal, so an
import follows every rule a form does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from placements import audit
from placements.csvio import (
    ColumnSpec,
    Row,
    RowError,
    parse_email,
)
from placements.domain import DomainError
from placements.employers.services import (
    OfferData,
    add_site,
    create_offer,
    offer_columns,
    offer_differs,
    update_offer,
)
from placements.extensions import db
from placements.geo import Located, locate_cached
from placements.imports.pipeline import (
    ImportKind,
    ImportOutcome,
    ImportRowError,
    Progress,
    RowCheck,
    register,
)
from placements.models import (
    Employer,
    EmployerSite,
    EmployerStatus,
    OfferStatus,
    PlacementOffer,
    User,
    utcnow,
)
from placements.reference import routes

#: The employer's and site's columns, then one per offer field (from OfferData).
_OFFER_FIELD_COLUMNS = {name: spec for name, (_field, spec) in offer_columns().items()}
OFFER_COLUMNS: dict[str, ColumnSpec] = {
    "employer_name": ColumnSpec(required=True, max_length=200, example="Acme Digital Ltd",
                                help="The key for employers"),
    "sector": _OFFER_FIELD_COLUMNS.pop("sector"),
    "contact_email": ColumnSpec(parse=parse_email, example="placements@acme.example",
                                help="Used when the employer is new"),
    "site_name": ColumnSpec(required=True, max_length=200, example="Head office"),
    "site_postcode": ColumnSpec(required=True, max_length=10, example="M1 1AA"),
    "site_address": ColumnSpec(max_length=500, default="", example="1 Example Street"),
    **_OFFER_FIELD_COLUMNS,
}


def _key(*parts: str) -> tuple[str, ...]:
    return tuple(" ".join(p.split()).lower() for p in parts)


def _existing_offers() -> dict[tuple[str, ...], PlacementOffer]:
    rows = db.session.execute(
        sa.select(PlacementOffer, Employer.name, EmployerSite.name)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id))
    return {_key(emp, site, offer.title): offer for offer, emp, site in rows}


def check_offers(officer: User, rows: Sequence[Row]) -> RowCheck:  # noqa: ARG001
    """Build the look-ups once; return the check of one employer/site/offer row."""
    sectors = {s.lower(): s for s in routes()}
    offers = _existing_offers()
    seen: dict[tuple[str, ...], int] = {}
    postcodes: dict[str, Located | str] = {}

    def check(row: Row):
        if row.get("sector"):
            sector = sectors.get(row["sector"].strip().lower())
            if sector is None:
                yield "sector", "Use an occupational route, such as " + ", ".join(
                    sorted(sectors.values())[:4])
            else:
                row.values["sector"] = sector
        start, end = row.get("start_date"), row.get("end_date")
        if start and end and end < start:
            yield "end_date", "End date must be on or after the start date"
        if row.get("employer_name") and row.get("site_name") and row.get("offer_title"):
            key = _key(row["employer_name"], row["site_name"], row["offer_title"])
            if key in seen:
                yield ("offer_title",
                       f"The same employer, site and offer title repeat row {seen[key]}")
            seen.setdefault(key, row.number)
            offer = offers.get(key)
            if offer is not None and offer.status != OfferStatus.OPEN:
                yield ("offer_title",
                       "This offer has been withdrawn, so an import cannot change it")
        if row.get("site_postcode"):
            located = locate_cached(row["site_postcode"], postcodes, full=True)
            if isinstance(located, str):
                yield "site_postcode", located
            else:
                row.values["located"] = located

    return check


def write_offers(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Upsert checked employer/site/offer rows (flushes; the job commits or rolls back)."""
    outcome = ImportOutcome()
    employers = {_key(e.name)[0]: e for e in db.session.scalars(sa.select(Employer))}
    sites = {_key(e_name, s.name): s for s, e_name in db.session.execute(
        sa.select(EmployerSite, Employer.name).join(Employer))}
    offers = _existing_offers()
    for i, row in enumerate(rows, 1):
        v = row.values
        located: Located = v["located"]
        created = updated = False
        employer = employers.get(_key(v["employer_name"])[0])
        if employer is None:
            employer = Employer(name=" ".join(v["employer_name"].split()), sector=v["sector"],
                                region=located.district.region, contact_email=v["contact_email"],
                                status=EmployerStatus.APPROVED, approved_at=utcnow(),
                                status_changed_at=utcnow(), approved_by_id=officer.id)
            db.session.add(employer)
            db.session.flush()
            audit.record(officer, "employer.imported", employer, name=employer.name)
            audit.record(officer, "employer.approved", employer, name=employer.name)
            employers[_key(employer.name)[0]] = employer
            created = True
        site_key = _key(employer.name, v["site_name"])
        site = sites.get(site_key)
        if site is None:
            site = add_site(officer, employer, name=" ".join(v["site_name"].split()),
                            address=v["site_address"] or "", located=located)
            sites[site_key] = site
            created = True
        elif site.postcode != located.postcode or (
                v["site_address"] and site.address != v["site_address"]):
            site.postcode, site.lat, site.lon = located.postcode, located.lat, located.lon
            if v["site_address"]:
                site.address = v["site_address"]
            audit.record(officer, "site.imported", site, postcode=site.postcode)
            updated = True
        data = OfferData.from_values({
            "site_id": site.id, **{field: v[column]
                                   for column, (field, _spec) in offer_columns().items()},
            "title": " ".join(v["offer_title"].split())})
        offer = offers.get(_key(employer.name, site.name, data.title))
        try:
            if offer is None:
                offer = create_offer(officer, employer, data)
                offers[_key(employer.name, site.name, data.title)] = offer
                created = True
            elif offer_differs(offer, data):
                update_offer(officer, employer, offer, data, reason="Changed by a CSV import")
                updated = True
        except DomainError as exc:
            raise ImportRowError(RowError(row.number, exc.field or "offer_title",
                                          exc.message)) from exc
        if created:
            outcome.created += 1
        elif updated:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if i % 100 == 0 or i == len(rows):
            progress(i)
    db.session.flush()
    return outcome


OFFERS = register(ImportKind(
    name="offers", title="Employers and offers", columns=OFFER_COLUMNS, check=check_offers,
    write=write_offers, order=20,
    description="Employers with their sites and placement offers (new employers are "
                "approved by you)."))
