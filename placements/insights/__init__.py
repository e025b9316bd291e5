"""Insights for officers: supply and demand, what-if questions, fairness of a run."""

from placements.insights.views import bp

__all__ = ["bp"]
