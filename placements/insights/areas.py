"""Where learners and places are, as the insight pages group them: postcode areas (the
letters of the outward code, "SK") and ONS regions, from the bundled postcode district
centroids (`placements.geo`)."""

from __future__ import annotations

from collections import Counter
from functools import cache, lru_cache

from placements.domain import DomainError
from placements.geo import districts
from placements.insights.calc import postcode_area

#: How the supply and demand table groups places and learners.
GROUPINGS = ("area", "region")
#: The cell of a postcode that is not on record (a learner or site deleted since).
UNKNOWN_CELL = "Unknown"


@cache
def area_names() -> dict[str, str]:
    """Return postcode area letters -> the area name most of its districts carry."""
    counts: dict[str, Counter] = {}
    for district in districts().values():
        counts.setdefault(postcode_area(district.district), Counter())[district.area] += 1
    return {area: c.most_common(1)[0][0] for area, c in counts.items()}


@cache
def area_regions() -> dict[str, str]:
    """Return postcode area letters -> the ONS region most of its districts are in."""
    counts: dict[str, Counter] = {}
    for district in districts().values():
        counts.setdefault(postcode_area(district.district), Counter())[district.region] += 1
    return {area: c.most_common(1)[0][0] for area, c in counts.items()}


def region_of_postcode(postcode: str) -> str:
    """Return the ONS region of a postcode's district ("Unknown" when not in the data)."""
    outward = (postcode or "").strip().upper().split(" ")[0]
    district = districts().get(outward)
    if district is not None:
        return district.region
    return area_regions().get(postcode_area(postcode), "Unknown")


def area_label(area: str) -> str:
    """Return "SK (Stockport)" for an area code."""
    name = area_names().get(area)
    return f"{area} ({name})" if name else area or "Unknown"


def area_centroid(area: str) -> tuple[float, float]:
    """Return the mean latitude and longitude of the area's postcode districts."""
    points = [(d.lat, d.lon) for d in districts().values()
              if postcode_area(d.district) == area]
    if not points:
        raise DomainError(f"We do not know the postcode area {area}", field="area")
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


@lru_cache(maxsize=8192)
def _outward_cell(outward: str, by: str) -> str:
    key = region_of_postcode(outward) if by == "region" else postcode_area(outward)
    return key or UNKNOWN_CELL


def cell_key(postcode: str | None, by: str) -> str:
    """The area (or region) of a postcode: its outward code decides, so it is cached."""
    if not postcode:
        return UNKNOWN_CELL
    return _outward_cell(postcode.strip().upper().split(" ")[0], by)


def cell_label(cell: str, by: str) -> str:
    """What the table calls a cell: "SK (Stockport)", a region's name, or unknown."""
    if cell == UNKNOWN_CELL:
        return "Unknown (no longer on record)"
    return area_label(cell) if by == "area" else cell
