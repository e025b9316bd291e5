"""Employer services: sites, placement offers and their changes, placed learners, colleagues."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for

from placements import audit
from placements.auth.services import create_invitation
from placements.csvio import ColumnSpec, parse_choice, parse_date, parse_int, parse_tags
from placements.domain import DomainError, NotAllowed, access
from placements.domain import employers as employer_rules
from placements.domain import rounds as round_rules
from placements.domain.placements import (
    EMPLOYER_ANSWER,
    answer_guard,
    held_places,
    held_places_by_round,
)
from placements.extensions import db
from placements.geo import Located
from placements.mail import send_mail
from placements.models import (
    REQUIREMENTS,
    AllocationRound,
    AuditEvent,
    Employer,
    EmployerSite,
    OccupationalStandard,
    OfferChange,
    OfferStatus,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Role,
    User,
)
from placements.reference import routes
from placements.reviews.services import raise_concern
from placements.timeutil import today_uk, utcnow

WORK_MODES = {"on-site": "On site", "hybrid": "Hybrid (some remote working)"}


def _require_unique_site_name(employer: Employer, name: str,
                              site: EmployerSite | None = None) -> None:
    taken = db.session.scalar(sa.select(EmployerSite.id).where(
        EmployerSite.employer_id == employer.id,
        sa.func.lower(EmployerSite.name) == name.strip().lower(),
        EmployerSite.id != (site.id if site is not None else -1)))
    if taken:
        raise DomainError(f"You already have a site called {name.strip()}: give this one "
                          "another name", field="name")


def add_site(actor: User | None, employer: Employer, *, name: str, address: str,
             located: Located) -> EmployerSite:
    """Add a site to an employer, located offline from its postcode."""
    _require_unique_site_name(employer, name)
    site = EmployerSite(employer=employer, name=name.strip(), address=address.strip(),
                        postcode=located.postcode, lat=located.lat, lon=located.lon)
    db.session.add(site)
    db.session.flush()
    audit.record(actor, "site.created", site, employer_id=employer.id, postcode=site.postcode)
    return site


def update_site(actor: User | None, employer: Employer, site: EmployerSite, *, name: str,
                address: str, located: Located) -> list[int]:
    """Change a site's name, address or postcode; return the rounds flagged for a repair.

    A new postcode moves the site: learners placed at its offers may now be beyond their
    travel limit, so every round holding places there is flagged for a repair run (its
    officers see why), and nothing changes for those learners until they do.
    """
    if site.employer_id != employer.id:
        raise NotAllowed("That is not one of your sites")
    if site.archived_at is not None:
        raise DomainError("This site has been archived: it can no longer change", field="name")
    _require_unique_site_name(employer, name, site)
    moved = located.postcode != site.postcode
    before = {"name": site.name, "address": site.address, "postcode": site.postcode}
    site.name, site.address = name.strip(), address.strip()
    flagged: list[int] = []
    if moved:
        site.postcode, site.lat, site.lon = located.postcode, located.lat, located.lon
        offer_ids = list(db.session.scalars(sa.select(PlacementOffer.id).where(
            PlacementOffer.site_id == site.id)))
        rounds = set()
        for offer_id in offer_ids:
            rounds |= set(held_places_by_round(offer_id))
        flagged = round_rules.flag_repair(sorted(rounds), actor=actor, cause="site.moved",
                                          site_id=site.id, site_name=site.name,
                                          postcode=site.postcode)
    db.session.flush()
    audit.record(actor, "site.updated", site, employer_id=employer.id, before=before,
                 after={"name": site.name, "address": site.address,
                        "postcode": site.postcode}, rounds_flagged=flagged)
    return flagged


def placed_at_site(site: EmployerSite) -> int:
    """How many places are held at the site's offers (every round)."""
    offer_ids = list(db.session.scalars(sa.select(PlacementOffer.id).where(
        PlacementOffer.site_id == site.id)))
    return sum(held_places(offer_ids).values()) if offer_ids else 0


def site_archive_refusal(site: EmployerSite) -> str | None:
    """Why a site cannot be archived now (None: it can): offers there still open to
    learners, or placements still held there."""
    open_offers = db.session.scalar(sa.select(sa.func.count(PlacementOffer.id)).where(
        PlacementOffer.site_id == site.id, PlacementOffer.status == OfferStatus.OPEN.value,
        PlacementOffer.end_date >= today_uk())) or 0
    if open_offers:
        return (f"{open_offers} offer{'s are' if open_offers != 1 else ' is'} still open at "
                "this site: withdraw or finish them first")
    held = placed_at_site(site)
    if held:
        return (f"{held} learner{'s are' if held != 1 else ' is'} placed at this site: it "
                "stays until their placements end")
    return None


