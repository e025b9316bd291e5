"""The KSB catalogue: the statements of each occupational standard, loaded from the bundled
reference file (`flask seed reference`, `flask seed demo`), from a CSV import or from
Skills England's JSON (`placements.ksb.imports`). All three go through `upsert_standard`,
which records the standard's version and date, and where and when the statements came
from, and moves the standard's revision on whenever a statement changes (so that every
process rebuilds its suggestion index).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from placements import audit
from placements.domain import DomainError
from placements.extensions import db
from placements.ksb.suggest import DEFAULT_CSV
from placements.models import (
    Ksb,
    KsbKind,
    KsbStandardVersion,
    OccupationalStandard,
    User,
    utcnow,
)
from placements.models.ksb import ksb_sort_key

#: Where the bundled statements come from, in words (shown with each standard).
BUNDLED_SOURCE = ("Bundled reference data (seed/data/ksbs-l4-l5.csv, snapshot of mid 2026; "
                  "Open Government Licence v3.0)")
#: A KSB code: K1, S12, B3, with an optional prefix of an option or core (CK1) and an
#: optional sub-number (K1.2).
KSB_CODE = re.compile(r"^[A-Z]{0,3}[KSB]\d{1,3}(?:\.\d{1,2})?$")
#: A standard's reference: ST and four digits.
STANDARD_REFERENCE = re.compile(r"^ST\d{4}$")
#: Longest statement kept (the longest published one has about 1,500 characters).
MAX_STATEMENT = 4000
KIND_WORDS: dict[str, KsbKind] = {
    "knowledge": KsbKind.KNOWLEDGE, "k": KsbKind.KNOWLEDGE,
    "skill": KsbKind.SKILL, "skills": KsbKind.SKILL, "s": KsbKind.SKILL,
    "behaviour": KsbKind.BEHAVIOUR, "behaviours": KsbKind.BEHAVIOUR,
    "behavior": KsbKind.BEHAVIOUR, "behaviors": KsbKind.BEHAVIOUR, "b": KsbKind.BEHAVIOUR,
}


def parse_code(text: str) -> str:
    """A KSB code in capitals, or ValueError with words for the person."""
    code = text.strip().upper().replace(" ", "")
    if not KSB_CODE.match(code):
        raise ValueError("Enter a KSB code like K1, S12 or B3")
    return code


def parse_kind(text: str) -> KsbKind:
    """knowledge, skill or behaviour (also K, S, B and plurals), or ValueError."""
    kind = KIND_WORDS.get(text.strip().lower())
    if kind is None:
        raise ValueError("Use one of knowledge, skill or behaviour")
    return kind


def parse_reference(text: str) -> str:
    """A standard's reference such as ST0116, or ValueError."""
    reference = text.strip().upper()
    if not STANDARD_REFERENCE.match(reference):
        raise ValueError("Enter the standard's reference, like ST0116")
    return reference


def kind_of_code(code: str) -> KsbKind | None:
    """The kind a code's letter names (K1: knowledge), if it follows the usual pattern."""
    match = re.match(r"^[A-Z]{0,3}([KSB])\d", code)
    if not match:
        return None
    return {"K": KsbKind.KNOWLEDGE, "S": KsbKind.SKILL, "B": KsbKind.BEHAVIOUR}[match.group(1)]


@dataclass
class StandardKsbs:
    """One standard's statements as a source gives them."""

    reference: str
    title: str = ""
    level: int | None = None
    route: str = ""
    version: str = ""
    version_date: date | None = None
    #: (code, kind, statement)
    statements: list[tuple[str, KsbKind, str]] = field(default_factory=list)


