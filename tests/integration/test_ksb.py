"""KSBs in the app: the catalogue and its imports, programme mapping with suggestions, the
coverage matrix, offers' KSBs, learners' evidence confirmed with their hours, progress,
the round's opt-in and the problem file, and the domain rules' Python and SQL forms."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from placements.domain import ksb as rules
from placements.extensions import db
from placements.hours import imports as hours_imports
from placements.hours import services as hours_services
from placements.ksb import catalogue, services
from placements.models import (
    AuditEvent,
    Delivery,
    EvidenceStatus,
    HoursEntry,
    HoursKind,
    HoursStatus,
    Job,
    Ksb,
    KsbEvidence,
    KsbEvidenceItem,
    KsbStandardVersion,
    LinkStatus,
    ModuleKsb,
    OccupationalStandard,
    OfferKsb,
    Placement,
    PlacementStatus,
    Programme,
    ProgrammeModule,
    Role,
)
from placements.rounds.problem import build_problem
from tests.conftest import PASSWORD, make_run, make_user
from tests.integration.test_races import _clients, race

TODAY = date(2026, 11, 20)
OUTCOMES = ("Write, test and debug programs in a high-level language. Write unit tests, "
            "analyse the results and correct the errors found. Use version control with the "
            "team's branching approach.")


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr(hours_services, "today_uk", lambda: TODAY)
    monkeypatch.setattr(hours_imports, "today_uk", lambda: TODAY)


@pytest.fixture
def ksbs(world):
    """The world with the bundled KSBs of ST0116 and ST0215 loaded, programme codes set."""
    for data in catalogue.read_bundled():
        if data.reference in ("ST0116", "ST0215"):
            catalogue.upsert_standard(None, data, source=catalogue.BUNDLED_SOURCE)
    world["prog1"].code = "SWD"
    world["prog2"].code = "HLT"
    db.session.commit()
    return world


def ids(reference: str = "ST0116") -> dict[str, int]:
    return dict(db.session.execute(
        sa.select(Ksb.code, Ksb.id).join(OccupationalStandard,
                                         OccupationalStandard.id == Ksb.standard_id)
        .where(OccupationalStandard.reference == reference)).all())


def add_module(programme, code, delivery=Delivery.MODULE, confirmed=(), outcomes=""):
    module = ProgrammeModule(programme_id=programme.id, code=code, title=f"Module {code}",
                             delivery=delivery, outcomes=outcomes)
    db.session.add(module)
    db.session.flush()
    codes = ids(programme.standard.reference)
    for code_ in confirmed:
        db.session.add(ModuleKsb(module_id=module.id, ksb_id=codes[code_],
                                 status=LinkStatus.CONFIRMED))
    db.session.commit()
    return module


def upload(client, kind: str, body: bytes | str, name: str = "file.csv"):
    data = body.encode() if isinstance(body, str) else body
    return client.post(f"/officer/imports/{kind}", data={
        f"{kind}-file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def flashes(response) -> str:
    """The page's text: tags removed, entities decoded, white space collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(text)).replace(" ,", ",").replace(" .", ".")


# --- the catalogue ---------------------------------------------------------------------------

def test_bundled_ksbs_load_once_with_their_source(app, world):
    first = catalogue.load_bundled()
    db.session.commit()
    assert (first.created, first.updated) == (3815, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ksb)) == 3815
    again = catalogue.load_bundled()
    db.session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3815)
    version = db.session.get(KsbStandardVersion, world["prog1"].standard_id)
    assert version.revision == 1
    assert "ksbs-l4-l5.csv" in version.source
    # Standards not among the 101 are created from the file's title, level and route.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KsbStandardVersion)) == 75
    st0116 = catalogue.ksbs_of(world["prog1"].standard_id)
    assert [k.code for k in st0116][:3] == ["K1", "K2", "K3"]
    assert st0116[-1].code == "B9"


# --- imports: a standard's KSBs, programme modules -------------------------------------------

NEW_STANDARD = "\n".join([
    "standard,standard_title,level,route,code,kind,statement,version,version_date",
    "ST0457,Engineering manufacturing technician,4,Engineering and manufacturing,K1,knowledge,"
    "Principles of engineering drawings.,1.1,2023-05-04",
    "ST0457,,,,S1,skill,Interpret engineering drawings and specifications.,1.1,2023-05-04",
    "ST0457,,,,B1,behaviour,Take responsibility for safe working.,,"]) + "\n"


def test_csv_import_adds_a_standard_with_its_version_and_is_idempotent(client, auth, ksbs):
    auth.login("officer1@example.test")
    response = upload(client, "ksbs", NEW_STANDARD)
    assert response.status_code == 303, flashes(response)[:3000]
    standard = catalogue.standards_by_reference(["ST0457"])["ST0457"]
    assert (standard.title, standard.level, standard.route) == (
        "Engineering manufacturing technician", 4, "Engineering and manufacturing")
    version = catalogue.version_of(standard.id)
    assert (version.version, version.version_date, version.source) == (
        "1.1", date(2023, 5, 4), "CSV import")
    assert version.loaded_by_id == ksbs["officer1"].id
    assert [(k.code, k.kind.value) for k in catalogue.ksbs_of(standard.id)] == [
        ("K1", "knowledge"), ("S1", "skill"), ("B1", "behaviour")]
    job = db.session.scalar(sa.select(Job).order_by(Job.id.desc()))
    assert job.result["created"] == 3
    # The same file again changes nothing (the revision stays).
    assert upload(client, "ksbs", NEW_STANDARD).status_code == 303
    db.session.expire_all()
    job = db.session.scalar(sa.select(Job).order_by(Job.id.desc()))
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (0, 0, 3)
    assert catalogue.version_of(standard.id).revision == 1
    # The new standard can be a programme's now.
    assert client.get("/officer/ksbs/standards/ST0457").status_code == 200


