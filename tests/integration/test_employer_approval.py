"""Employer approval: the officer's list and employer page, approve and reject (with a reason
e-mailed), the employer asking again, the offers it closes to learners (Python and SQL agree),
one decision when two officers decide at once, and the scope of what an officer sees."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from placements.domain import ConcurrentChange, IllegalTransition, access
from placements.domain import employers as employer_rules
from placements.domain.offers import closed_because, open_to_choices_sql
from placements.extensions import db
from placements.models import (
    AuditEvent,
    Employer,
    EmployerEngagement,
    EmployerSite,
    EmployerStatus,
    OutboxMessage,
    PlacementOffer,
    Provider,
    ProviderKind,
    Role,
    User,
)
from placements.officers import services as officer_services
from tests.conftest import make_user

S = EmployerStatus


@pytest.fixture
def newcomer(world) -> dict:
    """An employer awaiting approval with two users (one not yet confirmed), a contact address
    shared with one of them, a site and an open offer in Digital."""
    employer = Employer(name="Gamma Robotics", sector="Digital", region="North West",
                        contact_email="Boss@Gamma.example")
    site = EmployerSite(employer=employer, name="Works", postcode="M1 1AA",
                        lat=world["s1"].lat, lon=world["s1"].lon)
    offer = PlacementOffer(employer=employer, site=site, title="Robot tester", sector="Digital",
                           capacity=3, start_date=date(2027, 2, 1), end_date=date(2027, 5, 1),
                           hours_per_week=30, requirements=[])
    db.session.add_all([employer, site, offer])
    boss = make_user("boss@gamma.example", Role.EMPLOYER, employer=employer, name="Gia Boss")
    make_user("new@gamma.example", Role.EMPLOYER, employer=employer, name="Nat New",
              active=False)
    db.session.commit()
    return {**world, "gamma": employer, "gamma_site": site, "gamma_offer": offer,
            "boss": boss}


def _outbox(subject_part: str = "") -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.subject.contains(subject_part)).order_by(OutboxMessage.id)))


# --- the lifecycle table -------------------------------------------------------------------

def test_the_lifecycle_table():
    table = employer_rules.EMPLOYER
    assert table.verbs(S.AWAITING) == ["approve", "reject"]
    assert table.verbs(S.REJECTED) == ["ask_again"]
    assert table.verbs(S.APPROVED) == []
    with pytest.raises(IllegalTransition, match="already approved"):
        table.check("reject", S.APPROVED)
    with pytest.raises(IllegalTransition, match="already been rejected"):
        table.check("approve", S.REJECTED)
    with pytest.raises(IllegalTransition, match="already waiting"):
        table.check("ask_again", S.AWAITING)


# --- the officer's list and page ---------------------------------------------------------------

def test_the_list_shows_status_and_links_to_each_employer(client, auth, newcomer):
    auth.login("officer1@example.test")
    page = client.get("/officer/employers").get_data(as_text=True)
    assert page.index("Gamma Robotics") < page.index("Acme Digital")  # awaiting first
    assert f'href="/officer/employers/{newcomer["gamma"].id}"' in page
    assert "Awaiting approval (1)" in page
    assert "Approved (2)" in page
    awaiting = client.get("/officer/employers?status=awaiting").get_data(as_text=True)
    assert "Gamma Robotics" in awaiting
    assert "Acme Digital" not in awaiting
    # An unknown filter shows everyone rather than failing.
    assert client.get("/officer/employers?status=nonsense").status_code == 200


def test_the_list_pages_and_searches_in_sql(client, auth, world):
    """A region has thousands of employers: 50 a page, the count is the database's, and a
    search by name or contact e-mail keeps the status filter."""
    from placements.models import EmployerStatus
    from placements.officers.views import PAGE_SIZE

    for n in range(PAGE_SIZE + 3):
        db.session.add(Employer(name=f"Zeta {n:03d}", sector="Digital", region="North West",
                                contact_email=f"hello{n}@zeta.test"))
    db.session.commit()
    auth.login("officer1@example.test")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Employer))
    first = client.get("/officer/employers").get_data(as_text=True)
    assert f"{total} employer organisations (page 1 of 2)" in first
    assert first.count('href="/officer/employers/') == PAGE_SIZE
    second = client.get("/officer/employers?page=2").get_data(as_text=True)
    assert second.count('href="/officer/employers/') == total - PAGE_SIZE
    found = client.get("/officer/employers?q=HELLO7@").get_data(as_text=True)
    assert "Zeta 007" in found
    assert "Zeta 017" not in found
    assert "1 employer organisation matching" in found
    zetas = db.session.scalar(sa.select(sa.func.count()).select_from(Employer).where(
        Employer.status == EmployerStatus.AWAITING.value, Employer.name.like("Zeta%")))
    assert zetas == PAGE_SIZE + 3
    scoped = client.get("/officer/employers?status=awaiting&q=zeta").get_data(as_text=True)
    assert f"{zetas} employer organisations: awaiting approval matching “zeta” (page 1 of 2)" \
        in scoped
    assert "status=awaiting" in scoped.split('aria-label="Pages"')[1]  # pages keep the filter
    none = client.get("/officer/employers?q=nobody-at-all").get_data(as_text=True)
    assert "No employer's name or contact e-mail contains" in none
    assert client.get("/officer/employers?page=999").status_code == 200


def test_the_employer_page_shows_organisation_users_sites_offers_and_history(
        client, auth, newcomer):
    auth.login("officer1@example.test")
    page = client.get(f"/officer/employers/{newcomer['gamma'].id}").get_data(as_text=True)
    for text in ("Gamma Robotics", "Boss@Gamma.example", "Gia Boss", "Nat New",
                 "Email address not confirmed", "Works", "Robot tester",
                 "The employer has not been approved", "Approve Gamma Robotics", "Reject",
                 # what approving would open: one offer of three places
                 "Approving opens its 1 open offer (3 places)"):
        assert text in page, text
    approved = client.get(f"/officer/employers/{newcomer['e1'].id}").get_data(as_text=True)
    assert "Approve Acme Digital" not in approved
    assert "Junior developer" in approved
    assert "Open" in approved


def test_the_page_says_approval_waits_for_compliance(client, auth, newcomer):
    """With the built-in compliance items blocking allocation and none accepted, approving
    would not open the offer: the page says so and links to the employer's compliance."""
    from placements.compliance import services as compliance_services

    compliance_services.ensure_builtin_types()
    db.session.commit()
    auth.login("officer1@example.test")
    gamma = newcomer["gamma"]
    page = client.get(f"/officer/employers/{gamma.id}").get_data(as_text=True)
    assert "Approving opens" not in page
    assert "Approving does not open its offers yet: 1 offer waits for compliance items" in page
    assert f'href="/officer/compliance/employers/{gamma.id}"' in page
    assert "employer&#39;s liability insurance" in page or "liability insurance" in page


