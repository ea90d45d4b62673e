"""The CIFAR-10 live page in Chromium: a run started through the page keeps redrawing its
loss graph, statistics and network view without a refresh, and Stop ends it."""

from __future__ import annotations

from harness import (
    click_and_wait,
    fill_text,
    no_exception,
    open_page,
    screenshot,
    set_slider,
)

TRAIN_TIMEOUT_MS = 240_000


def test_live_charts_and_layer_view_update_without_a_refresh(page):
    open_page(page, "/cifar10")
    page.get_by_text("Network definition", exact=False).first.wait_for()
    no_exception(page)
    # Many epochs of the fewest training images: the run lasts while the page is watched.
    set_slider(page, "Training images", "Home")
    fill_text(page, "Epochs", "200")
    click_and_wait(page, page.get_by_role("button", name="Start training"))
    seen = page.locator('[data-testid="stMetric"]').filter(has_text="Examples seen")
    seen.wait_for(timeout=TRAIN_TIMEOUT_MS)

    def examples_seen() -> int:
        return int(seen.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))

    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Examples seen')
                  && parseInt(m.innerText.split('\\n').pop().replace(/,/g, '')) > 0)""",
        timeout=TRAIN_TIMEOUT_MS,
    )
    first = examples_seen()
    # No reload, no click: the live view redraws itself as training goes on.
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Examples seen')
                  && parseInt(m.innerText.split('\\n').pop().replace(/,/g, '')) > {first})""",
        timeout=TRAIN_TIMEOUT_MS,
    )
    assert examples_seen() > first
    page.get_by_text("Activation maps").first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    no_exception(page)
    screenshot(page, "cifar10-training")
    click_and_wait(page, page.get_by_role("button", name="Stop"))
    page.get_by_text("Test accuracy", exact=False).first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    no_exception(page)