SKILLS_ENGLAND = {
    "standardUId": "ST0457_1.2",
    "referenceNumber": "ST0457",
    "title": "Engineering manufacturing technician",
    "level": 4,
    "version": "1.2",
    "approvedForDelivery": "2024-02-01T00:00:00",
    "route": "Engineering and manufacturing",
    "knowledges": [{"knowledgeId": "a1", "reference": "K1", "detail": "Principles of "
                    "engineering drawings and tolerances."},
                   {"knowledgeId": "a2", "reference": "K2", "detail": "Quality standards."}],
    "skills": [{"skillId": "b1", "reference": "S1", "detail": "Interpret drawings."}],
    "behaviours": [{"behaviourId": "c1", "reference": "B1", "detail": "Work safely."}],
}


def test_skills_england_json_import(client, auth, ksbs):
    auth.login("officer1@example.test")
    response = upload(client, "ksbs", json.dumps(SKILLS_ENGLAND), "st0457.json")
    assert response.status_code == 303, flashes(response)[:3000]
    standard = catalogue.standards_by_reference(["ST0457"])["ST0457"]
    version = catalogue.version_of(standard.id)
    assert (version.version, version.version_date, version.source) == (
        "1.2", date(2024, 2, 1), "Skills England JSON")
    assert {k.code: k.statement for k in catalogue.ksbs_of(standard.id)} == {
        "K1": "Principles of engineering drawings and tolerances.",
        "K2": "Quality standards.", "S1": "Interpret drawings.", "B1": "Work safely."}
    # A newer version changes one statement: updated, and the revision moves.
    newer = {**SKILLS_ENGLAND, "version": "1.3",
             "skills": [{"reference": "S1", "detail": "Interpret engineering drawings."}]}
    assert upload(client, "ksbs", json.dumps(newer), "st0457.json").status_code == 303
    db.session.expire_all()
    version = catalogue.version_of(standard.id)
    assert (version.version, version.revision) == ("1.3", 2)
    assert catalogue.ksbs_by_code(standard.id)["S1"].statement == "Interpret engineering " \
                                                                   "drawings."


def test_import_problems_are_all_listed_and_nothing_is_saved(client, auth, ksbs):
    auth.login("officer1@example.test")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Ksb))
    bad = ("standard,standard_title,level,route,code,kind,statement\n"
           "ST0999,,,,K1,knowledge,Something.\n"          # new standard without title etc.
           "ST0116,,,,X1,skill,Not a code.\n"
           "ST0116,,,,K1,skill,Wrong kind.\n"
           "ST0116,,,,S1,skill,Twice.\n"
           "ST0116,,,,S1,skill,Twice.\n"
           "ST0116,,5,,S2,skill,Wrong level.\n")
    response = upload(client, "ksbs", bad)
    assert response.status_code == 400
    page = flashes(response)
    for message in ("ST0999 is not in the service yet: give its title",
                    "Enter a KSB code like K1, S12 or B3",
                    "K1 is a knowledge code, but its kind says skill",
                    "ST0116 S1 is also on row 5", "ST0116 is level 4",
                    "nothing has been imported"):
        assert message in page, message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ksb)) == before
    assert catalogue.standards_by_reference(["ST0999"]) == {}
    # JSON that is not a standard: one clear problem for the whole file.
    response = upload(client, "ksbs", '{"title": "Nothing here"}', "x.json")
    assert response.status_code == 400
    assert "The JSON holds no occupational standard" in flashes(response)
    response = upload(client, "ksbs", '{"referenceNumber": "ST0457", "skills": []}', "x.json")
    assert "The JSON of ST0457 lists no knowledge, skills or behaviours" in flashes(response)
    response = upload(client, "ksbs", '{"knowledges": [', "x.json")
    assert "The file is not valid JSON" in flashes(response)


def test_module_import_refuses_unknown_ksb_codes_then_imports(client, auth, ksbs):
    auth.login("officer1@example.test")
    body = ("programme_code,module_code,title,delivery,learning_outcomes,ksbs\n"
            "SWD,SWD401,Programming,module,Write code.,S1;S99\n"
            "SWD,SWD-PL,Work placement,placement,Work in a team.,S4;B9;K99\n"
            "NOPE,X1,Other,module,,\n")
    response = upload(client, "ksb-modules", body)
    assert response.status_code == 400
    page = flashes(response)
    assert "ST0116 has no KSB S99" in page
    assert "ST0116 has no KSBs K99" not in page
    assert "ST0116 has no KSB K99" in page
    assert "No programme with code NOPE at your provider" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgrammeModule)) == 0
    good = ("programme_code,module_code,title,delivery,learning_outcomes,ksbs\n"
            "SWD,SWD401,Programming,module,Write code.,S1\n"
            "SWD,SWD-PL,Work placement,placement,Work in a team.,S4;B9\n")
    assert upload(client, "ksb-modules", good).status_code == 303
    modules = {m.code: m for m in db.session.scalars(sa.select(ProgrammeModule))}
    assert modules["SWD-PL"].delivery is Delivery.PLACEMENT
    assert sorted(link.ksb.code for link in modules["SWD-PL"].links) == ["B9", "S4"]
    assert services.expected_ids(ksbs["prog1"]) == {ids()["S4"], ids()["B9"]}
    assert upload(client, "ksb-modules", good).status_code == 303
    job = db.session.scalar(sa.select(Job).order_by(Job.id.desc()))
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (0, 0, 2)


# --- mapping a module with suggestions ---------------------------------------------------------

