"""Testing your own image: real MNIST digits saved as ordinary pictures (black on white, or
photographed-looking on grey paper) must come back as the 28×28 digits they were; colour
pictures are cropped and resized to known results; each bad file gets its own message, and
oversized ones are refused from their header, before any decoding."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlib.drawing import centre_of_mass
from cnnlib.own_image import MAX_PIXELS, open_image, prepare_for_model

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_t10k_first40.npz"


def real_digits() -> np.ndarray:
    """40 real MNIST test digits, (40, 28, 28) uint8."""
    with np.load(FIXTURE) as saved:
        return saved["x_test"]


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def best_correlation(out: np.ndarray, original: np.ndarray) -> float:
    """Correlation at the best of the nine shifts of at most one pixel (MNIST placed digits by
    whole-pixel shifts, so a faithful preparation may land one pixel away)."""
    return max(
        np.corrcoef(np.roll(out, (dr, dc), axis=(0, 1)).ravel(), original.ravel())[0, 1]
        for dr in (-1, 0, 1)
        for dc in (-1, 0, 1)
    )


def test_real_digits_on_white_come_back_as_they_were():
    correlations = []
    for digit in real_digits():
        data = encode(Image.fromarray(255 - digit))  # black ink on white paper
        prepared = prepare_for_model(data, (28, 28, 1))
        assert prepared.kind == "digit"
        assert prepared.image.shape == (28, 28, 1) and prepared.image.dtype == np.float32
        out = prepared.image[:, :, 0]
        correlations.append(best_correlation(out, digit.astype(np.float32) / 255))
        row, col = centre_of_mass(out)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
        captions = [caption for caption, _ in prepared.steps]
        assert captions[0] == "your image" and "inverted (light background)" in captions
    assert np.median(correlations) > 0.95
    assert min(correlations) > 0.85


def test_digits_photographed_on_grey_paper_are_levelled_and_still_read():
    # Enlarged 8 times, ink dark grey on light grey paper with noise, saved as a JPEG.
    rng = np.random.default_rng(0)
    correlations = []
    for digit in real_digits()[:10]:
        big = np.asarray(
            Image.fromarray(digit).resize((224, 224), Image.Resampling.BILINEAR), dtype=float
        )
        paper = 200 - big / 255 * 150 + rng.normal(0, 6, big.shape)
        data = encode(Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)), "JPEG")
        prepared = prepare_for_model(data, (28, 28, 1))
        captions = [caption for caption, _ in prepared.steps]
        assert "background levelled to black" in captions
        correlations.append(
            best_correlation(prepared.image[:, :, 0], digit.astype(np.float32) / 255)
        )
    assert np.median(correlations) > 0.9


def test_transparent_background_reads_the_strokes_from_alpha():
    digit = real_digits()[0]
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)  # black strokes, transparent elsewhere
    rgba[:, :, 3] = digit
    from_alpha = prepare_for_model(encode(Image.fromarray(rgba)), (28, 28, 1))
    on_white = prepare_for_model(encode(Image.fromarray(255 - digit)), (28, 28, 1))
    assert from_alpha.steps[1][0] == "ink from transparency"
    np.testing.assert_allclose(from_alpha.image, on_white.image, atol=1e-6)


def test_digit_for_a_32_pixel_model_is_framed_by_padding():
    prepared = prepare_for_model(encode(Image.fromarray(255 - real_digits()[3])), (32, 32, 1))
    assert prepared.image.shape == (32, 32, 1)
    np.testing.assert_array_equal(prepared.image[2:30, 2:30, 0], prepared.steps[-2][1])
    assert prepared.image[:2].max() == 0 and prepared.image[30:].max() == 0


def test_colour_picture_is_centre_cropped_to_the_model_shape():
    # 96 wide, 32 high: blue sides, a red centre 32 wide. The centred square crop is all red.
    picture = np.zeros((32, 96, 3), dtype=np.uint8)
    picture[:, :, 2] = 255
    picture[:, 32:64] = (255, 0, 0)
    prepared = prepare_for_model(encode(Image.fromarray(picture)), (32, 32, 3))
    assert prepared.kind == "photo" and prepared.image.shape == (32, 32, 3)
    np.testing.assert_allclose(prepared.image.reshape(-1, 3), [[1.0, 0.0, 0.0]] * 1024, atol=1e-6)
    assert [caption for caption, _ in prepared.steps] == [
        "your image",
        "centre crop",
        "resized to 32×32",
    ]


def test_colour_picture_is_resized_by_averaging_blocks():
    # 320×320 made of 10×10 blocks of one colour each: shrunk to 32×32, each block becomes
    # one pixel of its colour, with nothing of its neighbours mixed in.
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    picture = np.repeat(np.repeat(colours, 10, axis=0), 10, axis=1)
    prepared = prepare_for_model(encode(Image.fromarray(picture)), (32, 32, 3))
    np.testing.assert_allclose(prepared.image * 255, colours, atol=0.51)


def noise_image() -> Image.Image:
    """A 64×64 picture of random colours: its PNG data is long, so a cut lands inside it."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written byte by byte from the format's specification."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def huge_header_png(width: int, height: int) -> bytes:
    """A grey PNG whose header claims width × height but whose data is a single row: opening
    reads the header only, so refusing it must not need the (missing) pixels."""
    return raw_png(width, height, 8, 0, b"\x00" + b"\x00" * min(width, 1000))


