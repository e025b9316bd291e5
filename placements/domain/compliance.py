"""Employer compliance: the review lifecycle of an item and the rule that gates allocation.

An item is submitted by the employer (or recorded by an officer), then accepted or
returned with a reason; a newer submission of the same item (same type, same site)
supersedes the older ones still waiting or returned, and accepting it supersedes the item
accepted before (so an employer never loses its accepted insurance while the renewal waits
for review). Whether an item is in date is derived from its dates, never stored.

The rule: an offer is open to allocation only when, for every active item type that blocks
allocation (the built-in ones, and those of the providers in question), its employer (and,
for a per-site type, the offer's site) has an accepted item that is valid on the day that
matters: the later of today and the offer's start date. `blocked_reasons` is the rule in
Python with the reasons in words; `compliant_sql` is the same rule in SQL (one correlated
NOT EXISTS, so lists and the problem builder stay one statement); a test feeds both the
same fixtures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
import sqlalchemy.orm

from placements.domain.lifecycle import Lifecycle, move
from placements.extensions import db
from placements.models import (
    ComplianceItem,
    ComplianceItemType,
    ComplianceStatus,
    PlacementOffer,
)

S = ComplianceStatus

#: The review lifecycle of a compliance item.
ITEM: Lifecycle[ComplianceStatus] = Lifecycle(
    "compliance_item", ComplianceItem, [
        move("accept", [S.SUBMITTED], S.ACCEPTED, event="accepted"),
        move("return", [S.SUBMITTED], S.RETURNED, event="returned"),
        move("supersede", [S.SUBMITTED, S.RETURNED, S.ACCEPTED], S.SUPERSEDED,
             event="superseded"),
    ],
    refusal=lambda verb, state, sub: (
        f"This item has already been {getattr(state, 'value', state)}"
        if state is not None else "This item no longer exists"),
)

#: Days before expiry when the employer and the officers are reminded.
REMINDER_DAYS = (30, 7)


def day_that_matters(start: date, today: date) -> date:
    """The day an item must still be valid on: the offer's start, or today once it began."""
    return max(start, today)


def valid_on(expires_on: date | None, day: date) -> bool:
    """Say whether an item with this expiry (None: none) is still valid on `day`."""
    return expires_on is None or expires_on >= day


@dataclass(frozen=True)
class TypeFacts:
    """What the rule needs of an item type."""

    id: int
    name: str
    per_site: bool
    expires: bool


@dataclass(frozen=True)
class HeldItem:
    """An accepted item of an employer (what the rule needs of it)."""

    type_id: int
    site_id: int | None
    expires_on: date | None


@dataclass(frozen=True)
class Gap:
    """One blocking item type an offer lacks, with why, in words."""

    type_id: int
    type_name: str
    #: "missing" (no accepted item) or "expires" (accepted, but not valid on the day).
    kind: str
    expires_on: date | None = None
    site_name: str = ""

    def sentence(self, *, started: bool = False) -> str:
        """Why, as a clause: "the employer's liability insurance expires before ..."."""
        what = self.type_name[0].lower() + self.type_name[1:]
        where = f" for {self.site_name}" if self.site_name else ""
        if self.kind == "expires":
            if started:
                return f"the {what}{where} has expired"
            return f"the {what}{where} expires before the placement starts"
        return f"there is no accepted {what}{where}"

    def remedy(self) -> str:
        """What would unblock it, for the officer."""
        what = self.type_name[0].lower() + self.type_name[1:]
        where = f" for {self.site_name}" if self.site_name else ""
        if self.kind == "expires":
            return f"a renewed {what}{where}, valid from the placement's start, accepted"
        return f"the employer's {what}{where}, submitted and accepted"


def type_scope_sql(provider_ids: Iterable[int] | None) -> sa.ColumnElement[bool]:
    """Item types that apply: active blocking types, built in or of the given providers."""
    ids = sorted(set(provider_ids or ()))
    scope: sa.ColumnElement[bool] = ComplianceItemType.provider_id.is_(None)
    if ids:
        scope = sa.or_(scope, ComplianceItemType.provider_id.in_(ids))
    return sa.and_(ComplianceItemType.active.is_(True),
                   ComplianceItemType.blocks_allocation.is_(True), scope)


