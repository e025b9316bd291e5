"""Publishing a round's allocation, and closing or reopening its choices.

Publishing cannot be undone: learners and employers are e-mailed. So it goes in two steps.
`publication_plan(round_)` works out, without writing anything, exactly what publishing now
would do: the placements it publishes, moves and withdraws, the learners told they were not
placed, every e-mail with its addressee and text, what stops it (`blockers`) and what the
officer should know first (`warnings`), and a `digest` of all that. The officer reads it on
a confirmation page; `publish_round(..., seen=, digest=)` then publishes only if the plan is
still the one they read (same digest) and nobody published meanwhile (`seen`, claimed
atomically by `domain.rounds.claim_publication`), so nothing is published twice and nobody
is e-mailed twice or about something they were not shown.

The e-mails sent are the ones the plan lists: one list, used by the page and by the act.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import selectinload

from placements import audit
from placements.domain import ConcurrentChange, DomainError
from placements.domain import rounds as round_rules
from placements.domain.placements import PLACEMENT, held_at_sql
from placements.extensions import db
from placements.mail import send_mail
from placements.models import (
    AllocationRound,
    AllocationRun,
    AuditEvent,
    Employer,
    Learner,
    PendingChange,
    Placement,
    PlacementOffer,
    PlacementStatus,
    Preference,
    Role,
    RoundStatus,
    User,
    utcnow,
)
from placements.rounds.problem import learner_key, parse_key, settings_of
from placements.rounds.services import (
    _FRESH,
    _NO_PENDING,
    _require_manage,
    active_run,
    has_published,
    latest_run,
    learners_in_round_stmt,
    pending_changes,
)
from placements.timeutil import date_uk

P = PlacementStatus


# --- what publishing would do ----------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One e-mail that publishing (or closing choices) sends."""

    to: str
    subject: str
    body: str
    provider_id: int | None = None


@dataclass
class LearnerNews:
    """What one learner is told, and the e-mail that tells them."""

    learner: Learner
    #: "placed", "moved", "withdrawn" or "unplaced".
    kind: str
    #: In an officer's words, e.g. "Moved from Data analyst (Acme) to Tester (Beta)".
    summary: str
    notice: Notice
    placement: Placement | None = None


@dataclass
class EmployerNews:
    """What one employer is told (one line per learner), and the e-mails that tell them."""

    employer: Employer
    lines: list[str]
    notices: list[Notice]


@dataclass
class Publication:
    """What publishing the round now would do, who would be told what, and whether it may."""

    round: AllocationRound
    number: int
    first: bool
    placed: list[Placement] = field(default_factory=list)
    moved: list[Placement] = field(default_factory=list)
    withdrawn: list[Placement] = field(default_factory=list)
    unplaced: list[Learner] = field(default_factory=list)
    learners: list[LearnerNews] = field(default_factory=list)
    employers: list[EmployerNews] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run: AllocationRun | None = None
    last_published_at: datetime | None = None
    digest: str = ""

    @property
    def empty(self) -> bool:
        """Nothing to publish and nobody to tell."""
        return not (self.placed or self.moved or self.withdrawn or self.unplaced)

    @property
    def allowed(self) -> bool:
        return not self.blockers

    @property
    def notices(self) -> list[Notice]:
        """Every e-mail, learners first, each learner and each employer address once."""
        return [n.notice for n in self.learners] + [
            notice for e in self.employers for notice in e.notices]

    @property
    def counts(self) -> dict[str, int]:
        return {"published": len(self.placed), "moved": len(self.moved),
                "removed": len(self.withdrawn), "unplaced": len(self.unplaced),
                "learners_told": len(self.learners),
                "employers_told": sum(1 for e in self.employers if e.notices),
                "employer_emails": sum(len(e.notices) for e in self.employers),
                "emails": len(self.notices)}


def _waiting(round_: AllocationRound) -> list[Placement]:
    """The round's placements publishing would change: proposals and pending changes."""
    return list(db.session.scalars(
        sa.select(Placement).where(
            Placement.round_id == round_.id,
            sa.or_(Placement.status == P.PROPOSED, Placement.pending_change.is_not(None)))
        .options(selectinload(Placement.learner).selectinload(Learner.user),
                 selectinload(Placement.offer).selectinload(PlacementOffer.employer),
                 selectinload(Placement.pending_offer).selectinload(PlacementOffer.employer))
        .order_by(Placement.id)))


