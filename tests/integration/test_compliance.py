"""Duty of care, part A: compliance items gate allocation (Python and SQL forms agree),
submissions and reviews, uploads checked by content and served only as downloads to the
right people, learner checks with dates in eligibility and the problem file, employer
limits, reminders sent once."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from placements.compliance import checks, services
from placements.domain import DomainError, access, eligibility
from placements.domain.compliance import blocked_offer_ids
from placements.domain.errors import ConcurrentChange, IllegalTransition
from placements.domain.offers import closed_because, closed_reasons, open_to_choices_sql
from placements.extensions import db
from placements.models import (
    AuditEvent,
    BuiltinItem,
    ComplianceItem,
    ComplianceItemType,
    ComplianceReminder,
    ComplianceStatus,
    Employer,
    EmployerSite,
    LearnerCheck,
    OutboxMessage,
    PlacementOffer,
    Preference,
    StoredFile,
)
from placements.rounds.problem import build_problem
from placements.timeutil import today_uk
from tests.conftest import PASSWORD

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TODAY = today_uk()


def _login(client, email):
    client.post("/auth/logout")
    return client.post("/auth/login", data={"email": email, "password": PASSWORD})


def _types() -> dict[str, ComplianceItemType]:
    return {t.builtin: t for t in services.ensure_builtin_types()}


def _accept_all(employer: Employer, officer, *, expires: date | None = None) -> None:
    """Give an employer every built-in item, accepted."""
    types = _types()
    expires = expires or TODAY + timedelta(days=400)
    for key, t in types.items():
        for site in (employer.sites if t.per_site else [None]):
            item = ComplianceItem(
                type_id=t.id, employer_id=employer.id, site_id=site.id if site else None,
                status=ComplianceStatus.ACCEPTED, issuer="X", reference="P1",
                expires_on=expires if t.expires else None, reviewed_by_id=officer.id)
            db.session.add(item)
            del key
    db.session.flush()


def _day(d: date) -> list[str]:
    return [str(d.day), str(d.month), str(d.year)]


def _form(**extra):
    return {"issuer": "Zurich", "reference": "EL-12345",
            "expires_on": _day(TODAY + timedelta(days=365)), **extra}


def _multipart(fields: dict) -> tuple[bytes, str]:
    """Encode a form with files ourselves (the test client spools large bodies to a
    temporary file it never closes)."""
    boundary = "----placements-test-boundary"
    parts = []
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, tuple):
                stream, filename = v
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                             f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
                             .encode() + stream.getvalue() + b"\r\n")
            else:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; '
                             f'name="{name}"\r\n\r\n{v}\r\n'.encode())
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _post_files(client, url: str, fields: dict):
    body, content_type = _multipart(fields)
    return client.post(url, data=body, content_type=content_type)


def _files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def upload_app(make_app, tmp_path):
    return make_app(UPLOAD_DIR=str(tmp_path / "uploads"))


# --- the rule ------------------------------------------------------------------------------


def test_offer_needs_every_blocking_item_accepted_and_valid_on_its_start(app, world):
    types = _types()
    o1, e1 = world["o1"], world["e1"]
    assert "no accepted employer's liability insurance" in closed_because(o1)
    _accept_all(e1, world["officer1"])
    db.session.commit()
    assert closed_because(o1) is None
    # Insurance that lapses the day before the offer starts closes it, with the reason.
    insurance = db.session.scalar(sa.select(ComplianceItem).where(
        ComplianceItem.type_id == types["insurance"].id,
        ComplianceItem.employer_id == e1.id))
    insurance.expires_on = o1.start_date - timedelta(days=1)
    db.session.commit()
    assert closed_because(o1) == \
        "the employer's liability insurance expires before the placement starts"
    insurance.expires_on = o1.start_date
    db.session.commit()
    assert closed_because(o1) is None
    # The risk assessment is per site: another site's does not count.
    other = EmployerSite(employer=e1, name="Annex", postcode="M1 1AA", lat=o1.site.lat,
                         lon=o1.site.lon)
    db.session.add(other)
    db.session.flush()
    ra = db.session.scalar(sa.select(ComplianceItem).where(
        ComplianceItem.type_id == types["risk-assessment"].id))
    ra.site_id = other.id
    db.session.commit()
    assert closed_because(o1) == \
        "there is no accepted health and safety risk assessment for HQ"


def test_sql_form_agrees_with_python_form(app, world):
    """Many employers in every state: open_to_choices_sql picks exactly the offers
    closed_because leaves open, for the built-in types and a provider's own."""
    types = _types()
    own = services.add_item_type(world["officer1"], name="Placement agreement", description="",
                                 per_site=False, expires=True, blocks_allocation=True)
    officer = world["officer1"]
    site = world["s1"]
    start = TODAY + timedelta(days=60)
    offers = []
    cases = [
        # (status, expires offset from start (None: no expiry), per-site on own site)
        ("accepted", 10, True), ("accepted", -1, True), ("accepted", 0, True),
        ("submitted", 10, True), ("returned", 10, True), ("superseded", 10, True),
        ("accepted", 10, False), ("missing", None, True), ("accepted", None, True),
    ]
    for n, (status, offset, own_site) in enumerate(cases):
        employer = Employer(name=f"Case {n}", sector="Digital", region="North West",
                            approved=True)
        s = EmployerSite(employer=employer, name=f"Site {n}", postcode="M1 1AA",
                         lat=site.lat, lon=site.lon)
        other = EmployerSite(employer=employer, name=f"Other {n}", postcode="M1 1AA",
                             lat=site.lat, lon=site.lon)
        offer = PlacementOffer(employer=employer, site=s, title=f"Offer {n}", sector="Digital",
                               capacity=1, start_date=start, end_date=start + timedelta(90),
                               hours_per_week=30)
        db.session.add_all([employer, s, other, offer])
        db.session.flush()
        offers.append(offer)
        if status == "missing":
            continue
        for t in [*types.values(), own]:
            expires = None if offset is None else start + timedelta(days=offset)
            db.session.add(ComplianceItem(
                type_id=t.id, employer_id=employer.id,
                site_id=(s.id if own_site else other.id) if t.per_site else None,
                status=ComplianceStatus(status), expires_on=expires if t.expires else None,
                reviewed_by_id=officer.id))
    db.session.commit()
    for providers in (None, [world["p1"].id], [world["p2"].id]):
        sql = set(db.session.scalars(
            sa.select(PlacementOffer.id).join(Employer).where(
                open_to_choices_sql(provider_ids=providers))))
        everyone = offers + [world["o1"], world["o2"]]
        python = {o.id for o in everyone if closed_because(o, provider_ids=providers) is None}
        assert sql == python, providers
        # The bulk form the problem builder uses agrees too.
        bulk = {o.id for o in everyone} - blocked_offer_ids(
            [(o.id, o.employer_id, o.site_id, o.start_date) for o in everyone],
            today=TODAY, provider_ids=providers)
        assert bulk == python, providers
        # And the many-offers Python form (learners' offer lists), reasons and all.
        assert closed_reasons(everyone, provider_ids=providers) == {
            o.id: closed_because(o, provider_ids=providers) for o in everyone}
    # Accepted and in date on the start (offsets 10, 0, and no expiry): open for built-ins.
    assert {o.title for o in offers if closed_because(o) is None} == {
        "Offer 0", "Offer 2", "Offer 8"}


