"""KSB rules: which links count, what a programme expects from work-integrated learning,
the gaps of a coverage matrix, a learner's progress, an offer's coverage, and the
lifecycles of suggested links and of learners' evidence.

- **Only confirmed links count.** A module's (or an offer's) link to a KSB is suggested by
  the engine (or added by hand), then confirmed or rejected by a person
  (`MODULE_LINK`, `OFFER_LINK`: conditional UPDATEs, so two people deciding at once cannot
  both win).
- **Work-integrated KSBs of a programme** (`expected_of`, `expected_sql`): the KSBs that a
  confirmed link ties to one of its work-integrated parts (placement, live brief,
  simulated work). These are the KSBs a learner is expected to show at work.
- **Framed as workplace KSBs** (`framed_as_workplace`, `framed_as_workplace_sql`): skills
  and behaviours. An occupational standard's skills say what the person does in the job
  and its behaviours how they work with others; knowledge can be taught and assessed in
  a classroom. A skill or behaviour that only taught modules cover is a gap.
- **Gaps** (`gap_of`): a KSB no part of the programme covers; a workplace KSB that only
  taught modules cover.
- **A learner's progress** (`progress_of`, `confirmed_sql`, `outstanding_sql`): a KSB is
  *confirmed* once a verifier confirmed it with the learner's hours; *evidenced* while the
  learner has tagged it on hours that are not rejected and nobody has confirmed it yet;
  a work-integrated KSB of the programme that is not confirmed is *outstanding*.
- **Evidence** (`EVIDENCE`, `decide_evidence`, `touch_evidence`): the KSBs a learner tags
  on an hours entry are confirmed (or not) by whoever verifies the hours, in the same
  transaction; the evidence record's version makes sure they confirm exactly what they
  saw, even if the learner changes the tags at the same moment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from placements import audit
from placements.domain.errors import ConcurrentChange, DomainError
from placements.domain.lifecycle import Lifecycle, move
from placements.extensions import db
from placements.models import (
    EvidenceStatus,
    HoursEntry,
    HoursStatus,
    Ksb,
    KsbEvidence,
    KsbEvidenceItem,
    KsbKind,
    Learner,
    LinkStatus,
    ModuleKsb,
    OfferKsb,
    ProgrammeModule,
    User,
    utcnow,
)
from placements.models.ksb import Delivery

# --- links: suggested, confirmed, rejected --------------------------------------------------

#: The one status that counts.
COUNTS = LinkStatus.CONFIRMED


def _link_refusal(verb: str, status: Any, _sub: Any) -> str:
    value = getattr(status, "value", status)
    if verb == "confirm" and value == LinkStatus.CONFIRMED:
        return "This KSB has already been confirmed"
    if verb == "reject" and value == LinkStatus.REJECTED:
        return "This KSB has already been rejected"
    return f"This link is {value}"


def _link_transitions() -> list[Any]:
    return [
        move("confirm", [LinkStatus.SUGGESTED, LinkStatus.REJECTED], LinkStatus.CONFIRMED,
             event="confirmed"),
        move("reject", [LinkStatus.SUGGESTED, LinkStatus.CONFIRMED], LinkStatus.REJECTED,
             event="rejected"),
    ]


#: A module's link to a KSB: confirm (a suggestion, or after a rejection), reject (a
#: suggestion, or a confirmed link found wrong).
MODULE_LINK: Lifecycle[LinkStatus] = Lifecycle("module_ksb", ModuleKsb, _link_transitions(),
                                               refusal=_link_refusal)
#: An offer's link to a KSB, decided by the employer.
OFFER_LINK: Lifecycle[LinkStatus] = Lifecycle("offer_ksb", OfferKsb, _link_transitions(),
                                              refusal=_link_refusal)


def counts(status: LinkStatus | str) -> bool:
    """Say whether a link in this status counts (only confirmed links do)."""
    return status == COUNTS


# --- the programme's expectations and gaps ---------------------------------------------------

#: Kinds of KSB an occupational standard frames as shown at work.
WORKPLACE_KINDS = frozenset({KsbKind.SKILL, KsbKind.BEHAVIOUR})
#: The rule in words, for pages and exports.
WORKPLACE_RULE = ("Skills and behaviours describe what someone does at work and how they "
                  "work with others, so the programme should give learners the chance to "
                  "show them in work-integrated learning; knowledge can be taught and "
                  "assessed in the classroom.")


def framed_as_workplace(kind: KsbKind | str) -> bool:
    """Say whether the standard frames a KSB of this kind as shown at work."""
    return KsbKind(kind) in WORKPLACE_KINDS


def framed_as_workplace_sql(kind_column: Any = None) -> sa.ColumnElement[bool]:
    """SQL form of `framed_as_workplace` (a WHERE clause on Ksb.kind by default)."""
    column = Ksb.kind if kind_column is None else kind_column
    return column.in_(sorted(k.value for k in WORKPLACE_KINDS))


class Gap(enum.StrEnum):
    """What is missing in a programme's coverage of one KSB."""

    NOWHERE = "covered nowhere"
    CLASSROOM_ONLY = "classroom only"

    @property
    def explanation(self) -> str:
        if self is Gap.NOWHERE:
            return "No module or work-integrated learning of the programme covers it."
        return ("Only taught modules cover it, but the standard frames it as shown at "
                "work.")


