"""KSB imports (through the one import pipeline):

- **KSBs of a standard** ("ksbs"): a CSV (or Excel) file in the columns of the bundled
  seed file (standard, standard_title, level, route, code, kind, statement, with optional
  version and version_date), or the JSON Skills England publishes for a standard
  (converted to the same rows by `placements.ksb.skills_england`). Statements are
  upserted on (standard, code); a standard the service does not know is created.
- **Programme modules** ("ksb-modules"): modules and work-integrated parts of the officer's
  programmes with their learning outcomes, and optionally the KSB codes a module covers
  (confirmed links). An unknown code is an error of its row: nothing is imported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.csvio import (
    ColumnSpec,
    CSVError,
    Row,
    RowError,
    parse_choice,
    parse_date,
    parse_int,
)
from placements.domain import ksb as rules
from placements.extensions import db
from placements.imports.pipeline import (
    ImportKind,
    ImportOutcome,
    ImportRowError,
    Progress,
    RowCheck,
    register,
)
from placements.ksb import catalogue, engine, skills_england
from placements.models import (
    Delivery,
    Ksb,
    KsbStandardVersion,
    LinkStatus,
    ModuleKsb,
    OccupationalStandard,
    Programme,
    ProgrammeModule,
    User,
    utcnow,
)
from placements.reference import routes


def _parse_code(text: str) -> str:
    return catalogue.parse_code(text)


def _parse_kind(text: str) -> str:
    return catalogue.parse_kind(text).value


def _parse_reference(text: str) -> str:
    return catalogue.parse_reference(text)


def _parse_codes(text: str) -> list[str]:
    codes: list[str] = []
    for part in text.replace(",", ";").replace("|", ";").split(";"):
        if part.strip():
            code = catalogue.parse_code(part)
            if code not in codes:
                codes.append(code)
    return codes


_parse_codes.json_schema = {"type": "array", "items": {"type": "string"}}  # type: ignore[attr-defined]

KSB_COLUMNS: dict[str, ColumnSpec] = {
    "standard": ColumnSpec(required=True, parse=_parse_reference, max_length=10,
                           example="ST0116", help="The standard's reference"),
    "standard_title": ColumnSpec(max_length=200, default="", example="Software developer",
                                 help="Needed for a standard the service does not know yet"),
    "level": ColumnSpec(parse=parse_int(4, 5), example="4",
                        help="4 or 5; needed for a new standard"),
    "route": ColumnSpec(parse=parse_choice(routes()), default="", example="Digital",
                        help="Occupational route; needed for a new standard"),
    "code": ColumnSpec(required=True, parse=_parse_code, max_length=12, example="S1",
                       help="K1, S12, B3 ..."),
    "kind": ColumnSpec(required=True, parse=_parse_kind, example="skill",
                       help="knowledge, skill or behaviour"),
    "statement": ColumnSpec(required=True, max_length=catalogue.MAX_STATEMENT,
                            example="Create logical and maintainable code.",
                            help="The statement as the standard words it"),
    "version": ColumnSpec(max_length=20, default="", example="1.1",
                          help="The standard's version, as published"),
    "version_date": ColumnSpec(parse=parse_date, example="2024-07-03",
                               help="The date of that version (approved for delivery)"),
    "source": ColumnSpec(max_length=100, default="", example="",
                         help="Where the statements come from (blank: CSV import)"),
}

#: What a row says about its standard as a whole (the same on every row of a standard).
_STANDARD_FIELDS = ("standard_title", "level", "route", "version", "version_date")


def convert_json(upload: Any, max_bytes: int) -> Any:
    """A Skills England JSON upload as CSV text of the KSB columns (anything else as it is)."""
    if not isinstance(upload, bytes | str) or not skills_england.looks_like_json(upload):
        return upload
    size = len(upload.encode("utf-8") if isinstance(upload, str) else upload)
    if size > max_bytes:
        raise CSVError([RowError(0, "file", f"The file is larger than {max_bytes // 1000} kB; "
                                            "split it into smaller files")])
    try:
        rows = skills_england.rows_from_json(upload)
    except skills_england.NotAStandard as exc:
        raise CSVError([RowError(0, "file", str(exc))]) from None
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(KSB_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "source": "Skills England JSON"})
    return buf.getvalue()


def check_ksbs(officer: User, rows: Sequence[Row]) -> RowCheck:  # noqa: ARG001
    """Build the look-ups once; return the check of one statement row."""
    known = catalogue.standards_by_reference(r.get("standard") for r in rows
                                             if r.get("standard"))
    first: dict[str, Row] = {}
    codes: dict[tuple[str, str], int] = {}

    def check(row: Row):
        reference = row.get("standard")
        if not reference:
            return
        code, kind = row.get("code"), row.get("kind")
        if code:
            key = (reference, code)
            if key in codes:
                yield "code", f"{reference} {code} is also on row {codes[key]}"
            codes.setdefault(key, row.number)
            implied = catalogue.kind_of_code(code)
            if kind and implied is not None and implied.value != kind:
                yield "kind", f"{code} is a {implied.value} code, but its kind says {kind}"
        standard = known.get(reference)
        if standard is not None:
            if row.get("level") not in (None, "") and row.get("level") != standard.level:
                yield "level", f"{reference} is level {standard.level}"
            if row.get("route") and row.get("route") != standard.route:
                yield "route", f"{reference} is in the route {standard.route}"
        lead = first.setdefault(reference, row)
        if lead is not row:
            for name in _STANDARD_FIELDS:
                value = row.get(name)
                if value not in (None, "") and lead.get(name) not in (None, "") \
                        and value != lead.get(name):
                    yield name, (f"Differs from row {lead.number} for {reference}: every row "
                                 "of a standard gives the same")
        elif standard is None:
            for name, words in (("standard_title", "title"), ("level", "level"),
                                ("route", "route")):
                if row.get(name) in (None, ""):
                    yield name, (f"{reference} is not in the service yet: give its {words} "
                                 "(on its first row)")

    return check


def _standard_data(rows: Sequence[Row]) -> list[tuple[catalogue.StandardKsbs, str]]:
    grouped: dict[str, catalogue.StandardKsbs] = {}
    sources: dict[str, str] = {}
    for row in rows:
        reference = row["standard"]
        data = grouped.get(reference)
        if data is None:
            data = grouped[reference] = catalogue.StandardKsbs(reference=reference)
            sources[reference] = row.get("source") or "CSV import"
        data.title = data.title or row.get("standard_title") or ""
        data.level = data.level or row.get("level")
        data.route = data.route or row.get("route") or ""
        data.version = data.version or row.get("version") or ""
        data.version_date = data.version_date or row.get("version_date")
        data.statements.append((row["code"], catalogue.parse_kind(row["kind"]),
                                " ".join(row["statement"].split())))
    return [(grouped[r], sources[r]) for r in grouped]


def write_ksbs(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Upsert each standard's statements (all rows in the job's one transaction)."""
    outcome = ImportOutcome()
    done = 0
    for data, source in _standard_data(rows):
        loaded = catalogue.upsert_standard(officer, data, source=source)
        outcome.created += loaded.created
        outcome.updated += loaded.updated
        outcome.unchanged += loaded.unchanged
        done += len(data.statements)
        progress(done)
    return outcome


