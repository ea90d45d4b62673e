"""Keras's dropout with half the random numbers, for the job's compiled training step.

A profile of the job's step (the lecture's two-convolution model, batch 128, TensorFlow's own
profiler, summed over its threads) put about a quarter of the step's time in mixed bfloat16
into dropout, most of it after the convolutions: drawing one float per activation with the
Philox generator (16% of the step), comparing and selecting (8%), and scaling (part of the 10%
spent in multiplications). More than the convolutions' forward pass (7%). With 16 bits per
activation the draw took 7% of a step that took 11% less time. `keras.layers.Dropout` asks
its backend for `random.dropout(inputs, rate, noise_shape, seed)`; while `fast_dropout()` is
active, that call draws one 32-bit random word per two activations and keeps an activation
where its 16 bits are at least `round(rate · 65536)`.

It is the same dropout: each activation is kept independently with probability 1 − rate
(exactly, for every rate a multiple of 1/65536, which includes the lecture's 0.25 and 0.5;
within 1/131072 otherwise), kept ones are scaled by 1 / (1 − rate), the mask broadcasts over
`noise_shape` as Keras's does, and the layer's seed generator advances as it does. Only the
random stream differs. The model stays a plain Keras model: nothing of this is saved with it,
and Keras's own `fit`, `predict` and `evaluate` are untouched, as is any function traced
outside the context. `tests/test_dropout.py` checks the keep rate, the scale, the broadcast,
the seeds and the gradient.

The switch is a context variable read while a function is traced, so two jobs tracing on two
threads never see each other's choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_active: ContextVar[bool] = ContextVar("cnnlab_fast_dropout", default=False)
_keras_dropout = None  # Keras's own, kept when ours is installed


def _install() -> None:
    """Put the dispatcher in the place Keras's Dropout layer looks up, once per process."""
    global _keras_dropout
    from keras.src.backend.tensorflow import random as backend_random

    if _keras_dropout is None:
        _keras_dropout = backend_random.dropout
        backend_random.dropout = _dropout


def _dropout(inputs, rate, noise_shape=None, seed=None):
    if not _active.get() or rate in (0.0, 1.0):
        return _keras_dropout(inputs, rate, noise_shape=noise_shape, seed=seed)
    return half_word_dropout(inputs, rate, noise_shape, seed)


def half_word_dropout(inputs, rate: float, noise_shape=None, seed=None):
    """Dropout of `inputs` at `rate` (0 < rate < 1) from 16 random bits per activation."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import random as backend_random

    seed = backend_random._cast_seed(backend_random.draw_seed(seed))
    shape = backend_random._get_concrete_noise_shape(inputs, noise_shape)
    count = tf.reduce_prod(shape)
    words = tf.random.stateless_uniform(
        tf.reshape((count + 1) // 2, [1]), seed=seed, minval=None, maxval=None, dtype=tf.uint32
    )
    bits = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:count]
    keep = tf.reshape(bits >= tf.constant(threshold(rate), tf.uint16), shape)
    scale = tf.cast(1.0 / (1.0 - rate), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros((), inputs.dtype))


def threshold(rate: float) -> int:
    """The 16-bit value at and above which an activation is kept."""
    return min(65535, max(1, round(float(rate) * 65536)))


@contextmanager
def fast_dropout() -> Iterator[None]:
    """Inside the block, functions traced in this thread build Keras's dropout from 16 random
    bits per activation; outside, Keras's own."""
    _install()
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)