def unplaced_learners(round_: AllocationRound, run: AllocationRun | None) -> list[Learner]:
    """Learners the run left unplaced who hold no place now (not hand-placed since)."""
    if run is None or not run.result:
        return []
    ids = [parse_key(u["learner"]) for u in run.result.get("unplaced", [])]
    placed = set(db.session.scalars(sa.select(Placement.learner_id).where(
        Placement.round_id == round_.id, held_at_sql().is_not(None))))
    in_round = set(db.session.scalars(
        learners_in_round_stmt(round_).with_only_columns(Learner.id)))
    wanted = [i for i in ids if i not in placed and i in in_round]
    learners: list[Learner] = []
    for start in range(0, len(wanted), 500):
        learners.extend(db.session.scalars(
            sa.select(Learner).where(Learner.id.in_(wanted[start:start + 500]))
            .options(selectinload(Learner.user))))
    return sorted(learners, key=lambda lrn: (lrn.user.name, lrn.id))


def _last_published_at(round_: AllocationRound) -> datetime | None:
    return db.session.scalar(
        sa.select(AuditEvent.at).where(AuditEvent.round_id == round_.id,
                                       AuditEvent.action == "round.published")
        .order_by(AuditEvent.id.desc()).limit(1))


def _late_joiners(round_: AllocationRound, run: AllocationRun) -> int:
    """Learners now in the round whom the run did not include."""
    in_run = {lrn["id"] for lrn in (run.problem or {}).get("learners", [])}
    now = db.session.scalars(learners_in_round_stmt(round_).with_only_columns(Learner.id))
    return sum(1 for lid in now if learner_key(lid) not in in_run)


def _settings_changed(round_: AllocationRound, run: AllocationRun) -> bool:
    ran = dict((run.problem or {}).get("settings", {}))
    now = settings_of(round_)
    keys = ("rank_cost", "fallback", "max_preferences")
    return any(ran.get(k) != now[k] for k in keys)


def _check(round_: AllocationRound, *, first: bool, run: AllocationRun | None, empty: bool,
           deep: bool = True) -> tuple[list[str], list[str]]:
    """What stops publishing now (blockers), and what the officer should know first."""
    blockers: list[str] = []
    warnings: list[str] = []
    now = utcnow()
    if round_.status == RoundStatus.ARCHIVED:
        return ["This round has been archived: it can no longer be published"], []
    if round_.status == RoundStatus.DRAFT:
        blockers.append("This round has not been opened to learners yet")
    elif round_rules.takes_choices(round_.status, round_.preference_deadline, now):
        blockers.append(
            "Learners can still change their choices until "
            f"{date_uk(round_.preference_deadline)}: close choices early (saying "
            "why; learners are told) or wait for the deadline")
    if active_run(round_) is not None:
        blockers.append("A run is in progress: wait for it to finish")
    if run is None:
        blockers.append("Run an allocation first")
    elif first and deep:
        if _settings_changed(round_, run):
            blockers.append(
                f"The round's settings changed after run {run.id}: run the allocation "
                "again so that what you publish follows them")
        late = _late_joiners(round_, run)
        if late:
            blockers.append(
                f"{late} learner{'s' if late != 1 else ''} joined the round after run "
                f"{run.id} and would be neither placed nor told: run the allocation again")
    if empty and not blockers:
        blockers.append("There is nothing new to publish")
    if round_.repair_due_since is not None and round_.status != RoundStatus.DRAFT:
        warnings.append(
            f"A repair run is due since {date_uk(round_.repair_due_since)} (an offer "
            "changed or a learner declined): publishing now leaves the learners affected "
            "for the next repair")
    return blockers, warnings


def quick_blockers(round_: AllocationRound) -> list[str]:
    """What stops publishing, from the round alone (cheap enough for every round page;
    the confirmation page adds the checks that need the whole plan)."""
    first = not has_published(round_)
    run = latest_run(round_, succeeded=True)
    nothing = pending_changes(round_) == 0 and not (first and run is not None)
    return _check(round_, first=first, run=run, empty=nothing, deep=False)[0]


def _digest(plan: Publication) -> str:
    facts: list[Any] = [plan.round.id, plan.round.publications,
                        plan.run.id if plan.run else None]
    facts += [[p.id, str(p.status), str(p.pending_change or ""), p.offer_id,
               p.pending_offer_id] for p in plan.placed + plan.moved + plan.withdrawn]
    facts += [lrn.id for lrn in plan.unplaced]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def publication_plan(round_: AllocationRound) -> Publication:
    """Work out what publishing now would do and whom it would e-mail (writes nothing)."""
    first = not has_published(round_)
    plan = Publication(round=round_, number=round_.publications + 1, first=first,
                       run=latest_run(round_, succeeded=True),
                       last_published_at=None if first else _last_published_at(round_))
    for p in _waiting(round_):
        if p.status == P.PROPOSED:
            plan.placed.append(p)
        elif p.pending_change == PendingChange.MOVE and p.pending_offer is not None:
            plan.moved.append(p)
        elif p.pending_change == PendingChange.REMOVAL:
            plan.withdrawn.append(p)
    if first:
        plan.unplaced = unplaced_learners(round_, plan.run)
    _compose(plan)
    plan.blockers, plan.warnings = _check(round_, first=first, run=plan.run, empty=plan.empty)
    silent = [e.employer.name for e in plan.employers if not e.notices]
    if silent:
        plan.warnings.append(
            f"{len(silent)} employer{'s have' if len(silent) != 1 else ' has'} no contact "
            f"address or active user and will not be e-mailed: {', '.join(silent[:5])}"
            + (" and others" if len(silent) > 5 else ""))
    plan.digest = _digest(plan)
    return plan


