"""The kinds of background job, registered by the features that own them.

A feature declares each kind of long work it does once, next to the code that does it::

    @job_kind("allocation.run", title="Allocation run", on_failure=record_failure)
    def run_allocation(ctx: JobContext) -> dict | None:
        ...

The runner (`placements.jobs.runner`) knows kinds only through this registry: it never
imports a feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from placements.jobs.context import JobContext
    from placements.models import Job

Handler = Callable[["JobContext"], "dict[str, Any] | None"]
FailureHook = Callable[["Job", str], None]
AfterHook = Callable[["Job"], None]


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job: what runs it and what happens when it fails."""

    name: str
    run: Handler
    title: str
    #: Called (in a fresh transaction) when a job of this kind fails or is cancelled, to
    #: record it where the feature keeps its history (an audit event with its round, ...).
    on_failure: FailureHook | None = None
    #: Called (in a fresh transaction) once a job of this kind has succeeded and committed,
    #: for follow-up that must not undo it (refreshing the planner's statistics after bulk
    #: writes, ...): a failure there is logged and the job stays succeeded.
    after_success: AfterHook | None = None


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, *, title: str, on_failure: FailureHook | None = None,
             after_success: AfterHook | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of jobs of kind `name`."""

    def register(handler: Handler) -> Handler:
        existing = KINDS.get(name)
        if existing is not None and existing.run is not handler and \
                existing.run.__qualname__ != handler.__qualname__:
            raise ValueError(f"job kind {name!r} is registered twice")
        KINDS[name] = JobKind(name, handler, title, on_failure, after_success)
        return handler

    return register


def kind_of(name: str) -> JobKind:
    """Return a registered kind (KeyError names it when a feature is missing)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"no job kind {name!r} is registered") from None