def gap_of(kind: KsbKind | str, classroom: int, work_integrated: int) -> Gap | None:
    """The gap of a KSB that `classroom` taught modules and `work_integrated` work-integrated
    parts of a programme cover through confirmed links (None: no gap)."""
    if classroom <= 0 and work_integrated <= 0:
        return Gap.NOWHERE
    if work_integrated <= 0 and framed_as_workplace(kind):
        return Gap.CLASSROOM_ONLY
    return None


def expected_of(modules: Iterable[ProgrammeModule]) -> set[int]:
    """The work-integrated KSBs (ids) of a programme, from its loaded modules and links."""
    return {link.ksb_id for module in modules if module.delivery.work_integrated
            for link in module.links if counts(link.status)}


def expected_sql() -> sa.Select[int, int]:
    """SQL form of `expected_of`: (programme_id, ksb_id) of every programme's work-integrated
    KSBs, each pair once."""
    return (sa.select(ProgrammeModule.programme_id, ModuleKsb.ksb_id)
            .join(ModuleKsb, ModuleKsb.module_id == ProgrammeModule.id)
            .where(ProgrammeModule.delivery != Delivery.MODULE.value,
                   ModuleKsb.status == COUNTS.value)
            .distinct())


# --- a learner's progress -------------------------------------------------------------------

class Progress(enum.StrEnum):
    """Where a learner stands on one KSB."""

    CONFIRMED = "confirmed"
    EVIDENCED = "evidenced"  # tagged on hours not rejected, not confirmed yet
    OUTSTANDING = "outstanding"  # expected at work, nothing confirmed yet


def progress_of(ksb_id: int, *, expected: set[int], claimed: set[int],
                confirmed: set[int]) -> Progress | None:
    """A learner's standing on one KSB (None: neither expected nor evidenced)."""
    if ksb_id in confirmed:
        return Progress.CONFIRMED
    if ksb_id in claimed:
        return Progress.EVIDENCED
    if ksb_id in expected:
        return Progress.OUTSTANDING
    return None


def learner_evidence_sets(evidence: Iterable[KsbEvidence]) -> tuple[set[int], set[int]]:
    """(claimed, confirmed) KSB ids of a learner's loaded evidence: claimed means tagged on
    hours that are not rejected and not decided yet."""
    claimed: set[int] = set()
    confirmed: set[int] = set()
    for record in evidence:
        rejected = record.entry.status == HoursStatus.REJECTED
        for item in record.items:
            if item.status == EvidenceStatus.CONFIRMED:
                confirmed.add(item.ksb_id)
            elif item.status == EvidenceStatus.CLAIMED and not rejected:
                claimed.add(item.ksb_id)
    return claimed, confirmed