# --- submitting and reviewing ----------------------------------------------------------------


def test_employer_uploads_insurance_officer_accepts_offer_opens(upload_app, world):
    app = upload_app
    client = app.test_client()
    types = _types()
    db.session.commit()
    o1 = world["o1"]
    _login(client, "emp1@example.test")
    page = client.get("/employer/compliance/")
    assert page.status_code == 200
    assert b"Employer&#39;s liability insurance" in page.data
    response = client.post(f"/employer/compliance/submit/{types['insurance'].id}",
                           data=_form(document=(io.BytesIO(PDF), "certificate.pdf")),
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.data[:2000]
    item = db.session.scalar(sa.select(ComplianceItem))
    assert item.status == ComplianceStatus.SUBMITTED
    assert item.file.content_type == "application/pdf"
    assert item.file.filename == "certificate.pdf"
    assert item.file.storage_key not in "certificate.pdf"
    assert len(_files(app)) == 1
    # The employer's own download: an attachment, never inline.
    got = client.get(f"/employer/compliance/files/{item.file_id}")
    assert got.status_code == 200
    assert got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    # The officer accepts it.
    _login(client, "officer1@example.test")
    assert client.get(f"/officer/compliance/items/{item.id}").status_code == 200
    assert client.get(f"/officer/compliance/files/{item.file_id}").status_code == 200
    assert client.post(f"/officer/compliance/items/{item.id}/accept").status_code == 303
    db.session.expire_all()
    assert db.session.get(ComplianceItem, item.id).status == ComplianceStatus.ACCEPTED
    # Still closed: the risk assessment and safeguarding are missing.
    assert "risk assessment" in closed_because(db.session.get(PlacementOffer, o1.id))
    for key in ("risk-assessment", "safeguarding"):
        t = types[key]
        db.session.add(ComplianceItem(type_id=t.id, employer_id=o1.employer_id,
                                      site_id=o1.site_id if t.per_site else None,
                                      status=ComplianceStatus.ACCEPTED,
                                      expires_on=TODAY + timedelta(days=500)
                                      if t.expires else None))
    db.session.commit()
    assert closed_because(db.session.get(PlacementOffer, o1.id)) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "compliance_item.accepted")) == 1


