"""Compliance services: item types, submissions and reviews, uploads, the employer's list of
what is missing and due, the officers' dashboard, offers blocked, reminders.

The rules (the review lifecycle, which offers compliance closes, reminder thresholds) live
in `placements.domain.compliance`; who sees which employer's items in
`placements.domain.access`. Functions flush, never commit; they raise DomainError.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from placements import audit, mail
from placements.compliance import storage
from placements.domain import DomainError, NotAllowed, access
from placements.domain import compliance as rules
from placements.domain.compliance import ITEM
from placements.extensions import db
from placements.models import (
    VISIBLE_STATUSES,
    AllocationRound,
    BuiltinItem,
    ComplianceItem,
    ComplianceItemType,
    ComplianceReminder,
    ComplianceStatus,
    Employer,
    EmployerSite,
    Learner,
    Placement,
    PlacementOffer,
    Programme,
    Role,
    StoredFile,
    User,
    utcnow,
)
from placements.querying import contains_text
from placements.timeutil import today_uk

S = ComplianceStatus

#: The built-in types (the migration 0200_compliance inserts the same rows).
BUILTIN_TYPES: dict[BuiltinItem, dict[str, Any]] = {
    BuiltinItem.INSURANCE: {
        "name": "Employer's liability insurance",
        "description": "A current certificate of employer's liability insurance: insurer, "
                       "policy number and expiry date.",
        "per_site": False, "expires": True},
    BuiltinItem.RISK_ASSESSMENT: {
        "name": "Health and safety risk assessment",
        "description": "A risk assessment of each site where learners work, with the date it "
                       "was done, who reviewed it and when it must be reviewed again.",
        "per_site": True, "expires": True},
    BuiltinItem.SAFEGUARDING: {
        "name": "Safeguarding contact and policy",
        "description": "The person learners and the provider contact about safeguarding, and "
                       "the employer's safeguarding policy.",
        "per_site": False, "expires": False},
}

#: The officer's structured risk assessment checklist (instead of an upload).
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("induction", "The learner gets a health and safety induction on the first day"),
    ("hazards", "Significant hazards at the site have been identified and controlled"),
    ("first_aid", "First aid and accident reporting arrangements are in place"),
    ("fire", "Fire and emergency procedures are explained to the learner"),
    ("ppe", "Any protective equipment the work needs is provided free of charge"),
    ("supervision", "A named supervisor is responsible for the learner on site"),
    ("young_people", "Risks to learners under 18 have been assessed, where relevant"),
)


def ensure_builtin_types() -> list[ComplianceItemType]:
    """Add any built-in type missing (databases made without the migrations: tests, seed)."""
    have = {t.builtin: t for t in db.session.scalars(
        sa.select(ComplianceItemType).where(ComplianceItemType.builtin.is_not(None)))}
    for kind, spec in BUILTIN_TYPES.items():
        if kind.value not in have:
            have[kind.value] = ComplianceItemType(builtin=kind.value, blocks_allocation=True,
                                                  **spec)
            db.session.add(have[kind.value])
    db.session.flush()
    return [have[k.value] for k in BUILTIN_TYPES]


def builtin_type(kind: BuiltinItem) -> ComplianceItemType | None:
    return db.session.scalar(sa.select(ComplianceItemType).where(
        ComplianceItemType.builtin == kind.value))


# --- who sees what -------------------------------------------------------------------------


def employer_provider_ids(employer: Employer) -> set[int]:
    """Providers whose programmes are in a sector the employer offers placements in."""
    return set(db.session.scalars(
        sa.select(Programme.provider_id).distinct().where(Programme.route.in_(
            sa.select(PlacementOffer.sector).where(
                PlacementOffer.employer_id == employer.id)))))


def types_for_employer(employer: Employer) -> list[ComplianceItemType]:
    """The active item types an employer keeps: built in, and those of the providers it
    may host learners for."""
    providers = sorted(employer_provider_ids(employer))
    scope: sa.ColumnElement[bool] = ComplianceItemType.provider_id.is_(None)
    if providers:
        scope = sa.or_(scope, ComplianceItemType.provider_id.in_(providers))
    return list(db.session.scalars(sa.select(ComplianceItemType).where(
        ComplianceItemType.active.is_(True), scope).order_by(
        ComplianceItemType.provider_id.is_not(None), ComplianceItemType.id)))


def types_for_officer(officer: User) -> list[ComplianceItemType]:
    """The item types an officer works with: built in, and their own provider's."""
    return list(db.session.scalars(sa.select(ComplianceItemType).where(
        ComplianceItemType.active.is_(True),
        sa.or_(ComplianceItemType.provider_id.is_(None),
               ComplianceItemType.provider_id == officer.provider_id)).order_by(
        ComplianceItemType.provider_id.is_not(None), ComplianceItemType.id)))