def test_the_page_shows_only_the_officers_partnerships_engagement(client, auth, newcomer):
    own = EmployerEngagement(provider_id=newcomer["p1"].id, employer_id=newcomer["gamma"].id,
                             name="Gamma Robotics", sector="Digital", contact_name="Kim Contact",
                             contact_email="kim@gamma.example")
    db.session.add(own)
    outside = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(outside)
    make_user("outsider@example.test", Role.OFFICER, provider=outside)
    db.session.commit()
    path = f"/officer/employers/{newcomer['gamma'].id}"
    auth.login("officer2@example.test")  # the same partnership
    page = client.get(path).get_data(as_text=True)
    assert f"/officer/engagement/{own.id}" in page
    assert "Contact: Kim Contact, kim@gamma.example" in page
    auth.logout()
    auth.login("outsider@example.test")  # sees the employer, not the partnership's record
    page = client.get(path).get_data(as_text=True)
    assert "Gamma Robotics" in page
    assert f"/officer/engagement/{own.id}" not in page
    assert "Kim Contact" not in page
    assert "no engagement record" in page


def test_an_unknown_employer_is_404(client, auth, world):
    auth.login("officer1@example.test")
    assert client.get("/officer/employers/999999").status_code == 404
    assert client.post("/officer/employers/999999/approve").status_code == 404
    assert client.get("/officer/employers/999999/reject").status_code == 404


