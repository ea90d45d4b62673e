"""Training jobs: a Keras model trained in a background thread that pages watch and steer.

A `TrainingJob` takes a model factory (called with a Keras dtype policy name), any data object
with `x_train`, `y_train`, `x_test`, `y_test` and `class_names` (optionally `x_val`, `y_val`)
and a `TrainSettings`. `start()` queues it on the process-wide scheduler (`cnnlib.scheduler`)
and returns at once; the training thread then runs its own loop over Keras's compiled train
step, batch by batch, so that between two batches it can pause (holding no CPU and giving its
running slot to the next job), stop, take a new learning rate, momentum, weight decay or batch
size, call a probe for live visualisations, and notice a NaN loss. `snapshot()` returns plain
data (numbers, strings, lists, dicts) for a page to draw at any moment.

Images arrive as uint8 and are scaled to [0, 1] one batch at a time, so a data set is never
held as float32 in full. Data augmentation (random shifts with zero fill, horizontal flips) is
`augment_batch`. The choice of precision is `cnnlib.precision`. Drawing, Streamlit and model
building are not here.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from cnnlib.build import avoid_graph_leak
from cnnlib.precision import PRECISIONS, resolve_precision
from cnnlib.scheduler import JobScheduler, configure, default_scheduler

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "STATES",
    "JobScheduler",
    "TrainSettings",
    "TrainingJob",
    "augment_batch",
    "classification_report",
    "configure",
    "default_scheduler",
    "resolve_precision",
]

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adadelta")
STATES = ("queued", "running", "paused", "stopping", "finished", "failed")
# A learning rate that usually works for each optimizer: the NaN message suggests it.
# Adadelta adapts its own step sizes and is meant to run at 1.0 (Zeiler, 2012).
TYPICAL_LEARNING_RATES = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3, "adadelta": 1.0}
# Weight decay shrinks kernels only, as ConvNetJS does: biases and normalisation scales and
# offsets are left alone.
NOT_DECAYED = ("bias", "gamma", "beta")
# The per-batch history keeps at most this many points, averaging neighbours when full.
MAX_HISTORY_POINTS = 1000
# Exponential moving averages weigh the last ~50 batches (1 / (1 - 0.98)).
SMOOTHING = 0.98
# A loss this many times that of guessing at random (ln of the number of classes), batch after
# batch, means training is diverging even when the loss stays finite: a too-large learning
# rate often throws the weights to where softmax saturates and the loss sits in the
# thousands rather than becoming NaN.
DIVERGED_FACTOR = 4.0
DIVERGED_BATCHES = 10
# Predictions for validation and test sets are computed this many images at a time.
PREDICT_BATCH = 500
# Seconds between two computations of the weight-decay loss (it changes slowly).
DECAY_LOSS_INTERVAL = 0.5


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_learning_rate(value: Any) -> float:
    if not _is_number(value) or value <= 0:
        raise ValueError(f"learning_rate must be a positive number such as 0.001; got {value!r}.")
    return float(value)


def _check_momentum(value: Any) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"momentum must be a number from 0 to 1, such as 0.9; got {value!r}.")
    return float(value)


def _check_weight_decay(value: Any) -> float:
    if not _is_number(value) or value < 0:
        raise ValueError(f"weight_decay must be 0 (off) or a positive number; got {value!r}.")
    return float(value)


def _check_batch_size(value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1; got {value!r}.")
    return int(value)


@dataclass
class TrainSettings:
    """Everything a student chooses before training; `TrainingJob` validates it against data."""

    epochs: int = 12  # passes over the training set; the lecture trains for 12
    batch_size: int = 128  # examples per gradient step, as in the lecture
    optimizer: str = "adam"  # adam | sgd | rmsprop | adadelta, as ConvNetJS offers
    learning_rate: float = 1e-3  # step size; Adam's usual value, the lecture's default
    momentum: float = 0.9  # SGD only: share of the last update carried into the next
    weight_decay: float = 0.0  # each step shrinks kernels by learning_rate * weight_decay
    validation_split: float = 0.1  # last tenth of the training set, unshuffled; 0 = none
    augment_shift: int = 0  # largest random shift in pixels, zero filled; 0 = none
    augment_flip: bool = False  # random horizontal flips: right for CIFAR-10, not for digits
    seed: int = 0  # the same seed and settings give the same first-epoch numbers
    precision: str = "auto"  # auto | float32 | mixed_bfloat16 (auto: bfloat16 where native)
    test_each_epoch: bool = False  # full test-set accuracy at each epoch end (costs time)

    def __post_init__(self) -> None:
        if not _is_int(self.epochs) or self.epochs < 1:
            raise ValueError(f"epochs must be a whole number of at least 1; got {self.epochs!r}.")
        self.epochs = int(self.epochs)
        self.batch_size = _check_batch_size(self.batch_size)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}."
            )
        self.learning_rate = _check_learning_rate(self.learning_rate)
        self.momentum = _check_momentum(self.momentum)
        self.weight_decay = _check_weight_decay(self.weight_decay)
        if not _is_number(self.validation_split) or not 0 <= self.validation_split < 1:
            raise ValueError(
                "validation_split must be a fraction from 0 (no validation) up to but not "
                f"including 1, such as 0.1; got {self.validation_split!r}."
            )
        self.validation_split = float(self.validation_split)
        if not _is_int(self.augment_shift) or self.augment_shift < 0:
            raise ValueError(
                f"augment_shift must be a whole number of pixels, 0 or more; "
                f"got {self.augment_shift!r}."
            )
        self.augment_shift = int(self.augment_shift)
        if not isinstance(self.augment_flip, bool):
            raise ValueError(f"augment_flip must be True or False; got {self.augment_flip!r}.")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number, 0 or more; got {self.seed!r}.")
        self.seed = int(self.seed)
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}."
            )
        if not isinstance(self.test_each_epoch, bool):
            raise ValueError(
                f"test_each_epoch must be True or False; got {self.test_each_epoch!r}."
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, max_shift: int = 0, flip: bool = False
) -> np.ndarray:
    """Shift each image of a (N, H, W, C) batch by up to `max_shift` pixels each way (zero
    fill) and mirror about half of them left-right; returns a new array of the same dtype."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"augment_batch needs a (N, H, W, C) batch; got shape {images.shape}.")
    count, height, width, _ = images.shape
    if max_shift == 0 and not flip:
        return images.copy()
    if max_shift >= min(height, width):
        raise ValueError(
            f"augment_shift {max_shift} would move {height}x{width} images out of the frame; "
            f"use less than {min(height, width)} pixels."
        )
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    top = rng.integers(0, 2 * max_shift + 1, count)
    left = rng.integers(0, 2 * max_shift + 1, count)
    mirrored = rng.random(count) < 0.5 if flip else np.zeros(count, bool)
    # A slice per image costs a third of one fancy-indexed gather over the whole batch.
    augmented = np.empty_like(images)
    for index in range(count):
        window = padded[index, top[index] : top[index] + height, left[index] : left[index] + width]
        augmented[index] = window[:, ::-1] if mirrored[index] else window
    return augmented


