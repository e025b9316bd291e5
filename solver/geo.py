"""Great-circle distances (haversine, mean Earth radius), scalar and vectorised."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlam = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_km_array(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Return great-circle distances in km, broadcasting the four arrays (degrees)."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))))


#: Pairs whose array distance lies within this relative margin of the limit are settled
#: with the scalar function. numpy's and libm's sin, cos and asin differ by a few units in
#: the last place; near antipodes asin amplifies that to about 1e-8 of the distance, far
#: inside this margin.
REACH_REL_MARGIN = 1e-6
#: Absolute part of the margin, in km, for limits near zero.
REACH_ABS_MARGIN_KM = 1e-9


def within_reach(lat1: float, lon1: float, lat2: float, lon2: float,
                 max_km: float | None) -> bool:
    """Say whether point 2 is within `max_km` of point 1: THE rule of problem-format.md.

    The distance is `haversine_km` (scalar, double precision); None means no limit.
    The web app and the solver both use this definition; `within_reach_array` gives
    identical answers for the same inputs.
    """
    if max_km is None:
        return True
    return haversine_km(lat1, lon1, lat2, lon2) <= max_km


def reach_margin(max_km: npt.ArrayLike) -> FloatArray:
    """Return the band around a limit inside which array distances are not trusted."""
    limit = np.asarray(max_km, dtype=np.float64)
    return np.asarray(REACH_REL_MARGIN * np.abs(np.where(np.isfinite(limit), limit, 0.0))
                      + REACH_ABS_MARGIN_KM)


def within_reach_array(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike,
    max_km: npt.ArrayLike, km: FloatArray | None = None,
) -> npt.NDArray[np.bool_]:
    """Vectorised `within_reach` (broadcasting; an infinite `max_km` means no limit).

    Distances come from `haversine_km_array` (or `km` when the caller has them); pairs
    within a small relative margin of their limit are settled by the scalar function,
    so the answer is exactly `within_reach` for every pair.
    """
    if km is None:
        km = haversine_km_array(lat1, lon1, lat2, lon2)
    limit = np.asarray(max_km, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(km), limit.shape)
    km_b = np.broadcast_to(km, shape)
    lim_b = np.broadcast_to(limit, shape)
    ok = km_b <= lim_b
    close = np.abs(km_b - lim_b) <= reach_margin(lim_b)
    if close.any():
        ok = ok.copy()
        idx = np.nonzero(close)
        a = np.broadcast_to(np.asarray(lat1, np.float64), shape)[idx]
        b = np.broadcast_to(np.asarray(lon1, np.float64), shape)[idx]
        c = np.broadcast_to(np.asarray(lat2, np.float64), shape)[idx]
        d = np.broadcast_to(np.asarray(lon2, np.float64), shape)[idx]
        lims = lim_b[idx]
        ok[idx] = [
            haversine_km(float(w), float(x), float(y), float(z)) <= float(m)
            for w, x, y, z, m in zip(a.tolist(), b.tolist(), c.tolist(), d.tolist(),
                                     lims.tolist(), strict=True)
        ]
    return np.asarray(ok)