def _ksb_examples(officer: User) -> Mapping[str, str]:  # noqa: ARG001
    """The template's sample row: a statement the bundled data has, so it imports as is."""
    row = db.session.execute(
        sa.select(Ksb.code, Ksb.kind, Ksb.statement, Ksb.standard_id)
        .join(KsbStandardVersion, KsbStandardVersion.standard_id == Ksb.standard_id)
        .order_by(Ksb.standard_id, Ksb.position).limit(1)).first()
    if row is None:
        return {}
    standard = db.session.get(OccupationalStandard, row.standard_id)
    version = db.session.get(KsbStandardVersion, row.standard_id)
    if standard is None or version is None:
        return {}
    return {"standard": standard.reference, "standard_title": standard.title,
            "level": str(standard.level), "route": standard.route, "code": row.code,
            "kind": str(row.kind), "statement": row.statement, "version": version.version,
            "version_date": version.version_date.isoformat() if version.version_date else ""}


KSBS = register(ImportKind(
    name="ksbs", title="KSBs of a standard", columns=KSB_COLUMNS, check=check_ksbs,
    write=write_ksbs, order=60, convert=convert_json, examples=_ksb_examples,
    description="The knowledge, skills and behaviours of an occupational standard, to map "
                "programmes and placements to it: a file in these columns, or the standard's "
                "JSON as Skills England publishes it. Statements are matched on standard and "
                "code; a standard the service does not know yet is added (give its title, "
                "level and route). Every provider of the service shares them.",
    extra={"formats": "CSV, Excel or Skills England JSON file",
           "accept": ",.json,application/json"}))


# --- programme modules -------------------------------------------------------------------------

MODULE_COLUMNS: dict[str, ColumnSpec] = {
    "programme_code": ColumnSpec(required=True, max_length=40, example="HTQ-DIG-4",
                                 help="Your programme's course code"),
    "module_code": ColumnSpec(required=True, max_length=40, example="SWD401",
                              help="With the programme, the key for modules"),
    "title": ColumnSpec(required=True, max_length=200, example="Programming foundations"),
    "delivery": ColumnSpec(parse=parse_choice([d.value for d in Delivery]), default="module",
                           example="module",
                           help="module (taught), placement, live-brief or simulated"),
    "learning_outcomes": ColumnSpec(max_length=engine.MAX_TEXT_CHARS, default="",
                                    example="Write, test and debug programs in a "
                                            "high-level language.",
                                    help="Learning outcomes, or planned activities"),
    "ksbs": ColumnSpec(parse=_parse_codes, default=[], example="",
                       help="KSB codes the module covers, separated by ; (confirmed)"),
}


def _programmes(officer: User) -> dict[str, Programme]:
    return {p.code.strip().lower(): p for p in db.session.scalars(
        sa.select(Programme).where(Programme.provider_id == officer.provider_id)) if p.code}


