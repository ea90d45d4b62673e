"""Korean in Chromium, checked in pixels: every page opened with `?lang=ko` shows its Korean
title, drawn by a font that has Hangul; a Plotly chart's Korean title and a picture the server
draws with Pillow show the expected Hangul letters, not boxes (□); the sidebar's language switch
keeps a training page's settings and translates their labels.

How the pixel check works (`hangul_drawn`): the text is rendered again here with Pillow, in the
font that drew it (for the browser, the font Chromium reports through the DevTools protocol;
for the server's pictures, `figures_live.default_font`), and searched for in the captured
pixels by normalised cross-correlation. It must match well, and clearly better than the same
number of missing-letter boxes and than the same letters reversed; so letters drawn as
boxes, in the wrong order or not at all fail it.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from harness import (
    SCREENSHOT_DIR,
    choose_option,
    chosen_option,
    click_and_wait,
    fill_text,
    no_exception,
    open_page,
    screenshot,
    set_slider,
    wait_for_app,
    wait_until_drawn,
)
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from cnnlib import figures_live
from cnnlib.datasets import CIFAR10_CLASS_NAMES
from cnnlib.i18n import _, language
from views._catalog import PAGES

TRAIN_TIMEOUT_MS = 240_000
# A page's title, and for the home page (whose title is the name "CNN Lab") its first heading.
_ALL_PAGES = [("views/home.py", "/", "Where to start")] + [
    (entry.path, "/" + Path(entry.path).stem, entry.title) for entry in PAGES
]
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
MATCH = 0.65  # the least correlation of the expected letters with the pixels
# By how much they must beat as many missing-letter boxes, and the same letters reversed (which
# share shapes: 자동차 and 차동자 have one letter in the same place).
BOX_MARGIN = 0.3
REVERSED_MARGIN = 0.1


def ko(text: str) -> str:
    with language("ko"):
        return _(text)


# --- the pixel check ------------------------------------------------------------------------


def ink(picture: Image.Image) -> np.ndarray:
    """How dark each pixel is, 0 (white) to 1 (black), whatever its colour."""
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float64)
    return 1.0 - rgb.max(axis=2) / 255.0


def text_ink(text: str, font) -> np.ndarray:
    """`text` drawn by Pillow in `font`, as ink on white, cut to its letters."""
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def best_match(image: np.ndarray, template: np.ndarray) -> float:
    """The highest normalised cross-correlation of `template` at any place in `image`."""
    th, tw = template.shape
    image = np.pad(image, ((0, max(0, th - image.shape[0])), (0, max(0, tw - image.shape[1]))))
    height, width = image.shape
    centred = template - template.mean()
    shape = (height + th - 1, width + tw - 1)
    products = np.fft.irfft2(
        np.fft.rfft2(image, shape) * np.fft.rfft2(centred[::-1, ::-1], shape), shape
    )[th - 1 : height, tw - 1 : width]

    def window_sums(values: np.ndarray) -> np.ndarray:
        total = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        return total[th:, tw:] - total[:-th, tw:] - total[th:, :-tw] + total[:-th, :-tw]

    spread = window_sums(image**2) - window_sums(image) ** 2 / (th * tw)
    norms = np.sqrt(np.clip(spread, 0, None)) * np.sqrt((centred**2).sum())
    scores = np.where(norms > 1e-6, products / np.maximum(norms, 1e-12), 0.0)
    return float(scores.max())


def hangul_drawn(pixels: np.ndarray, text: str, font) -> dict[str, float]:
    """Scores of `text` (Hangul) in `pixels`; raises AssertionError unless it is drawn."""
    scores = {
        "expected": best_match(pixels, text_ink(text, font)),
        # Pillow draws a letter the font lacks as the font's missing-letter box.
        "boxes": best_match(pixels, text_ink("\U000f0000" * len(text), font)),
    }
    if len(text) > 1:
        scores["reversed"] = best_match(pixels, text_ink(text[::-1], font))
    assert scores["expected"] >= MATCH, f"{text!r} is not drawn as letters: {scores}"
    assert scores["expected"] >= scores["boxes"] + BOX_MARGIN, (
        f"{text!r} looks too much like boxes (□) in these pixels: {scores}"
    )
    assert scores["expected"] >= scores.get("reversed", 0) + REVERSED_MARGIN, (
        f"{text!r} looks as much like its letters reversed in these pixels: {scores}"
    )
    return scores


def has_hangul_glyphs(font) -> bool:
    """Whether `font` draws "한" as something other than its missing-letter box."""
    return text_ink("한", font).tobytes() != text_ink("\U000f0000", font).tobytes()


@cache
def _system_fonts() -> dict[str, tuple[str, int]]:
    """PostScript name → (file, index in the file) of every font fontconfig knows."""
    listing = subprocess.run(
        ["fc-list", "--format", "%{postscriptname}\t%{index}\t%{file}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fonts = {}
    for line in listing.splitlines():
        name, index, file = line.split("\t")
        fonts.setdefault(name, (file, int(index)))
    return fonts


def browser_hangul_font(page, locator, size_px: float):
    """The font Chromium drew `locator`'s Hangul with, as a Pillow font of `size_px`; the test
    fails unless it is a system font that has Hangul (DevTools' CSS.getPlatformFontsForNode)."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("DOM.enable")
        session.send("CSS.enable")
        handle = locator.element_handle()
        root = session.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        # Find the node through a marker attribute: DevTools numbers nodes its own way.
        handle.evaluate("node => node.setAttribute('data-hangul-check', '1')")
        marked = {"nodeId": root, "selector": "[data-hangul-check]"}
        node = session.send("DOM.querySelector", marked)
        handle.evaluate("node => node.removeAttribute('data-hangul-check')")
        used = session.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    finally:
        session.detach()
    for font in used:
        if font["isCustomFont"] or font["postScriptName"] not in _system_fonts():
            continue
        file, index = _system_fonts()[font["postScriptName"]]
        candidate = ImageFont.truetype(file, round(size_px), index=index)
        if has_hangul_glyphs(candidate):
            return candidate
    raise AssertionError(f"No font with Hangul drew {locator.inner_text()!r}: Chromium used {used}")


def check_browser_text(page, locator, text: str, name: str) -> dict[str, float]:
    """The Hangul `text` inside `locator`, as Chromium shows it: font and pixels."""
    locator.scroll_into_view_if_needed()
    size = float(locator.evaluate("node => parseFloat(getComputedStyle(node).fontSize)"))
    font = browser_hangul_font(page, locator, size)
    box = locator.bounding_box()
    shot = page.screenshot(
        clip={
            "x": max(0, box["x"] - 8),
            "y": max(0, box["y"] - 8),
            "width": box["width"] + 16,
            "height": box["height"] + 16,
        }
    )
    picture = Image.open(io.BytesIO(shot))
    picture.save(_screenshot_path(name))
    return hangul_drawn(ink(picture), text, font)


# The picture under the tab named `tab`, at its own size as the browser decoded it, as a PNG
# data URL; null while there is none. The tab is opened again whenever it is not the open one:
# a live view adds a tab when its run ends, and the tabs then start again from the first.
_TAB_PICTURE = """({tab, width}) => {
    const header = [...document.querySelectorAll('[role="tab"]')]
        .find(element => element.innerText.trim() === tab);
    if (!header) return null;
    if (header.getAttribute('aria-selected') !== 'true') {
        header.click();
        return null;
    }
    const panel = document.getElementById(header.getAttribute('aria-controls'))
        || document.querySelector('[data-testid="stTabPanel"]');
    const image = [...(panel ? panel.querySelectorAll('[data-testid="stImage"] img') : [])]
        .find(image => image.complete && image.naturalWidth >= width);
    if (!image) return null;
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    canvas.getContext('2d').drawImage(image, 0, 0);
    return canvas.toDataURL('image/png');
}"""


def tab_picture(page, tab: str, width: int, timeout_ms: int) -> Image.Image:
    """Wait for the tab named `tab` to show a picture at least `width` pixels wide; return it."""
    data_url = page.wait_for_function(
        _TAB_PICTURE, arg={"tab": tab, "width": width}, polling=250, timeout=timeout_ms
    ).json_value()
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "url_path", "heading"),
    [pytest.param(*spec, id=Path(spec[0]).stem) for spec in _ALL_PAGES],
)
def test_page_in_korean_shows_its_korean_heading_in_hangul(page, script, url_path, heading):
    """The page's Korean heading, drawn in Hangul (font and pixels); the sidebar in Korean."""
    open_page(page, f"{url_path}?lang=ko")
    shown = page.locator('[data-testid="stMain"] [data-testid="stHeading"]').filter(
        has_text=ko(heading)
    )
    shown.first.wait_for(state="visible")
    wait_for_app(page)
    wait_until_drawn(page)
    screenshot(page, f"korean-{Path(script).stem}")
    no_exception(page)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    expected = [ko("Home")] + [ko(entry.title) for entry in PAGES]
    assert [text.strip().splitlines()[-1] for text in nav.all_inner_texts()] == expected
    text = shown.first.locator("h1, h2, h3").first
    letters = max(_HANGUL_RUN.findall(ko(heading)), key=len)
    check_browser_text(page, text, letters, f"korean-{Path(script).stem}-heading")


