"""The JSON API, driven through its documented schemas: every operation's success, wrong
scope, another provider's ids, revoked and expired keys; validation errors with JSON
Pointers; cursors and the placement sync; idempotent writes (also under concurrency); the
rate limit; the audit of every call; the key pages and the CLI."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
from flask import Flask
from markupsafe import escape
from openapi_spec_validator import validate as validate_openapi

from placements.api import keys
from placements.api.spec import OPERATIONS, PREFIX, document
from placements.domain.placements import PLACEMENT
from placements.extensions import db
from placements.models import (
    AccountLink,
    ApiKey,
    AuditEvent,
    HoursEntry,
    Learner,
    Placement,
    PlacementStatus,
    Role,
    User,
    utcnow,
)
from placements.rounds.reports import UNPLACED_REASONS
from tests.conftest import PASSWORD, make_run, make_user

ROOT = Path(__file__).resolve().parents[2]
ALL = ("read", "write:learners", "write:hours")
META = {"api.openapi", "api.docs"}


# --- helpers -----------------------------------------------------------------------------------


def make_key(officer: User, scopes=ALL, days: int = 90, provider_id: int | None = None) -> str:
    made = keys.create_key(officer, provider_id=provider_id or officer.provider_id,
                           name="Test key", scopes=list(scopes), days=days)
    db.session.commit()
    return made.token


def call(client, method: str, path: str, token: str | None = None, **kwargs):
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.open(PREFIX + path, method=method, headers=headers, **kwargs)


_DOC: dict = {}


def _doc(app: Flask) -> dict:
    if not _DOC:
        with app.app_context():
            _DOC.update(document())
    return _DOC


def assert_schema(app: Flask, name: str, body) -> None:
    """Validate a body against a documented schema (formats checked too)."""
    doc = _doc(app)
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(body)


def assert_problem(app: Flask, response, status: int, kind: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert_schema(app, "Problem", body)
    assert body["status"] == status
    if kind:
        assert body["type"].endswith("#problem-" + kind), body
    return body


def learner_record(ref: str, email: str, code: str = "SWD4", **extra) -> dict:
    return {"student_ref": ref, "name": f"Learner {ref}", "email": email,
            "programme_code": code, "home_postcode": "M1 1AA", **extra}


@pytest.fixture
def api_world(world):
    """The world with programme codes, published placements, a run and hours."""
    world["prog1"].code = "SWD4"
    world["prog2"].code = "HLT5"
    round_ = world["round"]
    run = make_run(round_.id, result={
        "summary": {"placed": 1, "learners": 2},
        "assignments": [], "unplaced": [{"learner": f"L{world['l2'].id}", "reason": "capacity",
                                         "detail": "Care assistant was full"}]})
    db.session.flush()
    p1 = Placement(round_id=round_.id, learner_id=world["l1"].id, offer_id=world["o1"].id,
                   run_id=run.id, rank=1, distance_m=1200, status=PlacementStatus.PUBLISHED,
                   published_at=utcnow())
    private = type(round_)(name="College One only", provider=world["p1"],
                           providers=[world["p1"]], programmes=[world["prog1"]],
                           preference_deadline=round_.preference_deadline, max_preferences=3)
    db.session.add_all([p1, private])
    db.session.commit()
    world.update(run=run, placement=p1, private=private)
    return world


# --- the document ------------------------------------------------------------------------------


def test_document_is_valid_openapi_and_matches_the_routes(app):
    doc = _doc(app)
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0"
    documented = {(method.upper(), PREFIX + path) for path, item in doc["paths"].items()
                  for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint in META:
            continue
        path = rule.rule.replace("<int:", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((method, path))
    assert routed == documented
    assert {op.endpoint for op in OPERATIONS.values()} == {
        r.endpoint for r in app.url_map.iter_rules()
        if r.rule.startswith(PREFIX + "/") and r.endpoint not in META}


def test_committed_document_is_the_generated_one(app):
    """docs/openapi.json changes only on purpose: `flask api openapi > docs/openapi.json`."""
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(_doc(app))), (
        "the API changed: regenerate docs/openapi.json with `flask api openapi`")


def test_document_and_reference_need_no_key(client):
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["info"]["title"] == "Placements API"
    page = client.get(PREFIX + "/docs")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for op in OPERATIONS.values():
        assert str(escape(op.summary)) in text
    assert "<script" not in text.split("</main>")[0].split("<main")[1]


# --- every operation: success, scope, keys -----------------------------------------------------


def _paths(w: dict) -> dict[str, str]:
    """A path for each operation, naming the first provider's own objects."""
    return {
        "api.list_programmes": "/programmes",
        "api.get_programme": f"/programmes/{w['prog1'].id}",
        "api.programme_hours": f"/programmes/{w['prog1'].id}/hours",
        "api.list_learners": "/learners",
        "api.upsert_learners": "/learners",
        "api.get_learner": f"/learners/{w['l1'].id}",
        "api.learner_hours": f"/learners/{w['l1'].id}/hours",
        "api.post_learner_hours": "/hours/learners",
        "api.post_timetable": "/hours/timetable",
        "api.list_rounds": "/rounds",
        "api.get_round": f"/rounds/{w['round'].id}",
        "api.list_runs": f"/rounds/{w['round'].id}/runs",
        "api.round_placements": f"/rounds/{w['round'].id}/placements",
        "api.get_run": f"/runs/{w['run'].id}",
        "api.list_placements": "/placements",
        "api.get_placement": f"/placements/{w['placement'].id}",
        "api.list_employers": "/employers",
        "api.get_employer": f"/employers/{w['e1'].id}",
        "api.list_offers": "/offers",
        "api.get_offer": f"/offers/{w['o1'].id}",
    }


