"""The administrator's area: providers and officer accounts."""

from placements.admin.views import bp

__all__ = ["bp"]
