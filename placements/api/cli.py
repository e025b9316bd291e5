"""`flask api ...`: API keys from the command line (automation, first set-up)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from placements.extensions import db

api_cli = AppGroup("api", help="The JSON API: keys, and the OpenAPI document.")


@api_cli.command("create-key")
@click.option("--email", required=True, help="The officer (or administrator) it acts as.")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--scope", "scopes", multiple=True, default=["read"], show_default=True,
              type=click.Choice(["read", "write:learners", "write:hours"]),
              help="Repeat for several.")
@click.option("--days", default=90, show_default=True,
              type=click.Choice(["30", "90", "180", "365"]), help="Days until it expires.")
@click.option("--provider-id", type=int, default=None,
              help="For an administrator: the provider the key is for.")
def create_key(email: str, name: str, scopes: tuple[str, ...], days: str,
               provider_id: int | None) -> None:
    """Create an API key and print it (once: only its hash is kept)."""
    from placements.api.keys import create_key as make
    from placements.domain import DomainError
    from placements.models import User

    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    if user is None or not user.active:
        raise click.UsageError(f"no active account with e-mail {email}")
    try:
        made = make(user, provider_id=provider_id or user.provider_id or 0, name=name,
                    scopes=list(scopes), days=int(days))
    except DomainError as exc:
        db.session.rollback()
        raise click.UsageError(exc.message) from None
    db.session.commit()
    click.echo(made.token)


@api_cli.command("openapi")
def openapi() -> None:
    """Print the OpenAPI document (docs/openapi.json is this, committed)."""
    import json

    from placements.api.spec import document

    click.echo(json.dumps(document(), indent=2, sort_keys=True))
