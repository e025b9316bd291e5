"""Learner services: profile, browsing and ranking offers in a round, answering a placement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm

from placements import audit
from placements.compliance import checks
from placements.domain import DomainError, NotAllowed, access, eligibility
from placements.domain import rounds as round_rules
from placements.domain.offers import (
    closed_because,
    closed_reasons,
    listed_offers_stmt,
    listing_closed_because,
    open_to_choices_sql,
)
from placements.domain.placements import PLACEMENT
from placements.extensions import db
from placements.geo import Located
from placements.models import (
    REQUIREMENTS,
    AllocationRound,
    EmployerSite,
    Learner,
    Placement,
    PlacementDecline,
    PlacementOffer,
    Preference,
    User,
    round_programmes,
    utcnow,
)


def learner_in_round(learner: Learner, round_: AllocationRound) -> bool:
    """Say whether the learner's programme is in the round's scope."""
    return (db.session.scalar(sa.select(sa.func.count()).select_from(round_programmes).where(
        round_programmes.c.round_id == round_.id,
        round_programmes.c.programme_id == learner.programme_id)) or 0) > 0


def save_preferences(actor: User | None, learner: Learner, round_: AllocationRound,
                     offer_ids: Sequence[int], *, now: datetime | None = None) -> list[Preference]:
    """Replace the learner's ranked list for a round, ranks 1..n in the order given."""
    if not learner_in_round(learner, round_):
        raise DomainError("Your programme is not part of this allocation round")
    if round_.deadline_passed(now):
        raise DomainError("The deadline for choosing placements has passed; "
                          "your choices have not been changed")
    ids = list(offer_ids)
    if len(ids) != len(set(ids)):
        raise DomainError("Each offer can be ranked only once")
    if len(ids) > round_.max_preferences:
        raise DomainError(f"You can rank at most {round_.max_preferences} offers")
    offers = {o.id: o for o in db.session.scalars(
        sa.select(PlacementOffer).where(PlacementOffer.id.in_(ids)))} if ids else {}
    sector = learner.programme.route
    # An offer already ranked stays when its employer's compliance lapses (it counts again
    # once renewed; allocation leaves it out meanwhile); a new choice must be open now.
    already = set(ranked_offer_ids(learner, round_))
    for offer_id in ids:
        offer = offers.get(offer_id)
        if offer is None or listing_closed_because(offer) is not None:
            raise DomainError("One of the offers you chose is no longer available")
        blocked = None if offer_id in already else closed_because(
            offer, provider_ids=[learner.provider_id])
        if blocked is not None:
            raise DomainError(f"“{offer.title}” cannot be chosen yet: {blocked}")
        if offer.sector != sector:
            raise DomainError(f"“{offer.title}” is not in your sector ({sector})")
    # Serialise concurrent saves by the same learner: lock the learner row where the
    # database supports it (SQLite serialises writers anyway).
    db.session.execute(sa.select(Learner.id).where(Learner.id == learner.id).with_for_update())
    db.session.execute(sa.delete(Preference).where(Preference.round_id == round_.id,
                                                   Preference.learner_id == learner.id))
    preferences = [Preference(round_id=round_.id, learner_id=learner.id, offer_id=offer_id,
                              rank=rank) for rank, offer_id in enumerate(ids, start=1)]
    db.session.add_all(preferences)
    db.session.flush()
    audit.record(actor, "preferences.saved", learner, round_id=round_.id, offers=ids)
    return preferences


def visible_offers_stmt() -> sa.Select[PlacementOffer]:
    """Select the offers learners may see: those listed (`domain.offers`), including those
    waiting for their employer's compliance (shown, with why they cannot be chosen yet)."""
    return listed_offers_stmt()


# --- Rounds the learner is in ---------------------------------------------------------------


def learner_rounds(learner: Learner) -> list[AllocationRound]:
    """Return the rounds whose programmes include the learner's, newest deadline first."""
    return list(db.session.scalars(
        sa.select(AllocationRound).join(
            round_programmes, round_programmes.c.round_id == AllocationRound.id).where(
            round_programmes.c.programme_id == learner.programme_id,
            round_rules.visible_to_learners_sql())
        .order_by(AllocationRound.preference_deadline.desc(), AllocationRound.id.desc())))


def takes_choices(round_: AllocationRound, now: datetime | None = None) -> bool:
    """Say whether a round still accepts changes to learners' choices."""
    return round_rules.takes_choices(round_.status, round_.preference_deadline,
                                     now or utcnow())


def open_rounds(learner: Learner, now: datetime | None = None) -> list[AllocationRound]:
    """Return the learner's rounds that still take choices (open, deadline not passed)."""
    return [r for r in learner_rounds(learner) if takes_choices(r, now)]


