"""Whether a learner may take an offer, and why not: the one rule, with its reasons.

A learner is eligible for an offer when the offer is open to choices (see
`placements.domain.offers`), it is in the sector of the learner's programme, its site is
within the learner's travel limit (great-circle distance, the solver's own definition, so
the app and the solver agree to the last bit at the limit), the learner holds every check
it requires (and every check the learner's provider requires for any placement), each
still valid on the offer's start date (a DBS certificate counts for `DBS_VALID_MONTHS`
from its issue date unless the learner subscribes to the update service; other checks
until their expiry; a check declared without dates counts as held), verified by an officer
when the round requires verified checks, and the learner has not declined it in this
round. The same rule decides the
marks on a learner's offer list, the warnings of a hand placement, the reach counted by
supply and demand, and (in the solver, from the problem file) the allocation itself.

`assess` is the rule for one pair, in Python, with reasons; `reach_matrix` is the same rule
for many pairs at once (numpy), used where thousands of learners meet thousands of offers.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from placements.models import (
    REQUIREMENTS,
    Learner,
    LearnerCheck,
    LearnerCheckType,
    PlacementOffer,
)
from solver.geo import EARTH_RADIUS_KM, haversine_km
from solver.geo import within_reach as geo_within_reach


class Reason(enum.StrEnum):
    """Why a learner may not take an offer."""

    CLOSED = "closed"  # the offer is not open to choices (withdrawn, finished, unapproved)
    SECTOR = "sector"
    DISTANCE = "distance"
    REQUIREMENT = "requirement"
    EXPIRED = "expired"  # a check held, but no longer valid when the offer starts
    UNVERIFIED = "unverified"  # a check declared, but the round needs it verified
    DECLINED = "declined"


@dataclass(frozen=True)
class LearnerFacts:
    """What eligibility needs to know about a learner."""

    sector: str
    lat: float
    lon: float
    max_km: float
    has: frozenset[str] = frozenset()
    #: Offers the learner declined in the round being considered.
    declined: frozenset[int] = frozenset()
    #: Last day each dated check is valid (checks not named here do not expire).
    valid_until: Mapping[str, date] = field(default_factory=dict)
    #: Checks held but not verified, when the round needs them verified.
    unverified: frozenset[str] = frozenset()
    #: Checks every offer needs of this learner (the provider's required checks).
    needs: frozenset[str] = frozenset()
    #: Names of checks beyond REQUIREMENTS (a provider's own checks).
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OfferFacts:
    """What eligibility needs to know about an offer."""

    id: int
    sector: str
    lat: float
    lon: float
    requires: frozenset[str] = frozenset()
    #: Why the offer is not open to choices, in words (None when it is open).
    closed_because: str | None = None
    #: When the placement starts (the day checks must still be valid on).
    start: date | None = None


@dataclass(frozen=True)
class Eligibility:
    """The answer for one learner and one offer."""

    km: float
    max_km: float
    reasons: tuple[Reason, ...] = ()
    missing: tuple[str, ...] = ()
    offer_sector: str = ""
    learner_sector: str = ""
    closed_because: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    expired: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    start: date | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def beyond_travel(self) -> bool:
        return Reason.DISTANCE in self.reasons

    def travel_warning(self) -> str | None:
        """What a learner is told about an offer beyond their travel limit (None within it):
        the solver never places anyone beyond their limit, so such a choice does not count.

        The distance reads as everywhere else (to a tenth of a kilometre), except just beyond
        the limit, where it is rounded up so it never reads as within it ("25.1 km, you said
        25 km", not "25.0 km").
        """
        if not self.beyond_travel:
            return None
        shown = round(self.km, 1)
        if shown <= self.max_km:
            shown = math.ceil(self.km * 10) / 10
        return (f"Beyond your travel limit ({shown:.1f} km, you said {self.max_km:g} km): "
                "this choice will not count")

    def for_learner(self) -> list[str]:
        """Why not, in sentences addressed to the learner."""
        out = []
        for reason in self.reasons:
            if reason is Reason.CLOSED:
                out.append(f"It is no longer open to choices ({self.closed_because}).")
            elif reason is Reason.SECTOR:
                out.append(f"It is in {self.offer_sector}, not your programme's sector "
                           f"({self.learner_sector}).")
            elif reason is Reason.DISTANCE:
                out.append(f"{self.travel_warning()}.")
            elif reason is Reason.REQUIREMENT:
                out.append(f"It needs {_names(self.missing, self.names)}, which you have not "
                           "told us you hold.")
            elif reason is Reason.EXPIRED:
                out.append(f"Your {_names(self.expired, self.names)} will no longer be valid "
                           f"when it starts{_on(self.start)}.")
            elif reason is Reason.UNVERIFIED:
                out.append(f"Your {_names(self.unverified, self.names)} must be seen and "
                           "verified by your provider first.")
            elif reason is Reason.DECLINED:
                out.append("You declined it in this round.")
        return out

    def for_officer(self) -> list[str]:
        """Why not, in sentences for an officer about the learner."""
        out = []
        for reason in self.reasons:
            if reason is Reason.CLOSED:
                out.append(f"The offer is not open: {self.closed_because}.")
            elif reason is Reason.SECTOR:
                out.append(f"The offer is in {self.offer_sector}, but the learner's programme "
                           f"is in {self.learner_sector}.")
            elif reason is Reason.DISTANCE:
                out.append(f"The offer is {self.km:.1f} km from the learner's home, further "
                           f"than the {self.max_km:g} km they can travel.")
            elif reason is Reason.REQUIREMENT:
                out.append(f"The learner does not hold: {_names(self.missing, self.names)}.")
            elif reason is Reason.EXPIRED:
                out.append(f"The learner's {_names(self.expired, self.names)} will no longer "
                           f"be valid when the placement starts{_on(self.start)}.")
            elif reason is Reason.UNVERIFIED:
                out.append(f"The learner's {_names(self.unverified, self.names)} has not been "
                           "verified, and this round needs verified checks.")
            elif reason is Reason.DECLINED:
                out.append("The learner declined this offer in this round.")
        return out


def requirement_names(tags: Sequence[str]) -> str:
    """Requirement tags in words ("dbs" -> "an enhanced DBS check" and the like)."""
    return _names(tags)


def _names(tags: Sequence[str], names: Mapping[str, str] | None = None) -> str:
    return ", ".join((names or {}).get(t) or REQUIREMENTS.get(t, t) for t in tags)


def _on(day: date | None) -> str:
    return f" on {day:%d/%m/%Y}" if day else ""


def check_valid_until(tag: str, *, issued_on: date | None, expires_on: date | None,
                      update_service: bool, dbs_valid_months: int) -> date | None:
    """The last day a check counts (None: it does not expire, or no date was given).

    A DBS certificate has no expiry of its own: it counts for `dbs_valid_months` from its
    issue date, or for as long as the learner subscribes to the update service.
    """
    if tag == "dbs":
        if update_service or issued_on is None:
            return None
        months = issued_on.month - 1 + dbs_valid_months
        year, month = issued_on.year + months // 12, months % 12 + 1
        day = min(issued_on.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
        return date(year, month, day)
    return expires_on


def checks_met(needed: frozenset[str], learner: LearnerFacts, start: date | None
               ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The rule for checks: (missing, expired by `start`, unverified) among `needed`."""
    missing = needed - learner.has
    unverified = (needed & learner.has) & learner.unverified
    expired = {t for t in (needed & learner.has) - unverified
               if start is not None and t in learner.valid_until
               and learner.valid_until[t] < start}
    return tuple(sorted(missing)), tuple(sorted(expired)), tuple(sorted(unverified))


def within_reach(km: float, max_km: float) -> bool:
    """Say whether a distance from `haversine_km` is within a travel limit: the comparison
    of `solver.geo.within_reach`, the problem format's one rule."""
    return km <= max_km


def assess(learner: LearnerFacts, offer: OfferFacts) -> Eligibility:
    """Say whether the learner may take the offer, with every reason why not."""
    km = haversine_km(learner.lat, learner.lon, offer.lat, offer.lon)
    reasons: list[Reason] = []
    if offer.closed_because is not None:
        reasons.append(Reason.CLOSED)
    if offer.sector != learner.sector:
        reasons.append(Reason.SECTOR)
    if not within_reach(km, learner.max_km):
        reasons.append(Reason.DISTANCE)
    missing, expired, unverified = checks_met(offer.requires | learner.needs, learner,
                                              offer.start)
    if missing:
        reasons.append(Reason.REQUIREMENT)
    if expired:
        reasons.append(Reason.EXPIRED)
    if unverified:
        reasons.append(Reason.UNVERIFIED)
    if offer.id in learner.declined:
        reasons.append(Reason.DECLINED)
    return Eligibility(km=km, max_km=learner.max_km, reasons=tuple(reasons), missing=missing,
                       offer_sector=offer.sector, learner_sector=learner.sector,
                       closed_because=offer.closed_because, expired=expired,
                       unverified=unverified, start=offer.start, names=learner.names)


@dataclass(frozen=True)
class CheckFacts:
    """A learner's checks as the rule needs them (see `check_facts`)."""

    has: frozenset[str] = frozenset()
    valid_until: Mapping[str, date] = field(default_factory=dict)
    unverified: frozenset[str] = frozenset()


def check_facts(learner_ids: Iterable[int], *, dbs_valid_months: int,
                require_verified: bool = False) -> dict[int, CheckFacts]:
    """The dated checks of many learners (learners without check rows are left out)."""
    from placements.extensions import db

    ids = sorted(set(learner_ids))
    rows: dict[int, list[LearnerCheck]] = {}
    for start in range(0, len(ids), 5000):
        for check in db.session.scalars(sa.select(LearnerCheck).where(
                LearnerCheck.learner_id.in_(ids[start:start + 5000]))):
            rows.setdefault(check.learner_id, []).append(check)
    out = {}
    for learner_id, checks in rows.items():
        until = {}
        for c in checks:
            last = check_valid_until(c.tag, issued_on=c.issued_on, expires_on=c.expires_on,
                                     update_service=c.update_service,
                                     dbs_valid_months=dbs_valid_months)
            if last is not None:
                until[c.tag] = last
        out[learner_id] = CheckFacts(
            has=frozenset(c.tag for c in checks), valid_until=until,
            unverified=frozenset(c.tag for c in checks if c.verified_at is None)
            if require_verified else frozenset())
    return out


def required_checks(provider_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The checks each provider requires for every placement: {provider: {tag: name}}."""
    from placements.extensions import db

    out: dict[int, dict[str, str]] = {}
    ids = sorted(set(provider_ids))
    if not ids:
        return out
    for t in db.session.scalars(sa.select(LearnerCheckType).where(
            LearnerCheckType.provider_id.in_(ids), LearnerCheckType.active.is_(True))):
        out.setdefault(t.provider_id, {})
        if t.required:
            out[t.provider_id][t.tag] = t.name
    return out


def check_names(provider_ids: Iterable[int]) -> dict[str, str]:
    """Names of the providers' own checks, by tag."""
    from placements.extensions import db

    ids = sorted(set(provider_ids))
    if not ids:
        return {}
    return {t.tag: t.name for t in db.session.scalars(
        sa.select(LearnerCheckType).where(LearnerCheckType.provider_id.in_(ids)))}


def learner_facts(learner: Learner, *, declined: frozenset[int] = frozenset(),
                  require_verified: bool = False) -> LearnerFacts:
    """The eligibility facts of a learner row (with its dated checks)."""
    from flask import current_app

    checks = check_facts([learner.id], require_verified=require_verified,
                         dbs_valid_months=current_app.config["DBS_VALID_MONTHS"]
                         ).get(learner.id)
    has = frozenset(learner.credentials or ())
    if checks is not None:
        has = has | checks.has
    needs = required_checks([learner.provider_id]).get(learner.provider_id, {})
    return LearnerFacts(sector=learner.programme.route, lat=learner.lat, lon=learner.lon,
                        max_km=float(learner.max_travel_km), has=has, declined=declined,
                        valid_until=checks.valid_until if checks else {},
                        unverified=checks.unverified if checks else frozenset(),
                        needs=frozenset(needs), names=check_names([learner.provider_id]))


def offer_facts(offer: PlacementOffer, *, today: date | None = None,
                provider_ids: Iterable[int] | None = None) -> OfferFacts:
    """The eligibility facts of an offer row (with its site and employer)."""
    from placements.domain.offers import closed_because

    return OfferFacts(id=offer.id, sector=offer.sector, lat=offer.site.lat, lon=offer.site.lon,
                      requires=frozenset(offer.requirements or ()),
                      closed_because=closed_because(offer, today=today,
                                                    provider_ids=provider_ids),
                      start=offer.start_date)


# --- many pairs at once --------------------------------------------------------------------

BoolArray = npt.NDArray[np.bool_]


def tag_masks(tag_sets: Sequence[frozenset[str]], index: dict[str, int]) -> npt.NDArray[np.int64]:
    """Encode sets of tags as bit masks (extending `index` with tags not seen yet)."""
    masks = np.zeros(len(tag_sets), dtype=np.int64)
    for i, tags in enumerate(tag_sets):
        bits = 0
        for tag in tags:
            bits |= 1 << index.setdefault(tag, len(index))
        masks[i] = bits
    return masks


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return points on the unit sphere (n x 3) for latitudes and longitudes in degrees."""
    phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(
        np.asarray(lon, dtype=np.float64))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)],
                    axis=1)


def reach_matrix(l_lat: npt.ArrayLike, l_lon: npt.ArrayLike, l_max: npt.ArrayLike,
                 l_has: npt.NDArray[np.int64], o_lat: npt.ArrayLike, o_lon: npt.ArrayLike,
                 o_need: npt.NDArray[np.int64]) -> BoolArray:
    """Distance and requirements for every learner x offer pair of one sector (numpy).

    The same rule as `assess` for open offers in the learners' sector: every required tag
    held (bit masks from `tag_masks` with one shared index) and the distance within the
    travel limit. The distance test is a dot product of unit vectors (u.v >= cos(max_km/R),
    one BLAS call for the block); the few pairs within 1e-9 of the limit are settled by
    `solver.geo.within_reach` itself (the scalar haversine), so "within reach" means
    exactly what `assess` and the solver mean.
    """
    l_lat, l_lon = np.asarray(l_lat, dtype=np.float64), np.asarray(l_lon, dtype=np.float64)
    o_lat, o_lon = np.asarray(o_lat, dtype=np.float64), np.asarray(o_lon, dtype=np.float64)
    l_max = np.asarray(l_max, dtype=np.float64)
    margin = unit_vectors(l_lat, l_lon) @ unit_vectors(o_lat, o_lon).T
    margin -= np.cos(np.minimum(l_max / EARTH_RADIUS_KM, np.pi))[:, None]
    ok = margin >= 0
    close = np.abs(margin) < 1e-9
    if close.any():
        for r, c in zip(*np.nonzero(close), strict=True):
            ok[r, c] = geo_within_reach(float(l_lat[r]), float(l_lon[r]), float(o_lat[c]),
                                        float(o_lon[c]), float(l_max[r]))
    ok &= (np.asarray(o_need)[None, :] & ~np.asarray(l_has)[:, None]) == 0
    return np.asarray(ok)
