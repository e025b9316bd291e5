"""Allocation round services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from placements import audit
from placements.domain import DomainError, NotAllowed
from placements.extensions import db
from placements.geo import haversine_km
from placements.mail import send_mail
from placements.models import (
    ACTIVE_RUN_STATUSES,
    REQUIREMENTS,
    AllocationRound,
    AllocationRun,
    Employer,
    Learner,
    Placement,
    PlacementLock,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Programme,
    Provider,
    RankCost,
    Role,
    RoundStatus,
    RunKind,
    RunStatus,
    User,
    round_programmes,
    round_providers,
    utcnow,
)
from placements.rounds.problem import build_problem, dropped_locks, parse_key


def create_round(officer: User, *, name: str, programmes: Sequence[Programme],
                 preference_deadline: datetime, max_preferences: int = 10,
                 rank_cost: RankCost = RankCost.SQUARED, fallback: bool = True,
                 time_limit_s: int = 60,
                 providers: Sequence[Provider] = ()) -> AllocationRound:
    """Create an allocation round over programmes of the officer's provider or partners."""
    if not programmes:
        raise DomainError("Choose at least one programme", field="programmes")
    if not 1 <= max_preferences <= 50:
        raise DomainError("Maximum choices must be between 1 and 50", field="max_preferences")
    if not 1 <= time_limit_s <= 3600:
        raise DomainError("Time limit must be between 1 and 3600 seconds", field="time_limit_s")
    own = db.session.get(Provider, officer.provider_id)
    allowed = own.partner_ids()
    scope = {p.id for p in providers} | {own.id}
    if not scope <= allowed:
        raise NotAllowed("A round can only include providers of your partnership",
                         field="providers")
    if any(p.provider_id not in scope for p in programmes):
        raise NotAllowed("Choose programmes of the providers in the round", field="programmes")
    round_ = AllocationRound(
        name=name.strip(), provider_id=own.id, preference_deadline=preference_deadline,
        max_preferences=max_preferences, rank_cost=rank_cost, fallback=fallback,
        time_limit_s=time_limit_s, created_by_id=officer.id,
        providers=[db.session.get(Provider, pid) for pid in sorted(scope)],
        programmes=list(programmes))
    db.session.add(round_)
    db.session.flush()
    audit.record(officer, "round.created", round_, round_id=round_.id, name=round_.name)
    return round_


# --- Who may see and change a round -------------------------------------------------------
#
# A pooled round lists several providers of one partnership. Officers of any provider in the
# round may view it (its runs, results and audit trail); only officers of the owning provider
# (round.provider_id, whoever created it) run allocations, lock, override and publish.


def visible_rounds_stmt(officer: User) -> sa.Select:
    """Select the rounds the officer's provider takes part in, newest first."""
    return (sa.select(AllocationRound)
            .join(round_providers, round_providers.c.round_id == AllocationRound.id)
            .where(round_providers.c.provider_id == officer.provider_id)
            .order_by(AllocationRound.created_at.desc(), AllocationRound.id.desc()))


def can_view(officer: User, round_: AllocationRound) -> bool:
    """Say whether the officer's provider takes part in the round."""
    return officer.provider_id is not None and officer.provider_id in {
        p.id for p in round_.providers}


def can_manage(officer: User, round_: AllocationRound) -> bool:
    """Say whether the officer may run, change and publish the round's allocation."""
    return officer.provider_id == round_.provider_id


def _require_manage(officer: User, round_: AllocationRound) -> None:
    if not can_manage(officer, round_):
        raise NotAllowed("Only officers of the provider that owns this round can do that")


# --- Runs ---------------------------------------------------------------------------------


def active_run(round_: AllocationRound) -> AllocationRun | None:
    """Return the round's queued or running run, if any."""
    return db.session.scalar(sa.select(AllocationRun).where(
        AllocationRun.round_id == round_.id,
        AllocationRun.status.in_(ACTIVE_RUN_STATUSES)))


