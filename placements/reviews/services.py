"""Review services: review plans and reviews, supervisors and their e-mailed links, concerns,
the officer's list of what needs attention, employers' hosting records and the weekly
supervisor digest.

The rules live in the domain core: the schedule, the review and concern lifecycles and what
is overdue in `placements.domain.reviews`; who may see and do what in
`placements.domain.access`. Hours are verified through `placements.hours.services` (a
supervisor's link acts as an `access.SupervisorScope`). Functions flush, never commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import selectinload

from placements import audit
from placements.domain import (
    ConcurrentChange,
    DomainError,
    IllegalTransition,
    NotAllowed,
    access,
)
from placements.domain import reviews as rules
from placements.domain.access import SupervisorScope
from placements.extensions import db
from placements.hours import services as hours
from placements.mail import send_mail, site_url
from placements.models import (
    AllocationRound,
    Concern,
    ConcernCategory,
    ConcernStatus,
    Employer,
    HoursEntry,
    HoursKind,
    HoursStatus,
    Learner,
    LinkTask,
    Placement,
    PlacementOffer,
    PlacementReview,
    PlacementStatus,
    PlacementSupervisor,
    RaisedBy,
    ReviewKind,
    ReviewPart,
    ReviewPlan,
    ReviewSide,
    ReviewStatus,
    Role,
    SupervisorLink,
    User,
    utcnow,
)
from placements.timeutil import today_uk

SUP, LRN = ReviewSide.SUPERVISOR, ReviewSide.LEARNER
#: Longest free text in a review part or a concern.
MAX_TEXT = 5000


def _uk(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _insert():
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# --- review plans -------------------------------------------------------------------------

@dataclass
class ScheduleReport:
    """What `schedule_reviews` did."""

    plans: int = 0
    reviews: int = 0
    moved: int = 0


def schedule_reviews(placement_ids: Iterable[int] | None = None, *,
                     actor: User | None = None) -> ScheduleReport:
    """Give each published or accepted placement (all, or those given) a review plan at its
    current offer, with its three reviews; keep the due dates nobody moved by hand in step
    with the offer's dates. Idempotent and safe to run twice at once (conflicting inserts
    are skipped), so the publish path, the weekly job and `flask reviews schedule` share it.
    """
    report = ScheduleReport()
    ids = None if placement_ids is None else sorted(set(placement_ids))
    if ids is not None and not ids:
        return report
    chunks: list[list[int] | None] = [None] if ids is None else [
        ids[i:i + 500] for i in range(0, len(ids), 500)]
    insert = _insert()
    for chunk in chunks:
        stmt = (sa.select(Placement.id, Placement.offer_id, Placement.learner_id,
                          Placement.round_id, PlacementOffer.employer_id)
                .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
                .where(Placement.status.in_([s.value for s in rules.LIVE]),
                       ~sa.exists().where(ReviewPlan.placement_id == Placement.id,
                                          ReviewPlan.offer_id == Placement.offer_id)))
        if chunk is not None:
            stmt = stmt.where(Placement.id.in_(chunk))
        missing = db.session.execute(stmt).all()
        if missing:
            now = utcnow()
            t = ReviewPlan.__table__
            added = db.session.execute(insert(t).on_conflict_do_nothing(
                index_elements=["placement_id", "offer_id"]).returning(t.c.id), [
                {"placement_id": p, "offer_id": o, "learner_id": lrn, "round_id": r,
                 "employer_id": e, "created_at": now} for p, o, lrn, r, e in missing])
            report.plans += len(added.all())  # rows a concurrent run inserted first: skipped
        report.reviews += _add_reviews(chunk)
        report.moved += _follow_offer_dates(chunk)
    db.session.flush()
    if report.plans or report.moved:
        audit.record(actor, "reviews.scheduled", None, plans=report.plans,
                     reviews=report.reviews, moved=report.moved,
                     placements=len(ids) if ids is not None else None)
    return report


def _live_plans_stmt(placement_ids: list[int] | None) -> Any:
    stmt = (sa.select(ReviewPlan.id, PlacementOffer.start_date, PlacementOffer.end_date)
            .join(Placement, Placement.id == ReviewPlan.placement_id)
            .join(PlacementOffer, PlacementOffer.id == ReviewPlan.offer_id)
            .where(rules.plan_live_sql()))
    if placement_ids is not None:
        stmt = stmt.where(ReviewPlan.placement_id.in_(placement_ids))
    return stmt


def _add_reviews(placement_ids: list[int] | None) -> int:
    """Add the reviews a live plan lacks (three per plan), due on the schedule."""
    lacking = _live_plans_stmt(placement_ids).where(
        sa.select(sa.func.count(PlacementReview.id))
        .where(PlacementReview.plan_id == ReviewPlan.id).scalar_subquery() < len(ReviewKind))
    rows = []
    now = utcnow()
    for plan_id, start, end in db.session.execute(lacking):
        for kind, due in rules.schedule(start, end).items():
            rows.append({"plan_id": plan_id, "kind": kind.value, "due_date": due,
                         "status": ReviewStatus.SCHEDULED.value, "created_at": now,
                         "updated_at": now})
    if not rows:
        return 0
    t = PlacementReview.__table__
    added = db.session.execute(_insert()(t).on_conflict_do_nothing(
        index_elements=["plan_id", "kind"]).returning(t.c.id), rows)
    return len(added.all())


def _follow_offer_dates(placement_ids: list[int] | None) -> int:
    """Move due dates nobody set by hand, of reviews nobody has started, to the schedule of
    the offer's current dates (an employer may change an offer's dates)."""
    stmt = (sa.select(PlacementReview.id, PlacementReview.kind, PlacementReview.due_date,
                      PlacementOffer.start_date, PlacementOffer.end_date)
            .join(ReviewPlan, ReviewPlan.id == PlacementReview.plan_id)
            .join(Placement, Placement.id == ReviewPlan.placement_id)
            .join(PlacementOffer, PlacementOffer.id == ReviewPlan.offer_id)
            .where(rules.plan_live_sql(), PlacementReview.due_set_by_id.is_(None),
                   PlacementReview.status == ReviewStatus.SCHEDULED.value))
    if placement_ids is not None:
        stmt = stmt.where(ReviewPlan.placement_id.in_(placement_ids))
    changes = []
    for review_id, kind, due, start, end in db.session.execute(stmt):
        wanted = rules.schedule(start, end)[ReviewKind(kind)]
        if wanted != due:
            changes.append({"b_id": review_id, "b_due": wanted})
    if changes:
        t: Any = PlacementReview.__table__
        db.session.execute(t.update().where(
            t.c.id == sa.bindparam("b_id"), t.c.due_set_by_id.is_(None),
            t.c.status == ReviewStatus.SCHEDULED.value).values(
            due_date=sa.bindparam("b_due"), updated_at=utcnow()), changes)
    return len(changes)


def _unplanned_stmt(officer: User) -> Any:
    return (sa.select(Placement.id).join(Learner, Learner.id == Placement.learner_id)
            .where(Placement.status.in_([s.value for s in rules.LIVE]),
                   access.officer_learners_sql(officer),
                   ~sa.exists().where(ReviewPlan.placement_id == Placement.id,
                                      ReviewPlan.offer_id == Placement.offer_id)))


def unplanned_placement_ids(officer: User) -> list[int]:
    """Published placements of the officer's provider's learners without a review plan at
    their offer (published before reviews existed)."""
    return list(db.session.scalars(_unplanned_stmt(officer)))


def unplanned_placements(officer: User) -> int:
    """Count `unplanned_placement_ids`."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        _unplanned_stmt(officer).subquery())) or 0


