"""The CIFAR-10 page in Chromium keeps its settings and its network across a visit to another
page (it used to come back with defaults and an empty network, Start disabled)."""

from __future__ import annotations

from harness import fill_text, navigate, no_exception, open_page, screenshot


def test_settings_and_network_survive_a_visit_to_another_page(page):
    open_page(page, "/cifar10")
    page.get_by_text("Network definition", exact=False).first.wait_for()
    fill_text(page, "Epochs", "7")
    fill_text(page, "Learning rate", "0.003")
    network = page.get_by_label("Edit it, then press Start or Change network")
    text = network.input_value()
    assert '"Conv2D"' in text
    navigate(page, "Home")
    navigate(page, "CIFAR-10 live")
    no_exception(page)
    assert page.get_by_label("Epochs", exact=True).input_value() == "7"
    assert page.get_by_label("Learning rate", exact=True).input_value() == "0.003"
    assert page.get_by_label("Edit it, then press Start or Change network").input_value() == text
    start = page.get_by_role("button", name="Start training")
    assert start.is_enabled()
    assert page.get_by_text("not valid JSON").count() == 0
    screenshot(page, "cifar10-after-round-trip")
