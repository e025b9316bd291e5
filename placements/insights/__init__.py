"""Insights for officers: supply and demand, what-if questions, fairness of a run."""

from placements.insights import jobs  # noqa: F401 - registers the insights.solve job kind
from placements.insights.views import bp

__all__ = ["bp"]