def current_plan(placement: Placement) -> ReviewPlan | None:
    """Return the plan of a placement at the offer it is at now, if there is one."""
    return db.session.scalar(sa.select(ReviewPlan).where(
        ReviewPlan.placement_id == placement.id, ReviewPlan.offer_id == placement.offer_id)
        .options(selectinload(ReviewPlan.reviews).selectinload(PlacementReview.parts)))


def earlier_plans(placement: Placement) -> list[ReviewPlan]:
    """Return the plans of a placement at offers it has since moved away from."""
    return list(db.session.scalars(sa.select(ReviewPlan).where(
        ReviewPlan.placement_id == placement.id, ReviewPlan.offer_id != placement.offer_id)
        .order_by(ReviewPlan.id)))


@dataclass(frozen=True)
class ReviewState:
    """How one review stands today, for the people who see it."""

    review: PlacementReview
    overdue: bool
    open: bool
    opens_on: date
    awaits_supervisor: bool
    awaits_learner: bool

    @property
    def words(self) -> str:
        return rules.review_words(self.review.status, self.open)


def review_state(review: PlacementReview, today: date | None = None) -> ReviewState:
    """Derive a review's overdue, open and waiting-for flags (nothing stored)."""
    today = today or today_uk()
    return ReviewState(
        review=review, overdue=rules.is_overdue(review.status, review.due_date, today),
        open=rules.is_open(review.kind, review.due_date, today),
        opens_on=rules.opens_on(review.kind, review.due_date),
        awaits_supervisor=rules.awaits(review.status, SUP),
        awaits_learner=rules.awaits(review.status, LRN))


def plan_states(plan: ReviewPlan | None, today: date | None = None) -> list[ReviewState]:
    """The states of a plan's reviews, in order."""
    if plan is None:
        return []
    return [review_state(r, today) for r in plan.reviews]


# --- review parts -------------------------------------------------------------------------

@dataclass(frozen=True)
class PartData:
    """What one side says in one review (fields a kind of review does not ask are None)."""

    induction_done: bool | None = None
    safety_briefing_done: bool | None = None
    supervisor_known: bool | None = None
    objectives: str = ""
    attendance: int | None = None
    progress: int | None = None
    progress_note: str = ""
    strengths: str = ""
    development: str = ""
    recommendation: str = ""
    would_host_again: bool | None = None
    would_recommend: bool | None = None
    comments: str = ""


def part_fields(kind: ReviewKind, side: ReviewSide) -> dict[str, str]:
    """The fields one side's part of one kind of review asks for, each with the message shown
    when it is missing (the one list the forms and the check follow)."""
    you = side == LRN
    if kind == ReviewKind.START:
        fields = {
            "induction_done": "Say whether " + ("you have" if you else "the learner has")
                              + " had an induction",
            "safety_briefing_done": "Say whether " + ("you have" if you else "the learner has")
                                    + " had a health and safety briefing",
        }
        if you:
            fields["supervisor_known"] = "Say whether you know who your supervisor is"
        else:
            fields["objectives"] = "Write the objectives you have agreed with the learner"
            fields["attendance"] = "Choose a rating for attendance and punctuality"
        return fields
    fields = {
        "attendance": "Choose a rating for attendance and punctuality",
        "progress": "Choose a rating for progress on the agreed objectives",
        "progress_note": "Describe " + ("your" if you else "the learner's")
                         + " progress on the agreed objectives",
        "strengths": "Describe " + ("your" if you else "the learner's") + " strengths",
        "development": "Describe the areas " + ("you" if you else "the learner")
                       + " should develop",
    }
    if kind == ReviewKind.FINAL:
        if you:
            fields["would_recommend"] = ("Say whether you would recommend this placement to "
                                         "another learner")
        else:
            fields["recommendation"] = "Choose your recommendation"
            fields["would_host_again"] = "Say whether your organisation would host again"
    return fields


def check_part(kind: ReviewKind, side: ReviewSide, data: PartData) -> PartData:
    """Check one side's part against the fields its kind asks; return it with text trimmed
    and unasked fields emptied (DomainError naming the first field that is wrong)."""
    wanted = part_fields(kind, side)
    clean: dict[str, Any] = {}
    for name in PartData.__dataclass_fields__:
        value = getattr(data, name)
        if isinstance(value, str):
            value = value.strip()
            if len(value) > MAX_TEXT:
                raise DomainError(f"Write at most {MAX_TEXT:,} characters", field=name)
        if name not in wanted and name != "comments":
            value = "" if isinstance(value, str) else None
        elif name in wanted and value in (None, ""):
            raise DomainError(wanted[name], field=name)
        clean[name] = value
    for name in ("attendance", "progress"):
        if clean[name] is not None and clean[name] not in rules.RATINGS:
            raise DomainError("Choose a rating from the scale", field=name)
    if clean["recommendation"] and clean["recommendation"] not in rules.RECOMMENDATIONS:
        raise DomainError("Choose a recommendation from the list", field="recommendation")
    return PartData(**clean)


Author = User | SupervisorScope


def may_submit(author: Author, review: PlacementReview, side: ReviewSide) -> bool:
    """Say whether `author` may submit `side`'s part of a review: the learner theirs; the
    supervisor's part an employer user of the host organisation or the supervisor's link
    for that placement."""
    plan = review.plan
    if isinstance(author, SupervisorScope):
        return (side == SUP and author.placement_id == plan.placement_id
                and author.employer_id == plan.employer_id)
    if side == LRN:
        return author.role == Role.LEARNER and plan.learner.user_id == author.id
    return author.role == Role.EMPLOYER and author.employer_id == plan.employer_id


def submit_part(author: Author, review: PlacementReview, side: ReviewSide, data: PartData,
                *, today: date | None = None) -> ReviewPart:
    """Record one side's part of a review; the review moves on through its lifecycle.

    Refused (nothing saved) when the author may not, the plan no longer applies, the review
    has not opened yet, the part is incomplete, or that side has already submitted (also
    when two submissions race: the conditional UPDATE lets one through).
    """
    if not may_submit(author, review, side):
        raise NotAllowed("This review is not yours to complete")
    plan = review.plan
    if not rules.plan_is_live(plan):
        raise DomainError("This placement is no longer running, so its reviews are closed")
    today = today or today_uk()
    if not rules.is_open(review.kind, review.due_date, today):
        opens = rules.opens_on(review.kind, review.due_date)
        raise DomainError(f"This review opens on {_uk(opens)}")
    clean = check_part(review.kind, side, data)
    actor = author if isinstance(author, User) else None
    detail: dict[str, Any] = {"kind": review.kind, "side": side, "plan_id": plan.id}
    if isinstance(author, SupervisorScope):
        detail.update(supervisor_id=author.supervisor_id, supervisor=author.name,
                      address=author.address)
    now = utcnow()
    for attempt in (1, 2):
        verb = rules.verb_for(side, review.status)
        values = {"completed_at": now} if verb.endswith("_completes") else {}
        try:
            rules.REVIEW.apply(review, verb, actor=actor, values=values,
                               round_id=plan.round_id, **detail)
            break
        except ConcurrentChange:
            # The other side submitted meanwhile: try once more from the state it left.
            if attempt == 2:
                raise
            db.session.refresh(review)
    part = ReviewPart(review_id=review.id, side=side, submitted_at=now,
                      submitted_by_id=author.id if isinstance(author, User) else None,
                      supervisor_id=author.supervisor_id
                      if isinstance(author, SupervisorScope) else None,
                      **dataclasses.asdict(clean))
    db.session.add(part)
    if review.kind == ReviewKind.START and side == SUP:
        plan.objectives = clean.objectives
    db.session.flush()
    db.session.expire(review, ["parts"])
    return part


