"""Allocation rounds: set up, run the solver, review, adjust, publish and repair."""

from placements.rounds.views import bp

__all__ = ["bp"]
