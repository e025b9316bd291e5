"""Employer engagement: the pipeline board, activity log and prospects."""

from placements.engagement.views import bp

__all__ = ["bp"]