def review_for(author: Author, review_id: int, side: ReviewSide) -> PlacementReview | None:
    """Return a review `author` may complete `side`'s part of (None when not theirs)."""
    review = db.session.get(PlacementReview, review_id)
    if review is None or not may_submit(author, review, side):
        return None
    return review


# --- officers: due dates and waivers ------------------------------------------------------

def _check_officer_cares(officer: User, placement: Placement) -> None:
    if officer.role != Role.OFFICER or not access.officer_cares_for(officer, placement):
        raise NotAllowed("Only your own provider's learners' placements")


#: How long after the placement ends a review may still be set to fall due.
LATEST_AFTER_END = timedelta(days=28)


def set_due_date(officer: User, review: PlacementReview, due: date, *,
                 today: date | None = None) -> None:
    """Move a review's due date (it then no longer follows the offer's dates)."""
    plan = review.plan
    _check_officer_cares(officer, plan.placement)
    if review.status not in rules.WAITING:
        raise DomainError("This review is finished: its date can no longer change",
                          field="due_date")
    today = today or today_uk()
    if due < today:
        raise DomainError("The new date must be today or later", field="due_date")
    offer = plan.offer
    if due < offer.start_date or due > offer.end_date + LATEST_AFTER_END:
        raise DomainError(f"Choose a date between the start of the placement, "
                          f"{_uk(offer.start_date)}, and 4 weeks after its end, "
                          f"{_uk(offer.end_date + LATEST_AFTER_END)}", field="due_date")
    old = review.due_date
    review.due_date = due
    review.due_set_by_id = officer.id
    db.session.flush()
    audit.record(officer, "review.due_date_changed", review, round_id=plan.round_id,
                 kind=review.kind, old=old, new=due)


def waive_review(officer: User, review: PlacementReview, reason: str) -> None:
    """Decide that a review is not needed (the placement ended early, a visit replaced it)."""
    _check_officer_cares(officer, review.plan.placement)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why this review is not needed", field="reason")
    if len(reason) > MAX_TEXT:
        raise DomainError(f"Write at most {MAX_TEXT:,} characters", field="reason")
    rules.REVIEW.apply(review, "waive", actor=officer, values={"waived_reason": reason},
                       round_id=review.plan.round_id, kind=review.kind, reason=reason)


# --- supervisors --------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+() -]{6,40}$")


@dataclass(frozen=True)
class SupervisorData:
    """Who supervises a placement."""

    name: str
    email: str
    phone: str = ""


def current_supervisor(placement: Placement) -> PlacementSupervisor | None:
    """Return the supervisor the placement's current host employer named, if any."""
    return db.session.scalar(sa.select(PlacementSupervisor).where(
        PlacementSupervisor.placement_id == placement.id,
        PlacementSupervisor.employer_id == placement.offer.employer_id))


def _check_host(user: User, placement: Placement) -> None:
    if (user.role != Role.EMPLOYER or placement.offer.employer_id != user.employer_id
            or placement.status not in rules.LIVE):
        raise NotAllowed("This placement is not running at your organisation")


def name_supervisor(actor: User, placement: Placement, data: SupervisorData
                    ) -> PlacementSupervisor:
    """Name (or change) a placement's supervisor. A new person gets an e-mail with their
    links at once; the previous person's links stop working."""
    _check_host(actor, placement)
    name, email, phone = data.name.strip(), data.email.strip().lower(), data.phone.strip()
    if not name:
        raise DomainError("Enter the supervisor's full name", field="name")
    if len(name) > 200:
        raise DomainError("The name must be 200 characters or fewer", field="name")
    if not email:
        raise DomainError("Enter the supervisor's email address", field="email")
    if len(email) > 254 or not _EMAIL.match(email):
        raise DomainError("Enter an email address in the correct format, like "
                          "name@example.com", field="email")
    if phone and not _PHONE.match(phone):
        raise DomainError("Enter a telephone number, like 0161 496 0000 or +44 161 496 0000",
                          field="phone")
    supervisor = current_supervisor(placement)
    new_person = supervisor is None or supervisor.email != email
    if supervisor is None:
        supervisor = PlacementSupervisor(placement_id=placement.id,
                                         employer_id=placement.offer.employer_id)
        db.session.add(supervisor)
    elif new_person:
        _revoke(supervisor, actor, why="supervisor_changed")
    supervisor.name, supervisor.email, supervisor.phone = name, email, phone
    supervisor.named_by_id = actor.id
    db.session.flush()
    audit.record(actor, "supervisor.named" if new_person else "supervisor.updated", supervisor,
                 round_id=placement.round_id, placement_id=placement.id)
    if new_person:
        send_links(actor, supervisor, intro=True)
    return supervisor


def revoke_links(actor: User, supervisor: PlacementSupervisor) -> int:
    """Stop every link of a supervisor from working (an officer caring for the learner, or
    an employer user of the host)."""
    placement = supervisor.placement
    if actor.role == Role.OFFICER:
        _check_officer_cares(actor, placement)
    elif actor.role != Role.EMPLOYER or actor.employer_id != supervisor.employer_id:
        raise NotAllowed("This supervisor is not one of yours")
    return _revoke(supervisor, actor, why="revoked")


def _revoke(supervisor: PlacementSupervisor, actor: User | None, *, why: str) -> int:
    result = db.session.execute(sa.update(SupervisorLink).where(
        SupervisorLink.supervisor_id == supervisor.id, SupervisorLink.revoked_at.is_(None))
        .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})
    count = result.rowcount or 0  # type: ignore[attr-defined]
    audit.record(actor, "supervisor.links_revoked", supervisor,
                 round_id=supervisor.placement.round_id, links=count, why=why)
    return count


# --- supervisor links ---------------------------------------------------------------------

_SALT = "supervisor-link"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token_hash(token: str) -> str:
    """The stored form of a link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(supervisor: PlacementSupervisor, purpose: LinkTask, *,
               review: PlacementReview | None = None, actor: User | None = None,
               now: datetime | None = None) -> tuple[SupervisorLink, str]:
    """Make a new link for one purpose (and one review); return it and its token (the
    token is never stored: only its SHA-256)."""
    if (purpose == LinkTask.REVIEW) != (review is not None):
        raise ValueError("a review link names its review, and only a review link does")
    now = now or utcnow()
    token = _serializer().dumps({"p": purpose.value, "n": secrets.token_urlsafe(24)})
    link = SupervisorLink(
        supervisor_id=supervisor.id, purpose=purpose,
        review_id=review.id if review is not None else None, token_hash=token_hash(token),
        created_at=now, created_by_id=actor.id if actor is not None else None,
        expires_at=now + timedelta(days=int(current_app.config["SUPERVISOR_LINK_DAYS"])))
    db.session.add(link)
    db.session.flush()
    return link, token


def link_url(token: str) -> str:
    """The address of a link in an e-mail."""
    return site_url(f"/reviews/supervise/{token}")


class LinkRefused(DomainError):
    """A supervisor's link cannot be used (any more): `gone` when it once worked."""

    def __init__(self, message: str, *, gone: bool = True) -> None:
        super().__init__(message)
        self.gone = gone


