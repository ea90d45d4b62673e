"""Several training steps in one compiled call, and how many to run per call.

Keras's own train function, called from Python once per batch, pays a Python-to-graph round
trip for every batch: converting the inputs, dispatching the function, reading the loss back.
At the lecture's batch of 128 that is a large share of a step that computes in a few
milliseconds. `MultiStep` stacks k batches into one tensor and runs Keras's `train_step` on
each of them inside one `tf.function` (a graph loop), returning every batch's running loss and
accuracy, so the job still sees each batch. The number of batches per call is chosen so that a
call lasts about `CALL_SECONDS`: controls (pause, stop, a new learning rate) act between calls,
so they still take effect within a fraction of a second. Its dropout layers draw half the
random numbers Keras's would (`dropout.fast_dropout`): the same dropout, in less time (the
two-convolution model's job went from 10,300 to 12,000 images per second in mixed bfloat16 on
2 cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cnnlib.training.dropout import fast_dropout

# Target length of one compiled call; the job acts on controls between calls.
CALL_SECONDS = 0.1
# At most this many batches per call: beyond it the gain is nil and a stack of large batches
# would cost memory.
MAX_STEPS_PER_CALL = 32


class MultiStep:
    """`model.train_step` over a stack of batches in one compiled call, traced once for stacks
    of any length and batch size.

    Call with xs of shape (k, batch, ...) float32, ys of shape (k, batch) and the learning
    rate of each of the k steps (a schedule changes it step by step, inside the call); returns
    two NumPy arrays of k values: the running mean loss and accuracy after each batch
    (Keras's metrics accumulate over the epoch until `model.reset_metrics()`).
    """

    def __init__(self, model) -> None:
        self._model = model
        self._run = None

    def _trace(self, xs: np.ndarray, ys: np.ndarray):
        """The compiled loop, for stacks of any length and batch size: traced once."""
        import tensorflow as tf

        model = self._model
        signature = [
            tf.TensorSpec((None, None, *xs.shape[2:]), tf.as_dtype(xs.dtype)),
            tf.TensorSpec((None, None, *ys.shape[2:]), tf.as_dtype(ys.dtype)),
            tf.TensorSpec((None,), tf.float32),
        ]
        rate = model.optimizer.learning_rate  # the variable the optimizer reads

        @tf.function(input_signature=signature)
        def run(xs, ys, rates):
            count = tf.shape(xs)[0]
            losses = tf.TensorArray(tf.float32, size=count)
            accuracies = tf.TensorArray(tf.float32, size=count)
            for index in tf.range(count):
                rate.assign(tf.cast(rates[index], rate.dtype))
                logs = model.train_step((xs[index], ys[index]))
                losses = losses.write(index, tf.cast(logs["loss"], tf.float32))
                accuracies = accuracies.write(index, tf.cast(logs["accuracy"], tf.float32))
            return losses.stack(), accuracies.stack()

        return run

    def will_trace(self) -> bool:
        """True before the first call, which traces the graph: its time says nothing about
        speed."""
        return self._run is None

    def __call__(
        self, xs: np.ndarray, ys: np.ndarray, rates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._run is None:
            self._run = self._trace(xs, ys)
        # Traced (once) with the dropout that draws half the random numbers (`dropout`).
        with fast_dropout():
            losses, accuracies = self._run(xs, ys, np.asarray(rates, np.float32))
        return losses.numpy(), accuracies.numpy()


@dataclass
class CallSizer:
    """How many batches the next call runs: as many as fit in `CALL_SECONDS`, learned from
    the calls so far (one batch until a call has been timed)."""

    call_seconds: float = CALL_SECONDS
    most: int = MAX_STEPS_PER_CALL
    seconds_per_batch: float | None = None
    _recent: list[float] = field(default_factory=list)

    def record(self, seconds: float, batches: int) -> None:
        """A timed call (not one that traced) of `batches` batches."""
        if batches <= 0 or seconds <= 0:
            return
        self._recent = (self._recent + [seconds / batches])[-5:]
        self.seconds_per_batch = float(np.median(self._recent))

    def batches(self) -> int:
        if not self.seconds_per_batch:
            return 1
        return max(1, min(self.most, math.floor(self.call_seconds / self.seconds_per_batch)))

    def forget(self) -> None:
        """The batch size changed: what a batch costs must be learned again."""
        self._recent = []
        self.seconds_per_batch = None