def test_officer_maps_a_module_with_suggestions(client, auth, ksbs):
    auth.login("officer1@example.test")
    response = client.post(f"/officer/ksbs/programmes/{ksbs['prog1'].id}/modules/new", data={
        "code": "SWD401", "title": "Programming foundations", "delivery": "module",
        "outcomes": ""})
    assert response.status_code == 303
    module = db.session.scalar(sa.select(ProgrammeModule))
    response = client.post(f"/officer/ksbs/modules/{module.id}/suggest",
                           data={"text": OUTCOMES})
    assert response.status_code == 303
    links = db.session.scalars(sa.select(ModuleKsb).order_by(ModuleKsb.score.desc())).all()
    assert len(links) == 10
    assert all(link.status == LinkStatus.SUGGESTED for link in links)
    assert links[0].score >= links[-1].score
    assert module.outcomes == OUTCOMES
    codes = [link.ksb.code for link in links]
    assert "S4" in codes[:3]  # "test code and analyse results to correct errors found"
    s4 = next(link for link in links if link.ksb.code == "S4")
    assert "errors" in s4.matched
    page = client.get(f"/officer/ksbs/modules/{module.id}").get_data(as_text=True)
    assert "10 suggested KSBs" in page and "(meaning only)" in page or "errors" in page
    # Confirm one with its own button, reject another, confirm two ticked together.
    assert client.post(f"/officer/ksbs/modules/{module.id}/decide",
                       data={"confirm": str(s4.id)}).status_code == 303
    assert client.post(f"/officer/ksbs/modules/{module.id}/decide",
                       data={"reject": str(links[-1].id)}).status_code == 303
    assert client.post(f"/officer/ksbs/modules/{module.id}/decide", data={
        "action": "confirm", "link": [str(links[1].id), str(links[2].id)]}).status_code == 303
    db.session.expire_all()
    statuses = {link.ksb.code: link.status for link in db.session.scalars(sa.select(ModuleKsb))}
    confirmed = {c for c, s in statuses.items() if s == LinkStatus.CONFIRMED}
    assert len(confirmed) == 3
    assert "S4" in confirmed
    assert statuses[links[-1].ksb.code] == LinkStatus.REJECTED
    page = client.get(f"/officer/ksbs/modules/{module.id}").get_data(as_text=True)
    rejected = page.split("Rejected KSBs (1)")[1].split("</details>")[0]
    assert f'name="confirm" value="{links[-1].id}"' in rejected
    assert f'action="/officer/ksbs/modules/{module.id}/decide"' in rejected
    link = db.session.get(ModuleKsb, s4.id)
    assert link.decided_by_id == ksbs["officer1"].id
    # Only confirmed links count in the matrix.
    matrix = services.coverage_matrix(ksbs["prog1"])
    assert {r.ksb.code for r in matrix.rows if r.covered_by} == confirmed
    assert matrix.undecided == {module.id: 6}
    # Suggesting again keeps every decision and never brings a rejected KSB back.
    assert client.post(f"/officer/ksbs/modules/{module.id}/suggest",
                       data={"text": OUTCOMES}).status_code == 303
    db.session.expire_all()
    again = {link.ksb.code: link.status for link in db.session.scalars(sa.select(ModuleKsb))}
    assert {c: s for c, s in again.items() if s != LinkStatus.SUGGESTED} == {
        c: s for c, s in statuses.items() if s != LinkStatus.SUGGESTED}
    audit = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.like("module_ksb.%"))).all()
    assert sorted(audit) == ["module_ksb.confirmed"] * 3 + ["module_ksb.rejected"]


def test_suggestions_refuse_bad_text_and_save_nothing(client, auth, ksbs):
    auth.login("officer1@example.test")
    module = add_module(ksbs["prog1"], "SWD401", outcomes="Kept as it was.")
    for text, message in [("", "Enter the learning outcomes or planned activities"),
                          ("   \n ", "Enter the learning outcomes"),
                          ("...", "Enter the learning outcomes"),
                          ("x" * 1_000_000, "must be 20,000 characters or fewer")]:
        response = client.post(f"/officer/ksbs/modules/{module.id}/suggest",
                               data={"text": text})
        assert response.status_code == 400, text[:10]
        assert message in flashes(response), text[:10]
    db.session.expire_all()
    assert db.session.get(ProgrammeModule, module.id).outcomes == "Kept as it was."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModuleKsb)) == 0
    # A programme whose standard has no KSBs loaded: a clear error, nothing saved.
    other = OccupationalStandard(reference="ST0457", title="Engineering technician", level=4,
                                 route="Engineering and manufacturing")
    programme = Programme(provider=ksbs["p1"], title="HTQ Engineering", level=4,
                          standard=other, route=other.route, planned_total_hours=1000,
                          start_date=date(2026, 9, 1), end_date=date(2027, 7, 1))
    db.session.add_all([other, programme])
    db.session.commit()
    module = add_module(programme, "ENG401")
    response = client.post(f"/officer/ksbs/modules/{module.id}/suggest",
                           data={"text": OUTCOMES})
    assert response.status_code == 400
    assert "No KSBs are loaded for ST0457" in flashes(response)
    assert db.session.get(ProgrammeModule, module.id).outcomes == ""


def test_module_form_errors_in_the_domains_words(client, auth, ksbs):
    auth.login("officer1@example.test")
    add_module(ksbs["prog1"], "SWD401")
    url = f"/officer/ksbs/programmes/{ksbs['prog1'].id}/modules/new"
    response = client.post(url, data={"code": "", "title": "", "delivery": "module"})
    assert response.status_code == 400
    assert "Enter the module's code, like SWD401" in flashes(response)
    response = client.post(url, data={"code": "swd401", "title": "Again",
                                      "delivery": "module"})
    assert response.status_code == 400
    assert "already has a module with the code swd401" in flashes(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgrammeModule)) == 1


