"""Build a round's `placement-problem/1` document from the database, in a few bulk SELECTs.

`build_problem(round_)` returns exactly what the solver reads (see
docs/problem-format.md), so the file an officer downloads reproduces the run.

- Learners: every learner whose programme is in the round's scope (a pooled round lists
  programmes of several providers of one partnership; their learners compete for the same
  offers). Ids are "L<learner.id>"; sector = programme.route; mandated =
  programme.placement_mandated; has = the checks held (credentials and dated checks; only
  verified ones when the round requires verified checks); max_km = max_travel_km;
  preferences = the learner's Preference rows in the round, ordered by rank, as offer ids.
  `excluded` lists the offers a learner may not take although their tags match: a check
  the offer needs expires before that offer starts (`domain.eligibility.checks_met`); those
  offers are also left out of the learner's preferences (a solver that does not read
  `excluded` then never ranks them either).
- Offers: offers open to choices (`domain.offers`, compliance of the round's providers
  included) in the round's sectors with places left. requires = the offer's requirements
  plus the checks the round's providers require for every placement.
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
- Employers: the employers of the offers in the file that set a limit, as
  `{"id": "E<id>", "max_learners": n, "min_if_any": m}` (either may be null).
- `extra_offers`: extra offer dicts in the problem format appended as given (what-if
  questions; ids must not clash with "O<n>").
- KSB coverage (only when the round opts in, `AllocationRound.ksb_coverage`): settings
  `ksb_coverage: true`; each offer's confirmed KSBs as `ksbs`, each learner's outstanding
  work-integrated KSBs (`domain.ksb.outstanding_sql`) as `outstanding_ksbs`, both as codes
  qualified by the standard ("ST0116:S4", `domain.ksb.problem_code`) and only where not
  empty. A round that does not opt in gets none of these: its file is as before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app

from placements.domain import eligibility
from placements.domain import ksb as ksb_rules
from placements.domain.compliance import blocked_offer_ids
from placements.domain.offers import listed_sql, open_to_choices_sql
from placements.domain.placements import held_places
from placements.extensions import db
from placements.models import (
    AllocationRound,
    Employer,
    EmployerSite,
    Ksb,
    Learner,
    OccupationalStandard,
    Placement,
    PlacementDecline,
    PlacementLock,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Programme,
    round_programmes,
    round_providers,
)
from placements.timeutil import today_uk
from solver.geo import haversine_km_array

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
    """Return the solver settings of a round (`ksb_coverage` only when the round opts in)."""
    settings = {"rank_cost": str(round_.rank_cost), "fallback": bool(round_.fallback),
                "max_preferences": round_.max_preferences, "time_limit_s": round_.time_limit_s}
    if round_.ksb_coverage:
        settings["ksb_coverage"] = True
    return settings


def _ksb_codes() -> dict[int, str]:
    """Every KSB's problem code ("ST0116:S4"), by id."""
    return {ksb_id: ksb_rules.problem_code(ref, code) for ksb_id, ref, code in
            db.session.execute(sa.select(Ksb.id, OccupationalStandard.reference, Ksb.code)
                               .join(OccupationalStandard,
                                     OccupationalStandard.id == Ksb.standard_id))}


def add_ksb_coverage(problem: dict[str, Any], programme_ids: list[int]) -> None:
    """Add the offers' confirmed KSBs and the learners' outstanding ones (non-empty lists
    only) to a problem whose round opts in to KSB coverage."""
    codes = _ksb_codes()
    offers = {parse_key(o["id"]): o for o in problem["offers"] if o["id"].startswith("O")}
    offered: dict[int, set[str]] = defaultdict(set)
    for offer_id, ksb_id in db.session.execute(ksb_rules.offer_ksbs_sql()):
        if offer_id in offers:
            offered[offer_id].add(codes[ksb_id])
    for offer_id, ksbs in offered.items():
        offers[offer_id]["ksbs"] = sorted(ksbs)
    learners = {parse_key(lrn["id"]): lrn for lrn in problem["learners"]}
    outstanding: dict[int, set[str]] = defaultdict(set)
    for learner_id, ksb_id in db.session.execute(ksb_rules.outstanding_sql(programme_ids)):
        if learner_id in learners:
            outstanding[learner_id].add(codes[ksb_id])
    for learner_id, ksbs in outstanding.items():
        learners[learner_id]["outstanding_ksbs"] = sorted(ksbs)


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


def provider_ids_of(round_: AllocationRound) -> list[int]:
    """The providers of a round (their compliance item types and required checks apply)."""
    ids = set(db.session.scalars(sa.select(round_providers.c.provider_id)
                                 .where(round_providers.c.round_id == round_.id)))
    return sorted(ids | {round_.provider_id})


class _Offers:
    """The offers of the file, for finding the ones a learner's expiring check rules out."""

    def __init__(self, offers: Sequence[dict[str, Any]], starts: dict[str, date]) -> None:
        #: (sector, tag) -> offers needing the tag, by start date
        self.by_tag: dict[tuple[str, str], list[tuple[date, dict[str, Any]]]] = defaultdict(list)
        for o in offers:
            start = starts.get(o["id"])
            if start is None:
                continue
            for tag in o["requires"]:
                self.by_tag[(o["sector"], tag)].append((start, o))
        for rows in self.by_tag.values():
            rows.sort(key=lambda r: r[0])

    def ruled_out(self, sector: str, lat: float, lon: float, max_km: float,
                  until: dict[str, date]) -> list[str]:
        """Offers within reach needing a check that is no longer valid when they start."""
        found: dict[str, dict[str, Any]] = {}
        for tag, last in until.items():
            rows = self.by_tag.get((sector, tag), [])
            cut = bisect_right([r[0] for r in rows], last)
            for _start, o in rows[cut:]:
                found[o["id"]] = o
        if not found:
            return []
        chosen = list(found.values())
        km = haversine_km_array(np.full(len(chosen), lat), np.full(len(chosen), lon),
                                np.array([o["lat"] for o in chosen]),
                                np.array([o["lon"] for o in chosen]))
        return sorted((o["id"] for o, d in zip(chosen, km, strict=True)
                       if eligibility.within_reach(float(d), max_km)),
                      key=parse_key)


