"""Allocation rounds: set up, run, review, adjust, publish, repair, audit."""

from placements.rounds import jobs  # noqa: F401  (registers the rounds' job kinds)
from placements.rounds.views import bp

__all__ = ["bp"]
