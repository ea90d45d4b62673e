"""Data augmentation: random shifts (zero fill) and left-right mirroring of image batches.

One shifting-and-mirroring core serves training (`augment_batch`, random per image, drawn from
the job's own generator so that a seed gives the same run) and the live page's test-time
averaging (`augmented_copies`, the originals followed by flipped and shifted copies). Images
are (N, H, W, C) arrays of any dtype; the result has the same dtype.
"""

from __future__ import annotations

import numpy as np


def _check(images: np.ndarray, max_shift: int) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"augment_batch needs a (N, H, W, C) batch; got shape {images.shape}.")
    height, width = images.shape[1:3]
    if max_shift >= min(height, width):
        raise ValueError(
            f"augment_shift {max_shift} would move {height}x{width} images out of the frame; "
            f"use less than {min(height, width)} pixels."
        )
    return images


def shift_and_mirror(
    images: np.ndarray, top: np.ndarray, left: np.ndarray, mirrored: np.ndarray, max_shift: int
) -> np.ndarray:
    """Each image moved so that its window starts at (`top`, `left`) of the image padded by
    `max_shift` zeros on every side (`max_shift`, `max_shift` leaves it in place), mirrored
    left-right where `mirrored` is true."""
    images = _check(images, max_shift)
    count, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    # A slice per image costs a third of one fancy-indexed gather over the whole batch.
    out = np.empty_like(images)
    for index in range(count):
        window = padded[index, top[index] : top[index] + height, left[index] : left[index] + width]
        out[index] = window[:, ::-1] if mirrored[index] else window
    return out


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, max_shift: int = 0, flip: bool = False
) -> np.ndarray:
    """Shift each image of a (N, H, W, C) batch by up to `max_shift` pixels each way (zero
    fill) and mirror about half of them left-right; returns a new array of the same dtype."""
    images = _check(images, max_shift)
    count = len(images)
    if max_shift == 0 and not flip:
        return images.copy()
    top = rng.integers(0, 2 * max_shift + 1, count)
    left = rng.integers(0, 2 * max_shift + 1, count)
    mirrored = rng.random(count) < 0.5 if flip else np.zeros(count, bool)
    return shift_and_mirror(images, top, left, mirrored, max_shift)


def augmented_copies(images: np.ndarray, copies: int, max_shift: int, seed: int) -> np.ndarray:
    """The images themselves followed by `copies - 1` versions of them: every other copy
    mirrored, each shifted by one random offset of up to `max_shift` pixels (zero fill)."""
    images = _check(images, max_shift)
    rng = np.random.default_rng(seed)
    count = len(images)
    out = [images]
    for index in range(copies - 1):
        dy, dx = rng.integers(0, 2 * max_shift + 1, size=2)
        mirrored = np.full(count, index % 2 == 0)
        out.append(
            shift_and_mirror(images, np.full(count, dy), np.full(count, dx), mirrored, max_shift)
        )
    return np.concatenate(out, axis=0)