# --- the e-mails -----------------------------------------------------------------------------


def _base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def _offer_words(offer: PlacementOffer) -> str:
    return f"{offer.title} with {offer.employer.name}"


def _offer_short(offer: PlacementOffer) -> str:
    return f"{offer.title} ({offer.employer.name})"


def _compose(plan: Publication) -> None:
    """Write every e-mail the publication sends: one per learner, one per employer address."""
    round_ = plan.round
    base = _base_url()
    learner_page = base + url_for("learners.placement")
    employer_page = base + url_for("employers.dashboard")
    lines: dict[int, list[str]] = defaultdict(list)
    employers: dict[int, Employer] = {}

    def learner(lrn: Learner, kind: str, summary: str, subject: str, body: str,
                placement: Placement | None = None) -> None:
        user = lrn.user
        plan.learners.append(LearnerNews(
            learner=lrn, kind=kind, summary=summary, placement=placement,
            notice=Notice(user.email, subject, f"Hello {user.name},\n\n{body}",
                          lrn.provider_id)))

    def employer_line(offer: PlacementOffer, text: str) -> None:
        employers[offer.employer_id] = offer.employer
        lines[offer.employer_id].append(text)

    for p in plan.placed:
        name, offer = p.learner.user.name, p.offer
        employer_line(offer, f"- {name} will join you for \"{offer.title}\"")
        learner(p.learner, "placed", f"Placed at {_offer_short(offer)}",
                f"Your work placement: {offer.employer.name}",
                f"You have a work placement in {round_.name}: {_offer_words(offer)}, "
                f"{date_uk(offer.start_date)} to {date_uk(offer.end_date)}."
                f"\n\nSign in to accept or decline it: {learner_page}\n", p)
    for p in plan.moved:
        name, old, new = p.learner.user.name, p.offer, p.pending_offer
        assert new is not None
        employer_line(old, f"- {name} will no longer join you for \"{old.title}\"")
        employer_line(new, f"- {name} will join you for \"{new.title}\"")
        learner(p.learner, "moved",
                f"Moved from {_offer_short(old)} to {_offer_short(new)}",
                f"Your work placement has changed: {new.employer.name}",
                f"Your placement in {round_.name} has changed. It is now "
                f"{_offer_words(new)} (it was {_offer_words(old)}).\n\n"
                f"Sign in to accept or decline it: {learner_page}\n", p)
    for p in plan.withdrawn:
        name, offer = p.learner.user.name, p.offer
        employer_line(offer, f"- {name} will no longer join you for \"{offer.title}\"")
        learner(p.learner, "withdrawn", f"Placement at {_offer_short(offer)} withdrawn",
                "Your work placement has been withdrawn",
                f"Your placement {_offer_words(offer)} in {round_.name} is no longer "
                "available and no other placement could be found for now. Your placement "
                f"officer will contact you.\n\n{learner_page}\n", p)
    for lrn in plan.unplaced:
        learner(lrn, "unplaced", "Not placed: told so",
                f"Work placements: {round_.name}",
                f"The placements for {round_.name} have been published. We could not place "
                "you this time; your placement officer will contact you about what happens "
                f"next.\n\n{learner_page}\n")
    for employer_id in sorted(lines, key=lambda i: (employers[i].name, i)):
        employer = employers[employer_id]
        body = ("Hello,\n\nThe placement allocation " + round_.name + " has been published. "
                "For your organisation:\n\n" + "\n".join(lines[employer_id])
                + f"\n\nSign in to see the learners and respond: {employer_page}\n")
        plan.employers.append(EmployerNews(
            employer=employer, lines=lines[employer_id],
            notices=[Notice(address, f"Placements in {round_.name}", body, round_.provider_id)
                     for address in employer_addresses(employer)]))


def employer_addresses(employer: Employer) -> list[str]:
    """Where an employer's news goes: its contact address, else its active users."""
    if employer.contact_email:
        return [employer.contact_email]
    return sorted(db.session.scalars(sa.select(User.email).where(
        User.employer_id == employer.id, User.role == Role.EMPLOYER,
        User.active.is_(True))))


