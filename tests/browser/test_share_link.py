"""Links that share a setup, in Chromium: a link copied from one page, opened in a fresh
browser context (a new session), shows the same network and settings; a tampered link shows
a message and the page's defaults."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from harness import (
    choose_option,
    chosen_option,
    click_and_wait,
    fill_text,
    navigate,
    new_context,
    no_exception,
    open_page,
    screenshot,
    shapes_zip,
    wait_for_app,
)
from playwright.sync_api import expect

from cnnlib import own_data
from cnnlib.own_data import ImportSettings

COSINE = "cosine: falls to zero by the last batch"  # a schedule that is not the default


def copied_link(page) -> str:
    """The link in the page's "Share this setup" box, as its copy button would copy it."""
    box = page.locator('[data-testid="stExpander"]').filter(has_text="Share this setup")
    box.get_by_text("Share this setup").click()
    code = box.locator('[data-testid="stCode"] code')
    code.wait_for(state="visible")
    return code.inner_text().strip()


def setup_of(page) -> dict[str, str]:
    return {
        "epochs": page.get_by_label("Epochs", exact=True).input_value(),
        "lr": page.get_by_label("Learning rate", exact=True).input_value(),
        "network": page.get_by_label("Edit it, then press Start or Change network").input_value(),
        "optimizer": chosen_option(page, "Optimizer"),
        "schedule": chosen_option(page, "Learning-rate schedule"),
    }


def test_a_trainer_link_opens_the_same_setup_in_a_fresh_session(
    page, chromium_browser, streamlit_server
):
    open_page(page, "/cifar10")
    page.get_by_text("Network definition", exact=False).first.wait_for()
    fill_text(page, "Epochs", "7")
    fill_text(page, "Learning rate", "0.003")
    network = page.get_by_label("Edit it, then press Start or Change network")
    edited = network.input_value().replace('"filters": 16', '"filters": 12', 1)
    assert edited != network.input_value()
    network.fill(edited)
    network.press("Control+Enter")
    page.wait_for_function(
        "() => new URLSearchParams(location.search).get('epochs') === '7'"
        " && new URLSearchParams(location.search).get('net')?.startsWith('z.')"
    )
    before = setup_of(page)
    link = copied_link(page)
    # The address bar holds the same setup as the link to copy.
    assert parse_qs(urlsplit(link).query) == parse_qs(urlsplit(page.url).query)
    assert urlsplit(link).path == "/cifar10"
    screenshot(page, "share-link-cifar10")

    fresh = new_context(chromium_browser, streamlit_server.url)
    try:
        other = fresh.new_page()
        other.goto(link, wait_until="domcontentloaded")
        other.get_by_text("Network definition", exact=False).first.wait_for()
        no_exception(other)
        other.get_by_text("come from a shared link").wait_for()
        wait_for_app(other)
        expect(other.get_by_label("Epochs", exact=True)).to_have_value("7")
        after = setup_of(other)
        assert after == before
        assert '"filters": 12' in after["network"]
        assert other.get_by_role("button", name="Start training").is_enabled()
        screenshot(other, "share-link-cifar10-opened")
    finally:
        fresh.close()


def test_an_explorer_link_opens_the_same_network(page, chromium_browser, streamlit_server):
    open_page(page, "/explorer")
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Start from")
    picker.click()
    page.get_by_role("option", name="LeNet-5").click()
    click_and_wait(page, page.get_by_role("button", name="Load", exact=True))
    page.wait_for_function("() => new URLSearchParams(location.search).get('net') === 'lenet5'")
    link = copied_link(page)
    assert link.endswith("/explorer?net=lenet5")
    fresh = new_context(chromium_browser, streamlit_server.url)
    try:
        other = fresh.new_page()
        other.goto(link, wait_until="domcontentloaded")
        other.get_by_text("Opened 'LeNet-5' from a shared link.").wait_for()
        no_exception(other)
        totals = other.locator('[data-testid="stMetric"]').filter(has_text="Parameters")
        assert "61,706" in totals.first.inner_text()
    finally:
        fresh.close()


def test_a_tampered_link_shows_a_message_and_the_defaults(page):
    open_page(page, "/cifar10?net=convnetjs_cifar10&batch=100&epochs=9")
    message = page.get_by_text("This link's setup cannot be opened")
    message.wait_for()
    wait_for_app(page)
    no_exception(page)
    assert "batch_size" in message.inner_text()
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("10")
    page.wait_for_function("() => new URLSearchParams(location.search).get('batch') === '128'")
    screenshot(page, "share-link-tampered")