def test_plotly_chart_draws_its_korean_titles_in_hangul(page):
    """The explorer's cost chart (drawn without training) titles its panels in Korean."""
    open_page(page, "/explorer?lang=ko")
    title = ko("Parameters")
    chart = (
        page.locator('[data-testid="stPlotlyChart"]')
        .filter(has=page.locator(".annotation-text", has_text=title))
        .first
    )
    chart.wait_for(state="visible")
    for index, words in enumerate((title, ko("Multiply-accumulates"))):
        letters = max(_HANGUL_RUN.findall(words), key=len)
        text = chart.locator(".annotation-text", has_text=words).first
        check_browser_text(page, text, letters, f"korean-explorer-chart-title-{index}")
    chart.screenshot(path=str(_screenshot_path("korean-explorer-cost-chart")))


def test_server_drawn_picture_labels_test_images_in_hangul(page):
    """The CIFAR-10 page's test-image strip (drawn with Pillow on the server) names classes in
    Korean letters: a few seconds of training on the fewest images, then Stop."""
    assert figures_live.hangul_font() is not None, "No font with Hangul on this machine"
    open_page(page, "/cifar10?lang=ko")
    page.get_by_role("heading", name=ko("CIFAR-10 live")).wait_for()
    set_slider(page, ko("Training images"), "Home")
    fill_text(page, ko("Epochs"), "200")
    click_and_wait(page, page.get_by_role("button", name=ko("Start training")))
    page.get_by_role("tab", name=ko("Test images")).wait_for(timeout=TRAIN_TIMEOUT_MS)
    # The strip, the tab's only picture: one or more test images, each 204 pixels wide.
    picture = tab_picture(page, ko("Test images"), 200, TRAIN_TIMEOUT_MS)
    picture.save(_screenshot_path("korean-cifar10-test-strip"))
    screenshot(page, "korean-cifar10-training")
    no_exception(page)
    stop = page.get_by_role("button", name=ko("Stop"), exact=True)
    try:
        click_and_wait(page, stop, timeout_ms=10_000)
    except PlaywrightTimeout:
        # 200 epochs of so few images can end by themselves, and Stop with them.
        assert stop.is_disabled(), "Stop stays enabled but cannot be pressed"

    font = figures_live.default_font(13)  # the strip's own font (cnnlib.figures_live)
    pixels = ink(picture)
    found = {}
    for english in CIFAR10_CLASS_NAMES:
        name = ko(english)
        if best_match(pixels, text_ink(name, font)) >= 0.8:
            found[name] = hangul_drawn(pixels, name, font)
    # Each test image is named with its three likeliest classes.
    assert len(found) >= 3, f"Korean class names found in the strip: {found}"


