"""Load and validate a `placement-problem/1` file into frozen dataclasses."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .objective import MAX_PREFERENCES

FORMAT = "placement-problem/1"
RANK_COSTS = ("linear", "squared")
#: Largest capacity, max_learners or min_if_any accepted (problem-format.md).
MAX_COUNT = 1_000_000_000
#: Largest settings.time_limit_s accepted, in seconds (about 11.6 days).
MAX_TIME_LIMIT_S = 1_000_000.0


class ProblemError(ValueError):
    """An invalid problem file; the message is one line naming the offending entry."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Solver settings of one allocation round."""

    rank_cost: str = "squared"
    fallback: bool = True
    max_preferences: int = 10
    time_limit_s: float = 60.0
    ksb_coverage: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    """A placement offer: an employer's slots in one sector at one place."""

    id: str
    employer: str
    sector: str
    capacity: int
    lat: float
    lon: float
    requires: tuple[str, ...] = ()
    ksbs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Learner:
    """A learner with a location, a travel limit, tags held and ranked preferences."""

    id: str
    sector: str
    lat: float
    lon: float
    mandated: bool = False
    max_km: float | None = None
    has: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    outstanding_ksbs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pair:
    """A (learner, offer) pair: a lock or a previously published placement."""

    learner: str
    offer: str


@dataclass(frozen=True, slots=True)
class Employer:
    """Side constraints across all offers of one employer."""

    id: str
    max_learners: int | None = None
    min_if_any: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A whole allocation problem; `previous` is None unless this is a repair run."""

    settings: Settings
    offers: tuple[Offer, ...]
    learners: tuple[Learner, ...]
    locked: tuple[Pair, ...] = ()
    employers: tuple[Employer, ...] = ()
    previous: tuple[Pair, ...] | None = None


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProblemError(
            f"{path}: bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ProblemError(f"{path}: bad JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise ProblemError(f"{path}: bad JSON: {str(exc).splitlines()[0]}") from None
    return parse_problem(data)


def _type_name(value: object) -> str:
    """Name a JSON value's type for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    """Return a required field or raise naming it."""
    if key not in obj:
        raise ProblemError(f"{where}: missing required field '{key}'")
    return obj[key]


def _string(value: object, where: str, *, non_empty: bool = False) -> str:
    """Check a string value."""
    if not isinstance(value, str):
        raise ProblemError(f"{where} must be a string, not {_type_name(value)}")
    if non_empty and not value:
        raise ProblemError(f"{where} must be a non-empty string")
    return value


