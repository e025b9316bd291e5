"""Build a round's `placement-problem/1` document from the database, in a few bulk SELECTs.

`build_problem(round_)` returns exactly what the solver reads (see
docs/problem-format.md), so the file an officer downloads reproduces the run.

- Learners: every learner whose programme is in the round's scope (a pooled round lists
  programmes of several providers of one partnership; their learners compete for the same
  offers). Ids are "L<learner.id>"; sector = programme.route; mandated =
  programme.placement_mandated; has = credentials; max_km = max_travel_km; preferences =
  the learner's Preference rows in the round, ordered by rank, as offer ids.
- Offers: offers open to choices (`domain.offers`) in the round's sectors with places left.
  Ids are "O<offer.id>", employer "E<employer.id>", lat/lon of the site. Places held in
  *other* rounds (`domain.placements.held_places`: proposals, published and accepted
  placements, pending moves included) are subtracted from capacity so two rounds never
  double-book one offer.
- Locked: the officer's PlacementLock rows; with `previous=True` (a repair) also every
  ACCEPTED placement. Locks whose learner or offer is no longer in the file are dropped
  (e.g. the offer was withdrawn) and listed in `dropped_locks(...)`.
- Previous (`previous=True` only): the visible placements (published or accepted) as
  `{"learner", "offer"}` pairs, withdrawn offers included (the solver counts those as moved).
  Learners who declined, or lost their place, stay in the round and are placed again if
  they can be: the offers a learner declined are left out of their list and listed in
  their `excluded` (so fallback does not put them back there either).
- `extra_offers`: extra offer dicts in the problem format appended as given (what-if
  questions; ids must not clash with "O<n>").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from placements.domain.offers import open_to_choices_sql
from placements.domain.placements import held_places
from placements.extensions import db
from placements.models import (
    AllocationRound,
    Employer,
    EmployerSite,
    Learner,
    Placement,
    PlacementDecline,
    PlacementLock,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Programme,
    round_programmes,
)

PROBLEM_FORMAT = "placement-problem/1"
#: Published placements that a repair run tries to keep where they are.
PUBLISHED_HOLDING = (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)


def learner_key(learner_id: int) -> str:
    """Return the problem-file id of a learner."""
    return f"L{learner_id}"


def offer_key(offer_id: int) -> str:
    """Return the problem-file id of an offer."""
    return f"O{offer_id}"


def parse_key(key: str) -> int:
    """Return the database id behind a problem-file id such as "L12" or "O7"."""
    return int(key[1:])


def settings_of(round_: AllocationRound) -> dict[str, Any]:
    """Return the solver settings of a round."""
    return {"rank_cost": str(round_.rank_cost), "fallback": bool(round_.fallback),
            "max_preferences": round_.max_preferences, "time_limit_s": round_.time_limit_s}


def _programme_ids(round_: AllocationRound) -> list[int]:
    return list(db.session.scalars(
        sa.select(round_programmes.c.programme_id)
        .where(round_programmes.c.round_id == round_.id)))


def _declined(round_: AllocationRound) -> dict[int, set[int]]:
    """Offers each learner declined in the round."""
    out: dict[int, set[int]] = defaultdict(set)
    for learner_id, offer_id in db.session.execute(
            sa.select(PlacementDecline.learner_id, PlacementDecline.offer_id)
            .where(PlacementDecline.round_id == round_.id)):
        out[learner_id].add(offer_id)
    return out


def _learners(round_: AllocationRound, programme_ids: list[int]) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(Learner.id, Learner.lat, Learner.lon, Learner.max_travel_km,
                  Learner.credentials, Programme.route, Programme.placement_mandated)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.programme_id.in_(programme_ids))
        .order_by(Learner.id))
    declined = _declined(round_)
    prefs: dict[int, list[str]] = defaultdict(list)
    for learner_id, offer_id in db.session.execute(
            sa.select(Preference.learner_id, Preference.offer_id)
            .where(Preference.round_id == round_.id)
            .order_by(Preference.learner_id, Preference.rank)):
        if offer_id not in declined.get(learner_id, ()):
            prefs[learner_id].append(offer_key(offer_id))
    learners = []
    for lid, lat, lon, max_km, credentials, route, mandated in rows:
        learner = {
            "id": learner_key(lid), "sector": route, "mandated": bool(mandated),
            "lat": float(lat), "lon": float(lon), "max_km": max_km,
            "has": sorted(credentials or []), "preferences": prefs.get(lid, []),
        }
        if declined.get(lid):
            # Never placed again where they said no, fallback included.
            learner["excluded"] = [offer_key(o) for o in sorted(declined[lid])]
        learners.append(learner)
    return learners


def _offers(round_: AllocationRound, sectors: Iterable[str]) -> list[dict[str, Any]]:
    taken = held_places(exclude_round=round_.id)
    rows = db.session.execute(
        sa.select(PlacementOffer.id, PlacementOffer.employer_id, PlacementOffer.sector,
                  PlacementOffer.capacity, PlacementOffer.requirements,
                  EmployerSite.lat, EmployerSite.lon)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(open_to_choices_sql(), PlacementOffer.sector.in_(list(sectors)),
               PlacementOffer.capacity > 0)
        .order_by(PlacementOffer.id))
    offers = []
    for oid, eid, sector, capacity, requires, lat, lon in rows:
        left = capacity - taken.get(oid, 0)
        if left <= 0:
            continue
        offers.append({
            "id": offer_key(oid), "employer": f"E{eid}", "sector": sector, "capacity": left,
            "lat": float(lat), "lon": float(lon), "requires": sorted(requires or []),
        })
    return offers


def lock_pairs(round_: AllocationRound, *, repair: bool) -> list[tuple[int, int]]:
    """Return (learner_id, offer_id) pairs that must hold: officer locks, plus accepted ones
    when repairing (an officer's lock wins over an accepted placement of the same learner)."""
    pairs: dict[int, int] = {}
    if repair:
        pairs.update(db.session.execute(
            sa.select(Placement.learner_id, Placement.offer_id)
            .where(Placement.round_id == round_.id,
                   Placement.status == PlacementStatus.ACCEPTED)).all())
    pairs.update(db.session.execute(
        sa.select(PlacementLock.learner_id, PlacementLock.offer_id)
        .where(PlacementLock.round_id == round_.id)).all())
    return sorted(pairs.items())


def build_problem(round_: AllocationRound, *, previous: bool = False,
                  extra_offers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Return the round's `placement-problem/1` dict (a repair problem when `previous`)."""
    programme_ids = _programme_ids(round_)
    sectors = set(db.session.scalars(
        sa.select(Programme.route).where(Programme.id.in_(programme_ids))))
    learners = _learners(round_, programme_ids)
    offers = _offers(round_, sectors) + [dict(o) for o in extra_offers]
    learner_ids = {lrn["id"] for lrn in learners}
    offer_ids = {o["id"] for o in offers}
    locked = []
    for lid, oid in lock_pairs(round_, repair=previous):
        lk, ok = learner_key(lid), offer_key(oid)
        if lk in learner_ids and ok in offer_ids:
            locked.append({"learner": lk, "offer": ok})
    problem: dict[str, Any] = {
        "format": PROBLEM_FORMAT,
        "settings": settings_of(round_),
        "offers": offers,
        "learners": learners,
        "locked": locked,
        "employers": [],
    }
    if previous:
        problem["previous"] = [
            {"learner": learner_key(lid), "offer": offer_key(oid)}
            for lid, oid in db.session.execute(
                sa.select(Placement.learner_id, Placement.offer_id)
                .where(Placement.round_id == round_.id,
                       Placement.status.in_(PUBLISHED_HOLDING))
                .order_by(Placement.learner_id))
            if learner_key(lid) in learner_ids]
    return problem


def dropped_locks(round_: AllocationRound, problem: dict[str, Any]) -> list[tuple[int, int]]:
    """Return the lock pairs `build_problem` had to leave out (learner or offer gone)."""
    kept = {(parse_key(p["learner"]), parse_key(p["offer"])) for p in problem["locked"]}
    return [pair for pair in lock_pairs(round_, repair="previous" in problem)
            if pair not in kept]