@pytest.mark.parametrize(("case", "data", "message"), [
    ("html renamed to pdf", {"document": (io.BytesIO(b"<html><script>x</script></html>"),
                                          "certificate.pdf")},
     b"The file must be a PDF, PNG or JPEG"),
    ("11 MB", {"document": (io.BytesIO(b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)),
                            "big.pdf")}, b"The file must be smaller than 10 MB"),
    ("expiry in the past", {"expires_on": _day(TODAY - timedelta(days=1)),
                            "document": (io.BytesIO(PDF), "c.pdf")},
     b"The expiry date must be in the future"),
    ("no expiry", {"expires_on": ["", "", ""],
                   "document": (io.BytesIO(PDF), "c.pdf")}, b"Enter the expiry date"),
    ("no document", {}, b"Upload the document"),
    ("no policy number", {"reference": "", "document": (io.BytesIO(PDF), "c.pdf")},
     b"Enter the policy number"),
])
def test_bad_submissions_are_refused_and_nothing_is_saved(upload_app, world, case, data,
                                                         message):
    app = upload_app
    client = app.test_client()
    types = _types()
    db.session.commit()
    _login(client, "emp1@example.test")
    response = _post_files(client, f"/employer/compliance/submit/{types['insurance'].id}",
                           _form(**data))
    assert response.status_code == 400, case
    assert message in response.data, case
    assert b"Zurich" in response.data or case == "no policy number"  # what was typed stays
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceItem)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 0
    assert _files(app) == []


def test_a_larger_body_is_allowed_only_on_the_upload_route(upload_app, world):
    client = upload_app.test_client()
    _login(client, "emp1@example.test")
    big = io.BytesIO(b"x" * (6 * 1024 * 1024))
    # Elsewhere the 5 MB limit stands.
    response = _post_files(client, "/employer/sites/new", {"name": "X", "f": (big, "x.bin")})
    assert response.status_code == 413


