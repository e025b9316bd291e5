"""Tests of the CSV imports: learners, and employers with sites and offers."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    AccountLink,
    AuditEvent,
    Employer,
    EmployerSite,
    Job,
    Learner,
    OutboxMessage,
    PlacementOffer,
    User,
)

LEARNERS = (
    "student_ref,name,email,programme_code,home_postcode,max_travel_km,credentials,"
    "in_work_employer,first_in_family_he,age_band\r\n"
    "N100,Nia Jones,nia@example.test,DIG4,M1 1AA,30,dbs;driving_licence,,yes,21-24\r\n"
    "N101,Omar Ali,omar@example.test,dig4,M14 5AB,,,,no,\r\n"
    "A1,Learner One Renamed,learner1@example.test,DIG4,M1 1AA,20,,,,\r\n"
)

OFFERS = (
    "employer_name,sector,contact_email,site_name,site_postcode,offer_title,capacity,"
    "start_date,end_date,hours_per_week,requirements,work_mode\r\n"
    "Gamma Tech,Digital,jobs@gamma.example,Leeds office,LS1 4AP,Data apprentice,3,"
    "2027-02-01,2027-05-28,30,,hybrid\r\n"
    "Gamma Tech,Digital,,Leeds office,LS1 4AP,Support analyst,1,01/02/2027,28/05/2027,35,"
    "dbs,on-site\r\n"
    "Acme Digital,Digital,,HQ,M1 1AA,Junior developer,4,2027-02-01,2027-05-01,30,,on-site\r\n"
)


@pytest.fixture
def officer(client, auth, world):
    world["prog1"].code = "DIG4"
    db.session.commit()
    auth.login("officer1@example.test")
    return world


def upload(client, kind, text, name="file.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"/officer/imports/{kind}",
                       data={f"{kind}-file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def latest_import() -> Job:
    return db.session.scalar(sa.select(Job).where(Job.kind == "import.csv")
                             .order_by(Job.id.desc()))


def written(job: Job) -> dict:
    return {k: job.result[k] for k in ("created", "updated", "unchanged")}


def check(kind_name: str, officer, text: str):
    from placements.imports import pipeline
    kind = pipeline.KINDS[kind_name]
    return pipeline.validate(kind, officer, pipeline.read(kind, text, max_bytes=10**6,
                                                          max_rows=1000))


def counts():
    return {m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Learner, User, Employer, EmployerSite, PlacementOffer, AccountLink)}


def test_import_page_and_templates(client, officer):
    page = client.get("/officer/imports/").get_data(as_text=True)
    assert "Download the learners template" in page
    assert 'enctype="multipart/form-data"' in page
    tpl = client.get("/officer/imports/learners/template.csv")
    assert tpl.mimetype == "text/csv"
    assert tpl.get_data(as_text=True).splitlines()[0].startswith("\ufeffstudent_ref,name,email")
    tpl = client.get("/officer/imports/offers/template.csv").get_data(as_text=True)
    assert "employer_name,sector" in tpl
    assert client.get("/officer/imports/nope/template.csv").status_code == 404


def test_learner_import_upserts_and_is_idempotent(client, officer):
    before = counts()
    resp = upload(client, "learners", LEARNERS, "sis-export.csv")
    assert resp.status_code == 303
    job = latest_import()
    assert job.status == "succeeded"
    assert written(job) == {"created": 2, "updated": 1, "unchanged": 0}
    assert "content" not in job.payload  # the upload is not kept once written
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Import complete" in page
    nia = db.session.scalar(sa.select(Learner).where(Learner.student_ref == "N100"))
    assert nia.user.email == "nia@example.test"
    assert nia.credentials == ["dbs", "driving_licence"]
    assert nia.max_travel_km == 30
    assert nia.first_in_family_he is True
    assert nia.age_band == "21-24"
    assert nia.provider_id == officer["p1"].id
    assert db.session.scalar(sa.select(Learner).where(
        Learner.student_ref == "N101")).max_travel_km == 25
    assert officer["l1"].user.name == "Learner One Renamed"
    after = counts()
    assert after["Learner"] == before["Learner"] + 2
    assert after["AccountLink"] == before["AccountLink"] + 2
    # The same file again changes nothing.
    audit_before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    resp = upload(client, "learners", LEARNERS)
    job = latest_import()
    assert written(job) == {"created": 0, "updated": 0, "unchanged": 3}
    assert counts() == after
    # Only the import itself is audited the second time.
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == audit_before + 1


def test_bad_learner_file_writes_nothing_and_reports_every_row(client, officer):
    bad = (
        "student_ref,name,email,programme_code,home_postcode,max_travel_km,credentials\r\n"
        "N1,Ok Person,ok@example.test,DIG4,M1 1AA,10,\r\n"
        "N2,,not-an-email,NOPE,ZZ99 9ZZ,900,jetpack\r\n"
        "N1,Repeat,learner2@example.test,DIG4,M1 1AA,10,\r\n"
        "N3,Fine,ok@example.test,DIG4,M1 1AA,abc,\r\n"
    )
    before = counts()
    resp = upload(client, "learners", bad)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert counts() == before
    assert latest_import() is None
    assert "nothing has been imported" in body
    expected = [
        ("3", "name"), ("3", "email"), ("3", "max_travel_km"), ("3", "credentials"),
        ("4", "student_ref"), ("4", "email"), ("5", "max_travel_km")]
    for row, field in expected:
        assert f'<td class="govuk-table__cell">{row}</td>\n' in body or row in body
        assert field in body
    errors = check("learners", officer["officer1"], bad)
    got = {(e.row, e.field) for e in errors}
    # Every problem at once: cells that do not parse, and the database checks of the
    # cells that do, in the same row.
    assert got == {(3, "name"), (3, "email"), (3, "max_travel_km"), (3, "credentials"),
                   (3, "programme_code"), (3, "home_postcode"),
                   (4, "student_ref"), (4, "email"), (5, "max_travel_km"), (5, "email")}
    assert "No programme with code NOPE" in body


def test_database_checks_reported(client, officer):
    text = ("student_ref,name,email,programme_code,home_postcode\r\n"
            "N9,Someone,someone@example.test,NOPE,ZZ99 9ZZ\r\n")
    errors = check("learners", officer["officer1"], text)
    assert {(e.row, e.field) for e in errors} == {(2, "programme_code"), (2, "home_postcode")}
    resp = upload(client, "learners", text)
    assert resp.status_code == 400
    assert "No programme with code NOPE" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    (b"name,email\r\nA,b@c.de\r\n", "student_ref is missing"),
    ("student_ref,name\r\nCaf\u00e9,x\r\n".encode("cp1252"), "CSV UTF-8"),
    (b"", "Select a CSV or Excel (.xlsx) file"),
])
def test_unreadable_files(client, officer, data, message):
    if data:
        resp = upload(client, "learners", data)
    else:
        resp = client.post("/officer/imports/learners", data={},
                           content_type="multipart/form-data")
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)


def test_size_limit(client, officer, app):
    app.config["IMPORT_MAX_BYTES"] = 100
    resp = upload(client, "learners", LEARNERS)
    assert resp.status_code == 400
    assert "larger than" in resp.get_data(as_text=True)


def test_offer_import_upserts(client, officer):
    before = counts()
    resp = upload(client, "offers", OFFERS)
    assert resp.status_code == 303
    job = latest_import()
    assert job.status == "succeeded", job.error
    assert written(job) == {"created": 2, "updated": 1, "unchanged": 0}
    gamma = db.session.scalar(sa.select(Employer).where(Employer.name == "Gamma Tech"))
    assert gamma.approved is True
    assert gamma.contact_email == "jobs@gamma.example"
    assert gamma.region == "Yorkshire and The Humber"
    assert len(gamma.sites) == 1
    titles = sorted(o.title for o in gamma.offers)
    assert titles == ["Data apprentice", "Support analyst"]
    support = next(o for o in gamma.offers if o.title == "Support analyst")
    assert support.requirements == ["dbs"]
    assert support.hours_per_week == 35
    assert officer["o1"].capacity == 4
    after = counts()
    assert after["Employer"] == before["Employer"] + 1
    assert after["PlacementOffer"] == before["PlacementOffer"] + 2
    upload(client, "offers", OFFERS)
    job = latest_import()
    assert written(job) == {"created": 0, "updated": 0, "unchanged": 3}
    assert counts() == after


def test_bad_offer_file_reports_all_rows(client, officer):
    bad = OFFERS.replace("Digital,jobs@gamma", "Knitting,jobs@gamma").replace(
        "2027-05-01,30", "2026-01-01,30").replace("LS1 4AP,Support", "QQ1 1QQ,Support")
    before = counts()
    resp = upload(client, "offers", bad)
    assert resp.status_code == 400
    assert counts() == before
    errors = check("offers", officer["officer1"], bad)
    assert {(e.row, e.field) for e in errors} == {
        (2, "sector"), (3, "site_postcode"), (4, "end_date")}


def test_large_import_runs_in_background_with_progress(client, officer, app):
    app.config["IMPORT_INLINE_ROWS"] = 1
    app.config["JOB_WORKER"] = "inline"
    resp = upload(client, "learners", LEARNERS)
    assert resp.status_code == 303
    status = client.get(resp.headers["Location"] + "/status.json").get_json()
    assert status == {"status": "succeeded", "done": 3, "total": 3, "error": None,
                      "message": "Done"}


def test_other_provider_cannot_see_import_job(client, auth, officer):
    upload(client, "learners", LEARNERS)
    job = latest_import()
    auth.logout()
    auth.login("officer2@example.test")
    assert client.get(f"/officer/imports/jobs/{job.id}").status_code == 404


@pytest.mark.parametrize("email", ["emp1@example.test", "learner1@example.test",
                                   "admin@example.test"])
def test_imports_are_for_officers_only(client, auth, world, email):
    auth.login(email)
    assert client.get("/officer/imports/").status_code == 403
    assert client.get("/officer/imports/learners/template.csv").status_code == 403
    before = counts()
    assert upload(client, "learners", LEARNERS).status_code == 403
    assert counts() == before


def test_background_import_thread_invites_new_learners(client, officer, app):
    import time
    app.config["IMPORT_INLINE_ROWS"] = 1  # every file goes to the background worker
    resp = upload(client, "learners", LEARNERS)
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Import" in page
    status = {}
    for _ in range(200):
        db.session.expire_all()  # requests share the test's session
        status = client.get(resp.headers["Location"] + "/status.json").get_json()
        if status["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "succeeded", status
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id))) == 2
    body = db.session.scalar(sa.select(OutboxMessage.body).where(
        OutboxMessage.to_address == "nia@example.test"))
    assert "/auth/invitation/" in body or "http" in body


def test_every_downloaded_template_imports_as_it_is(client, officer):
    """The sample row of each template passes every check (it once named a programme that
    did not exist)."""
    from placements.imports import pipeline

    for name in pipeline.KINDS:
        text = client.get(f"/officer/imports/{name}/template.csv").get_data(as_text=True)
        errors = check(name, officer["officer1"], text.lstrip("\ufeff"))
        assert not errors, (name, errors)