def latest_run(round_: AllocationRound, *, succeeded: bool = False) -> AllocationRun | None:
    """Return the round's newest run (or newest succeeded run)."""
    stmt = sa.select(AllocationRun).where(AllocationRun.round_id == round_.id)
    if succeeded:
        stmt = stmt.where(AllocationRun.status == RunStatus.SUCCEEDED)
    return db.session.scalar(stmt.order_by(AllocationRun.id.desc()).limit(1))


def previous_run(run: AllocationRun) -> AllocationRun | None:
    """Return the succeeded run of the same round before this one."""
    return db.session.scalar(sa.select(AllocationRun).where(
        AllocationRun.round_id == run.round_id, AllocationRun.id < run.id,
        AllocationRun.status == RunStatus.SUCCEEDED).order_by(AllocationRun.id.desc()).limit(1))


def start_run(officer: User, round_: AllocationRound, *,
              kind: RunKind = RunKind.FULL) -> AllocationRun:
    """Queue a solver run of the round's problem built now from the database.

    At most one run per round is queued or running: the partial unique index
    `uq_allocation_run_active_round` refuses a second one, even from a concurrent request.
    """
    _require_manage(officer, round_)
    from placements.jobs import reap_stale_runs

    reap_stale_runs(round_.id)
    if kind == RunKind.REPAIR and not has_published(round_):
        raise DomainError("Nothing has been published yet: run a full allocation instead")
    problem = build_problem(round_, previous=kind == RunKind.REPAIR)
    if not problem["learners"]:
        raise DomainError("No learners are in this round's programmes yet")
    run = AllocationRun(round_id=round_.id, kind=kind, status=RunStatus.QUEUED,
                        started_by_id=officer.id, problem=problem,
                        progress={"level": "queued"})
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:
        raise DomainError("A run is already in progress for this round: wait for it to "
                          "finish") from None
    dropped = dropped_locks(round_, problem)
    audit.record(officer, "run.started", run, round_id=round_.id, kind=kind,
                 learners=len(problem["learners"]), offers=len(problem["offers"]),
                 locked=len(problem["locked"]), locks_left_out=len(dropped))
    run.dropped_locks = dropped  # type: ignore[attr-defined]  # for the view's message
    return run


def has_published(round_: AllocationRound) -> bool:
    """Say whether any placement of the round has been published."""
    return db.session.scalar(sa.select(Placement.id).where(
        Placement.round_id == round_.id, Placement.published_at.is_not(None)).limit(1)
    ) is not None