def get_learner_round(learner: Learner, round_id: int) -> AllocationRound | None:
    """Return a round the learner is in, or None."""
    round_ = db.session.get(AllocationRound, round_id)
    if round_ is None or not round_rules.visible_to_learners(round_.status) or \
            not learner_in_round(learner, round_):
        return None
    return round_


def ranked_offer_ids(learner: Learner, round_: AllocationRound) -> list[int]:
    """Return the learner's ranked offer ids for a round, best first."""
    return list(db.session.scalars(sa.select(Preference.offer_id).where(
        Preference.round_id == round_.id, Preference.learner_id == learner.id)
        .order_by(Preference.rank)))


def ranked_offers(learner: Learner, round_: AllocationRound) -> list[OfferView]:
    """Return the learner's ranked offers with distance and fit, best first."""
    ids = ranked_offer_ids(learner, round_)
    offers = {o.id: o for o in db.session.scalars(
        sa.select(PlacementOffer).where(PlacementOffer.id.in_(ids)))} if ids else {}
    return [offer_view(learner, offers[i]) for i in ids if i in offers]


def is_available(offer: PlacementOffer) -> bool:
    """Say whether the offer is still listed to learners (`domain.offers`; an offer waiting
    for its employer's compliance stays listed, on hold)."""
    return listing_closed_because(offer) is None


# --- Choosing: one action on the ranked list --------------------------------------------------


def apply_action(current: Sequence[int], *, move: str | None = None, add: int | None = None,
                 remove: int | None = None) -> list[int]:
    """Return the list after one action: "up:ID"/"down:ID", add an id, or remove one."""
    order = list(current)
    if move:
        direction, _, raw = move.partition(":")
        if direction not in ("up", "down") or not raw.isdigit() or int(raw) not in order:
            raise DomainError("That offer is not in your list; reload the page and try again")
        i = order.index(int(raw))
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
    elif add is not None:
        if add in order:
            raise DomainError("That offer is already in your list")
        order.append(add)
    elif remove is not None:
        if remove not in order:
            raise DomainError("That offer is not in your list; reload the page and try again")
        order.remove(remove)
    return order


def change_preferences(actor: User | None, learner: Learner, round_: AllocationRound, *,
                       order: Sequence[int] | None = None, move: str | None = None,
                       add: int | None = None, remove: int | None = None,
                       now: datetime | None = None) -> list[Preference]:
    """Save a full order (JavaScript path) or apply one action to the saved list (no-JS path).

    An action applies to the posted order when that is just a re-ordering of the saved list
    (the learner moved items with JavaScript and then pressed another button); otherwise it
    applies to the saved list, so a stale tab never brings back removed offers. Everything
    is re-validated by `save_preferences`.
    """
    if round_.deadline_passed(now):
        raise DomainError("The deadline for choosing placements has passed; "
                          "your choices have not been changed")
    if not takes_choices(round_, now):
        raise DomainError("This allocation round is no longer taking choices; "
                          "your choices have not been changed")
    # Lock the learner row first (PostgreSQL) so the list an action applies to is current.
    db.session.execute(sa.select(Learner.id).where(Learner.id == learner.id).with_for_update())
    saved = ranked_offer_ids(learner, round_)
    # Offers withdrawn (or hidden) since the learner chose them drop out on the next save,
    # so they never block changes to the rest of the list.
    gone = set(saved) - set(db.session.scalars(visible_offers_stmt().with_only_columns(
        PlacementOffer.id).where(PlacementOffer.id.in_(saved)))) if saved else set()
    saved = [i for i in saved if i not in gone]
    if order is not None:
        order = [i for i in order if i not in gone]
    if move is None and add is None and remove is None:
        return save_preferences(actor, learner, round_, list(order or []), now=now)
    if remove in gone:
        return save_preferences(actor, learner, round_, saved, now=now)
    base = list(order) if order is not None and sorted(order) == sorted(saved) and \
        len(set(order)) == len(order) else saved
    new = apply_action(base, move=move, add=add, remove=remove)
    return save_preferences(actor, learner, round_, new, now=now)


# --- Browsing offers ------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferView:
    """An offer as one learner sees it: how far, and whether they meet its requirements
    (the eligibility rule's answer)."""

    offer: PlacementOffer
    answer: eligibility.Eligibility
    #: Why it cannot be chosen yet (its employer's compliance), in words; None: it can.
    blocked: str | None = None
    #: Sentences about the learner's checks: expired by the start, or not verified.
    notes: tuple[str, ...] = ()

    @property
    def km(self) -> float:
        return self.answer.km

    @property
    def missing(self) -> tuple[str, ...]:
        return self.answer.missing

    @property
    def beyond_travel(self) -> bool:
        return self.answer.beyond_travel

    @property
    def travel_warning(self) -> str | None:
        """"Beyond your travel limit (...): this choice will not count", or None."""
        return self.answer.travel_warning()

    @property
    def suitable(self) -> bool:
        return not self.missing and not self.beyond_travel and not self.notes \
            and self.blocked is None