def _bodies(w: dict) -> dict[str, dict]:
    day = date(2026, 10, 5).isoformat()
    return {
        "api.upsert_learners": {"learners": [learner_record("N1", "n1@example.test")]},
        "api.post_learner_hours": {"hours": [{"student_ref": "A1", "date": day, "hours": 6.5}]},
        "api.post_timetable": {"timetable": [{"programme_code": "SWD4", "date": day,
                                              "hours": 6}]},
    }


def test_every_operation_answers_as_documented(app, client, api_world, monkeypatch):
    monkeypatch.setattr("placements.hours.imports.today_uk", lambda: date(2026, 12, 1))
    token = make_key(api_world["officer1"])
    paths, bodies = _paths(api_world), _bodies(api_world)
    assert set(paths) == set(OPERATIONS), "a new operation needs a path here"
    for endpoint, op in OPERATIONS.items():
        response = call(client, op.method, paths[endpoint], token, json=bodies.get(endpoint))
        assert response.status_code == op.status, (endpoint, response.get_json())
        assert response.mimetype == "application/json"
        assert_schema(app, op.response, response.get_json())
        assert response.headers["Cache-Control"] == "no-store"


def test_wrong_scope_is_refused_without_writing(app, client, api_world):
    read_only = make_key(api_world["officer1"], scopes=("read",))
    hours_only = make_key(api_world["officer1"], scopes=("write:hours",))
    paths, bodies = _paths(api_world), _bodies(api_world)
    learners = db.session.scalar(sa.select(sa.func.count(Learner.id)))
    for endpoint, op in OPERATIONS.items():
        token = read_only if op.scope.value != "read" else hours_only
        response = call(client, op.method, paths[endpoint], token, json=bodies.get(endpoint))
        body = assert_problem(app, response, 403, "forbidden")
        assert op.scope.value in body["detail"]
    assert db.session.scalar(sa.select(sa.func.count(Learner.id))) == learners


