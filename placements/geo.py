"""Offline postcode lookup from the bundled postcode-district centroids."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# One definition of distance for the app and the solver (R = 6371.0088 km).
from solver.geo import EARTH_RADIUS_KM, haversine_km, haversine_km_array

DATA_FILE = Path(__file__).resolve().parent.parent / "seed" / "data" / "postcode-districts.csv"

# Outward code: area letters, district digit(s), optional letter (e.g. M1, M60, SW1A, EC1V).
_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
# Inward code: sector digit and unit letters (e.g. 4BT).
_INWARD = r"[0-9][A-Z]{2}"
_FULL_RE = re.compile(rf"^({_OUTWARD}) ?({_INWARD})$")
_OUTWARD_RE = re.compile(rf"^({_OUTWARD})$")



class PostcodeError(ValueError):
    """A postcode that is malformed or not in the bundled district list."""


@dataclass(frozen=True, slots=True)
class District:
    """A postcode district with its centroid and place names."""

    district: str
    lat: float
    lon: float
    town: str
    area: str
    region: str


@dataclass(frozen=True, slots=True)
class Located:
    """A normalised postcode and where it is."""

    postcode: str
    district: District

    @property
    def lat(self) -> float:
        return self.district.lat

    @property
    def lon(self) -> float:
        return self.district.lon


@cache
def districts() -> dict[str, District]:
    """Load the postcode districts once, keyed by district code."""
    with DATA_FILE.open(newline="", encoding="utf-8") as fh:
        # Non-geographic districts (e.g. EH77) have no centroid and cannot be located.
        return {
            row["district"]: District(row["district"], float(row["lat"]), float(row["lon"]),
                                      row["town"], row["area"], row["region"])
            for row in csv.DictReader(fh) if row["lat"] and row["lon"]
        }


def normalise_postcode(raw: str) -> str:
    """Upper-case a postcode and put one space before the inward code."""
    text = re.sub(r"\s+", "", (raw or "").upper())
    match = _FULL_RE.match(text)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    if _OUTWARD_RE.match(text):
        return text
    raise PostcodeError("Enter a real UK postcode, like M1 4BT")


def locate(raw: str, *, full: bool = False) -> Located:
    """Turn a full postcode (or, unless `full`, a district such as M1) into a location,
    offline. Places of work need a full postcode; a learner's home may be a district."""
    postcode = normalise_postcode(raw)
    if full and " " not in postcode:
        raise PostcodeError(f"Enter the full postcode, like {postcode} 1AA: the district "
                            f"alone ({postcode}) is not an address")
    outward = postcode.split(" ")[0]
    district = districts().get(outward)
    if district is None:
        raise PostcodeError(f"We do not know the postcode district {outward}: check the postcode")
    return Located(postcode, district)


def locate_cached(raw: str | None, cache: dict[str, Located | str], *,
                  full: bool = False) -> Located | str:
    """Locate a postcode once per import file: a Located, or the message saying why not."""
    key = raw or ""
    if key not in cache:
        try:
            cache[key] = locate(key, full=full)
        except PostcodeError as exc:
            cache[key] = str(exc) or "Enter a real postcode"
    return cache[key]


__all__ = ["EARTH_RADIUS_KM", "District", "Located", "PostcodeError", "districts",
           "haversine_km", "haversine_km_array", "locate", "locate_cached",
           "normalise_postcode"]