@dataclass
class LinkUse:
    """A link that checks out, with what it covers."""

    link: SupervisorLink
    supervisor: PlacementSupervisor
    placement: Placement
    scope: SupervisorScope
    review: PlacementReview | None = None


INVALID_LINK = ("This link is not valid. Check that you copied the whole link from the "
                "e-mail, or ask the employer for a new one.")


def link_refusal(link: SupervisorLink, now: datetime | None = None) -> str | None:
    """Why a stored link does not work now (None when it does): withdrawn, used up,
    expired, its placement no longer with the supervisor's employer, its review no longer
    waiting for the supervisor. The one rule behind the link pages and the officer's list."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return ("This link has been withdrawn. The employer or the placement officer can "
                "send you a new one.")
    if link.used_at is not None:
        return (f"This link has already been used: the review was submitted on "
                f"{_uk(link.used_at.date())}. Each review link works once.")
    if now >= link.expires_at:
        return (f"This link expired on {_uk(link.expires_at.date())}. The weekly e-mail "
                "brings new links, or the employer can send you one now.")
    supervisor = link.supervisor
    placement = supervisor.placement
    if not access.supervisor_acts_on(_scope_of(supervisor), placement):
        return ("This placement is no longer running with your organisation, so this link "
                "no longer works.")
    if link.purpose == LinkTask.REVIEW:
        review = link.review
        assert review is not None
        if review.plan.placement_id != placement.id or not rules.plan_is_live(review.plan):
            return "This review is no longer needed, so this link no longer works."
        if review.status == ReviewStatus.WAIVED:
            return "The placement officer has decided this review is not needed."
        if not rules.awaits(review.status, SUP):
            return "The supervisor's part of this review has already been submitted."
    return None


def _scope_of(supervisor: PlacementSupervisor, address: str = "") -> SupervisorScope:
    return SupervisorScope(supervisor_id=supervisor.id, placement_id=supervisor.placement_id,
                           employer_id=supervisor.employer_id, name=supervisor.name,
                           address=address)


def resolve_link(token: str, purpose: LinkTask | None = None, *, address: str = "",
                 now: datetime | None = None) -> LinkUse:
    """Check a link: its signature, that it was issued (for this purpose), and that it works
    now (`link_refusal`); LinkRefused otherwise, saying why."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        raise LinkRefused(INVALID_LINK, gone=False) from None
    if not isinstance(payload, dict) or (purpose is not None
                                         and payload.get("p") != purpose.value):
        raise LinkRefused(INVALID_LINK, gone=False)
    link = db.session.scalar(sa.select(SupervisorLink).where(
        SupervisorLink.token_hash == token_hash(token)))
    if link is None or link.purpose.value != payload.get("p"):
        raise LinkRefused(INVALID_LINK, gone=False)
    refusal = link_refusal(link, now)
    if refusal is not None:
        raise LinkRefused(refusal)
    supervisor = link.supervisor
    return LinkUse(link=link, supervisor=supervisor, placement=supervisor.placement,
                   scope=_scope_of(supervisor, address),
                   review=link.review if link.purpose == LinkTask.REVIEW else None)


def link_state(link: SupervisorLink, now: datetime | None = None) -> str:
    """A link's state in a few words, for the officer's and the employer's pages."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return "Withdrawn"
    if link.used_at is not None:
        return f"Used {_uk(link.used_at.date())}"
    if now >= link.expires_at:
        return f"Expired {_uk(link.expires_at.date())}"
    if link_refusal(link, now) is not None:
        return "No longer needed"
    return f"Works until {_uk(link.expires_at.date())}"


def _spend(use: LinkUse, action: str, *, consume: bool = False, **detail: Any) -> None:
    """Count one use of a link (atomically: a link revoked or used up meanwhile refuses) and
    audit it with the client's address."""
    now = utcnow()
    values: dict[str, Any] = {"uses": SupervisorLink.uses + 1, "last_used_at": now}
    if consume:
        values["used_at"] = now
    result = db.session.execute(sa.update(SupervisorLink).where(
        SupervisorLink.id == use.link.id, SupervisorLink.revoked_at.is_(None),
        SupervisorLink.used_at.is_(None), SupervisorLink.expires_at > now).values(values),
        execution_options={"synchronize_session": False})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused("This link has just been used or withdrawn: nothing was changed.")
    audit.record(None, "supervisor_link.used", use.link, round_id=use.placement.round_id,
                 did=action, purpose=use.link.purpose, supervisor_id=use.supervisor.id,
                 supervisor=use.supervisor.name, placement_id=use.placement.id,
                 address=use.scope.address, **detail)


def pending_hours(placement: Placement) -> list[HoursEntry]:
    """The placement's hours waiting for its supervisor, oldest first."""
    return list(db.session.scalars(sa.select(HoursEntry).where(
        HoursEntry.placement_id == placement.id, HoursEntry.kind == HoursKind.PLACEMENT,
        HoursEntry.status == HoursStatus.PENDING).order_by(HoursEntry.entry_date,
                                                           HoursEntry.id)))


def decided_hours(placement: Placement, limit: int = 10) -> list[HoursEntry]:
    """The placement's hours decided most recently."""
    return list(db.session.scalars(sa.select(HoursEntry).where(
        HoursEntry.placement_id == placement.id, HoursEntry.kind == HoursKind.PLACEMENT,
        HoursEntry.status != HoursStatus.PENDING)
        .order_by(HoursEntry.verified_at.desc(), HoursEntry.id.desc()).limit(limit)))


def _placement_entry(use: LinkUse, entry_id: int) -> HoursEntry:
    entry = db.session.get(HoursEntry, entry_id)
    if entry is None or entry.placement_id != use.placement.id:
        raise NotAllowed("These hours are not on this placement")
    return entry


def entry_for_link(use: LinkUse, entry_id: int) -> HoursEntry:
    """An hours entry of the link's placement (NotAllowed otherwise)."""
    return _placement_entry(use, entry_id)


def supervisor_verifies(use: LinkUse, entry_id: int) -> HoursEntry:
    """Verify one of the placement's pending entries through an hours link."""
    entry = _placement_entry(use, entry_id)
    hours.verify_entry(use.scope, entry)
    _spend(use, "hours_verified", entry_id=entry.id)
    return entry


def supervisor_rejects(use: LinkUse, entry_id: int, reason: str) -> HoursEntry:
    """Reject one of the placement's pending entries through an hours link, saying why."""
    entry = _placement_entry(use, entry_id)
    hours.reject_entry(use.scope, entry, reason)
    _spend(use, "hours_rejected", entry_id=entry.id)
    return entry


def supervisor_reviews(use: LinkUse, data: PartData, *, today: date | None = None
                       ) -> ReviewPart:
    """Submit the supervisor's part of the link's review; the link is then used up."""
    if use.review is None:
        raise LinkRefused(INVALID_LINK, gone=False)
    try:
        part = submit_part(use.scope, use.review, SUP, data, today=today)
    except IllegalTransition as exc:  # submitted meanwhile (another tab, a double click)
        raise LinkRefused(exc.message) from None
    _spend(use, "review_submitted", consume=True, review_id=use.review.id,
           kind=use.review.kind)
    return part