def test_new_submission_supersedes_and_accepting_replaces_the_accepted(app, world):
    types = _types()
    emp1, officer = world["emp1"], world["officer1"]
    e1 = world["e1"]
    data = services.ItemData(issuer="A", reference="1", expires_on=TODAY + timedelta(100))
    first = services.submit_item(emp1, e1, types["insurance"], data,
                                 services.Upload("a.pdf", PDF))
    services.accept_item(officer, first)
    second = services.submit_item(emp1, e1, types["insurance"], data,
                                  services.Upload("b.pdf", PDF))
    returned_one = services.submit_item(emp1, e1, types["insurance"], data,
                                        services.Upload("c.pdf", PDF))
    db.session.flush()
    assert second.status == ComplianceStatus.SUPERSEDED
    assert first.status == ComplianceStatus.ACCEPTED  # kept while the renewal waits
    services.accept_item(officer, returned_one)
    db.session.expire_all()
    assert first.status == ComplianceStatus.SUPERSEDED
    with pytest.raises(IllegalTransition):
        services.return_item(officer, returned_one, "too late")
    with pytest.raises(DomainError):
        services.return_item(officer, second, "   ")


def test_two_officers_reviewing_at_once_one_wins(app, world):
    """Accept and return race on one submission: exactly one wins, the other changes
    nothing."""
    types = _types()
    item = services.submit_item(world["emp1"], world["e1"], types["insurance"],
                                services.ItemData(issuer="A", reference="1",
                                                  expires_on=TODAY + timedelta(100)),
                                services.Upload("a.pdf", PDF))
    db.session.commit()
    item_id, officer_id = item.id, world["officer1"].id
    db.session.remove()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def review(verb: str) -> None:
        with app.app_context():
            from placements.models import User

            mine = db.session.get(ComplianceItem, item_id)
            officer = db.session.get(User, officer_id)
            _ = mine.status, mine.employer.name, mine.type.expires, officer.provider.programmes
            barrier.wait(timeout=20)
            try:
                if verb == "accept":
                    services.accept_item(officer, mine)
                else:
                    services.return_item(officer, mine, "wrong policy")
                db.session.commit()
                outcomes.append(verb)
            except (ConcurrentChange, IllegalTransition):
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=review, args=(v,)) for v in ("accept", "return")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) in (["accept", "refused"], ["refused", "return"])
    final = db.session.get(ComplianceItem, item_id).status
    assert final.value == ("accepted" if "accept" in outcomes else "returned")
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(["compliance_item.accepted", "compliance_item.returned"])))
    assert events == 1


def test_officer_cannot_accept_an_expired_item(app, world):
    types = _types()
    item = services.submit_item(world["emp1"], world["e1"], types["insurance"],
                                services.ItemData(issuer="A", reference="1",
                                                  expires_on=TODAY + timedelta(5)),
                                services.Upload("a.pdf", PDF))
    with pytest.raises(DomainError, match="already expired"):
        services.accept_item(world["officer1"], item, today=TODAY + timedelta(10))


def test_checklist_records_and_accepts_a_risk_assessment(app, world, client):
    types = _types()
    db.session.commit()
    _login(client, "officer1@example.test")
    url = f"/officer/compliance/employers/{world['e1'].id}/checklist"
    base = {"site_id": str(world["s1"].id), "issuer": "Officer One",
            "issued_on": _day(TODAY), "expires_on": ["1", "1", str(TODAY.year + 1)]}
    partial = client.post(url, data={**base, "checks": ["induction"]})
    assert partial.status_code == 400
    assert b"Every point of the checklist" in partial.data
    full = client.post(url, data={**base, "checks": [k for k, _ in services.CHECKLIST]})
    assert full.status_code == 303
    item = db.session.scalar(sa.select(ComplianceItem))
    assert item.status == ComplianceStatus.ACCEPTED
    assert item.checklist
    assert item.type_id == types["risk-assessment"].id


# --- who sees documents ----------------------------------------------------------------------