def blocking_types(provider_ids: Iterable[int] | None = None) -> list[TypeFacts]:
    """The item types that gate allocation for these providers (built in ones always)."""
    return [TypeFacts(i, n, p, e) for i, n, p, e in db.session.execute(
        sa.select(ComplianceItemType.id, ComplianceItemType.name, ComplianceItemType.per_site,
                  ComplianceItemType.expires)
        .where(type_scope_sql(provider_ids)).order_by(ComplianceItemType.id))]


def held_items(employer_ids: Iterable[int]) -> dict[int, list[HeldItem]]:
    """The accepted items of some employers."""
    ids = sorted(set(employer_ids))
    out: dict[int, list[HeldItem]] = {i: [] for i in ids}
    if not ids:
        return out
    for employer_id, type_id, site_id, expires_on in db.session.execute(
            sa.select(ComplianceItem.employer_id, ComplianceItem.type_id,
                      ComplianceItem.site_id, ComplianceItem.expires_on)
            .where(ComplianceItem.employer_id.in_(ids),
                   ComplianceItem.status == ComplianceStatus.ACCEPTED)):
        out[employer_id].append(HeldItem(type_id, site_id, expires_on))
    return out


def gaps(types: Sequence[TypeFacts], held: Sequence[HeldItem], *, site_id: int,
         site_name: str, day: date) -> list[Gap]:
    """The rule on plain values: the blocking types an offer at `site_id` lacks on `day`."""
    out = []
    for t in types:
        mine = [h for h in held if h.type_id == t.id and (not t.per_site or h.site_id == site_id)]
        where = site_name if t.per_site else ""
        if not mine:
            out.append(Gap(t.id, t.name, "missing", site_name=where))
        elif not any(not t.expires or valid_on(h.expires_on, day) for h in mine):
            latest = max((h.expires_on for h in mine if h.expires_on), default=None)
            out.append(Gap(t.id, t.name, "expires", latest, site_name=where))
    return out


def offer_gaps(offer: PlacementOffer, *, today: date, provider_ids: Iterable[int] | None = None,
               types: Sequence[TypeFacts] | None = None,
               held: Sequence[HeldItem] | None = None) -> list[Gap]:
    """The blocking types one offer lacks (loads what it needs when not given)."""
    types = blocking_types(provider_ids) if types is None else types
    if not types:
        return []
    if held is None:
        held = held_items([offer.employer_id])[offer.employer_id]
    return gaps(types, held, site_id=offer.site_id, site_name=offer.site.name,
                day=day_that_matters(offer.start_date, today))


def blocked_because(offer: PlacementOffer, *, today: date,
                    provider_ids: Iterable[int] | None = None,
                    types: Sequence[TypeFacts] | None = None,
                    held: Sequence[HeldItem] | None = None) -> str | None:
    """Why an offer is closed to allocation for compliance, in words (None: it is not);
    `types` and `held` as `blocking_types` and `held_items` give them, when a caller asks
    about many offers at once."""
    found = offer_gaps(offer, today=today, provider_ids=provider_ids, types=types, held=held)
    if not found:
        return None
    started = offer.start_date <= today
    return "; ".join(g.sentence(started=started) for g in found)