def supervisor_raises(use: LinkUse, category: str, description: str) -> Concern:
    """Raise a concern about the link's placement."""
    concern = raise_concern(use.scope, use.placement, category, description)
    _spend(use, "concern_raised", concern_id=concern.id)
    return concern


# --- sending links ------------------------------------------------------------------------

@dataclass
class SupervisorTasks:
    """What waits for one supervisor on one placement."""

    supervisor: PlacementSupervisor
    placement: Placement
    hours: list[HoursEntry] = field(default_factory=list)
    reviews: list[PlacementReview] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.hours or self.reviews)


def supervisor_tasks(supervisor: PlacementSupervisor, today: date | None = None
                     ) -> SupervisorTasks:
    """Pending hours and the reviews whose window is open and wait for the supervisor."""
    today = today or today_uk()
    placement = supervisor.placement
    tasks = SupervisorTasks(supervisor=supervisor, placement=placement)
    if not access.supervisor_acts_on(_scope_of(supervisor), placement):
        return tasks
    tasks.hours = pending_hours(placement)
    plan = current_plan(placement)
    if plan is not None and plan.employer_id == supervisor.employer_id:
        tasks.reviews = [r for r in plan.reviews if rules.awaits(r.status, SUP)
                         and rules.is_open(r.kind, r.due_date, today)]
    return tasks


def _task_lines(tasks: SupervisorTasks, actor: User | None, today: date) -> list[str]:
    """Lines of an e-mail for one placement, issuing the links they need."""
    p = tasks.placement
    offer = p.offer
    lines = [f"{p.learner.user.name}: {offer.title} at {offer.employer.name} "
             f"({_uk(offer.start_date)} to {_uk(offer.end_date)})"]
    _link, token = issue_link(tasks.supervisor, LinkTask.HOURS, actor=actor)
    if tasks.hours:
        total = sum(e.quarter_hours for e in tasks.hours)
        days = len(tasks.hours)
        lines.append(f"- {days} day{'s' if days != 1 else ''} of hours to verify "
                     f"({total / 4:g} hours): {link_url(token)}")
    else:
        lines.append(f"- No hours are waiting. To verify hours later or raise a concern: "
                     f"{link_url(token)}")
    for review in tasks.reviews:
        _link, token = issue_link(tasks.supervisor, LinkTask.REVIEW, review=review,
                                  actor=actor)
        late = " (overdue)" if rules.is_overdue(review.status, review.due_date, today) else ""
        lines.append(f"- {review.kind.label}, due {_uk(review.due_date)}{late}: "
                     f"{link_url(token)}")
    return lines


_FOOTER = (
    "Each link does one thing, only for this placement, and works for {days} days; a review "
    "link works once. You do not need an account. If something about the learner worries "
    "you, open the hours link and raise a concern, or call their placement officer.")


def send_links(actor: User | None, supervisor: PlacementSupervisor, *, intro: bool = False,
               today: date | None = None) -> SupervisorTasks:
    """E-mail a supervisor their links now (hours, and each review open for them)."""
    placement = supervisor.placement
    if actor is not None and actor.role == Role.OFFICER:
        _check_officer_cares(actor, placement)
    elif actor is not None:
        _check_host(actor, placement)
        if actor.employer_id != supervisor.employer_id:
            raise NotAllowed("This supervisor is not one of yours")
    if not access.supervisor_acts_on(_scope_of(supervisor), placement):
        raise DomainError("This placement is no longer running with this employer")
    today = today or today_uk()
    tasks = supervisor_tasks(supervisor, today)
    employer = placement.offer.employer
    if intro:
        opening = (f"{employer.name} has named you as the workplace supervisor of "
                   f"{placement.learner.user.name} on their work placement. You can verify "
                   "their hours and complete their reviews from the links below.")
    else:
        opening = (f"Here are your links as the workplace supervisor of "
                   f"{placement.learner.user.name} at {employer.name}.")
    body = "\n".join([f"Hello {supervisor.name},", "", opening, "",
                      *_task_lines(tasks, actor, today), "",
                      _FOOTER.format(days=current_app.config["SUPERVISOR_LINK_DAYS"])])
    send_mail(supervisor.email, f"Work placement supervisor: {placement.learner.user.name}",
              body + "\n", provider_id=placement.learner.provider_id,
              round_id=placement.round_id)
    audit.record(actor, "supervisor.links_sent", supervisor, round_id=placement.round_id,
                 placement_id=placement.id, hours=len(tasks.hours),
                 reviews=[r.id for r in tasks.reviews], intro=intro)
    return tasks


def weekly_digest(today: date | None = None) -> dict[str, int]:
    """E-mail every supervisor what waits for them (one e-mail per address, with fresh
    links). Supervisors with nothing waiting get nothing."""
    today = today or today_uk()
    supervisors = db.session.scalars(
        sa.select(PlacementSupervisor)
        .join(Placement, Placement.id == PlacementSupervisor.placement_id)
        .join(PlacementOffer, PlacementOffer.id == Placement.offer_id)
        .where(Placement.status.in_([s.value for s in rules.LIVE]),
               PlacementOffer.employer_id == PlacementSupervisor.employer_id)
        .order_by(PlacementSupervisor.email, PlacementSupervisor.id)).all()
    by_address: dict[str, list[SupervisorTasks]] = defaultdict(list)
    for supervisor in supervisors:
        tasks = supervisor_tasks(supervisor, today)
        if not tasks.empty:
            by_address[supervisor.email].append(tasks)
    sent = links = 0
    days = current_app.config["SUPERVISOR_LINK_DAYS"]
    for address, items in sorted(by_address.items()):
        lines = [f"Hello {items[0].supervisor.name},", "",
                 "Here is what is waiting for you this week as a workplace supervisor on "
                 "Placements.", ""]
        for tasks in items:
            lines += [*_task_lines(tasks, None, today), ""]
            links += 1 + len(tasks.reviews)
        lines.append(_FOOTER.format(days=days))
        first = items[0].placement
        send_mail(address, "Work placements: what is waiting for you this week",
                  "\n".join(lines) + "\n", provider_id=first.learner.provider_id)
        sent += 1
    audit.record(None, "supervisor.digest_sent", None, emails=sent, links=links)
    db.session.flush()
    return {"emails": sent, "links": links, "supervisors": len(supervisors)}


# --- concerns -----------------------------------------------------------------------------

Raiser = User | SupervisorScope


def may_raise(raiser: Raiser, placement: Placement) -> bool:
    """Say whether someone may raise a concern about a placement: its learner, an employer
    user or the supervisor of its host, an officer caring for the learner; only while the
    placement is published or accepted."""
    if placement.status not in rules.LIVE:
        return False
    if isinstance(raiser, SupervisorScope):
        return access.supervisor_acts_on(raiser, placement)
    if raiser.role == Role.LEARNER:
        return placement.learner.user_id == raiser.id
    if raiser.role == Role.EMPLOYER:
        return placement.offer.employer_id == raiser.employer_id
    if raiser.role == Role.OFFICER:
        return access.officer_cares_for(raiser, placement)
    return False


_RAISED_BY = {Role.LEARNER: RaisedBy.LEARNER, Role.EMPLOYER: RaisedBy.EMPLOYER,
              Role.OFFICER: RaisedBy.OFFICER}