def test_access_rule_sql_agrees_with_python(newcomer):
    officer, outsider_less = newcomer["officer1"], User(email="x@x.example", name="X",
                                                       role=Role.OFFICER)
    employers = db.session.scalars(sa.select(Employer)).all()
    for who in (officer, outsider_less):
        sql = set(db.session.scalars(sa.select(Employer.id).where(
            access.officer_employers_sql(who))))
        assert sql == {e.id for e in employers if access.officer_sees_employer(who, e)}
    assert len(employers) == 3


# --- approving -------------------------------------------------------------------------------

def test_approving_opens_the_offers_and_emails_each_user_once(client, auth, newcomer):
    auth.login("officer1@example.test")
    response = client.post(f"/officer/employers/{newcomer['gamma'].id}/approve",
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Gamma Robotics is approved" in response.get_data(as_text=True)
    db.session.expire_all()
    gamma = db.session.get(Employer, newcomer["gamma"].id)
    assert gamma.status == S.APPROVED
    assert gamma.approved
    assert gamma.approved_by_id == newcomer["officer1"].id
    assert gamma.approved_at is not None
    assert closed_because(newcomer["gamma_offer"]) is None
    mails = _outbox("is approved")
    # The active user; the contact address is the same person's (any case); the user who
    # has not confirmed the address hears nothing.
    assert [m.to_address for m in mails] == ["boss@gamma.example"]
    assert "/employer/" in mails[0].body
    assert "Officer1" in mails[0].body
    assert mails[0].provider_id == newcomer["p1"].id
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "employer.approved", AuditEvent.object_id == gamma.id)) == 1
    # Twice: refused in words, no second e-mail.
    again = client.post(f"/officer/employers/{gamma.id}/approve", follow_redirects=True)
    assert "already approved" in again.get_data(as_text=True)
    assert len(_outbox("is approved")) == 1


def test_the_dashboard_counts_only_employers_awaiting(client, auth, newcomer):
    officer = newcomer["officer1"]
    assert officer_services.dashboard_counts(officer)["pending_employers"] == 1
    employer_rules.reject(officer, newcomer["gamma"], "Not a real organisation")
    db.session.commit()
    assert officer_services.dashboard_counts(officer)["pending_employers"] == 0


# --- rejecting -------------------------------------------------------------------------------

def test_a_blank_reason_is_refused_and_nothing_changes(client, auth, newcomer):
    auth.login("officer1@example.test")
    path = f"/officer/employers/{newcomer['gamma'].id}/reject"
    assert client.get(path).status_code == 200
    for reason in ("", "   \n  "):
        response = client.post(path, data={"reason": reason})
        assert response.status_code == 400
        assert "Enter the reason, in words the employer will read" in response.get_data(
            as_text=True)
    response = client.post(path, data={"reason": "x" * 2001})
    assert response.status_code == 400
    assert "2000 characters or fewer" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Employer, newcomer["gamma"].id).status == S.AWAITING
    assert _outbox("not been approved") == []