def confirmed_sql() -> sa.Select[int, int]:
    """SQL form of the confirmed half of `learner_evidence_sets`: (learner_id, ksb_id) of
    every KSB confirmed for a learner, each pair once."""
    return (sa.select(KsbEvidence.learner_id, KsbEvidenceItem.ksb_id)
            .join(KsbEvidenceItem, KsbEvidenceItem.evidence_id == KsbEvidence.id)
            .where(KsbEvidenceItem.status == EvidenceStatus.CONFIRMED.value)
            .distinct())


def claimed_sql() -> sa.Select[int, int]:
    """SQL form of the claimed half: (learner_id, ksb_id) tagged on hours not rejected and
    still waiting for a decision, each pair once."""
    return (sa.select(KsbEvidence.learner_id, KsbEvidenceItem.ksb_id)
            .join(KsbEvidenceItem, KsbEvidenceItem.evidence_id == KsbEvidence.id)
            .join(HoursEntry, HoursEntry.id == KsbEvidence.hours_entry_id)
            .where(KsbEvidenceItem.status == EvidenceStatus.CLAIMED.value,
                   HoursEntry.status != HoursStatus.REJECTED.value)
            .distinct())


def outstanding(expected: set[int], confirmed: set[int]) -> set[int]:
    """A learner's outstanding KSBs: expected at work and not confirmed."""
    return expected - confirmed


def outstanding_sql(programme_ids: Iterable[int]) -> sa.Select[int, int]:
    """SQL form of `outstanding` for every learner of some programmes: (learner_id, ksb_id)
    pairs, ordered by learner."""
    expected = expected_sql().subquery("expected")
    confirmed = confirmed_sql().subquery("confirmed")
    return (sa.select(Learner.id, expected.c.ksb_id)
            .join(expected, expected.c.programme_id == Learner.programme_id)
            .outerjoin(confirmed, sa.and_(confirmed.c.learner_id == Learner.id,
                                          confirmed.c.ksb_id == expected.c.ksb_id))
            .where(Learner.programme_id.in_(sorted(set(programme_ids))),
                   confirmed.c.ksb_id.is_(None))
            .order_by(Learner.id, expected.c.ksb_id))


# --- an offer's coverage --------------------------------------------------------------------

def offer_covers(offer_ksbs: set[int], wanted: set[int]) -> set[int]:
    """The wanted KSBs (a programme's work-integrated ones, or a learner's outstanding ones)
    that an offer's confirmed KSBs cover."""
    return offer_ksbs & wanted


def offer_ksbs_sql() -> sa.Select[int, int]:
    """(offer_id, ksb_id) of every offer's confirmed KSBs."""
    return sa.select(OfferKsb.offer_id, OfferKsb.ksb_id).where(OfferKsb.status == COUNTS.value)


def offer_coverage_sql(wanted: Iterable[int]) -> sa.Select[int, int]:
    """SQL form of `offer_covers` over every offer: (offer_id, how many of `wanted` its
    confirmed KSBs cover), for offers covering at least one."""
    return (sa.select(OfferKsb.offer_id, sa.func.count().label("covered"))
            .where(OfferKsb.status == COUNTS.value,
                   OfferKsb.ksb_id.in_(sorted(set(wanted))))
            .group_by(OfferKsb.offer_id))


def problem_code(standard: str, code: str) -> str:
    """A KSB as the allocation problem names it: qualified by its standard ("ST0116:S4"), so
    that S4 of one standard never counts for a learner on another."""
    return f"{standard}:{code}"


# --- evidence: tagged by learners, confirmed by verifiers ------------------------------------

def _evidence_refusal(verb: str, status: Any, _sub: Any) -> str:
    return f"This KSB is already {getattr(status, 'value', status).replace('-', ' ')}"


#: One tagged KSB: confirmed or not confirmed, once, by whoever verifies the hours.
EVIDENCE: Lifecycle[EvidenceStatus] = Lifecycle("ksb_evidence", KsbEvidenceItem, [
    move("confirm", [EvidenceStatus.CLAIMED], EvidenceStatus.CONFIRMED, event="confirmed"),
    move("decline", [EvidenceStatus.CLAIMED], EvidenceStatus.NOT_CONFIRMED,
         event="not_confirmed"),
], refusal=_evidence_refusal)


