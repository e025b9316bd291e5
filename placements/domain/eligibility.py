"""Whether a learner may take an offer, and why not: the one rule, with its reasons.

A learner is eligible for an offer when the offer is open to choices (see
`placements.domain.offers`), it is in the sector of the learner's programme, its site is
within the learner's travel limit (great-circle distance, the solver's own definition, so
the app and the solver agree to the last bit at the limit), the learner holds every check
it requires, and the learner has not declined it in this round. The same rule decides the
marks on a learner's offer list, the warnings of a hand placement, the reach counted by
supply and demand, and (in the solver, from the problem file) the allocation itself.

`assess` is the rule for one pair, in Python, with reasons; `reach_matrix` is the same rule
for many pairs at once (numpy), used where thousands of learners meet thousands of offers.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from placements.models import REQUIREMENTS, Learner, PlacementOffer
from solver.geo import EARTH_RADIUS_KM, haversine_km
from solver.geo import within_reach as geo_within_reach


class Reason(enum.StrEnum):
    """Why a learner may not take an offer."""

    CLOSED = "closed"  # the offer is not open to choices (withdrawn, finished, unapproved)
    SECTOR = "sector"
    DISTANCE = "distance"
    REQUIREMENT = "requirement"
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
                out.append(f"It needs {_names(self.missing)}, which you have not told us "
                           "you hold.")
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
                out.append(f"The learner does not hold: {_names(self.missing)}.")
            elif reason is Reason.DECLINED:
                out.append("The learner declined this offer in this round.")
        return out


def requirement_names(tags: Sequence[str]) -> str:
    """Requirement tags in words ("dbs" -> "an enhanced DBS check" and the like)."""
    return _names(tags)


def _names(tags: Sequence[str]) -> str:
    return ", ".join(REQUIREMENTS.get(t, t) for t in tags)


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
    missing = tuple(sorted(offer.requires - learner.has))
    if missing:
        reasons.append(Reason.REQUIREMENT)
    if offer.id in learner.declined:
        reasons.append(Reason.DECLINED)
    return Eligibility(km=km, max_km=learner.max_km, reasons=tuple(reasons), missing=missing,
                       offer_sector=offer.sector, learner_sector=learner.sector,
                       closed_because=offer.closed_because)


def learner_facts(learner: Learner, *, declined: frozenset[int] = frozenset()) -> LearnerFacts:
    """The eligibility facts of a learner row."""
    return LearnerFacts(sector=learner.programme.route, lat=learner.lat, lon=learner.lon,
                        max_km=float(learner.max_travel_km),
                        has=frozenset(learner.credentials or ()), declined=declined)


def offer_facts(offer: PlacementOffer, *, today: date | None = None) -> OfferFacts:
    """The eligibility facts of an offer row (with its site and employer)."""
    from placements.domain.offers import closed_because

    return OfferFacts(id=offer.id, sector=offer.sector, lat=offer.site.lat, lon=offer.site.lon,
                      requires=frozenset(offer.requirements or ()),
                      closed_because=closed_because(offer, today=today))


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