def _number(value: object, where: str) -> float:
    """Check a finite number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProblemError(f"{where} must be a number, not {_type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ProblemError(f"{where} must be a finite number of sensible size") from None
    if not math.isfinite(number):
        raise ProblemError(f"{where} must be a finite number")
    return number


def _integer(value: object, where: str, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """Check an integer in [minimum, maximum] (2.0 counts; 2.5 and true do not)."""
    if isinstance(value, float) and value.is_integer():
        if abs(value) > maximum:
            raise ProblemError(f"{where} must be at most {maximum}, not {value:g}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(f"{where} must be an integer, not {_type_name(value)}")
    if value < minimum:
        raise ProblemError(f"{where} must be at least {minimum}, not {_short(value)}")
    if value > maximum:
        raise ProblemError(f"{where} must be at most {maximum}, not {_short(value)}")
    return value


def _short(value: int) -> str:
    """Show an integer, abbreviating huge ones (never converting thousands of digits)."""
    if -10**15 < value < 10**15:
        return str(value)
    return f"{'-' if value < 0 else ''}about 1e{len(str(abs(value))) - 1}"



def _boolean(value: object, where: str) -> bool:
    """Check a boolean."""
    if not isinstance(value, bool):
        raise ProblemError(f"{where} must be true or false, not {_type_name(value)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    """Check a list."""
    if not isinstance(value, list):
        raise ProblemError(f"{where} must be a list, not {_type_name(value)}")
    return value


def _object(value: object, where: str) -> dict[str, Any]:
    """Check an object."""
    if not isinstance(value, dict):
        raise ProblemError(f"{where} must be an object, not {_type_name(value)}")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    """Check a list of strings."""
    items = _list(value, where)
    for i, item in enumerate(items):
        _string(item, f"{where}[{i}]")
    return tuple(items)


def _coordinates(obj: dict[str, Any], where: str) -> tuple[float, float]:
    """Check `lat` and `lon`."""
    lat = _number(_require(obj, "lat", where), f"{where} lat")
    lon = _number(_require(obj, "lon", where), f"{where} lon")
    if not -90.0 <= lat <= 90.0:
        raise ProblemError(f"{where} lat must be in [-90, 90], not {lat:g}")
    if not -180.0 <= lon <= 180.0:
        raise ProblemError(f"{where} lon must be in [-180, 180], not {lon:g}")
    return lat, lon


def _label(kind: str, index: int, obj: dict[str, Any]) -> str:
    """Name an entry by its id when it has a usable one, else by position."""
    ident = obj.get("id")
    if isinstance(ident, str) and ident:
        return f"{kind} '{ident}'"
    return f"{kind}s[{index}]"


def _parse_settings(raw: object) -> Settings:
    """Validate `settings`, applying defaults."""
    obj = _object(raw, "settings")
    defaults = Settings()
    rank_cost = _string(obj.get("rank_cost", defaults.rank_cost), "settings.rank_cost")
    if rank_cost not in RANK_COSTS:
        raise ProblemError(
            f"settings.rank_cost must be 'linear' or 'squared', not {rank_cost!r}"
        )
    fallback = _boolean(obj.get("fallback", defaults.fallback), "settings.fallback")
    raw_k = obj.get("max_preferences", defaults.max_preferences)
    if isinstance(raw_k, bool) or not isinstance(raw_k, int) or raw_k < 1:
        shown = _short(raw_k) if isinstance(raw_k, int) else json.dumps(raw_k)[:40]
        raise ProblemError(f"settings.max_preferences must be a positive integer, not {shown}")
    if raw_k > MAX_PREFERENCES:
        raise ProblemError(
            f"settings.max_preferences must be at most {MAX_PREFERENCES}, not {_short(raw_k)}"
        )
    limit = _number(obj.get("time_limit_s", defaults.time_limit_s), "settings.time_limit_s")
    if limit <= 0:
        raise ProblemError(f"settings.time_limit_s must be positive, not {limit:g}")
    if limit > MAX_TIME_LIMIT_S:
        raise ProblemError(
            f"settings.time_limit_s must be at most {MAX_TIME_LIMIT_S:g}, not {limit:g}"
        )
    ksb = _boolean(obj.get("ksb_coverage", defaults.ksb_coverage), "settings.ksb_coverage")
    return Settings(rank_cost, fallback, raw_k, limit, ksb)


def _parse_offer(index: int, raw: object) -> Offer:
    """Validate one offer."""
    obj = _object(raw, f"offers[{index}]")
    where = _label("offer", index, obj)
    ident = _string(_require(obj, "id", where), f"{where} id", non_empty=True)
    employer = _string(_require(obj, "employer", where), f"{where} employer")
    sector = _string(_require(obj, "sector", where), f"{where} sector")
    capacity = _integer(_require(obj, "capacity", where), f"{where} capacity", minimum=0)
    lat, lon = _coordinates(obj, where)
    requires = _strings(obj.get("requires", []), f"{where} requires")
    ksbs = _strings(obj.get("ksbs", []), f"{where} ksbs")
    return Offer(ident, employer, sector, capacity, lat, lon, requires, ksbs)


def _parse_learner(index: int, raw: object) -> Learner:
    """Validate one learner."""
    obj = _object(raw, f"learners[{index}]")
    where = _label("learner", index, obj)
    ident = _string(_require(obj, "id", where), f"{where} id", non_empty=True)
    sector = _string(_require(obj, "sector", where), f"{where} sector")
    lat, lon = _coordinates(obj, where)
    mandated = _boolean(obj.get("mandated", False), f"{where} mandated")
    max_km: float | None = None
    if obj.get("max_km") is not None:
        max_km = _number(obj["max_km"], f"{where} max_km")
        if max_km < 0:
            raise ProblemError(f"{where} max_km must not be negative, not {max_km:g}")
    has = _strings(obj.get("has", []), f"{where} has")
    preferences = _strings(obj.get("preferences", []), f"{where} preferences")
    excluded = _strings(obj.get("excluded", []), f"{where} excluded")
    outstanding = _strings(obj.get("outstanding_ksbs", []), f"{where} outstanding_ksbs")
    return Learner(ident, sector, lat, lon, mandated, max_km, has, preferences, excluded,
                   outstanding)


def _parse_pair(index: int, raw: object, name: str) -> Pair:
    """Validate one {learner, offer} pair of `locked` or `previous`."""
    where = f"{name}[{index}]"
    obj = _object(raw, where)
    learner = _string(_require(obj, "learner", where), f"{where} learner", non_empty=True)
    offer = _string(_require(obj, "offer", where), f"{where} offer", non_empty=True)
    return Pair(learner, offer)


def _parse_employer(index: int, raw: object) -> Employer:
    """Validate one employer side constraint."""
    obj = _object(raw, f"employers[{index}]")
    where = _label("employer", index, obj)
    ident = _string(_require(obj, "id", where), f"{where} id", non_empty=True)
    cap = obj.get("max_learners")
    least = obj.get("min_if_any")
    max_learners = None if cap is None else _integer(cap, f"{where} max_learners", minimum=0)
    min_if_any = None if least is None else _integer(least, f"{where} min_if_any", minimum=0)
    return Employer(ident, max_learners, min_if_any)


def _first_duplicate(ids: list[str]) -> str | None:
    """Return the first id that occurs twice, if any."""
    counts = Counter(ids)
    return next((i for i in ids if counts[i] > 1), None)


def _check_locks(
    locked: tuple[Pair, ...],
    offers: dict[str, Offer],
    learners: set[str],
    employers: tuple[Employer, ...],
) -> None:
    """Check that every lock can hold: known ids, one lock per learner, capacity, caps."""
    seen: set[str] = set()
    used: Counter[str] = Counter()
    for i, pair in enumerate(locked):
        where = f"locked[{i}]"
        if pair.learner not in learners:
            raise ProblemError(f"{where}: unknown learner '{pair.learner}'")
        if pair.offer not in offers:
            raise ProblemError(f"{where}: unknown offer '{pair.offer}'")
        if pair.learner in seen:
            raise ProblemError(f"{where}: learner '{pair.learner}' is locked twice")
        seen.add(pair.learner)
        used[pair.offer] += 1
        if used[pair.offer] > offers[pair.offer].capacity:
            raise ProblemError(
                f"{where}: locks overfill offer '{pair.offer}' "
                f"(capacity {offers[pair.offer].capacity})"
            )
    per_employer = Counter(offers[pair.offer].employer for pair in locked)
    for employer in employers:
        if employer.max_learners is not None and per_employer[employer.id] > employer.max_learners:
            raise ProblemError(
                f"employer '{employer.id}': {per_employer[employer.id]} locked learners "
                f"exceed max_learners {employer.max_learners}"
            )


def parse_problem(data: object) -> Problem:
    """Validate a decoded `placement-problem/1` document and build a Problem."""
    obj = _object(data, "problem")
    fmt = obj.get("format")
    if fmt != FORMAT:
        shown = "missing" if fmt is None else repr(fmt)
        raise ProblemError(f"format must be '{FORMAT}', not {shown}")
    settings = _parse_settings(obj.get("settings", {}))
    raw_offers = _list(_require(obj, "offers", "problem"), "offers")
    raw_learners = _list(_require(obj, "learners", "problem"), "learners")
    offers = tuple(_parse_offer(i, raw) for i, raw in enumerate(raw_offers))
    learners = tuple(_parse_learner(i, raw) for i, raw in enumerate(raw_learners))
    raw_locked = _list(obj.get("locked", []), "locked")
    locked = tuple(_parse_pair(i, raw, "locked") for i, raw in enumerate(raw_locked))
    employers = tuple(
        _parse_employer(i, raw)
        for i, raw in enumerate(_list(obj.get("employers", []), "employers"))
    )
    previous: tuple[Pair, ...] | None = None
    if obj.get("previous") is not None:
        previous = tuple(
            _parse_pair(i, raw, "previous")
            for i, raw in enumerate(_list(obj["previous"], "previous"))
        )
    for kind, ids in (
        ("offer", [o.id for o in offers]),
        ("learner", [learner.id for learner in learners]),
        ("employer", [e.id for e in employers]),
    ):
        duplicate = _first_duplicate(ids)
        if duplicate is not None:
            raise ProblemError(f"duplicate {kind} id '{duplicate}'")
    if previous is not None:
        duplicate = _first_duplicate([pair.learner for pair in previous])
        if duplicate is not None:
            raise ProblemError(f"previous: learner '{duplicate}' appears more than once")
    offer_by_id = {o.id: o for o in offers}
    _check_locks(locked, offer_by_id, {learner.id for learner in learners}, employers)
    return Problem(settings, offers, learners, locked, employers, previous)
