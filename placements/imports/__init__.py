"""CSV imports of every kind: the one pipeline, its job, and the officer's pages."""

from placements.imports import jobs  # noqa: F401  (registers the import job kind)
from placements.imports.views import bp

__all__ = ["bp"]