def test_two_officers_confirming_the_same_suggestion_decide_it_once(app, ksbs):
    make_user("officer1b@example.test", Role.OFFICER, provider=ksbs["p1"])
    db.session.commit()
    module = add_module(ksbs["prog1"], "SWD401")
    link = ModuleKsb(module_id=module.id, ksb_id=ids()["S4"], status=LinkStatus.SUGGESTED,
                     score=0.8, matched=["errors"])
    db.session.add(link)
    db.session.commit()
    link_id, module_id = link.id, module.id
    clients = _clients(app, ["officer1@example.test", "officer1b@example.test"])
    responses = race(app, [
        lambda c=c: c.post(f"/officer/ksbs/modules/{module_id}/decide",
                           data={"confirm": str(link_id)}, follow_redirects=True)
        for c in clients])
    pages = [flashes(r) for r in responses]
    assert sum("1 KSB confirmed" in p for p in pages) == 1, pages
    assert sum("This KSB has already been confirmed" in p for p in pages) == 1
    assert db.session.get(ModuleKsb, link_id).status == LinkStatus.CONFIRMED
    assert db.session.scalar(sa.select(sa.func.count()).where(
        AuditEvent.action == "module_ksb.confirmed")) == 1


def test_add_a_ksb_by_hand_and_remove_a_module(client, auth, ksbs):
    auth.login("officer1@example.test")
    module = add_module(ksbs["prog1"], "SWD-PL", Delivery.PLACEMENT)
    response = client.post(f"/officer/ksbs/modules/{module.id}/add", data={"ksb": ids()["B1"]})
    assert response.status_code == 303
    assert services.expected_ids(ksbs["prog1"]) == {ids()["B1"]}
    # A KSB of another standard is refused.
    response = client.post(f"/officer/ksbs/modules/{module.id}/add",
                           data={"ksb": ids("ST0215")["K1"]})
    assert response.status_code == 400
    assert client.get(f"/officer/ksbs/modules/{module.id}/remove").status_code == 200
    assert client.post(f"/officer/ksbs/modules/{module.id}/remove").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModuleKsb)) == 0
    assert services.expected_ids(ksbs["prog1"]) == set()


# --- the coverage matrix ---------------------------------------------------------------------

def test_coverage_matrix_gaps_and_exports(client, auth, ksbs):
    add_module(ksbs["prog1"], "=SWD401", confirmed=["S1", "K1"])
    add_module(ksbs["prog1"], "SWD-PL", Delivery.PLACEMENT, confirmed=["S4", "K1"])
    matrix = services.coverage_matrix(ksbs["prog1"])
    gaps = {r.ksb.code: r.gap for r in matrix.rows}
    assert gaps["S1"] is rules.Gap.CLASSROOM_ONLY  # a skill only taught
    assert gaps["K1"] is None
    assert gaps["S4"] is None
    assert gaps["K2"] is rules.Gap.NOWHERE
    assert len(matrix.rows) == 38
    auth.login("officer1@example.test")
    page = client.get(f"/officer/ksbs/programmes/{ksbs['prog1'].id}/matrix?gap=classroom")
    assert page.status_code == 200
    text = flashes(page)
    assert "1 KSB with this gap" in text
    assert "Classroom only" in text
    csv_response = client.get(f"/officer/ksbs/programmes/{ksbs['prog1'].id}/matrix.csv")
    lines = csv_response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("code,kind,statement,'=SWD401 Module =SWD401")
    s1 = next(line for line in lines if line.startswith("S1,"))
    assert s1.endswith(",yes,,1,0,classroom only")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(
        f"/officer/ksbs/programmes/{ksbs['prog1'].id}/matrix.xlsx").data))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][3].startswith("'=SWD401")  # never a formula
    assert len(rows) == 39
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code["S4"][-3:] == (0, 1, None) or by_code["S4"][-3:] == (0, 1, "")


# --- offers ---------------------------------------------------------------------------------

def test_employer_confirms_suggested_offer_ksbs_and_learners_see_coverage(client, auth, ksbs):
    offer = ksbs["o1"]
    offer.standards = [ksbs["prog1"].standard]
    offer.description = ("Build and test features of our web application: write unit tests "
                         "and fix the bugs they find, use Git and pull requests, deploy "
                         "through continuous integration.")
    db.session.commit()
    auth.login("emp1@example.test")
    assert client.post(f"/employer/ksbs/offers/{offer.id}/suggest").status_code == 303
    links = db.session.scalars(sa.select(OfferKsb).order_by(OfferKsb.score.desc())).all()
    assert len(links) == 10
    assert {link.status for link in links} == {LinkStatus.SUGGESTED}
    chosen = [link for link in links if link.ksb.code in ("S4", "S14")]
    assert len(chosen) == 2
    response = client.post(f"/employer/ksbs/offers/{offer.id}/decide", data={
        "action": "confirm", "link": [str(link.id) for link in chosen]},
        follow_redirects=True)
    assert "2 KSBs confirmed." in flashes(response)
    # The programme expects S4 and B1 at work: the offer covers one of the two.
    add_module(ksbs["prog1"], "SWD-PL", Delivery.PLACEMENT, confirmed=["S4", "B1"])
    coverage = services.offer_coverage(ksbs["l1"], [offer.id])[offer.id]
    assert ([k.code for k in coverage.covered], coverage.expected, coverage.outstanding) == (
        ["S4"], 2, 1)
    auth.logout()
    auth.login("learner1@example.test")
    listing = flashes(client.get("/learner/offers"))
    assert "Develops 1 of the 2 KSBs your programme expects you to show at work: S4" in listing
    detail = flashes(client.get(f"/learner/offers/{offer.id}"))
    assert "KSBs this placement develops" in detail
    assert "test code and analyse results" in \
        detail
    # The officer's filter by KSB.
    auth.logout()
    auth.login("officer1@example.test")
    page = flashes(client.get(f"/officer/ksbs/offers?programme={ksbs['prog1'].id}"
                              f"&ksb={ids()['S4']}&covering=covering"))
    assert "1 open offer in Digital" in page
    assert "Junior developer" in page
    page = flashes(client.get(f"/officer/ksbs/offers?programme={ksbs['prog1'].id}"
                              f"&ksb={ids()['B1']}&covering=covering"))
    assert "0 open offers in Digital" in page
    response = client.get(f"/officer/ksbs/offers?programme={ksbs['prog1'].id}"
                          f"&ksb={ids('ST0215')['K1']}")
    assert response.status_code == 400


