"""The job's dropout (`cnnlib.training.dropout`) is Keras's dropout drawn from fewer random
bits: each activation kept with probability 1 − rate, kept ones scaled by 1 / (1 − rate), the
mask broadcast over `noise_shape`, the seed generator advancing as Keras's does, and the
gradient the mask times the scale. Keras's own is used outside the context."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from cnnlib.training import dropout  # noqa: E402


def dropped(layer, x, fast: bool = True):
    """`layer` applied in training mode, traced in a function inside or outside the context."""

    @tf.function
    def run(x):
        return layer(x, training=True)

    if fast:
        with dropout.fast_dropout():
            return run(x).numpy()
    return run(x).numpy()


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.1])
def test_each_activation_is_kept_with_probability_one_minus_rate_and_scaled(rate):
    x = tf.ones((64, 128, 128))  # about a million activations
    out = dropped(keras.layers.Dropout(rate, seed=1), x)
    kept = out != 0
    # Kept values are exactly the scaled input; the rest are zero.
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - rate), rtol=1e-6)
    # The share kept, within five standard deviations of a million Bernoulli draws.
    n = kept.size
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
    # Neighbouring activations (the two halves of one random word) are independent.
    pairs = kept.reshape(-1, 2)
    both = (pairs[:, 0] & pairs[:, 1]).mean()
    assert abs(both - (1 - rate) ** 2) < 5 * np.sqrt((1 - rate) ** 2 / n * 2)


def test_the_threshold_is_exact_for_the_lectures_rates():
    assert dropout.threshold(0.25) == 16384 and dropout.threshold(0.5) == 32768
    assert dropout.threshold(0.25) / 65536 == 0.25


def test_the_mask_broadcasts_over_the_noise_shape_as_keras_does():
    x = tf.reshape(tf.range(2 * 5 * 5 * 8, dtype=tf.float32) + 1.0, (2, 5, 5, 8))
    out = dropped(keras.layers.Dropout(0.5, noise_shape=(None, 1, 1, 8), seed=3), x)
    kept = out != 0
    # One decision per image and channel, the same at every position.
    assert (kept == kept[:, :1, :1, :]).all()
    assert 0 < kept.mean() < 1


def test_bfloat16_inputs_keep_their_dtype():
    x = tf.ones((8, 16), dtype=tf.bfloat16)
    out = dropped(keras.layers.Dropout(0.25, seed=0, dtype="mixed_bfloat16"), x)
    assert out.dtype == tf.bfloat16.as_numpy_dtype
    assert set(np.unique(out.astype(np.float32))) <= {0.0, np.float32(1 / 0.75).item()} | {
        float(tf.cast(1 / 0.75, tf.bfloat16).numpy())
    }


def test_masks_differ_from_call_to_call_and_repeat_from_the_same_seed():
    x = tf.ones((32, 32))

    def two_calls(seed):
        layer = keras.layers.Dropout(0.5, seed=seed)

        @tf.function
        def run(x):
            return layer(x, training=True)

        with dropout.fast_dropout():
            return run(x).numpy(), run(x).numpy()

    first, second = two_calls(7)
    assert (first != second).any()  # the seed generator advanced
    again, _ = two_calls(7)
    np.testing.assert_array_equal(first, again)


def test_the_gradient_is_the_mask_times_the_scale():
    layer = keras.layers.Dropout(0.25, seed=5)
    x = tf.random.stateless_normal((16, 40), seed=(1, 2))

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            total = tf.reduce_sum(y * 3.0)
        return y, tape.gradient(total, x)

    with dropout.fast_dropout():
        y, grad = (t.numpy() for t in run(x))
    mask = (y != 0).astype(np.float32)
    np.testing.assert_allclose(grad, 3.0 * mask / 0.75, rtol=1e-6)


def test_outside_the_context_keras_draws_its_own_mask():
    from keras.src.backend.tensorflow import random as backend_random

    x = tf.ones((64, 64))
    ours = dropout.half_word_dropout(x, 0.5, seed=11)
    dropout._install()
    theirs = keras.src.backend.random.dropout(x, 0.5, seed=11)
    seed = backend_random._cast_seed(backend_random.draw_seed(11))
    direct = tf.nn.experimental.stateless_dropout(x, rate=0.5, seed=seed)
    # Outside the context the installed dispatcher is Keras's dropout, op for op.
    np.testing.assert_array_equal(theirs.numpy(), direct.numpy())
    assert (ours.numpy() != theirs.numpy()).any()


def test_the_jobs_step_trains_with_it_and_the_model_keeps_keras_dropout():
    from cnnlib import registry
    from cnnlib.build import build_model
    from cnnlib.training.steps import MultiStep

    model = build_model(registry.get("mnist_two_conv").network, "float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    step = MultiStep(model)
    xs = np.random.default_rng(0).random((2, 16, 28, 28, 1), dtype=np.float32)
    ys = np.zeros((2, 16), dtype=np.int64)
    losses, _ = step(xs, ys, np.full(2, 0.001, np.float32))
    assert np.isfinite(losses).all()
    graph = step._run.get_concrete_function().graph.as_graph_def()
    ops = {node.op for function in graph.library.function for node in function.node_def}
    assert "StatelessRandomUniformFullIntV2" in ops  # the half-word draw
    assert "StatelessRandomUniformV2" not in ops  # not Keras's float draw
    assert {type(layer).__name__ for layer in model.layers} >= {"Dropout"}
