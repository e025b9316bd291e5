"""Domain errors: raised by services and the domain core, shown to people by the views."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; the message is fit to show the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The user may not do this to this object."""


class IllegalTransition(DomainError):
    """A lifecycle transition was asked for from a state that does not allow it."""


class ConcurrentChange(IllegalTransition):
    """The object changed under us (another request got there first); nothing was changed."""
