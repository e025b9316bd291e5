"""Learner portal pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from placements.models import Learner, Role
from placements.security import role_required

bp = Blueprint("learners", __name__, url_prefix="/learner")


@bp.before_request
@role_required(Role.LEARNER)
def _learners_only() -> None:
    """Every page here is for learners only."""


def current_learner() -> Learner:
    """Return the signed-in learner's record (every page works on the user's own only)."""
    learner = current_user.learner
    if learner is None:
        abort(404)
    return learner


@bp.get("/")
def dashboard():
    """Show the learner's programme and profile summary."""
    return render_template("learners/dashboard.html", learner=current_learner())
