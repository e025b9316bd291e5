"""Importing prospects into the engagement pipeline (through the one import pipeline)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from placements.csvio import ColumnSpec, Row, parse_choice, parse_email
from placements.domain import DomainError
from placements.engagement.services import (
    STAGES,
    ProspectData,
    add_prospect,
    normalise_area,
    scoped,
)
from placements.extensions import db
from placements.imports.pipeline import (
    ImportKind,
    ImportOutcome,
    Progress,
    RowCheck,
    register,
)
from placements.models import Employer, EmployerEngagement, EngagementStage, User
from placements.reference import routes

PROSPECT_COLUMNS: dict[str, ColumnSpec] = {
    "name": ColumnSpec(required=True, max_length=200, example="Altrincham Robotics Ltd",
                       help="Organisation name"),
    "sector": ColumnSpec(required=True, parse=parse_choice(routes()), example="Digital",
                         help="Occupational route, as in the sector list"),
    "postcode_area": ColumnSpec(max_length=10, default="", example="WA",
                                help="Postcode area letters or a postcode"),
    "contact_name": ColumnSpec(max_length=200, default="", example="Sam Patel"),
    "contact_email": ColumnSpec(parse=parse_email, default="", example="sam@example.com"),
    "stage": ColumnSpec(parse=parse_choice([s.value for s in STAGES]), default="prospect",
                        example="prospect", help="One of " + ", ".join(s.value for s in STAGES)),
}


def check_prospects(officer: User, rows: Sequence[Row]) -> RowCheck:  # noqa: ARG001
    """Build the look-ups once; return the check of one prospect row (names are unique
    within the officer's partnership's pipeline)."""
    existing = {n.lower() for n in db.session.scalars(
        scoped(officer).with_only_columns(EmployerEngagement.name))}
    registered = {n.lower() for n in db.session.scalars(sa.select(Employer.name))}
    seen: dict[str, int] = {}

    def check(row: Row):
        name = (row.get("name") or "").strip()
        key = name.lower()
        if name:
            if key in existing:
                yield ("name", f"{name} is already in the pipeline")
            elif key in registered:
                yield ("name", f"{name} has already registered; track registered employers "
                               "from the board")
            elif key in seen:
                yield ("name", f"{name} is also on line {seen[key]}")
            seen.setdefault(key, row.number)
        try:
            normalise_area(row.get("postcode_area"))
        except DomainError as exc:
            yield ("postcode_area", exc.message)

    return check


def write_prospects(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Add every prospect of a checked file."""
    for i, row in enumerate(rows, 1):
        add_prospect(officer, ProspectData(
            name=row["name"], sector=row["sector"], postcode_area=row["postcode_area"] or "",
            contact_name=row["contact_name"] or "", contact_email=row["contact_email"] or "",
            stage=EngagementStage(row["stage"])))
        if i % 100 == 0:
            progress(i)
    progress(len(rows))
    return ImportOutcome(created=len(rows))


PROSPECTS = register(ImportKind(
    name="prospects", title="Prospects", columns=PROSPECT_COLUMNS, check=check_prospects,
    write=write_prospects, order=50,
    description="Organisations you are courting that have not registered yet."))
