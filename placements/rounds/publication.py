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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from placements import audit
from placements.domain import ConcurrentChange, DomainError
from placements.domain import rounds as round_rules
from placements.domain.placements import PLACEMENT, held_at_sql
from placements.extensions import db
from placements.jobs import enqueue
from placements.mail import send_mail, site_url
from placements.models import (
    AllocationRound,
    AllocationRun,
    AuditEvent,
    Employer,
    Job,
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
from placements.reviews.services import schedule_reviews
from placements.rounds import reports
from placements.rounds.problem import settings_of
from placements.rounds.services import (
    _FRESH,
    _NO_PENDING,
    PUBLICATION_JOB,
    _require_manage,
    active_run,
    has_published,
    latest_run,
    learners_in_round_stmt,
    pending_changes,
    publish_subject,
    publishing,
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


@dataclass(frozen=True)
class Waiting:
    """A placement publishing would change (a proposal, or a pending move or removal)."""

    id: int
    learner_id: int
    status: PlacementStatus
    pending: PendingChange | None
    offer_id: int
    pending_offer_id: int | None
    pending_rank: int | None
    pending_distance_m: int | None


#: How many learners and employers the confirmation page lists (the CSV lists everyone).
SHOWN = 500


@dataclass
class Publication:
    """What publishing the round now would do, who would be told what, and whether it may.

    The counts, the digest and the checks cover everything; `learners` and `employers`
    hold the news of the first `SHOWN` of each, for the page (`all_news` writes it all).
    """

    round: AllocationRound
    number: int
    first: bool
    placed: list[Waiting] = field(default_factory=list)
    moved: list[Waiting] = field(default_factory=list)
    withdrawn: list[Waiting] = field(default_factory=list)
    #: Learners told they were not placed (first publication only).
    unplaced: list[int] = field(default_factory=list)
    learners: list[LearnerNews] = field(default_factory=list)
    employers: list[EmployerNews] = field(default_factory=list)
    #: Employers told, and how many e-mails reach them.
    employer_count: int = 0
    employer_emails: int = 0
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
    def learner_count(self) -> int:
        return len(self.placed) + len(self.moved) + len(self.withdrawn) + len(self.unplaced)

    @property
    def counts(self) -> dict[str, int]:
        return {"published": len(self.placed), "moved": len(self.moved),
                "removed": len(self.withdrawn), "unplaced": len(self.unplaced),
                "learners_told": self.learner_count, "employers_told": self.employer_count,
                "employer_emails": self.employer_emails,
                "emails": self.learner_count + self.employer_emails}


def _waiting(round_: AllocationRound) -> list[Waiting]:
    """The round's placements publishing would change: proposals and pending changes."""
    rows = db.session.execute(
        sa.select(Placement.id, Placement.learner_id, Placement.status,
                  Placement.pending_change, Placement.offer_id, Placement.pending_offer_id,
                  Placement.pending_rank, Placement.pending_distance_m)
        .where(Placement.round_id == round_.id,
               sa.or_(Placement.status == P.PROPOSED, Placement.pending_change.is_not(None)))
        .order_by(Placement.id))
    return [Waiting(*row) for row in rows]


def unplaced_ids(round_: AllocationRound, run: AllocationRun | None) -> list[int]:
    """Learners the run left unplaced who hold no place now (not hand-placed since) and
    are still in the round."""
    if run is None:
        return []
    ids = reports.run_learner_ids(run, unplaced_only=True)
    placed = set(db.session.scalars(sa.select(Placement.learner_id).where(
        Placement.round_id == round_.id, held_at_sql().is_not(None))))
    in_round = set(db.session.scalars(
        learners_in_round_stmt(round_).with_only_columns(Learner.id)))
    return sorted(i for i in ids if i not in placed and i in in_round)


def _last_published_at(round_: AllocationRound) -> datetime | None:
    return db.session.scalar(
        sa.select(AuditEvent.at).where(AuditEvent.round_id == round_.id,
                                       AuditEvent.action == "round.published")
        .order_by(AuditEvent.id.desc()).limit(1))


def _late_joiners(round_: AllocationRound, run: AllocationRun) -> int:
    """Learners now in the round whom the run did not include."""
    in_run = set(reports.run_learner_ids(run))
    now = db.session.scalars(learners_in_round_stmt(round_).with_only_columns(Learner.id))
    return sum(1 for lid in now if lid not in in_run)


def _settings_changed(round_: AllocationRound, run: AllocationRun) -> bool:
    ran = reports.run_settings(run)
    now = settings_of(round_)
    keys = ("rank_cost", "fallback", "max_preferences")
    return any(ran.get(k) != now[k] for k in keys) or bool(
        ran.get("ksb_coverage", False)) != bool(now.get("ksb_coverage", False))


def _check(round_: AllocationRound, *, first: bool, run: AllocationRun | None, empty: bool,
           deep: bool = True, job_id: int | None = None) -> tuple[list[str], list[str]]:
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
    if publishing(round_, besides=job_id):
        blockers.append("The round is being published now: wait for it to finish")
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
    facts += [[w.id, str(w.status), str(w.pending or ""), w.offer_id, w.pending_offer_id]
              for w in plan.placed + plan.moved + plan.withdrawn]
    facts += plan.unplaced
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def _employers_of(offer_ids: set[int]) -> dict[int, int]:
    """Employer id of each offer."""
    out: dict[int, int] = {}
    ids = sorted(offer_ids)
    for start in range(0, len(ids), 900):
        out.update(db.session.execute(sa.select(PlacementOffer.id, PlacementOffer.employer_id)
                                      .where(PlacementOffer.id.in_(ids[start:start + 900])))
                   .all())
    return out


def _touched(rows: list[Waiting]) -> set[int]:
    """The offers whose employers hear about these changes."""
    return {w.offer_id for w in rows} | {w.pending_offer_id for w in rows
                                         if w.pending == PendingChange.MOVE
                                         and w.pending_offer_id is not None}


def _address_counts(employer_ids: set[int]) -> dict[int, int]:
    """How many addresses each employer's news goes to (`employer_addresses`, in bulk)."""
    ids = sorted(employer_ids)
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        with_contact = set(db.session.scalars(sa.select(Employer.id).where(
            Employer.id.in_(chunk), Employer.contact_email.is_not(None),
            Employer.contact_email != "")))
        users = dict(db.session.execute(
            sa.select(User.employer_id, sa.func.count()).where(
                User.employer_id.in_(chunk), User.role == Role.EMPLOYER,
                User.active.is_(True)).group_by(User.employer_id)).all())
        for eid in chunk:
            counts[eid] = 1 if eid in with_contact else int(users.get(eid, 0))
    return counts


def publication_plan(round_: AllocationRound, *, shown: int = SHOWN,
                     job_id: int | None = None) -> Publication:
    """Work out what publishing now would do and whom it would e-mail (writes nothing):
    every count and the digest over everything, the news of the first `shown` learners and
    employers for the page."""
    first = not has_published(round_)
    plan = Publication(round=round_, number=round_.publications + 1, first=first,
                       run=latest_run(round_, succeeded=True),
                       last_published_at=None if first else _last_published_at(round_))
    for w in _waiting(round_):
        if w.status == P.PROPOSED:
            plan.placed.append(w)
        elif w.pending == PendingChange.MOVE and w.pending_offer_id is not None:
            plan.moved.append(w)
        elif w.pending == PendingChange.REMOVAL:
            plan.withdrawn.append(w)
    if first:
        plan.unplaced = unplaced_ids(round_, plan.run)
    rows = plan.placed + plan.moved + plan.withdrawn
    employer_of = _employers_of(_touched(rows))
    addresses = _address_counts(set(employer_of.values()))
    plan.employer_count = sum(1 for n in addresses.values() if n)
    plan.employer_emails = sum(addresses.values())
    # The page's share of the news: the first learners, and the first employers by name.
    first_rows = rows[:shown]
    first_unplaced = plan.unplaced[:max(0, shown - len(first_rows))]
    names = dict(db.session.execute(sa.select(Employer.id, Employer.name).where(
        Employer.id.in_(sorted(set(employer_of.values()))))).all()) if employer_of else {}
    shown_employers = sorted(names, key=lambda i: (names[i].lower(), i))[:shown]
    wanted = set(shown_employers)
    employer_rows = [w for w in rows if any(employer_of.get(o) in wanted for o in _touched([w]))]
    learners, employers = _compose(round_, first_rows, first_unplaced, employer_rows)
    plan.learners = learners
    plan.employers = [e for e in employers if e.employer.id in wanted]
    plan.blockers, plan.warnings = _check(round_, first=first, run=plan.run, empty=plan.empty,
                                          job_id=job_id)
    silent = [names[i] for i, n in addresses.items() if not n]
    if silent:
        plan.warnings.append(
            f"{len(silent)} employer{'s have' if len(silent) != 1 else ' has'} no contact "
            f"address or active user and will not be e-mailed: {', '.join(sorted(silent)[:5])}"
            + (" and others" if len(silent) > 5 else ""))
    plan.digest = _digest(plan)
    return plan


# --- the e-mails -----------------------------------------------------------------------------


def _offer_words(offer: PlacementOffer) -> str:
    return f"{offer.title} with {offer.employer.name}"


def _offer_short(offer: PlacementOffer) -> str:
    return f"{offer.title} ({offer.employer.name})"


def _load(ids: list[int]) -> dict[int, Placement]:
    return {p.id: p for p in db.session.scalars(
        sa.select(Placement).where(Placement.id.in_(ids)).options(
            selectinload(Placement.learner).selectinload(Learner.user),
            selectinload(Placement.offer).selectinload(PlacementOffer.employer),
            selectinload(Placement.pending_offer).selectinload(PlacementOffer.employer)))}


def _compose(round_: AllocationRound, rows: list[Waiting], unplaced: list[int],
             employer_rows: list[Waiting] | None = None
             ) -> tuple[list[LearnerNews], list[EmployerNews]]:
    """The e-mails of some changes: one per learner of `rows` and `unplaced`, and each
    employer's news from `employer_rows` (the same rows when not given)."""
    learner_page = site_url(url_for("learners.placement"))
    employer_page = site_url(url_for("employers.dashboard"))
    employer_rows = rows if employer_rows is None else employer_rows
    loaded = _load(sorted({w.id for w in rows} | {w.id for w in employer_rows}))
    news: list[LearnerNews] = []
    lines: dict[int, list[str]] = defaultdict(list)
    employers: dict[int, Employer] = {}

    def learner(lrn: Learner, kind: str, summary: str, subject: str, body: str,
                placement: Placement | None = None) -> None:
        user = lrn.user
        news.append(LearnerNews(
            learner=lrn, kind=kind, summary=summary, placement=placement,
            notice=Notice(user.email, subject, f"Hello {user.name},\n\n{body}",
                          lrn.provider_id)))

    def employer_line(offer: PlacementOffer, text: str) -> None:
        employers[offer.employer_id] = offer.employer
        lines[offer.employer_id].append(text)

    for w in rows:
        p = loaded[w.id]
        if w.status == P.PROPOSED:
            offer = p.offer
            learner(p.learner, "placed", f"Placed at {_offer_short(offer)}",
                    f"Your work placement: {offer.employer.name}",
                    f"You have a work placement in {round_.name}: {_offer_words(offer)}, "
                    f"{date_uk(offer.start_date)} to {date_uk(offer.end_date)}."
                    f"\n\nSign in to accept or decline it: {learner_page}\n", p)
        elif w.pending == PendingChange.MOVE:
            old, new = p.offer, p.pending_offer
            assert new is not None
            learner(p.learner, "moved",
                    f"Moved from {_offer_short(old)} to {_offer_short(new)}",
                    f"Your work placement has changed: {new.employer.name}",
                    f"Your placement in {round_.name} has changed. It is now "
                    f"{_offer_words(new)} (it was {_offer_words(old)}).\n\n"
                    f"Sign in to accept or decline it: {learner_page}\n", p)
        else:
            offer = p.offer
            learner(p.learner, "withdrawn", f"Placement at {_offer_short(offer)} withdrawn",
                    "Your work placement has been withdrawn",
                    f"Your placement {_offer_words(offer)} in {round_.name} is no longer "
                    "available and no other placement could be found for now. Your "
                    f"placement officer will contact you.\n\n{learner_page}\n", p)
    if unplaced:
        found = {lrn.id: lrn for lrn in db.session.scalars(
            sa.select(Learner).where(Learner.id.in_(unplaced))
            .options(selectinload(Learner.user)))}
        for lid in unplaced:
            learner(found[lid], "unplaced", "Not placed: told so",
                    f"Work placements: {round_.name}",
                    f"The placements for {round_.name} have been published. We could not "
                    "place you this time; your placement officer will contact you about "
                    f"what happens next.\n\n{learner_page}\n")
    for w in employer_rows:
        p = loaded[w.id]
        name = p.learner.user.name
        if w.status == P.PROPOSED:
            employer_line(p.offer, f"- {name} will join you for \"{p.offer.title}\"")
        elif w.pending == PendingChange.MOVE and p.pending_offer is not None:
            employer_line(p.offer, f"- {name} will no longer join you for \"{p.offer.title}\"")
            employer_line(p.pending_offer,
                          f"- {name} will join you for \"{p.pending_offer.title}\"")
        else:
            employer_line(p.offer, f"- {name} will no longer join you for \"{p.offer.title}\"")
    told = []
    for employer_id in sorted(lines, key=lambda i: (employers[i].name.lower(), i)):
        employer = employers[employer_id]
        told.append(EmployerNews(employer=employer, lines=lines[employer_id],
                                 notices=_employer_notices(round_, employer,
                                                           lines[employer_id],
                                                           employer_page)))
    return news, told


def _employer_notices(round_: AllocationRound, employer: Employer, lines: list[str],
                      page: str) -> list[Notice]:
    body = ("Hello,\n\nThe placement allocation " + round_.name + " has been published. "
            "For your organisation:\n\n" + "\n".join(lines)
            + f"\n\nSign in to see the learners and respond: {page}\n")
    return [Notice(address, f"Placements in {round_.name}", body, round_.provider_id)
            for address in employer_addresses(employer)]


def all_news(plan: Publication, *, block: int = 1000
             ) -> Iterator[tuple[list[LearnerNews], list[EmployerNews]]]:
    """Every e-mail of the plan, a block of learners at a time, the employers' last (each
    employer hears once, about all its changes)."""
    round_ = plan.round
    rows = plan.placed + plan.moved + plan.withdrawn
    for start in range(0, len(rows), block):
        yield _compose(round_, rows[start:start + block], [], [])[0], []
    for start in range(0, len(plan.unplaced), block):
        yield _compose(round_, [], plan.unplaced[start:start + block], [])[0], []
    yield [], _compose(round_, [], [], rows)[1]


def employer_addresses(employer: Employer) -> list[str]:
    """Where an employer's news goes: its contact address, else its active users."""
    if employer.contact_email:
        return [employer.contact_email]
    return sorted(db.session.scalars(sa.select(User.email).where(
        User.employer_id == employer.id, User.role == Role.EMPLOYER,
        User.active.is_(True))))


# --- publishing ------------------------------------------------------------------------------


def publish_round(officer: User, round_: AllocationRound, *, seen: int | None = None,
                  digest: str | None = None, job_id: int | None = None) -> dict[str, int]:
    """Publish the allocation and send the plan's e-mails; return the plan's counts.

    `seen` and `digest` are those of the plan the officer confirmed (`publication_plan`);
    if the plan has changed since, or someone published meanwhile, nothing happens
    (ConcurrentChange). Without them (scripts, tests) the plan as it stands is published.
    Each placement moves through its lifecycle in bulk (`publish`, `publish_move`,
    `publish_removal`).
    """
    _require_manage(officer, round_)
    plan = publication_plan(round_, shown=0, job_id=job_id)
    if plan.blockers:
        raise DomainError(plan.blockers[0])
    if digest is not None and digest != plan.digest:
        raise ConcurrentChange("The allocation changed after you checked it (a run finished, "
                               "or someone placed a learner or published): check what "
                               "publishing does now")
    number = round_rules.claim_publication(
        officer, round_, seen=round_.publications if seen is None else seen)
    assert number == plan.number
    round_id, run_id = round_.id, plan.run.id if plan.run else None
    for learners, employers in all_news(plan):
        for n in [x.notice for x in learners] + [m for e in employers for m in e.notices]:
            send_mail(n.to, n.subject, n.body, provider_id=n.provider_id, round_id=round_id)
        db.session.flush()
    now = utcnow()
    fresh = {**_FRESH, "published_at": now}
    PLACEMENT.apply_many("publish", [(w.id, w.status, w.pending, fresh) for w in plan.placed])
    PLACEMENT.apply_many("publish_move", [
        (w.id, w.status, w.pending, {
            **fresh, "offer_id": w.pending_offer_id, "rank": w.pending_rank,
            "distance_m": w.pending_distance_m, **_NO_PENDING}) for w in plan.moved])
    PLACEMENT.apply_many("publish_removal", [(w.id, w.status, w.pending, _NO_PENDING)
                                             for w in plan.withdrawn])
    db.session.flush()
    # Every placement now published at an offer gets its review plan there.
    schedule_reviews([p.id for p in (*plan.placed, *plan.moved)], actor=officer)
    counts = plan.counts
    audit.record(officer, "round.published", round_, round_id=round_id, publication=number,
                 run_id=run_id, **counts)
    return counts


def request_publication(officer: User, round_: AllocationRound, *, seen: int,
                        digest: str) -> Job:
    """Queue the publication the officer confirmed (a background job: at region scale it
    writes tens of thousands of e-mails). Refused now, with the reason, when the plan
    cannot be published or is no longer the one they read; the job checks again."""
    _require_manage(officer, round_)
    plan = publication_plan(round_, shown=0)
    if plan.blockers:
        raise DomainError(plan.blockers[0])
    if digest != plan.digest or seen != round_.publications:
        raise ConcurrentChange("The allocation changed after you checked it (a run finished, "
                               "or someone placed a learner or published): check what "
                               "publishing does now")
    return enqueue(PUBLICATION_JOB, title=f"Publication {plan.number} of {round_.name}",
                   provider_id=round_.provider_id, created_by_id=officer.id,
                   subject=publish_subject(round_.id),
                   payload={"round_id": round_.id, "seen": seen, "digest": digest,
                            "officer_id": officer.id, "emails": plan.counts["emails"]},
                   busy_message="This round is already being published")


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
    page = site_url(url_for("learners.dashboard"))
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
    page = site_url(url_for("learners.dashboard"))
    told = 0
    for learner, _listed in _learner_recipients(round_):
        send_mail(learner.user.email, f"Choices have reopened: {round_.name}",
                  f"Hello {learner.user.name},\n\nChoices for {round_.name} are open again "
                  f"until {date_uk(round_.preference_deadline)}. You can change the "
                  f"offers you listed until then.\n\n{page}\n",
                  provider_id=learner.provider_id, round_id=round_.id)
        told += 1
    return told
