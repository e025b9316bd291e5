"""Employer portal pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from placements.extensions import db
from placements.models import PlacementOffer, Role
from placements.security import role_required

bp = Blueprint("employers", __name__, url_prefix="/employer")


@bp.before_request
@role_required(Role.EMPLOYER)
def _employers_only() -> None:
    """Every page here is for employer users only."""


@bp.get("/")
def dashboard():
    """Show the organisation's approval status and its offers."""
    employer = current_user.employer
    offers = db.session.scalars(sa.select(PlacementOffer).where(
        PlacementOffer.employer_id == employer.id).order_by(PlacementOffer.title)).all()
    return render_template("employers/dashboard.html", employer=employer, offers=offers)
