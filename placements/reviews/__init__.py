"""Duty of care while placements run: review plans and reviews, supervisors without accounts
(signed single-purpose links), concerns, and the weekly supervisor digest."""

from placements.reviews import jobs  # noqa: F401  (registers the reviews' job kinds)
from placements.reviews.views import bp

__all__ = ["bp"]