def raise_concern(raiser: Raiser, placement: Placement, category: str,
                  description: str) -> Concern:
    """Record a concern and e-mail the learner's provider's officers at once."""
    if not may_raise(raiser, placement):
        raise NotAllowed("You cannot raise a concern about this placement")
    try:
        kind = ConcernCategory(category)
    except ValueError:
        raise DomainError("Choose what the concern is about", field="category") from None
    description = (description or "").strip()
    if not description:
        raise DomainError("Describe the concern so the placement officer can act on it",
                          field="description")
    if len(description) > MAX_TEXT:
        raise DomainError(f"Write at most {MAX_TEXT:,} characters", field="description")
    user = raiser if isinstance(raiser, User) else None
    concern = Concern(
        placement_id=placement.id, employer_id=placement.offer.employer_id,
        learner_id=placement.learner_id, round_id=placement.round_id, category=kind,
        description=description,
        raised_by=RaisedBy.SUPERVISOR if user is None else _RAISED_BY[user.role],
        raised_by_user_id=user.id if user is not None else None,
        raised_by_supervisor_id=None if user is not None else raiser.supervisor_id,
        status=ConcernStatus.OPEN, raised_at=utcnow())
    db.session.add(concern)
    db.session.flush()
    detail: dict[str, Any] = {"category": kind, "raised_by": concern.raised_by,
                              "placement_id": placement.id}
    if isinstance(raiser, SupervisorScope):
        detail.update(supervisor_id=raiser.supervisor_id, address=raiser.address)
    audit.record(user, "concern.raised", concern, round_id=placement.round_id, **detail)
    _tell_officers(concern)
    return concern


def _officer_addresses(provider_id: int) -> list[str]:
    return sorted(db.session.scalars(sa.select(User.email).where(
        User.provider_id == provider_id, User.role == Role.OFFICER, User.active.is_(True))))


def _tell_officers(concern: Concern) -> None:
    """E-mail every officer of the learner's provider; the details stay in the service."""
    learner = concern.learner
    url = site_url(f"/reviews/officer/concerns/{concern.id}")
    if concern.category == ConcernCategory.SAFEGUARDING:
        subject = "Safeguarding concern raised about a placement"
        body = ("A safeguarding concern has been raised about a work placement. Sign in to "
                f"read it and take it: {url}\n")
    else:
        subject = f"{concern.category.label} concern: {learner.user.name}"
        body = (f"A {concern.category.label.lower()} concern has been raised by the "
                f"{concern.raised_by.value} about {learner.user.name}'s placement at "
                f"{concern.employer.name}. Sign in to read it and take it: {url}\n")
    for address in _officer_addresses(learner.provider_id) or ["placements-officers@localhost"]:
        send_mail(address, subject, body, provider_id=learner.provider_id,
                  round_id=concern.round_id)


def _check_officer_concern(officer: User, concern: Concern) -> None:
    if officer.role != Role.OFFICER or not access.officer_sees_concern(officer, concern):
        raise NotAllowed("This concern is not one of your provider's")


def officers_of(officer: User) -> list[User]:
    """The active officers of the officer's provider (who can own a concern)."""
    return list(db.session.scalars(sa.select(User).where(
        User.provider_id == officer.provider_id, User.role == Role.OFFICER,
        User.active.is_(True)).order_by(User.name)))


def assign_concern(officer: User, concern: Concern, owner: User) -> None:
    """Give a concern an owner (an officer of the same provider): `take` or `reassign`."""
    _check_officer_concern(officer, concern)
    if owner.role != Role.OFFICER or owner.provider_id != officer.provider_id \
            or not owner.active:
        raise DomainError("Choose an officer of your provider", field="owner_id")
    if concern.status == ConcernStatus.IN_HAND and concern.owner_id == owner.id:
        raise DomainError(f"{owner.name} already owns this concern", field="owner_id")
    verb = "take" if concern.status == ConcernStatus.OPEN else "reassign"
    previous = concern.owner_id
    rules.CONCERN.apply(concern, verb, actor=officer, values={"owner_id": owner.id},
                        round_id=concern.round_id, owner_id=owner.id, previous=previous)
    if owner.id != officer.id:
        send_mail(owner.email, "A concern has been passed to you",
                  f"{officer.name} has passed you a {concern.category.label.lower()} concern "
                  f"about a placement. Sign in to read it: "
                  f"{site_url(f'/reviews/officer/concerns/{concern.id}')}\n",
                  provider_id=officer.provider_id, round_id=concern.round_id)


def note_concern(officer: User, concern: Concern, note: str) -> None:
    """Add a note of what was done to the concern's history (the audit trail)."""
    _check_officer_concern(officer, concern)
    note = (note or "").strip()
    if not note:
        raise DomainError("Write the note", field="note")
    if len(note) > MAX_TEXT:
        raise DomainError(f"Write at most {MAX_TEXT:,} characters", field="note")
    if concern.status == ConcernStatus.CLOSED:
        raise DomainError("This concern is closed: reopen it to add notes", field="note")
    audit.record(officer, "concern.noted", concern, round_id=concern.round_id, note=note)


def close_concern(officer: User, concern: Concern, outcome: str) -> None:
    """Close a concern with its outcome (whoever closes an unowned one owns it)."""
    _check_officer_concern(officer, concern)
    outcome = (outcome or "").strip()
    if not outcome:
        raise DomainError("Describe the outcome", field="outcome")
    if len(outcome) > MAX_TEXT:
        raise DomainError(f"Write at most {MAX_TEXT:,} characters", field="outcome")
    rules.CONCERN.apply(concern, "close", actor=officer, values={
        "outcome": outcome, "closed_at": utcnow(), "owner_id": concern.owner_id or officer.id},
        round_id=concern.round_id, outcome=outcome)


def reopen_concern(officer: User, concern: Concern, reason: str) -> None:
    """Reopen a closed concern (the officer who reopens it owns it)."""
    _check_officer_concern(officer, concern)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the concern is reopened", field="reason")
    rules.CONCERN.apply(concern, "reopen", actor=officer, values={
        "closed_at": None, "owner_id": officer.id}, round_id=concern.round_id, reason=reason,
        previous_outcome=concern.outcome)


def concern_history(concern: Concern) -> list[Any]:
    """The concern's audit trail, oldest first (raised, taken, notes, closed, ...)."""
    from placements.models import AuditEvent

    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "Concern", AuditEvent.object_id == concern.id)
        .order_by(AuditEvent.at, AuditEvent.id)))


def concerns_about(placement: Placement) -> list[Concern]:
    """Every concern about a placement, newest first (officers only)."""
    return list(db.session.scalars(sa.select(Concern).where(
        Concern.placement_id == placement.id).order_by(Concern.raised_at.desc())))


def employer_concerns(user: User, placement: Placement | None = None) -> list[Concern]:
    """Concerns an employer user may read, newest first (one placement's, or all)."""
    stmt = sa.select(Concern).where(access.employer_concerns_sql(user))
    if placement is not None:
        stmt = stmt.where(Concern.placement_id == placement.id)
    return list(db.session.scalars(stmt.order_by(Concern.raised_at.desc()).limit(200)))


def learner_concerns(learner: Learner) -> list[Concern]:
    """The concerns the learner raised, newest first."""
    return list(db.session.scalars(sa.select(Concern).where(
        access.learner_concerns_sql(learner)).order_by(Concern.raised_at.desc())))


# --- officers: what needs attention -------------------------------------------------------

@dataclass
class Tally:
    """Overdue reviews and unresolved concerns under one heading (a round, an employer)."""

    id: int
    name: str
    overdue: int = 0
    concerns: int = 0
    safeguarding: int = 0