def check_modules(officer: User, rows: Sequence[Row]) -> RowCheck:
    """Build the look-ups once; return the check of one module row."""
    programmes = _programmes(officer)
    codes_by_standard: dict[int, set[str]] = defaultdict(set)
    for standard_id, code in db.session.execute(sa.select(Ksb.standard_id, Ksb.code)):
        codes_by_standard[standard_id].add(code)
    seen: dict[tuple[int, str], int] = {}

    def check(row: Row):
        code = row.get("programme_code")
        programme = programmes.get(code.lower()) if code else None
        if code and programme is None:
            yield "programme_code", f"No programme with code {code} at your provider"
        if programme is None:
            return
        row.values["programme_id"] = programme.id
        module_code = row.get("module_code")
        if module_code:
            key = (programme.id, module_code.lower())
            if key in seen:
                yield "module_code", f"{code} {module_code} is also on row {seen[key]}"
            seen.setdefault(key, row.number)
        wanted = row.get("ksbs") or []
        if wanted:
            known = codes_by_standard.get(programme.standard_id, set())
            reference = programme.standard.reference
            if not known:
                yield "ksbs", f"No KSBs are loaded for {reference}: import them first"
            else:
                unknown = [c for c in wanted if c not in known]
                if unknown:
                    yield "ksbs", (f"{reference} has no KSB "
                                   f"{', '.join(unknown)}" if len(unknown) == 1 else
                                   f"{reference} has no KSBs {', '.join(unknown)}")

    return check


def write_modules(officer: User, rows: Sequence[Row], progress: Progress) -> ImportOutcome:
    """Upsert checked module rows and confirm the KSBs they name."""
    outcome = ImportOutcome()
    programme_ids = {row["programme_id"] for row in rows}
    existing = {(m.programme_id, m.code.lower()): m for m in db.session.scalars(
        sa.select(ProgrammeModule).where(ProgrammeModule.programme_id.in_(programme_ids)))}
    ksb_ids: dict[tuple[int, str], int] = {}
    programmes = {p.id: p for p in db.session.scalars(
        sa.select(Programme).where(Programme.id.in_(programme_ids)))}
    for ksb_id, standard_id, code in db.session.execute(
            sa.select(Ksb.id, Ksb.standard_id, Ksb.code).where(Ksb.standard_id.in_(
                {p.standard_id for p in programmes.values()}))):
        ksb_ids[(standard_id, code)] = ksb_id
    now = utcnow()
    for i, row in enumerate(rows, 1):
        programme = programmes[row["programme_id"]]
        key = (programme.id, row["module_code"].strip().lower())
        module = existing.get(key)
        wanted = {"title": " ".join(row["title"].split()),
                  "delivery": Delivery(row["delivery"]),
                  "outcomes": (row["learning_outcomes"] or "").strip()}
        created = module is None
        if module is None:
            module = ProgrammeModule(programme_id=programme.id,
                                     code=row["module_code"].strip(), **wanted)
            db.session.add(module)
            db.session.flush()
            existing[key] = module
            changed = True
        else:
            diff = [k for k, v in wanted.items() if getattr(module, k) != v]
            for k in diff:
                setattr(module, k, wanted[k])
            changed = bool(diff)
        links = {link.ksb_id: link for link in db.session.scalars(
            sa.select(ModuleKsb).where(ModuleKsb.module_id == module.id))}
        for code in row["ksbs"] or []:
            found = ksb_ids.get((programme.standard_id, code))
            if found is None:
                raise ImportRowError(RowError(row.number, "ksbs",
                                              f"{programme.standard.reference} has no KSB "
                                              f"{code}"))
            link = links.get(found)
            if link is None:
                db.session.add(ModuleKsb(module_id=module.id, ksb_id=found,
                                         status=LinkStatus.CONFIRMED, decided_by_id=officer.id,
                                         decided_at=now))
                changed = True
            elif link.status != LinkStatus.CONFIRMED:
                rules.MODULE_LINK.apply(link, "confirm", actor=officer, code=code,
                                        values={"decided_by_id": officer.id,
                                                "decided_at": now}, module_id=module.id)
                changed = True
        if created:
            outcome.created += 1
        elif changed:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if changed:
            audit.record(officer, "ksb.module_imported", module,
                         programme_id=programme.id, code=module.code)
        if i % 100 == 0:
            progress(i)
    db.session.flush()
    progress(len(rows))
    return outcome


def _module_examples(officer: User) -> Mapping[str, str]:
    programme = next(iter(_programmes(officer).values()), None)
    return {"programme_code": programme.code} if programme is not None else {}


MODULES = register(ImportKind(
    name="ksb-modules", title="Programme modules", columns=MODULE_COLUMNS,
    check=check_modules, write=write_modules, order=61, examples=_module_examples,
    description="Your programmes' modules with their learning outcomes, and their "
                "work-integrated learning (placement, live brief, simulated work) with the "
                "activities planned, for the KSB mapping. Rows are matched on programme and "
                "module code. KSB codes given are confirmed for the module; others you can "
                "map with suggestions on the module's page."))
