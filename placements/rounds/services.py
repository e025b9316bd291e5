"""Allocation round services: set up rounds, run the solver, apply and publish its results,
lock and place learners by hand.

Rules live in the domain core: who may see and change a round (`domain.access`), the round
and placement lifecycles (`domain.rounds`, `domain.placements`), places held and
eligibility. These functions flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from placements import audit
from placements.domain import DomainError, NotAllowed, access, eligibility
from placements.domain import rounds as round_rules
from placements.domain.offers import open_offers_stmt
from placements.domain.placements import PLACEMENT, held_places, holds_place_at, places_held
from placements.extensions import db
from placements.jobs import enqueue, reap_stale
from placements.models import (
    ACTIVE_JOB_STATUSES,
    AllocationRound,
    AllocationRun,
    Employer,
    EmployerResponse,
    EmployerSite,
    Job,
    JobStatus,
    Learner,
    PendingChange,
    Placement,
    PlacementDecline,
    PlacementLock,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Programme,
    Provider,
    RankCost,
    RoundStatus,
    RunKind,
    User,
    round_programmes,
    utcnow,
)
from placements.querying import contains_text
from placements.rounds.problem import build_problem, dropped_locks, parse_key

P = PlacementStatus

# --- Setting up a round --------------------------------------------------------------------


def create_round(officer: User, *, name: str, programmes: Sequence[Programme],
                 preference_deadline: datetime, max_preferences: int = 10,
                 rank_cost: RankCost = RankCost.SQUARED, fallback: bool = True,
                 time_limit_s: int = 60, providers: Sequence[Provider] = (),
                 open_now: bool = True, require_verified_checks: bool = False,
                 ksb_coverage: bool = False) -> AllocationRound:
    """Create an allocation round over programmes of the officer's provider or partners."""
    if not programmes:
        raise DomainError("Choose at least one programme", field="programmes")
    if not 1 <= max_preferences <= 50:
        raise DomainError("Maximum choices must be between 1 and 50", field="max_preferences")
    if not 1 <= time_limit_s <= 3600:
        raise DomainError("Time limit must be between 1 and 3600 seconds", field="time_limit_s")
    if open_now and preference_deadline <= utcnow():
        raise DomainError("The deadline for choices must be in the future",
                          field="preference_deadline")
    if preference_deadline > utcnow() + timedelta(days=2 * 366):
        raise DomainError("The deadline for choices must be within two years from today",
                          field="preference_deadline")
    own = db.session.get_one(Provider, officer.provider_id)
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
        time_limit_s=time_limit_s, created_by_id=officer.id, ksb_coverage=ksb_coverage,
        require_verified_checks=require_verified_checks,
        status=RoundStatus.OPEN if open_now else RoundStatus.DRAFT,
        providers=[db.session.get(Provider, pid) for pid in sorted(scope)],
        programmes=list(programmes))
    db.session.add(round_)
    db.session.flush()
    audit.record(officer, "round.created", round_, round_id=round_.id, name=round_.name)
    return round_


