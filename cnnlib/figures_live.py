"""Pictures for the live training view: mosaics of activation maps and filters, and a strip of
test images with the network's top three guesses, drawn as images rather than charts.

A live page redraws these every second or so; one composed image is far cheaper for the browser
than dozens of small charts. Everything here takes and returns NumPy arrays (8-bit images).

Text is drawn in a font with Hangul when the system has one (`hangul_font`), so Korean labels
read as letters; where none is found, `can_draw` says so and the page draws English labels and
shows `NO_HANGUL_FONT` instead of letting Pillow draw boxes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnlib.i18n import N_, _

GREEN = (46, 160, 67)
RED = (207, 34, 46)
GREY = (120, 120, 120)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so each pixel of a 5×5 filter stays a visible square."""
    factor = max(1, int(factor))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def mosaic(
    images: list[np.ndarray], columns: int = 8, cell: int = 48, pad: int = 2, background: int = 255
) -> np.ndarray:
    """Lay equally sized grey (H, W) or colour (H, W, 3) images out in a grid.

    Each image is enlarged by a whole factor so that its longer side is about `cell` pixels.
    Returns an RGB uint8 array.
    """
    if not images:
        raise ValueError(_("There are no images to lay out."))
    tiles = [to_rgb_uint8(image) for image in images]
    height, width = tiles[0].shape[:2]
    factor = max(1, cell // max(height, width))
    tiles = [upscale(tile, factor) for tile in tiles]
    tile_h, tile_w = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    out = np.full(
        (rows * (tile_h + pad) + pad, columns * (tile_w + pad) + pad, 3), background, np.uint8
    )
    for index, tile in enumerate(tiles):
        row, col = divmod(index, columns)
        top, left = pad + row * (tile_h + pad), pad + col * (tile_w + pad)
        out[top : top + tile_h, left : left + tile_w] = tile
    return out


def to_rgb_uint8(image: Any) -> np.ndarray:
    """A grey or colour image, uint8 or float 0..1, as RGB uint8 (H, W, 3)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            _("Expected a grey or RGB image, got shape {shape}.").format(shape=np.shape(image))
        )
    if array.dtype != np.uint8:
        array = np.clip(np.asarray(array, dtype=float) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return array


# Fonts with Hangul where their packages put them: Debian's fonts-nanum and fonts-noto-cjk
# (installed by scripts/test.sh), then macOS's and Windows's own.
HANGUL_FONTS = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/AppleSDGothicNeo.ttc",
    "C:/Windows/Fonts/malgun.ttf",
)
FONT_VARIABLE = "CNNLAB_FONT"  # names a font file with Hangul to draw with instead
NO_HANGUL_FONT = N_(
    "No Korean font was found on this server, so pictures show their labels in English. "
    "Install one (on Debian: `apt-get install fonts-nanum`) or set CNNLAB_FONT to a font file "
    "with Hangul, then restart the dashboard."
)
HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF))


@cache
def hangul_font() -> str | None:
    """The file of a font that draws Hangul: $CNNLAB_FONT, a known place, or fontconfig's
    choice for Korean; None when the system has none."""
    candidates = [os.environ.get(FONT_VARIABLE, ""), *HANGUL_FONTS]
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "--format=%{file}", ":lang=ko"], capture_output=True, text=True
        )
        candidates.append(found.stdout.strip() if found.returncode == 0 else "")
    for path in candidates:
        if path and os.path.isfile(path) and _draws_hangul(path):
            return path
    return None


def _draws_hangul(path: str) -> bool:
    """Whether the font at `path` has a glyph for "한" unlike its glyph for a missing letter."""
    try:
        font = ImageFont.truetype(path, 24)
    except OSError:
        return False
    return _glyph(font, "한") != _glyph(font, "\uffff")


def _glyph(font, letter: str) -> bytes:
    mask = font.getmask(letter)
    return bytes(mask) + bytes(str(mask.size), "ascii")


def has_hangul(text: str) -> bool:
    return any(low <= ord(letter) <= high for letter in text for low, high in HANGUL)


def can_draw(*texts: str) -> bool:
    """Whether these labels can be drawn as letters: they have no Hangul, or a font has it."""
    return hangul_font() is not None or not any(has_hangul(text) for text in texts)


@cache
def default_font(size: int):
    """The font of every label drawn in a picture: one with Hangul where the system has one."""
    path = hangul_font()
    if path is not None:
        return ImageFont.truetype(path, size)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font still reads.
        return ImageFont.load_default()


def prediction_strip(
    stream: list[dict[str, Any]], columns: int = 4, image_size: int = 64
) -> np.ndarray:
    """Test images, each with its top three classes as bars: green where the class is the true
    one, red where it is not (as in ConvNetJS's demo). `stream` items are the probe's:
    {"image": uint8 array, "truth": name, "top": [(name, probability) x3], "correct": bool}."""
    if not stream:
        raise ValueError(_("No test predictions yet."))
    font = default_font(13)
    bar_width, cell_w, cell_h = 120, image_size + 140, image_size + 12
    columns = max(1, min(columns, len(stream)))
    rows = -(-len(stream) // columns)
    canvas = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for index, item in enumerate(stream):
        row, col = divmod(index, columns)
        left, top = col * cell_w + 4, row * cell_h + 6
        picture = to_rgb_uint8(item["image"])
        factor = max(1, image_size // max(picture.shape[:2]))
        canvas.paste(Image.fromarray(upscale(picture, factor)), (left, top))
        line_h = image_size // 3
        for rank, (name, probability) in enumerate(item["top"]):
            y = top + rank * line_h
            colour = GREEN if name == item["truth"] else RED
            x0 = left + image_size + 6
            draw.rectangle([x0, y + 2, x0 + bar_width, y + line_h - 3], fill=(235, 235, 235))
            draw.rectangle(
                [x0, y + 2, x0 + int(bar_width * float(probability)), y + line_h - 3], fill=colour
            )
            draw.text((x0 + 3, y + 3), f"{name} {probability:.0%}", fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def stream_item(data: Any, probabilities: np.ndarray, index: int, class_names) -> dict:
    """One test image as `prediction_strip` draws it: the image, its true class and the
    model's top three answers with their probabilities."""
    row = probabilities[index]
    top = np.argsort(row)[::-1][:3]
    truth = int(data.y_test[index])
    return {
        "image": data.x_test[index],
        "truth": class_names[truth],
        "top": [(class_names[int(c)], float(row[c])) for c in top],
        "correct": bool(top[0] == truth),
    }