def test_offer_suggestions_need_a_standard_and_a_description(client, auth, ksbs):
    auth.login("emp1@example.test")
    offer = ksbs["o1"]
    response = client.post(f"/employer/ksbs/offers/{offer.id}/suggest", follow_redirects=True)
    assert "Add the occupational standards this placement suits" in flashes(response)
    offer.standards = [ksbs["prog1"].standard]
    offer.description = ""
    db.session.commit()
    response = client.post(f"/employer/ksbs/offers/{offer.id}/suggest", follow_redirects=True)
    assert "Describe what the learner will do on this placement" in flashes(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfferKsb)) == 0


# --- evidence: learners tag hours, supervisors confirm --------------------------------------

@pytest.fixture
def placed(ksbs):
    placement = Placement(round=ksbs["round"], learner=ksbs["l1"], offer=ksbs["o1"],
                          status=PlacementStatus.PUBLISHED)
    db.session.add(placement)
    db.session.commit()
    add_module(ksbs["prog1"], "SWD-PL", Delivery.PLACEMENT, confirmed=["S4", "S14", "B1"])
    return {**ksbs, "pl1": placement}


def log(client, placement_id: int | None, ksb_codes=(), reflection="", day=date(2026, 11, 2)):
    return client.post("/hours/", data={
        "entry_date": [str(day.day), str(day.month), str(day.year)], "hours": "7",
        "kind": "placement" if placement_id else "live-brief",
        "placement": str(placement_id or ""), "note": "",
        "ksb-ksbs": [str(ids()[c]) for c in ksb_codes], "ksb-reflection": reflection})


def test_learner_tags_hours_and_the_supervisor_confirms(client, auth, placed):
    auth.login("learner1@example.test")
    response = log(client, placed["pl1"].id, ["S4", "S14"],
                   "I wrote unit tests for the booking form and fixed two bugs.")
    assert response.status_code == 303, flashes(response)[:2000]
    entry = db.session.scalar(sa.select(HoursEntry))
    evidence = rules.evidence_of(entry.id)
    assert evidence.version == 1
    assert {i.ksb.code: i.status for i in evidence.items} == {
        "S4": EvidenceStatus.CLAIMED, "S14": EvidenceStatus.CLAIMED}
    progress = services.learner_progress(placed["l1"])
    states = {r.ksb.code: r.state for r in progress.rows if r.state}
    assert states == {"S4": rules.Progress.EVIDENCED, "S14": rules.Progress.EVIDENCED,
                      "B1": rules.Progress.OUTSTANDING}
    auth.logout()
    auth.login("emp1@example.test")
    pending = flashes(client.get("/hours/verify/"))
    assert "Check KSBs and verify" in pending
    assert "KSBs practised: S4, S14" in pending
    check = flashes(client.get(f"/employer/ksbs/hours/{entry.id}"))
    assert "I wrote unit tests for the booking form" in check
    response = client.post(f"/hours/verify/entries/{entry.id}/verify", data={
        "ksb": [str(ids()["S4"])], "ksb_version": "1"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(HoursEntry, entry.id).status == HoursStatus.VERIFIED
    items = {i.ksb.code: i for i in rules.evidence_of(entry.id).items}
    assert items["S4"].status == EvidenceStatus.CONFIRMED
    assert items["S4"].decided_by_id == placed["emp1"].id
    assert items["S14"].status == EvidenceStatus.NOT_CONFIRMED
    states = {r.ksb.code: r.state for r in services.learner_progress(placed["l1"]).rows
              if r.state}
    assert states == {"S4": rules.Progress.CONFIRMED, "S14": rules.Progress.OUTSTANDING,
                      "B1": rules.Progress.OUTSTANDING}
    assert db.session.scalar(sa.select(AuditEvent.detail).where(
        AuditEvent.action == "ksb_evidence.decided")) | {} == {
        "learner_id": placed["l1"].id, "hours_entry_id": entry.id, "confirmed": ["S4"],
        "not_confirmed": ["S14"], "by": None}
    auth.logout()
    auth.login("learner1@example.test")
    page = flashes(client.get("/learner/ksbs/"))
    assert "1 of 3" in page
    assert "KSBs expected at work confirmed" in page


def test_tagging_mistakes_save_nothing(client, auth, placed):
    auth.login("learner1@example.test")
    response = log(client, placed["pl1"].id, ["S4"], "")
    assert response.status_code == 400
    assert "Say briefly what you did that shows these KSBs" in flashes(response)
    response = log(client, placed["pl1"].id, [], "x" * 2001)
    assert response.status_code == 400
    assert "The reflection must be 2,000 characters or fewer" in flashes(response)
    response = client.post("/hours/", data={
        "entry_date": ["2", "11", "2026"], "hours": "7", "kind": "live-brief", "placement": "",
        "ksb-ksbs": [str(ids("ST0215")["K1"])], "ksb-reflection": "Other standard."})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HoursEntry)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KsbEvidence)) == 0


