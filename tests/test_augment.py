"""Data augmentation against what a shift and a mirror must do to known images."""

from __future__ import annotations

import numpy as np

from cnnlib.augment import augment_batch, augmented_copies


def test_augment_batch_shifts_with_zero_fill_and_flips():
    images = np.zeros((200, 9, 9, 1), np.uint8)
    images[:, 4, 4, 0] = 255
    shifted = augment_batch(images, np.random.default_rng(0), max_shift=2)
    positions = np.argwhere(shifted[..., 0] == 255)
    assert len(positions) == 200 and (positions[:, 0] == np.arange(200)).all()
    offsets = positions[:, 1:] - 4
    assert np.abs(offsets).max() == 2 and len({tuple(o) for o in offsets}) == 25
    assert shifted.sum() == images.sum()

    edge = np.zeros((50, 9, 9, 1), np.uint8)
    edge[:, :, 0, 0] = 255  # a line on the left border falls out of the frame when shifted left
    moved = augment_batch(edge, np.random.default_rng(1), max_shift=1)
    assert (moved.sum(axis=(1, 2, 3)) == 0).any()

    ramp = np.arange(81, dtype=np.uint8).reshape(1, 9, 9, 1).repeat(100, axis=0)
    flipped = augment_batch(ramp, np.random.default_rng(2), flip=True)
    same = (flipped == ramp).all(axis=(1, 2, 3))
    mirrored = (flipped == ramp[:, :, ::-1]).all(axis=(1, 2, 3))
    assert (same | mirrored).all() and 25 < mirrored.sum() < 75
    again = augment_batch(ramp, np.random.default_rng(2), flip=True)
    np.testing.assert_array_equal(flipped, again)


def test_augmented_copies_start_with_the_originals_and_flip():
    images = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)
    out = augmented_copies(images, copies=3, max_shift=0, seed=0)
    assert out.shape == (6, 4, 4, 1)
    np.testing.assert_array_equal(out[:2], images)
    np.testing.assert_array_equal(out[2:4], images[:, :, ::-1, :])


def test_test_time_copies_shift_with_zero_fill_like_training():
    images = np.zeros((1, 5, 5, 1), np.float32)
    images[0, 2, 2, 0] = 1.0
    out = augmented_copies(images, copies=5, max_shift=1, seed=3)
    assert out.shape == (5, 5, 5, 1)
    # Every copy keeps the single bright pixel (a shift of one stays in the frame) and adds
    # nothing: zero fill, never wrap-around.
    assert (out.reshape(5, -1).sum(axis=1) == 1).all()
    offsets = {tuple(np.argwhere(copy[..., 0] == 1)[0] - 2) for copy in out}
    assert all(max(abs(dy), abs(dx)) <= 1 for dy, dx in offsets)