def provider_types(officer: User) -> list[ComplianceItemType]:
    """The provider's own item types (active or not)."""
    return list(db.session.scalars(sa.select(ComplianceItemType).where(
        ComplianceItemType.provider_id == officer.provider_id).order_by(
        ComplianceItemType.name)))


def get_visible_item(user: User, item_id: int) -> ComplianceItem | None:
    """An item the user may see (their own organisation's, or an officer's scope), or None."""
    item = db.session.get(ComplianceItem, item_id)
    if item is None or not may_see_employer(user, item.employer):
        return None
    return item


def may_see_employer(user: User, employer: Employer) -> bool:
    """Say whether the user may see this employer's compliance items and documents."""
    if user.role == Role.EMPLOYER:
        return user.employer_id == employer.id
    if user.role == Role.OFFICER:
        return access.officer_sees_employer_compliance(user, employer)
    return False


# --- item types ----------------------------------------------------------------------------


def add_item_type(officer: User, *, name: str, description: str, per_site: bool,
                  expires: bool, blocks_allocation: bool) -> ComplianceItemType:
    """Add one of the provider's own compliance item types."""
    name = name.strip()
    if not name:
        raise DomainError("Enter the name of the item", field="name")
    clash = db.session.scalar(sa.select(ComplianceItemType.id).where(
        sa.func.lower(ComplianceItemType.name) == name.lower(),
        sa.or_(ComplianceItemType.provider_id.is_(None),
               ComplianceItemType.provider_id == officer.provider_id)))
    if clash:
        raise DomainError("There is already an item with this name", field="name")
    item_type = ComplianceItemType(provider_id=officer.provider_id, name=name,
                                   description=description.strip(), per_site=per_site,
                                   expires=expires, blocks_allocation=blocks_allocation)
    db.session.add(item_type)
    db.session.flush()
    audit.record(officer, "compliance_type.added", item_type, name=name,
                 blocks_allocation=blocks_allocation, expires=expires, per_site=per_site)
    return item_type


def set_type_active(officer: User, item_type: ComplianceItemType, active: bool) -> None:
    """Retire (or bring back) one of the provider's own item types."""
    if item_type.provider_id != officer.provider_id:
        raise NotAllowed("Only your own provider's items can be changed")
    item_type.active = active
    db.session.flush()
    audit.record(officer, "compliance_type." + ("restored" if active else "retired"),
                 item_type)


# --- submitting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemData:
    """What an employer (or an officer) submits for one item."""

    site_id: int | None = None
    issuer: str = ""
    reference: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    issued_on: date | None = None
    expires_on: date | None = None
    notes: str = ""


@dataclass(frozen=True)
class Upload:
    """An uploaded file as received (bytes read up to the limit, plus one)."""

    filename: str
    data: bytes


#: Per built-in type: the fields it needs, with the error when one is missing.
REQUIRED_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    BuiltinItem.INSURANCE.value: (("issuer", "Enter the insurer's name"),
                                  ("reference", "Enter the policy number")),
    BuiltinItem.RISK_ASSESSMENT.value: (("issuer", "Enter who reviewed the risk assessment"),
                                        ("issued_on", "Enter the date of the assessment")),
    BuiltinItem.SAFEGUARDING.value: (("contact_name", "Enter the safeguarding lead's name"),
                                     ("contact_email", "Enter the safeguarding lead's email "
                                                       "address"),
                                     ("contact_phone", "Enter the safeguarding lead's phone "
                                                       "number")),
}


def expiry_label(item_type: ComplianceItemType) -> str:
    """What the item's expiry is called."""
    if item_type.builtin == BuiltinItem.RISK_ASSESSMENT.value:
        return "Review-by date"
    if item_type.builtin == BuiltinItem.SAFEGUARDING.value:
        return "Policy review date"
    return "Expiry date"


def needs_upload(item_type: ComplianceItemType) -> bool:
    """Whether an employer's submission must carry a document (built-in types do)."""
    return item_type.builtin is not None


def check_upload(upload: Upload | None) -> tuple[str, str] | None:
    """Check a file by its content and size: (content type, extension), or DomainError."""
    if upload is None or not upload.data:
        return None
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if len(upload.data) > limit:
        raise DomainError(f"The file must be smaller than {limit // (1024 * 1024)} MB",
                          field="document")
    kind = storage.sniff(upload.data[:16])
    if kind is None:
        raise DomainError(f"The file must be {storage.KINDS} (this file is not, whatever "
                          "its name says)", field="document")
    return kind


def _clean_filename(name: str, ext: str) -> str:
    base = "".join(ch for ch in name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
                   if ch.isalnum() or ch in " ._-()").strip(" .")[:150]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem or 'document'}.{ext}"


