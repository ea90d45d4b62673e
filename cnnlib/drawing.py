"""Turning a drawing from the canvas into the 28×28 image an MNIST model expects.

MNIST's digits were made by cropping each handwritten digit to its ink, scaling it with
anti-aliasing so that its longer side is 20 pixels (keeping the aspect ratio), and placing it
in a 28×28 frame so that the ink's centre of mass sits at the frame's centre. A model trained
on MNIST reads a drawing well only if the drawing is prepared the same way, which is what
`preprocess_drawing` does; `mnist_steps` gives each step's image, and `cnnlib.own_image` uses
the same steps for an uploaded picture; `image_from_data_url` reads the PNG data URL a browser
canvas sends. This module uses NumPy and Pillow only; predicting is `cnnlib.inference`'s job.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image

from cnnlib.i18n import _

FRAME = 28  # side of the MNIST image
BOX = 20  # the longer side of the digit inside the frame
# Where the centre of mass goes, in pixel indices: MNIST's test digits average (14.0, 14.0)
# with a spread of 0.3 pixel.
CENTRE = 14.0
# Pixels fainter than this (on a 0..1 scale) do not count when finding the ink's bounding box,
# so a faint anti-aliasing halo or a stray speck does not stretch it.
INK_THRESHOLD = 0.1
# Less ink than this, in fully inked pixels, is an empty canvas rather than a digit.
MIN_INK = 4.0


def ink_of(image: np.ndarray) -> np.ndarray:
    """The ink of a canvas image as float32 (H, W) in [0, 1]: 1 where fully inked.

    Accepts a grey image (H, W), or RGB/RGBA (H, W, 3|4) with values 0..255 (uint8) or 0..1
    (float). Strokes are light on a dark background, as in MNIST. When an RGBA image has
    transparent pixels, its background was left transparent and the alpha channel alone says
    where the strokes are, whatever their colour.
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(
            _("Expected a grey (H, W) or RGB/RGBA (H, W, 3|4) image, got shape {shape}.").format(
                shape=array.shape
            )
        )
    if array.size == 0:
        raise ValueError(
            _("The drawing is empty (zero pixels); give the canvas a width and height.")
        )
    scale = 255.0 if array.dtype == np.uint8 or array.max(initial=0) > 1.0 else 1.0
    pixels = array.astype(np.float32) / scale
    if pixels.ndim == 2:
        return np.clip(pixels, 0.0, 1.0)
    if pixels.shape[2] == 1:
        return np.clip(pixels[:, :, 0], 0.0, 1.0)
    alpha = pixels[:, :, 3] if pixels.shape[2] == 4 else None
    if alpha is not None and alpha.min() < 1.0:
        return np.clip(alpha, 0.0, 1.0)
    # ITU-R 601 luma, the weights Pillow's "L" conversion uses.
    grey = pixels[:, :, 0] * 0.299 + pixels[:, :, 1] * 0.587 + pixels[:, :, 2] * 0.114
    return np.clip(grey, 0.0, 1.0)


def image_from_data_url(url: str) -> np.ndarray:
    """The image of a data URL (`data:image/png;base64,...`, as a canvas's `toDataURL` gives
    it) as a uint8 array: (H, W, 4) for RGBA, (H, W, 3) for RGB, (H, W) for grey."""
    header, separator, payload = str(url).partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64") or not separator:
        raise ValueError(
            _("Expected a base64 image data URL (data:image/png;base64,...), got {start}.").format(
                start=repr(url[:40])
            )
        )
    try:
        with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as image:
            image.load()
            return np.asarray(image)
    except (binascii.Error, OSError) as error:
        raise ValueError(
            _("The data URL holds no readable image: {error}").format(error=error)
        ) from error


def preprocess_drawing(rgba: np.ndarray) -> np.ndarray | None:
    """The drawing as an MNIST image: float32 (28, 28) in [0, 1], or None if nothing is drawn.

    Steps, as MNIST was made: crop to the ink's bounding box, scale with anti-aliasing so the
    longer side is 20 pixels (the shorter keeps the aspect ratio, at least 1 pixel), and paste
    into a 28×28 frame so the centre of mass lands on pixel (14, 14), where MNIST puts it. Ink
    pushed past the frame by that shift is cut, as it was for MNIST.
    """
    steps = mnist_steps(ink_of(rgba))
    return None if steps is None else steps[-1][1]


def mnist_steps(ink: np.ndarray) -> list[tuple[str, np.ndarray]] | None:
    """The steps of `preprocess_drawing` from an ink image (float32 (H, W), 1 = full ink), each
    as (what was done, float32 image), the last being the 28×28 result; None when there is too
    little ink to be a digit. A page can show them one beside the other."""
    ink = np.asarray(ink, dtype=np.float32)
    if float(ink.sum()) < MIN_INK:
        return None
    crop = crop_to_ink(ink)
    if crop is None:
        return None
    digit = scale_to_box(crop)
    return [
        (_("cropped to the ink"), crop),
        (_("longer side scaled to {box} px").format(box=BOX), digit),
        (
            _("centred by mass in {frame}×{frame}").format(frame=FRAME),
            place_by_centre_of_mass(digit),
        ),
    ]


def crop_to_ink(ink: np.ndarray) -> np.ndarray | None:
    """The ink's bounding box (pixels of at least `INK_THRESHOLD`), or None if there is none."""
    rows = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        return None
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def scale_to_box(crop: np.ndarray) -> np.ndarray:
    """The crop scaled with anti-aliasing so its longer side is `BOX` pixels."""
    height, width = crop.shape
    factor = BOX / max(height, width)
    new_height = max(1, int(np.floor(height * factor + 0.5)))
    new_width = max(1, int(np.floor(width * factor + 0.5)))
    # Lanczos filtering is Pillow's anti-aliased resize: when shrinking, each output pixel
    # averages the input pixels it covers, so thin strokes fade rather than vanish.
    scaled = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        (new_width, new_height), Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(scaled, dtype=np.float32), 0.0, 1.0)


def place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    """The digit pasted into a 28×28 frame with its centre of mass on pixel (14, 14)."""
    height, width = digit.shape
    centre_row, centre_col = centre_of_mass(digit)
    # Whole-pixel shifts keep strokes crisp, as MNIST's did (its centres of mass spread by
    # 0.29 pixel, the spread of rounding); halves round up so results do not depend on parity.
    top = int(np.floor(CENTRE - centre_row + 0.5))
    left = int(np.floor(CENTRE - centre_col + 0.5))
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    # Paste the part of the digit that falls inside the frame.
    frame_top, frame_left = max(top, 0), max(left, 0)
    frame_bottom, frame_right = min(top + height, FRAME), min(left + width, FRAME)
    if frame_bottom > frame_top and frame_right > frame_left:
        frame[frame_top:frame_bottom, frame_left:frame_right] = digit[
            frame_top - top : frame_bottom - top, frame_left - left : frame_right - left
        ]
    return frame


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of an image's centre of mass in pixel indices, as SciPy counts them."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        raise ValueError(_("The image has no ink, so it has no centre of mass."))
    rows = (image.sum(axis=1) * np.arange(image.shape[0])).sum() / total
    cols = (image.sum(axis=0) * np.arange(image.shape[1])).sum() / total
    return float(rows), float(cols)
