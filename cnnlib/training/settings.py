"""What a student chooses before training (`TrainSettings`), the bounds each choice must keep,
and the one factory that turns the choice of optimizer into a Keras optimizer.

Every bound is checked where the value enters, with a message that says what to change; the
same checks serve the controls that steer a running job. Keras is imported only by
`make_optimizer`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
from dataclasses import dataclass
from typing import Any

from cnnlib.i18n import _
from cnnlib.precision import PRECISIONS

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adadelta")
# How the learning rate changes over a run: "constant" keeps the chosen rate (the lecture's
# way); "cosine" lowers it along half a cosine from the chosen rate at the first batch to zero
# at the last, so the last epochs take small, careful steps.
SCHEDULES = ("constant", "cosine")
# A learning rate that usually works for each optimizer: the NaN message suggests it.
# Adadelta adapts its own step sizes and is meant to run at 1.0 (Zeiler, 2012).
TYPICAL_LEARNING_RATES = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3, "adadelta": 1.0}
# Weight decay shrinks kernels only, as ConvNetJS does: biases and normalisation scales and
# offsets are left alone.
NOT_DECAYED = ("bias", "gamma", "beta")
# Bounds of the settings. Above 10 no optimizer here learns anything (Adadelta, the one meant
# for large rates, runs at 1); a batch beyond 8,192 images no longer fits a laptop's memory for
# the lecture's models; 1,000 epochs of MNIST would take days here; Keras seeds take 32 bits.
MAX_LEARNING_RATE = 10.0
MAX_BATCH_SIZE = 8192
MAX_EPOCHS = 1000
MAX_SEED = 2**32 - 1
MAX_WEIGHT_DECAY = 1.0
MAX_SHIFT = 16


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_learning_rate(value: Any) -> float:
    if not is_number(value) or not 0 < value <= MAX_LEARNING_RATE:
        raise ValueError(
            _(
                "learning_rate must be a positive number up to {limit}, such as 0.001; got {value}."
            ).format(limit=f"{MAX_LEARNING_RATE:g}", value=repr(value))
        )
    return float(value)


def check_momentum(value: Any) -> float:
    if not is_number(value) or not 0 <= value <= 1:
        raise ValueError(
            _("momentum must be a number from 0 to 1, such as 0.9; got {value}.").format(
                value=repr(value)
            )
        )
    return float(value)


def check_weight_decay(value: Any) -> float:
    if not is_number(value) or not 0 <= value <= MAX_WEIGHT_DECAY:
        raise ValueError(
            _(
                "weight_decay must be 0 (off) or a positive number up to {limit}, such as "
                "0.0001; got {value}."
            ).format(limit=f"{MAX_WEIGHT_DECAY:g}", value=repr(value))
        )
    return float(value)


def check_batch_size(value: Any) -> int:
    if not is_int(value) or not 1 <= value <= MAX_BATCH_SIZE:
        raise ValueError(
            _(
                "batch_size must be a whole number from 1 to {limit}, such as 128; got {value}."
            ).format(limit=f"{MAX_BATCH_SIZE:,}", value=repr(value))
        )
    return int(value)


def _optimizer_message(value: Any) -> str:
    return _("optimizer must be one of {choices}; got {value}.").format(
        choices=", ".join(OPTIMIZERS), value=repr(value)
    )


def _true_or_false(setting: str, value: Any) -> str:
    return _("{setting} must be True or False; got {value}.").format(
        setting=setting, value=repr(value)
    )


@dataclass
class TrainSettings:
    """Everything a student chooses before training; `TrainingJob` validates it against data."""

    epochs: int = 12  # passes over the training set; the lecture trains for 12
    batch_size: int = 128  # examples per gradient step, as in the lecture
    optimizer: str = "adam"  # adam | sgd | rmsprop | adadelta, as ConvNetJS offers
    learning_rate: float = 1e-3  # step size; Adam's usual value, the lecture's default
    schedule: str = "constant"  # constant | cosine (falls to zero at the last batch)
    momentum: float = 0.9  # SGD only: share of the last update carried into the next
    weight_decay: float = 0.0  # each step shrinks kernels by learning_rate * weight_decay
    validation_split: float = 0.1  # last tenth of the training set, unshuffled; 0 = none
    augment_shift: int = 0  # largest random shift in pixels, zero filled; 0 = none
    augment_flip: bool = False  # random horizontal flips: right for CIFAR-10, not for digits
    seed: int = 0  # the same seed and settings give the same first-epoch numbers
    precision: str = "auto"  # auto | float32 | mixed_bfloat16 (auto: bfloat16 where native)
    test_each_epoch: bool = False  # full test-set accuracy at each epoch end (costs time)

    def __post_init__(self) -> None:
        if not is_int(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(
                _("epochs must be a whole number from 1 to {limit}; got {value}.").format(
                    limit=f"{MAX_EPOCHS:,}", value=repr(self.epochs)
                )
            )
        self.epochs = int(self.epochs)
        self.batch_size = check_batch_size(self.batch_size)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(_optimizer_message(self.optimizer))
        self.learning_rate = check_learning_rate(self.learning_rate)
        if self.schedule not in SCHEDULES:
            raise ValueError(
                _("schedule must be one of {choices}; got {value}.").format(
                    choices=", ".join(SCHEDULES), value=repr(self.schedule)
                )
            )
        self.momentum = check_momentum(self.momentum)
        self.weight_decay = check_weight_decay(self.weight_decay)
        if not is_number(self.validation_split) or not 0 <= self.validation_split < 1:
            raise ValueError(
                _(
                    "validation_split must be a fraction from 0 (no validation) up to but not "
                    "including 1, such as 0.1; got {value}."
                ).format(value=repr(self.validation_split))
            )
        self.validation_split = float(self.validation_split)
        if not is_int(self.augment_shift) or not 0 <= self.augment_shift <= MAX_SHIFT:
            raise ValueError(
                _(
                    "augment_shift must be a whole number of pixels from 0 to {limit}; got {value}."
                ).format(limit=MAX_SHIFT, value=repr(self.augment_shift))
            )
        self.augment_shift = int(self.augment_shift)
        if not isinstance(self.augment_flip, bool):
            raise ValueError(_true_or_false("augment_flip", self.augment_flip))
        if not is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(
                _("seed must be a whole number from 0 to {limit}; got {value}.").format(
                    limit=f"{MAX_SEED:,}", value=repr(self.seed)
                )
            )
        self.seed = int(self.seed)
        if self.precision not in PRECISIONS:
            raise ValueError(
                _("precision must be one of {choices}; got {value}.").format(
                    choices=", ".join(PRECISIONS), value=repr(self.precision)
                )
            )
        if not isinstance(self.test_each_epoch, bool):
            raise ValueError(_true_or_false("test_each_epoch", self.test_each_epoch))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def schedule_factor(schedule: str, progress: float) -> float:
    """What the chosen learning rate is multiplied by when `progress` (0 to 1) of the run's
    training images have been seen."""
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))
    return 1.0


def make_optimizer(
    optimizer: str = "adam", learning_rate: float = 1e-3, weight_decay: float = 0.0
) -> Any:
    """The Keras optimizer of that name, with weight decay on kernels only.

    SGD is built with momentum 0.9, so that its velocity slots exist and momentum can be
    changed while training; a job sets the chosen value once the optimizer is built.
    """
    import keras

    if optimizer not in OPTIMIZERS:
        raise ValueError(_optimizer_message(optimizer))
    learning_rate = check_learning_rate(learning_rate)
    decay = check_weight_decay(weight_decay) or None
    if optimizer == "sgd":
        built = keras.optimizers.SGD(learning_rate, momentum=0.9, weight_decay=decay)
    else:
        kind = {
            "adam": keras.optimizers.Adam,
            "rmsprop": keras.optimizers.RMSprop,
            "adadelta": keras.optimizers.Adadelta,
        }[optimizer]
        built = kind(learning_rate, weight_decay=decay)
    built.exclude_from_weight_decay(var_names=list(NOT_DECAYED))
    # Without this, every trained model's graph stays in TensorFlow's gradient registry.
    return avoid_graph_leak(built)


def avoid_graph_leak(optimizer: Any) -> Any:
    """Stop `optimizer` from keeping every traced training graph alive; returns it.

    Keras's TensorFlow optimizer sums gradients across replicas with a distribution
    all-reduce even when there is one replica. In graph mode that all-reduce registers a
    custom gradient in TensorFlow's process-wide gradient registry, which is never emptied and
    holds the whole traced training graph: about 11 MB per trained model, however the model is
    freed. With one replica the sum is the gradient itself, so the all-reduce is skipped. The
    change lives on this instance only; saved files hold the plain Keras optimizer.
    """
    import keras

    if keras.backend.backend() == "tensorflow" and hasattr(optimizer, "_all_reduce_sum_gradients"):
        optimizer._all_reduce_sum_gradients = types.MethodType(_sum_gradients_locally, optimizer)
    return optimizer


def _sum_gradients_locally(optimizer: Any, grads_and_vars: Any) -> list[Any]:
    import tensorflow as tf

    if tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return list(grads_and_vars)
    return type(optimizer)._all_reduce_sum_gradients(optimizer, grads_and_vars)