def test_another_providers_ids_are_not_found(app, client, api_world):
    """University Two's key: College One's learner, programme, private round, its run and
    placement answer 404, exactly like the web pages."""
    w = api_world
    db.session.add(Placement(round_id=w["private"].id, learner_id=w["l1"].id,
                             offer_id=w["o1"].id, status=PlacementStatus.PUBLISHED))
    run = make_run(w["private"].id)
    db.session.commit()
    private_placement = db.session.scalar(sa.select(Placement.id).where(
        Placement.round_id == w["private"].id))
    token = make_key(w["officer2"])
    for path in (f"/learners/{w['l1'].id}", f"/learners/{w['l1'].id}/hours",
                 f"/programmes/{w['prog1'].id}", f"/programmes/{w['prog1'].id}/hours",
                 f"/rounds/{w['private'].id}", f"/rounds/{w['private'].id}/runs",
                 f"/rounds/{w['private'].id}/placements", f"/runs/{run.id}",
                 f"/placements/{private_placement}", "/learners/999999",
                 f"/learners?programme_id={w['prog1'].id}",
                 f"/placements?round_id={w['private'].id}"):
        assert_problem(app, call(client, "GET", path, token), 404, "not-found")
    # Lists show only the second provider's own.
    refs = {x["student_ref"] for x in call(client, "GET", "/learners", token).get_json()["data"]}
    assert refs == {"B1"}
    feed = call(client, "GET", "/placements", token).get_json()["data"]
    assert private_placement not in {p["id"] for p in feed}
    # The pooled round (both providers take part) is visible to both, as on the web pages.
    assert w["placement"].id in {p["id"] for p in feed}


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown", "missing", "malformed",
                                   "creator-deactivated", "creator-moved"])
def test_unusable_keys_are_refused_everywhere(app, client, api_world, state):
    w = api_world
    token = make_key(w["officer1"])
    key = db.session.scalar(sa.select(ApiKey))
    header = None
    if state == "revoked":
        keys.revoke_key(w["officer1"], key)
    elif state == "expired":
        key.expires_at = utcnow() - timedelta(seconds=1)
    elif state == "unknown":
        token = token[:-4] + "AAAA"
    elif state == "missing":
        token = None
    elif state == "malformed":
        token, header = None, {"Authorization": "Basic b2ZmaWNlcjE6cGFzcw=="}
    elif state == "creator-deactivated":
        w["officer1"].active = False
    elif state == "creator-moved":
        w["officer1"].provider_id = w["p2"].id
    db.session.commit()
    paths, bodies = _paths(w), _bodies(w)
    for endpoint, op in OPERATIONS.items():
        response = call(client, op.method, paths[endpoint], token, json=bodies.get(endpoint),
                        headers=header or {})
        assert_problem(app, response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert db.session.scalar(sa.select(sa.func.count(HoursEntry.id))) == 0


def test_a_signed_in_browser_session_is_not_an_api_key(app, client, api_world):
    client.post("/auth/login", data={"email": "officer1@example.test", "password": PASSWORD})
    assert client.get("/officer/").status_code == 200
    assert_problem(app, call(client, "GET", "/learners"), 401)
    assert_problem(app, call(client, "POST", "/learners", json=_bodies(api_world)[
        "api.upsert_learners"]), 401)
    response = call(client, "GET", "/learners")
    assert "Set-Cookie" not in response.headers


def test_unknown_paths_and_methods_answer_problems(app, client, api_world):
    token = make_key(api_world["officer1"])
    assert_problem(app, call(client, "GET", "/nothing-here", token), 404)
    response = call(client, "DELETE", "/learners", token)
    assert_problem(app, response, 405)
    assert "GET" in response.headers["Allow"]
    assert_problem(app, call(client, "GET", "/learners/abc", token), 404)


# --- learners: bulk upsert ---------------------------------------------------------------------


def test_upsert_creates_updates_and_repeats_nothing(app, client, api_world):
    token = make_key(api_world["officer1"])
    body = {"learners": [
        learner_record("N1", "n1@example.test", max_travel_km=30, credentials=["dbs"],
                       first_in_family_he=True),
        learner_record("A1", "learner1@example.test", max_travel_km=15)]}
    response = call(client, "POST", "/learners", token, json=body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert_schema(app, "LearnerUpsertResult", result)
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 0)
    new = db.session.scalar(sa.select(Learner).where(Learner.student_ref == "N1"))
    assert result["learners"] == [{"student_ref": "N1", "id": new.id},
                                  {"student_ref": "A1", "id": api_world["l1"].id}]
    assert new.credentials == ["dbs"]
    assert new.first_in_family_he is True
    assert new.provider_id == api_world["p1"].id
    assert db.session.scalar(sa.select(sa.func.count(AccountLink.id)).where(
        AccountLink.user_id == new.user_id, AccountLink.purpose == "invitation")) == 1
    again = call(client, "POST", "/learners", token, json=body).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    read = call(client, "GET", f"/learners/{new.id}", token).get_json()
    assert read["max_travel_km"] == 30
    assert read["programme_code"] == "SWD4"


def test_upsert_reports_every_problem_by_pointer_and_writes_nothing(app, client, api_world):
    token = make_key(api_world["officer1"])
    before = db.session.scalar(sa.select(sa.func.count(Learner.id)))
    body = {"learners": [
        learner_record("N1", "n1@example.test"),
        learner_record("N2", "not-an-email", max_travel_km=900),
        learner_record("N3", "n3@example.test", code="HLT5", home_postcode="ZZ99 9ZZ"),
        learner_record("N1", "learner2@example.test", nickname="x"),
        "not an object",
        {"student_ref": "N5", "name": {"first": "A"}},
    ]}
    response = call(client, "POST", "/learners", token, json=body)
    problem = assert_problem(app, response, 422, "validation")
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/learners/1/email", "/learners/1/max_travel_km", "/learners/2/programme_code",
            "/learners/2/home_postcode", "/learners/3/student_ref", "/learners/3/email",
            "/learners/3/nickname", "/learners/4", "/learners/5/name",
            "/learners/5/email"} <= pointers
    messages = {e["pointer"]: e["detail"] for e in problem["errors"]}
    assert messages["/learners/1/max_travel_km"] == "Enter a number of at most 500"
    assert "repeats row 0" in messages["/learners/3/student_ref"]
    assert "HLT5" in messages["/learners/2/programme_code"]  # another provider's code
    assert db.session.scalar(sa.select(sa.func.count(Learner.id))) == before


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b'{"learners": []}', "application/json", 422),
    (b'{"learners": {}}', "application/json", 422),
    (b'{"people": []}', "application/json", 422),
    (b'{"learners": [], "extra": 1}', "application/json", 422),
    (b"student_ref,name", "text/csv", 415),
])
def test_upsert_refuses_bodies_it_cannot_read(app, client, api_world, body, content_type,
                                               status):
    token = make_key(api_world["officer1"])
    response = call(client, "POST", "/learners", token, data=body,
                    headers={"Content-Type": content_type})
    assert_problem(app, response, status)