def _check_notes(answer: eligibility.Eligibility) -> tuple[str, ...]:
    if not (answer.expired or answer.unverified):
        return ()
    only = eligibility.Eligibility(
        km=answer.km, max_km=answer.max_km, start=answer.start, names=answer.names,
        expired=answer.expired, unverified=answer.unverified,
        reasons=tuple(r for r in answer.reasons
                      if r in (eligibility.Reason.EXPIRED, eligibility.Reason.UNVERIFIED)))
    return tuple(only.for_learner())


def offer_view(learner: Learner, offer: PlacementOffer) -> OfferView:
    """Describe one offer for the learner (the eligibility rule's answer)."""
    answer = eligibility.assess(eligibility.learner_facts(learner),
                                eligibility.offer_facts(offer))
    blocked = closed_because(offer, provider_ids=[learner.provider_id]) \
        if listing_closed_because(offer) is None else None
    return OfferView(offer, answer, blocked, _check_notes(answer))


def added_choice_warning(learner: Learner, offer_id: int) -> str | None:
    """What to tell a learner who has just chosen an offer that will not count (beyond their
    travel limit: the eligibility rule's words), or None."""
    offer = get_visible_offer(learner, offer_id)
    return offer_view(learner, offer).travel_warning if offer is not None else None


@dataclass(frozen=True)
class OfferFilters:
    """What a learner narrows the offer list by."""

    max_km: int | None = None
    min_hours: int | None = None
    max_hours: int | None = None
    #: Only offers whose requirements the learner meets.
    only_eligible: bool = False
    #: Leave out offers with these requirement tags.
    exclude_requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class OfferHit:
    """One offer in a learner's search results: its id and the eligibility rule's answer
    (distance and fit; no ORM object)."""

    offer_id: int
    answer: eligibility.Eligibility
    #: Its employer's compliance keeps it out for now.
    blocked: bool = False
    notes: tuple[str, ...] = ()

    @property
    def km(self) -> float:
        return self.answer.km

    @property
    def missing(self) -> tuple[str, ...]:
        return self.answer.missing

    @property
    def beyond_travel(self) -> bool:
        return self.answer.beyond_travel


def search_offers(learner: Learner, filters: OfferFilters = OfferFilters()) -> list[OfferHit]:
    """Return the visible offers of the learner's sector, nearest first, filtered.

    Works on plain columns (a sector holds at most a few thousand offers), so a page
    only loads the ORM objects it shows (see `offer_views`).
    """
    choosable = sa.case((open_to_choices_sql(provider_ids=[learner.provider_id]), True),
                        else_=False)
    stmt = (visible_offers_stmt().with_only_columns(
        PlacementOffer.id, PlacementOffer.title, PlacementOffer.hours_per_week,
        PlacementOffer.requirements, EmployerSite.lat, EmployerSite.lon,
        PlacementOffer.start_date, choosable)
        .join(EmployerSite, PlacementOffer.site_id == EmployerSite.id)
        .where(PlacementOffer.sector == learner.programme.route))
    if filters.min_hours is not None:
        stmt = stmt.where(PlacementOffer.hours_per_week >= filters.min_hours)
    if filters.max_hours is not None:
        stmt = stmt.where(PlacementOffer.hours_per_week <= filters.max_hours)
    facts = eligibility.learner_facts(learner)
    excluded = set(filters.exclude_requirements)
    hits = []
    for offer_id, title, _hours, requirements, lat, lon, start, ok in db.session.execute(stmt):
        requirements = requirements or []
        if excluded & set(requirements):
            continue
        answer = eligibility.assess(facts, eligibility.OfferFacts(
            id=offer_id, sector=facts.sector, lat=lat, lon=lon,
            requires=frozenset(requirements), start=start))
        notes = _check_notes(answer)
        if filters.only_eligible and (answer.missing or notes or not ok):
            continue
        if filters.max_km is not None and answer.km > filters.max_km:
            continue
        hits.append((answer.km, title, offer_id, OfferHit(offer_id, answer, not ok, notes)))
    hits.sort(key=lambda h: h[:3])
    return [h[3] for h in hits]