def animated_png() -> bytes:
    frames = [Image.new("L", (8, 8), value) for value in (0, 255)]
    return encode(frames[0], save_all=True, append_images=frames[1:], duration=100)


def sixteen_bit_colour_png() -> bytes:
    rows = b"".join(b"\x00" + b"\x12\x34" * 3 * 4 for _ in range(4))
    return raw_png(4, 4, 16, 2, rows)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"just some text, not a picture", "not an image"),
        (encode(Image.new("RGB", (8, 8))), None),
        (encode(noise_image())[:5000], "damaged"),
        (encode(Image.new("RGB", (8, 8)), "GIF"), "GIF image; upload a PNG or JPEG"),
        (huge_header_png(8000, 8000), "8000×8000 pixels"),
        (huge_header_png(60000, 60000), "megapixels"),
        (animated_png(), "animated"),
        (encode(Image.new("CMYK", (8, 8)), "JPEG"), "CMYK"),
        (encode(Image.new("I;16", (8, 8))), "16 bits"),
        (sixteen_bit_colour_png(), "16 bits"),
    ],
    ids=[
        "empty",
        "text",
        "good",
        "truncated",
        "gif",
        "64-megapixels",
        "3600-megapixels",
        "animated",
        "cmyk",
        "16-bit-grey",
        "16-bit-colour",
    ],
)
def test_each_bad_file_gets_its_message(data, message):
    if message is None:
        assert open_image(data).mode == "RGB"
        return
    with pytest.raises(ValueError, match=message):
        open_image(data)


def test_size_limit_is_checked_before_decoding(monkeypatch):
    # Any decoding of the pixels would fail on this file (it holds one row of many), so
    # reaching the size message proves the check comes first.
    width = int(np.sqrt(MAX_PIXELS)) + 10
    with pytest.raises(ValueError, match="megapixels"):
        open_image(huge_header_png(width, width))
    loads = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(self))
    with pytest.raises(ValueError, match="megapixels"):
        open_image(huge_header_png(width, width))
    assert loads == []


def test_blank_picture_and_wrong_model_shape_are_refused():
    with pytest.raises(ValueError, match="No digit found"):
        prepare_for_model(encode(Image.new("L", (50, 50), 255)), (28, 28, 1))
    with pytest.raises(ValueError, match="grey or colour"):
        prepare_for_model(encode(Image.new("L", (8, 8))), (28, 28, 2))