def archive_site(actor: User | None, employer: Employer, site: EmployerSite) -> None:
    """Stop using a site: no new offers there; it stays in the records of past offers."""
    if site.employer_id != employer.id:
        raise NotAllowed("That is not one of your sites")
    if site.archived_at is not None:
        raise DomainError("This site is already archived")
    refusal = site_archive_refusal(site)
    if refusal:
        raise DomainError(refusal)
    done = db.session.execute(
        sa.update(EmployerSite).where(EmployerSite.id == site.id,
                                      EmployerSite.archived_at.is_(None))
        .values(archived_at=utcnow()), execution_options={"synchronize_session": "fetch"})
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise DomainError("This site is already archived")
    audit.record(actor, "site.archived", site, employer_id=employer.id)


def _field(label: str, show: Callable[[Any], str] | None = None,
           csv: tuple[str, ColumnSpec] | None = None, default: Any = dataclasses.MISSING
           ) -> Any:
    """A field of OfferData with its label, display and CSV import column."""
    metadata = {"label": label, "show": show, "csv": csv}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _dmy(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


@dataclass(frozen=True, kw_only=True)
class OfferData:
    """What an employer says about a placement offer: the one list of an offer's fields.

    Each field is a `PlacementOffer` attribute and an `OfferForm` field of the same name
    (`site_id` and `standard_ids` stand for the site and the standards). Its metadata gives
    the label on the offer's page, how the value is shown there, and its CSV import column.
    Adding a field to an offer touches the model (with a migration), the form, and one line
    here: creating, changing, comparing, showing and importing offers all follow this list.
    """

    site_id: int = _field("Site")
    title: str = _field("Title", csv=("offer_title", ColumnSpec(
        required=True, max_length=200, example="Junior developer",
        help="With employer and site, the key for offers")))
    description: str = _field("Description", default="", csv=("description", ColumnSpec(
        max_length=5000, default="", example="")))
    sector: str = _field("Sector", csv=("sector", ColumnSpec(
        required=True, max_length=100, example="Digital",
        help="Occupational route of the placement")))
    capacity: int = _field("Number of places", csv=("capacity", ColumnSpec(
        required=True, parse=parse_int(1, 500), example="2")))
    start_date: date = _field("Start date", show=_dmy, csv=("start_date", ColumnSpec(
        required=True, parse=parse_date, example="2027-02-01")))
    end_date: date = _field("End date", show=_dmy, csv=("end_date", ColumnSpec(
        required=True, parse=parse_date, example="2027-05-28")))
    hours_per_week: int = _field("Hours per week", csv=("hours_per_week", ColumnSpec(
        required=True, parse=parse_int(1, 48), example="30")))
    work_mode: str = _field("Where the work happens", default="on-site",
                            show=lambda v: WORK_MODES.get(v, v), csv=("work_mode", ColumnSpec(
                                parse=parse_choice(WORK_MODES), default="on-site",
                                example="on-site", help="on-site or hybrid")))
    requirements: tuple[str, ...] = _field(
        "Requirements", default=(),
        show=lambda v: ", ".join(REQUIREMENTS.get(t, t) for t in v) or "None",
        csv=("requirements", ColumnSpec(
            parse=parse_tags(REQUIREMENTS), default=[], example="dbs",
            help="Separated by ;, from: " + ", ".join(REQUIREMENTS))))
    standard_ids: tuple[int, ...] = _field("Occupational standards", default=())

    #: Fields kept on the offer as they are (the site and the standards are looked up).
    SPECIAL = ("site_id", "standard_ids")

    @classmethod
    def names(cls) -> list[str]:
        """The fields, in order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> OfferData:
        """Build from a form's or a row's values (lists become tuples, None text empty)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            if isinstance(value, list | set):
                value = tuple(value)
            if value is None and f.type == "str":
                value = ""
            out[f.name] = value
        return cls(**out)

    def stored(self) -> dict[str, Any]:
        """The offer's attributes as stored (text trimmed, requirements sorted)."""
        out: dict[str, Any] = {}
        for name in self.names():
            if name in self.SPECIAL:
                continue
            value = getattr(self, name)
            if isinstance(value, str):
                value = value.strip()
            elif isinstance(value, tuple):
                value = sorted(set(value))
            out[name] = value
        return out


def offer_summary(offer: PlacementOffer) -> list[tuple[str, str]]:
    """An offer's fields as (label, text), as its page shows them."""
    rows = []
    for f in dataclasses.fields(OfferData):
        label, show = f.metadata["label"], f.metadata["show"]
        if f.name == "site_id":
            rows.append((label, f"{offer.site.name}, {offer.site.postcode}"))
        elif f.name == "standard_ids":
            rows.append((label, "; ".join(str(s) for s in offer.standards) or "None"))
        else:
            value = getattr(offer, f.name)
            rows.append((label, show(value) if show else str(value if value is not None
                                                                  else "")))
    return rows


def offer_columns() -> dict[str, tuple[str, ColumnSpec]]:
    """CSV import columns of an offer's fields: column name -> (field, spec)."""
    return {f.metadata["csv"][0]: (f.name, f.metadata["csv"][1])
            for f in dataclasses.fields(OfferData) if f.metadata["csv"] is not None}


def offer_differs(offer: PlacementOffer, data: OfferData) -> bool:
    """Say whether saving `data` would change the offer."""
    if offer.site_id != data.site_id:
        return True
    return any(getattr(offer, name) != value for name, value in data.stored().items())


#: How far ahead an offer may start, and how long it may run.
OFFER_START_HORIZON = timedelta(days=3 * 366)
OFFER_LONGEST = timedelta(days=2 * 366)


def validate_offer(employer: Employer, data: OfferData,
                   offer: PlacementOffer | None = None) -> EmployerSite:
    """Check an offer against the domain rules; return its site. Dates: the offer must not
    have finished (unless an existing offer keeps its dates), may start at most three years
    ahead, and runs after its start for at most two years."""
    site = db.session.get(EmployerSite, data.site_id)
    if site is None or site.employer_id != employer.id:
        raise NotAllowed("Choose one of your own sites", field="site_id")
    if site.archived_at is not None and (offer is None or offer.site_id != site.id):
        raise DomainError("That site has been archived: choose another", field="site_id")
    if data.capacity < 1:
        raise DomainError("Enter at least 1 place (to offer none, withdraw the offer)",
                          field="capacity")
    if data.end_date <= data.start_date:
        raise DomainError("The end date must be after the start date", field="end_date")
    today = today_uk()
    dates_changed = offer is None or (offer.start_date, offer.end_date) != (
        data.start_date, data.end_date)
    if dates_changed and data.end_date < today:
        raise DomainError("The end date has passed: an offer must still be running",
                          field="end_date")
    if data.start_date > today + OFFER_START_HORIZON:
        raise DomainError("The start date must be within three years from today",
                          field="start_date")
    if data.end_date - data.start_date > OFFER_LONGEST:
        raise DomainError("A placement offer can run for at most two years: split it into "
                          "offers of two years or less", field="end_date")
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
    offer = PlacementOffer(employer=employer, site=site, standards=standards, **data.stored())
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


# --- Offers: edits, capacity changes and withdrawal -------------------------------------


def own_offers(employer: Employer) -> list[PlacementOffer]:
    """The organisation's offers, open ones first."""
    return list(db.session.scalars(sa.select(PlacementOffer).where(
        PlacementOffer.employer_id == employer.id).order_by(
        PlacementOffer.status, PlacementOffer.title, PlacementOffer.id)))


def own_sites(employer: Employer) -> list[EmployerSite]:
    """The organisation's sites, by name."""
    return list(db.session.scalars(sa.select(EmployerSite).where(
        EmployerSite.employer_id == employer.id)
        .order_by(EmployerSite.archived_at.is_not(None), EmployerSite.name)))


def colleagues(employer: Employer) -> list[User]:
    """The organisation's user accounts, by name."""
    return list(db.session.scalars(sa.select(User).where(User.employer_id == employer.id)
                                   .order_by(User.name)))


def get_own_offer(employer: Employer, offer_id: int) -> PlacementOffer | None:
    """Return one of the employer's own offers, or None (never another employer's)."""
    offer = db.session.get(PlacementOffer, offer_id)
    if offer is None or offer.employer_id != employer.id:
        return None
    return offer


def _record_change(actor: User | None, offer: PlacementOffer, *, kind: str, old: int, new: int,
                   reason: str) -> OfferChange:
    """Record a capacity change or withdrawal; flag every round holding places there when
    the places held (`domain.placements`: pending moves in included) no longer fit."""
    held = held_places_by_round(offer.id)
    flagged = sorted(held) if sum(held.values()) > new else []
    action = "offer.withdrawn" if kind == "withdrawn" else "offer.capacity_changed"
    round_rules.flag_repair(flagged, actor=actor, cause=action, offer_id=offer.id,
                            offer_title=offer.title)
    change = OfferChange(offer=offer, actor_id=getattr(actor, "id", None), kind=kind,
                         old_capacity=old, new_capacity=new, reason=reason,
                         rounds_flagged=flagged, placements_held=sum(held.values()))
    db.session.add(change)
    db.session.flush()
    audit.record(actor, action, offer, employer_id=offer.employer_id, old=old, new=new,
                 reason=reason, placements_held=change.placements_held, rounds_flagged=flagged)
    return change


def update_offer(actor: User | None, employer: Employer, offer: PlacementOffer, data: OfferData,
                 *, reason: str = "") -> OfferChange | None:
    """Change an offer; a lower capacity needs a reason and may flag rounds for repair.

    Placements are never deleted here: when fewer places remain than learners placed, each
    affected round is marked as needing a repair run, which the officers then make.
    """
    if offer.employer_id != employer.id:
        raise NotAllowed("This is not one of your offers")
    if not offer.is_open:
        raise DomainError("This offer has been withdrawn and can no longer be changed")
    site = validate_offer(employer, data, offer)
    reason = (reason or "").strip()
    if data.capacity < offer.capacity and not reason:
        raise DomainError("Give a reason for reducing the number of places", field="reason")
    if data.sector != offer.sector and _has_choices(offer):
        raise DomainError("Learners have already chosen this offer, so its sector cannot "
                          "change: withdraw it and add a new offer instead", field="sector")
    standards = _standards_for(data)
    old = offer.capacity
    offer.site = site
    for name, value in data.stored().items():
        setattr(offer, name, value)
    offer.standards = standards
    db.session.flush()
    audit.record(actor, "offer.updated", offer, employer_id=employer.id)
    if data.capacity == old:
        return None
    return _record_change(actor, offer, kind="capacity", old=old, new=data.capacity,
                          reason=reason)


def withdraw_offer(actor: User | None, employer: Employer, offer: PlacementOffer,
                   reason: str) -> OfferChange:
    """Withdraw an offer with a reason; rounds where it holds learners need a repair run."""
    if offer.employer_id != employer.id:
        raise NotAllowed("This is not one of your offers")
    if not offer.is_open:
        raise DomainError("This offer has already been withdrawn")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for withdrawing the offer", field="reason")
    offer.status = OfferStatus.WITHDRAWN
    offer.withdrawn_reason = reason
    db.session.flush()
    return _record_change(actor, offer, kind="withdrawn", old=offer.capacity, new=0,
                          reason=reason)


def _has_choices(offer: PlacementOffer) -> bool:
    return bool(db.session.scalar(sa.select(Preference.id).where(
        Preference.offer_id == offer.id).limit(1))) or bool(db.session.scalar(
        sa.select(Placement.id).where(Placement.offer_id == offer.id).limit(1)))


def offer_changes(offer: PlacementOffer) -> list[OfferChange]:
    """Return the recorded capacity changes and withdrawal of an offer, newest first."""
    return list(db.session.scalars(sa.select(OfferChange).where(
        OfferChange.offer_id == offer.id).order_by(OfferChange.at.desc(),
                                                   OfferChange.id.desc())))


# --- Dashboard: places filled, placed learners --------------------------------------------


@dataclass(frozen=True)
class RoundFill:
    """Places offered and filled at one offer in one round (published placements only)."""

    round: AllocationRound
    offer: PlacementOffer
    filled: int
    declined: int


def fill_by_round(employer: Employer) -> list[RoundFill]:
    """Count published placements per offer per round (nothing before publication)."""
    filled = sa.func.sum(sa.case((Placement.status != PlacementStatus.DECLINED.value, 1),
                                 else_=0))
    declined = sa.func.sum(sa.case((Placement.status == PlacementStatus.DECLINED.value, 1),
                                   else_=0))
    rows = db.session.execute(
        sa.select(Placement.round_id, Placement.offer_id, filled, declined)
        .join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
        .where(access.employer_placements_sql(employer.id))
        .group_by(Placement.round_id, Placement.offer_id)).all()
    result = [RoundFill(db.session.get_one(AllocationRound, r),
                        db.session.get_one(PlacementOffer, o), int(f or 0), int(d or 0))
              for r, o, f, d in rows]
    return sorted(result, key=lambda x: (x.round.name, x.offer.title, x.offer.id))


def placed_learners_stmt(employer: Employer) -> sa.Select[Placement]:
    """Select the published placements at the employer's offers (never proposed ones)."""
    return (sa.select(Placement).join(PlacementOffer, Placement.offer_id == PlacementOffer.id)
            .where(access.employer_placements_sql(employer.id))
            .order_by(Placement.round_id.desc(), PlacementOffer.title, Placement.id))


def placed_learners(employer: Employer) -> list[Placement]:
    """The published placements at the organisation's offers."""
    return list(db.session.scalars(placed_learners_stmt(employer)))


def get_visible_placement(employer: Employer, placement_id: int) -> Placement | None:
    """Return a published placement at one of the employer's offers, or None."""
    placement = db.session.get(Placement, placement_id)
    if placement is None or not access.employer_sees_placement(employer.id, placement):
        return None
    return placement


EMPLOYER_RESPONSES = {"accepted": "Accept this learner", "concern": "Raise a concern"}


def respond_to_placement(actor: User | None, employer: Employer, placement: Placement,
                         response: str, note: str = "", category: str = "") -> None:
    """Record the employer's acceptance of, or concern about, a placed learner.

    A concern is also recorded as a concern of its category (`reviews.services.
    raise_concern`), which e-mails the learner's placement officers and puts it on their
    list until one of them closes it.
    """
    if not access.employer_sees_placement(employer.id, placement):
        raise NotAllowed("This placement is not at one of your offers")
    if response not in EMPLOYER_RESPONSES:
        raise DomainError("Choose whether to accept the learner or raise a concern",
                          field="response")
    note = (note or "").strip()
    if response == "concern" and not note:
        raise DomainError("Describe your concern so the placement officer can act on it",
                          field="note")
    if response == "concern" and not category:
        raise DomainError("Choose what the concern is about", field="category")
    if placement.status == PlacementStatus.DECLINED:
        raise DomainError("The learner has declined this placement")
    EMPLOYER_ANSWER.apply(placement, f"employer_{response}", actor=actor,
                          values={"employer_note": note or None}, where=answer_guard(),
                          round_id=placement.round_id, note=note)
    if response == "concern":
        if actor is None:
            raise NotAllowed("Only an employer user can raise a concern")
        try:
            raise_concern(actor, placement, category, note)
        except DomainError as exc:
            raise DomainError(exc.message, field="note" if exc.field == "description"
                              else exc.field) from None


# --- Colleagues --------------------------------------------------------------------------


def invite_colleague(actor: User, employer: Employer, *, name: str, email: str) -> User:
    """Add a colleague to the employer organisation and send them an invitation link."""
    if actor.employer_id != employer.id:
        raise NotAllowed("You can only invite colleagues to your own organisation")
    address = email.strip().lower()
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == address)):
        raise DomainError("An account with this email address already exists", field="email")
    user = User(email=address, name=name.strip(), role=Role.EMPLOYER, employer=employer)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "employer.colleague_added", user, employer_id=employer.id)
    create_invitation(user, actor)
    return user


# --- Approval ----------------------------------------------------------------------------


def ask_for_approval_again(actor: User, employer: Employer, note: str) -> None:
    """A rejected organisation asks for approval again, saying what it has changed; the
    officer who rejected it hears about it (any officer may decide)."""
    if actor.employer_id != employer.id:
        raise NotAllowed("You can only ask for your own organisation")
    employer_rules.ask_again(actor, employer, note)
    officer = db.session.scalar(
        sa.select(User).join(AuditEvent, AuditEvent.actor_id == User.id).where(
            AuditEvent.action == "employer.rejected", AuditEvent.object_type == "Employer",
            AuditEvent.object_id == employer.id, User.role == Role.OFFICER,
            User.active.is_(True)).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1))
    if officer is not None:
        link = str(current_app.config["BASE_URL"]).rstrip("/") + url_for(
            "officers.employer_detail", employer_id=employer.id)
        send_mail(officer.email, f"{employer.name} has asked for approval again",
                  f"Hello {officer.name},\n\n{employer.name}, which you did not approve, has "
                  f"asked for approval again. What they say they have changed:\n\n"
                  f"{employer.resubmission_note}\n\nApprove or reject it here (any "
                  f"placement officer may decide):\n{link}\n",
                  provider_id=officer.provider_id)
