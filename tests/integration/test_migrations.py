"""Migrations: upgrade an empty database to the head, find no drift from the models, and
downgrade back to empty; on SQLite always, and on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask

from placements import create_app
from placements.extensions import db, migrate
from tests.conftest import TEST_DATABASE_URL


def _alembic_config(app: Flask):
    return migrate.get_config(directory=app.extensions["migrate"].directory)


def _build(url: str) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url,
                       "RATELIMIT_ENABLED": False})


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'migrations.sqlite'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server, dropped afterwards."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL runs only under `make test-pg` (TEST_DATABASE_URL)")
    name = f"placements_migrations_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(TEST_DATABASE_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _tables(app: Flask) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _upgrade_check_downgrade(url: str) -> None:
    app = _build(url)
    with app.app_context():
        config = _alembic_config(app)
        heads = ScriptDirectory.from_config(config).get_heads()
        try:
            assert _tables(app) == set()
            command.upgrade(config, "heads")
            assert _tables(app) == set(db.metadata.tables)
            with db.engine.connect() as conn:
                applied = {row[0] for row in conn.execute(
                    sa.text("SELECT version_num FROM alembic_version"))}
            assert applied == set(heads)
            # `flask db check`: the models and the migrated schema agree.
            command.check(config)
            command.downgrade(config, "base")
            assert _tables(app) == set()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_revisions_form_one_history() -> None:
    """Every revision descends from the first; none points at a revision that is missing."""
    app = _build("sqlite://")
    with app.app_context():
        script = ScriptDirectory.from_config(_alembic_config(app))
        revisions = list(script.walk_revisions("base", "heads"))
        bases = [r.revision for r in revisions if r.down_revision is None]
        assert bases == ["0001_foundation"]
        ids = [r.revision for r in revisions]
        assert len(ids) == len(set(ids))
        for revision in revisions:
            assert revision.doc, f"{revision.revision} has no message"


def test_sqlite_upgrade_check_downgrade(sqlite_url) -> None:
    _upgrade_check_downgrade(sqlite_url)


def test_postgres_upgrade_check_downgrade(postgres_url) -> None:
    _upgrade_check_downgrade(postgres_url)


def test_flask_db_check_command(sqlite_url) -> None:
    """The command-line spelling works too: `flask db upgrade heads` then `flask db check`."""
    app = _build(sqlite_url)
    runner = app.test_cli_runner()
    try:
        result = runner.invoke(args=["db", "upgrade", "heads"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(("given", "used"), [
    ("postgres://u:p@db.internal:5432/placements",
     "postgresql+psycopg://u:p@db.internal:5432/placements"),
    ("postgresql://u@db.internal/placements", "postgresql+psycopg://u@db.internal/placements"),
    ("postgresql+psycopg://u@db.internal/placements",
     "postgresql+psycopg://u@db.internal/placements"),
])
def test_database_url_selects_psycopg_3(monkeypatch, tmp_path, given, used) -> None:
    """DATABASE_URL as hosting platforms spell it runs on psycopg 3."""
    from flask import Flask

    from placements import config

    monkeypatch.setenv("DATABASE_URL", given)
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.delenv("PLACEMENTS_SQLALCHEMY_DATABASE_URI", raising=False)
    app = Flask("config_test", instance_path=str(tmp_path))
    config.load(app, tmp_path, None)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == used
    assert not (tmp_path / "secret_key").exists()


# --- 0500_employer_status: approved employers stay approved, the others await a decision ----

EMPLOYER_STATUS = "0500_employer_status"


def _employer_status_carries_over(url: str) -> None:
    app = _build(url)
    with app.app_context():
        config = _alembic_config(app)
        before = ScriptDirectory.from_config(config).get_revision(EMPLOYER_STATUS).down_revision
        try:
            command.upgrade(config, before)
            with db.engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO employer (id, name, sector, region, approved, approved_at, "
                    "created_at) VALUES (1, 'Old Approved', 'Digital', 'North West', :yes, "
                    "'2026-01-05 10:00:00+00:00', '2026-01-01 10:00:00+00:00'), "
                    "(2, 'Old Waiting', 'Digital', 'North West', :no, NULL, "
                    "'2026-01-02 10:00:00+00:00')"), {"yes": True, "no": False})
            command.upgrade(config, EMPLOYER_STATUS)
            with db.engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "SELECT id, status, status_changed_at IS NOT NULL FROM employer "
                    "ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, "approved", True), (2, "awaiting", False)]
            command.downgrade(config, before)
            with db.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT id, approved FROM employer ORDER BY id"))
                assert [(i, bool(a)) for i, a in rows] == [(1, True), (2, False)]
            command.downgrade(config, "base")
        finally:
            db.session.remove()
            db.engine.dispose()


def test_employer_status_sqlite(sqlite_url) -> None:
    _employer_status_carries_over(sqlite_url)


def test_employer_status_postgres(postgres_url) -> None:
    _employer_status_carries_over(postgres_url)
