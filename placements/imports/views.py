"""Officer pages for CSV imports."""

from __future__ import annotations

from flask import Blueprint

from placements.models import Role
from placements.security import role_required

bp = Blueprint("imports", __name__, url_prefix="/officer/imports")


@bp.before_request
@role_required(Role.OFFICER)
def _officers_only() -> None:
    """Every page here is for placement officers only."""