def test_verifying_refuses_tags_changed_since_they_were_seen(client, auth, placed):
    auth.login("learner1@example.test")
    log(client, placed["pl1"].id, ["S4"], "Unit tests.")
    entry = db.session.scalar(sa.select(HoursEntry))
    # The learner changes the tags after the supervisor opened the check page (version 1).
    response = client.post(f"/learner/ksbs/entries/{entry.id}", data={
        "version": "1", "ksbs": [str(ids()["S4"]), str(ids()["B1"])],
        "reflection": "Unit tests and a review."})
    assert response.status_code == 303
    auth.logout()
    auth.login("emp1@example.test")
    response = client.post(f"/hours/verify/entries/{entry.id}/verify", data={
        "ksb": [str(ids()["S4"])], "ksb_version": "1"}, follow_redirects=True)
    assert "The learner changed the KSBs they practised while you were looking" in \
        flashes(response)
    db.session.expire_all()
    assert db.session.get(HoursEntry, entry.id).status == HoursStatus.PENDING
    assert {i.status for i in rules.evidence_of(entry.id).items} == {EvidenceStatus.CLAIMED}
    # A page that showed no tags at all (version 0) is refused too.
    response = client.post(f"/hours/verify/entries/{entry.id}/verify",
                           data={"ksb_version": "0"}, follow_redirects=True)
    assert "changed the KSBs" in flashes(response)
    # Ticking a KSB the learner did not tag: refused.
    response = client.post(f"/hours/verify/entries/{entry.id}/verify", data={
        "ksb": [str(ids()["K1"])], "ksb_version": "2"}, follow_redirects=True)
    assert "Tick only KSBs the learner tagged" in flashes(response)
    db.session.expire_all()
    assert db.session.get(HoursEntry, entry.id).status == HoursStatus.PENDING
    # Once verified, the learner can no longer change them.
    client.post(f"/hours/verify/entries/{entry.id}/verify", data={
        "ksb": [str(ids()["B1"])], "ksb_version": "2"})
    auth.logout()
    auth.login("learner1@example.test")
    response = client.post(f"/learner/ksbs/entries/{entry.id}", data={
        "version": "3", "ksbs": [str(ids()["S4"])], "reflection": "Changed."})
    assert response.status_code == 400
    assert "These hours are verified" in flashes(response)


def test_supervisor_confirming_while_the_learner_edits_decides_one_state(app, placed):
    """The learner changes the tags at the moment the supervisor verifies: either the
    verification wins (it decided exactly the tags the supervisor saw, and the learner's
    change is refused) or the change wins (nothing is verified)."""
    entry = HoursEntry(learner_id=placed["l1"].id, entry_date=date(2026, 11, 2),
                       quarter_hours=28, kind=HoursKind.PLACEMENT, placement_id=placed["pl1"].id,
                       status=HoursStatus.PENDING, created_by_id=placed["l1"].user_id)
    db.session.add(entry)
    db.session.flush()
    hours_services.add_to_totals(placed["l1"].id, placed["prog1"].id, date(2026, 11, 1),
                                 entry.kind, entry.status, 28, 1)
    evidence = KsbEvidence(hours_entry_id=entry.id, learner_id=placed["l1"].id,
                           reflection="Tests.", version=1)
    db.session.add(evidence)
    db.session.flush()
    db.session.add(KsbEvidenceItem(evidence_id=evidence.id, ksb_id=ids()["S4"]))
    db.session.commit()
    entry_id = entry.id
    s4, b1 = str(ids()["S4"]), str(ids()["B1"])
    for _ in range(3):
        learner, employer = _clients(app, ["learner1@example.test", "emp1@example.test"])
        version = rules.evidence_of(entry_id).version
        db.session.remove()
        results = race(app, [
            lambda c=learner, v=version: c.post(f"/learner/ksbs/entries/{entry_id}", data={
                "version": str(v), "ksbs": [s4, b1], "reflection": "Tests and a review."},
                follow_redirects=True),
            lambda c=employer, v=version: c.post(f"/hours/verify/entries/{entry_id}/verify",
                                                 data={"ksb": [s4], "ksb_version": str(v)},
                                                 follow_redirects=True)])
        assert all(not isinstance(r, Exception) for r in results), results
        db.session.expire_all()
        status = db.session.get(HoursEntry, entry_id).status
        items = {i.ksb.code: i.status for i in rules.evidence_of(entry_id).items}
        if status == HoursStatus.VERIFIED:
            # The supervisor's decision stands on the tags they saw (S4 ticked, any other
            # not confirmed, none left undecided); the learner's edit was refused.
            assert items.pop("S4") == EvidenceStatus.CONFIRMED
            assert set(items.values()) <= {EvidenceStatus.NOT_CONFIRMED}
            assert "can no longer change" in flashes(results[0]) or \
                "verified or changed meanwhile" in flashes(results[0])
            break
        # The learner's change won: nothing verified, every tag still to confirm.
        assert status == HoursStatus.PENDING
        assert items == {"S4": EvidenceStatus.CLAIMED, "B1": EvidenceStatus.CLAIMED}
        assert "changed the KSBs" in flashes(results[1])
    from tests.integration.test_races import assert_totals_equal_a_rebuild

    assert_totals_equal_a_rebuild()


def test_officer_confirms_tags_on_hours_verified_without_them(client, auth, placed):
    auth.login("learner1@example.test")
    log(client, None, ["S4", "B1"], "A live brief for a charity.")
    entry = db.session.scalar(sa.select(HoursEntry))
    auth.logout()
    auth.login("officer1@example.test")
    # A bare verification (a page that did not show the tags) leaves them to confirm.
    assert client.post(f"/hours/officer/entries/{entry.id}/verify").status_code == 303
    assert {i.status for i in rules.evidence_of(entry.id).items} == {EvidenceStatus.CLAIMED}
    page = flashes(client.get(f"/officer/ksbs/learners/{placed['l1'].id}"))
    assert "nobody has confirmed these KSBs yet" in page
    response = client.post(f"/officer/ksbs/learners/{placed['l1'].id}/entries/{entry.id}",
                           data={"ksb": [str(ids()["B1"])], "ksb_version": "1"},
                           follow_redirects=True)
    assert "1 KSB confirmed, 1 not confirmed." in flashes(response)
    db.session.expire_all()
    assert {i.ksb.code: i.status for i in rules.evidence_of(entry.id).items} == {
        "S4": EvidenceStatus.NOT_CONFIRMED, "B1": EvidenceStatus.CONFIRMED}


