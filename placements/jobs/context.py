"""What a job's handler gets: its input, and ways to report progress and to stop."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from placements.models import Job, JobStatus, utcnow

#: Seconds between progress writes (a handler may report far more often).
PROGRESS_INTERVAL_S = 0.5
#: Seconds between checks of an officer's cancel request.
CANCEL_CHECK_S = 1.0


class JobCancelled(Exception):  # noqa: N818 - it is the cancellation, not an error
    """Raised inside a handler when an officer cancelled the job."""


class JobContext:
    """What a handler gets: the job's input, and ways to report progress and to stop."""

    def __init__(self, job: Job, engine: sa.Engine) -> None:
        self.job_id = job.id
        self.kind = job.kind
        self.payload: dict[str, Any] = dict(job.payload or {})
        self.provider_id = job.provider_id
        self.created_by_id = job.created_by_id
        self.started = time.monotonic()
        self._engine = engine
        self._lock = threading.Lock()
        self._progress: dict[str, Any] = {}
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._cancelled = False
        #: SQLite lets one writer in at a time: while a handler writes (in its own
        #: transaction), progress from another connection would wait for it.
        self.concurrent_writes = engine.dialect.name != "sqlite"

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self._progress, "elapsed_s": self.elapsed()}

    def progress(self, *, writing: bool = False, **values: Any) -> None:
        """Record progress (done, total, message, figures); written at most twice a second.

        `writing=True` says the handler is inside its write transaction: on SQLite the
        report is then kept for the next write instead of waiting for the lock.
        """
        with self._lock:
            self._progress.update(values)
            now = time.monotonic()
            if now - self._last_write < PROGRESS_INTERVAL_S:
                return
            if writing and not self.concurrent_writes:
                return
            self._last_write = now
        self._write(progress=self.snapshot(), heartbeat_at=utcnow())

    def _write(self, **values: Any) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.update(Job).where(Job.id == self.job_id,
                                                  Job.status == JobStatus.RUNNING.value)
                             .values(**values))
        except sa.exc.SQLAlchemyError:  # a missed report must not stop the work
            return

    def cancelled(self) -> bool:
        """Say whether an officer asked the job to stop (checked at most once a second)."""
        now = time.monotonic()
        if self._cancelled or now - self._last_cancel_check < CANCEL_CHECK_S:
            return self._cancelled
        self._last_cancel_check = now
        try:
            with self._engine.connect() as conn:
                self._cancelled = bool(conn.scalar(sa.select(Job.cancel_requested).where(
                    Job.id == self.job_id)))
        except sa.exc.SQLAlchemyError:
            return False
        return self._cancelled

    def check_cancelled(self) -> None:
        """Stop the handler (JobCancelled) if an officer asked it to."""
        if self.cancelled():
            raise JobCancelled