@dataclass
class Attention:
    """What an officer should look at: overdue reviews and unresolved concerns."""

    overdue: list[tuple[PlacementReview, ReviewState]]
    overdue_total: int
    concerns: list[Concern]
    concerns_total: int
    by_round: list[Tally]
    by_employer: list[Tally]
    today: date


def _overdue_stmt(officer: User, today: date, round_id: int | None,
                  employer_id: int | None) -> Any:
    stmt = (sa.select(PlacementReview).select_from(PlacementReview)
            .join(ReviewPlan, ReviewPlan.id == PlacementReview.plan_id)
            .join(Placement, Placement.id == ReviewPlan.placement_id)
            .join(Learner, Learner.id == ReviewPlan.learner_id)
            .where(rules.overdue_sql(today), rules.plan_live_sql(),
                   access.officer_learners_sql(officer)))
    if round_id is not None:
        stmt = stmt.where(ReviewPlan.round_id == round_id)
    if employer_id is not None:
        stmt = stmt.where(ReviewPlan.employer_id == employer_id)
    return stmt


def _concerns_stmt(officer: User, round_id: int | None, employer_id: int | None
                   ) -> Any:
    stmt = sa.select(Concern).select_from(Concern).where(
        Concern.status.in_([s.value for s in rules.UNRESOLVED]),
        access.officer_concerns_sql(officer))
    if round_id is not None:
        stmt = stmt.where(Concern.round_id == round_id)
    if employer_id is not None:
        stmt = stmt.where(Concern.employer_id == employer_id)
    return stmt


def attention(officer: User, *, round_id: int | None = None, employer_id: int | None = None,
              today: date | None = None, limit: int = 100) -> Attention:
    """Overdue reviews and unresolved concerns of the officer's provider's learners, most
    pressing first, with counts per round and per employer."""
    today = today or today_uk()
    overdue_q = _overdue_stmt(officer, today, round_id, employer_id)
    overdue = list(db.session.scalars(
        overdue_q.options(selectinload(PlacementReview.plan).selectinload(ReviewPlan.learner)
                          .selectinload(Learner.user),
                          selectinload(PlacementReview.plan).selectinload(ReviewPlan.employer))
        .order_by(PlacementReview.due_date, PlacementReview.id).limit(limit)))
    overdue_total = db.session.scalar(sa.select(sa.func.count()).select_from(
        overdue_q.subquery())) or 0
    concerns_q = _concerns_stmt(officer, round_id, employer_id)
    safeguarding_first = sa.case((Concern.category == ConcernCategory.SAFEGUARDING.value, 0),
                                 else_=1)
    concerns = list(db.session.scalars(concerns_q.order_by(
        safeguarding_first, sa.case((Concern.status == ConcernStatus.OPEN.value, 0), else_=1),
        Concern.raised_at).limit(limit)))
    concerns_total = db.session.scalar(sa.select(sa.func.count()).select_from(
        concerns_q.subquery())) or 0
    return Attention(
        overdue=[(r, review_state(r, today)) for r in overdue], overdue_total=overdue_total,
        concerns=concerns, concerns_total=concerns_total,
        by_round=_tallies(officer, today, ReviewPlan.round_id, Concern.round_id,
                          AllocationRound, round_id, employer_id),
        by_employer=_tallies(officer, today, ReviewPlan.employer_id, Concern.employer_id,
                             Employer, round_id, employer_id),
        today=today)


def _tallies(officer: User, today: date, plan_key: Any, concern_key: Any, model: Any,
             round_id: int | None, employer_id: int | None) -> list[Tally]:
    out: dict[int, Tally] = {}
    overdue = _overdue_stmt(officer, today, round_id, employer_id).with_only_columns(
        plan_key, sa.func.count()).group_by(plan_key)
    for key, n in db.session.execute(overdue):
        out.setdefault(key, Tally(key, "")).overdue = n
    is_sg = sa.case((Concern.category == ConcernCategory.SAFEGUARDING.value, 1), else_=0)
    concerns = _concerns_stmt(officer, round_id, employer_id).with_only_columns(
        concern_key, sa.func.count(), sa.func.sum(is_sg)).group_by(concern_key)
    for key, n, sg in db.session.execute(concerns):
        tally = out.setdefault(key, Tally(key, ""))
        tally.concerns, tally.safeguarding = n, int(sg or 0)
    if out:
        names: dict[int, str] = dict(db.session.execute(sa.select(model.id, model.name).where(
            model.id.in_(list(out)))).all())
        for tally in out.values():
            tally.name = names.get(tally.id, "")
    return sorted(out.values(), key=lambda t: (-t.concerns - t.overdue, t.name))


def attention_counts(officer: User, today: date | None = None) -> tuple[int, int]:
    """(overdue reviews, unresolved concerns) of the officer's provider's learners."""
    today = today or today_uk()
    overdue = db.session.scalar(sa.select(sa.func.count()).select_from(
        _overdue_stmt(officer, today, None, None).subquery())) or 0
    concerns = db.session.scalar(sa.select(sa.func.count()).select_from(
        _concerns_stmt(officer, None, None).subquery())) or 0
    return overdue, concerns


def filter_choices(officer: User) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(rounds, employers) that have review plans of the officer's provider's learners."""
    base = (sa.select(ReviewPlan.round_id, ReviewPlan.employer_id)
            .join(Learner, Learner.id == ReviewPlan.learner_id)
            .where(access.officer_learners_sql(officer)).distinct().subquery())
    rounds = db.session.execute(sa.select(AllocationRound.id, AllocationRound.name).where(
        AllocationRound.id.in_(sa.select(base.c.round_id))).order_by(AllocationRound.name))
    employers = db.session.execute(sa.select(Employer.id, Employer.name).where(
        Employer.id.in_(sa.select(base.c.employer_id))).order_by(Employer.name))
    return [tuple(r) for r in rounds], [tuple(e) for e in employers]  # type: ignore[misc]


# --- lists for each role ------------------------------------------------------------------

def officer_placement(officer: User, placement_id: int) -> Placement | None:
    """A placement whose reviews the officer follows (None when not theirs)."""
    placement = db.session.get(Placement, placement_id)
    if placement is None or placement.status == PlacementStatus.PROPOSED \
            or not access.officer_cares_for(officer, placement):
        return None
    return placement


def host_placement(user: User, placement_id: int) -> Placement | None:
    """A placement running at the employer user's organisation (None otherwise)."""
    placement = db.session.get(Placement, placement_id)
    if placement is None or user.role != Role.EMPLOYER \
            or placement.offer.employer_id != user.employer_id \
            or placement.status not in rules.LIVE:
        return None
    return placement


@dataclass
class PlanRow:
    """One running placement in a list: its plan, supervisor and how its reviews stand."""

    plan: ReviewPlan
    supervisor: PlacementSupervisor | None
    states: list[ReviewState]

    @property
    def next_state(self) -> ReviewState | None:
        return next((s for s in self.states if s.review.status in rules.WAITING), None)

    @property
    def overdue(self) -> int:
        return sum(s.overdue for s in self.states)


def _rows(plans: Sequence[ReviewPlan], today: date) -> list[PlanRow]:
    ids = [p.placement_id for p in plans]
    supervisors = {(s.placement_id, s.employer_id): s for s in db.session.scalars(
        sa.select(PlacementSupervisor).where(PlacementSupervisor.placement_id.in_(ids)))
    } if ids else {}
    return [PlanRow(plan=p, supervisor=supervisors.get((p.placement_id, p.employer_id)),
                    states=plan_states(p, today)) for p in plans]


