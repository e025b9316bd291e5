"""Shared fixtures: an app on a fresh SQLite database, a client, and sign-in helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from placements import create_app
from placements.extensions import db
from placements.geo import locate
from placements.models import (
    AllocationRound,
    AllocationRun,
    Employer,
    EmployerSite,
    Learner,
    OccupationalStandard,
    Partnership,
    PlacementOffer,
    Programme,
    Provider,
    ProviderKind,
    Role,
    User,
)

PASSWORD = "correct horse battery"


#: Set by `make test-pg` (scripts/pg-test-server.sh): run the suite on that PostgreSQL database.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def app_config(tmp_path, **overrides) -> dict:
    """Settings for a test app: its own SQLite file, or the PostgreSQL test database."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "RATELIMIT_ENABLED": False,
        # In-process runs whatever the developer's environment says (tests that want a
        # Celery worker say so).
        "CELERY_BROKER_URL": None,
        "JOB_WORKER": "thread",
        # Uploaded documents stay inside the test's own folder.
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_IN_BACKGROUND": False,
        **overrides,
    }


class _SharedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the whole run: each test's new app would otherwise compile
    base.html and the GOV.UK macros again (most of a simple test's time)."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CACHE = _SharedBytecodeCache()


def build_test_app(config: dict) -> Flask:
    """create_app(config), sharing compiled templates with the other test apps."""
    new_app = create_app(config)
    new_app.jinja_env.bytecode_cache = _TEMPLATE_CACHE
    return new_app


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[None]:
    """On PostgreSQL, create the tables once per run (tests then empty them afterwards)."""
    if TEST_DATABASE_URL:
        app = create_app({"TESTING": True, "SECRET_KEY": "x",
                          "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL})
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            db.create_all()
            db.engine.dispose()
    return


def empty_postgres_tables() -> None:
    """Delete every row and reset the id sequences, much faster than recreating tables."""
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def make_app(tmp_path, _postgres_schema):
    """Build more apps on the test database, e.g. make_app(WTF_CSRF_ENABLED=True)."""
    built: list[Flask] = []

    def build(**overrides) -> Flask:
        new_app = build_test_app(app_config(tmp_path, **overrides))
        with new_app.app_context():
            db.create_all()
        built.append(new_app)
        return new_app

    yield build
    for new_app in built:
        with new_app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(tmp_path, _postgres_schema) -> Iterator[Flask]:
    """An app with its own SQLite file (tables created from the models), or on PostgreSQL."""
    app = build_test_app(app_config(tmp_path))
    with app.app_context():
        if not TEST_DATABASE_URL:
            db.create_all()
        yield app
        db.session.remove()
        if TEST_DATABASE_URL:
            empty_postgres_tables()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self._client.post("/auth/login", data={"email": email, "password": password},
                                 **kwargs)

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


def make_user(email: str, role: Role, **kwargs) -> User:
    """Add a user with the test password (a fast hash: tests do not need scrypt's cost)."""
    from werkzeug.security import generate_password_hash

    user = User(email=email, name=kwargs.pop("name", email.split("@")[0].title()), role=role,
                password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                **kwargs)
    db.session.add(user)
    return user


def confirm_registration(client: FlaskClient, email: str):
    """Follow the e-mail confirmation link of a self-registration (from the outbox)."""
    import re

    from placements.models import OutboxMessage

    body = db.session.scalar(sa.select(OutboxMessage.body).where(
        OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc()))
    link = re.search(r"/auth/confirm/([A-Za-z0-9_\-]+)", body or "")
    assert link, f"no confirmation link e-mailed to {email}"
    assert client.get(link.group(0)).status_code == 200
    return client.post(link.group(0))


def make_run(round_id: int, status: str = "succeeded", *, result=None, problem=None,
             **job) -> AllocationRun:
    """Add an allocation run of a round with its job in a given status (not committed)."""
    from placements.models import AllocationRun, Job

    run = AllocationRun(round_id=round_id, problem=problem if problem is not None else {},
                        result=result, job=Job(kind="allocation.run", status=status, **job))
    db.session.add(run)
    return run


@pytest.fixture
def world(app: Flask) -> dict:
    """Two providers in a partnership, two employers, offers, learners, a round."""
    standard = OccupationalStandard(reference="ST0116", title="Software developer", level=4,
                                    route="Digital")
    health = OccupationalStandard(reference="ST0215", title="Healthcare assistant practitioner",
                                  level=5, route="Health and science")
    partnership = Partnership(name="Test partnership")
    p1 = Provider(name="College One", kind=ProviderKind.COLLEGE, partnership=partnership)
    p2 = Provider(name="University Two", kind=ProviderKind.UNIVERSITY, partnership=partnership)
    prog1 = Programme(provider=p1, title="HTQ Software", level=4, standard=standard,
                      route="Digital", placement_mandated=True, required_placement_hours=150,
                      planned_total_hours=1200, start_date=date(2026, 9, 1),
                      end_date=date(2027, 7, 1))
    prog2 = Programme(provider=p2, title="HTQ Health", level=5, standard=health,
                      route="Health and science", placement_mandated=False,
                      planned_total_hours=1200, start_date=date(2026, 9, 1),
                      end_date=date(2027, 7, 1))
    e1 = Employer(name="Acme Digital", sector="Digital", region="North West", approved=True)
    e2 = Employer(name="Beta Care", sector="Health and science", region="North West",
                  approved=True)
    m1 = locate("M1 1AA")
    s1 = EmployerSite(employer=e1, name="HQ", postcode=m1.postcode, lat=m1.lat, lon=m1.lon)
    s2 = EmployerSite(employer=e2, name="Clinic", postcode=m1.postcode, lat=m1.lat, lon=m1.lon)
    o1 = PlacementOffer(employer=e1, site=s1, title="Junior developer", sector="Digital",
                        capacity=2, start_date=date(2027, 2, 1), end_date=date(2027, 5, 1),
                        hours_per_week=30, requirements=[])
    o2 = PlacementOffer(employer=e2, site=s2, title="Care assistant",
                        sector="Health and science", capacity=1, start_date=date(2027, 2, 1),
                        end_date=date(2027, 5, 1), hours_per_week=30, requirements=["dbs"])
    db.session.add_all([standard, health, partnership, p1, p2, prog1, prog2, e1, e2, s1, s2,
                        o1, o2])
    db.session.flush()
    admin = make_user("admin@example.test", Role.ADMIN)
    officer1 = make_user("officer1@example.test", Role.OFFICER, provider=p1)
    officer2 = make_user("officer2@example.test", Role.OFFICER, provider=p2)
    emp1 = make_user("emp1@example.test", Role.EMPLOYER, employer=e1)
    emp2 = make_user("emp2@example.test", Role.EMPLOYER, employer=e2)
    lu1 = make_user("learner1@example.test", Role.LEARNER)
    lu2 = make_user("learner2@example.test", Role.LEARNER)
    l1 = Learner(user=lu1, provider=p1, programme=prog1, student_ref="A1",
                 home_postcode="M1 1AA", lat=m1.lat, lon=m1.lon, max_travel_km=20)
    l2 = Learner(user=lu2, provider=p2, programme=prog2, student_ref="B1",
                 home_postcode="M1 1AA", lat=m1.lat, lon=m1.lon, max_travel_km=20,
                 credentials=["dbs"])
    db.session.add_all([l1, l2])
    round_ = AllocationRound(name="Spring", provider=p1, providers=[p1, p2],
                             programmes=[prog1, prog2],
                             preference_deadline=datetime.now(UTC) + timedelta(days=30),
                             max_preferences=3)
    db.session.add(round_)
    db.session.commit()
    return {
        "p1": p1, "p2": p2, "prog1": prog1, "prog2": prog2, "e1": e1, "e2": e2, "s1": s1,
        "s2": s2, "o1": o1, "o2": o2, "admin": admin, "officer1": officer1,
        "officer2": officer2, "emp1": emp1, "emp2": emp2, "l1": l1, "l2": l2, "round": round_,
    }


def publish_form(client: FlaskClient, round_id: int) -> dict[str, str]:
    """Read the publish confirmation page's hidden fields (what the officer confirms)."""
    import re

    page = client.get(f"/officer/rounds/{round_id}/publish").get_data(as_text=True)
    return dict(re.findall(r'name="(seen|digest)" type="hidden" value="([^"]*)"', page))


def publish(client: FlaskClient, round_id: int):
    """Publish a round as an officer does: read the confirmation page, then confirm."""
    return client.post(f"/officer/rounds/{round_id}/publish",
                       data=publish_form(client, round_id))
