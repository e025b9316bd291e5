"""CSV imports: learners from a student record export, employers with their sites and offers.

Each import is all-or-nothing: the whole file is parsed and checked against the database
first (every error of every row is reported as row, field, message); only a clean file is
written, in one transaction. Rows are upserted on natural keys, so importing the same file
twice changes nothing:

- learners: the officer's provider + `student_ref`; new learners get an invitation e-mail.
- employers/offers: employer name; site name within the employer; offer title within the
  employer's site. New employers are approved by the importing officer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from placements import audit
from placements.csvio import (
    ColumnSpec,
    Row,
    RowError,
    collect_errors,
    parse_bool,
    parse_choice,
    parse_date,
    parse_email,
    parse_int,
    parse_tags,
)
from placements.domain import DomainError
from placements.employers.services import (
    WORK_MODES,
    OfferData,
    add_site,
    create_offer,
    update_offer,
)
from placements.extensions import db
from placements.geo import Located, PostcodeError, locate
from placements.models import (
    REQUIREMENTS,
    Employer,
    EmployerSite,
    Learner,
    OfferStatus,
    PlacementOffer,
    Programme,
    User,
    utcnow,
)
from placements.officers.forms import AGE_BANDS, PRIOR_QUALIFICATIONS
from placements.officers.services import NewLearner, create_learner
from placements.reference import routes

Progress = Callable[[int], None]

LEARNER_COLUMNS: dict[str, ColumnSpec] = {
    "student_ref": ColumnSpec(required=True, max_length=40, example="S0001234",
                              help="Student number in your record system (the key)"),
    "name": ColumnSpec(required=True, max_length=200, example="Sam Taylor"),
    "email": ColumnSpec(required=True, parse=parse_email, example="sam.taylor@example.com"),
    "programme_code": ColumnSpec(required=True, max_length=40, example="HTQ-DIG-4",
                                 help="Your programme's course code"),
    "home_postcode": ColumnSpec(required=True, max_length=10, example="M1 1AA"),
    "max_travel_km": ColumnSpec(parse=parse_int(1, 500), default=25, example="25",
                                help="Furthest they can travel, km (default 25)"),
    "credentials": ColumnSpec(parse=parse_tags(REQUIREMENTS), default=[],
                              example="dbs;driving_licence",
                              help="Separated by ;, from: " + ", ".join(REQUIREMENTS)),
    "in_work_employer": ColumnSpec(max_length=200, example="",
                                   help="Employer, for upskillers already in work"),
    "first_in_family_he": ColumnSpec(parse=parse_bool, example="yes", help="yes, no or blank"),
    "age_band": ColumnSpec(parse=parse_choice(AGE_BANDS), example="21-24",
                           help="One of " + ", ".join(AGE_BANDS) + " or blank"),
    "prior_qualification": ColumnSpec(parse=parse_choice(PRIOR_QUALIFICATIONS),
                                      example="A levels", help="Or blank"),
    "disability_declared": ColumnSpec(parse=parse_bool, example="", help="yes, no or blank"),
}

OFFER_COLUMNS: dict[str, ColumnSpec] = {
    "employer_name": ColumnSpec(required=True, max_length=200, example="Acme Digital Ltd",
                                help="The key for employers"),
    "sector": ColumnSpec(required=True, max_length=100, example="Digital",
                         help="Occupational route of the placement"),
    "contact_email": ColumnSpec(parse=parse_email, example="placements@acme.example",
                                help="Used when the employer is new"),
    "site_name": ColumnSpec(required=True, max_length=200, example="Head office"),
    "site_postcode": ColumnSpec(required=True, max_length=10, example="M1 1AA"),
    "site_address": ColumnSpec(max_length=500, default="", example="1 Example Street"),
    "offer_title": ColumnSpec(required=True, max_length=200, example="Junior developer",
                              help="With employer and site, the key for offers"),
    "capacity": ColumnSpec(required=True, parse=parse_int(0, 500), example="2"),
    "start_date": ColumnSpec(required=True, parse=parse_date, example="2027-02-01"),
    "end_date": ColumnSpec(required=True, parse=parse_date, example="2027-05-28"),
    "hours_per_week": ColumnSpec(required=True, parse=parse_int(1, 48), example="30"),
    "requirements": ColumnSpec(parse=parse_tags(REQUIREMENTS), default=[], example="dbs",
                               help="Separated by ;, from: " + ", ".join(REQUIREMENTS)),
    "work_mode": ColumnSpec(parse=parse_choice(WORK_MODES), default="on-site",
                            example="on-site", help="on-site or hybrid"),
    "description": ColumnSpec(max_length=5000, default="", example=""),
}


@dataclass
class ImportOutcome:
    """What an import wrote (or the errors that stopped it)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] | None = None

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _locate(row: Row, field: str, cache: dict[str, Located | str]) -> Located | str:
    raw = row[field]
    if raw not in cache:
        try:
            cache[raw] = locate(raw)
        except PostcodeError as exc:
            cache[raw] = str(exc) or "Enter a real postcode"
    return cache[raw]


