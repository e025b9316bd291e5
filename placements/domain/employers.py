"""The employer approval lifecycle: officers approve or reject an employer that registered.

States (`Employer.status`)::

    awaiting --approve--> approved
        |  ^
      reject `--ask_again-- rejected
        v                     ^
    rejected -----------------'

An employer registers (or is imported by an officer, approved at once) and waits for a
placement officer. The officer approves it, and its open offers become open to learners'
choices (`placements.domain.offers`), or rejects it with a reason in words meant for the
employer. A rejected employer's users still sign in: they see the reason, change what it
asks for (sites, offers, details) and ask again with a note of what changed, and the
employer is awaiting a decision once more. Offers of an employer that is not approved are
never open to choices, whatever their own state.

Two officers deciding at once decide once: `EMPLOYER.apply` changes the row with a
conditional UPDATE (see `placements.domain.lifecycle`), the loser changes nothing, sends no
e-mail and is told what the other decided.

Who decides: every placement officer, for every employer (`domain.access`): an employer
registers once for the whole service and takes learners of any provider.
"""

from __future__ import annotations

from typing import Any

from placements.domain.errors import DomainError
from placements.domain.lifecycle import Lifecycle, move
from placements.models import Employer, EmployerStatus, User, utcnow

S = EmployerStatus

TRANSITIONS = [
    move("approve", [S.AWAITING], S.APPROVED, event="approved"),
    move("reject", [S.AWAITING], S.REJECTED, event="rejected"),
    move("ask_again", [S.REJECTED], S.AWAITING, event="asked_again"),
]

#: The status in words, for officers and for the employer's own users.
STATUS_WORDS = {
    S.AWAITING: "Awaiting approval",
    S.APPROVED: "Approved",
    S.REJECTED: "Not approved",
}

#: The GOV.UK tag colour of each status.
STATUS_COLOURS = {S.AWAITING: "yellow", S.APPROVED: "green", S.REJECTED: "red"}

#: Longest reason or note kept (a few paragraphs).
MAX_TEXT = 2000


def _refusal(verb: str, status: Any, _sub: Any) -> str:
    if verb in ("approve", "reject"):
        if status == S.APPROVED:
            return "This employer is already approved"
        if status == S.REJECTED:
            return ("This employer has already been rejected; it can ask for approval again "
                    "once it has made changes")
    if verb == "ask_again":
        if status == S.AWAITING:
            return "Your organisation is already waiting for a placement officer's decision"
        if status == S.APPROVED:
            return "Your organisation is already approved"
    return "That cannot be done to this employer now"


EMPLOYER: Lifecycle[EmployerStatus] = Lifecycle("employer", Employer, TRANSITIONS,
                                                refusal=_refusal)


def _text(value: str | None, *, field: str, missing: str, too_long: str) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(missing, field=field)
    if len(text) > MAX_TEXT:
        raise DomainError(too_long, field=field)
    return text


def approve(officer: User, employer: Employer) -> None:
    """Approve an employer awaiting a decision: its open offers open to choices."""
    now = utcnow()
    EMPLOYER.apply(employer, "approve", actor=officer, name=employer.name,
                   values={"approved_at": now, "approved_by_id": officer.id,
                           "status_changed_at": now, "rejection_reason": None})


def reject(officer: User, employer: Employer, reason: str) -> None:
    """Reject an employer awaiting a decision, with a reason meant for the employer."""
    text = _text(reason, field="reason",
                 missing="Enter the reason, in words the employer will read",
                 too_long=f"The reason must be {MAX_TEXT} characters or fewer")
    EMPLOYER.apply(employer, "reject", actor=officer, name=employer.name, reason=text,
                   values={"rejection_reason": text, "status_changed_at": utcnow()})


def ask_again(user: User, employer: Employer, note: str) -> None:
    """A rejected employer asks for approval again, saying what it has changed."""
    text = _text(note, field="note",
                 missing="Tell the placement officers what you have changed",
                 too_long=f"What you have changed must be {MAX_TEXT} characters or fewer")
    EMPLOYER.apply(employer, "ask_again", actor=user, note=text,
                   values={"resubmission_note": text, "status_changed_at": utcnow()})
