"""The employer portal: organisation, sites, placement offers."""

from placements.employers.views import bp

__all__ = ["bp"]
