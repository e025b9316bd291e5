"""Placements: work placements for HTQ learners. The Flask application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from placements import config
from placements.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app: settings, extensions, blueprints, CLI and errors."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    config.load(app, Path(app.instance_path), test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    _configure_sqlite(app)
    _configure_postgres(app)

    from placements import auth, errors, frontend, navigation, security

    frontend.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    navigation.init_app(app)
    app.register_blueprint(auth.bp)

    from placements.admin import bp as admin_bp
    from placements.employers import bp as employers_bp
    from placements.learners import bp as learners_bp
    from placements.officers import bp as officers_bp

    for blueprint in (admin_bp, officers_bp, employers_bp, learners_bp):
        app.register_blueprint(blueprint)

    from placements.imports import bp as imports_bp
    from placements.rounds import bp as rounds_bp

    app.register_blueprint(rounds_bp)
    app.register_blueprint(imports_bp)

    from placements.engagement import bp as engagement_bp
    from placements.insights import bp as insights_bp

    app.register_blueprint(insights_bp)
    app.register_blueprint(engagement_bp)

    from placements.hours import bp as hours_bp

    app.register_blueprint(hours_bp)

    from placements.ksb import bp as ksb_bp

    app.register_blueprint(ksb_bp)

    from placements.compliance import bp as compliance_bp

    app.register_blueprint(compliance_bp)

    from placements.api import admin_bp as api_admin_bp
    from placements.api import bp as api_bp
    from placements.api import gate as api_gate
    from placements.api import officer_bp as api_officer_bp

    for blueprint in (api_bp, api_officer_bp, api_admin_bp):
        app.register_blueprint(blueprint)
    api_gate.init_app(app)

    from placements.reviews import bp as reviews_bp

    app.register_blueprint(reviews_bp)

    from placements import cli

    cli.init_app(app)
    return app


def _configure_postgres(app: Flask) -> None:
    """Turn PostgreSQL's JIT compiler off for the app's sessions: its pages run many short
    queries whose estimated cost (a rule checked per offer) trips the JIT threshold, and
    compiling costs more than it saves (15-20 ms on a 50,000-learner page,
    bench/RESULTS.md)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return

    with app.app_context():
        engine = db.engine

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET jit = off")
            cur.close()
            dbapi_conn.commit()


def _configure_sqlite(app: Flask) -> None:
    """Put SQLite in WAL mode with a busy timeout and foreign keys on."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return

    with app.app_context():
        engine = db.engine

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            if ":memory:" not in app.config["SQLALCHEMY_DATABASE_URI"]:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
