"""Learners' checks with dates: declared by the learner, seen and verified by an officer.

`Learner.credentials` (the tags offers and the problem file match on) is derived from the
checks: every change here rewrites it, so the CSV learner import (which still sets tags)
and the checks stay one truth (`sync_from_tags` turns imported tags into undated checks).
Whether a check counts for an offer is `placements.domain.eligibility`'s rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from placements import audit
from placements.domain import DomainError, NotAllowed, access, eligibility
from placements.extensions import db
from placements.models import (
    REQUIREMENTS,
    Learner,
    LearnerCheck,
    LearnerCheckType,
    User,
    utcnow,
)
from placements.timeutil import today_uk

DBS_NUMBER = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class CheckKind:
    """A check a learner can declare: a built-in tag or a provider's own check."""

    tag: str
    name: str
    expires: bool
    check_type: LearnerCheckType | None = None

    @property
    def is_dbs(self) -> bool:
        return self.tag == "dbs"


def kinds_for(learner: Learner) -> list[CheckKind]:
    """The checks a learner may declare: the built-in ones and their provider's own."""
    out = [CheckKind(tag, name, tag != "dbs") for tag, name in REQUIREMENTS.items()]
    for t in db.session.scalars(sa.select(LearnerCheckType).where(
            LearnerCheckType.provider_id == learner.provider_id,
            LearnerCheckType.active.is_(True)).order_by(LearnerCheckType.name)):
        out.append(CheckKind(t.tag, t.name, t.expires, t))
    return out


def kind_for(learner: Learner, tag: str) -> CheckKind | None:
    return next((k for k in kinds_for(learner) if k.tag == tag), None)


def learner_checks(learner: Learner) -> dict[str, LearnerCheck]:
    return {c.tag: c for c in db.session.scalars(
        sa.select(LearnerCheck).where(LearnerCheck.learner_id == learner.id))}


def valid_until(check: LearnerCheck) -> date | None:
    """The last day the check counts (None: no expiry known)."""
    return eligibility.check_valid_until(
        check.tag, issued_on=check.issued_on, expires_on=check.expires_on,
        update_service=check.update_service,
        dbs_valid_months=current_app.config["DBS_VALID_MONTHS"])


def _sync_credentials(learner: Learner) -> None:
    tags = sorted(set(db.session.scalars(sa.select(LearnerCheck.tag).where(
        LearnerCheck.learner_id == learner.id))))
    if sorted(learner.credentials or []) != tags:
        learner.credentials = tags


@dataclass(frozen=True)
class CheckData:
    reference: str = ""
    issued_on: date | None = None
    expires_on: date | None = None
    update_service: bool = False


def declare_check(actor: User, learner: Learner, kind: CheckKind, data: CheckData, *,
                  today: date | None = None) -> LearnerCheck:
    """Declare (or update) a check; a changed check must be verified again."""
    today = today or today_uk()
    reference = data.reference.replace(" ", "").strip()
    if kind.is_dbs:
        if not reference:
            raise DomainError("Enter the DBS certificate number", field="reference")
        if not DBS_NUMBER.match(reference):
            raise DomainError("The DBS certificate number is the 12 digits at the top of the "
                              "certificate", field="reference")
        if data.issued_on is None:
            raise DomainError("Enter the date the certificate was issued", field="issued_on")
        if data.issued_on > today:
            raise DomainError("The issue date must be today or in the past", field="issued_on")
    elif kind.expires:
        if data.expires_on is None:
            raise DomainError("Enter the expiry date", field="expires_on")
        if data.expires_on <= today:
            raise DomainError("The expiry date must be in the future: an expired check "
                              "cannot count", field="expires_on")
    check = learner_checks(learner).get(kind.tag)
    values = {"reference": reference[:40], "issued_on": data.issued_on if kind.is_dbs else None,
              "expires_on": None if kind.is_dbs else data.expires_on,
              "update_service": bool(data.update_service) if kind.is_dbs else False}
    if check is None:
        check = LearnerCheck(learner_id=learner.id, tag=kind.tag,
                             check_type_id=kind.check_type.id if kind.check_type else None,
                             **values)
        db.session.add(check)
    else:
        changed = any(getattr(check, k) != v for k, v in values.items())
        for k, v in values.items():
            setattr(check, k, v)
        if changed:
            check.verified_at = None
            check.verified_by_id = None
        check.declared_at = utcnow()
    db.session.flush()
    _sync_credentials(learner)
    db.session.flush()
    audit.record(actor, "learner_check.declared", check, learner=learner.id, tag=kind.tag,
                 issued_on=check.issued_on, expires_on=check.expires_on)
    return check


def remove_check(actor: User, learner: Learner, tag: str) -> None:
    """The learner no longer holds a check."""
    check = learner_checks(learner).get(tag)
    if check is None:
        raise DomainError("You have not declared that check")
    db.session.delete(check)
    db.session.flush()
    _sync_credentials(learner)
    audit.record(actor, "learner_check.removed", learner, tag=tag)


def verify_check(officer: User, check: LearnerCheck) -> None:
    """An officer has seen the certificate and confirms the details."""
    if not access.officer_sees_learner(officer, check.learner):
        raise NotAllowed("This is not one of your provider's learners")
    result = db.session.execute(
        sa.update(LearnerCheck).where(LearnerCheck.id == check.id,
                                      LearnerCheck.verified_at.is_(None))
        .values(verified_at=utcnow(), verified_by_id=officer.id),
        execution_options={"synchronize_session": "fetch"})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise DomainError("This check has already been verified")
    audit.record(officer, "learner_check.verified", check, learner=check.learner_id,
                 tag=check.tag)


def sync_from_tags(learner: Learner, tags: Iterable[str]) -> None:
    """Make the learner's checks match a list of tags (CSV import, officer's form): tags
    added become undated declared checks, tags dropped remove their checks."""
    wanted = set(tags)
    have = learner_checks(learner) if learner.id else {}
    for tag, check in have.items():
        if tag not in wanted and tag in REQUIREMENTS:
            db.session.delete(check)
    for tag in sorted(wanted - set(have)):
        db.session.add(LearnerCheck(learner_id=learner.id, tag=tag))
    db.session.flush()
    _sync_credentials(learner)


def add_check_type(officer: User, *, name: str, expires: bool, required: bool
                   ) -> LearnerCheckType:
    """Add one of the provider's own learner checks."""
    name = name.strip()
    if not name:
        raise DomainError("Enter the name of the check", field="name")
    if name.lower() in {n.lower() for n in REQUIREMENTS.values()} or db.session.scalar(
            sa.select(LearnerCheckType.id).where(
                LearnerCheckType.provider_id == officer.provider_id,
                sa.func.lower(LearnerCheckType.name) == name.lower())):
        raise DomainError("There is already a check with this name", field="name")
    check_type = LearnerCheckType(provider_id=officer.provider_id, name=name, expires=expires,
                                  required=required)
    db.session.add(check_type)
    db.session.flush()
    audit.record(officer, "learner_check_type.added", check_type, name=name,
                 required=required)
    return check_type


def provider_check_types(officer: User) -> list[LearnerCheckType]:
    return list(db.session.scalars(sa.select(LearnerCheckType).where(
        LearnerCheckType.provider_id == officer.provider_id).order_by(LearnerCheckType.name)))
