"""The learner portal: profile, offers, ranked choices, placement."""

from placements.learners.views import bp

__all__ = ["bp"]
