"""CSV imports of learners and of employers with their offers (officers only)."""

from placements.imports.views import bp

__all__ = ["bp"]
