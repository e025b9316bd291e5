"""KSB pages refuse other people's objects: another provider's modules, learners and their
hours, another employer's offers and placement hours, another learner's hours. Every
attempt answers 403 or 404 and changes nothing."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from placements.extensions import db
from placements.ksb import catalogue
from placements.models import (
    Delivery,
    HoursEntry,
    HoursKind,
    HoursStatus,
    Ksb,
    KsbEvidence,
    KsbEvidenceItem,
    LinkStatus,
    ModuleKsb,
    OfferKsb,
    Placement,
    PlacementStatus,
    ProgrammeModule,
    Provider,
    ProviderKind,
    Role,
)
from tests.conftest import make_user
from tests.integration.test_security import _login, _row_counts


def _objects(world):
    for data in catalogue.read_bundled():
        if data.reference == "ST0116":
            catalogue.upsert_standard(None, data, source=catalogue.BUNDLED_SOURCE)
    s4 = db.session.scalar(sa.select(Ksb.id).where(Ksb.code == "S4"))
    module = ProgrammeModule(programme_id=world["prog1"].id, code="SWD-PL", title="Placement",
                             delivery=Delivery.PLACEMENT)
    db.session.add(module)
    db.session.flush()
    link = ModuleKsb(module_id=module.id, ksb_id=s4, status=LinkStatus.SUGGESTED, score=0.5)
    offer_link = OfferKsb(offer_id=world["o1"].id, ksb_id=s4, status=LinkStatus.SUGGESTED)
    placement = Placement(round=world["round"], learner=world["l1"], offer=world["o1"],
                          status=PlacementStatus.PUBLISHED)
    db.session.add_all([link, offer_link, placement])
    db.session.flush()
    entry = HoursEntry(learner_id=world["l1"].id, entry_date=date(2026, 11, 2),
                       quarter_hours=8, kind=HoursKind.PLACEMENT, placement_id=placement.id,
                       status=HoursStatus.PENDING)
    verified = HoursEntry(learner_id=world["l1"].id, entry_date=date(2026, 11, 3),
                          quarter_hours=8, kind=HoursKind.LIVE_BRIEF,
                          status=HoursStatus.VERIFIED)
    db.session.add_all([entry, verified])
    db.session.flush()
    for e in (entry, verified):
        evidence = KsbEvidence(hours_entry_id=e.id, learner_id=world["l1"].id, reflection="x")
        db.session.add(evidence)
        db.session.flush()
        db.session.add(KsbEvidenceItem(evidence_id=evidence.id, ksb_id=s4))
    outside = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(outside)
    make_user("outsider@example.test", Role.OFFICER, provider=outside)
    db.session.commit()
    return module, link, offer_link, entry, verified, s4


def test_ksb_objects_of_others_are_refused(app, client, world):
    module, link, offer_link, entry, verified, s4 = _objects(world)
    m, lk, ol, e, v = module.id, link.id, offer_link.id, entry.id, verified.id
    l1, o1 = world["l1"].id, world["o1"].id
    attempts = {
        # officer2 (a partner provider) and an officer outside the partnership
        ("officer2@example.test", "outsider@example.test"): [
            ("GET", f"/officer/ksbs/modules/{m}", {}),
            ("POST", f"/officer/ksbs/modules/{m}/suggest", {"text": "Write code."}),
            ("POST", f"/officer/ksbs/modules/{m}/decide", {"confirm": str(lk)}),
            ("POST", f"/officer/ksbs/modules/{m}/add", {"ksb": str(s4)}),
            ("GET", f"/officer/ksbs/modules/{m}/edit", {}),
            ("POST", f"/officer/ksbs/modules/{m}/edit", {"code": "X", "title": "X",
                                                        "delivery": "module"}),
            ("POST", f"/officer/ksbs/modules/{m}/remove", {}),
            ("GET", f"/officer/ksbs/learners/{l1}", {}),
            ("POST", f"/officer/ksbs/learners/{l1}/entries/{v}", {"ksb": str(s4),
                                                                 "ksb_version": "1"}),
            ("GET", f"/officer/ksbs/hours/{e}", {}),
        ],
        ("emp2@example.test",): [
            ("GET", f"/employer/ksbs/offers/{o1}", {}),
            ("POST", f"/employer/ksbs/offers/{o1}/decide", {"confirm": str(ol)}),
            ("POST", f"/employer/ksbs/offers/{o1}/suggest", {}),
            ("POST", f"/employer/ksbs/offers/{o1}/add", {"ksb": str(s4)}),
            ("GET", f"/employer/ksbs/hours/{e}", {}),
            ("POST", f"/hours/verify/entries/{e}/verify", {"ksb": str(s4),
                                                          "ksb_version": "1"}),
        ],
        ("learner2@example.test",): [
            ("GET", f"/learner/ksbs/entries/{e}", {}),
            ("POST", f"/learner/ksbs/entries/{e}", {"version": "1", "ksbs": str(s4),
                                                   "reflection": "Mine now."}),
        ],
    }
    before = _row_counts()
    checked = 0
    for emails, calls in attempts.items():
        for email in emails:
            client.post("/auth/logout")
            assert _login(client, email).status_code == 302
            for method, path, data in calls:
                response = client.open(path, method=method, data=data)
                assert response.status_code in (403, 404), f"{email}: {method} {path}"
                checked += 1
    assert checked == 28
    assert _row_counts() == before
    db.session.expire_all()
    assert db.session.get(ModuleKsb, lk).status == LinkStatus.SUGGESTED
    assert db.session.get(OfferKsb, ol).status == LinkStatus.SUGGESTED
    assert db.session.get(HoursEntry, e).status == HoursStatus.PENDING


def test_officers_of_the_learners_provider_and_the_host_employer_may(app, client, world):
    module, link, offer_link, entry, verified, s4 = _objects(world)
    _login(client, "officer1@example.test")
    for path in (f"/officer/ksbs/modules/{module.id}", f"/officer/ksbs/hours/{entry.id}",
                 f"/officer/ksbs/learners/{world['l1'].id}"):
        assert client.get(path).status_code == 200, path
    client.post("/auth/logout")
    _login(client, "emp1@example.test")
    for path in (f"/employer/ksbs/offers/{world['o1'].id}", f"/employer/ksbs/hours/{entry.id}"):
        assert client.get(path).status_code == 200, path
    client.post("/auth/logout")
    _login(client, "learner1@example.test")
    assert client.get(f"/learner/ksbs/entries/{entry.id}").status_code == 200
    # A learner may not tag classroom hours or another kind of record: only their own WI hours.
    assert client.get("/learner/ksbs/").status_code == 200