def test_rejected_or_withdrawn_hours_evidence_nothing(client, auth, placed):
    auth.login("learner1@example.test")
    log(client, placed["pl1"].id, ["S4"], "Tests.")
    log(client, placed["pl1"].id, ["B1"], "A review.", day=date(2026, 11, 3))
    first, second = db.session.scalars(sa.select(HoursEntry).order_by(HoursEntry.id)).all()
    auth.logout()
    auth.login("emp1@example.test")
    client.post(f"/hours/verify/entries/{first.id}/reject", data={"reason": "Not here"})
    states = {r.ksb.code: r.state for r in services.learner_progress(placed["l1"]).rows
              if r.state}
    assert states["S4"] is rules.Progress.OUTSTANDING  # rejected hours evidence nothing
    assert states["B1"] is rules.Progress.EVIDENCED
    auth.logout()
    auth.login("learner1@example.test")
    assert client.post(f"/hours/entries/{second.id}/withdraw").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KsbEvidence).where(
        KsbEvidence.hours_entry_id == second.id)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KsbEvidenceItem)) == 1


def test_programme_coverage_across_learners_and_its_export(client, auth, placed):
    auth.login("learner1@example.test")
    log(client, placed["pl1"].id, ["S4", "B1"], "Tests and a review.")
    entry = db.session.scalar(sa.select(HoursEntry))
    auth.logout()
    auth.login("emp1@example.test")
    client.post(f"/hours/verify/entries/{entry.id}/verify",
                data={"ksb": [str(ids()["S4"])], "ksb_version": "1"})
    coverage = services.programme_coverage(placed["prog1"])
    assert [(r.confirmed, r.evidenced, r.outstanding) for r in coverage.rows] == [(1, 0, 2)]
    assert coverage.confirmed_by == {ids()["S4"]: 1}
    auth.logout()
    auth.login("officer1@example.test")
    page = flashes(client.get(f"/officer/ksbs/programmes/{placed['prog1'].id}/learners"))
    assert "KSBs across the 1 learner" in page
    assert "1 of 3" in page
    csv_text = client.get(f"/officer/ksbs/programmes/{placed['prog1'].id}/learners.csv") \
        .get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv_text[0].startswith("student_ref,name,programme_code")
    assert csv_text[1].endswith(",3,1,0,2,S14;B1")


# --- the rules' Python and SQL forms on the same fixtures ------------------------------------

def test_outstanding_confirmed_and_claimed_sql_match_python(placed):
    l1, l2 = placed["l1"], placed["l2"]
    add_module(placed["prog2"], "HLT-PL", Delivery.PLACEMENT, confirmed=["S1", "S2"])
    add_module(placed["prog1"], "SWD-LB", Delivery.LIVE_BRIEF, confirmed=["S4", "K1"])
    add_module(placed["prog1"], "SWD401", confirmed=["S5"])  # taught: not expected at work
    for learner, code, status, entry_status in [
            (l1, "S4", EvidenceStatus.CONFIRMED, HoursStatus.VERIFIED),
            (l1, "B1", EvidenceStatus.CLAIMED, HoursStatus.PENDING),
            (l1, "S14", EvidenceStatus.CLAIMED, HoursStatus.REJECTED),
            (l2, None, None, HoursStatus.PENDING)]:
        entry = HoursEntry(learner_id=learner.id, entry_date=date(2026, 11, 2 + len(
            db.session.scalars(sa.select(HoursEntry.id)).all())), quarter_hours=4,
            kind=HoursKind.LIVE_BRIEF, status=entry_status)
        db.session.add(entry)
        db.session.flush()
        if code:
            evidence = KsbEvidence(hours_entry_id=entry.id, learner_id=learner.id,
                                   reflection="x")
            db.session.add(evidence)
            db.session.flush()
            db.session.add(KsbEvidenceItem(evidence_id=evidence.id, ksb_id=ids()[code],
                                           status=status))
    db.session.commit()
    sql_outstanding: dict[int, set[int]] = {}
    for learner_id, ksb_id in db.session.execute(rules.outstanding_sql(
            [placed["prog1"].id, placed["prog2"].id])):
        sql_outstanding.setdefault(learner_id, set()).add(ksb_id)
    sql_confirmed: dict[int, set[int]] = {}
    for learner_id, ksb_id in db.session.execute(rules.confirmed_sql()):
        sql_confirmed.setdefault(learner_id, set()).add(ksb_id)
    sql_claimed: dict[int, set[int]] = {}
    for learner_id, ksb_id in db.session.execute(rules.claimed_sql()):
        sql_claimed.setdefault(learner_id, set()).add(ksb_id)
    sql_expected: dict[int, set[int]] = {}
    for programme_id, ksb_id in db.session.execute(rules.expected_sql()):
        sql_expected.setdefault(programme_id, set()).add(ksb_id)
    for learner in (l1, l2):
        expected = rules.expected_of(services.modules_of(learner.programme))
        claimed, confirmed = rules.learner_evidence_sets(services.learner_evidence(learner))
        assert sql_expected.get(learner.programme_id, set()) == expected
        assert sql_confirmed.get(learner.id, set()) == confirmed
        assert sql_claimed.get(learner.id, set()) == claimed
        assert sql_outstanding.get(learner.id, set()) == rules.outstanding(expected, confirmed)
    assert sql_outstanding[l1.id] == {ids()[c] for c in ("S14", "B1", "K1")}
    assert sql_claimed[l1.id] == {ids()["B1"]}  # the rejected hours' S14 is not claimed
    # Offers: the SQL count per offer equals the Python intersection.
    db.session.add_all([OfferKsb(offer_id=placed["o1"].id, ksb_id=ids()[c],
                                 status=LinkStatus.CONFIRMED) for c in ("S4", "B1", "K2")]
                       + [OfferKsb(offer_id=placed["o1"].id, ksb_id=ids()["S14"],
                                   status=LinkStatus.SUGGESTED)])
    db.session.commit()
    wanted = sql_outstanding[l1.id]
    offer_ksbs = {k for o, k in db.session.execute(rules.offer_ksbs_sql()) if
                  o == placed["o1"].id}
    counted = dict(db.session.execute(rules.offer_coverage_sql(wanted)).all())
    assert counted == {placed["o1"].id: len(rules.offer_covers(offer_ksbs, wanted))} == {
        placed["o1"].id: 1}