def _to_float(images: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1]; other arrays are taken as already scaled."""
    if images.dtype == np.uint8:
        return np.multiply(images, np.float32(1 / 255), dtype=np.float32)
    return images.astype(np.float32, copy=False)


def classification_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> dict:
    """Loss, accuracy, per-class accuracy and confusion matrix of softmax outputs.

    Returns {"loss": float, "accuracy": float, "per_class_accuracy": [float | None per class],
    "confusion": [[count]] (row: true class, column: predicted class), "class_names": [str]}.
    The loss is the mean cross-entropy, with probabilities clipped as Keras clips them.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    classes = len(class_names)
    if probabilities.shape != (len(labels), classes):
        raise ValueError(
            f"probabilities must have shape ({len(labels)}, {classes}); got {probabilities.shape}."
        )
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
    totals = confusion.sum(axis=1)
    return {
        "loss": float(-np.log(picked).mean()) if len(labels) else math.nan,
        "accuracy": float((predicted == labels).mean()) if len(labels) else math.nan,
        "per_class_accuracy": [
            float(confusion[i, i] / totals[i]) if totals[i] else None for i in range(classes)
        ],
        "confusion": confusion.tolist(),
        "class_names": list(class_names),
    }


class _BatchHistory:
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


class _MovingAverage:
    """An exponential moving average, corrected for its start at zero as Adam corrects its."""

    def __init__(self, decay: float = SMOOTHING) -> None:
        self.decay = decay
        self.raw = 0.0
        self.weight = 0.0

    def add(self, value: float) -> float:
        self.raw = self.decay * self.raw + (1 - self.decay) * value
        self.weight = self.decay * self.weight + (1 - self.decay)
        return self.value

    @property
    def value(self) -> float | None:
        return self.raw / self.weight if self.weight else None