# --- Learners ------------------------------------------------------------------------------

def check_learner_rows(officer: User, rows: Sequence[Row]) -> list[RowError]:
    """Check every learner row against the database; return all errors (nothing written)."""
    programmes = {p.code.strip().lower(): p for p in db.session.scalars(sa.select(Programme).where(
        Programme.provider_id == officer.provider_id)) if p.code}
    existing = _existing_learners(officer)
    emails = {e.lower(): uid for uid, e in db.session.execute(sa.select(User.id, User.email))}
    seen_refs: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    postcodes: dict[str, Located | str] = {}

    def check(row: Row):
        ref = row["student_ref"].lower()
        if ref in seen_refs:
            yield "student_ref", f"Student number repeats row {seen_refs[ref]}"
        seen_refs.setdefault(ref, row.number)
        email = row["email"]
        if email in seen_emails:
            yield "email", f"Email address repeats row {seen_emails[email]}"
        seen_emails.setdefault(email, row.number)
        learner = existing.get(ref)
        owner = emails.get(email)
        if owner is not None and (learner is None or learner.user_id != owner):
            yield "email", "Another account already uses this email address"
        programme = programmes.get(row["programme_code"].lower())
        if programme is None:
            yield "programme_code", (f"No programme with code {row['programme_code']} at your "
                                     "provider")
        else:
            row.values["programme_id"] = programme.id
        located = _locate(row, "home_postcode", postcodes)
        if isinstance(located, str):
            yield "home_postcode", located
        else:
            row.values["located"] = located

    return collect_errors(rows, check)


def _existing_learners(officer: User) -> dict[str, Learner]:
    learners = db.session.scalars(sa.select(Learner).where(
        Learner.provider_id == officer.provider_id).options(
        selectinload(Learner.user)))
    return {lrn.student_ref.strip().lower(): lrn for lrn in learners}


def apply_learner_rows(officer: User, rows: Sequence[Row],
                       progress: Progress | None = None) -> ImportOutcome:
    """Upsert checked learner rows (flushes; the caller commits or rolls back)."""
    outcome = ImportOutcome()
    existing = _existing_learners(officer)
    for i, row in enumerate(rows, 1):
        v = row.values
        located: Located = v["located"]
        learner = existing.get(v["student_ref"].lower())
        if learner is None:
            create_learner(officer, NewLearner(
                name=v["name"], email=v["email"], student_ref=v["student_ref"],
                programme_id=v["programme_id"], home=located,
                max_travel_km=v["max_travel_km"], credentials=tuple(v["credentials"]),
                in_work_employer=v["in_work_employer"],
                first_in_family_he=v["first_in_family_he"], age_band=v["age_band"],
                prior_qualification=v["prior_qualification"],
                disability_declared=v["disability_declared"]))
            outcome.created += 1
        else:
            changes = _learner_changes(learner, v, located)
            if changes:
                for target, attr, value in changes:
                    setattr(target, attr, value)
                audit.record(officer, "learner.imported", learner,
                             student_ref=learner.student_ref,
                             changed=sorted({attr for _, attr, _ in changes}))
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        if progress is not None and (i % 100 == 0 or i == len(rows)):
            progress(i)
    db.session.flush()
    return outcome