@dataclass
class Loaded:
    """What loading a standard's statements did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    standard_created: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.standard_created)


def standards_by_reference(references: Iterable[str]) -> dict[str, OccupationalStandard]:
    """The standards of some references that the service knows."""
    refs = sorted(set(references))
    if not refs:
        return {}
    return {s.reference: s for s in db.session.scalars(
        sa.select(OccupationalStandard).where(OccupationalStandard.reference.in_(refs)))}


def upsert_standard(actor: User | None, data: StandardKsbs, *, source: str) -> Loaded:
    """Create or update one standard's KSB statements (flushes; never deletes a statement).

    A standard the service does not know yet is created from the title, level and route
    given (a provider adding, say, an engineering standard). Statements are matched on their
    code; a changed kind or text updates it. The standard's version record says which
    version and date, from where, when and by whom; its revision moves when anything
    changed.
    """
    outcome = Loaded()
    standard = standards_by_reference([data.reference]).get(data.reference)
    if standard is None:
        if not (data.title and data.level and data.route):
            raise DomainError(f"{data.reference} is a new standard: give its title, level "
                              "and route", field="standard")
        standard = OccupationalStandard(reference=data.reference, title=data.title[:200],
                                        level=data.level, route=data.route)
        db.session.add(standard)
        db.session.flush()
        outcome.standard_created = True
    existing = {k.code: k for k in db.session.scalars(
        sa.select(Ksb).where(Ksb.standard_id == standard.id))}
    for code, kind, statement in data.statements:
        ksb = existing.get(code)
        if ksb is None:
            ksb = Ksb(standard_id=standard.id, code=code, kind=kind, statement=statement)
            db.session.add(ksb)
            existing[code] = ksb
            outcome.created += 1
        elif ksb.kind != kind or ksb.statement != statement:
            ksb.kind, ksb.statement = kind, statement
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    for position, code in enumerate(sorted(existing, key=ksb_sort_key)):
        if existing[code].position != position:
            existing[code].position = position
    version = db.session.get(KsbStandardVersion, standard.id)
    stated = (data.version[:20], data.version_date)
    if version is None:
        version = KsbStandardVersion(standard_id=standard.id, version=stated[0],
                                     version_date=stated[1], source=source[:200],
                                     loaded_at=utcnow(),
                                     loaded_by_id=actor.id if actor else None, revision=1)
        db.session.add(version)
        newly = True
    else:
        newly = False
    version_changed = not newly and (version.version, version.version_date) != stated
    if not newly and (outcome.changed or version_changed):
        version.version, version.version_date = stated
        version.source = source[:200]
        version.loaded_at = utcnow()
        version.loaded_by_id = actor.id if actor else None
        version.revision += 1
    db.session.flush()
    if newly or outcome.changed or version_changed:
        audit.record(actor, "ksb.standard_loaded", standard, reference=data.reference,
                     source=source, version=data.version,
                     version_date=data.version_date, created=outcome.created,
                     updated=outcome.updated, unchanged=outcome.unchanged)
    return outcome


def read_bundled(path: str | None = None) -> list[StandardKsbs]:
    """The standards and statements of the bundled file (seed/data/ksbs-l4-l5.csv)."""
    grouped: dict[str, StandardKsbs] = {}
    with open(path or DEFAULT_CSV, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            reference = row["standard"].strip()
            data = grouped.get(reference)
            if data is None:
                data = grouped[reference] = StandardKsbs(
                    reference=reference, title=row["standard_title"].strip(),
                    level=int(row["level"]), route=row["route"].strip())
            data.statements.append((row["code"].strip(), parse_kind(row["kind"]),
                                    row["statement"].strip()))
    return list(grouped.values())


def load_bundled(actor: User | None = None) -> Loaded:
    """Load or refresh the bundled statements (idempotent: a second run changes nothing)."""
    total = Loaded()
    for data in read_bundled():
        outcome = upsert_standard(actor, data, source=BUNDLED_SOURCE)
        total.created += outcome.created
        total.updated += outcome.updated
        total.unchanged += outcome.unchanged
    return total


# --- reading the catalogue -----------------------------------------------------------------

def ksbs_of(standard_id: int) -> list[Ksb]:
    """A standard's KSBs in the standard's order (knowledge, skills, behaviours)."""
    return list(db.session.scalars(sa.select(Ksb).where(Ksb.standard_id == standard_id)
                                   .order_by(Ksb.position, Ksb.id)))


def ksbs_by_code(standard_id: int) -> dict[str, Ksb]:
    """A standard's KSBs by code."""
    return {k.code: k for k in ksbs_of(standard_id)}


def version_of(standard_id: int) -> KsbStandardVersion | None:
    """Which version of a standard's KSBs is loaded, if any."""
    return db.session.get(KsbStandardVersion, standard_id)


@dataclass(frozen=True)
class StandardSummary:
    """A standard with KSBs, for the catalogue page."""

    standard: OccupationalStandard
    version: KsbStandardVersion
    knowledge: int
    skills: int
    behaviours: int

    @property
    def total(self) -> int:
        return self.knowledge + self.skills + self.behaviours


def standards_with_ksbs(references: Sequence[str] | None = None) -> list[StandardSummary]:
    """Every standard that has KSB statements (or those of some references), by reference,
    with counts of each kind."""
    counts: dict[int, dict[str, int]] = {}
    for standard_id, kind, n in db.session.execute(
            sa.select(Ksb.standard_id, Ksb.kind, sa.func.count()).group_by(Ksb.standard_id,
                                                                          Ksb.kind)):
        counts.setdefault(standard_id, {})[str(kind)] = n
    stmt = (sa.select(OccupationalStandard, KsbStandardVersion)
            .join(KsbStandardVersion, KsbStandardVersion.standard_id == OccupationalStandard.id)
            .order_by(OccupationalStandard.reference))
    if references is not None:
        stmt = stmt.where(OccupationalStandard.reference.in_(sorted(set(references))))
    out = []
    for standard, version in db.session.execute(stmt):
        c = counts.get(standard.id, {})
        out.append(StandardSummary(standard, version, c.get("knowledge", 0),
                                   c.get("skill", 0), c.get("behaviour", 0)))
    return out
