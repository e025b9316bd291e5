"""Background jobs: a runner that features register their kinds of long work with.

See `placements.jobs.runner` (queue, run, follow, cancel, reap) and
`placements.jobs.registry` (`@job_kind`). Features register their kinds in a `jobs`
module of their own package, imported by the package's `__init__`.
"""

from placements.jobs.context import JobCancelled, JobContext
from placements.jobs.registry import JobKind, job_kind
from placements.jobs.runner import (
    JobConflict,
    JobRejected,
    enqueue,
    execute,
    is_stale,
    reap_stale,
    request_cancel,
    shown_error,
    shown_status,
    submit,
)

__all__ = ["JobCancelled", "JobConflict", "JobContext", "JobKind", "JobRejected", "enqueue",
           "execute",
           "is_stale", "job_kind", "reap_stale", "request_cancel", "shown_error",
           "shown_status", "submit"]