def _send(notices: list[Notice], round_id: int) -> None:
    for n in notices:
        send_mail(n.to, n.subject, n.body, provider_id=n.provider_id, round_id=round_id)


# --- publishing ------------------------------------------------------------------------------


def publish_round(officer: User, round_: AllocationRound, *, seen: int | None = None,
                  digest: str | None = None) -> dict[str, int]:
    """Publish the allocation and send the plan's e-mails; return the plan's counts.

    `seen` and `digest` are those of the plan the officer confirmed (`publication_plan`);
    if the plan has changed since, or someone published meanwhile, nothing happens
    (ConcurrentChange). Without them (scripts, tests) the plan as it stands is published.
    Each placement moves through its lifecycle in bulk (`publish`, `publish_move`,
    `publish_removal`).
    """
    _require_manage(officer, round_)
    plan = publication_plan(round_)
    if plan.blockers:
        raise DomainError(plan.blockers[0])
    if digest is not None and digest != plan.digest:
        raise ConcurrentChange("The allocation changed after you checked it (a run finished, "
                               "or someone placed a learner or published): check what "
                               "publishing does now")
    number = round_rules.claim_publication(
        officer, round_, seen=round_.publications if seen is None else seen)
    assert number == plan.number
    _send(plan.notices, round_.id)
    now = utcnow()
    fresh = {**_FRESH, "published_at": now}
    PLACEMENT.apply_many("publish", [(p.id, p.status, p.pending_change, fresh)
                                     for p in plan.placed])
    PLACEMENT.apply_many("publish_move", [
        (p.id, p.status, p.pending_change, {
            **fresh, "offer_id": p.pending_offer_id, "rank": p.pending_rank,
            "distance_m": p.pending_distance_m, **_NO_PENDING}) for p in plan.moved])
    PLACEMENT.apply_many("publish_removal", [(p.id, p.status, p.pending_change, _NO_PENDING)
                                             for p in plan.withdrawn])
    db.session.flush()
    counts = plan.counts
    audit.record(officer, "round.published", round_, round_id=round_.id, publication=number,
                 run_id=plan.run.id if plan.run else None, **counts)
    return counts


# --- closing and reopening choices -----------------------------------------------------------


def _learner_recipients(round_: AllocationRound) -> list[tuple[Learner, int]]:
    """The round's learners with an account, and how many offers each has listed."""
    listed = dict(db.session.execute(
        sa.select(Preference.learner_id, sa.func.count())
        .where(Preference.round_id == round_.id).group_by(Preference.learner_id)).all())
    learners = db.session.scalars(learners_in_round_stmt(round_)
                                  .options(selectinload(Learner.user))
                                  .order_by(Learner.id))
    return [(lrn, listed.get(lrn.id, 0)) for lrn in learners if lrn.user is not None]


def close_choices_early(officer: User, round_: AllocationRound, reason: str) -> int:
    """Close choices before the deadline, saying why; e-mail every learner of the round.

    Returns how many learners were e-mailed.
    """
    _require_manage(officer, round_)
    round_rules.close_choices(officer, round_, reason)
    page = _base_url() + url_for("learners.dashboard")
    told = 0
    for learner, listed in _learner_recipients(round_):
        choices = (f"The {listed} offer{'s' if listed != 1 else ''} you listed will be used "
                   "as they stand." if listed else
                   "You did not list any offers; your placement officer will be in touch.")
        send_mail(learner.user.email, f"Choices have closed: {round_.name}",
                  f"Hello {learner.user.name},\n\nChoices for {round_.name} closed on "
                  f"{date_uk(utcnow())}, before the deadline of "
                  f"{date_uk(round_.preference_deadline)}, because: "
                  f"{(round_.choices_closed_reason or '').strip()}\n\n{choices} You will be "
                  f"e-mailed when placements are published.\n\n{page}\n",
                  provider_id=learner.provider_id, round_id=round_.id)
        told += 1
    audit.record(officer, "round.learners_told_choices_closed", round_, round_id=round_.id,
                 learners=told)
    return told


def reopen_choices(officer: User, round_: AllocationRound) -> int:
    """Take choices again until the deadline; e-mail every learner of the round."""
    _require_manage(officer, round_)
    round_rules.reopen_choices(officer, round_)
    page = _base_url() + url_for("learners.dashboard")
    told = 0
    for learner, _listed in _learner_recipients(round_):
        send_mail(learner.user.email, f"Choices have reopened: {round_.name}",
                  f"Hello {learner.user.name},\n\nChoices for {round_.name} are open again "
                  f"until {date_uk(round_.preference_deadline)}. You can change the "
                  f"offers you listed until then.\n\n{page}\n",
                  provider_id=learner.provider_id, round_id=round_.id)
        told += 1
    return told
