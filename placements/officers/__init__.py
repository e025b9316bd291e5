"""The placement officer's area: employers to approve, learners, the outbox."""

from placements.officers.views import bp

__all__ = ["bp"]
