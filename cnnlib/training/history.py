"""What a training job remembers of its run: the per-batch curve (bounded, with moving
averages), and the live changes of its settings, each at the batch it took effect.

Plain Python only: a page draws these as they are returned by `TrainingJob.snapshot()`.
"""

from __future__ import annotations

# The per-batch history keeps at most this many points, averaging neighbours when full.
MAX_HISTORY_POINTS = 1000
# Moving averages weigh about this many recent batches, fewer in short epochs (see
# `smoothing_window`), so that the smoothed curve follows a fast-learning network instead of
# lagging behind it by half an epoch.
MAX_SMOOTHING_WINDOW = 50
MIN_SMOOTHING_WINDOW = 5


def smoothing_window(batches_per_epoch: int) -> int:
    """Batches a moving average weighs: a tenth of an epoch, between 5 and 50 batches."""
    return int(min(MAX_SMOOTHING_WINDOW, max(MIN_SMOOTHING_WINDOW, batches_per_epoch // 10)))


class BatchHistory:
    """Per-batch points, averaged in pairs whenever full, so any run fits in a bounded list.

    Each stored point averages `stride` consecutive batches; the smoothed values are the
    moving averages at the point's last batch.
    """

    KEYS = ("step", "loss", "accuracy", "loss_smooth", "accuracy_smooth")

    def __init__(self, max_points: int | None = None) -> None:
        max_points = MAX_HISTORY_POINTS if max_points is None else max_points
        self.max_points = max_points - max_points % 2
        self.clear()

    def clear(self) -> None:
        self.columns: dict[str, list[float]] = {key: [] for key in self.KEYS}
        self.stride = 1
        self._pending = [0.0, 0.0, 0]

    def add(self, step: int, loss: float, accuracy: float, smooth: tuple[float, float]) -> None:
        pending = self._pending
        pending[0] += loss
        pending[1] += accuracy
        pending[2] += 1
        if pending[2] < self.stride:
            return
        columns = self.columns
        columns["step"].append(step)
        columns["loss"].append(pending[0] / pending[2])
        columns["accuracy"].append(pending[1] / pending[2])
        columns["loss_smooth"].append(smooth[0])
        columns["accuracy_smooth"].append(smooth[1])
        self._pending = [0.0, 0.0, 0]
        if len(columns["step"]) >= self.max_points:
            for key in ("loss", "accuracy"):
                values = columns[key]
                columns[key] = [(a + b) / 2 for a, b in zip(values[::2], values[1::2], strict=True)]
            for key in ("step", "loss_smooth", "accuracy_smooth"):
                columns[key] = columns[key][1::2]
            self.stride *= 2

    def as_dict(self) -> dict:
        return {key: list(values) for key, values in self.columns.items()}


class MovingAverage:
    """An exponential moving average, corrected for its start at zero as Adam corrects its."""

    def __init__(self, window: float = MAX_SMOOTHING_WINDOW) -> None:
        # A window of n batches weighs the newest batch by 1/n, as a mean of n batches would.
        self.decay = 1 - 1 / max(1.0, float(window))
        self.raw = 0.0
        self.weight = 0.0

    def add(self, value: float) -> float:
        self.raw = self.decay * self.raw + (1 - self.decay) * value
        self.weight = self.decay * self.weight + (1 - self.decay)
        return self.value

    @property
    def value(self) -> float | None:
        return self.raw / self.weight if self.weight else None


class ChangeLog:
    """Live changes of the settings: what changed, to what, and from which batch on."""

    def __init__(self) -> None:
        self.entries: list[dict] = []

    def add(self, setting: str, value: float, step: int, epoch: int, batch: int) -> None:
        self.entries.append(
            {"setting": setting, "value": value, "step": step, "epoch": epoch, "batch": batch}
        )

    def as_list(self) -> list[dict]:
        return [dict(entry) for entry in self.entries]