def blocked_offer_ids(offers: Iterable[tuple[int, int, int, date]], *, today: date,
                      provider_ids: Iterable[int] | None = None) -> set[int]:
    """The rule for many offers at once: of (offer id, employer id, site id, start date)
    rows, the ids of those a blocking type is missing from or not valid on their day.

    One grouped query (the latest expiry of each employer's accepted items, by type and
    site) and dictionary look-ups: the problem builder's form, where thousands of offers
    meet tens of thousands of items. Same answer as `gaps` and `compliant_sql`.
    """
    rows = list(offers)
    types = blocking_types(provider_ids)
    if not rows or not types:
        return set()
    never = date.max
    latest: dict[tuple[int, int, int | None], date] = {}
    employer_ids = sorted({r[1] for r in rows})
    type_ids = [t.id for t in types]
    for start in range(0, len(employer_ids), 5000):
        chunk = employer_ids[start:start + 5000]
        for employer_id, type_id, site_id, expires in db.session.execute(
                sa.select(ComplianceItem.employer_id, ComplianceItem.type_id,
                          ComplianceItem.site_id,
                          sa.func.max(sa.func.coalesce(ComplianceItem.expires_on, never)))
                .where(ComplianceItem.employer_id.in_(chunk),
                       ComplianceItem.type_id.in_(type_ids),
                       ComplianceItem.status == ComplianceStatus.ACCEPTED.value)
                .group_by(ComplianceItem.employer_id, ComplianceItem.type_id,
                          ComplianceItem.site_id)):
            if isinstance(expires, str):  # SQLite hands back the coalesced date as text
                expires = date.fromisoformat(expires)
            latest[(employer_id, type_id, site_id)] = expires
            whole = (employer_id, type_id, None)
            latest[whole] = max(latest.get(whole, date.min), expires)
    blocked = set()
    for offer_id, offer_employer, offer_site, offer_start in rows:
        day = day_that_matters(offer_start, today)
        for t in types:
            last = latest.get((offer_employer, t.id, offer_site if t.per_site else None))
            if last is None or (t.expires and last < day):
                blocked.add(offer_id)
                break
    return blocked


def compliant_sql(today: date, provider_ids: Iterable[int] | None = None, *,
                  day: sa.ColumnElement[date] | sa.orm.InstrumentedAttribute[date] | None = None
                  ) -> sa.ColumnElement[bool]:
    """The same rule in SQL, for a statement over PlacementOffer: no applicable blocking
    type lacks an accepted item valid on the later of today and the offer's start (or on
    `day`, such as the offer's end for a placement that must stay covered until then)."""
    item_t = sa.orm.aliased(ComplianceItemType)
    if day is None:
        day = sa.case((PlacementOffer.start_date > today, PlacementOffer.start_date),
                      else_=sa.literal(today, sa.Date))
    has_item = (
        sa.select(sa.literal(1)).select_from(ComplianceItem)
        .where(ComplianceItem.type_id == item_t.id,
               ComplianceItem.employer_id == PlacementOffer.employer_id,
               ComplianceItem.status == ComplianceStatus.ACCEPTED.value,
               sa.or_(item_t.per_site.is_(False), ComplianceItem.site_id == PlacementOffer.site_id),
               sa.or_(item_t.expires.is_(False), ComplianceItem.expires_on.is_(None),
                      ComplianceItem.expires_on >= day))
        .correlate(item_t, PlacementOffer))
    ids = sorted(set(provider_ids or ()))
    scope: sa.ColumnElement[bool] = item_t.provider_id.is_(None)
    if ids:
        scope = sa.or_(scope, item_t.provider_id.in_(ids))
    lacking = (sa.select(sa.literal(1)).select_from(item_t)
               .where(item_t.active.is_(True), item_t.blocks_allocation.is_(True), scope,
                      ~has_item.exists())
               .correlate(PlacementOffer))
    return ~lacking.exists()


# --- expiry: what is due -----------------------------------------------------------------------


def due_within(expires_on: date | None, today: date, days: int) -> bool:
    """Say whether an item expires within `days` days from today (and has not yet)."""
    return expires_on is not None and today <= expires_on <= today + timedelta(days=days)


def reminder_due(expires_on: date | None, today: date) -> int | None:
    """The smallest reminder threshold an item has reached (30 or 7 days), or None."""
    if expires_on is None or expires_on < today:
        return None
    left = (expires_on - today).days
    reached = [d for d in REMINDER_DAYS if left <= d]
    return min(reached) if reached else None