def test_documents_only_for_the_employer_and_its_officers(upload_app, world):
    app = upload_app
    types = _types()
    item = services.submit_item(world["emp1"], world["e1"], types["insurance"],
                                services.ItemData(issuer="A", reference="1",
                                                  expires_on=TODAY + timedelta(100)),
                                services.Upload("a.pdf", PDF))
    db.session.commit()
    client = app.test_client()
    urls = [f"/employer/compliance/files/{item.file_id}",
            f"/officer/compliance/files/{item.file_id}",
            f"/officer/compliance/items/{item.id}", f"/employer/compliance/items/{item.id}",
            f"/officer/compliance/employers/{world['e1'].id}"]
    for url in urls:  # anonymous
        assert client.get(url).status_code == 302
    _login(client, "emp2@example.test")  # another employer
    assert client.get(urls[0]).status_code == 404
    assert client.get(urls[3]).status_code == 404
    _login(client, "officer2@example.test")  # another provider (health, not digital)
    for url in urls[1:3] + urls[4:]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/officer/compliance/items/{item.id}/accept").status_code == 404
    assert client.post(f"/officer/compliance/items/{item.id}/return",
                       data={"reason": "x"}).status_code == 404
    _login(client, "learner1@example.test")
    assert client.get(urls[0]).status_code == 403
    db.session.expire_all()
    assert db.session.get(ComplianceItem, item.id).status == ComplianceStatus.SUBMITTED
    # The SQL form of the scope agrees with the Python form.
    for officer in (world["officer1"], world["officer2"]):
        sql = set(db.session.scalars(sa.select(Employer.id).where(
            access.officer_compliance_employers_sql(officer))))
        python = {e.id for e in (world["e1"], world["e2"])
                  if access.officer_sees_employer_compliance(officer, e)}
        assert sql == python


# --- learner checks ------------------------------------------------------------------------


def test_learner_declares_dbs_officer_verifies(app, world, client):
    _login(client, "learner2@example.test")
    assert client.get("/learner/checks/").status_code == 200
    bad = client.post("/learner/checks/dbs", data={"reference": "12345",
                                                   "issued_on": ["1", "1", "2025"]})
    assert bad.status_code == 400
    assert b"12 digits" in bad.data
    ok = client.post("/learner/checks/dbs", data={
        "reference": "0012 3456 7890", "issued_on": ["1", "1", str(TODAY.year - 1)]})
    assert ok.status_code == 303
    check = db.session.scalar(sa.select(LearnerCheck).where(
        LearnerCheck.learner_id == world["l2"].id, LearnerCheck.tag == "dbs"))
    assert check.reference == "001234567890"
    assert not check.verified
    _login(client, "officer1@example.test")  # not their provider's learner
    assert client.post(f"/officer/compliance/learners/{world['l2'].id}/checks/{check.id}"
                       "/verify").status_code == 404
    _login(client, "officer2@example.test")
    assert client.get(f"/officer/compliance/learners/{world['l2'].id}/checks").status_code \
        == 200
    assert client.post(f"/officer/compliance/learners/{world['l2'].id}/checks/{check.id}"
                       "/verify").status_code == 303
    db.session.expire_all()
    assert db.session.get(LearnerCheck, check.id).verified
    assert db.session.get(type(world["l2"]), world["l2"].id).credentials == ["dbs"]