def test_upsert_limits_records_and_body_size(make_app, api_world):
    small = make_app(API_MAX_ROWS=2, API_MAX_BODY_BYTES=2000)
    client = small.test_client()
    with small.app_context():
        officer = db.session.get(User, api_world["officer1"].id)
        token = make_key(officer)
    three = {"learners": [learner_record(f"N{i}", f"n{i}@example.test") for i in range(3)]}
    problem = assert_problem(small, call(client, "POST", "/learners", token, json=three), 422)
    assert problem["errors"][0]["pointer"] == "/learners"
    big = {"learners": [learner_record("N1", "n1@example.test", name="x" * 3000)]}
    assert_problem(small, call(client, "POST", "/learners", token, json=big), 413)


# --- idempotency -------------------------------------------------------------------------------


def test_retry_with_idempotency_key_is_answered_again_and_writes_nothing(app, client,
                                                                        api_world):
    token = make_key(api_world["officer1"])
    body = {"learners": [learner_record("N1", "n1@example.test")]}
    headers = {"Idempotency-Key": "1b7c0d5e-retry"}
    first = call(client, "POST", "/learners", token, json=body, headers=headers)
    assert first.status_code == 200
    events = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "learner.created"))
    second = call(client, "POST", "/learners", token, json=body, headers=headers)
    assert second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "learner.created")) == events
    other = {"learners": [learner_record("N2", "n2@example.test")]}
    assert_problem(app, call(client, "POST", "/learners", token, json=other, headers=headers),
                   422, "idempotency-key-reused")
    assert db.session.scalar(sa.select(sa.func.count(Learner.id)).where(
        Learner.student_ref == "N2")) == 0
    # A failed request keeps no answer: fixing the body and retrying with the key works.
    bad_key = {"Idempotency-Key": "fix-and-retry"}
    bad = {"learners": [learner_record("N3", "bad")]}
    assert call(client, "POST", "/learners", token, json=bad, headers=bad_key).status_code == 422
    good = {"learners": [learner_record("N3", "n3@example.test")]}
    assert call(client, "POST", "/learners", token, json=good, headers=bad_key).status_code == 200


