"""`TrainingJob`: one training run in a background thread, steered through thread-safe
methods and read through `snapshot()`, which returns plain data (numbers, strings, lists,
dicts) for a page to draw at any moment.

A job takes a model factory (called with a Keras dtype policy name), any data object with
`x_train`, `y_train`, `x_test`, `y_test` and `class_names` (optionally `x_val`, `y_val`) and
a `TrainSettings`. `start()` queues it on the process-wide scheduler (`cnnlib.scheduler`) and
returns at once; what the thread then does is `cnnlib.training.loop`'s.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from cnnlib.i18n import _
from cnnlib.precision import resolve_precision
from cnnlib.scheduler import JobScheduler, default_scheduler
from cnnlib.training import loop
from cnnlib.training.data import TrainingData
from cnnlib.training.history import BatchHistory, ChangeLog, MovingAverage
from cnnlib.training.settings import (
    TrainSettings,
    check_batch_size,
    check_learning_rate,
    check_momentum,
    check_weight_decay,
    is_number,
)
from cnnlib.training.state import JobState


def _model_precision(model: keras.Model) -> str:
    """The dtype policy of the model's first layer with weights (the model's own may differ)."""
    for layer in model.layers:
        if layer.weights:
            if isinstance(layer, keras.Model):
                return _model_precision(layer)
            return layer.dtype_policy.name
    return model.dtype_policy.name


class TrainingJob:
    """One training run in a background thread, steered through thread-safe methods.

    `model_factory(dtype_policy_name)` builds an uncompiled model whose last layer is a float32
    softmax; it is called in the training thread once the job's turn comes. `initial_model`
    instead continues training a model the student already has (its own precision is kept).
    `probe(model, info)` is called between batches at most every `probe_interval` seconds;
    `info` holds "x" (the float32 batch as trained on, after augmentation), "x_uint8", "y",
    "step", "epoch" and "batch"; whatever plain data it returns appears as the snapshot's
    "probe".
    """

    def __init__(
        self,
        model_factory: Callable[[str], keras.Model] | None,
        data: Any,
        settings: TrainSettings | None = None,
        name: str = "",
        probe: Callable[[keras.Model, dict], Any] | None = None,
        probe_interval: float = 1.0,
        initial_model: keras.Model | None = None,
        scheduler: JobScheduler | None = None,
    ) -> None:
        settings = TrainSettings() if settings is None else settings
        if not isinstance(settings, TrainSettings):
            raise ValueError("settings must be a TrainSettings.")
        if initial_model is None and not callable(model_factory):
            raise ValueError("Give a model_factory (a function of the dtype policy name).")
        if probe is not None and not callable(probe):
            raise ValueError("probe must be a function probe(model, info) or None.")
        if not is_number(probe_interval) or probe_interval <= 0:
            raise ValueError(
                f"probe_interval must be a positive number of seconds; got {probe_interval!r}."
            )
        self.settings = settings
        self.name = str(name)
        self._data = TrainingData(data, settings)
        if initial_model is not None:
            self._data.check_model(initial_model)
        self._model_factory = model_factory
        self._initial_model = initial_model
        self._probe = probe
        self._probe_interval = float(probe_interval)
        self._scheduler = scheduler or default_scheduler

        # Everything below is guarded by the lock; the condition wakes a paused thread.
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        # Set (without the lock) whenever a control needs the training thread's attention,
        # so that the loop checks one attribute per batch when nothing was asked.
        self._attention = False
        self._pause_requested = False
        self._stop_requested = False
        self._released = False
        self._holding_slot = False
        self._pending: dict[str, float] = {}

        self._state = JobState.QUEUED
        self._stopped_early = False
        self._error: str | None = None
        self._precision = (
            _model_precision(initial_model)
            if initial_model is not None
            else resolve_precision(settings.precision)
        )
        self._model: keras.Model | None = None
        self.test_probabilities: np.ndarray | None = None
        self._learning_rate = settings.learning_rate
        self._rate_now = settings.learning_rate  # after the schedule: what the optimizer uses
        self._momentum = settings.momentum
        self._weight_decay = settings.weight_decay
        self._batch_size = settings.batch_size
        self._epoch = 0
        self._batch = 0
        self._step = 0
        self._batches_per_epoch = math.ceil(len(self._data.x_train) / settings.batch_size)
        self._examples_seen = 0
        self._examples_total = settings.epochs * len(self._data.x_train)
        self._active_seconds = 0.0
        self._active_since: float | None = None
        self._samples_per_s = MovingAverage(10)
        self._ms_per_example = MovingAverage(10)
        self._probe_ms = MovingAverage(5)
        self._probe_seconds_total = 0.0
        self._weight_decay_loss = 0.0
        self._history = BatchHistory()
        self._changes = ChangeLog()
        self._epoch_history: list[dict] = []
        self._test: dict | None = None
        self._probe_result: Any = None
        self._probe_error: str | None = None

    # Controls, called from any thread.

    def start(self) -> TrainingJob:
        """Queue the job on the scheduler and return at once."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("This job has already started; make a new TrainingJob.")
            # The thread runs in a copy of the caller's context, so that what the page set
            # there (its language, say) holds for the job's messages too.
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run,
                args=(self._run,),
                name=f"training {self.name}".strip(),
                daemon=True,
            )
        self._thread.start()
        return self

    def pause(self) -> None:
        """Halt between batches; the job then holds no CPU and no running slot."""
        self._control(pause=True)

    def resume(self) -> None:
        """Continue after `pause`; the job may wait in the queue if others took the slots."""
        self._control(pause=False)

    def stop(self) -> None:
        """End training within one batch; the test set is then evaluated on the weights so far."""
        with self._lock:
            self._stop_requested = True
            self._attention = True
            self._condition.notify_all()
        self._scheduler.wake()

    def set_learning_rate(self, value: float) -> None:
        self._control(learning_rate=check_learning_rate(value))

    def set_momentum(self, value: float) -> None:
        """Change SGD's momentum; other optimizers have none and keep training as they were."""
        self._control(momentum=check_momentum(value))

    def set_weight_decay(self, value: float) -> None:
        self._control(weight_decay=check_weight_decay(value))

    def set_batch_size(self, value: int) -> None:
        """Use batches of `value` examples from the next batch on."""
        self._control(batch_size=check_batch_size(value))

    def clear_batch_history(self) -> None:
        """Forget the per-batch points drawn so far (a "clear graph" button)."""
        with self._lock:
            self._history.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished or failed; False if `timeout` seconds passed first."""
        return self._done.wait(timeout)

    def release(self) -> None:
        """Stop the job and drop its model, data and results so their memory can be freed."""
        self.stop()
        with self._lock:
            self._released = True
            self._probe_result = None
            if self._thread is None or self._done.is_set():
                self._drop_references()
            else:
                # The training thread drops the rest when it ends, within one batch.
                self._model = None
                self.test_probabilities = None

    def hand_over_model(self) -> None:
        """Forget the trained model, its optimizer state and its compiled steps once the job
        has ended and its record holds a lean copy (`cnnlib.runs.lean_model`); the snapshot
        and the test results stay."""
        if not self._done.is_set():
            raise RuntimeError("Only an ended job can hand over its model.")
        with self._lock:
            self._model = None

    def _drop_references(self) -> None:
        self._model = None
        self.test_probabilities = None
        self._data = None
        self._initial_model = None
        self._model_factory = None
        self._probe = None

    @property
    def model(self) -> keras.Model | None:
        """The Keras model once built; after stop or finish it holds the trained weights."""
        return self._model

    @property
    def state(self) -> JobState:
        return self._state

    def snapshot(self) -> dict:
        """The job's progress and results as plain data; safe to call at any moment.

        Times count only running (and stopping) time, not time queued or paused. Per-batch
        values are each batch's own; "_smooth" ones are moving averages over ~50 batches.
        "test" stays None until training ends. "changes" lists the live changes of the
        settings, each with the step, epoch and batch from which it applied.
        """
        queue_position = self._scheduler.queue_position(self)
        now = time.perf_counter()
        with self._lock:
            elapsed = self._active_seconds
            if self._active_since is not None:
                elapsed += now - self._active_since
            speed = self._samples_per_s.value
            remaining = self._examples_total - self._examples_seen
            return {
                "name": self.name,
                "state": self._state,
                "stopped_early": self._stopped_early,
                "error": self._error,
                "queue_position": queue_position,
                "precision": self._precision,
                "settings": self.settings.to_dict(),
                "epoch": self._epoch,
                "epochs": self.settings.epochs,
                "batch": self._batch,
                "batches_per_epoch": self._batches_per_epoch,
                "step": self._step,
                "examples_seen": self._examples_seen,
                "progress": min(1.0, self._examples_seen / self._examples_total),
                "elapsed_s": elapsed,
                "eta_s": remaining / speed if speed and self._state == "running" else None,
                "samples_per_s": speed,
                "learning_rate": self._learning_rate,
                "learning_rate_now": self._rate_now,
                "momentum": self._momentum,
                "weight_decay": self._weight_decay,
                "batch_size": self._batch_size,
                "batch_history": self._history.as_dict(),
                "epoch_history": [dict(entry) for entry in self._epoch_history],
                "timing": {
                    "forward_backward_ms_per_example": self._ms_per_example.value,
                    "probe_ms": self._probe_ms.value,
                    "probe_s_total": self._probe_seconds_total,
                },
                "weight_decay_loss": self._weight_decay_loss,
                "test": None if self._test is None else dict(self._test),
                "probe": self._probe_result,
                "probe_error": self._probe_error,
                "changes": self._changes.as_list(),
            }

    def _control(self, **changes: Any) -> None:
        with self._lock:
            if "pause" in changes:
                self._pause_requested = changes.pop("pause")
            for key, value in changes.items():
                self._pending[key] = value
                setattr(self, f"_{key}", value)
            self._attention = True
            self._condition.notify_all()

    # The training thread.

    def _set_state(self, state: str) -> None:
        now = time.perf_counter()
        state = JobState(state)
        with self._lock:
            if self._active_since is not None:
                self._active_seconds += now - self._active_since
            self._active_since = now if state in (JobState.RUNNING, JobState.STOPPING) else None
            self._state = state

    def _run(self) -> None:
        try:
            self._holding_slot = self._scheduler.acquire(self, lambda: self._stop_requested)
            if self._holding_slot:
                self._set_state("running")
                loop.train(self)
            else:
                with self._lock:
                    self._stopped_early = True
                self._set_state("finished")
        except Exception as error:  # noqa: BLE001 - any failure must end in the failed state
            with self._lock:
                self._error = _("Training failed: {error}").format(
                    error=f"{type(error).__name__}: {error}"
                )
            self._set_state("failed")
        finally:
            if self._holding_slot:
                self._scheduler.release(self)
                self._holding_slot = False
            with self._lock:
                if self._released:
                    self._drop_references()
                self._done.set()