def store_upload(actor: User, employer: Employer, upload: Upload,
                 kind: tuple[str, str]) -> StoredFile:
    """Keep a checked upload under a random name and record it."""
    content_type, ext = kind
    key = storage.new_key()
    storage.storage().save(key, upload.data, content_type)
    stored = StoredFile(storage_key=key, filename=_clean_filename(upload.filename, ext),
                        content_type=content_type, size_bytes=len(upload.data),
                        sha256=storage.digest(upload.data), employer_id=employer.id,
                        uploaded_by_id=actor.id)
    db.session.add(stored)
    db.session.flush()
    return stored


def discard_upload(stored: StoredFile | None) -> None:
    """Remove a stored file whose transaction was rolled back."""
    if stored is not None:
        try:
            storage.storage().delete(stored.storage_key)
        except Exception:  # noqa: BLE001  (best effort: an orphan costs only disk)
            current_app.logger.warning("could not remove upload %s", stored.storage_key)


def _validate(employer: Employer, item_type: ComplianceItemType, data: ItemData, *,
              today: date, by_officer: bool) -> EmployerSite | None:
    site = None
    if item_type.per_site:
        site = db.session.get(EmployerSite, data.site_id) if data.site_id else None
        if site is None or site.employer_id != employer.id:
            raise DomainError("Choose the site this covers", field="site_id")
    for name, message in REQUIRED_FIELDS.get(item_type.builtin or "", ()):
        value = getattr(data, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DomainError(message, field=name)
    if data.issued_on is not None and data.issued_on > today:
        raise DomainError("The date of the assessment must be today or in the past",
                          field="issued_on")
    if item_type.expires:
        label = expiry_label(item_type).lower()
        if data.expires_on is None:
            raise DomainError(f"Enter the {label}", field="expires_on")
        if data.expires_on <= today:
            raise DomainError(f"The {label} must be in the future: this one has passed, so "
                              "it cannot count", field="expires_on")
        if data.issued_on is not None and data.expires_on < data.issued_on:
            raise DomainError(f"The {label} must be after the date of the assessment",
                              field="expires_on")
    elif data.expires_on is not None and data.expires_on <= today:
        raise DomainError(f"The {expiry_label(item_type).lower()} must be in the future",
                          field="expires_on")
    del by_officer
    return site


def submit_item(actor: User, employer: Employer, item_type: ComplianceItemType, data: ItemData,
                upload: Upload | None = None, *, today: date | None = None,
                checklist: dict[str, bool] | None = None) -> ComplianceItem:
    """Submit an item for review (a newer submission supersedes the older ones waiting).

    Checks every field and the file (by content, by size) before anything is stored; an
    employer's submission of a built-in type needs a document, an officer may record a risk
    assessment's checklist instead.
    """
    today = today or today_uk()
    if item_type not in types_for_employer(employer) and item_type.provider_id is not None \
            and item_type.provider_id != actor.provider_id:
        raise NotAllowed("This item does not apply to this employer")
    if not item_type.active:
        raise DomainError("This item is no longer asked for")
    site = _validate(employer, item_type, data, today=today,
                     by_officer=actor.role == Role.OFFICER)
    kind = check_upload(upload)
    if kind is None and checklist is None and needs_upload(item_type):
        raise DomainError(f"Upload the document ({storage.KINDS}, at most "
                          f"{current_app.config['UPLOAD_MAX_BYTES'] // (1024 * 1024)} MB)",
                          field="document")
    stored = store_upload(actor, employer, upload, kind) if kind and upload else None
    item = ComplianceItem(
        type_id=item_type.id, employer_id=employer.id, site_id=site.id if site else None,
        status=S.SUBMITTED, issuer=data.issuer.strip(), reference=data.reference.strip(),
        contact_name=data.contact_name.strip(), contact_email=data.contact_email.strip(),
        contact_phone=data.contact_phone.strip(), issued_on=data.issued_on,
        expires_on=data.expires_on if item_type.expires or data.expires_on else None,
        notes=data.notes.strip(), file_id=stored.id if stored else None,
        checklist=checklist, submitted_by_id=actor.id)
    older = list(db.session.scalars(sa.select(ComplianceItem).where(
        ComplianceItem.employer_id == employer.id, ComplianceItem.type_id == item_type.id,
        ComplianceItem.site_id.is_(None) if site is None else ComplianceItem.site_id == site.id,
        ComplianceItem.status.in_([S.SUBMITTED, S.RETURNED]))))
    db.session.add(item)
    db.session.flush()
    for old in older:
        ITEM.apply(old, "supersede", actor=actor, by=item.id)
    audit.record(actor, "compliance_item.submitted", item, type=item_type.name,
                 employer=employer.id, site=site.id if site else None,
                 expires_on=item.expires_on, file=stored.id if stored else None)
    return item


def accept_item(officer: User, item: ComplianceItem, *, today: date | None = None) -> None:
    """Accept a submitted item (and supersede the item accepted before it)."""
    today = today or today_uk()
    if not may_see_employer(officer, item.employer) or officer.role != Role.OFFICER:
        raise NotAllowed("You cannot review this employer's items")
    if item.type.expires and item.expires_on is not None and item.expires_on < today:
        raise DomainError("This item has already expired: return it and ask for a current one")
    before = list(db.session.scalars(sa.select(ComplianceItem).where(
        ComplianceItem.employer_id == item.employer_id, ComplianceItem.type_id == item.type_id,
        ComplianceItem.site_id.is_(None) if item.site_id is None
        else ComplianceItem.site_id == item.site_id,
        ComplianceItem.status == S.ACCEPTED, ComplianceItem.id != item.id)))
    ITEM.apply(item, "accept", actor=officer,
               values={"reviewed_by_id": officer.id, "reviewed_at": utcnow()})
    for old in before:
        ITEM.apply(old, "supersede", actor=officer, by=item.id)


def return_item(officer: User, item: ComplianceItem, reason: str) -> None:
    """Send a submitted item back to the employer with a reason."""
    reason = reason.strip()
    if not reason:
        raise DomainError("Enter why you are returning it: the employer sees this", field="reason")
    if not may_see_employer(officer, item.employer) or officer.role != Role.OFFICER:
        raise NotAllowed("You cannot review this employer's items")
    ITEM.apply(item, "return", actor=officer, reason=reason,
               values={"reviewed_by_id": officer.id, "reviewed_at": utcnow(),
                       "return_reason": reason})


def record_checklist(officer: User, employer: Employer, site_id: int | None, data: ItemData,
                     answers: dict[str, bool], *, today: date | None = None) -> ComplianceItem:
    """An officer records a site's risk assessment as a checklist, and accepts it at once."""
    if not may_see_employer(officer, employer):
        raise NotAllowed("You cannot record items for this employer")
    item_type = builtin_type(BuiltinItem.RISK_ASSESSMENT)
    if item_type is None:
        raise DomainError("Risk assessments are not set up")
    unanswered = [label for key, label in CHECKLIST if not answers.get(key)]
    if unanswered:
        raise DomainError("Every point of the checklist must be met before the assessment "
                          f"can be accepted; not met: {unanswered[0].lower()}",
                          field="checks")
    item = submit_item(officer, employer, item_type, data, None, today=today,
                       checklist={key: True for key, _ in CHECKLIST})
    accept_item(officer, item, today=today)
    return item


# --- what an employer has, lacks and must renew --------------------------------------------


@dataclass
class Requirement:
    """One item an employer keeps (one per type, or per type and site), and where it is."""

    item_type: ComplianceItemType
    site: EmployerSite | None
    accepted: ComplianceItem | None = None
    pending: ComplianceItem | None = None
    returned: ComplianceItem | None = None
    #: missing | waiting | returned | valid | expiring | expired
    state: str = "missing"
    offers_blocked: int = 0

    @property
    def label(self) -> str:
        return self.item_type.name + (f": {self.site.name}" if self.site else "")

    @property
    def expires_on(self) -> date | None:
        return self.accepted.expires_on if self.accepted else None


STATE_LABELS = {"missing": ("Missing", "red"), "waiting": ("Waiting for review", "blue"),
                "returned": ("Returned", "orange"), "valid": ("Accepted", "green"),
                "expiring": ("Expires soon", "yellow"), "expired": ("Expired", "red")}
#: How far ahead "expires soon" looks (the first reminder's threshold).
SOON_DAYS = max(rules.REMINDER_DAYS)


def state_of(accepted: ComplianceItem | None, pending: ComplianceItem | None,
             returned: ComplianceItem | None, expires: bool, today: date) -> str:
    """Where one requirement stands (the accepted item counts first)."""
    if accepted is not None:
        if expires and accepted.expires_on is not None:
            if accepted.expires_on < today:
                return "waiting" if pending is not None else "expired"
            if rules.due_within(accepted.expires_on, today, SOON_DAYS) and pending is None:
                return "expiring"
        return "valid"
    if pending is not None:
        return "waiting"
    if returned is not None:
        return "returned"
    return "missing"


def employer_requirements(employer: Employer, *, today: date | None = None
                          ) -> list[Requirement]:
    """Every item the employer keeps, with the current submissions and their state."""
    today = today or today_uk()
    types = types_for_employer(employer)
    items = list(db.session.scalars(sa.select(ComplianceItem).where(
        ComplianceItem.employer_id == employer.id, ComplianceItem.status != S.SUPERSEDED)
        .order_by(ComplianceItem.submitted_at)))
    out = []
    for t in types:
        sites: list[EmployerSite | None] = list(employer.sites) if t.per_site else [None]
        for site in sites:
            req = Requirement(t, site)
            for item in items:
                if item.type_id != t.id or (site is not None and item.site_id != site.id):
                    continue
                if item.status == S.ACCEPTED:
                    req.accepted = item
                elif item.status == S.SUBMITTED:
                    req.pending = item
                elif item.status == S.RETURNED:
                    req.returned = item
            req.state = state_of(req.accepted, req.pending, req.returned, t.expires, today)
            out.append(req)
    _count_blocked(employer, out, today)
    return out


def _count_blocked(employer: Employer, reqs: list[Requirement], today: date) -> None:
    """How many of the employer's open offers each blocking requirement holds back."""
    offers = [o for o in employer.offers if o.is_open and o.end_date >= today]
    if not offers:
        return
    held = rules.held_items([employer.id])[employer.id]
    for req in reqs:
        t = req.item_type
        if not t.blocks_allocation:
            continue
        facts = [rules.TypeFacts(t.id, t.name, t.per_site, t.expires)]
        site_id = req.site.id if req.site is not None else None
        req.offers_blocked = sum(
            1 for o in offers if (site_id is None or o.site_id == site_id) and
            bool(rules.gaps(facts, held, site_id=o.site_id, site_name=o.site.name,
                            day=rules.day_that_matters(o.start_date, today))))


def why_it_matters(req: Requirement) -> str:
    """The sentence an employer reads beside a requirement."""
    if not req.item_type.blocks_allocation:
        return "Asked for by a provider; it does not stop learners being placed with you."
    n = req.offers_blocked
    offers = f"{n} of your offer{'s' if n != 1 else ''}"
    if n and req.accepted is not None and req.state in ("valid", "expiring", "waiting"):
        return (f"It expires before {offers} start{'s' if n == 1 else ''}: "
                f"{'it' if n == 1 else 'they'} cannot be allocated learners until a renewal "
                "valid from the start is accepted.")
    if n:
        return (f"{offers} cannot be allocated learners until it is accepted and in date "
                "on the placement's start.")
    if req.state in ("valid", "expiring"):
        return "Learners can be placed with you while it is in date."
    return "Learners cannot be placed with you until it is accepted and in date."


# --- the officers' dashboard ---------------------------------------------------------------


@dataclass
class Dashboard:
    """Compliance across the employers an officer sees."""

    employers: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    by_month: list[tuple[str, int]] = field(default_factory=list)
    waiting: list[ComplianceItem] = field(default_factory=list)
    waiting_total: int = 0


def _employer_scope(officer: User) -> sa.Select[Any]:
    return sa.select(Employer.id).where(access.officer_compliance_employers_sql(officer))


def dashboard(officer: User, *, today: date | None = None, months: int = 12) -> Dashboard:
    """Counts by state (of every requirement: missing ones included) and accepted items by
    expiry month, in a few grouped queries (5,000 employers, 20,000 items)."""
    today = today or today_uk()
    out = Dashboard()
    scope = _employer_scope(officer).subquery()
    out.employers = db.session.scalar(sa.select(sa.func.count()).select_from(scope)) or 0
    types = types_for_officer(officer)
    sites_total = db.session.scalar(
        sa.select(sa.func.count()).select_from(EmployerSite)
        .where(EmployerSite.employer_id.in_(sa.select(scope.c.id)))) or 0
    expected = sum(sites_total if t.per_site else out.employers for t in types)
    type_ids = [t.id for t in types]
    # One row per requirement with anything on it, then counted by state, in the database.
    never = date.max
    item_type = sa.orm.aliased(ComplianceItemType)
    per_req = (
        sa.select(
            sa.func.max(sa.case((ComplianceItem.status == S.ACCEPTED.value,
                                 sa.func.coalesce(ComplianceItem.expires_on, never)))
                        ).label("accepted_until"),
            sa.func.max(sa.case((ComplianceItem.status == S.SUBMITTED.value, 1), else_=0)
                        ).label("waiting"),
            sa.func.max(sa.case((item_type.expires.is_(True), 1), else_=0)).label("expires"))
        .join(item_type, item_type.id == ComplianceItem.type_id)
        .where(ComplianceItem.employer_id.in_(sa.select(scope.c.id)),
               ComplianceItem.type_id.in_(type_ids),
               ComplianceItem.status != S.SUPERSEDED.value)
        .group_by(ComplianceItem.employer_id, ComplianceItem.type_id, ComplianceItem.site_id)
        .subquery())
    until, pending, expiring_type = per_req.c.accepted_until, per_req.c.waiting, \
        per_req.c.expires
    soon = today + timedelta(days=SOON_DAYS)
    state = sa.case(
        (sa.and_(until.is_not(None), expiring_type == 1, until < today, pending == 1),
         "waiting"),
        (sa.and_(until.is_not(None), expiring_type == 1, until < today), "expired"),
        (sa.and_(until.is_not(None), expiring_type == 1, until <= soon, pending == 0),
         "expiring"),
        (until.is_not(None), "valid"),
        (pending == 1, "waiting"),
        else_="returned")
    seen = 0
    states = sa.select(state.label("state")).subquery()
    for name, n in db.session.execute(sa.select(states.c.state, sa.func.count())
                                      .group_by(states.c.state)):
        out.by_state[str(name)] += int(n)
        seen += int(n)
    out.by_state["missing"] = max(0, expected - seen)
    # Accepted items by expiry month, from this month on.
    month_col = sa.func.substr(sa.cast(ComplianceItem.expires_on, sa.String), 1, 7)
    first = today.replace(day=1)
    last = (first + timedelta(days=32 * months)).replace(day=1)
    months_of = (sa.select(month_col.label("month"))
                 .where(ComplianceItem.employer_id.in_(sa.select(scope.c.id)),
                        ComplianceItem.status == S.ACCEPTED,
                        ComplianceItem.expires_on >= first, ComplianceItem.expires_on < last)
                 .subquery())
    counts: dict[str, int] = dict(db.session.execute(  # type: ignore[arg-type]
        sa.select(months_of.c.month, sa.func.count()).group_by(months_of.c.month)).all())
    month = first
    while month < last:
        key = f"{month:%Y-%m}"
        out.by_month.append((f"{month:%B %Y}", int(counts.get(key, 0))))
        month = (month + timedelta(days=32)).replace(day=1)
    waiting = (sa.select(ComplianceItem).where(
        ComplianceItem.employer_id.in_(sa.select(scope.c.id)),
        ComplianceItem.status == S.SUBMITTED))
    out.waiting_total = db.session.scalar(
        sa.select(sa.func.count()).select_from(waiting.subquery())) or 0
    out.waiting = list(db.session.scalars(waiting.order_by(ComplianceItem.submitted_at)
                                          .limit(50)))
    return out


def employers_page(officer: User, *, search: str = "", page: int = 1, per_page: int = 50
                   ) -> tuple[list[Employer], int]:
    """The employers an officer sees, by name, a page at a time."""
    stmt = sa.select(Employer).where(access.officer_compliance_employers_sql(officer))
    if search.strip():
        stmt = stmt.where(contains_text(search, Employer.name))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(db.session.scalars(stmt.order_by(Employer.name)
                                   .offset((page - 1) * per_page).limit(per_page)))
    return rows, total


CSV_HEAD = ["Employer", "Item", "Site", "State", "Insurer or reviewer", "Reference",
            "Issued", "Expires", "Submitted", "Reviewed", "Returned because"]


def csv_rows(officer: User, *, today: date | None = None) -> Iterable[list[Any]]:
    """One row per requirement of every employer the officer sees (missing ones included)."""
    today = today or today_uk()
    employers = list(db.session.scalars(
        sa.select(Employer).where(access.officer_compliance_employers_sql(officer))
        .order_by(Employer.name)))
    types = types_for_officer(officer)
    ids = [e.id for e in employers]
    items: dict[int, list[ComplianceItem]] = defaultdict(list)
    for start in range(0, len(ids), 2000):
        for item in db.session.scalars(sa.select(ComplianceItem).where(
                ComplianceItem.employer_id.in_(ids[start:start + 2000]),
                ComplianceItem.status != S.SUPERSEDED).order_by(ComplianceItem.submitted_at)):
            items[item.employer_id].append(item)
    sites: dict[int, list[EmployerSite]] = defaultdict(list)
    for start in range(0, len(ids), 2000):
        for row in db.session.scalars(sa.select(EmployerSite).where(
                EmployerSite.employer_id.in_(ids[start:start + 2000]))
                .order_by(EmployerSite.name)):
            sites[row.employer_id].append(row)
    for e in employers:
        for t in types:
            wanted: list[EmployerSite | None] = list(sites[e.id]) if t.per_site else [None]
            for site in wanted:
                mine = [i for i in items[e.id] if i.type_id == t.id
                        and (site is None or i.site_id == site.id)]
                acc = next((i for i in mine if i.status == S.ACCEPTED), None)
                pen = next((i for i in reversed(mine) if i.status == S.SUBMITTED), None)
                ret = next((i for i in reversed(mine) if i.status == S.RETURNED), None)
                state = state_of(acc, pen, ret, t.expires, today)
                shown = acc or pen or ret
                yield [e.name, t.name, site.name if site else "", STATE_LABELS[state][0],
                       shown.issuer if shown else "", shown.reference if shown else "",
                       shown.issued_on if shown else None, shown.expires_on if shown else None,
                       shown.submitted_at.date() if shown else None,
                       shown.reviewed_at.date() if shown and shown.reviewed_at else None,
                       ret.return_reason if ret and not acc and not pen else ""]


# --- offers blocked in a round, placements at risk --------------------------------------------


@dataclass(frozen=True)
class BlockedOffer:
    offer: PlacementOffer
    gaps: tuple[rules.Gap, ...]


def _blocked_stmt(round_: AllocationRound, today: date) -> sa.Select:
    from placements.domain.offers import listed_sql, open_to_choices_sql
    from placements.rounds.problem import provider_ids_of

    return (sa.select(PlacementOffer).join(Employer, Employer.id == PlacementOffer.employer_id)
            .where(listed_sql(today), PlacementOffer.sector.in_(sorted(round_.sectors())),
                   PlacementOffer.capacity > 0,
                   ~open_to_choices_sql(today, provider_ids_of(round_))))


def count_blocked_offers(round_: AllocationRound, *, today: date | None = None) -> int:
    """How many offers `blocked_offers` lists (one count in SQL)."""
    stmt = _blocked_stmt(round_, today or today_uk())
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


def blocked_offers(round_: AllocationRound, *, today: date | None = None
                   ) -> list[BlockedOffer]:
    """Offers in a round's sectors, otherwise open, that compliance keeps out, with what
    would unblock them."""
    from placements.rounds.problem import provider_ids_of

    today = today or today_uk()
    offers = list(db.session.scalars(
        _blocked_stmt(round_, today).options(
            sa.orm.contains_eager(PlacementOffer.employer),
            sa.orm.selectinload(PlacementOffer.site))
        .order_by(Employer.name, PlacementOffer.title)))
    providers = provider_ids_of(round_)
    if not offers:
        return []
    types = rules.blocking_types(providers)
    held = rules.held_items({o.employer_id for o in offers})
    return [BlockedOffer(o, tuple(rules.offer_gaps(o, today=today, types=types,
                                                   held=held[o.employer_id])))
            for o in offers]


@dataclass(frozen=True)
class AtRisk:
    """A published placement at risk, as the dashboard lists it."""

    placement_id: int
    learner_name: str
    offer_title: str
    employer_id: int
    employer_name: str
    start_date: date
    end_date: date
    gaps: tuple[rules.Gap, ...]


def placements_at_risk(officer: User, *, today: date | None = None, limit: int = 200
                       ) -> tuple[list[AtRisk], int]:
    """Published placements of the officer's provider's learners, not yet finished, whose
    employer or site lacks a blocking item valid until the placement ends: the first
    `limit` by start date, and how many there are in all.

    The rule's SQL form (`compliant_sql` on the placement's last day) finds and counts
    them; its Python form says what each one shown lacks."""
    today = today or today_uk()
    providers = [officer.provider_id] if officer.provider_id else []
    stmt = (sa.select(Placement.id, User.name, PlacementOffer.title, Employer.id,
                      Employer.name, PlacementOffer.start_date, PlacementOffer.end_date,
                      PlacementOffer.site_id, EmployerSite.name)
            .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
            .join(Employer, Employer.id == PlacementOffer.employer_id)
            .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
            .join(Learner, Learner.id == Placement.learner_id)
            .join(User, User.id == Learner.user_id)
            .where(Placement.status.in_([s.value for s in VISIBLE_STATUSES]),
                   Learner.provider_id == officer.provider_id,
                   PlacementOffer.end_date >= today,
                   ~rules.compliant_sql(today, providers, day=PlacementOffer.end_date)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(PlacementOffer.start_date, Placement.id).limit(limit)).all()
    if not rows:
        return [], total
    types = rules.blocking_types(providers)
    held = rules.held_items({r[3] for r in rows})
    return [AtRisk(pid, name, title, employer_id, employer, start, end, tuple(
                rules.gaps(types, held[employer_id], site_id=site_id, site_name=site_name,
                           day=end)))
            for pid, name, title, employer_id, employer, start, end, site_id, site_name
            in rows], total


# --- reminders -----------------------------------------------------------------------------


def _officer_addresses(employer: Employer) -> dict[str, int | None]:
    """Officers who see the employer's compliance: {address: provider}."""
    providers = employer_provider_ids(employer)
    if not providers:
        return {}
    return {u.email: u.provider_id for u in db.session.scalars(
        sa.select(User).where(User.role == Role.OFFICER, User.active.is_(True),
                              User.provider_id.in_(sorted(providers))))}


def _employer_addresses(employer: Employer) -> list[str]:
    addresses = [u.email for u in employer.users if u.active]
    if not addresses and employer.contact_email:
        addresses = [employer.contact_email]
    return addresses


def send_reminders(*, today: date | None = None) -> dict[str, int]:
    """E-mail the employer and its officers 30 and 7 days before an accepted item expires.

    Idempotent: each item is reminded once per threshold (ComplianceReminder rows, unique on
    item and threshold); an item already past a threshold when first seen gets only the
    nearest reminder. Run daily (`flask compliance remind`).
    """
    today = today or today_uk()
    horizon = today + timedelta(days=max(rules.REMINDER_DAYS))
    items = list(db.session.scalars(sa.select(ComplianceItem).where(
        ComplianceItem.status == S.ACCEPTED, ComplianceItem.expires_on.is_not(None),
        ComplianceItem.expires_on >= today, ComplianceItem.expires_on <= horizon)))
    sent = {(i, d) for i, d in db.session.execute(
        sa.select(ComplianceReminder.item_id, ComplianceReminder.days_before).where(
            ComplianceReminder.item_id.in_([i.id for i in items])))} if items else set()
    base = current_app.config["BASE_URL"].rstrip("/")
    counts = Counter[str]()
    for item in items:
        threshold = rules.reminder_due(item.expires_on, today)
        if threshold is None or (item.id, threshold) in sent:
            continue
        if not item.type.expires or not item.type.active:
            continue
        # A renewal already accepted supersedes this item; one waiting still needs review.
        what = item.type.name + (f" for {item.site.name}" if item.site else "")
        left = (item.expires_on - today).days  # type: ignore[operator]
        when = f"{item.expires_on:%d/%m/%Y}"
        recipients = 0
        for address in _employer_addresses(item.employer):
            mail.send_mail(address, f"{what} expires on {when}",
                           f"Your {what.lower()} expires in {left} day{'s' if left != 1 else ''}"
                           f", on {when}.\n\nOffers that start after that date cannot be "
                           "allocated learners, and learners already placed with you are "
                           "flagged to their provider, until a renewed one is uploaded and "
                           f"accepted.\n\nUpload it here: {base}/employer/compliance\n")
            recipients += 1
        for address, provider_id in _officer_addresses(item.employer).items():
            mail.send_mail(address, f"{item.employer.name}: {what} expires on {when}",
                           f"{item.employer.name}'s {what.lower()} expires in {left} day"
                           f"{'s' if left != 1 else ''}, on {when}.\n\nSee the employer's "
                           f"compliance: {base}/officer/compliance/employers/"
                           f"{item.employer_id}\n", provider_id=provider_id)
            recipients += 1
        db.session.add(ComplianceReminder(item_id=item.id, days_before=threshold,
                                          recipients=recipients))
        counts[f"{threshold}_days"] += 1
        counts["messages"] += recipients
    db.session.flush()
    return dict(counts)


def existing_file(user: User, file_id: int) -> tuple[StoredFile, bytes] | None:
    """A stored document the user may download, with its bytes (None: not theirs to see)."""
    stored = db.session.get(StoredFile, file_id)
    if stored is None or not may_see_employer(user, stored.employer):
        return None
    return stored, storage.storage().load(stored.storage_key)


def last_items(employer: Employer, limit: int = 20) -> Sequence[ComplianceItem]:
    """The employer's submissions, newest first (history)."""
    return list(db.session.scalars(sa.select(ComplianceItem).where(
        ComplianceItem.employer_id == employer.id)
        .order_by(ComplianceItem.submitted_at.desc(), ComplianceItem.id.desc()).limit(limit)))


# --- employer limits -----------------------------------------------------------------------


def set_limits(actor: User, employer: Employer, max_learners: int | None,
               min_if_any: int | None) -> None:
    """Set how many learners the employer hosts in one round across all its offers."""
    if max_learners is not None and max_learners < 0:
        raise DomainError("The most learners must be 0 or more", field="max_learners")
    if min_if_any is not None and min_if_any < 1:
        raise DomainError("The fewest learners must be 1 or more", field="min_if_any")
    if max_learners is not None and min_if_any is not None and min_if_any > max_learners:
        raise DomainError("The fewest learners worth hosting cannot be more than the most "
                          "you can host", field="min_if_any")
    before = {"max_learners": employer.max_learners, "min_if_any": employer.min_if_any}
    employer.max_learners = max_learners
    employer.min_if_any = min_if_any if min_if_any and min_if_any > 1 else None
    db.session.flush()
    audit.record(actor, "employer.limits_set", employer, before=before,
                 max_learners=employer.max_learners, min_if_any=employer.min_if_any)
