"""Demo duty of care: compliance items for the demo employers, learners' dated checks and
a couple of hosting limits.

Called at the end of `seed.demo.load_demo`. Most employers have every item accepted; a few
show what the pages are for: one whose insurance expires within a month (before its
placements start, so its offers are held back and the reminders fire), one whose
safeguarding policy was returned, two with no risk assessment yet, and a renewal waiting
for review. Dates are relative to today. Documents are small generated PDFs, stored like
any upload (instance/uploads, or the configured bucket).
"""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from placements.compliance import checks, services
from placements.compliance.storage import digest, new_key, storage
from placements.extensions import db
from placements.models import (
    BuiltinItem,
    ComplianceItem,
    ComplianceStatus,
    Employer,
    Learner,
    LearnerCheck,
    Role,
    StoredFile,
    User,
    utcnow,
)
from placements.timeutil import today_uk

INSURERS = ["Zurich Municipal", "Aviva", "Allianz", "AXA Insurance", "Hiscox", "RSA"]
#: Employers (after the first) that get real documents; the rest have accepted items whose
#: document was checked on paper (the large demo would otherwise write thousands of files).
WITH_FILES = 40


def _pdf(title: str) -> bytes:
    text = title.replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >> endobj\n"
            b"4 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"
            b"5 0 obj << /Length " + str(len(stream)).encode() + b" >> stream\n" + stream +
            b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def _file(employer: Employer, title: str, filename: str) -> StoredFile:
    data = _pdf(f"{employer.name}: {title}")
    key = new_key()
    storage().save(key, data, "application/pdf")
    stored = StoredFile(storage_key=key, filename=filename, content_type="application/pdf",
                        size_bytes=len(data), sha256=digest(data), employer_id=employer.id)
    db.session.add(stored)
    db.session.flush()
    return stored


#: The demo employer whose insurance lapses before its placements start has this account.
LAPSING_LOGIN = "employer2@demo.placements.test"


def load_compliance_demo(officer: User, seed: int = 2026, password_hash: str | None = None
                         ) -> int:
    """Add the demo's compliance items and learners' checks; return how many items."""
    rng = random.Random(seed)
    today = today_uk()
    now = utcnow()
    types = {t.builtin: t for t in services.ensure_builtin_types()}
    employers = list(db.session.scalars(sa.select(Employer).where(Employer.approved.is_(True))
                                        .order_by(Employer.id)))
    count = 0

    def add(employer: Employer, kind: BuiltinItem, *, status=ComplianceStatus.ACCEPTED,
            expires_in: int | None = None, site=None, days_ago: int = 60, files: bool = True,
            reason: str | None = None) -> ComplianceItem:
        nonlocal count
        t = types[kind.value]
        title = t.name + (f", {site.name}" if site else "")
        item = ComplianceItem(
            type_id=t.id, employer_id=employer.id, site_id=site.id if site else None,
            status=status, submitted_at=now - timedelta(days=days_ago),
            expires_on=today + timedelta(days=expires_in) if expires_in is not None else None,
            file_id=_file(employer, title, f"{kind.value}.pdf").id if files else None)
        if kind is BuiltinItem.INSURANCE:
            item.issuer = rng.choice(INSURERS)
            item.reference = f"EL{rng.randint(100000, 999999)}"
        elif kind is BuiltinItem.RISK_ASSESSMENT:
            item.issuer = rng.choice(["Health and safety manager", "Site manager",
                                      "External consultant"])
            item.issued_on = today - timedelta(days=days_ago + 10)
        else:
            item.contact_name = rng.choice(["Dana Clarke", "Imran Shah", "Ruth Evans",
                                            "Tom Okafor"])
            item.contact_email = f"safeguarding@{employer.name.split()[0].lower()}.example"
            item.contact_phone = f"0161 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        if status in (ComplianceStatus.ACCEPTED, ComplianceStatus.RETURNED):
            item.reviewed_by_id = officer.id
            item.reviewed_at = now - timedelta(days=max(0, days_ago - 3))
            item.return_reason = reason
        db.session.add(item)
        count += 1
        return item

    for n, employer in enumerate(employers):
        files = n <= WITH_FILES
        site = employer.sites[0] if employer.sites else None
        insurance_days = rng.randint(200, 540)
        # Employer 1's insurance lapses later (finish_compliance_demo); it gets a login.
        if n == 1 and password_hash and not db.session.scalar(
                sa.select(User.id).where(User.email == LAPSING_LOGIN)):
            db.session.add(User(email=LAPSING_LOGIN, name="Kai Employer", role=Role.EMPLOYER,
                                employer=employer, password_hash=password_hash))
        add(employer, BuiltinItem.INSURANCE, expires_in=insurance_days, files=files,
            days_ago=rng.randint(30, 300))
        if n == 0:  # a renewal waiting for review
            add(employer, BuiltinItem.INSURANCE, status=ComplianceStatus.SUBMITTED,
                expires_in=insurance_days + 365, days_ago=2)
        if n not in (3, 4) and site is not None:
            add(employer, BuiltinItem.RISK_ASSESSMENT, site=site, files=files,
                expires_in=rng.randint(120, 360), days_ago=rng.randint(20, 200))
        if n == 2:
            add(employer, BuiltinItem.SAFEGUARDING, status=ComplianceStatus.RETURNED,
                days_ago=5, reason="The policy names a safeguarding lead who has left. "
                                   "Please send the current policy and the new lead's details.")
        else:
            add(employer, BuiltinItem.SAFEGUARDING, files=files, days_ago=rng.randint(30, 300))
        if n == 5:
            employer.max_learners = 3
        if n == 6:
            employer.min_if_any = 2
    db.session.flush()
    return count


def finish_compliance_demo(officer: User, seed: int = 2026) -> None:
    """After learners have chosen: one employer's insurance now lapses within a month
    (before its placements start, so learners who ranked its offers see them on hold), and
    learners' checks get their dates."""
    rng = random.Random(seed + 1)
    today = today_uk()
    now = utcnow()
    lapsing = db.session.scalar(sa.select(User).where(User.email == LAPSING_LOGIN))
    if lapsing is not None and lapsing.employer_id is not None:
        insurance = services.builtin_type(BuiltinItem.INSURANCE)
        for item in db.session.scalars(sa.select(ComplianceItem).where(
                ComplianceItem.employer_id == lapsing.employer_id,
                ComplianceItem.type_id == (insurance.id if insurance else -1),
                ComplianceItem.status == ComplianceStatus.ACCEPTED)):
            item.expires_on = today + timedelta(days=21)
    # Learners' checks: dates for what they hold; about half verified; a few DBS
    # certificates that are too old by the time placements start.
    for learner in db.session.scalars(sa.select(Learner)):
        if learner.credentials:
            checks.sync_from_tags(learner, learner.credentials)
    for check in db.session.scalars(sa.select(LearnerCheck).join(Learner)):
        if check.tag == "dbs":
            check.reference = "".join(str(rng.randint(0, 9)) for _ in range(12))
            check.issued_on = today - timedelta(days=rng.randint(30, 900))
            if rng.random() < 0.05:
                check.issued_on = today - timedelta(days=36 * 30 - 20)
            check.update_service = rng.random() < 0.3
        else:
            check.reference = f"{rng.randint(10000000, 99999999)}"
            check.expires_on = today + timedelta(days=rng.randint(200, 1800))
        if rng.random() < 0.5 and check.learner.provider_id == officer.provider_id:
            check.verified_at = now - timedelta(days=rng.randint(1, 60))
            check.verified_by_id = officer.id
    db.session.flush()