def test_expiring_check_excludes_later_offers_in_the_problem(app, world):
    """l2's DBS counts until before o2 starts: o2 is excluded for l2 (and dropped from the
    preferences), while an earlier offer stays eligible."""
    l2, o2 = world["l2"], world["o2"]
    early = PlacementOffer(employer=world["e2"], site=world["s2"], title="Early care",
                           sector="Health and science", capacity=1,
                           start_date=o2.start_date - timedelta(days=60),
                           end_date=o2.start_date, hours_per_week=30, requirements=["dbs"])
    db.session.add(early)
    db.session.flush()
    issued = o2.start_date - timedelta(days=36 * 31)  # 36 months end just before o2 starts
    checks.declare_check(l2.user, l2, checks.kind_for(l2, "dbs"),
                         checks.CheckData(reference="001234567890", issued_on=issued),
                         today=issued + timedelta(days=1))
    for rank, offer in enumerate((o2, early), 1):
        db.session.add(Preference(round_id=world["round"].id, learner_id=l2.id,
                                  offer_id=offer.id, rank=rank))
    db.session.commit()
    facts = eligibility.learner_facts(l2)
    assert eligibility.assess(facts, eligibility.offer_facts(o2)).reasons == (
        eligibility.Reason.EXPIRED,)
    assert eligibility.assess(facts, eligibility.offer_facts(early)).ok
    problem = build_problem(world["round"])
    learner = next(x for x in problem["learners"] if x["id"] == f"L{l2.id}")
    assert learner["excluded"] == [f"O{o2.id}"]
    assert learner["preferences"] == [f"O{early.id}"]
    assert learner["has"] == ["dbs"]
    # A round that requires verified checks does not count the unverified one at all.
    world["round"].require_verified_checks = True
    db.session.commit()
    learner = next(x for x in build_problem(world["round"])["learners"]
                   if x["id"] == f"L{l2.id}")
    assert learner["has"] == []


def test_imported_tags_and_checks_stay_one_truth(app, world):
    l1 = world["l1"]
    checks.sync_from_tags(l1, ["dbs", "cscs"])
    assert sorted(checks.learner_checks(l1)) == ["cscs", "dbs"]
    assert l1.credentials == ["cscs", "dbs"]
    checks.sync_from_tags(l1, ["cscs"])
    assert sorted(checks.learner_checks(l1)) == ["cscs"]
    assert l1.credentials == ["cscs"]


# --- lapses, the round, needs attention ------------------------------------------------------


def test_insurance_lapse_drops_the_offer_from_the_next_run_with_the_reason(app, world, client):
    _accept_all(world["e1"], world["officer1"])
    _accept_all(world["e2"], world["officer1"])
    db.session.commit()
    o1 = world["o1"]
    assert f"O{o1.id}" in {o["id"] for o in build_problem(world["round"])["offers"]}
    insurance = db.session.scalar(sa.select(ComplianceItem).join(ComplianceItemType).where(
        ComplianceItemType.builtin == BuiltinItem.INSURANCE.value,
        ComplianceItem.employer_id == world["e1"].id))
    insurance.expires_on = o1.start_date - timedelta(days=1)
    db.session.commit()
    assert f"O{o1.id}" not in {o["id"] for o in build_problem(world["round"])["offers"]}
    blocked = services.blocked_offers(world["round"])
    assert [b.offer.id for b in blocked] == [o1.id]
    _login(client, "officer1@example.test")
    page = client.get(f"/officer/compliance/rounds/{world['round'].id}/blocked")
    assert b"expires before the placement starts" in page.data
    assert b"renewed employer&#39;s liability insurance" in page.data


def test_employer_limits_reach_the_problem_file(app, world, client):
    _login(client, "emp1@example.test")
    bad = client.post("/employer/compliance/limits", data={"max_learners": "2",
                                                           "min_if_any": "3"})
    assert bad.status_code == 400
    assert b"cannot be more than the most" in bad.data
    assert client.post("/employer/compliance/limits", data={
        "max_learners": "3", "min_if_any": "2"}).status_code == 303
    problem = build_problem(world["round"])
    assert problem["employers"] == [{"id": f"E{world['e1'].id}", "max_learners": 3,
                                     "min_if_any": 2}]


# --- reminders -----------------------------------------------------------------------------


def test_reminders_go_once_per_item_and_threshold(app, world, runner):
    types = _types()
    item = ComplianceItem(type_id=types["insurance"].id, employer_id=world["e1"].id,
                          status=ComplianceStatus.ACCEPTED,
                          expires_on=TODAY + timedelta(days=20))
    db.session.add(item)
    db.session.commit()
    assert services.send_reminders() == {"30_days": 1, "messages": 2}
    assert services.send_reminders() == {}
    later = services.send_reminders(today=TODAY + timedelta(days=14))
    assert later == {"7_days": 1, "messages": 2}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceReminder)) == 2
    to = set(db.session.scalars(sa.select(OutboxMessage.to_address)))
    assert to == {"emp1@example.test", "officer1@example.test"}
    result = runner.invoke(args=["compliance", "remind"])
    assert result.exit_code == 0, result.output
    assert "0 message(s)" in result.output


