"""Scale-out: allocation runs solved by a real Celery worker over a real Redis
(`make test-pg` starts both servers; TEST_REDIS_URL), and the in-process default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from placements import create_app
from placements.extensions import db
from placements.learners.services import save_preferences
from placements.models import AllocationFigures, AllocationRun, JobStatus, Placement
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def test_in_process_worker_is_the_default(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                      "RATELIMIT_ENABLED": False})
    assert app.config["JOB_WORKER"] == "thread"


def test_broker_setting_sends_runs_to_celery(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                      "RATELIMIT_ENABLED": False})
    assert app.config["JOB_WORKER"] == "celery"
    assert app.config["CELERY_BROKER_URL"] == "redis://127.0.0.1:1/0"


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: runs under `make test-pg`")
def test_run_is_solved_by_a_celery_worker(app: Flask, client, world):
    round_id = world["round"].id
    save_preferences(world["l1"].user, world["l1"], world["round"], [world["o1"].id])
    db.session.commit()
    app.config.update(JOB_WORKER="celery", CELERY_BROKER_URL=TEST_REDIS_URL)
    env = {**os.environ, "CELERY_BROKER_URL": TEST_REDIS_URL,
           "PLACEMENTS_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "PLACEMENTS_SECRET_KEY": "worker", "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "placements.tasks", "worker", "--pool", "solo",
         "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel", "WARNING"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        client.post("/auth/login", data={"email": "officer1@example.test",
                                         "password": PASSWORD})
        assert client.post(f"/officer/rounds/{round_id}/runs").status_code == 303
        run_id = db.session.scalar(sa.select(sa.func.max(AllocationRun.id)))
        deadline = time.monotonic() + 120
        while True:
            db.session.expire_all()
            run = db.session.get(AllocationRun, run_id)
            if run.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                break
            assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the worker did not finish the run"
            time.sleep(0.3)
        assert run.status == JobStatus.SUCCEEDED, run.error
        assert f":{worker.pid}:" in run.job.worker  # solved in the worker process, not here
        placed = db.session.scalars(sa.select(Placement).where(
            Placement.round_id == round_id, Placement.run_id == run_id)).all()
        assert [p.learner_id for p in placed] == [world["l1"].id]
        # What other features keep with a run (the insight figures) is kept by the worker
        # too: its app connects their receivers.
        assert db.session.scalar(sa.select(AllocationFigures.id).where(
            AllocationFigures.run_id == run_id)) is not None
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()