def update_round(officer: User, round_: AllocationRound, *, name: str,
                 programmes: Sequence[Programme], preference_deadline: datetime,
                 max_preferences: int, rank_cost: RankCost, fallback: bool,
                 time_limit_s: int, require_verified_checks: bool | None = None,
                 ksb_coverage: bool | None = None) -> list[str]:
    """Change a round's settings within the lifecycle's guards; return what changed.

    Once published, the settings that decided the allocation are fixed
    (`domain.rounds.change_refusals`); before that, a change after a run makes publishing
    wait for a new run (see `publication`), so nothing published disagrees with them.
    """
    _require_manage(officer, round_)
    if not 1 <= time_limit_s <= 3600:
        raise DomainError("Time limit must be between 1 and 3600 seconds", field="time_limit_s")
    if not 1 <= max_preferences <= 50:
        raise DomainError("Choices must be between 1 and 50", field="max_preferences")
    scope = db.session.get_one(Provider, officer.provider_id).partner_ids()
    if any(p.provider_id not in scope for p in programmes):
        raise NotAllowed("Choose programmes of your partnership", field="programmes")
    wanted: dict[str, Any] = {
        "name": name.strip(), "preference_deadline": preference_deadline,
        "max_preferences": max_preferences, "rank_cost": RankCost(rank_cost),
        "fallback": bool(fallback), "time_limit_s": time_limit_s}
    if ksb_coverage is not None:
        wanted["ksb_coverage"] = bool(ksb_coverage)
    if require_verified_checks is not None:
        wanted["require_verified_checks"] = bool(require_verified_checks)
    changes = {k: v for k, v in wanted.items() if getattr(round_, k) != v}
    if {p.id for p in programmes} != {p.id for p in round_.programmes}:
        changes["programmes"] = list(programmes)
    if not changes:
        return []
    most = db.session.scalar(
        sa.select(sa.func.count()).where(Preference.round_id == round_.id)
        .group_by(Preference.learner_id).order_by(sa.func.count().desc()).limit(1)) or 0
    refusals = round_rules.change_refusals(round_, changes, utcnow(), most_listed=most)
    if refusals:
        field_name, message = refusals[0]
        raise DomainError(message, field=field_name)
    before = {k: _plain_setting(getattr(round_, k)) for k in changes}
    for key, value in changes.items():
        setattr(round_, key, value)
    providers = {p.provider_id for p in round_.programmes} | {round_.provider_id}
    round_.providers = [db.session.get_one(Provider, pid) for pid in sorted(providers)]
    db.session.flush()
    audit.record(officer, "round.changed", round_, round_id=round_.id,
                 changed=sorted(changes), before=before,
                 after={k: _plain_setting(getattr(round_, k)) for k in changes})
    return sorted(changes)