def test_rejecting_closes_the_offers_and_emails_the_reason(client, auth, newcomer):
    auth.login("officer1@example.test")
    reason = "The offer does not say who would supervise the learner.\nName a supervisor."
    response = client.post(f"/officer/employers/{newcomer['gamma'].id}/reject",
                           data={"reason": reason}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "Gamma Robotics has not been approved" in text
    db.session.expire_all()
    gamma = db.session.get(Employer, newcomer["gamma"].id)
    assert gamma.status == S.REJECTED
    assert not gamma.approved
    assert gamma.rejection_reason == reason
    offer = db.session.get(PlacementOffer, newcomer["gamma_offer"].id)
    assert closed_because(offer) == "the employer has not been approved"
    mails = _outbox("not been approved")
    assert [m.to_address for m in mails] == ["boss@gamma.example"]
    assert reason in mails[0].body
    assert "/employer/approval" in mails[0].body
    assert "officer1@example.test" in mails[0].body  # whom to ask
    # Not again, and not approved now: the employer asks again first.
    again = client.post(f"/officer/employers/{gamma.id}/reject", data={"reason": "More"},
                        follow_redirects=True)
    assert "already been rejected" in again.get_data(as_text=True)
    assert client.post(f"/officer/employers/{gamma.id}/approve").status_code == 303
    db.session.expire_all()
    assert db.session.get(Employer, gamma.id).status == S.REJECTED
    assert len(_outbox("not been approved")) == 1
    page = client.get(f"/officer/employers/{gamma.id}").get_data(as_text=True)
    assert "Name a supervisor." in page
    assert "Not approved: The offer does not say" in page


def test_a_rejected_employers_offers_are_closed_everywhere(client, auth, newcomer):
    """The learner's list, the offer page, saving a choice and the SQL form all agree."""
    officer = newcomer["officer1"]
    offer_id = newcomer["gamma_offer"].id
    auth.login("learner1@example.test")
    assert client.get(f"/learner/offers/{offer_id}").status_code == 404  # awaiting
    auth.logout()
    employer_rules.approve(officer, newcomer["gamma"])
    db.session.commit()
    auth.login("learner1@example.test")
    assert client.get(f"/learner/offers/{offer_id}").status_code == 200
    assert "Robot tester" in client.get("/learner/offers").get_data(as_text=True)
    # Rejected (a fixture: an approved employer is never rejected by an officer).
    db.session.execute(sa.update(Employer).where(Employer.id == newcomer["gamma"].id)
                       .values(status=S.REJECTED.value))
    db.session.commit()
    assert client.get(f"/learner/offers/{offer_id}").status_code == 404
    assert "Robot tester" not in client.get("/learner/offers").get_data(as_text=True)
    response = client.post(f"/learner/rounds/{newcomer['round'].id}/choices",
                           data={"add": str(offer_id)})
    assert response.status_code == 400
    assert "no longer available" in response.get_data(as_text=True)


@pytest.mark.parametrize("status", list(S))
def test_open_to_choices_sql_agrees_with_python_for_each_status(newcomer, status):
    db.session.execute(sa.update(Employer).where(Employer.id == newcomer["gamma"].id)
                       .values(status=status.value))
    db.session.commit()
    db.session.expire_all()
    offers = db.session.scalars(sa.select(PlacementOffer)).all()
    sql = set(db.session.scalars(sa.select(PlacementOffer.id).join(Employer).where(
        open_to_choices_sql())))
    assert sql == {o.id for o in offers if closed_because(o) is None}
    assert (newcomer["gamma_offer"].id in sql) == (status == S.APPROVED)


# --- the employer's side -------------------------------------------------------------------

def test_a_rejected_employer_reads_why_and_asks_again(client, auth, newcomer):
    employer_rules.reject(newcomer["officer1"], newcomer["gamma"],
                          "Describe what the learner would do.")
    db.session.commit()
    auth.login("boss@gamma.example")
    home = client.get("/employer/").get_data(as_text=True)
    assert "Not approved" in home
    assert "/employer/approval" in home
    assert "Awaiting approval." not in home
    page = client.get("/employer/approval").get_data(as_text=True)
    assert "Describe what the learner would do." in page
    assert "Ask for approval again" in page
    offers = client.get("/employer/offers").get_data(as_text=True)
    assert "learners cannot see these offers" in offers
    # Blank: refused, still rejected.
    response = client.post("/employer/approval", data={"note": "  "})
    assert response.status_code == 400
    assert "Tell the placement officers what you have changed" in response.get_data(
        as_text=True)
    db.session.expire_all()
    assert db.session.get(Employer, newcomer["gamma"].id).status == S.REJECTED
    response = client.post("/employer/approval",
                           data={"note": "Each offer now lists the tasks."},
                           follow_redirects=True)
    assert "You have asked for approval again" in response.get_data(as_text=True)
    db.session.expire_all()
    gamma = db.session.get(Employer, newcomer["gamma"].id)
    assert gamma.status == S.AWAITING
    assert gamma.resubmission_note == "Each offer now lists the tasks."
    # The officer who rejected it hears about it, with a link to decide.
    (told,) = _outbox("asked for approval again")
    assert told.to_address == "officer1@example.test"
    assert "Each offer now lists the tasks." in told.body
    assert f"/officer/employers/{gamma.id}" in told.body
    # Asking twice is refused in words.
    again = client.post("/employer/approval", data={"note": "Again"})
    assert again.status_code == 400
    assert "already waiting" in again.get_data(as_text=True)
    auth.logout()
    auth.login("officer2@example.test")
    page = client.get(f"/officer/employers/{gamma.id}").get_data(as_text=True)
    assert "Asked for approval again" in page
    assert "Each offer now lists the tasks." in page
    assert "Approve Gamma Robotics" in page
    listing = client.get("/officer/employers").get_data(as_text=True)
    assert "Asked again" in listing


def test_an_approved_employer_sees_its_status(client, auth, world):
    auth.login("emp1@example.test")
    page = client.get("/employer/approval").get_data(as_text=True)
    assert "Approved" in page
    assert "Ask for approval again" not in page
    response = client.post("/employer/approval", data={"note": "Anything"})
    assert response.status_code == 400
    assert "already approved" in response.get_data(as_text=True)


# --- two officers at once ----------------------------------------------------------------

def test_two_officers_deciding_at_once_decide_once(app, newcomer):
    """Ten threads approve or reject the same employer at the same moment: one decision,
    one audit event, one round of e-mails; the others are told what happened."""
    employer_id = newcomer["gamma"].id
    officer_ids = [newcomer["officer1"].id, newcomer["officer2"].id]
    db.session.remove()
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def decide(i: int) -> None:
        with app.app_context(), app.test_request_context():
            officer = db.session.get(User, officer_ids[i % 2])
            employer = db.session.get(Employer, employer_id)
            _ = employer.status, officer.provider  # read before the race
            barrier.wait()
            try:
                if i % 2:
                    officer_services.approve_employer(officer, employer)
                else:
                    officer_services.reject_employer(officer, employer, f"Reason {i}")
                db.session.commit()
                outcomes.append("won")
            except ConcurrentChange:
                db.session.rollback()
                outcomes.append("refused")
            except IllegalTransition:  # read the winner's state before its own check
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 9 + ["won"]
    final = db.session.get(Employer, employer_id)
    assert final.status in (S.APPROVED, S.REJECTED)
    decisions = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.object_type == "Employer", AuditEvent.object_id == employer_id,
        AuditEvent.action.in_(["employer.approved", "employer.rejected"])))
    assert decisions == 1
    assert len(_outbox("Gamma Robotics")) == 1  # one active user, one e-mail


def test_searches_take_percent_and_underscore_literally(client, auth, world):
    """A search for "50%" finds the names containing "50%", not every name with "50"."""
    for name in ("50% Engineering", "500 Builders", "A_B Care", "AXB Care"):
        db.session.add(Employer(name=name, sector="Digital", region="North West"))
    db.session.commit()
    auth.login("officer1@example.test")
    page = client.get("/officer/employers?q=50%25").get_data(as_text=True)
    assert "50% Engineering" in page
    assert "500 Builders" not in page
    page = client.get("/officer/employers?q=a_b").get_data(as_text=True)
    assert "A_B Care" in page
    assert "AXB Care" not in page
    page = client.get("/officer/employers?q=%5C").get_data(as_text=True)  # a backslash
    assert "No employer's name or contact e-mail contains" in page