@pytest.mark.parametrize(("kind", "classroom", "wil", "gap"), [
    ("skill", 1, 0, rules.Gap.CLASSROOM_ONLY), ("behaviour", 2, 0, rules.Gap.CLASSROOM_ONLY),
    ("knowledge", 1, 0, None), ("skill", 0, 1, None), ("knowledge", 0, 0, rules.Gap.NOWHERE),
    ("behaviour", 0, 0, rules.Gap.NOWHERE)])
def test_gap_rule_python_and_sql_forms_agree(ksbs, kind, classroom, wil, gap):
    assert rules.gap_of(kind, classroom, wil) is gap
    in_sql = set(db.session.scalars(sa.select(Ksb.kind).where(
        rules.framed_as_workplace_sql()).distinct()))
    assert (kind in in_sql) == rules.framed_as_workplace(kind)


# --- the round's opt-in and the problem file -------------------------------------------------

def test_problem_file_has_no_ksb_fields_unless_the_round_opts_in(placed):
    round_ = placed["round"]
    db.session.add(OfferKsb(offer_id=placed["o1"].id, ksb_id=ids()["S4"],
                            status=LinkStatus.CONFIRMED))
    db.session.commit()
    plain = build_problem(round_)
    assert "ksb_coverage" not in plain["settings"]
    assert not any("ksbs" in o for o in plain["offers"])
    assert not any("outstanding_ksbs" in lrn for lrn in plain["learners"])
    round_.ksb_coverage = True
    db.session.commit()
    problem = build_problem(round_)
    assert problem["settings"]["ksb_coverage"] is True
    offers = {o["id"]: o for o in problem["offers"]}
    assert offers[f"O{placed['o1'].id}"]["ksbs"] == ["ST0116:S4"]
    assert "ksbs" not in offers[f"O{placed['o2'].id}"]
    learners = {lrn["id"]: lrn for lrn in problem["learners"]}
    assert learners[f"L{placed['l1'].id}"]["outstanding_ksbs"] == [
        "ST0116:B1", "ST0116:S14", "ST0116:S4"]
    assert "outstanding_ksbs" not in learners[f"L{placed['l2'].id}"]
    # Without the KSB fields, the file is exactly the plain one.
    stripped = json.loads(json.dumps(problem))
    stripped["settings"].pop("ksb_coverage")
    for o in stripped["offers"]:
        o.pop("ksbs", None)
    for lrn in stripped["learners"]:
        lrn.pop("outstanding_ksbs", None)
    assert stripped == plain


def test_round_form_and_edit_set_the_opt_in(client, auth, ksbs):
    auth.login("officer1@example.test")
    round_ = ksbs["round"]
    page = flashes(client.get(f"/officer/rounds/{round_.id}/edit"))
    assert "prefer placements that cover more of each learner's outstanding" in page
    response = client.post(f"/officer/rounds/{round_.id}/edit", data={
        "name": round_.name, "programmes": [str(p.id) for p in round_.programmes],
        "preference_deadline": [str(d) for d in (round_.preference_deadline.day,
                                                 round_.preference_deadline.month,
                                                 round_.preference_deadline.year)],
        "max_preferences": "3", "rank_cost": str(round_.rank_cost), "fallback": "yes",
        "time_limit_s": str(round_.time_limit_s), "ksb_coverage": "yes"})
    assert response.status_code == 303, flashes(response)[:2000]
    db.session.expire_all()
    assert db.session.get(type(round_), round_.id).ksb_coverage is True
    changed = db.session.scalar(sa.select(AuditEvent.detail).where(
        AuditEvent.action == "round.changed"))
    assert changed["changed"] == ["ksb_coverage"]
    from placements.domain.rounds import change_refusals

    round_ = db.session.get(type(round_), round_.id)
    round_.publications = 1
    assert change_refusals(round_, {"ksb_coverage": False}, round_.created_at)[0][0] == \
        "ksb_coverage"


def test_the_solver_prefers_the_offer_covering_outstanding_ksbs(client, placed):
    from solver import parse_problem, solve

    round_ = placed["round"]
    round_.ksb_coverage = True
    other = type(placed["o1"])(employer=placed["e1"], site=placed["s1"], title="Tester",
                               sector="Digital", capacity=1, start_date=placed["o1"].start_date,
                               end_date=placed["o1"].end_date, hours_per_week=30,
                               requirements=[])
    db.session.add(other)
    db.session.flush()
    # Neither is on the learner's list: fallback places them at one of the two; only the
    # second covers outstanding KSBs.
    db.session.add(OfferKsb(offer_id=other.id, ksb_id=ids()["S4"],
                            status=LinkStatus.CONFIRMED))
    placed["o1"].capacity = 1
    db.session.commit()
    problem = build_problem(round_)
    problem["learners"] = [lrn for lrn in problem["learners"]
                           if lrn["id"] == f"L{placed['l1'].id}"]
    result = solve(parse_problem(problem))
    assert result["summary"]["ksb_covered"] == 1
    assert result["assignments"][0]["offer"] == f"O{other.id}"
    # The run page says how many outstanding KSBs the run's placements cover.
    run = make_run(round_.id, "succeeded", result=result, problem=problem)
    db.session.commit()
    client.post("/auth/login", data={"email": "officer1@example.test", "password": PASSWORD})
    page = flashes(client.get(f"/officer/rounds/{round_.id}/runs/{run.id}"))
    assert "Outstanding KSBs covered: 1." in page
    # Without the opt-in the same problem has no KSB level and no count.
    round_.ksb_coverage = False
    db.session.commit()
    plain = build_problem(round_)
    plain["learners"] = [lrn for lrn in plain["learners"]
                         if lrn["id"] == f"L{placed['l1'].id}"]
    assert "ksb_covered" not in solve(parse_problem(plain))["summary"]
