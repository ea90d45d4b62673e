"""The CIFAR-10 page's gradient view in Chromium, as ConvNetJS shows backpropagation: while a
run trains, each layer's activation- and weight-gradient ranges and its gradient maps appear
beside the activation maps and change without a refresh."""

from __future__ import annotations

import json

from harness import click_and_wait, fill_text, no_exception, open_page, screenshot, set_slider

TRAIN_TIMEOUT_MS = 240_000
# The first gradient line of the page: the first layer's activation-gradient range.
FIRST_GRADIENT = """() => {
    const line = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
        .map(caption => caption.innerText)
        .find(text => text.startsWith('activation gradients: min'));
    return line || null;
}"""


def test_gradient_panel_updates_while_training(page):
    open_page(page, "/cifar10")
    page.get_by_text("Network definition", exact=False).first.wait_for()
    set_slider(page, "Training images", "Home")
    fill_text(page, "Epochs", "200")
    click_and_wait(page, page.get_by_role("button", name="Start training"))
    page.wait_for_function(f"({FIRST_GRADIENT})() !== null", timeout=TRAIN_TIMEOUT_MS)
    first = page.evaluate(FIRST_GRADIENT)
    # Each probe takes another training image, so the ranges move as the page redraws.
    page.wait_for_function(
        f"({FIRST_GRADIENT})() !== null && ({FIRST_GRADIENT})() !== {json.dumps(first)}",
        timeout=TRAIN_TIMEOUT_MS,
    )
    assert page.evaluate(FIRST_GRADIENT) != first
    page.get_by_text("weight gradients: min", exact=False).first.wait_for()
    page.get_by_text("Gradient maps", exact=False).first.wait_for()
    maps = page.locator('[data-testid="stImage"]').filter(has_text="Gradient maps").first
    maps.locator("img").wait_for()
    no_exception(page)
    screenshot(page, "cifar10-gradients")
    click_and_wait(page, page.get_by_role("button", name="Stop"))
    no_exception(page)
