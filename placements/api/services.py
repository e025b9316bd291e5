"""What the API reads and writes, for the key's acting officer: lists (pages by cursor),
single objects and their JSON forms. Scoping is `placements.domain.access` (what an officer
sees on the web pages); writes go through the import pipeline's kinds. Flush, never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from placements.api import cursors
from placements.api.cursors import Cursor
from placements.api.problems import ApiProblem, FieldError, pointer
from placements.domain import access
from placements.domain import rounds as round_rules
from placements.domain.offers import closed_because
from placements.extensions import db
from placements.hours import calc
from placements.hours.services import schedules, terms_of, today_uk
from placements.imports import pipeline
from placements.models import (
    AllocationRound,
    AllocationRun,
    Employer,
    HoursKind,
    HoursLearnerTotal,
    Learner,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Programme,
    User,
    round_programmes,
    round_providers,
    utcnow,
)
from placements.rounds import reports
from placements.rounds import services as round_services
from placements.rounds.problem import parse_key

# --- JSON forms --------------------------------------------------------------------------------


def iso_time(value: datetime | None) -> str | None:
    """A UTC time as ISO 8601 ending in Z (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def programme_json(p: Programme) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "code": p.code, "level": p.level, "route": p.route,
            "standard": {"reference": p.standard.reference, "title": p.standard.title},
            "placement_mandated": p.placement_mandated,
            "required_placement_hours": p.required_placement_hours,
            "planned_total_hours": p.planned_total_hours,
            "work_integration_target_pct": p.work_integration_target_pct,
            "start_date": p.start_date.isoformat(), "end_date": p.end_date.isoformat()}


def learner_json(lrn: Learner) -> dict[str, Any]:
    return {"id": lrn.id, "student_ref": lrn.student_ref, "name": lrn.user.name,
            "email": lrn.user.email, "programme_id": lrn.programme_id,
            "programme_code": lrn.programme.code, "home_postcode": lrn.home_postcode,
            "max_travel_km": lrn.max_travel_km, "credentials": list(lrn.credentials or []),
            "in_work_employer": lrn.in_work_employer,
            "first_in_family_he": lrn.first_in_family_he, "age_band": lrn.age_band,
            "prior_qualification": lrn.prior_qualification,
            "disability_declared": lrn.disability_declared,
            "account_set_up": lrn.user.password_hash is not None,
            "created_at": iso_time(lrn.created_at), "updated_at": iso_time(lrn.updated_at)}


def placement_json(p: Placement, student_ref: str, employer_id: int) -> dict[str, Any]:
    return {"id": p.id, "round_id": p.round_id, "learner_id": p.learner_id,
            "student_ref": student_ref, "offer_id": p.offer_id, "employer_id": employer_id,
            "status": p.status.value,
            "pending_change": p.pending_change.value if p.pending_change else None,
            "pending_offer_id": p.pending_offer_id, "rank": p.rank,
            "distance_km": round(p.distance_m / 1000, 1) if p.distance_m is not None else None,
            "source": p.source, "employer_response": p.employer_response.value,
            "published_at": iso_time(p.published_at), "responded_at": iso_time(p.responded_at),
            "created_at": iso_time(p.created_at), "updated_at": iso_time(p.updated_at)}


def run_json(run: AllocationRun) -> dict[str, Any]:
    return {"id": run.id, "round_id": run.round_id, "kind": run.kind.value,
            "status": run.status.value, "created_at": iso_time(run.created_at),
            "started_at": iso_time(run.started_at), "finished_at": iso_time(run.finished_at),
            "error": run.error,
            "summary": dict((run.result or {}).get("summary", {})) if run.result else None}


def employer_json(e: Employer) -> dict[str, Any]:
    return {"id": e.id, "name": e.name, "sector": e.sector, "region": e.region,
            "approved": e.approved,
            "sites": [{"id": s.id, "name": s.name, "postcode": s.postcode} for s in e.sites]}