def _live_plans(*where: Any) -> sa.Select[ReviewPlan]:
    return (sa.select(ReviewPlan).join(Placement, Placement.id == ReviewPlan.placement_id)
            .where(rules.plan_live_sql(), *where)
            .options(selectinload(ReviewPlan.reviews), selectinload(ReviewPlan.offer),
                     selectinload(ReviewPlan.learner).selectinload(Learner.user),
                     selectinload(ReviewPlan.round))
            .order_by(ReviewPlan.round_id.desc(), ReviewPlan.id))


def employer_rows(user: User, today: date | None = None) -> list[PlanRow]:
    """The placements running at the employer user's organisation, with their reviews."""
    return _rows(list(db.session.scalars(_live_plans(
        ReviewPlan.employer_id == user.employer_id))), today or today_uk())


def learner_rows(learner: Learner, today: date | None = None) -> list[PlanRow]:
    """The learner's running placements, with their reviews."""
    return _rows(list(db.session.scalars(_live_plans(ReviewPlan.learner_id == learner.id))),
                 today or today_uk())


def plan_row(plan: ReviewPlan, today: date | None = None) -> PlanRow:
    """One plan as a row."""
    return _rows([plan], today or today_uk())[0]


def links_of(supervisor: PlacementSupervisor, limit: int = 20) -> list[SupervisorLink]:
    """A supervisor's links, newest first (what was sent, used, revoked)."""
    return list(db.session.scalars(sa.select(SupervisorLink).where(
        SupervisorLink.supervisor_id == supervisor.id)
        .order_by(SupervisorLink.created_at.desc(), SupervisorLink.id.desc()).limit(limit)))


def link_uses(placement: Placement, limit: int = 50) -> list[Any]:
    """The audit trail of supervisor links used on a placement, newest first."""
    from placements.models import AuditEvent

    link_ids = (sa.select(SupervisorLink.id)
                .join(PlacementSupervisor,
                      PlacementSupervisor.id == SupervisorLink.supervisor_id)
                .where(PlacementSupervisor.placement_id == placement.id))
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "SupervisorLink", AuditEvent.object_id.in_(link_ids),
        AuditEvent.action == "supervisor_link.used")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


# --- employers' hosting record ------------------------------------------------------------

@dataclass
class HostingRound:
    """How one employer's placements in one round went, from the reviews."""

    round_id: int
    round_name: str
    placed: int = 0
    finals: int = 0
    host_again_yes: int = 0
    host_again_no: int = 0
    recommendations: dict[str, int] = field(default_factory=dict)
    concerns: int = 0
    overdue: int = 0


def hosting_records(employer_ids: Iterable[int], today: date | None = None, *,
                    providers: Iterable[int] | None = None) -> dict[int, list[HostingRound]]:
    """Per employer, per round (newest first): learners placed, final reviews completed,
    "would host again" answers, the supervisors' recommendations and concerns raised; only
    of the learners of `providers` when given (an officer's partnership)."""
    ids = sorted(set(employer_ids))
    if not ids:
        return {}
    today = today or today_uk()
    mine: list[Any] = []
    if providers is not None:
        learners = sa.select(Learner.id).where(Learner.provider_id.in_(sorted(set(providers))))
        mine = [ReviewPlan.learner_id.in_(learners)]
        concerns_mine = [Concern.learner_id.in_(learners)]
    else:
        concerns_mine = []
    rounds: dict[tuple[int, int], HostingRound] = {}
    names: dict[int, str] = dict(db.session.execute(
        sa.select(AllocationRound.id, AllocationRound.name).where(AllocationRound.id.in_(
            sa.select(ReviewPlan.round_id).where(ReviewPlan.employer_id.in_(ids))))).all())

    def row(employer_id: int, round_id: int) -> HostingRound:
        key = (employer_id, round_id)
        if key not in rounds:
            rounds[key] = HostingRound(round_id, names.get(round_id, ""))
        return rounds[key]

    for e, r, n in db.session.execute(
            sa.select(ReviewPlan.employer_id, ReviewPlan.round_id, sa.func.count())
            .where(ReviewPlan.employer_id.in_(ids), *mine)
            .group_by(ReviewPlan.employer_id, ReviewPlan.round_id)):
        row(e, r).placed = n
    finals = (sa.select(ReviewPlan.employer_id, ReviewPlan.round_id,
                        ReviewPart.would_host_again, ReviewPart.recommendation,
                        sa.func.count())
              .join(PlacementReview, PlacementReview.plan_id == ReviewPlan.id)
              .join(ReviewPart, ReviewPart.review_id == PlacementReview.id)
              .where(ReviewPlan.employer_id.in_(ids), *mine,
                     PlacementReview.kind == ReviewKind.FINAL.value,
                     ReviewPart.side == SUP.value)
              .group_by(ReviewPlan.employer_id, ReviewPlan.round_id,
                        ReviewPart.would_host_again, ReviewPart.recommendation))
    for e, r, again, recommendation, n in db.session.execute(finals):
        h = row(e, r)
        h.finals += n
        if again is True:
            h.host_again_yes += n
        elif again is False:
            h.host_again_no += n
        if recommendation:
            h.recommendations[recommendation] = h.recommendations.get(recommendation, 0) + n
    for e, r, n in db.session.execute(
            sa.select(Concern.employer_id, Concern.round_id, sa.func.count())
            .where(Concern.employer_id.in_(ids), *concerns_mine)
            .group_by(Concern.employer_id, Concern.round_id)):
        row(e, r).concerns = n
    for e, r, n in db.session.execute(
            sa.select(ReviewPlan.employer_id, ReviewPlan.round_id, sa.func.count())
            .join(PlacementReview, PlacementReview.plan_id == ReviewPlan.id)
            .join(Placement, Placement.id == ReviewPlan.placement_id)
            .where(ReviewPlan.employer_id.in_(ids), *mine, rules.overdue_sql(today),
                   rules.plan_live_sql())
            .group_by(ReviewPlan.employer_id, ReviewPlan.round_id)):
        row(e, r).overdue = n
    out: dict[int, list[HostingRound]] = defaultdict(list)
    for (e, _r), h in sorted(rounds.items(), key=lambda kv: -kv[0][1]):
        out[e].append(h)
    return dict(out)


@dataclass(frozen=True)
class HostingSummary:
    """An employer's record across every round, in one line."""

    placed: int
    host_again_yes: int
    host_again_no: int

    @property
    def words(self) -> str:
        answered = self.host_again_yes + self.host_again_no
        text = f"{self.placed} learner{'s' if self.placed != 1 else ''} hosted"
        if answered:
            text += f", would host again in {self.host_again_yes} of {answered} final reviews"
        return text


def hosting_summaries(employer_ids: Iterable[int], *, providers: Iterable[int] | None = None
                      ) -> dict[int, HostingSummary]:
    """`hosting_records` added up across rounds, per employer."""
    out = {}
    for employer_id, rows in hosting_records(employer_ids, providers=providers).items():
        out[employer_id] = HostingSummary(
            placed=sum(r.placed for r in rows),
            host_again_yes=sum(r.host_again_yes for r in rows),
            host_again_no=sum(r.host_again_no for r in rows))
    return out