def apply_result(run: AllocationRun, result: dict[str, Any]) -> dict[str, int]:
    """Write a run's result as the round's proposed allocation, in bulk.

    Learners without a visible placement get PROPOSED placements (replacing earlier
    proposals). A published or accepted placement is never changed here: if the result
    differs, the change waits on the placement (`proposed_change` "move"/"remove") until
    the round is published again. Declined placements are left alone.
    """
    round_id = run.round_id
    learner_ids = {parse_key(lrn["id"]) for lrn in (run.problem or {}).get("learners", [])}
    chosen: dict[int, dict[str, Any]] = {
        parse_key(a["learner"]): a for a in result.get("assignments", [])}
    rows = db.session.execute(sa.select(
        Placement.id, Placement.learner_id, Placement.offer_id, Placement.status,
        Placement.proposed_change, Placement.proposed_offer_id).where(
        Placement.round_id == round_id)).all()
    existing = {row.learner_id: row for row in rows}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[int] = []
    no_change = {"proposed_change": None, "proposed_offer_id": None, "proposed_rank": None,
                 "proposed_distance_m": None}
    for row in rows:
        if row.status == PlacementStatus.PROPOSED and row.learner_id not in learner_ids:
            deletes.append(row.id)
    for lid in learner_ids:
        a = chosen.get(lid)
        row = existing.get(lid)
        offer_id = parse_key(a["offer"]) if a else None
        rank = a.get("rank") if a else None
        distance_m = round(a["km"] * 1000) if a and a.get("km") is not None else None
        if row is None:
            if a:
                inserts.append({
                    "round_id": round_id, "learner_id": lid, "offer_id": offer_id,
                    "run_id": run.id, "rank": rank, "distance_m": distance_m,
                    "source": "lock" if a.get("locked") else "solver",
                    "status": PlacementStatus.PROPOSED})
        elif row.status in (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED):
            if offer_id == row.offer_id:
                if row.proposed_change is not None:
                    updates.append({"id": row.id, **no_change})
            elif offer_id is None:
                updates.append({"id": row.id, **no_change, "proposed_change": "remove"})
            else:
                updates.append({"id": row.id, "proposed_change": "move",
                                "proposed_offer_id": offer_id, "proposed_rank": rank,
                                "proposed_distance_m": distance_m})
        elif row.status in (PlacementStatus.PROPOSED, PlacementStatus.WITHDRAWN):
            if a:
                updates.append({
                    "id": row.id, **no_change, "offer_id": offer_id, "run_id": run.id,
                    "rank": rank, "distance_m": distance_m,
                    "source": "lock" if a.get("locked") else "solver",
                    "status": PlacementStatus.PROPOSED, "published_at": None,
                    "responded_at": None, "decline_reason": None,
                    "employer_response": "pending", "employer_note": None})
            elif row.status == PlacementStatus.PROPOSED:
                deletes.append(row.id)
    if deletes:
        db.session.execute(sa.delete(Placement).where(Placement.id.in_(deletes)))
    if updates:
        db.session.execute(sa.update(Placement), updates)
    if inserts:
        db.session.execute(sa.insert(Placement), inserts)
    db.session.flush()
    return {"inserted": len(inserts), "updated": len(updates), "deleted": len(deletes)}


# --- Publication ---------------------------------------------------------------------------


def pending_changes(round_: AllocationRound) -> int:
    """Count placements that publishing would change (new proposals and pending moves)."""
    return db.session.scalar(sa.select(sa.func.count(Placement.id)).where(
        Placement.round_id == round_.id,
        sa.or_(Placement.status == PlacementStatus.PROPOSED,
               Placement.proposed_change.is_not(None)))) or 0