def offer_views(hits: Sequence[OfferHit], learner: Learner | None = None) -> list[OfferView]:
    """Load the offers of some search hits (with site and employer), in the same order."""
    ids = [h.offer_id for h in hits]
    offers = {o.id: o for o in db.session.scalars(
        sa.select(PlacementOffer).where(PlacementOffer.id.in_(ids)).options(
            sa.orm.joinedload(PlacementOffer.site),
            sa.orm.joinedload(PlacementOffer.employer)))} if ids else {}
    providers = [learner.provider_id] if learner is not None else []
    why = closed_reasons([offers[h.offer_id] for h in hits if h.blocked and h.offer_id in offers],
                         provider_ids=providers)
    out = []
    for h in hits:
        offer = offers.get(h.offer_id)
        if offer is None:
            continue
        blocked = None
        if h.blocked:
            blocked = why.get(offer.id) or "its employer's safety checks are not complete"
        out.append(OfferView(offer, h.answer, blocked, h.notes))
    return out


def browse_offers(learner: Learner, filters: OfferFilters = OfferFilters()) -> list[OfferView]:
    """Return every matching offer as an OfferView, nearest first (see `search_offers`)."""
    return offer_views(search_offers(learner, filters), learner)


def get_visible_offer(learner: Learner, offer_id: int) -> PlacementOffer | None:
    """Return an offer the learner may see (visible, in their sector), or None."""
    offer = db.session.scalar(visible_offers_stmt().where(PlacementOffer.id == offer_id))
    if offer is None or offer.sector != learner.programme.route:
        return None
    return offer


# --- Profile ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerProfile:
    """What a learner says about themselves."""

    home: Located
    max_travel_km: int
    credentials: tuple[str, ...] = ()
    access_needs: str = ""
    in_work_employer: str = ""


def update_profile(actor: User | None, learner: Learner, data: LearnerProfile) -> None:
    """Update the learner's home, travel limit, checks held, access needs and employer."""
    if not 1 <= data.max_travel_km <= 500:
        raise DomainError("Travel distance must be between 1 and 500 km", field="max_travel_km")
    unknown = set(data.credentials) - set(REQUIREMENTS)
    if unknown:
        raise DomainError("Choose checks from the list", field="credentials")
    before = {"home_postcode": learner.home_postcode, "max_travel_km": learner.max_travel_km,
              "credentials": list(learner.credentials or [])}
    learner.home_postcode = data.home.postcode
    learner.lat = data.home.lat
    learner.lon = data.home.lon
    learner.max_travel_km = data.max_travel_km
    learner.credentials = sorted(set(data.credentials) | {
        t for t in learner.credentials or [] if t not in REQUIREMENTS})
    checks.sync_from_tags(learner, learner.credentials)
    learner.access_needs = data.access_needs.strip() or None
    learner.in_work_employer = data.in_work_employer.strip() or None
    db.session.flush()
    # Access needs are private: the audit says they changed, never what they say.
    audit.record(actor, "learner.profile_updated", learner, before=before,
                 max_travel_km=learner.max_travel_km, credentials=learner.credentials,
                 home_postcode=learner.home_postcode)


# --- Placement ----------------------------------------------------------------------------------


def visible_placements(learner: Learner) -> list[Placement]:
    """Return the learner's published placements, newest round first."""
    return list(db.session.scalars(sa.select(Placement).where(
        access.learner_placements_sql(learner)).order_by(Placement.round_id.desc())))


def get_own_placement(learner: Learner, placement_id: int) -> Placement | None:
    """Return one of the learner's published placements, or None."""
    placement = db.session.get(Placement, placement_id)
    if placement is None or not access.learner_sees_placement(learner, placement):
        return None
    return placement


def accept_placement(actor: User | None, learner: Learner, placement: Placement) -> None:
    """Accept a published placement."""
    if not access.learner_sees_placement(learner, placement):
        raise NotAllowed("This is not your placement")
    PLACEMENT.apply(placement, "accept", actor=actor, values={"responded_at": utcnow()},
                    round_id=placement.round_id)


def decline_placement(actor: User | None, learner: Learner, placement: Placement,
                      reason: str) -> None:
    """Decline a published (or accepted) placement with a reason.

    The learner stays in the round, to be placed again at another offer by the next repair
    run (the round is flagged for one); they are never placed at this offer again.
    """
    if not access.learner_sees_placement(learner, placement):
        raise NotAllowed("This is not your placement")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Tell us why you are declining the placement", field="reason")
    previous = placement.status
    offer_id = placement.offer_id
    PLACEMENT.apply(placement, "decline", actor=actor, round_id=placement.round_id,
                    values={"decline_reason": reason, "responded_at": utcnow(),
                            "pending_offer_id": None, "pending_rank": None,
                            "pending_distance_m": None},
                    reason=reason, previous=previous)
    db.session.add(PlacementDecline(round_id=placement.round_id, learner_id=learner.id,
                                    offer_id=offer_id, reason=reason))
    round_rules.flag_repair([placement.round_id], actor=actor, cause="placement.declined",
                            learner_id=learner.id)
    db.session.flush()
