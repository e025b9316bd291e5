"""Work-integrated hours: learners log, employers verify, officers watch the 80/20 norm."""

from placements.hours import imports  # noqa: F401  (registers the hours import kinds)
from placements.hours.views import bp

__all__ = ["bp"]