def _learners(round_: AllocationRound, programme_ids: list[int], offers: _Offers
              ) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(Learner.id, Learner.lat, Learner.lon, Learner.max_travel_km,
                  Learner.credentials, Programme.route, Programme.placement_mandated)
        .join(Programme, Programme.id == Learner.programme_id)
        .where(Learner.programme_id.in_(programme_ids))
        .order_by(Learner.id)).all()
    checks = eligibility.check_facts(
        [r[0] for r in rows], require_verified=bool(round_.require_verified_checks),
        dbs_valid_months=current_app.config["DBS_VALID_MONTHS"])
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
        held = checks.get(lid)
        has = set(credentials or [])
        if held is not None:
            has = (has | held.has) - held.unverified
        learner: dict[str, Any] = {
            "id": learner_key(lid), "sector": route, "mandated": bool(mandated),
            "lat": float(lat), "lon": float(lon), "max_km": max_km,
            "has": sorted(has), "preferences": prefs.get(lid, []),
        }
        # Never placed again where they said no, fallback included; nor where a check the
        # offer needs is no longer valid when it starts.
        out = {offer_key(o) for o in declined.get(lid, ())}
        if held is not None and held.valid_until:
            until = {t: d for t, d in held.valid_until.items() if t in has}
            out |= set(offers.ruled_out(route, float(lat), float(lon), float(max_km), until))
        if out:
            learner["excluded"] = sorted(out, key=parse_key)
            learner["preferences"] = [p for p in learner["preferences"] if p not in out]
        learners.append(learner)
    return learners


def _offers(round_: AllocationRound, sectors: Iterable[str], provider_ids: list[int]
            ) -> tuple[list[dict[str, Any]], dict[str, date]]:
    taken = held_places(exclude_round=round_.id)
    needs = sorted({tag for tags in eligibility.required_checks(provider_ids).values()
                    for tag in tags})
    today = today_uk()
    rows = db.session.execute(
        sa.select(PlacementOffer.id, PlacementOffer.employer_id, PlacementOffer.sector,
                  PlacementOffer.capacity, PlacementOffer.requirements,
                  EmployerSite.lat, EmployerSite.lon, PlacementOffer.start_date,
                  PlacementOffer.site_id)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(listed_sql(today), PlacementOffer.sector.in_(list(sectors)),
               PlacementOffer.capacity > 0)
        .order_by(PlacementOffer.id)).all()
    # Offers open to choices (`domain.offers`): listed, and not held back by compliance
    # (the rule's bulk form, `domain.compliance.blocked_offer_ids`).
    blocked = blocked_offer_ids([(r[0], r[1], r[8], r[7]) for r in rows], today=today,
                                provider_ids=provider_ids)
    offers = []
    starts: dict[str, date] = {}
    for oid, eid, sector, capacity, requires, lat, lon, start, _site in rows:
        if oid in blocked:
            continue
        left = capacity - taken.get(oid, 0)
        if left <= 0:
            continue
        offers.append({
            "id": offer_key(oid), "employer": f"E{eid}", "sector": sector, "capacity": left,
            "lat": float(lat), "lon": float(lon),
            "requires": sorted(set(requires or []) | set(needs)),
        })
        starts[offer_key(oid)] = start
    return offers, starts


def offer_ids_now(round_: AllocationRound) -> set[int]:
    """Ids of the offers the round's problem would include if built now: those of its
    sectors open to choices for its providers (the listing and compliance rule in its SQL
    form, the same answer as `_offers`' bulk form) with places left after other rounds'
    holds. For pages that compare an allocation with the round as it stands: one query
    instead of building the offers."""
    sectors = set(db.session.scalars(
        sa.select(Programme.route).where(Programme.id.in_(_programme_ids(round_)))))
    if not sectors:
        return set()
    taken = held_places(exclude_round=round_.id)
    rows = db.session.execute(
        sa.select(PlacementOffer.id, PlacementOffer.capacity)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(open_to_choices_sql(today_uk(), provider_ids_of(round_)),
               PlacementOffer.sector.in_(sorted(sectors)), PlacementOffer.capacity > 0))
    return {oid for oid, capacity in rows if capacity - taken.get(oid, 0) > 0}


def _employers(offers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The limits of the employers in the file (those that set any)."""
    ids = sorted({int(o["employer"][1:]) for o in offers
                  if o["employer"][:1] == "E" and o["employer"][1:].isdigit()})
    if not ids:
        return []
    return [{"id": f"E{eid}", "max_learners": cap, "min_if_any": least}
            for eid, cap, least in db.session.execute(
                sa.select(Employer.id, Employer.max_learners, Employer.min_if_any)
                .where(Employer.id.in_(ids),
                       sa.or_(Employer.max_learners.is_not(None),
                              Employer.min_if_any.is_not(None)))
                .order_by(Employer.id))]


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
    offers, starts = _offers(round_, sectors, provider_ids_of(round_))
    learners = _learners(round_, programme_ids, _Offers(offers, starts))
    offers += [dict(o) for o in extra_offers]
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
        "employers": _employers(offers),
    }
    if round_.ksb_coverage:
        add_ksb_coverage(problem, programme_ids)
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