def _plain_setting(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(p.title for p in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if not isinstance(value, bool | int) else value


@dataclass
class ArchivePlan:
    """What archiving a round would do to its allocation."""

    proposals: int
    pending: int
    placements: int
    blockers: list[str]


def archive_plan(round_: AllocationRound) -> ArchivePlan:
    """Work out what archiving would discard and keep (writes nothing)."""
    counts = dict(db.session.execute(
        sa.select(Placement.status, sa.func.count()).where(Placement.round_id == round_.id)
        .group_by(Placement.status)).all())
    pending = db.session.scalar(sa.select(sa.func.count()).where(
        Placement.round_id == round_.id, Placement.pending_change.is_not(None))) or 0
    blockers = []
    if round_.status == RoundStatus.ARCHIVED:
        blockers.append("This round is already archived")
    if active_run(round_) is not None:
        blockers.append("A run is in progress: wait for it to finish")
    return ArchivePlan(proposals=counts.get(P.PROPOSED, 0), pending=pending,
                       placements=counts.get(P.PUBLISHED, 0) + counts.get(P.ACCEPTED, 0),
                       blockers=blockers)


def archive_round(officer: User, round_: AllocationRound) -> ArchivePlan:
    """Archive a round: proposals never published are discarded (they would otherwise hold
    places other rounds need), pending changes dropped; published and accepted placements
    stay as they are; nothing can change afterwards."""
    _require_manage(officer, round_)
    plan = archive_plan(round_)
    if plan.blockers:
        raise DomainError(plan.blockers[0])
    rows = db.session.execute(sa.select(
        Placement.id, Placement.status, Placement.pending_change).where(
        Placement.round_id == round_.id,
        sa.or_(Placement.status == P.PROPOSED, Placement.pending_change.is_not(None)))).all()
    PLACEMENT.apply_many("discard", [(r.id, r.status, r.pending_change, {}) for r in rows
                                     if r.status == P.PROPOSED])
    PLACEMENT.apply_many("cancel_change", [(r.id, r.status, r.pending_change,
                                            dict(_NO_PENDING)) for r in rows
                                           if r.status != P.PROPOSED])
    round_rules.archive(officer, round_)
    db.session.flush()
    return plan


def officer_rounds_stmt(officer: User) -> sa.Select[AllocationRound]:
    """Select the rounds the officer's provider takes part in, newest first."""
    return (sa.select(AllocationRound).where(access.officer_rounds_sql(officer))
            .order_by(AllocationRound.created_at.desc(), AllocationRound.id.desc()))


def programme_choices(officer: User) -> list[tuple[int, str]]:
    """Return (id, label) of the programmes the officer may put in a round (partnership)."""
    programmes = db.session.scalars(
        sa.select(Programme).join(Provider)
        .where(access.officer_programmes_sql(officer, partnership=True))
        .order_by(Provider.name, Programme.title)).all()
    return [(p.id, f"{p.title} ({p.provider.name}, {p.route})") for p in programmes]


def programmes_by_id(officer: User, ids: Sequence[int]) -> list[Programme]:
    """Return the programmes of the officer's partnership among `ids`."""
    return list(db.session.scalars(sa.select(Programme).where(
        Programme.id.in_(list(ids)), access.officer_programmes_sql(officer, partnership=True))))


def _require_manage(officer: User, round_: AllocationRound) -> None:
    if not access.officer_manages_round(officer, round_):
        raise NotAllowed("Only officers of the provider that owns this round can do that")
    round_rules.require_changeable(round_)


# --- Runs ----------------------------------------------------------------------------------

#: The job kind of allocation runs (registered by `placements.rounds.jobs`).
ALLOCATION_JOB = "allocation.run"


def run_subject(round_id: int) -> str:
    """The job subject of a round's runs: one unfinished run per round."""
    return f"round:{round_id}:allocation"


#: The job kind of publications (registered by `placements.rounds.jobs`).
PUBLICATION_JOB = "round.publish"


def publish_subject(round_id: int) -> str:
    """The job subject of a round's publications: one at a time."""
    return f"round:{round_id}:publication"


def publication_job(round_: AllocationRound) -> Job | None:
    """The round's latest publication job (running, or how the last one ended)."""
    return db.session.scalar(sa.select(Job).where(
        Job.subject == publish_subject(round_.id), Job.kind == PUBLICATION_JOB)
        .order_by(Job.id.desc()).limit(1))


def publishing(round_: AllocationRound, *, besides: int | None = None) -> bool:
    """Say whether a publication of the round is queued or running (other than the job
    `besides`: the publication asking)."""
    job = publication_job(round_)
    return job is not None and job.status in ACTIVE_JOB_STATUSES and job.id != besides


def _runs(round_id: int) -> sa.Select[AllocationRun]:
    return (sa.select(AllocationRun).join(Job, Job.id == AllocationRun.job_id)
            .where(AllocationRun.round_id == round_id))


def active_run(round_: AllocationRound) -> AllocationRun | None:
    """Return the round's queued or running run, if any."""
    return db.session.scalar(_runs(round_.id).where(Job.status.in_(ACTIVE_JOB_STATUSES)))


def latest_run(round_: AllocationRound, *, succeeded: bool = False) -> AllocationRun | None:
    """Return the round's newest run (or newest succeeded run)."""
    stmt = _runs(round_.id)
    if succeeded:
        stmt = stmt.where(Job.status == JobStatus.SUCCEEDED)
    return db.session.scalar(stmt.order_by(AllocationRun.id.desc()).limit(1))


def recent_runs(round_: AllocationRound, limit: int = 10) -> list[AllocationRun]:
    """Return the round's newest runs."""
    return list(db.session.scalars(_runs(round_.id).order_by(AllocationRun.id.desc())
                                   .limit(limit)))


def previous_run(run: AllocationRun) -> AllocationRun | None:
    """Return the succeeded run of the same round before this one."""
    return db.session.scalar(_runs(run.round_id).where(
        AllocationRun.id < run.id, Job.status == JobStatus.SUCCEEDED)
        .order_by(AllocationRun.id.desc()).limit(1))


def start_run(officer: User, round_: AllocationRound, *,
              kind: RunKind = RunKind.FULL) -> AllocationRun:
    """Queue a solver run of the round's problem built now from the database.

    At most one run per round is queued or running: the job's subject is unique among
    unfinished jobs (a partial unique index), even against a concurrent request.
    """
    _require_manage(officer, round_)
    reap_stale(run_subject(round_.id))
    if publishing(round_):
        raise DomainError("The round is being published: run again once it is done")
    if kind == RunKind.REPAIR and not has_published(round_):
        raise DomainError("Nothing has been published yet: run a full allocation instead")
    problem = build_problem(round_, previous=kind == RunKind.REPAIR)
    if not problem["learners"]:
        raise DomainError("No learners are in this round's programmes yet")
    job = enqueue(ALLOCATION_JOB, title=f"{kind.capitalize()} run of {round_.name}",
                  provider_id=round_.provider_id, created_by_id=officer.id,
                  subject=run_subject(round_.id),
                  busy_message="A run is already in progress for this round: wait for it "
                               "to finish")
    run = AllocationRun(round_id=round_.id, kind=kind, job=job, started_by_id=officer.id,
                        problem=problem)
    db.session.add(run)
    db.session.flush()
    job.payload = {**job.payload, "run_id": run.id}
    dropped = dropped_locks(round_, problem)
    audit.record(officer, "run.started", run, round_id=round_.id, kind=kind,
                 learners=len(problem["learners"]), offers=len(problem["offers"]),
                 locked=len(problem["locked"]), locks_left_out=len(dropped))
    run.dropped_locks = dropped  # type: ignore[attr-defined]  # for the view's message
    return run


def has_published(round_: AllocationRound) -> bool:
    """Say whether the round's allocation has been published at least once."""
    return round_.publications > 0


_FRESH = {"published_at": None, "responded_at": None, "decline_reason": None,
          "employer_response": EmployerResponse.PENDING, "employer_note": None}
_NO_PENDING = {"pending_offer_id": None, "pending_rank": None, "pending_distance_m": None}


def apply_result(run: AllocationRun, result: dict[str, Any]) -> dict[str, int]:
    """Write a run's result as the round's allocation, through the placement lifecycle.

    Learners without a visible placement get proposals (`repropose` replaces an earlier
    proposal, or re-places a learner who declined or lost a place; `discard` drops a
    proposal the run no longer makes). A published or accepted placement is never changed
    here: a different answer becomes a pending change (`propose_move`,
    `propose_removal`, or `cancel_change` when the run puts the learner back), published
    later. Every change is a conditional UPDATE in bulk: if any placement changed while
    the run was solving, nothing is written and the run fails, to be run again.
    """
    round_id = run.round_id
    learner_ids = {parse_key(lrn["id"]) for lrn in (run.problem or {}).get("learners", [])}
    chosen: dict[int, dict[str, Any]] = {
        parse_key(a["learner"]): a for a in result.get("assignments", [])}
    rows = db.session.execute(sa.select(
        Placement.id, Placement.learner_id, Placement.offer_id, Placement.status,
        Placement.pending_change, Placement.pending_offer_id).where(
        Placement.round_id == round_id)).all()
    existing: dict[int, Any] = {row.learner_id: row for row in rows}
    moves: dict[str, list[tuple[int, Any, Any, dict[str, Any]]]] = defaultdict(list)
    inserts: list[dict[str, Any]] = []
    for stale in rows:
        if stale.status == P.PROPOSED and stale.learner_id not in learner_ids:
            moves["discard"].append((stale.id, stale.status, stale.pending_change, {}))
    for lid in sorted(learner_ids):
        a = chosen.get(lid)
        row = existing.get(lid)
        offer_id = parse_key(a["offer"]) if a else None
        rank = a.get("rank") if a else None
        distance_m = round(a["km"] * 1000) if a and a.get("km") is not None else None
        placed = {"offer_id": offer_id, "run_id": run.id, "rank": rank,
                  "distance_m": distance_m, "source": "lock" if a and a.get("locked")
                  else "solver"}
        if row is None:
            if a:
                inserts.append({"round_id": round_id, "learner_id": lid,
                                "status": P.PROPOSED, **placed})
            continue
        state = (row.id, row.status, row.pending_change)
        if row.status in (P.PUBLISHED, P.ACCEPTED):
            if offer_id == row.offer_id:
                if row.pending_change is not None:
                    moves["cancel_change"].append((*state, dict(_NO_PENDING)))
            elif offer_id is None:
                if row.pending_change != PendingChange.REMOVAL:
                    moves["propose_removal"].append((*state, dict(_NO_PENDING)))
            else:
                moves["propose_move"].append((*state, {
                    "pending_offer_id": offer_id, "pending_rank": rank,
                    "pending_distance_m": distance_m}))
        elif row.status == P.PROPOSED:
            if a:
                moves["repropose"].append((*state, placed))
            else:
                moves["discard"].append((*state, {}))
        elif a:  # declined or withdrawn: placed again
            moves["repropose"].append((*state, {**placed, **_FRESH}))
    counts = {verb: PLACEMENT.apply_many(verb, items) for verb, items in moves.items()}
    if inserts:
        db.session.execute(sa.insert(Placement), inserts)
    db.session.flush()
    counts["inserted"] = len(inserts)
    return counts


# --- Publication ---------------------------------------------------------------------------


def _waiting_stmt(round_: AllocationRound) -> sa.Select[Placement]:
    return sa.select(Placement).where(
        Placement.round_id == round_.id,
        sa.or_(Placement.status == P.PROPOSED, Placement.pending_change.is_not(None)))


def pending_changes(round_: AllocationRound) -> int:
    """Count placements that publishing would change (new proposals and pending changes)."""
    return db.session.scalar(sa.select(sa.func.count(Placement.id)).where(
        Placement.round_id == round_.id,
        sa.or_(Placement.status == P.PROPOSED, Placement.pending_change.is_not(None)))) or 0


def round_phase(round_: AllocationRound) -> round_rules.Phase:
    """Where the round stands (the domain's phase, from its state, time and allocation)."""
    return round_rules.phase(
        round_.status, round_.preference_deadline, utcnow(),
        allocated=latest_run(round_, succeeded=True) is not None,
        changes_waiting=pending_changes(round_) > 0, repair_due=round_.needs_repair)


def to_place_again(round_: AllocationRound) -> list[Placement]:
    """Learners of a published round who declined or lost their placement and hold no
    place now: the next repair run tries to place them again."""
    return list(db.session.scalars(
        sa.select(Placement).join(Learner, Learner.id == Placement.learner_id)
        .join(User, User.id == Learner.user_id)
        .where(Placement.round_id == round_.id,
               Placement.status.in_([P.DECLINED.value, P.WITHDRAWN.value]))
        .options(selectinload(Placement.learner).selectinload(Learner.user),
                 selectinload(Placement.offer).selectinload(PlacementOffer.employer))
        .order_by(User.name, Placement.id)))


# --- Locks and overrides -------------------------------------------------------------------


def lock_placement(officer: User, round_: AllocationRound, placement: Placement,
                   reason: str = "") -> PlacementLock:
    """Keep a learner at the offer they hold (after any pending move) in the next run."""
    _require_manage(officer, round_)
    if placement.round_id != round_.id:
        raise NotAllowed("That placement is not in this round")
    offer_id = holds_place_at(placement.status, placement.pending_change, placement.offer_id,
                              placement.pending_offer_id)
    if offer_id is None:
        raise DomainError("Only a current placement can be locked")
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


def learners_in_round_stmt(round_: AllocationRound) -> sa.Select[Learner]:
    """Select the learners whose programme is in the round."""
    return sa.select(Learner).where(Learner.programme_id.in_(
        sa.select(round_programmes.c.programme_id).where(
            round_programmes.c.round_id == round_.id)))


def learners_in_round(round_: AllocationRound) -> int:
    """Count the learners whose programme is in the round."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        learners_in_round_stmt(round_).subquery())) or 0


def find_learner(round_: AllocationRound, student_ref: str) -> Learner | None:
    """Find a learner of the round by student number."""
    return db.session.scalars(learners_in_round_stmt(round_).where(
        sa.func.lower(Learner.student_ref) == student_ref.strip().lower())).first()


def declined_offer_ids(round_id: int, learner_id: int) -> frozenset[int]:
    """Return the offers the learner declined in the round."""
    return frozenset(db.session.scalars(sa.select(PlacementDecline.offer_id).where(
        PlacementDecline.round_id == round_id, PlacementDecline.learner_id == learner_id)))


def override_warnings(round_: AllocationRound, learner: Learner,
                      offer: PlacementOffer) -> list[str]:
    """Explain, in an officer's words, which rules placing this learner here would break."""
    facts = eligibility.learner_facts(
        learner, declined=declined_offer_ids(round_.id, learner.id))
    warnings = eligibility.assess(facts, eligibility.offer_facts(offer)).for_officer()
    held = places_held(offer.id, exclude_learner=learner.id)
    if held >= offer.capacity:
        warnings.append(f"The offer is full: {held} of {offer.capacity} places are taken.")
    return warnings


@dataclass
class Candidate:
    """An offer a learner could be placed at by hand, as the picker shows it."""

    offer: PlacementOffer
    km: float
    left: int
    warnings: list[str]

    @property
    def fits(self) -> bool:
        return not self.warnings


def _candidates_stmt(round_: AllocationRound, search: str = "") -> sa.Select[PlacementOffer]:
    stmt = (open_offers_stmt().join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
            .where(PlacementOffer.sector.in_(sorted(round_.sectors())))
            .options(selectinload(PlacementOffer.site), selectinload(PlacementOffer.employer)))
    if search.strip():
        stmt = stmt.where(contains_text(search, PlacementOffer.title, Employer.name,
                                        EmployerSite.name, EmployerSite.postcode,
                                        EmployerSite.address))
    return stmt


def override_candidates(round_: AllocationRound, learner: Learner, search: str = "", *,
                        limit: int = 50) -> tuple[list[Candidate], int]:
    """Offers open to choices in the round's sectors (matching `search`), for placing one
    learner by hand: the ones that fit first, then by distance; and how many matched.

    Each shows its distance from the learner, places left (places held everywhere, this
    learner's own left out) and why it would break the rules (`eligibility`, officer's
    words; "full" when no place is left).
    """
    offers = list(db.session.scalars(_candidates_stmt(round_, search)))
    held = held_places([o.id for o in offers], exclude_learner=learner.id)
    facts = eligibility.learner_facts(learner,
                                      declined=declined_offer_ids(round_.id, learner.id))
    found = []
    for offer in offers:
        verdict = eligibility.assess(facts, eligibility.offer_facts(offer))
        left = offer.capacity - held.get(offer.id, 0)
        warnings = verdict.for_officer()
        if left <= 0:
            warnings.append(f"The offer is full: {offer.capacity - left} of {offer.capacity} "
                            "places are taken.")
        found.append(Candidate(offer=offer, km=verdict.km, left=max(left, 0),
                               warnings=warnings))
    found.sort(key=lambda c: (not c.fits, c.left <= 0, c.km, c.offer.id))
    return found[:limit], len(found)


def override_offer_ids(round_: AllocationRound) -> set[int]:
    """The offers a learner of the round may be placed at by hand."""
    return set(db.session.scalars(_candidates_stmt(round_).with_only_columns(
        PlacementOffer.id)))


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
    distance_m = round(eligibility.haversine_km(learner.lat, learner.lon, offer.site.lat,
                                                offer.site.lon) * 1000)
    rank = _rank_of(round_, learner, offer)
    placed = {"offer_id": offer.id, "source": "override", "rank": rank,
              "distance_m": distance_m, "run_id": None}
    before = None
    detail: dict[str, Any] = {"round_id": round_.id, "record": False}
    if placement is None:
        placement = Placement(round_id=round_.id, learner_id=learner.id, offer_id=offer.id,
                              source="override", rank=rank, distance_m=distance_m,
                              status=P.PROPOSED)
        db.session.add(placement)
    elif placement.status in (P.PUBLISHED, P.ACCEPTED):
        before = holds_place_at(placement.status, placement.pending_change,
                                placement.offer_id, placement.pending_offer_id)
        if placement.offer_id == offer.id:
            if placement.pending_change is not None:
                PLACEMENT.apply(placement, "cancel_change", values=_NO_PENDING, **detail)
        else:
            PLACEMENT.apply(placement, "propose_move", values={
                "pending_offer_id": offer.id, "pending_rank": rank,
                "pending_distance_m": distance_m}, **detail)
    else:
        before = placement.offer_id if placement.status == P.PROPOSED else None
        PLACEMENT.apply(placement, "repropose", values={**placed, **_FRESH}, **detail)
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


# --- Lists and downloads -------------------------------------------------------------------


def placements_stmt(round_: AllocationRound, search: str = "") -> sa.Select[Placement]:
    """Select the round's placements with learner and offers, by learner name."""
    stmt = (sa.select(Placement).join(Learner, Learner.id == Placement.learner_id)
            .join(User, User.id == Learner.user_id)
            .where(Placement.round_id == round_.id)
            .options(selectinload(Placement.learner).selectinload(Learner.user),
                     selectinload(Placement.offer).selectinload(PlacementOffer.employer),
                     selectinload(Placement.pending_offer))
            .order_by(User.name, Placement.id))
    if search:
        stmt = stmt.where(contains_text(search, User.name, Learner.student_ref))
    return stmt


def placements_total(round_: AllocationRound, search: str = "") -> int:
    """How many placements `placements_stmt` selects (without a search: counted from the
    round's index, not by joining every placement to its learner's name)."""
    if not search:
        return db.session.scalar(sa.select(sa.func.count()).select_from(Placement).where(
            Placement.round_id == round_.id)) or 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        placements_stmt(round_, search).subquery())) or 0


