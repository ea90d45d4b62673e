"""Testing a model on an image of your own: decoding an uploaded PNG or JPEG safely and
preparing it the way the model's training images were.

`open_image` checks a file before decoding it (what it is, how large it would become, whether
it is animated, CMYK or 16-bit) and raises a `ValueError` that says what to change.
`prepare_for_model` then makes the model's input: for a grey model, MNIST's preparation
(grayscale, inverted when the background is light, background levelled to black, then
`cnnlib.drawing`'s crop, 20-pixel box and centre of mass); for a colour model, a centre crop to
the model's shape and a resize. Every step's image is returned so a page can show them. Uses
NumPy and Pillow only; predicting is `cnnlib.inference`'s job.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnnlib import drawing
from cnnlib.i18n import _

MAX_FILE_BYTES = 20 * 1024 * 1024  # larger uploads are refused before Pillow reads them
MAX_PIXELS = 40_000_000  # width × height; more is refused before decoding (decompression bomb)
WORKING_SIDE = 1024  # a larger picture is reduced to this longer side before preparing it
FORMATS = ("PNG", "JPEG")
# Pillow modes of 8-bit images that convert to grey or RGB without losing meaning.
EIGHT_BIT_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "YCbCr")
# A pixel counts as light background when the border's typical grey is above this (0..1).
LIGHT_BACKGROUND = 0.5
# The share of the image's sides read as its border when judging the background.
BORDER_SHARE = 0.05


@dataclass
class PreparedImage:
    """An uploaded picture made ready for a model, with how it got there."""

    image: np.ndarray  # float32 (H, W, C) in 0..1: what the model reads
    steps: list[tuple[str, np.ndarray]]  # (what was done, image) in order, the upload first
    kind: str  # "digit" (MNIST's preparation) or "photo" (centre crop and resize)


def _png_bit_depth(data: bytes) -> int | None:
    """The bit depth a PNG's header declares (Pillow reads 16-bit colour as 8-bit silently)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) > 24:
        return data[24]
    return None


