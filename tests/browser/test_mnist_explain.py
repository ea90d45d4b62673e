"""The MNIST page's explanations in Chromium: train briefly, draw a digit, open "Why did it say
that?" and see the three overlays drawn over the 28×28 image the model read, for its answer.
Only a browser can do this: the drawing is a JavaScript canvas."""

from __future__ import annotations

from harness import (
    click_and_wait,
    draw_seven,
    fill_text,
    no_exception,
    open_expander,
    open_page,
    plotly_chart_titled,
    screenshot,
    wait_for_app,
)

TRAIN_TIMEOUT_MS = 240_000
PROMPT = "Draw a digit on the black square"


def test_draw_a_digit_then_ask_why(page):
    open_page(page, "/mnist")
    page.get_by_text("Multiply-adds per image", exact=True).wait_for()
    fill_text(page, "Epochs", "1")
    page.get_by_text("Training for 1 epoch:").wait_for()
    wait_for_app(page)
    click_and_wait(page, page.get_by_role("button", name="Start training"))
    page.get_by_text("Kept in this session").wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_for_app(page)

    page.get_by_role("tab", name="Draw a digit").click()
    page.get_by_text(PROMPT).wait_for()
    draw_seven(page)
    page.get_by_text(PROMPT).wait_for(state="detached")
    wait_for_app(page)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="It reads")
    digit = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert digit in [str(d) for d in range(10)]
    # Nothing is explained until asked: the reading stays fast.
    assert page.locator(".gtitle", has_text="Saliency for").count() == 0

    open_expander(page, "Why did it say that?")
    for title in (f"Saliency for {digit}", f"Grad-CAM for {digit} on ", f"Occlusion for {digit}"):
        chart = plotly_chart_titled(page, title)
        # The image the model read, and the heat map drawn over it.
        chart.locator(".imagelayer image").first.wait_for(state="attached")
        chart.locator(".heatmaplayer image, .hm image").first.wait_for(state="attached")
    page.get_by_text("Explain the class").first.wait_for()
    screenshot(page, "mnist-why-did-it-say-that")
    no_exception(page)
