"""Insights for officers: supply and demand, what-if questions, fairness of a run."""

from placements.insights import (  # noqa: F401 - register the job kind and the command
    cli,
    jobs,
)
from placements.insights.views import bp

__all__ = ["bp"]