def open_image(data: bytes) -> Image.Image:
    """The decoded picture of a PNG or JPEG file's bytes, in mode "L", "RGB" or "RGBA".

    Raises ValueError for an empty or oversized file, a file that is not a PNG or JPEG image,
    dimensions over `MAX_PIXELS` (checked from the header, before decoding), an animated image,
    a CMYK image, an image with 16 bits per channel, and a damaged file.
    """
    if not data:
        raise ValueError(_("The file is empty. Choose a PNG or JPEG image."))
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(
            _(
                "The file is {size} MB; images up to {most} MB are read. Save a smaller copy first."
            ).format(size=f"{len(data) / 2**20:.1f}", most=MAX_FILE_BYTES // 2**20)
        )
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below twice its limit; ours is stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ValueError(_too_large_message(None, None)) from error
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(
            _("This file is not an image that can be read. Upload a PNG or JPEG picture.")
        ) from error
    if picture.format not in FORMATS:
        raise ValueError(
            _("This is a {format} image; upload a PNG or JPEG picture instead.").format(
                format=picture.format
            )
        )
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise ValueError(_too_large_message(width, height))
    if getattr(picture, "is_animated", False) or getattr(picture, "n_frames", 1) > 1:
        raise ValueError(
            _("This is an animated image. Upload a still PNG or JPEG (save one frame of it).")
        )
    if picture.mode == "CMYK":
        raise ValueError(
            _("This image is in CMYK colours (made for printing). Save it as RGB and upload again.")
        )
    depth = _png_bit_depth(data)
    if (depth is not None and depth > 8) or picture.mode not in EIGHT_BIT_MODES:
        raise ValueError(
            _(
                "This image has 16 bits per channel. Save it with 8 bits per channel "
                "(the usual PNG or JPEG) and upload again."
            )
        )
    try:
        picture.load()
    except (OSError, SyntaxError) as error:
        raise ValueError(
            _("The image file is damaged or incomplete. Save it again and upload the new file.")
        ) from error
    has_alpha = picture.mode in ("LA", "La", "PA", "RGBA", "RGBa") or (
        "transparency" in picture.info
    )
    if has_alpha:
        return picture.convert("RGBA")
    return picture.convert("L" if picture.mode in ("1", "L") else "RGB")


def _too_large_message(width: int | None, height: int | None) -> str:
    if width:
        size = _("{width}×{height} pixels").format(width=width, height=height)
    else:
        size = _("far too many pixels")
    return _(
        "The image has {size}; images up to {most} megapixels are read. Make it smaller and "
        "upload again."
    ).format(size=size, most=MAX_PIXELS // 1_000_000)


def _reduced(picture: Image.Image) -> Image.Image:
    if max(picture.size) <= WORKING_SIDE:
        return picture
    reduced = picture.copy()
    reduced.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return reduced


def _border(values: np.ndarray) -> np.ndarray:
    height, width = values.shape
    band_h, band_w = max(1, int(height * BORDER_SHARE)), max(1, int(width * BORDER_SHARE))
    return np.concatenate(
        [
            values[:band_h].ravel(),
            values[-band_h:].ravel(),
            values[:, :band_w].ravel(),
            values[:, -band_w:].ravel(),
        ]
    )


def prepare_digit(picture: Image.Image, side: int = drawing.FRAME) -> PreparedImage:
    """A picture of a handwritten digit as MNIST shows digits: light ink on black, cropped,
    scaled into a 20-pixel box and centred by mass in 28×28 (then padded to `side`, e.g. 32
    for LeNet-5, whose digits sat in a larger frame)."""
    picture = _reduced(picture)
    rgba = np.asarray(picture)
    steps: list[tuple[str, np.ndarray]] = [(_("your image"), rgba)]
    if picture.mode == "RGBA" and rgba[:, :, 3].min() < 255:
        # A transparent background: the opaque pixels are the strokes, whatever their colour.
        ink = rgba[:, :, 3].astype(np.float32) / 255.0
        steps.append((_("ink from transparency"), ink))
    else:
        grey = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
        steps.append((_("grayscale"), grey))
        if float(np.median(_border(grey))) > LIGHT_BACKGROUND:
            grey = 1.0 - grey
            steps.append((_("inverted (light background)"), grey))
        ink = grey
    # Paper and camera noise leave the background grey rather than black; move the border's
    # typical level to 0 and the strongest ink to 1, as MNIST's scans were.
    background = float(np.percentile(_border(ink), 90))
    strongest = float(ink.max())
    if strongest - background < 0.1:
        raise ValueError(
            _(
                "No digit found: the picture is almost one colour. Write the digit darker or on "
                "a plainer background."
            )
        )
    levelled = np.clip((ink - background) / (strongest - background), 0.0, 1.0)
    if background > 0:
        steps.append((_("background levelled to black"), levelled))
    digit_steps = drawing.mnist_steps(levelled)
    if digit_steps is None:
        raise ValueError(_("No digit found: there is too little ink in the picture."))
    steps.extend(digit_steps)
    frame = digit_steps[-1][1]
    if side != frame.shape[0]:
        frame = _fit_frame(frame, side)
        steps.append((_("framed in {side}×{side}").format(side=side), frame))
    return PreparedImage(image=frame[:, :, None].astype(np.float32), steps=steps, kind="digit")


def _fit_frame(frame: np.ndarray, side: int) -> np.ndarray:
    if side > frame.shape[0]:
        before = (side - frame.shape[0]) // 2
        after = side - frame.shape[0] - before
        return np.pad(frame, ((before, after), (before, after)))
    picture = Image.fromarray(frame.astype(np.float32))
    resized = picture.resize((side, side), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def prepare_photo(picture: Image.Image, height: int, width: int, channels: int) -> PreparedImage:
    """A picture as a small colour (or grey) model's input: the largest centred crop with the
    model's aspect ratio, resized to height × width (by area averaging when shrinking)."""
    if picture.mode == "RGBA":
        # Transparent parts become white, as most viewers show them.
        backdrop = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(backdrop, picture).convert("RGB")
    picture = picture.convert("RGB" if channels == 3 else "L")
    picture = _reduced(picture)
    steps: list[tuple[str, np.ndarray]] = [(_("your image"), np.asarray(picture))]
    source_w, source_h = picture.size
    scale = min(source_w / width, source_h / height)
    crop_w, crop_h = max(1, round(width * scale)), max(1, round(height * scale))
    left, top = (source_w - crop_w) // 2, (source_h - crop_h) // 2
    cropped = picture.crop((left, top, left + crop_w, top + crop_h))
    steps.append((_("centre crop"), np.asarray(cropped)))
    # Shrinking averages the pixels each output pixel covers (no detail is invented or
    # ringing added); enlarging a small picture interpolates smoothly.
    shrinking = crop_w >= width and crop_h >= height
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    resized = cropped.resize((width, height), method)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    steps.append(
        (_("resized to {width}×{height}").format(width=width, height=height), np.asarray(resized))
    )
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return PreparedImage(image=pixels, steps=steps, kind="photo")


def prepare_for_model(data: bytes, input_shape: tuple[int, ...]) -> PreparedImage:
    """An uploaded file's bytes as the input of a model reading `input_shape` (H, W, C)
    images: MNIST's preparation for one channel, a centre crop and resize for three."""
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(
            _(
                "Own images can be tested on models that read grey or colour images "
                "(height, width, 1 or 3); this one reads {shape}."
            ).format(shape=tuple(input_shape))
        )
    height, width, channels = (int(size) for size in input_shape)
    picture = open_image(data)
    if channels == 1 and height == width:
        return prepare_digit(picture, side=height)
    return prepare_photo(picture, height, width, channels)
