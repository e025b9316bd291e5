"""Employer engagement: the pipeline board, activity log and prospects."""

from placements.engagement import imports  # noqa: F401  (registers the engagement import kinds)
from placements.engagement.views import bp

__all__ = ["bp"]
