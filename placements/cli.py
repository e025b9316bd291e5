"""Command-line tools: `flask seed ...`, `flask create-admin`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from placements.extensions import db

seed_cli = AppGroup("seed", help="Load reference and demo data.")


@seed_cli.command("reference")
def seed_reference() -> None:
    """Load or refresh the occupational standards and their KSBs (safe to run again)."""
    from placements.ksb.catalogue import load_bundled
    from seed.demo import load_standards

    count = load_standards()
    ksbs = load_bundled()
    db.session.commit()
    click.echo(f"{count} occupational standards loaded; KSB statements: {ksbs.created} added, "
               f"{ksbs.updated} changed, {ksbs.unchanged} unchanged.")


@seed_cli.command("demo")
@click.option("--learners", default=300, show_default=True, type=click.IntRange(1, 200_000),
              help="How many learners to create (offers and employers scale with it).")
@click.option("--seed", "random_seed", default=2026, show_default=True, type=int,
              help="Random seed: the same seed gives the same data.")
@click.option("--quiet", is_flag=True, help="Do not print the demo logins.")
def seed_demo(learners: int, random_seed: int, quiet: bool) -> None:
    """Load the Greater Manchester demo partnership (does nothing if already loaded) and
    the bundled KSB statements (refreshed on every run)."""
    from placements.ksb.catalogue import load_bundled
    from seed.demo import demo_logins, load_demo, load_standards

    with click.progressbar(length=learners, label="Creating demo learners",
                           file=sys.stderr) as bar:
        done = {"learners": 0}

        def progress(stage: str, n: int) -> None:
            if stage == "learners":
                bar.update(n - done["learners"])
                done["learners"] = n

        try:
            load_standards()
            load_bundled()
            report = load_demo(learners=learners, seed=random_seed, progress=progress)
        except Exception:
            db.session.rollback()
            raise
    db.session.commit()
    if report.created:
        click.echo(f"Demo data loaded: {report.providers} providers, {report.programmes} "
                   f"programmes, {report.employers} employers, {report.offers} offers, "
                   f"{report.learners} learners, {report.preferences} preferences.")
    else:
        click.echo("Demo data is already loaded; nothing changed.")
    if not quiet:
        click.echo("\nDemo logins (all with the password shown):")
        for role, email, password in demo_logins():
            click.echo(f"  {role:34} {email:40} {password}")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an administrator account."""
    import sqlalchemy as sa

    from placements.models import Role, User

    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="password")
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email.lower())):
        raise click.UsageError(f"an account with e-mail {email} already exists")
    user = User(email=email.lower(), name=name, role=Role.ADMIN)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Administrator {email} created.")


jobs_cli = AppGroup("jobs", help="Background jobs: allocation runs, imports, ...")


@jobs_cli.command("reap")
def reap_jobs() -> None:
    """Mark jobs whose worker stopped (no heartbeat, or never picked up) as failed.

    Safe to run from cron every few minutes; pages show such jobs as stopped anyway.
    """
    from placements.jobs import reap_stale

    count = reap_stale()
    db.session.commit()
    click.echo(f"{count} stopped job{'s' if count != 1 else ''} marked as failed.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(seed_cli)
    app.cli.add_command(create_admin)
    app.cli.add_command(jobs_cli)
    from placements.api.cli import api_cli

    app.cli.add_command(api_cli)
