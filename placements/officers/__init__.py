"""The placement officer's area: employers to approve, learners, the outbox."""

from placements.officers import imports  # noqa: F401  (registers the officers import kinds)
from placements.officers.views import bp

__all__ = ["bp"]