def test_idempotency_keys_expire(app, client, api_world):
    from placements.models import ApiIdempotency

    token = make_key(api_world["officer1"])
    headers = {"Idempotency-Key": "old"}
    call(client, "POST", "/learners", token,
         json={"learners": [learner_record("N1", "n1@example.test")]}, headers=headers)
    db.session.execute(sa.update(ApiIdempotency).values(expires_at=utcnow()))
    db.session.commit()
    response = call(client, "POST", "/learners", token,
                    json={"learners": [learner_record("N2", "n2@example.test")]},
                    headers=headers)
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers


def test_concurrent_retries_write_once(make_app, api_world):
    """Two identical requests at the same moment (threads against the app): one writes,
    the other is answered with its result or told to retry; the learners are created once."""
    app2 = make_app()
    with app2.app_context():
        officer = db.session.get(User, api_world["officer1"].id)
        token = make_key(officer)
    body = {"learners": [learner_record(f"C{i}", f"c{i}@example.test") for i in range(40)]}
    barrier = threading.Barrier(3)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        client = app2.test_client()
        barrier.wait()
        response = call(client, "POST", "/learners", token, json=body,
                        headers={"Idempotency-Key": "same-moment"})
        answers.append((response.status_code, response.get_json(force=True)))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for code, _ in answers)
    assert codes.count(200) >= 1, answers
    assert set(codes) <= {200, 409}, answers
    oks = [a for code, a in answers if code == 200]
    assert all(a == oks[0] for a in oks)
    with app2.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Learner.id)).where(
            Learner.student_ref.like("C%"))) == 40


# --- hours -------------------------------------------------------------------------------------


def test_hours_in_and_totals_out(app, client, api_world, monkeypatch):
    monkeypatch.setattr("placements.hours.imports.today_uk", lambda: date(2026, 12, 1))
    token = make_key(api_world["officer1"], scopes=("read", "write:hours"))
    rows = {"hours": [{"student_ref": "A1", "date": "2026-10-05", "hours": 6.5},
                      {"student_ref": "A1", "date": "2026-10-06", "hours": "7:15",
                       "kind": "live-brief", "note": "Client brief"}]}
    result = call(client, "POST", "/hours/learners", token, json=rows).get_json()
    assert result == {"created": 2, "updated": 0, "unchanged": 0}
    again = call(client, "POST", "/hours/learners", token, json=rows).get_json()
    assert again == {"created": 0, "updated": 0, "unchanged": 2}
    totals = call(client, "GET", f"/learners/{api_world['l1'].id}/hours", token).get_json()
    assert_schema(app, "HoursStatus", totals)
    assert totals["verified"]["classroom"] == 6.5
    assert totals["verified"]["live-brief"] == 7.25
    assert totals["work_integrated_share"] == pytest.approx(7.25 / 13.75)
    page = call(client, "GET", f"/programmes/{api_world['prog1'].id}/hours", token).get_json()
    assert page["data"] == [totals]
    timetable = call(client, "POST", "/hours/timetable", token, json={"timetable": [
        {"programme_code": "SWD4", "date": "07/10/2026", "hours": 6}]}).get_json()
    assert timetable == {"created": 1, "updated": 0, "unchanged": 0}


def test_hours_problems_name_their_records(app, client, api_world, monkeypatch):
    monkeypatch.setattr("placements.hours.imports.today_uk", lambda: date(2026, 12, 1))
    token = make_key(api_world["officer1"])
    problem = assert_problem(app, call(client, "POST", "/hours/learners", token, json={
        "hours": [{"student_ref": "A1", "date": "2027-01-05", "hours": 6},
                  {"student_ref": "B1", "date": "2026-10-05", "hours": 6},
                  {"student_ref": "A1", "date": "2026-10-05", "hours": 6.1}]}), 422)
    messages = {e["pointer"]: e["detail"] for e in problem["errors"]}
    assert messages["/hours/0/date"] == "The date is in the future"
    assert "B1" in messages["/hours/1/student_ref"]  # another provider's learner
    assert messages["/hours/2/hours"].startswith("Enter hours in quarter hours")
    assert db.session.scalar(sa.select(sa.func.count(HoursEntry.id))) == 0


