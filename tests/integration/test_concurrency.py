"""Concurrency and faults: SQLite's WAL mode and busy timeout, many learners saving their
choices at once (nothing lost, no "database is locked"), and a database outage answered with
a 503 page that the app recovers from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from placements import create_app
from placements.extensions import db
from placements.geo import locate
from placements.learners.services import save_preferences
from placements.models import (
    AllocationRun,
    AuditEvent,
    JobStatus,
    Learner,
    Placement,
    PlacementOffer,
    Preference,
    Role,
)
from tests.conftest import PASSWORD, app_config, make_user

LEARNERS = 12
SAVES_EACH = 5


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    app = create_app(app_config(tmp_path, SQLALCHEMY_DATABASE_URI=(
        f"sqlite:///{tmp_path / 'wal.sqlite'}")))
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
                assert pragma("journal_mode") == "wal"
                assert pragma("busy_timeout") >= 5000
                assert pragma("foreign_keys") == 1
        finally:
            db.engine.dispose()


def test_postgres_sessions_run_without_the_jit_compiler(app):
    """On PostgreSQL every session of the app has JIT off, after a rollback too."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL runs only under `make test-pg` (TEST_DATABASE_URL)")
    assert db.session.scalar(sa.text("SHOW jit")) == "off"
    db.session.rollback()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"


def _learners_and_offers(world: dict) -> tuple[list[tuple[str, int]], list[int]]:
    """LEARNERS more learners on the Digital programme and three Digital offers to rank."""
    site = world["s1"]
    offers = [world["o1"]] + [
        PlacementOffer(employer=world["e1"], site=site, title=f"Developer {n}", sector="Digital",
                       capacity=2, start_date=date(2027, 2, 1), end_date=date(2027, 5, 1),
                       hours_per_week=30, requirements=[]) for n in (2, 3)]
    db.session.add_all(offers)
    home = locate("M1 1AA")
    learners = []
    for n in range(LEARNERS):
        user = make_user(f"busy{n}@example.test", Role.LEARNER)
        learners.append(Learner(user=user, provider=world["p1"], programme=world["prog1"],
                                student_ref=f"C{n}", home_postcode=home.postcode, lat=home.lat,
                                lon=home.lon, max_travel_km=20))
    db.session.add_all(learners)
    db.session.commit()
    return [(lr.user.email, lr.id) for lr in learners], [o.id for o in offers]