class _Data:
    """The arrays a job trains on, checked once: train, validation and test parts."""

    def __init__(self, data: Any, settings: TrainSettings) -> None:
        for attribute in ("x_train", "y_train", "x_test", "y_test", "class_names"):
            if not hasattr(data, attribute):
                raise ValueError(
                    f"The data has no {attribute}: pass a cnnlib.datasets.Dataset or any "
                    "object with x_train, y_train, x_test, y_test and class_names."
                )
        self.class_names = [str(name) for name in data.class_names]
        x_train, y_train = self._pair(data.x_train, data.y_train, "train")
        x_val = getattr(data, "x_val", None)
        if x_val is not None:
            x_val, y_val = self._pair(x_val, getattr(data, "y_val", None), "validation")
        elif settings.validation_split > 0:
            # The last fraction, not a random one, so that every model trained on the same
            # data in a session validates on the same images.
            count = int(round(len(x_train) * settings.validation_split))
            if not 1 <= count < len(x_train):
                raise ValueError(
                    f"validation_split {settings.validation_split} of {len(x_train)} training "
                    "images leaves no validation or no training images; change the split."
                )
            x_train, x_val = x_train[:-count], x_train[-count:]
            y_train, y_val = y_train[:-count], y_train[-count:]
        else:
            y_val = None
        self.x_train, self.y_train = x_train, y_train
        self.x_val, self.y_val = x_val, y_val
        self.x_test, self.y_test = self._pair(data.x_test, data.y_test, "test")
        for part in (self.x_val, self.x_test):
            if part is not None and part.shape[1:] != x_train.shape[1:]:
                raise ValueError(
                    f"Training images have shape {x_train.shape[1:]} but others have "
                    f"{part.shape[1:]}; all images of a data set must have one shape."
                )
        if settings.augment_shift >= min(x_train.shape[1:3]):
            raise ValueError(
                f"augment_shift {settings.augment_shift} is too large for "
                f"{x_train.shape[1]}x{x_train.shape[2]} images; use a few pixels."
            )

    def _pair(self, x: Any, y: Any, part: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim != 4:
            raise ValueError(
                f"x_{part} must have shape (N, height, width, channels); got {x.shape}."
            )
        if y.shape != (len(x),):
            raise ValueError(
                f"y_{part} must hold one label per image: shape ({len(x)},); got {y.shape}."
            )
        if part == "train" and len(x) == 0:
            raise ValueError("The training set is empty; give the job at least one image.")
        if len(y) and (y.min() < 0 or y.max() >= len(self.class_names)):
            raise ValueError(
                f"y_{part} holds labels outside 0..{len(self.class_names) - 1}; class_names "
                "must name every class."
            )
        return x, y.astype(np.int64, copy=False)


def _make_optimizer(settings: TrainSettings) -> keras.optimizers.Optimizer:
    decay = settings.weight_decay or None
    if settings.optimizer == "sgd":
        # Built with momentum on, so that its velocity slots exist and momentum can be
        # switched on while training; the real value is set once the slots are built.
        optimizer = keras.optimizers.SGD(settings.learning_rate, momentum=0.9, weight_decay=decay)
    else:
        kind = {
            "adam": keras.optimizers.Adam,
            "rmsprop": keras.optimizers.RMSprop,
            "adadelta": keras.optimizers.Adadelta,
        }[settings.optimizer]
        optimizer = kind(settings.learning_rate, weight_decay=decay)
    optimizer.exclude_from_weight_decay(var_names=list(NOT_DECAYED))
    # Without this, every trained model's graph stays in TensorFlow's gradient registry.
    return avoid_graph_leak(optimizer)


def _decayed_variables(model: keras.Model) -> list:
    return [
        variable
        for variable in model.trainable_variables
        if not any(name in variable.name for name in NOT_DECAYED)
    ]


def _model_precision(model: keras.Model) -> str:
    """The dtype policy of the model's first layer with weights (the model's own may differ)."""
    for layer in model.layers:
        if layer.weights:
            if isinstance(layer, keras.Model):
                return _model_precision(layer)
            return layer.dtype_policy.name
    return model.dtype_policy.name


@dataclass
class _Loop:
    """What the training loop carries from one epoch to the next."""

    order_rng: np.random.Generator
    augment_rng: np.random.Generator
    train_function: Callable
    decayed: list
    loss_smooth: _MovingAverage = dataclasses.field(default_factory=_MovingAverage)
    accuracy_smooth: _MovingAverage = dataclasses.field(default_factory=_MovingAverage)
    next_probe: float = 0.0
    next_decay_loss: float = 0.0
    diverging_batches: int = 0  # consecutive batches whose loss is far above chance level
    # The next step traces the train function: its time says nothing about speed.
    tracing: bool = True
    # Prepares the next batch (gather, augment, scale) while the current one trains.
    preparer: ThreadPoolExecutor | None = None


class _Stopped(Exception):
    """Raised inside the training thread when a stop request interrupts an evaluation."""


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
        if not _is_number(probe_interval) or probe_interval <= 0:
            raise ValueError(
                f"probe_interval must be a positive number of seconds; got {probe_interval!r}."
            )
        self.settings = settings
        self.name = str(name)
        self._data = _Data(data, settings)
        if initial_model is not None:
            self._check_model(initial_model)
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

        self._state = "queued"
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
        self._samples_per_s = _MovingAverage(0.9)
        self._ms_per_example = _MovingAverage(0.9)
        self._probe_ms = _MovingAverage(0.8)
        self._probe_seconds_total = 0.0
        self._weight_decay_loss = 0.0
        self._history = _BatchHistory()
        self._epoch_history: list[dict] = []
        self._test: dict | None = None
        self._probe_result: Any = None
        self._probe_error: str | None = None
        self._version = 0

    # Controls, called from any thread.

    def start(self) -> TrainingJob:
        """Queue the job on the scheduler and return at once."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("This job has already started; make a new TrainingJob.")
            self._thread = threading.Thread(
                target=self._run, name=f"training {self.name}".strip(), daemon=True
            )
            self._changed()
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
        self._control(learning_rate=_check_learning_rate(value))

    def set_momentum(self, value: float) -> None:
        """Change SGD's momentum; other optimizers have none and keep training as they were."""
        self._control(momentum=_check_momentum(value))

    def set_weight_decay(self, value: float) -> None:
        self._control(weight_decay=_check_weight_decay(value))

    def set_batch_size(self, value: int) -> None:
        """Use batches of `value` examples from the next batch on."""
        self._control(batch_size=_check_batch_size(value))

    def clear_batch_history(self) -> None:
        """Forget the per-batch points drawn so far (a "clear graph" button)."""
        with self._lock:
            self._history.clear()
            self._changed()

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
            self._changed()

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
    def state(self) -> str:
        return self._state

    def snapshot(self) -> dict:
        """The job's progress and results as plain data; safe to call at any moment.

        Times count only running (and stopping) time, not time queued or paused. Per-batch
        values are each batch's own; "_smooth" ones are moving averages over ~50 batches.
        "test" stays None until training ends; "version" grows with every change.
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
                "version": self._version,
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
            self._changed()

    def _changed(self) -> None:
        """Note a change for pages that redraw only when something moved; lock held."""
        self._version += 1

    def _queue_changed(self) -> None:
        with self._lock:
            self._changed()

    # The training thread.

    def _set_state(self, state: str) -> None:
        now = time.perf_counter()
        with self._lock:
            if self._active_since is not None:
                self._active_seconds += now - self._active_since
            self._active_since = now if state in ("running", "stopping") else None
            self._state = state
            self._changed()

    def _run(self) -> None:
        try:
            self._holding_slot = self._scheduler.acquire(self, lambda: self._stop_requested)
            if self._holding_slot:
                self._set_state("running")
                self._train()
            else:
                with self._lock:
                    self._stopped_early = True
                self._set_state("finished")
        except Exception as error:  # noqa: BLE001 - any failure must end in the failed state
            with self._lock:
                self._error = f"Training failed: {type(error).__name__}: {error}"
            self._set_state("failed")
        finally:
            if self._holding_slot:
                self._scheduler.release(self)
                self._holding_slot = False
            with self._lock:
                if self._released:
                    self._drop_references()
                self._done.set()

    def _check_model(self, model: keras.Model) -> None:
        data = self._data
        expected = tuple(data.x_train.shape[1:])
        got = tuple(model.input_shape[1:])
        if got != expected:
            raise ValueError(
                f"The model takes inputs of shape {got} but the images have shape {expected}; "
                "use a model made for this data set."
            )
        outputs = model.output_shape[-1]
        if outputs != len(data.class_names):
            raise ValueError(
                f"The model has {outputs} outputs but the data has {len(data.class_names)} "
                f"classes; make the last Dense layer {len(data.class_names)} units wide."
            )

    def _build(self) -> keras.Model:
        settings = self.settings
        # Seeds the weights, dropout masks and Keras's own random state; batch order and
        # augmentation use generators of their own.
        keras.utils.set_random_seed(settings.seed)
        if self._initial_model is not None:
            model = self._initial_model
        else:
            model = self._model_factory(self._precision)
            self._check_model(model)
        optimizer = _make_optimizer(settings)
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        optimizer.build(model.trainable_variables)
        if settings.optimizer == "sgd":
            optimizer.momentum = self._momentum
        model.make_train_function()
        return model

    def _train(self) -> None:
        settings = self.settings
        model = self._build()
        with self._lock:
            self._model = model
            self._changed()
        loop = _Loop(
            order_rng=np.random.default_rng(settings.seed),
            augment_rng=np.random.default_rng([settings.seed, 1]),
            train_function=model.train_function,
            decayed=_decayed_variables(model),
            preparer=ThreadPoolExecutor(1, thread_name_prefix="batch preparation"),
        )
        test_probabilities = None
        completed = False
        try:
            for epoch in range(1, settings.epochs + 1):
                outcome = self._train_epoch(model, epoch, loop)
                if outcome == "failed":
                    return
                if outcome == "stopped":
                    break
                try:
                    test_probabilities = self._end_epoch(model, epoch, *outcome)
                except _Stopped:
                    break
            else:
                completed = True
        finally:
            loop.preparer.shutdown(wait=True)
        if not completed:
            # Evaluate the weights as they are now, not an earlier epoch's; even without a
            # running slot (a paused job gave its slot away), as one test pass is short.
            test_probabilities = None
            with self._lock:
                self._stopped_early = True
            self._set_state("stopping")
        if not self._released:
            if test_probabilities is None:
                test_probabilities = self._predict(model, self._data.x_test)
            data = self._data
            report = classification_report(test_probabilities, data.y_test, data.class_names)
            with self._lock:
                self.test_probabilities = test_probabilities
                self._test = report
        self._set_state("finished")

    def _train_epoch(self, model: keras.Model, epoch: int, loop: _Loop):
        """One pass over the training set, batch by batch.

        Returns "stopped", "failed", or (mean loss, mean accuracy, seconds trained) when done.
        """
        data, settings = self._data, self.settings
        augment = settings.augment_shift > 0 or settings.augment_flip
        count = len(data.x_train)
        order = loop.order_rng.permutation(count)
        model.reset_metrics()
        position = batch = 0
        mean_loss = mean_accuracy = 0.0
        with self._lock:
            self._epoch, self._batch = epoch, 0
            self._batches_per_epoch = math.ceil(count / self._batch_size)
            self._changed()
        seconds = 0.0
        started = previous_end = time.perf_counter()

        def prepare(start: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            indices = order[start : start + size]
            x_batch = data.x_train[indices]
            if augment:
                x_batch = augment_batch(
                    x_batch, loop.augment_rng, settings.augment_shift, settings.augment_flip
                )
            return x_batch, _to_float(x_batch), data.y_train[indices]

        # (start, size, future) of the batch being prepared in the background. Batches are
        # prepared strictly one after another, so the random draws come in the same order
        # as without it and a seed gives the same run.
        ahead = None
        while position < count:
            if self._attention:
                retrace, resumed_at = self._between_batches(model)
                if retrace:
                    model.make_train_function(force=True)
                    loop.train_function = model.train_function
                    loop.tracing = True
                if self._stop_requested:
                    return "stopped"
                if resumed_at is not None:
                    seconds += previous_end - started
                    started = previous_end = resumed_at
            batch_size = self._batch_size
            if ahead is not None and ahead[:2] == (position, batch_size):
                x_batch, inputs, y_batch = ahead[2].result()
            else:
                if ahead is not None:
                    ahead[2].result()  # prepared for a batch size no longer wanted
                x_batch, inputs, y_batch = prepare(position, batch_size)
            size = len(y_batch)
            ahead = None
            if position + size < count:
                ahead = (
                    position + size,
                    batch_size,
                    loop.preparer.submit(prepare, position + size, batch_size),
                )
            step_started = time.perf_counter()
            logs = loop.train_function(iter([(inputs, y_batch)]))
            batch_loss, batch_accuracy = float(logs["loss"]), float(logs["accuracy"])
            step_ended = time.perf_counter()
            batch += 1
            if not math.isfinite(batch_loss):
                self._fail_on_loss(batch_loss, epoch, batch)
                return "failed"
            # Keras keeps running means over the epoch; a batch's own value is the change
            seen = position + size
            # in their sums (clipped: float32 sums leave a rounding error of about 1e-7).
            batch_loss, mean_loss = (
                max(0.0, (batch_loss * seen - mean_loss * position) / size),
                batch_loss,
            )
            batch_accuracy, mean_accuracy = (
                min(1.0, max(0.0, (batch_accuracy * seen - mean_accuracy * position) / size)),
                batch_accuracy,
            )
            position = seen
            if batch_loss > DIVERGED_FACTOR * math.log(max(2, len(self._data.class_names))):
                loop.diverging_batches += 1
                if loop.diverging_batches >= DIVERGED_BATCHES:
                    self._fail_on_loss(batch_loss, epoch, batch)
                    return "failed"
            else:
                loop.diverging_batches = 0
            smooth = (loop.loss_smooth.add(batch_loss), loop.accuracy_smooth.add(batch_accuracy))
            with self._lock:
                self._batch = batch
                self._step += 1
                self._examples_seen += size
                left = math.ceil((count - position) / self._batch_size)
                self._batches_per_epoch = batch + left
                self._history.add(self._step, batch_loss, batch_accuracy, smooth)
                if not loop.tracing:
                    self._ms_per_example.add(1000 * (step_ended - step_started) / size)
                    # From the end of the last step, so preparing batches and probing count.
                    self._samples_per_s.add(size / (step_ended - previous_end))
                self._changed()
            loop.tracing = False
            previous_end = step_ended
            if self._probe is not None and step_ended >= loop.next_probe:
                self._run_probe(model, inputs, x_batch, y_batch, epoch, batch)
                loop.next_probe = time.perf_counter() + self._probe_interval
            if self._weight_decay > 0 and step_ended >= loop.next_decay_loss:
                self._update_decay_loss(loop.decayed)
                loop.next_decay_loss = step_ended + DECAY_LOSS_INTERVAL
        return mean_loss, mean_accuracy, seconds + time.perf_counter() - started

    def _end_epoch(
        self, model: keras.Model, epoch: int, loss: float, accuracy: float, seconds: float
    ) -> np.ndarray | None:
        """Validate (and test, if asked) at an epoch's end; returns the test probabilities."""
        data = self._data
        started = time.perf_counter()
        entry = {
            "epoch": epoch,
            "loss": loss,
            "accuracy": accuracy,
            "val_loss": None,
            "val_accuracy": None,
            "test_accuracy": None,
            "seconds": None,
        }
        if data.x_val is not None:
            report = classification_report(
                self._predict(model, data.x_val, interruptible=True), data.y_val, data.class_names
            )
            entry["val_loss"], entry["val_accuracy"] = report["loss"], report["accuracy"]
        test_probabilities = None
        if self.settings.test_each_epoch:
            test_probabilities = self._predict(model, data.x_test, interruptible=True)
            predicted = test_probabilities.argmax(axis=1)
            entry["test_accuracy"] = float((predicted == data.y_test).mean())
        entry["seconds"] = seconds + time.perf_counter() - started
        with self._lock:
            self._epoch_history.append(entry)
            self._changed()
        return test_probabilities

    def _predict(self, model: keras.Model, images: np.ndarray, interruptible: bool = False):
        """Softmax outputs for uint8 images, a chunk at a time.

        A short last chunk is padded to the full chunk size so that the compiled prediction
        step sees a single shape and is traced once, not again for each remainder.
        """
        parts = []
        for start in range(0, len(images), PREDICT_BATCH):
            if interruptible and self._stop_requested:
                raise _Stopped
            chunk = _to_float(images[start : start + PREDICT_BATCH])
            size = len(chunk)
            if size < PREDICT_BATCH < len(images):
                padding = np.zeros((PREDICT_BATCH - size, *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, padding])
            outputs = np.asarray(model.predict_on_batch(chunk), dtype=np.float32)
            parts.append(outputs[:size])
        if not parts:
            return np.zeros((0, len(self._data.class_names)), dtype=np.float32)
        return np.concatenate(parts)

    def _between_batches(self, model: keras.Model) -> tuple[bool, float | None]:
        """Apply new controls, and wait here while paused.

        Returns (the train step must be retraced, the time training resumed or None).
        """
        with self._lock:
            self._attention = False
            pending, self._pending = self._pending, {}
        retrace = self._apply(model, pending)
        if not self._pause_requested or self._stop_requested:
            return retrace, None
        # Paused: give the slot to the next job and sleep until resumed or stopped. Controls
        # changed meanwhile are applied at once, so the optimizer shows them while paused.
        self._scheduler.release(self)
        self._holding_slot = False
        self._set_state("paused")
        while True:
            with self._lock:
                while not self._attention:
                    self._condition.wait()
                self._attention = False
                pending, self._pending = self._pending, {}
                carry_on = not self._pause_requested or self._stop_requested
            retrace |= self._apply(model, pending)
            if carry_on:
                break
        if self._stop_requested:
            return retrace, None
        self._set_state("queued")
        self._holding_slot = self._scheduler.acquire(self, lambda: self._stop_requested)
        if not self._holding_slot:
            return retrace, None
        self._set_state("running")
        return retrace, time.perf_counter()

    def _apply(self, model: keras.Model, pending: dict) -> bool:
        """Hand new hyperparameters to the optimizer; True if the train step must be retraced.

        The learning rate lives in a variable the compiled step reads, so assigning it is
        enough. Keras keeps momentum and weight decay as Python numbers that are baked into
        the step when it is traced, so changing them needs a fresh trace.
        """
        optimizer = model.optimizer
        retrace = False
        if "learning_rate" in pending:
            optimizer.learning_rate = pending["learning_rate"]
        if "momentum" in pending and self.settings.optimizer == "sgd":
            if optimizer.momentum != pending["momentum"]:
                optimizer.momentum = pending["momentum"]
                retrace = True
        if "weight_decay" in pending:
            decay = pending["weight_decay"] or None
            if optimizer.weight_decay != decay:
                optimizer.weight_decay = decay
                retrace = True
            if decay is None:
                with self._lock:
                    self._weight_decay_loss = 0.0
        if pending:
            with self._lock:
                self._changed()
        return retrace

    def _run_probe(self, model, inputs, x_batch, y_batch, epoch: int, batch: int) -> None:
        info = {
            "x": inputs,
            "x_uint8": x_batch,
            "y": y_batch,
            "step": self._step,
            "epoch": epoch,
            "batch": batch,
        }
        started = time.perf_counter()
        try:
            result, error = self._probe(model, info), None
        except Exception as failure:  # noqa: BLE001 - a broken picture must not stop training
            result, error = self._probe_result, f"{type(failure).__name__}: {failure}"
        seconds = time.perf_counter() - started
        with self._lock:
            self._probe_result = result
            self._probe_error = error
            self._probe_ms.add(1000 * seconds)
            self._probe_seconds_total += seconds
            self._changed()

    def _update_decay_loss(self, variables: list) -> None:
        # ConvNetJS's weight-decay loss: decay / 2 times the sum of squared kernel weights.
        total = sum(
            float(np.square(np.asarray(v.numpy(), dtype=np.float64)).sum()) for v in variables
        )
        with self._lock:
            self._weight_decay_loss = 0.5 * self._weight_decay * total
            self._changed()

    def _fail_on_loss(self, loss: float, epoch: int, batch: int) -> None:
        optimizer = self.settings.optimizer
        rate = self._learning_rate
        suggestion = min(rate / 10, TYPICAL_LEARNING_RATES[optimizer])
        if math.isfinite(loss):
            chance = math.log(max(2, len(self._data.class_names)))
            what = (
                f"The loss diverged: {loss:,.4g} at epoch {epoch}, batch {batch}, after "
                f"{DIVERGED_BATCHES} batches far above the {chance:.2f} of guessing at random"
            )
        else:
            kind = "NaN" if math.isnan(loss) else "infinite"
            what = f"The loss became {kind} at epoch {epoch}, batch {batch}"
        with self._lock:
            self._error = (
                f"{what}: the learning rate "
                f"{rate:g} is too high for {optimizer}. Lower it (try {suggestion:g}) and "
                "start again."
            )
        self._set_state("failed")