# --- lists, cursors and the sync ---------------------------------------------------------------


def _add_learners(world, n: int) -> None:
    from placements.geo import locate

    m1 = locate("M1 1AA")
    for i in range(n):
        user = make_user(f"bulk{i}@example.test", Role.LEARNER)
        db.session.add(Learner(user=user, provider=world["p1"], programme=world["prog1"],
                               student_ref=f"Z{i:03d}", home_postcode="M1 1AA", lat=m1.lat,
                               lon=m1.lon))
    db.session.commit()


def test_pages_walk_every_learner_once(app, client, api_world):
    _add_learners(api_world, 7)
    token = make_key(api_world["officer1"])
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = call(client, "GET", "/learners", token, query_string=query).get_json()
        assert_schema(app, "LearnerPage", page)
        seen += [x["student_ref"] for x in page["data"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(["A1"] + [f"Z{i:03d}" for i in range(7)])
    assert pages == 3
    assert cursor  # a feed's last page gives the cursor of the next sync


def test_cursors_are_tamper_evident_and_bound_to_their_filters(app, client, api_world):
    _add_learners(api_world, 3)
    token = make_key(api_world["officer1"])
    page = call(client, "GET", "/learners", token, query_string={"limit": 1}).get_json()
    cursor = page["next_cursor"]
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for query in ({"cursor": tampered}, {"cursor": "garbage"},
                  {"cursor": cursor, "programme_id": api_world["prog1"].id}):
        problem = assert_problem(app, call(client, "GET", "/learners", token,
                                           query_string=query), 400, "bad-request")
        assert problem["errors"][0]["pointer"] == "/cursor"
    other = make_key(api_world["officer2"])
    assert_problem(app, call(client, "GET", "/learners", other,
                             query_string={"cursor": cursor}), 400)


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"limit": "x"},
                                   {"updated_since": "yesterday"},
                                   {"updated_since": "2026-11-30T09:00:00"},
                                   {"programme_id": "one"}, {"sort": "name"}])
def test_bad_query_parameters_are_named(app, client, api_world, query):
    token = make_key(api_world["officer1"])
    problem = assert_problem(app, call(client, "GET", "/learners", token, query_string=query),
                             400, "bad-request")
    assert problem["errors"][0]["pointer"] == "/" + next(iter(query))


def test_updated_since_and_learner_changes(app, client, api_world):
    token = make_key(api_world["officer1"])
    mark = datetime.now(UTC)
    assert call(client, "GET", "/learners", token, query_string={
        "updated_since": mark.isoformat()}).get_json()["data"] == []
    api_world["l1"].user.name = "Renamed Learner"  # a change to the account is a change
    db.session.commit()
    changed = call(client, "GET", "/learners", token, query_string={
        "updated_since": mark.isoformat().replace("+00:00", "Z")}).get_json()["data"]
    assert [x["name"] for x in changed] == ["Renamed Learner"]