def _base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def publish_round(officer: User, round_: AllocationRound) -> dict[str, int]:
    """Publish the proposed allocation and e-mail only the learners and employers affected."""
    _require_manage(officer, round_)
    if active_run(round_) is not None:
        raise DomainError("Wait for the run in progress to finish before publishing")
    rows = db.session.scalars(
        sa.select(Placement).where(
            Placement.round_id == round_.id,
            sa.or_(Placement.status == PlacementStatus.PROPOSED,
                   Placement.proposed_change.is_not(None)))
        .options(selectinload(Placement.learner).selectinload(Learner.user),
                 selectinload(Placement.offer).selectinload(PlacementOffer.employer),
                 selectinload(Placement.proposed_offer).selectinload(PlacementOffer.employer))
        .order_by(Placement.id)).all()
    first = round_.status != RoundStatus.PUBLISHED and not has_published(round_)
    if not rows and not (first and latest_run(round_, succeeded=True) is not None):
        raise DomainError("There is nothing new to publish: run an allocation first"
                          if first else "There is nothing new to publish")
    now = utcnow()
    employer_news: dict[int, list[str]] = defaultdict(list)
    employers: dict[int, Employer] = {}
    counts = {"published": 0, "moved": 0, "removed": 0, "learners_told": 0,
              "employers_told": 0}
    base = _base_url()
    for p in rows:
        learner, user = p.learner, p.learner.user
        if p.status == PlacementStatus.PROPOSED:
            p.status = PlacementStatus.PUBLISHED
            p.published_at = now
            counts["published"] += 1
            employers[p.offer.employer_id] = p.offer.employer
            employer_news[p.offer.employer_id].append(
                f"- {user.name} will join you for \"{p.offer.title}\"")
            send_mail(user.email, f"Your work placement: {p.offer.employer.name}",
                      f"Hello {user.name},\n\nYou have a work placement in {round_.name}: "
                      f"{p.offer.title} with {p.offer.employer.name}.\n\nSign in to accept "
                      f"or decline it: {base}/\n", provider_id=learner.provider_id,
                      round_id=round_.id)
        elif p.proposed_change == "move" and p.proposed_offer is not None:
            old = p.offer
            new = p.proposed_offer
            employers[old.employer_id] = old.employer
            employers[new.employer_id] = new.employer
            employer_news[old.employer_id].append(
                f"- {user.name} will no longer join you for \"{old.title}\"")
            employer_news[new.employer_id].append(
                f"- {user.name} will join you for \"{new.title}\"")
            p.offer_id, p.rank, p.distance_m = new.id, p.proposed_rank, p.proposed_distance_m
            p.offer = new
            p.status = PlacementStatus.PUBLISHED
            p.published_at = now
            p.responded_at = None
            p.employer_response = "pending"
            p.employer_note = None
            counts["moved"] += 1
            send_mail(user.email, f"Your work placement has changed: {new.employer.name}",
                      f"Hello {user.name},\n\nYour placement in {round_.name} has changed. "
                      f"It is now {new.title} with {new.employer.name} (it was {old.title} "
                      f"with {old.employer.name}).\n\nSign in to accept or decline it: "
                      f"{base}/\n", provider_id=learner.provider_id, round_id=round_.id)
        elif p.proposed_change == "remove":
            employers[p.offer.employer_id] = p.offer.employer
            employer_news[p.offer.employer_id].append(
                f"- {user.name} will no longer join you for \"{p.offer.title}\"")
            p.status = PlacementStatus.WITHDRAWN
            counts["removed"] += 1
            send_mail(user.email, "Your work placement has been withdrawn",
                      f"Hello {user.name},\n\nYour placement {p.offer.title} with "
                      f"{p.offer.employer.name} in {round_.name} is no longer available and "
                      "no other placement could be found for now. Your placement officer "
                      "will contact you.\n", provider_id=learner.provider_id,
                      round_id=round_.id)
        p.proposed_change = p.proposed_offer_id = None
        p.proposed_rank = p.proposed_distance_m = None
        counts["learners_told"] += 1
    if first:
        counts["learners_told"] += _tell_unplaced(round_, base)
    for employer_id, lines in sorted(employer_news.items()):
        employer = employers[employer_id]
        for address in _employer_addresses(employer):
            send_mail(address, f"Placements in {round_.name}",
                      f"Hello,\n\nThe placement allocation {round_.name} has been published. "
                      "For your organisation:\n\n" + "\n".join(lines)
                      + f"\n\nSign in to see the learners and respond: {base}/\n",
                      provider_id=round_.provider_id, round_id=round_.id)
        counts["employers_told"] += 1
    round_.status = RoundStatus.PUBLISHED
    round_.needs_repair = False
    db.session.flush()
    audit.record(officer, "round.published", round_, round_id=round_.id, **counts)
    return counts


def _employer_addresses(employer: Employer) -> list[str]:
    if employer.contact_email:
        return [employer.contact_email]
    return sorted(db.session.scalars(sa.select(User.email).where(
        User.employer_id == employer.id, User.role == Role.EMPLOYER,
        User.active.is_(True))))


def _tell_unplaced(round_: AllocationRound, base: str) -> int:
    run = latest_run(round_, succeeded=True)
    if run is None or not run.result:
        return 0
    ids = [parse_key(u["learner"]) for u in run.result.get("unplaced", [])]
    told = 0
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for learner in db.session.scalars(sa.select(Learner).where(Learner.id.in_(chunk))
                                          .options(selectinload(Learner.user))):
            send_mail(learner.user.email, f"Work placements: {round_.name}",
                      f"Hello {learner.user.name},\n\nThe placements for {round_.name} have "
                      "been published. We could not place you this time; your placement "
                      f"officer will contact you about what happens next.\n\n{base}/\n",
                      provider_id=learner.provider_id, round_id=round_.id)
            told += 1
    return told