def test_every_compliance_page_renders_for_its_role(app, world, client):
    types = _types()
    _accept_all(world["e1"], world["officer1"], expires=TODAY + timedelta(days=10))
    item = services.submit_item(world["emp1"], world["e1"], types["insurance"],
                                services.ItemData(issuer="A", reference="1",
                                                  expires_on=TODAY + timedelta(100)),
                                services.Upload("a.pdf", PDF))
    db.session.commit()
    _login(client, "emp1@example.test")
    for url in ("/employer/compliance/", f"/employer/compliance/submit/{types['insurance'].id}",
                f"/employer/compliance/submit/{types['risk-assessment'].id}",
                f"/employer/compliance/submit/{types['safeguarding'].id}",
                f"/employer/compliance/items/{item.id}", "/employer/compliance/limits"):
        assert client.get(url).status_code == 200, url
    _login(client, "officer1@example.test")
    for url in ("/officer/compliance/", "/officer/compliance/employers",
                f"/officer/compliance/employers/{world['e1'].id}",
                f"/officer/compliance/items/{item.id}",
                f"/officer/compliance/items/{item.id}/return",
                f"/officer/compliance/employers/{world['e1'].id}/checklist",
                "/officer/compliance/types",
                f"/officer/compliance/learners/{world['l1'].id}/checks",
                f"/officer/compliance/rounds/{world['round'].id}/blocked"):
        assert client.get(url).status_code == 200, url
    csv = client.get("/officer/compliance/export.csv")
    assert csv.status_code == 200
    assert b"Acme Digital,Employer's liability insurance,,Accepted" in csv.data
    _login(client, "learner1@example.test")
    for url in ("/learner/checks/", "/learner/checks/dbs", "/learner/checks/cscs"):
        assert client.get(url).status_code == 200, url


def test_dashboard_counts_agree_with_each_employers_requirements(app, world):
    """The dashboard's grouped counts (in SQL) match the per-employer list (in Python)."""
    from collections import Counter

    types = _types()
    officer = world["officer1"]
    site = world["s1"]
    for n, (kinds, status, days) in enumerate([
            (("insurance", "safeguarding", "risk-assessment"), "accepted", 400),
            (("insurance",), "accepted", 10), (("insurance",), "accepted", -3),
            (("insurance", "risk-assessment"), "submitted", 90), (("safeguarding",), "returned", 0),
            ((), "accepted", 0)]):
        employer = Employer(name=f"Case {n}", sector="Digital", region="North West",
                            approved=True)
        s = EmployerSite(employer=employer, name="Site", postcode="M1 1AA", lat=site.lat,
                         lon=site.lon)
        db.session.add_all([employer, s, PlacementOffer(
            employer=employer, site=s, title="Offer", sector="Digital", capacity=1,
            start_date=TODAY + timedelta(40), end_date=TODAY + timedelta(100),
            hours_per_week=30)])
        db.session.flush()
        for key in kinds:
            t = types[key]
            db.session.add(ComplianceItem(
                type_id=t.id, employer_id=employer.id, site_id=s.id if t.per_site else None,
                status=ComplianceStatus(status),
                expires_on=TODAY + timedelta(days) if t.expires else None))
        if n == 2:  # expired, with a renewal waiting
            db.session.add(ComplianceItem(type_id=types["insurance"].id,
                                          employer_id=employer.id,
                                          status=ComplianceStatus.SUBMITTED,
                                          expires_on=TODAY + timedelta(300)))
    db.session.commit()
    board = services.dashboard(officer)
    expected: Counter[str] = Counter()
    for employer in db.session.scalars(sa.select(Employer).where(
            access.officer_compliance_employers_sql(officer))):
        expected.update(r.state for r in services.employer_requirements(employer))
    assert {k: v for k, v in board.by_state.items() if v} == dict(expected)
    assert board.employers == 7
    rows = list(services.csv_rows(officer))
    assert Counter(r[3] for r in rows) == Counter(
        services.STATE_LABELS[s][0] for s in expected.elements())


