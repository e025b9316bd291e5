"""Work-integrated hours: learners log, employers verify, officers watch the 80/20 norm."""

from placements.hours.views import bp

__all__ = ["bp"]
