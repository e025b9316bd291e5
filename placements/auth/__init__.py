"""Accounts: sign in and out, passwords, invitations, employer self-registration."""

from placements.auth.views import bp

__all__ = ["bp"]