# --- Locks and overrides -------------------------------------------------------------------


def current_offer_id(placement: Placement) -> int:
    """Return the offer a placement is at, counting a pending move."""
    if placement.proposed_change == "move" and placement.proposed_offer_id:
        return placement.proposed_offer_id
    return placement.offer_id


def lock_placement(officer: User, round_: AllocationRound, placement: Placement,
                   reason: str = "") -> PlacementLock:
    """Keep a learner at their current offer in the next run."""
    _require_manage(officer, round_)
    if placement.round_id != round_.id:
        raise NotAllowed("That placement is not in this round")
    if placement.status in (PlacementStatus.DECLINED, PlacementStatus.WITHDRAWN) or \
            placement.proposed_change == "remove":
        raise DomainError("Only a current placement can be locked")
    offer_id = current_offer_id(placement)
    lock = db.session.scalar(sa.select(PlacementLock).where(
        PlacementLock.round_id == round_.id, PlacementLock.learner_id == placement.learner_id))
    if lock is None:
        lock = PlacementLock(round_id=round_.id, learner_id=placement.learner_id)
        db.session.add(lock)
    lock.offer_id = offer_id
    lock.reason = reason.strip()
    lock.created_by_id = officer.id
    db.session.flush()
    audit.record(officer, "placement.locked", lock, round_id=round_.id,
                 learner_id=placement.learner_id, offer_id=offer_id, reason=lock.reason)
    return lock


def unlock(officer: User, round_: AllocationRound, lock: PlacementLock) -> None:
    """Let the next run move the learner again."""
    _require_manage(officer, round_)
    if lock.round_id != round_.id:
        raise NotAllowed("That lock is not in this round")
    audit.record(officer, "placement.unlocked", lock, round_id=round_.id,
                 learner_id=lock.learner_id, offer_id=lock.offer_id)
    db.session.delete(lock)
    db.session.flush()


def learners_in_round_stmt(round_: AllocationRound) -> sa.Select:
    """Select the learners whose programme is in the round."""
    return sa.select(Learner).where(Learner.programme_id.in_(
        sa.select(round_programmes.c.programme_id).where(
            round_programmes.c.round_id == round_.id)))


def find_learner(round_: AllocationRound, student_ref: str) -> Learner | None:
    """Find a learner of the round by student number."""
    return db.session.scalars(learners_in_round_stmt(round_).where(
        sa.func.lower(Learner.student_ref) == student_ref.strip().lower())).first()


def held_places(offer: PlacementOffer, *, exclude_learner: int | None = None) -> int:
    """Count places taken at an offer in every round (proposals and pending moves too)."""
    holding = (PlacementStatus.PROPOSED, PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED)
    stmt = sa.select(sa.func.count(Placement.id)).where(
        sa.or_(sa.and_(Placement.offer_id == offer.id, Placement.status.in_(holding),
                       sa.or_(Placement.proposed_change.is_(None),
                              Placement.proposed_change != "move")),
               sa.and_(Placement.proposed_offer_id == offer.id,
                       Placement.proposed_change == "move")))
    if exclude_learner is not None:
        stmt = stmt.where(Placement.learner_id != exclude_learner)
    return db.session.scalar(stmt) or 0


def override_warnings(round_: AllocationRound, learner: Learner,
                      offer: PlacementOffer) -> list[str]:
    """Explain, in plain words, which rules placing this learner at this offer would break."""
    warnings = []
    if offer.sector != learner.programme.route:
        warnings.append(f"The offer is in {offer.sector}, but the learner's programme is in "
                        f"{learner.programme.route}.")
    km = haversine_km(learner.lat, learner.lon, offer.site.lat, offer.site.lon)
    if km > learner.max_travel_km:
        warnings.append(f"The offer is {km:.1f} km from the learner's home, further than "
                        f"the {learner.max_travel_km} km they can travel.")
    missing = sorted(set(offer.requirements or []) - set(learner.credentials or []))
    if missing:
        warnings.append("The learner does not hold: "
                        + ", ".join(REQUIREMENTS.get(m, m) for m in missing) + ".")
    if not offer.is_open:
        warnings.append("The offer has been withdrawn.")
    if not offer.employer.approved:
        warnings.append("The employer is not approved.")
    held = held_places(offer, exclude_learner=learner.id)
    if held >= offer.capacity:
        warnings.append(f"The offer is full: {held} of {offer.capacity} places are taken.")
    return warnings


