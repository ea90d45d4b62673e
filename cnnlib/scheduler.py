"""The process-wide queue that lets only a few training jobs compute at once.

Several browser sessions may train at the same time on a machine with two cores; running them
all together would make every one of them slow. A `JobScheduler` hands out a fixed number of
running slots (`CNNLAB_MAX_JOBS`, default 1) in first-come order: a job's thread waits in
`acquire` until its turn comes, and gives its slot back with `release` when it finishes or is
paused. Waiting threads block on a condition variable and use no CPU.

This module knows nothing of Keras: any object can queue. Jobs that want to hear when their
place in the queue changes may define `_queue_changed()`; it is called with the scheduler's
lock held, so it must not call back into the scheduler.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any


def max_jobs_from_env() -> int:
    """The number of jobs allowed to run at once, from CNNLAB_MAX_JOBS (default 1)."""
    value = os.environ.get("CNNLAB_MAX_JOBS", "").strip()
    if not value:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"CNNLAB_MAX_JOBS must be a whole number of at least 1; got {value!r}. "
            "Unset it to run one training job at a time."
        )
    return int(value)


class JobScheduler:
    """A first-come, first-served pool of running slots shared by all training jobs."""

    def __init__(self, max_running: int = 1) -> None:
        self._condition = threading.Condition()
        self._waiting: list[Any] = []
        self._running: list[Any] = []
        self.configure(max_running)

    def configure(self, max_running: int) -> None:
        """Change how many jobs may run at once; waiting jobs start if slots opened."""
        if isinstance(max_running, bool) or not isinstance(max_running, int) or max_running < 1:
            raise ValueError(
                f"max_running must be a whole number of at least 1; got {max_running!r}."
            )
        with self._condition:
            self.max_running = max_running
            self._condition.notify_all()

    def acquire(self, job: Any, abandon: Callable[[], bool]) -> bool:
        """Block until `job` may run; True then, or False if `abandon()` became true first.

        Call `wake()` after making `abandon()` true so that a waiting job notices at once.
        """
        with self._condition:
            self._waiting.append(job)
            self._notify_positions()
            try:
                while not abandon():
                    free = self.max_running - len(self._running)
                    if self._waiting.index(job) < free:
                        self._waiting.remove(job)
                        self._running.append(job)
                        return True
                    self._condition.wait()
                return False
            finally:
                if job in self._waiting:
                    self._waiting.remove(job)
                self._notify_positions()

    def release(self, job: Any) -> None:
        """Give back the slot `job` holds (nothing happens if it holds none)."""
        with self._condition:
            if job in self._running:
                self._running.remove(job)
                self._notify_positions()
                self._condition.notify_all()

    def wake(self) -> None:
        """Let every waiting job re-check whether it should give up waiting."""
        with self._condition:
            self._condition.notify_all()

    def queue_position(self, job: Any) -> int | None:
        """1 for the job that runs next, 2 for the one after, ...; None when not waiting."""
        with self._condition:
            if job in self._waiting:
                return self._waiting.index(job) + 1
            return None

    def counts(self) -> dict:
        """How many jobs run and wait now: {"running": int, "waiting": int, "max_running": int}."""
        with self._condition:
            return {
                "running": len(self._running),
                "waiting": len(self._waiting),
                "max_running": self.max_running,
            }

    def _notify_positions(self) -> None:
        for job in self._waiting:
            callback = getattr(job, "_queue_changed", None)
            if callback is not None:
                callback()


# The scheduler every TrainingJob uses unless it is given another.
default_scheduler = JobScheduler(max_jobs_from_env())


def configure(max_running: int) -> None:
    """Change how many jobs the process-wide scheduler runs at once (tests, benchmarks)."""
    default_scheduler.configure(max_running)