@dataclass(frozen=True)
class KsbDecision:
    """What a verifier decided about the KSBs tagged on an hours entry: the KSB ids they
    confirm (the others tagged are not confirmed) and the evidence version they saw (0:
    they saw no tags)."""

    confirmed: frozenset[int]
    seen_version: int


def evidence_of(entry_id: int) -> KsbEvidence | None:
    """The evidence record of an hours entry, if the learner wrote one."""
    return db.session.scalar(sa.select(KsbEvidence).where(
        KsbEvidence.hours_entry_id == entry_id))


CHANGED_MEANWHILE = ("The learner changed the KSBs they practised while you were looking: "
                     "check them again")


def touch_evidence(evidence: KsbEvidence, seen_version: int, *,
                   entry_pending: bool = False) -> None:
    """Move the record's version on from the one seen, atomically (a conditional UPDATE);
    with `entry_pending`, only while its hours are still pending. Raises ConcurrentChange
    when someone else changed it first (nothing is changed)."""
    where = [KsbEvidence.id == evidence.id, KsbEvidence.version == seen_version]
    if entry_pending:
        where.append(sa.exists().where(HoursEntry.id == KsbEvidence.hours_entry_id,
                                       HoursEntry.status == HoursStatus.PENDING.value))
    result = db.session.execute(
        sa.update(KsbEvidence).where(*where).values(version=KsbEvidence.version + 1,
                                                    updated_at=utcnow()),
        execution_options={"synchronize_session": False})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.expire(evidence)
        raise ConcurrentChange(CHANGED_MEANWHILE if not entry_pending else
                               "These hours were verified or changed meanwhile: their KSBs "
                               "can no longer change here. Look at them again")
    db.session.expire(evidence, ["version", "updated_at"])


def decide_evidence(actor: Any, entry: HoursEntry, decision: KsbDecision) -> tuple[int, int]:
    """Confirm the tagged KSBs of an hours entry that the verifier ticked and mark the
    others not confirmed, in the caller's transaction; return (confirmed, not confirmed).

    `actor` is the verifier: a User, or anyone with a `name` (a supervisor without an
    account). Raises ConcurrentChange when the tags changed since the verifier saw them
    (version), DomainError when a ticked KSB is not among them.
    """
    evidence = evidence_of(entry.id)
    if evidence is None:
        if decision.seen_version or decision.confirmed:
            raise ConcurrentChange(CHANGED_MEANWHILE)
        return 0, 0
    claimed = [i for i in evidence.items if i.status == EvidenceStatus.CLAIMED]
    if decision.seen_version == 0 and not claimed and not decision.confirmed:
        return 0, 0  # nothing was tagged when they looked, and nothing is now
    touch_evidence(evidence, decision.seen_version)  # the tags they saw, or refused
    tagged = {i.ksb_id for i in claimed}
    unknown = decision.confirmed - tagged
    if unknown:
        raise DomainError("Tick only KSBs the learner tagged on these hours", field="ksb")
    user = actor if isinstance(actor, User) else None
    values = {"decided_by_id": user.id if user is not None else None,
              "decided_by_name": (getattr(actor, "name", "") or "")[:200],
              "decided_at": utcnow()}
    confirm = [(i.id, EvidenceStatus.CLAIMED, None, values) for i in claimed
               if i.ksb_id in decision.confirmed]
    decline = [(i.id, EvidenceStatus.CLAIMED, None, values) for i in claimed
               if i.ksb_id not in decision.confirmed]
    EVIDENCE.apply_many("confirm", confirm)
    EVIDENCE.apply_many("decline", decline)
    codes = dict(db.session.execute(sa.select(Ksb.id, Ksb.code).where(
        Ksb.id.in_(sorted(tagged)))).all())
    audit.record(user, "ksb_evidence.decided", evidence, learner_id=evidence.learner_id,
                 hours_entry_id=entry.id,
                 confirmed=sorted(codes[i] for i in decision.confirmed),
                 not_confirmed=sorted(codes[i] for i in tagged - decision.confirmed),
                 by=None if user is not None else values["decided_by_name"])
    return len(confirm), len(decline)