def override_placement(officer: User, round_: AllocationRound, learner: Learner,
                       offer: PlacementOffer, *, reason: str,
                       confirmed: bool = False) -> tuple[Placement, list[str]]:
    """Place a learner by hand (and lock the pair so the next run keeps it).

    Rules the pair breaks are returned as warnings; unless `confirmed`, a DomainError
    carrying them is raised and nothing changes. Every override is audited with the reason.
    """
    _require_manage(officer, round_)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why you are placing this learner by hand", field="reason")
    if learner.programme_id not in {p.id for p in round_.programmes}:
        raise DomainError("That learner is not in this round's programmes", field="student_ref")
    warnings = override_warnings(round_, learner, offer)
    if warnings and not confirmed:
        raise OverrideWarning(warnings)
    placement = db.session.scalar(sa.select(Placement).where(
        Placement.round_id == round_.id, Placement.learner_id == learner.id))
    distance_m = round(haversine_km(learner.lat, learner.lon, offer.site.lat,
                                    offer.site.lon) * 1000)
    rank = _rank_of(round_, learner, offer)
    before = None
    if placement is None:
        placement = Placement(round_id=round_.id, learner_id=learner.id, offer_id=offer.id,
                              source="override", rank=rank, distance_m=distance_m,
                              status=PlacementStatus.PROPOSED)
        db.session.add(placement)
    elif placement.status in (PlacementStatus.PUBLISHED, PlacementStatus.ACCEPTED):
        before = current_offer_id(placement)
        if placement.offer_id == offer.id:
            placement.proposed_change = placement.proposed_offer_id = None
            placement.proposed_rank = placement.proposed_distance_m = None
        else:
            placement.proposed_change = "move"
            placement.proposed_offer_id = offer.id
            placement.proposed_rank = rank
            placement.proposed_distance_m = distance_m
    else:
        before = placement.offer_id if placement.status == PlacementStatus.PROPOSED else None
        placement.offer_id = offer.id
        placement.status = PlacementStatus.PROPOSED
        placement.source = "override"
        placement.rank = rank
        placement.distance_m = distance_m
        placement.run_id = None
        placement.published_at = placement.responded_at = None
        placement.decline_reason = None
        placement.employer_response = "pending"
    db.session.flush()
    lock = db.session.scalar(sa.select(PlacementLock).where(
        PlacementLock.round_id == round_.id, PlacementLock.learner_id == learner.id))
    if lock is None:
        lock = PlacementLock(round_id=round_.id, learner_id=learner.id)
        db.session.add(lock)
    lock.offer_id = offer.id
    lock.reason = reason
    lock.created_by_id = officer.id
    db.session.flush()
    audit.record(officer, "placement.overridden", placement, round_id=round_.id,
                 learner_id=learner.id, student_ref=learner.student_ref,
                 offer_id=offer.id, offer_title=offer.title, previous_offer_id=before,
                 reason=reason, warnings=warnings)
    return placement, warnings


class OverrideWarning(DomainError):
    """The hand placement breaks rules; the officer must confirm it."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__("This placement breaks the rules below: tick the box to confirm it",
                         field="confirm")
        self.warnings = warnings


def _rank_of(round_: AllocationRound, learner: Learner, offer: PlacementOffer) -> int | None:
    return db.session.scalar(sa.select(Preference.rank).where(
        Preference.round_id == round_.id, Preference.learner_id == learner.id,
        Preference.offer_id == offer.id))