def locks_for(round_: AllocationRound, learner_ids: Sequence[int]) -> dict[int, PlacementLock]:
    """Return the round's locks of some learners, by learner id."""
    if not learner_ids:
        return {}
    return {lk.learner_id: lk for lk in db.session.scalars(sa.select(PlacementLock).where(
        PlacementLock.round_id == round_.id, PlacementLock.learner_id.in_(list(learner_ids))))}


PLACEMENTS_CSV_HEADER = ["student_ref", "learner", "employer", "offer", "rank", "km", "status",
                         "source", "pending_change"]


def placements_csv_rows(round_: AllocationRound) -> list[list[Any]]:
    """Return the round's allocation as CSV rows (see PLACEMENTS_CSV_HEADER)."""
    rows = db.session.execute(
        sa.select(Learner.student_ref, User.name, Employer.name, PlacementOffer.title,
                  Placement.rank, Placement.distance_m, Placement.status, Placement.source,
                  Placement.pending_change)
        .join(Learner, Learner.id == Placement.learner_id)
        .join(User, User.id == Learner.user_id)
        .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
        .join(Employer, Employer.id == PlacementOffer.employer_id)
        .where(Placement.round_id == round_.id).order_by(Learner.student_ref))
    return [[ref, name, emp, title, rank, round(dm / 1000, 1) if dm is not None else None,
             str(status), source, str(change) if change else ""]
            for ref, name, emp, title, rank, dm, status, source, change in rows]