def _screenshot_path(name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR / f"{name}.png"


COSINE = "cosine: falls to zero by the last batch"  # a schedule that is not the default


def _switch_language(page, name: str) -> None:
    switch = page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]')
    click_and_wait(page, switch.get_by_text(name, exact=True))


def _settings(page, speak) -> dict[str, str]:
    """The MNIST trainer's settings under test, found by their labels in `speak`'s language."""
    batch = page.locator('[data-testid="stSlider"]').filter(has_text=speak("Batch size"))
    return {
        "epochs": page.get_by_label(speak("Epochs"), exact=True).input_value(),
        "learning rate": page.get_by_label(speak("Learning rate"), exact=True).input_value(),
        "optimizer": chosen_option(page, speak("Optimizer")),
        "batch size": batch.get_by_role("slider").get_attribute("aria-valuetext"),
    }


def test_language_switch_keeps_the_training_settings(page):
    """Settings made in English survive a switch to Korean and back, under translated labels.

    Known fault, reported as an expected failure once everything else has passed: a select
    box whose options are translated (the learning-rate schedule) shows its choice in English
    after the switch, and the switch back then resets it to its default."""
    open_page(page, "/mnist?lang=en")
    page.get_by_role("heading", name="MNIST digits").wait_for()
    fill_text(page, "Epochs", "5")
    fill_text(page, "Learning rate", "0.002")
    choose_option(page, "Optimizer", "sgd")
    choose_option(page, "Learning-rate schedule", COSINE)
    set_slider(page, "Batch size", "Home")
    english = _settings(page, str)
    assert english["epochs"] == "5" and english["learning rate"] == "0.002"
    assert english["optimizer"] == "sgd"
    schedule = "() => new URLSearchParams(location.search).get('schedule')"
    faults = []

    _switch_language(page, "한국어")
    page.get_by_role("heading", name=ko("MNIST digits")).wait_for()
    page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'ko'")
    no_exception(page)
    expect(page.get_by_label(ko("Epochs"), exact=True)).to_have_value("5")
    # The same values under Korean labels; the English labels are gone.
    assert _settings(page, ko) == english
    assert page.get_by_label("Epochs", exact=True).count() == 0
    assert page.get_by_role("button", name=ko("Start training")).is_visible()
    assert page.evaluate(schedule) == "cosine"
    shown = chosen_option(page, ko("Learning-rate schedule"))
    if shown != ko(COSINE):
        faults.append(f"in Korean the schedule box shows {shown!r}, not {ko(COSINE)!r}")
    wait_until_drawn(page)
    screenshot(page, "korean-mnist-after-switch")

    _switch_language(page, "English")
    page.get_by_role("heading", name="MNIST digits").wait_for()
    page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'en'")
    no_exception(page)
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("5")
    assert _settings(page, str) == english
    assert page.get_by_label(ko("Epochs"), exact=True).count() == 0
    shown = chosen_option(page, "Learning-rate schedule")
    if shown != COSINE or page.evaluate(schedule) != "cosine":
        faults.append(
            f"back in English the schedule is {shown!r} (address: {page.evaluate(schedule)!r})"
        )
    assert not faults, "A translated select box loses its choice on a switch: " + "; ".join(faults)