def test_another_page_of_the_session_ignores_the_last_pages_link(page):
    open_page(page, "/cifar10?dataset=mnist&net=convnetjs_mnist&epochs=4")
    page.get_by_text("come from a shared link").wait_for()
    navigate(page, "Architecture explorer")
    no_exception(page)
    page.wait_for_function("() => new URLSearchParams(location.search).get('net') !== null")
    assert "net=mnist_two_conv" in page.url and "epochs" not in page.url
    assert page.get_by_text("from a shared link").count() == 0
    navigate(page, "CIFAR-10 live")
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("4")
    # Back on its page, the setup is in the address again.
    page.wait_for_function("() => new URLSearchParams(location.search).get('epochs') === '4'")


def _opened_in_a_fresh_session(chromium_browser, server, link: str, check) -> None:
    """Open `link` on the own-data page of a new browser context, check that the page says it
    opened a shared setup, then run `check(page)`."""
    fresh = new_context(chromium_browser, server.url)
    try:
        other = fresh.new_page()
        other.goto(link, wait_until="domcontentloaded")
        wait_for_app(other)
        other.get_by_role("tab", name="Train").click()
        # What the link did: opened the setup, or refused it with the reason.
        note = other.get_by_text(re.compile("come from a shared link|cannot be opened")).first
        note.wait_for()
        wait_for_app(other)
        no_exception(other)
        assert "come from a shared link" in note.inner_text(), note.inner_text()
        check(other)
    finally:
        fresh.close()


@contextmanager
def stored_set_on_the_train_tab(page, server, title: str):
    """A stored set titled `title` (put into the server's data folder as an import would),
    picked on the own-data page's Train tab; deleted afterwards, so that other tests find the
    folder as it was."""
    stored = own_data.import_upload(shapes_zip(), title, ImportSettings(size=16), home=server.home)
    try:
        open_page(page, "/own_data")
        choose_option(page, "Dataset", stored.title)
        page.get_by_role("tab", name="Train").click()
        yield stored
    finally:
        own_data.delete_stored(stored.name, home=server.home)


def test_an_own_data_link_opens_the_same_set_and_settings(page, chromium_browser, streamlit_server):
    """A stored set is picked and given other settings; the link opens the same set and
    settings in a fresh session."""
    with stored_set_on_the_train_tab(page, streamlit_server, "shared_shapes") as stored:
        fill_text(page, "Epochs", "4")
        fill_text(page, "Learning rate", "0.005")
        choose_option(page, "Learning-rate schedule", COSINE)
        choose_option(page, "Optimizer", "sgd")
        page.wait_for_function(
            """name => {
                const query = new URLSearchParams(location.search);
                return query.get('dataset') === name && query.get('epochs') === '4'
                    && query.get('schedule') === 'cosine';
            }""",
            arg=stored.name,
        )
        before = {**setup_of(page), "set": chosen_option(page, "Dataset")}
        assert before["set"] == stored.title
        assert (before["schedule"], before["optimizer"]) == (COSINE, "sgd")
        link = copied_link(page)
        assert parse_qs(urlsplit(link).query) == parse_qs(urlsplit(page.url).query)
        assert urlsplit(link).path == "/own_data"
        screenshot(page, "share-link-own-data")

        def same_setup(other) -> None:
            expect(other.get_by_label("Epochs", exact=True)).to_have_value("4")
            assert {**setup_of(other), "set": chosen_option(other, "Dataset")} == before
            # The fresh page's address holds the same setup as the link.
            assert parse_qs(urlsplit(other.url).query) == parse_qs(urlsplit(link).query)
            assert other.get_by_role("button", name="Start training").is_enabled()
            screenshot(other, "share-link-own-data-opened")

        _opened_in_a_fresh_session(chromium_browser, streamlit_server, link, same_setup)


def test_an_own_data_link_opens_a_set_with_a_korean_name(page, chromium_browser, streamlit_server):
    with stored_set_on_the_train_tab(page, streamlit_server, "도형 모음") as stored:
        link = copied_link(page)

        def same_set(other) -> None:
            assert chosen_option(other, "Dataset") == stored.title

        _opened_in_a_fresh_session(chromium_browser, streamlit_server, link, same_set)