def offer_json(o: PlacementOffer) -> dict[str, Any]:
    reason = closed_because(o, today=today_uk())
    return {"id": o.id, "employer_id": o.employer_id, "site_id": o.site_id, "title": o.title,
            "sector": o.sector, "capacity": o.capacity, "start_date": o.start_date.isoformat(),
            "end_date": o.end_date.isoformat(), "hours_per_week": o.hours_per_week,
            "requirements": list(o.requirements or []), "work_mode": o.work_mode,
            "status": o.status.value, "open_to_choices": reason is None,
            "closed_because": reason, "standards": sorted(s.reference for s in o.standards),
            "created_at": iso_time(o.created_at), "updated_at": iso_time(o.updated_at)}


def _hours(qh: int) -> float:
    return qh / calc.QH


def hours_json(learner_id: int, student_ref: str, programme: Programme,
               totals: HoursLearnerTotal | None,
               schedule: Sequence[calc.Scheduled] = ()) -> dict[str, Any]:
    """A learner's hours from their running totals, assessed by the 80/20 rule (with the
    placements they attend: `placements.hours.services.schedules`)."""
    def column(kind: HoursKind, pending: bool) -> int:
        name = kind.value.replace("-", "_") + ("_pending_qh" if pending else "_qh")
        return int(getattr(totals, name) or 0) if totals is not None else 0

    verified = {k: column(k, False) for k in HoursKind}
    pending = {k: column(k, True) for k in HoursKind}
    wi = sum(v for k, v in verified.items() if k.work_integrated)
    logged = calc.Logged(classroom=verified[HoursKind.CLASSROOM], work_integrated=wi,
                         placement=verified[HoursKind.PLACEMENT])
    assessment = calc.assess(logged, terms_of(programme), today_uk(), schedule)
    return {"learner_id": learner_id, "student_ref": student_ref,
            "programme_id": programme.id,
            "verified": {k.value: _hours(v) for k, v in verified.items()},
            "pending": {k.value: _hours(v) for k, v in pending.items()},
            "work_integrated_share": assessment.share,
            "status": assessment.status.value,
            "target_pct": programme.work_integration_target_pct,
            "required_placement_hours": programme.required_placement_hours}


# --- pages -------------------------------------------------------------------------------------


@dataclass
class Page:
    """One page of a list, as the API answers it."""

    data: list[dict[str, Any]]
    has_more: bool
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"data": self.data, "has_more": self.has_more, "next_cursor": self.next_cursor}


@dataclass(frozen=True)
class Listing:
    """How a list is asked for: its resource and filters (they bind its cursors)."""

    officer: User
    resource: str
    filters: dict[str, Any]
    cursor: str | None
    limit: int | None

    @property
    def digest(self) -> str:
        return cursors.scope_digest(self.officer.provider_id or 0, self.resource,
                                    self.filters)


def _limit(asked: int | None) -> int:
    from flask import current_app

    return asked or int(current_app.config["API_PAGE_SIZE"])


