"""The employer portal: organisation, sites, placement offers."""

from placements.employers import imports  # noqa: F401  (registers the employers import kinds)
from placements.employers.views import bp

__all__ = ["bp"]