def _sync(client, token: str, cursor: str | None, limit: int = 2) -> tuple[list[dict], str]:
    items = []
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get(PREFIX + "/placements", query_string=query,
                          headers={"Authorization": f"Bearer {token}"}).get_json()
        items += page["data"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items, cursor


def test_placement_sync_sees_every_change(app, client, api_world):
    """A nightly sync, then changes through the placement lifecycle (one at a time and in
    bulk), then the next sync from the kept cursor: every change arrives."""
    w = api_world
    _add_learners(w, 5)
    learners = db.session.scalars(sa.select(Learner).where(
        Learner.student_ref.like("Z%")).order_by(Learner.id)).all()
    for lrn in learners:
        db.session.add(Placement(round_id=w["round"].id, learner_id=lrn.id,
                                 offer_id=w["o1"].id, status=PlacementStatus.PROPOSED))
    db.session.commit()
    token = make_key(w["officer1"])
    first, cursor = _sync(client, token, None)
    assert [p["id"] for p in first] == [w["placement"].id]  # proposals are not in the feed
    proposed = db.session.scalars(sa.select(Placement).where(
        Placement.status == PlacementStatus.PROPOSED).order_by(Placement.id)).all()
    PLACEMENT.apply_many("publish", [(p.id, p.status, p.pending_change, {})
                                     for p in proposed])
    db.session.commit()
    PLACEMENT.apply(db.session.get(Placement, w["placement"].id), "accept")
    db.session.commit()
    second, cursor = _sync(client, token, cursor)
    got = {p["id"]: p["status"] for p in second}
    assert got[w["placement"].id] == "accepted"
    assert {p.id for p in proposed} <= set(got)
    assert all(got[p.id] == "published" for p in proposed)
    # A change whose transaction committed late (stamped before the last sync began)
    # still arrives in the next sync.
    late = proposed[0]
    db.session.execute(sa.update(Placement).where(Placement.id == late.id).values(
        status="declined", decline_reason="late", updated_at=utcnow() - timedelta(seconds=5)))
    db.session.commit()
    third, _ = _sync(client, token, cursor)
    assert {p["id"]: p["status"] for p in third}[late.id] == "declined"


def test_round_results_read_back(app, client, api_world):
    token = make_key(api_world["officer1"])
    w = api_world
    result = call(client, "GET", f"/runs/{w['run'].id}", token).get_json()
    assert result["unplaced"] == [{
        "learner_id": w["l2"].id, "student_ref": "B1", "mandated": False,
        "reason_code": "capacity", "reason": UNPLACED_REASONS["capacity"],
        "detail": "Care assistant was full"}]
    round_ = call(client, "GET", f"/rounds/{w['round'].id}", token).get_json()
    assert round_["placements"]["published"] == 1
    assert round_["phase"] == "Taking choices"
    placements = call(client, "GET", f"/rounds/{w['round'].id}/placements", token).get_json()
    assert [(p["student_ref"], p["status"], p["distance_km"]) for p in placements["data"]] == [
        ("A1", "published", 1.2)]


# --- rate limit and audit ----------------------------------------------------------------------


def test_rate_limit_per_key(make_app, api_world):
    limited = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute",
                       API_RATE_LIMIT_UNAUTHENTICATED="2 per minute")
    client = limited.test_client()
    with limited.app_context():
        token = make_key(db.session.get(User, api_world["officer1"].id))
        other = make_key(db.session.get(User, api_world["officer2"].id))
    answers = [call(client, "GET", "/programmes", token) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert answers[2].headers["RateLimit-Remaining"] == "0"
    problem = assert_problem(limited, answers[3], 429, "rate-limited")
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert "with this key" in problem["detail"]
    # Another key has its own count; calls without a usable key are counted per address.
    assert call(client, "GET", "/programmes", other).status_code == 200
    bad = [call(client, "GET", "/programmes", "plk_nope").status_code for _ in range(3)]
    assert bad == [401, 401, 429]


def test_every_call_is_audited_and_last_use_kept(app, client, api_world):
    token = make_key(api_world["officer1"])
    call(client, "GET", "/programmes", token)
    call(client, "GET", f"/learners/{api_world['l2'].id}", token)  # another provider's: 404
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "api.call").order_by(AuditEvent.id)).all()
    assert [(e.detail["operation"], e.detail["status"]) for e in events] == [
        ("list_programmes", 200), ("get_learner", 404)]
    key = db.session.scalar(sa.select(ApiKey))
    assert all(e.object_type == "ApiKey" and e.object_id == key.id for e in events)
    assert events[0].actor_id == api_world["officer1"].id
    db.session.refresh(key)
    assert key.last_used_at is not None
    keys.revoke_key(api_world["officer1"], key)
    db.session.commit()
    call(client, "GET", "/programmes", token)
    refused = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api.refused"))
    assert refused.detail["refused"] == "The API key has been revoked"


# --- the key pages and the CLI -----------------------------------------------------------------