def page_by_id(listing: Listing, stmt: sa.Select, id_col: Any,
               render: Callable[[Sequence[Any]], list[dict[str, Any]]]) -> Page:
    """A page of a list in id order."""
    after = cursors.decode(listing.cursor, listing.digest) if listing.cursor else None
    if after is not None:
        stmt = stmt.where(id_col > after.id)
    limit = _limit(listing.limit)
    rows = list(db.session.execute(stmt.order_by(id_col).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursors.encode(Cursor(id=rows[-1][0].id if hasattr(rows[-1][0], "id")
                                        else rows[-1][0]), listing.digest) \
        if more and rows else None
    return Page(render(rows), more, next_cursor)


def page_by_change(listing: Listing, stmt: sa.Select, updated_col: Any, id_col: Any,
                   since: datetime | None,
                   render: Callable[[Sequence[Any]], list[dict[str, Any]]],
                   key: Callable[[Any], tuple[datetime, int]]) -> Page:
    """A page of a change feed, in (updated_at, id) order (see `placements.api.cursors`)."""
    cur = cursors.decode(listing.cursor, listing.digest) if listing.cursor else None
    started = (cur.started if cur is not None and cur.started is not None else utcnow())
    if cur is not None and cur.updated_at is not None:
        stmt = stmt.where(sa.or_(updated_col > cur.updated_at,
                                 sa.and_(updated_col == cur.updated_at, id_col > cur.id)))
    elif since is not None:
        stmt = stmt.where(updated_col >= since)
    limit = _limit(listing.limit)
    rows = list(db.session.execute(stmt.order_by(updated_col, id_col).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        at, last_id = key(rows[-1])
        position: Cursor | None = Cursor(id=last_id, updated_at=at)
    elif cur is not None:
        position = cur
    else:
        position = Cursor(id=0, updated_at=since) if since is not None else None
    if more:
        assert position is not None
        nxt = Cursor(id=position.id, updated_at=position.updated_at, started=started)
    else:
        nxt = cursors.resume_point(position, started)
    return Page(render(rows), more, cursors.encode(nxt, listing.digest))


def not_found(what: str) -> ApiProblem:
    return ApiProblem("not-found", f"There is no {what} with that id that your provider can "
                      "see")


# --- programmes --------------------------------------------------------------------------------

def _programmes(officer: User) -> sa.Select:
    return sa.select(Programme).where(access.officer_programmes_sql(officer)).options(
        selectinload(Programme.standard))


def list_programmes(listing: Listing) -> Page:
    return page_by_id(listing, _programmes(listing.officer), Programme.id,
                      lambda rows: [programme_json(r[0]) for r in rows])


def get_programme(officer: User, programme_id: int) -> Programme:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not access.officer_sees_programme(officer, programme):
        raise not_found("programme")
    return programme


# --- learners ----------------------------------------------------------------------------------

def _learners(officer: User) -> sa.Select:
    return sa.select(Learner).where(access.officer_learners_sql(officer)).options(
        selectinload(Learner.user), selectinload(Learner.programme))


def list_learners(listing: Listing, programme_id: int | None,
                  since: datetime | None) -> Page:
    stmt = _learners(listing.officer)
    if programme_id is not None:
        get_programme(listing.officer, programme_id)
        stmt = stmt.where(Learner.programme_id == programme_id)
    return page_by_change(listing, stmt, Learner.updated_at, Learner.id, since,
                          lambda rows: [learner_json(r[0]) for r in rows],
                          lambda r: (r[0].updated_at, r[0].id))


def get_learner(officer: User, learner_id: int) -> Learner:
    learner = db.session.get(Learner, learner_id)
    if learner is None or not access.officer_sees_learner(officer, learner):
        raise not_found("learner")
    return learner


def row_problems(errors: Sequence[Any], field: str) -> list[FieldError]:
    """The pipeline's row errors as JSON Pointers into the body (`/learners/3/email`)."""
    out = []
    for e in errors:
        parts: list[str | int] = [field, e.row]
        if e.field:
            parts.append(e.field)
        out.append(FieldError(pointer(*parts), e.message))
    return sorted(set(out), key=lambda f: (_index(f.pointer), f.pointer))


def _index(ptr: str) -> int:
    parts = ptr.split("/")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1


def bulk_write(officer: User, kind: pipeline.ImportKind, records: Any, field: str
               ) -> tuple[pipeline.ImportOutcome, list[Any]]:
    """Check every record like a file's rows, then write them all (or raise a 422 problem
    listing every problem, having written nothing)."""
    from flask import current_app

    if not isinstance(records, list) or not records:
        raise ApiProblem("validation", f"Send {field} as a list of one or more records",
                         [FieldError(pointer(field), "Give a list of records")])
    most = int(current_app.config["API_MAX_ROWS"])
    if len(records) > most:
        raise ApiProblem("validation", f"Send at most {most} records at once",
                         [FieldError(pointer(field), f"At most {most} records")])
    rows = pipeline.read_records(kind, records)
    errors = pipeline.validate(kind, officer, rows)
    if errors:
        raise ApiProblem("validation", f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
                         f" in the {field}: nothing has been written",
                         row_problems(errors, field))
    try:
        outcome = kind.write(officer, rows, lambda _done: None)
    except pipeline.ImportRowError as exc:
        raise ApiProblem("validation", "A record was refused while writing: nothing has "
                         "been written", row_problems([exc.error], field)) from exc
    return outcome, rows


def upsert_learners(officer: User, records: Any) -> dict[str, Any]:
    """Add or update learners by student number (the learners import), all or none."""
    from placements.officers.imports import LEARNERS

    outcome, rows = bulk_write(officer, LEARNERS, records, "learners")
    refs = [r["student_ref"] for r in rows]
    wanted = sorted({ref.lower() for ref in refs})
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), 900):
        ids.update((ref.lower(), lid) for ref, lid in db.session.execute(
            sa.select(Learner.student_ref, Learner.id).where(
                Learner.provider_id == officer.provider_id,
                sa.func.lower(Learner.student_ref).in_(wanted[start:start + 900]))))
    return {**outcome.as_dict(),
            "learners": [{"student_ref": ref, "id": ids[ref.lower()]} for ref in refs]}


# --- rounds and runs ---------------------------------------------------------------------------

def _rounds(officer: User) -> sa.Select:
    return sa.select(AllocationRound).where(access.officer_rounds_sql(officer))


def round_json(r: AllocationRound) -> dict[str, Any]:
    counts = reports.allocation_counts(r)
    now = utcnow()
    phase = round_rules.phase(
        r.status, r.preference_deadline, now,
        allocated=round_services.latest_run(r, succeeded=True) is not None,
        changes_waiting=round_services.pending_changes(r) > 0, repair_due=r.needs_repair)
    provider_ids = sorted(db.session.scalars(sa.select(round_providers.c.provider_id).where(
        round_providers.c.round_id == r.id)))
    programme_ids = sorted(db.session.scalars(sa.select(round_programmes.c.programme_id)
                                              .where(round_programmes.c.round_id == r.id)))
    return {"id": r.id, "name": r.name, "status": r.status.value, "phase": phase.value,
            "owner_provider_id": r.provider_id, "provider_ids": provider_ids,
            "programme_ids": programme_ids,
            "preference_deadline": iso_time(r.preference_deadline),
            "max_preferences": r.max_preferences, "publications": r.publications,
            "placements": {s.value: counts.get(s.value, 0) for s in PlacementStatus},
            "created_at": iso_time(r.created_at), "archived_at": iso_time(r.archived_at)}


def list_rounds(listing: Listing) -> Page:
    return page_by_id(listing, _rounds(listing.officer), AllocationRound.id,
                      lambda rows: [round_json(r[0]) for r in rows])


def get_round(officer: User, round_id: int) -> AllocationRound:
    round_ = db.session.get(AllocationRound, round_id)
    if round_ is None or not access.officer_sees_round(officer, round_):
        raise not_found("round")
    return round_


def list_runs(listing: Listing, round_: AllocationRound) -> Page:
    stmt = sa.select(AllocationRun).where(AllocationRun.round_id == round_.id)
    return page_by_id(listing, stmt, AllocationRun.id,
                      lambda rows: [run_json(r[0]) for r in rows])


def get_run(officer: User, run_id: int) -> AllocationRun:
    run = db.session.get(AllocationRun, run_id)
    if run is None or not access.officer_sees_round(officer, run.round):
        raise not_found("run")
    return run


def run_result(run: AllocationRun) -> dict[str, Any]:
    """A run with the reasons each unplaced learner was not placed."""
    unplaced = (run.result or {}).get("unplaced", [])
    ids = [parse_key(u["learner"]) for u in unplaced]
    refs: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        refs.update((lid, ref) for lid, ref in db.session.execute(
            sa.select(Learner.id, Learner.student_ref).where(
                Learner.id.in_(ids[start:start + 900]))))
    out = []
    for u, lid in zip(unplaced, ids, strict=True):
        code = u.get("reason", "")
        out.append({"learner_id": lid, "student_ref": refs.get(lid, ""),
                    "mandated": bool(u.get("mandated")),
                    "reason_code": code if code in reports.UNPLACED_REASONS else "other",
                    "reason": reports.UNPLACED_REASONS.get(code, code),
                    "detail": u.get("detail", "")})
    return {"run": run_json(run), "unplaced": out}


# --- placements --------------------------------------------------------------------------------

#: Placements the change feed carries: once published (proposals change with every run until
#: then, and a run may drop them; read them from a round's placements).
FEED_STATUSES = [s.value for s in PlacementStatus if s is not PlacementStatus.PROPOSED]


def _placements(officer: User) -> sa.Select:
    return (sa.select(Placement, Learner.student_ref, PlacementOffer.employer_id)
            .join(Learner, Learner.id == Placement.learner_id)
            .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
            .where(Placement.round_id.in_(sa.select(AllocationRound.id).where(
                access.officer_rounds_sql(officer)))))


def _render_placements(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [placement_json(p, ref, employer_id) for p, ref, employer_id in rows]


def placement_feed(listing: Listing, round_id: int | None, since: datetime | None) -> Page:
    stmt = _placements(listing.officer).where(Placement.status.in_(FEED_STATUSES))
    if round_id is not None:
        get_round(listing.officer, round_id)
        stmt = stmt.where(Placement.round_id == round_id)
    return page_by_change(listing, stmt, Placement.updated_at, Placement.id, since,
                          _render_placements, lambda r: (r[0].updated_at, r[0].id))


def round_placements(listing: Listing, round_: AllocationRound) -> Page:
    stmt = _placements(listing.officer).where(Placement.round_id == round_.id)
    return page_by_id(listing, stmt, Placement.id, _render_placements)


def get_placement(officer: User, placement_id: int) -> dict[str, Any]:
    row = db.session.execute(_placements(officer).where(Placement.id == placement_id)).first()
    if row is None:
        raise not_found("placement")
    return _render_placements([row])[0]


# --- hours -------------------------------------------------------------------------------------

def programme_hours(listing: Listing, programme: Programme) -> Page:
    stmt = (sa.select(Learner.id, Learner.student_ref, HoursLearnerTotal)
            .outerjoin(HoursLearnerTotal, HoursLearnerTotal.learner_id == Learner.id)
            .where(Learner.programme_id == programme.id,
                   access.officer_learners_sql(listing.officer)))
    def render(rows: Sequence[Any]) -> list[dict[str, Any]]:
        plans = schedules([lid for lid, _, _ in rows])
        return [hours_json(lid, ref, programme, totals, plans.get(lid, ()))
                for lid, ref, totals in rows]

    return page_by_id(listing, stmt, Learner.id, render)


def learner_hours(learner: Learner) -> dict[str, Any]:
    totals = db.session.get(HoursLearnerTotal, learner.id)
    return hours_json(learner.id, learner.student_ref, learner.programme, totals,
                      schedules([learner.id]).get(learner.id, ()))


def write_hours(officer: User, kind_name: str, records: Any, field: str) -> dict[str, Any]:
    """Record hours per learner or per programme timetable (the hours imports), all or none."""
    outcome, _rows = bulk_write(officer, pipeline.KINDS[kind_name], records, field)
    return outcome.as_dict()


# --- employers and offers ----------------------------------------------------------------------

def list_employers(listing: Listing) -> Page:
    stmt = sa.select(Employer).options(selectinload(Employer.sites))
    return page_by_id(listing, stmt, Employer.id,
                      lambda rows: [employer_json(r[0]) for r in rows])


def get_employer(employer_id: int) -> Employer:
    employer = db.session.get(Employer, employer_id)
    if employer is None:
        raise not_found("employer")
    return employer


def list_offers(listing: Listing, employer_id: int | None, since: datetime | None) -> Page:
    stmt = sa.select(PlacementOffer).options(selectinload(PlacementOffer.standards),
                                             selectinload(PlacementOffer.employer))
    if employer_id is not None:
        get_employer(employer_id)
        stmt = stmt.where(PlacementOffer.employer_id == employer_id)
    return page_by_change(listing, stmt, PlacementOffer.updated_at, PlacementOffer.id, since,
                          lambda rows: [offer_json(r[0]) for r in rows],
                          lambda r: (r[0].updated_at, r[0].id))


def get_offer(offer_id: int) -> PlacementOffer:
    offer = db.session.get(PlacementOffer, offer_id)
    if offer is None:
        raise not_found("offer")
    return offer