def test_run_page_explains_offers_left_empty_for_a_minimum(app, world):
    from placements.rounds.reports import employer_limits

    e1, e2 = world["e1"], world["e2"]
    problem = {"offers": [{"id": "O1", "employer": f"E{e1.id}", "capacity": 2},
                          {"id": "O2", "employer": f"E{e2.id}", "capacity": 1}],
               "employers": [{"id": f"E{e1.id}", "max_learners": None, "min_if_any": 3},
                             {"id": f"E{e2.id}", "max_learners": 1, "min_if_any": None}]}
    result = {"assignments": [{"learner": "L1", "offer": "O2"}]}
    rows = employer_limits(problem, result)
    assert [(r["name"], r["placed"]) for r in rows] == [("Acme Digital", 0), ("Beta Care", 1)]
    assert "at least 3 learners" in rows[0]["why"]
    assert "left empty" in rows[0]["why"]
    assert "limit of 1 learner across" in rows[1]["why"]
    # The solver's own per-employer figures win when the result has them.
    result["employers"] = [{"id": f"E{e1.id}", "placed": 3, "max_learners": None,
                            "min_if_any": 3}]
    assert [r["name"] for r in employer_limits(problem, result)] == ["Beta Care"]


def test_placements_at_risk_are_counted_in_full_and_listed_first_by_start(app, world, client):
    """A published placement whose employer's insurance lapses before it ends needs attention;
    the heading counts them all even when only the first few are listed."""
    from placements.models import Placement, PlacementStatus

    o1, e1, officer = world["o1"], world["e1"], world["officer1"]
    _accept_all(e1, officer, expires=o1.end_date - timedelta(days=1))
    db.session.add(Placement(round_id=world["round"].id, learner_id=world["l1"].id,
                             offer_id=o1.id, status=PlacementStatus.PUBLISHED))
    db.session.commit()
    shown, total = services.placements_at_risk(officer)
    assert total == 1
    assert [r.learner_name for r in shown] == [world["l1"].user.name]
    assert {g.kind for g in shown[0].gaps} == {"expires"}
    assert services.placements_at_risk(officer, limit=0) == ([], 1)
    # Another provider's officer does not see this learner's placement.
    assert services.placements_at_risk(world["officer2"]) == ([], 0)
    _login(client, "officer1@example.test")
    page = client.get("/officer/compliance/").get_data(as_text=True)
    assert "Published placements needing attention (1)" in page
    assert world["l1"].user.name in page


def test_at_risk_sql_form_agrees_with_the_rule_on_the_placements_last_day(app, world):
    """Covered until the day the placement ends: not at risk; lapsing the day before: at
    risk, with the gap the Python form names."""
    from placements.models import Placement, PlacementStatus

    o1, e1, officer = world["o1"], world["e1"], world["officer1"]
    _accept_all(e1, officer, expires=o1.end_date)
    db.session.add(Placement(round_id=world["round"].id, learner_id=world["l1"].id,
                             offer_id=o1.id, status=PlacementStatus.ACCEPTED))
    db.session.commit()
    assert services.placements_at_risk(officer) == ([], 0)
    insurance = db.session.scalar(sa.select(ComplianceItem).where(
        ComplianceItem.type_id == _types()["insurance"].id))
    insurance.expires_on = o1.end_date - timedelta(days=1)
    db.session.commit()
    shown, total = services.placements_at_risk(officer)
    assert total == 1
    assert [g.type_name for g in shown[0].gaps] == ["Employer's liability insurance"]