def _shown_key(page: str) -> str:
    match = re.search(r'id="api-key"[^>]*value="([^"]+)"', page)
    assert match, "the new key is not on the page"
    return match.group(1)



def test_officer_creates_sees_once_and_revokes_a_key(app, client, auth, api_world):
    auth.login("officer1@example.test")
    assert client.get("/officer/api-keys/new").status_code == 200
    refused = client.post("/officer/api-keys/new", data={"name": "", "days": "90"})
    assert refused.status_code == 400
    assert b"Enter what the key is for" in refused.data
    assert b"Choose at least one thing the key may do" in refused.data
    created = client.post("/officer/api-keys/new", data={
        "name": "SITS nightly sync", "scopes": ["read", "write:learners"], "days": "90"})
    assert created.status_code == 200
    page = created.get_data(as_text=True)
    key = db.session.scalar(sa.select(ApiKey))
    token = _shown_key(page)
    assert token.startswith(key.prefix)
    assert keys.hash_token(token) == key.token_hash
    assert key.scopes == ["read", "write:learners"]
    assert key.provider_id == api_world["p1"].id
    listing = client.get("/officer/api-keys/").get_data(as_text=True)
    assert "SITS nightly sync" in listing
    assert token not in listing
    assert call(client, "GET", "/programmes", token).status_code == 200
    assert client.get(f"/officer/api-keys/{key.id}/revoke").status_code == 200
    assert client.post(f"/officer/api-keys/{key.id}/revoke").status_code == 303
    assert call(client, "GET", "/programmes", token).status_code == 401
    again = client.post(f"/officer/api-keys/{key.id}/revoke", follow_redirects=True)
    assert "already been revoked" in again.get_data(as_text=True)


def test_officers_see_only_their_providers_keys(app, client, auth, api_world):
    make_key(api_world["officer1"])
    key = db.session.scalar(sa.select(ApiKey))
    auth.login("officer2@example.test")
    assert "Test key" not in client.get("/officer/api-keys/").get_data(as_text=True)
    assert client.get(f"/officer/api-keys/{key.id}/revoke").status_code == 404
    assert client.post(f"/officer/api-keys/{key.id}/revoke").status_code == 404
    db.session.refresh(key)
    assert key.status.value == "active"


def test_administrator_creates_a_key_for_a_provider(app, client, auth, api_world):
    auth.login("admin@example.test")
    created = client.post("/admin/api-keys/new", data={
        "name": "Warehouse", "scopes": ["read"], "days": "30",
        "provider": str(api_world["p2"].id)})
    assert created.status_code == 200
    token = _shown_key(created.get_data(as_text=True))
    refs = {x["student_ref"] for x in call(client, "GET", "/learners", token).get_json()["data"]}
    assert refs == {"B1"}  # the chosen provider's learners, as its officers see them
    assert "Warehouse" in client.get("/admin/api-keys/").get_data(as_text=True)
    # A writing key of an administrator writes for its provider, audited as the admin.
    writer = make_key(api_world["admin"], scopes=("write:learners",),
                      provider_id=api_world["p2"].id)
    response = call(client, "POST", "/learners", writer, json={"learners": [
        learner_record("H1", "h1@example.test", code="HLT5")]})
    assert response.status_code == 200, response.get_json()
    created = db.session.scalar(sa.select(Learner).where(Learner.student_ref == "H1"))
    assert created.provider_id == api_world["p2"].id
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "learner.created", AuditEvent.object_id == created.id))
    assert event.actor_id == api_world["admin"].id
    assert db.session.get(User, api_world["admin"].id).role == Role.ADMIN  # untouched


def test_cli_creates_a_key(app, runner, api_world):
    result = runner.invoke(args=["api", "create-key", "--email", "officer1@example.test",
                                 "--name", "Automation", "--scope", "read",
                                 "--scope", "write:hours", "--days", "30"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    key = keys.find_key(token)
    assert key is not None
    assert key.scopes == ["read", "write:hours"]
    bad = runner.invoke(args=["api", "create-key", "--email", "learner1@example.test",
                              "--name", "x"])
    assert bad.exit_code != 0
