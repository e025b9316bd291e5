"""Employer engagement: board, prospects (by hand and CSV), stages, activity log, access."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placements.engagement import services
from placements.extensions import db
from placements.models import (
    ActivityKind,
    AuditEvent,
    Employer,
    EmployerEngagement,
    EngagementActivity,
    EngagementStage,
)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def prospect(officer, name="Altrincham Robotics", sector="Digital", area="WA",
             stage=EngagementStage.PROSPECT) -> EmployerEngagement:
    record = services.add_prospect(officer, services.ProspectData(
        name=name, sector=sector, postcode_area=area, stage=stage))
    db.session.commit()
    return record


def dmy(day: date, prefix: str) -> dict[str, str]:
    return {prefix: [str(day.day), str(day.month), str(day.year)]}


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("email", ["emp1@example.test", "learner1@example.test",
                                   "admin@example.test"])
def test_only_officers(client, auth, world, email):
    record = prospect(world["officer1"])
    auth.login(email)
    for url in ("/officer/engagement/", f"/officer/engagement/{record.id}",
                "/officer/engagement/prospects/new",
                "/officer/imports/prospects/template.csv"):
        assert client.get(url).status_code == 403, url
    response = client.post(f"/officer/engagement/{record.id}/stage",
                           data={"stage": "hosting"})
    assert response.status_code == 403
    response = client.post("/officer/engagement/prospects/new",
                           data={"name": "Sneaky Ltd", "sector": "Digital", "stage": "prospect"})
    assert response.status_code == 403
    db.session.refresh(record)
    assert record.stage == EngagementStage.PROSPECT
    assert count(EmployerEngagement) == 1


def test_signed_out(client, world):
    response = client.get("/officer/engagement/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_csrf_is_required(client, auth, world, app):
    auth.login("officer1@example.test")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/officer/engagement/prospects/new",
                               data={"name": "No Token Ltd", "sector": "Digital",
                                     "stage": "prospect"})
        track = client.post("/officer/engagement/track-registered")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert track.status_code == 400
    assert count(EmployerEngagement) == 0


# --- board ----------------------------------------------------------------------------------

def test_track_registered_employers(client, auth, world):
    auth.login("officer1@example.test")
    board = client.get("/officer/engagement/").get_data(as_text=True)
    assert "2 registered employers are not on the board yet" in board
    response = client.post("/officer/engagement/track-registered")
    assert response.status_code == 303
    records = db.session.scalars(sa.select(EmployerEngagement)).all()
    assert {(r.name, r.stage, r.postcode_area) for r in records} == {
        ("Acme Digital", EngagementStage.HOSTING, "M"),
        ("Beta Care", EngagementStage.HOSTING, "M")}
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "engagement.tracked_registered")).detail == {"count": 2}
    # Nothing left to track; doing it again adds nothing.
    client.post("/officer/engagement/track-registered")
    assert count(EmployerEngagement) == 2


def test_unapproved_registered_employer_starts_interested(world):
    db.session.add(Employer(name="Gamma Build", sector="Construction", region="North West"))
    db.session.commit()
    services.track_registered_employers(world["officer1"])
    record = db.session.scalar(sa.select(EmployerEngagement).where(
        EmployerEngagement.name == "Gamma Build"))
    assert record.stage == EngagementStage.INTERESTED


def test_board_filters_overdue_and_conversion(client, auth, world):
    officer = world["officer1"]
    a = prospect(officer, "Alpha Code", "Digital", "M", EngagementStage.CONTACTED)
    prospect(officer, "Beta Bytes", "Digital", "SK", EngagementStage.HOSTING)
    prospect(officer, "Gone Ltd", "Digital", "M", EngagementStage.LAPSED)
    prospect(officer, "Care Co", "Health and science", "M", EngagementStage.PROSPECT)
    services.log_activity(officer, a, services.ActivityData(
        ActivityKind.CALL, date.today() - timedelta(days=10), next_action="Send the pack",
        next_action_due=date.today() - timedelta(days=2)))
    db.session.commit()
    auth.login("officer1@example.test")
    text = client.get("/officer/engagement/").get_data(as_text=True)
    assert "Send the pack" in text  # overdue
    assert "Overdue" in text
    conversion = services.conversion_by_sector(world["officer1"])
    assert conversion["Digital"] == {"contacted": 3, "hosting": 1, "rate": 33.3}
    assert conversion["Health and science"]["rate"] is None
    filtered = client.get("/officer/engagement/?sector=Digital&area=SK").get_data(as_text=True)
    assert "Beta Bytes" in filtered
    assert "Alpha Code" not in filtered
    assert "Care Co" not in filtered
    assert "Send the pack" not in filtered
    # Junk filters are ignored, not errors.
    assert client.get("/officer/engagement/?sector=Nope&area=12").status_code == 200


def test_board_shows_each_stage_count_and_its_first_records_then_the_whole_stage(
        client, auth, world):
    """A region tracks thousands: each column says how many, lists the first by name and
    links to that stage's own list, a page at a time; the counts are the database's."""
    officer = world["officer1"]
    for n in range(services.BOARD_COLUMN + 5):
        prospect(officer, f"Org {n:03d}", "Digital", "M", EngagementStage.CONTACTED)
    prospect(officer, "Only Prospect", "Digital", "M", EngagementStage.PROSPECT)
    db.session.commit()
    columns = services.board(officer)
    contacted = columns[EngagementStage.CONTACTED]
    assert contacted.total == services.BOARD_COLUMN + 5
    assert [r.name for r in contacted.records] == [
        f"Org {n:03d}" for n in range(services.BOARD_COLUMN)]
    assert columns[EngagementStage.PROSPECT].total == 1
    assert sum(c.total for c in columns.values()) == count(EmployerEngagement)
    auth.login("officer1@example.test")
    text = client.get("/officer/engagement/").get_data(as_text=True)
    assert f"Org {services.BOARD_COLUMN - 1:03d}" in text
    assert f"Org {services.BOARD_COLUMN:03d}" not in text
    assert f"See all {services.BOARD_COLUMN + 5}" in text
    whole = client.get("/officer/engagement/?stage=contacted").get_data(as_text=True)
    assert f"Org {services.BOARD_COLUMN + 4:03d}" in whole
    assert "Only Prospect" not in whole
    assert "Back to every stage" in whole
    # A stage that does not exist, or a page past the end, is no error.
    assert client.get("/officer/engagement/?stage=nope&page=99").status_code == 200


# --- prospects ------------------------------------------------------------------------------

def test_add_prospect(client, auth, world):
    auth.login("officer1@example.test")
    response = client.post("/officer/engagement/prospects/new", data={
        "name": "Altrincham Robotics", "sector": "Digital", "postcode_area": "wa14 1aa",
        "contact_name": "Sam Patel", "contact_email": "Sam@Example.com", "stage": "prospect"})
    assert response.status_code == 303
    record = db.session.scalar(sa.select(EmployerEngagement))
    assert (record.name, record.postcode_area, record.contact_email, record.employer_id) == (
        "Altrincham Robotics", "WA", "sam@example.com", None)
    assert record.owner_id == world["officer1"].id
    assert count(Employer) == 2  # a prospect is not an Employer row
    page = client.get(f"/officer/engagement/{record.id}").get_data(as_text=True)
    assert "No (prospect)" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "sector": "Digital", "stage": "prospect"}, "Enter the organisation"),
    ({"name": "X Ltd", "sector": "Nope", "stage": "prospect"},
     "Select one of the options in the list"),
    ({"name": "X Ltd", "sector": "Digital", "stage": "prospect", "postcode_area": "ZZ9"},
     "Enter a postcode area we know"),
    ({"name": "X Ltd", "sector": "Digital", "stage": "prospect", "contact_email": "nope"},
     "Enter an email address"),
    ({"name": "acme digital", "sector": "Digital", "stage": "prospect"}, "already registered"),
    ({"name": "altrincham robotics", "sector": "Digital", "stage": "prospect"},
     "already in the pipeline"),
])
def test_add_prospect_bad_input(client, auth, world, data, message):
    prospect(world["officer1"])
    auth.login("officer1@example.test")
    response = client.post("/officer/engagement/prospects/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(EmployerEngagement) == 1


CSV_OK = ("name,sector,postcode_area,contact_name,contact_email,stage\r\n"
          "Bolton Bots,Digital,BL,Ann,ann@example.com,prospect\r\n"
          "Wigan Wards,health and science,WN3 4AB,,,contacted\r\n")


def upload(client, text: str):
    return client.post("/officer/imports/prospects",
                       data={"prospects-file": (io.BytesIO(text.encode()), "prospects.csv")},
                       content_type="multipart/form-data")


def test_import_prospects(client, auth, world):
    auth.login("officer1@example.test")
    response = upload(client, CSV_OK)
    assert response.status_code == 303
    records = {r.name: r for r in db.session.scalars(sa.select(EmployerEngagement))}
    assert set(records) == {"Bolton Bots", "Wigan Wards"}
    assert records["Wigan Wards"].sector == "Health and science"
    assert records["Wigan Wards"].postcode_area == "WN"
    assert records["Wigan Wards"].stage == EngagementStage.CONTACTED
    template = client.get("/officer/imports/prospects/template.csv")
    assert template.status_code == 200
    assert "name,sector,postcode_area" in template.get_data(as_text=True)


def test_import_with_a_bad_row_saves_nothing(client, auth, world):
    auth.login("officer1@example.test")
    bad = CSV_OK + ("Acme Digital,Digital,M,,,prospect\r\n"
                    "Bolton Bots,Digital,BL,,,prospect\r\n"
                    "Nowhere Ltd,Digital,ZZ,,,maybe\r\n")
    response = upload(client, bad)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "nothing has been imported" in text
    assert "already registered" in text
    assert "also on line 2" in text
    assert "Use one of" in text
    assert count(EmployerEngagement) == 0


def test_import_refuses_a_file_without_required_columns(client, auth, world):
    auth.login("officer1@example.test")
    response = upload(client, "organisation,route\r\nX,Digital\r\n")
    assert response.status_code == 400
    assert "The column name is missing" in response.get_data(as_text=True)
    assert client.post("/officer/imports/prospects", data={}).status_code == 400
    assert count(EmployerEngagement) == 0


# --- one organisation -----------------------------------------------------------------------

def test_log_activity_moves_a_prospect_to_contacted(client, auth, world):
    record = prospect(world["officer1"])
    auth.login("officer2@example.test")  # any officer may work on any record
    day = date.today() - timedelta(days=1)
    data = {"kind": "roundtable", "notes": "Met at the LSIP roundtable",
            "next_action": "Invite to the employer workshop", **dmy(day, "happened_on"),
            **dmy(date.today() + timedelta(days=7), "next_action_due")}
    response = client.post(f"/officer/engagement/{record.id}/activities", data=data)
    assert response.status_code == 303
    db.session.refresh(record)
    assert record.stage == EngagementStage.CONTACTED
    (activity,) = record.activities
    assert (activity.kind, activity.happened_on, activity.officer_id) == (
        ActivityKind.ROUNDTABLE, day, world["officer2"].id)
    assert not activity.overdue(date.today())
    page = client.get(f"/officer/engagement/{record.id}").get_data(as_text=True)
    assert "Met at the LSIP roundtable" in page
    assert "Roundtable" in page


@pytest.mark.parametrize(("extra", "message"), [
    ({"happened_on": ["1", "1", "2099"]}, "today or in the past"),
    ({"next_action_due": ["1", "1", "2099"]}, "Enter the next action"),
    ({"next_action": "Call back", "next_action_due": ["1", "1", "2000"]},
     "cannot be due before"),
    ({"kind": "fax"}, "Select one of the options in the list"),
    ({"happened_on": ["31", "2", "2026"]}, "Date"),
])
def test_log_activity_bad_input(client, auth, world, extra, message):
    record = prospect(world["officer1"])
    auth.login("officer1@example.test")
    data = {"kind": "call", **dmy(date.today(), "happened_on"), **extra}
    response = client.post(f"/officer/engagement/{record.id}/activities", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(EngagementActivity) == 0
    db.session.refresh(record)
    assert record.stage == EngagementStage.PROSPECT


@pytest.mark.parametrize("blank", [{}, {"notes": "   ", "next_action": "  "}])
def test_a_blank_activity_is_refused(client, auth, world, blank):
    """The form comes with the kind and today's date filled in: pressing the button without
    writing anything must not log an activity (nor move the prospect on)."""
    record = prospect(world["officer1"])
    auth.login("officer1@example.test")
    data = {"kind": "call", **dmy(date.today(), "happened_on"), **blank}
    response = client.post(f"/officer/engagement/{record.id}/activities", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter who you spoke to and what was said, or the next action" in page
    assert 'href="#notes"' in page  # the error summary links to the field
    assert count(EngagementActivity) == 0
    db.session.refresh(record)
    assert record.stage == EngagementStage.PROSPECT
    # A next action alone is enough.
    response = client.post(f"/officer/engagement/{record.id}/activities",
                           data={**data, "next_action": "Call back on Monday"})
    assert response.status_code == 303
    assert count(EngagementActivity) == 1


def test_complete_action(client, auth, world):
    officer = world["officer1"]
    record = prospect(officer)
    activity = services.log_activity(officer, record, services.ActivityData(
        ActivityKind.VISIT, date.today() - timedelta(days=5), next_action="Follow up",
        next_action_due=date.today() - timedelta(days=1)))
    db.session.commit()
    assert services.overdue_actions(world["officer1"]) == [activity]
    auth.login("officer1@example.test")
    response = client.post(f"/officer/engagement/activities/{activity.id}/done",
                           data={"back": "board"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/officer/engagement/")
    db.session.refresh(activity)
    assert activity.done
    assert services.overdue_actions(world["officer1"]) == []
    # Twice is refused politely.
    again = client.post(f"/officer/engagement/activities/{activity.id}/done",
                        follow_redirects=True)
    assert "already done" in again.get_data(as_text=True)
    assert client.post("/officer/engagement/activities/999/done").status_code == 404


def test_set_stage_and_pledge(client, auth, world):
    record = prospect(world["officer1"])
    auth.login("officer1@example.test")
    response = client.post(f"/officer/engagement/{record.id}/stage",
                           data={"stage": "pledged", "pledged_places": "4"})
    assert response.status_code == 303
    db.session.refresh(record)
    assert (record.stage, record.pledged_places) == (EngagementStage.PLEDGED, 4)
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "engagement.stage_set"))
    assert event.detail["before"] == "prospect"
    assert event.detail["after"] == "pledged"
    for bad in ({"stage": "famous"}, {"stage": "hosting", "pledged_places": "-1"}):
        response = client.post(f"/officer/engagement/{record.id}/stage", data=bad)
        assert response.status_code == 400
    db.session.refresh(record)
    assert record.stage == EngagementStage.PLEDGED
    assert client.post("/officer/engagement/999/stage",
                       data={"stage": "hosting"}).status_code == 404


def test_link_prospect_to_registered_employer(client, auth, world):
    record = prospect(world["officer1"])
    auth.login("officer2@example.test")
    response = client.post(f"/officer/engagement/{record.id}/link",
                           data={"employer_id": world["e1"].id})
    assert response.status_code == 303
    db.session.refresh(record)
    assert (record.employer_id, record.name) == (world["e1"].id, "Acme Digital")
    # e1 is now tracked, so only e2 is left to track.
    assert [e.name for e in services.untracked_employers(world["officer1"])] == ["Beta Care"]
    other = prospect(world["officer1"], "Other Ltd")
    response = client.post(f"/officer/engagement/{other.id}/link",
                           data={"employer_id": world["e1"].id})
    assert response.status_code == 400
    db.session.refresh(other)
    assert other.employer_id is None


def test_take_ownership(client, auth, world):
    record = prospect(world["officer1"])
    auth.login("officer2@example.test")
    assert client.post(f"/officer/engagement/{record.id}/owner").status_code == 303
    db.session.refresh(record)
    assert record.owner_id == world["officer2"].id


def test_services_refuse_non_officers(world):
    with pytest.raises(services.NotAllowed):
        services.add_prospect(world["emp1"], services.ProspectData("X", "Digital"))