def test_many_learners_save_choices_at_once(app: Flask, world):
    """Every learner's last save is what is stored; no request fails or hits a lock."""
    learners, offer_ids = _learners_and_offers(world)
    round_id = world["round"].id
    url = f"/learner/rounds/{round_id}/choices"
    expected: dict[int, list[int]] = {}
    failures: list[str] = []
    start = threading.Barrier(len(learners))

    def learner_session(email: str, learner_id: int) -> None:
        try:
            client = app.test_client()
            response = client.post("/auth/login", data={"email": email, "password": PASSWORD})
            assert response.status_code == 302, response.status_code
            start.wait(timeout=120)
            for n in range(SAVES_EACH):
                order = offer_ids[n % 3:] + offer_ids[:n % 3]
                response = client.post(url, data={"order": order})
                if response.status_code != 303:
                    failures.append(f"{email} save {n}: {response.status_code}")
                    return
                expected[learner_id] = order
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"{email}: {exc!r}")

    threads = [threading.Thread(target=learner_session, args=learner) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []

    db.session.expire_all()
    for _, learner_id in learners:
        saved = db.session.execute(
            sa.select(Preference.offer_id, Preference.rank).where(
                Preference.round_id == round_id, Preference.learner_id == learner_id)
            .order_by(Preference.rank)).all()
        assert [rank for _, rank in saved] == [1, 2, 3]
        assert [offer for offer, _ in saved] == expected[learner_id]


def test_one_learner_racing_tabs_never_corrupt_the_list(app: Flask, world):
    """Two tabs of one learner saving different orders: the list is one of them, whole."""
    learners, offer_ids = _learners_and_offers(world)
    email, learner_id = learners[0]
    round_id = world["round"].id
    orders = [offer_ids, list(reversed(offer_ids))]
    failures: list[str] = []
    start = threading.Barrier(2)

    def tab(order: list[int]) -> None:
        try:
            client = app.test_client()
            client.post("/auth/login", data={"email": email, "password": PASSWORD})
            start.wait(timeout=120)
            for _ in range(SAVES_EACH):
                response = client.post(f"/learner/rounds/{round_id}/choices",
                                       data={"order": order})
                if response.status_code != 303:
                    failures.append(str(response.status_code))
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=tab, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    db.session.expire_all()
    saved = db.session.scalars(sa.select(Preference.offer_id).where(
        Preference.round_id == round_id, Preference.learner_id == learner_id)
        .order_by(Preference.rank)).all()
    assert saved in orders


def test_database_outage_gives_503_and_the_app_recovers(app: Flask, client, world):
    response = client.post("/auth/login", data={"email": "officer1@example.test",
                                                "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/officer/").status_code == 200

    # The database server goes away: nothing listens on the port any more.
    with socket_on_a_closed_port() as port:
        engines = db._app_engines[app]
        working = engines[None]
        engines[None] = sa.create_engine(
            f"postgresql+psycopg://nobody@127.0.0.1:{port}/gone",
            connect_args={"connect_timeout": 2}, pool_pre_ping=True)
        db.session.remove()
        try:
            response = client.get("/officer/")
            assert response.status_code == 503
            assert b"service is unavailable" in response.data
            assert response.headers["Retry-After"]
            assert "Content-Security-Policy" in response.headers
            response = client.get("/officer/", headers={"Accept": "application/json"})
            assert response.status_code == 503
            assert response.get_json()["error"]
        finally:
            engines[None].dispose()
            engines[None] = working
            db.session.remove()

    # The database is back: the same browser carries on, still signed in.
    assert client.get("/officer/").status_code == 200


#: A worker process whose solver reports progress once, then hangs until it is killed.
HANGING_WORKER = """
import sys, time
from placements import create_app
from placements.jobs import execute
import placements.rounds.jobs

def hang(problem, progress):
    progress({"level": "placed", "objective": 1})
    time.sleep(600)

placements.rounds.jobs.solve = hang
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "worker"})
execute(app, int(sys.argv[2]))
"""


def _placements(round_id: int) -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(sa.select(
        Placement.learner_id, Placement.offer_id, Placement.status, Placement.run_id)
        .where(Placement.round_id == round_id).order_by(Placement.learner_id)).all()


def test_killed_worker_leaves_run_failed_and_allocation_intact(app: Flask, client, world):
    round_id = world["round"].id
    save_preferences(world["l1"].user, world["l1"], world["round"], [world["o1"].id])
    db.session.commit()
    client.post("/auth/login", data={"email": "officer1@example.test", "password": PASSWORD})

    # A first run succeeds: that is the allocation to keep.
    app.config["JOB_WORKER"] = "inline"
    assert client.post(f"/officer/rounds/{round_id}/runs").status_code == 303
    before = _placements(round_id)
    assert before, "the first run placed nobody"

    # A second run is queued and picked up by a worker process that dies mid-solve.
    app.config["JOB_WORKER"] = "manual"
    assert client.post(f"/officer/rounds/{round_id}/runs").status_code == 303
    run_id = db.session.scalar(sa.select(sa.func.max(AllocationRun.id)))
    job_id = db.session.get(AllocationRun, run_id).job_id
    worker = subprocess.Popen(
        [sys.executable, "-c", HANGING_WORKER, app.config["SQLALCHEMY_DATABASE_URI"],
         str(job_id)], cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        deadline = time.monotonic() + 60
        while True:
            db.session.expire_all()
            run = db.session.get(AllocationRun, run_id)
            if run.status == JobStatus.RUNNING and (run.progress or {}).get("objective"):
                break
            assert worker.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, "the worker never started the run"
            time.sleep(0.2)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    # Nobody hears from the worker again: the pages say so at once (without writing).
    app.config["JOB_STALE_S"] = 1
    time.sleep(1.2)
    progress = client.get(f"/officer/rounds/{round_id}/runs/{run_id}/progress.json").get_json()
    assert progress["status"] == "failed"
    assert "worker stopped" in progress["error"]
    db.session.expire_all()
    assert db.session.get(AllocationRun, run_id).status == JobStatus.RUNNING  # GET wrote nothing
    assert _placements(round_id) == before
    # Starting a new run marks the stopped one failed (audited) and goes ahead.
    app.config["JOB_WORKER"] = "inline"
    assert client.post(f"/officer/rounds/{round_id}/runs").status_code == 303
    db.session.expire_all()
    run = db.session.get(AllocationRun, run_id)
    assert run.status == JobStatus.FAILED
    assert "worker stopped" in run.error
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "run.failed", AuditEvent.object_id == run_id))
    latest = db.session.get(AllocationRun, db.session.scalar(
        sa.select(sa.func.max(AllocationRun.id))))
    assert latest.status == JobStatus.SUCCEEDED


class socket_on_a_closed_port:
    """A loopback port that was free a moment ago, so connecting to it is refused."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None
