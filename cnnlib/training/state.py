"""The states a training job goes through, and the questions pages ask of them."""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    """queued → running ⇄ paused (queued again when resumed) → stopping → finished, or failed.

    A `StrEnum`, so a state is also its plain name ("running") in snapshots and comparisons.
    """

    QUEUED = "queued"  # waiting for a free training slot
    RUNNING = "running"
    PAUSED = "paused"  # halted between batches, holding no slot
    STOPPING = "stopping"  # asked to stop: measuring the test set on the weights so far
    FINISHED = "finished"  # ended, by itself or stopped; its model and results are there
    FAILED = "failed"  # ended with an error (a NaN loss, say); see the snapshot's "error"

    @property
    def active(self) -> bool:
        """The job still holds or waits for the CPU: a page keeps redrawing it."""
        return self not in (JobState.FINISHED, JobState.FAILED)

    @property
    def ended(self) -> bool:
        return not self.active

    @classmethod
    def of(cls, job_or_state: object) -> JobState | None:
        """The state of a job (anything with `.state`) or of a state name; None for None."""
        if job_or_state is None:
            return None
        state = getattr(job_or_state, "state", job_or_state)
        return cls(state)