def _learner_changes(learner: Learner, v: dict[str, Any],
                     located: Located) -> list[tuple[Any, str, Any]]:
    wanted = [
        (learner.user, "name", v["name"].strip()),
        (learner.user, "email", v["email"]),
        (learner, "programme_id", v["programme_id"]),
        (learner, "home_postcode", located.postcode),
        (learner, "lat", located.lat),
        (learner, "lon", located.lon),
        (learner, "max_travel_km", v["max_travel_km"]),
        (learner, "credentials", sorted(set(v["credentials"]))),
        (learner, "in_work_employer", (v["in_work_employer"] or "").strip() or None),
        (learner, "first_in_family_he", v["first_in_family_he"]),
        (learner, "age_band", v["age_band"] or None),
        (learner, "prior_qualification", v["prior_qualification"] or None),
        (learner, "disability_declared", v["disability_declared"]),
    ]
    return [(t, a, val) for t, a, val in wanted if getattr(t, a) != val]


# --- Employers, sites and offers -----------------------------------------------------------

def _key(*parts: str) -> tuple[str, ...]:
    return tuple(" ".join(p.split()).lower() for p in parts)


def check_offer_rows(officer: User, rows: Sequence[Row]) -> list[RowError]:  # noqa: ARG001
    """Check every employer/offer row; return all errors (nothing written)."""
    sectors = {s.lower(): s for s in routes()}
    offers = _existing_offers()
    seen: dict[tuple[str, ...], int] = {}
    postcodes: dict[str, Located | str] = {}

    def check(row: Row):
        sector = sectors.get(row["sector"].strip().lower())
        if sector is None:
            yield "sector", "Use an occupational route, such as " + ", ".join(
                sorted(sectors.values())[:4])
        else:
            row.values["sector"] = sector
        if row["end_date"] < row["start_date"]:
            yield "end_date", "End date must be on or after the start date"
        key = _key(row["employer_name"], row["site_name"], row["offer_title"])
        if key in seen:
            yield "offer_title", f"The same employer, site and offer title repeat row {seen[key]}"
        seen.setdefault(key, row.number)
        offer = offers.get(key)
        if offer is not None and offer.status != OfferStatus.OPEN:
            yield "offer_title", "This offer has been withdrawn, so an import cannot change it"
        located = _locate(row, "site_postcode", postcodes)
        if isinstance(located, str):
            yield "site_postcode", located
        else:
            row.values["located"] = located

    return collect_errors(rows, check)


def _existing_offers() -> dict[tuple[str, ...], PlacementOffer]:
    rows = db.session.execute(
        sa.select(PlacementOffer, Employer.name, EmployerSite.name)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id))
    return {_key(emp, site, offer.title): offer for offer, emp, site in rows}


def apply_offer_rows(officer: User, rows: Sequence[Row],
                     progress: Progress | None = None) -> ImportOutcome:
    """Upsert checked employer/site/offer rows (flushes; the caller commits or rolls back)."""
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
                                approved=True, approved_at=utcnow(), approved_by_id=officer.id)
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
        data = OfferData(
            site_id=site.id, title=" ".join(v["offer_title"].split()), sector=v["sector"],
            capacity=v["capacity"], start_date=v["start_date"], end_date=v["end_date"],
            hours_per_week=v["hours_per_week"], description=v["description"] or "",
            requirements=tuple(v["requirements"]), work_mode=v["work_mode"])
        offer = offers.get(_key(employer.name, site.name, data.title))
        try:
            if offer is None:
                offer = create_offer(officer, employer, data)
                offers[_key(employer.name, site.name, data.title)] = offer
                created = True
            elif _offer_differs(offer, data):
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
        if progress is not None and (i % 100 == 0 or i == len(rows)):
            progress(i)
    db.session.flush()
    return outcome


def _offer_differs(offer: PlacementOffer, data: OfferData) -> bool:
    return (offer.site_id, offer.sector, offer.capacity, offer.start_date, offer.end_date,
            offer.hours_per_week, sorted(offer.requirements or []), offer.work_mode,
            offer.description or "") != (
        data.site_id, data.sector, data.capacity, data.start_date, data.end_date,
        data.hours_per_week, sorted(set(data.requirements)), data.work_mode, data.description)


class ImportRowError(Exception):
    """A row that passed the checks was refused while writing (the import is rolled back)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


IMPORTS = {
    "learners": (LEARNER_COLUMNS, check_learner_rows, apply_learner_rows),
    "offers": (OFFER_COLUMNS, check_offer_rows, apply_offer_rows),
}
