"""Every page of the dashboard, loaded in Chromium as a newcomer would load it: no exception
box, a heading and at least one control, and a screenshot for review.

The pages are the home page plus the catalog `app.py` builds its navigation from; a catalog
page whose script does not exist yet is skipped (app.py does not route it either).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from harness import (
    REPO_ROOT,
    click_and_wait,
    new_context,
    no_exception,
    open_page,
    plotly_points,
    screenshot,
    start_mnist_run,
    wait_for_app,
    wait_for_points,
)

from views._catalog import PAGES

# Streamlit derives a page's URL from its script's name; the home page is the default, at "/".
_ALL_PAGES = [("views/home.py", "Home", "/")] + [
    (entry.path, entry.title, "/" + Path(entry.path).stem) for entry in PAGES
]


# What counts as a control a user can act on.
_CONTROLS = ", ".join(
    f'[data-testid="stMain"] [data-testid="{test_id}"]'
    for test_id in (
        "stButton",
        "stFormSubmitButton",
        "stDownloadButton",
        "stPageLink",
        "stSelectbox",
        "stMultiSelect",
        "stRadio",
        "stSlider",
        "stSelectSlider",
        "stNumberInput",
        "stSegmentedControl",
        "stButtonGroup",
        "stFileUploader",
        "stCheckbox",
        "stToggle",
        "stTextInput",
        "stTextArea",
    )
)


@pytest.mark.parametrize(
    ("script", "title", "url_path"),
    [pytest.param(*spec, id=Path(spec[0]).stem) for spec in _ALL_PAGES],
)
def test_page_loads_with_its_controls(page, script, title, url_path):
    open_page(page, url_path)
    screenshot(page, Path(script).stem)
    no_exception(page)

    assert page.get_by_text("Page not found").count() == 0
    # The sidebar's navigation must name this page.
    nav_link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title)
    assert nav_link.count() == 1, f"The sidebar does not list {title!r}"

    heading = page.locator('[data-testid="stMain"] [data-testid="stHeading"]').first
    heading.wait_for(state="visible")
    assert heading.inner_text().strip(), f"{script} shows an empty heading"

    controls = page.locator(_CONTROLS)
    # The heading can arrive a moment before the widgets below it: wait for the first one.
    controls.first.wait_for(state="visible")
    assert controls.count() >= 1, f"{script} shows no button, select or other control"


def test_home_lists_pages_in_visiting_order(page):
    """The home page links every existing page, numbered in the order to visit them."""
    open_page(page, "/")
    existing = list(PAGES)
    links = page.locator('[data-testid="stMain"] [data-testid="stPageLink"]')
    # The links are drawn a moment after the page's first elements: wait for the last of them.
    links.nth(len(existing) - 1).wait_for()
    # A link's text starts with its icon's name (Material icons are a font); the label ends it.
    labels = [text.strip().splitlines()[-1] for text in links.all_inner_texts()]
    expected = [f"{step}. {entry.title}" for step, entry in enumerate(existing, start=1)]
    assert [label for label in labels if label in expected] == expected

    # Following the first link reaches that page.
    if existing:
        links.first.click()
        page.wait_for_url(f"**/{Path(existing[0].path).stem}")
        no_exception(page)


def test_unknown_address_lands_on_home_without_an_error(page):
    open_page(page, "/no-such-page")
    no_exception(page)
    page.get_by_role("heading", name="CNN Lab").wait_for(state="visible")


def test_bookmarked_page_opens_as_a_new_servers_first_request(chromium_browser, start_fresh_server):
    """A student reopens a bookmark after the server restarted. Streamlit serves a new
    server's first request in its older multipage mode (every file of `pages/` becomes a page,
    app.py does not run) until something calls st.navigation; the page must still work.

    Only a new server shows this, once, so one page is tried here (the first of the catalog,
    which needs no TensorFlow); test_first_run checks that every page takes the same step.
    """
    script, title, url_path = _ALL_PAGES[1]
    server = start_fresh_server()
    context = new_context(chromium_browser, server.url)
    try:
        page = context.new_page()
        open_page(page, url_path)
        # The page may rerun itself through app.py once; let that run finish too.
        page.wait_for_timeout(500)
        wait_for_app(page)
        screenshot(page, f"first-request-{Path(script).stem}")
        no_exception(page)
        page.get_by_role("heading", name=title).first.wait_for(state="visible")
        expected = [page_title for _, page_title, _ in _ALL_PAGES]
        nav = page.locator('[data-testid="stSidebarNav"] a')
        assert [text.strip().splitlines()[-1] for text in nav.all_inner_texts()] == expected
    finally:
        context.close()


def test_live_chart_gains_points_while_training_without_a_refresh(page):
    """Start a run on the MNIST page and watch its chart grow by itself, three times over;
    then Stop ends the run and the page offers a new one."""
    open_page(page, "/mnist")
    start_mnist_run(page, "live-chart-check", long_run=True)
    counts = [wait_for_points(page, 0)]
    for _ in range(3):
        counts.append(wait_for_points(page, counts[-1]))
    screenshot(page, "mnist-training-live")
    no_exception(page)
    assert counts == sorted(set(counts)), counts

    click_and_wait(page, page.get_by_role("button", name="Stop"))
    page.get_by_role("button", name="Start training").and_(page.locator(":enabled")).wait_for(
        timeout=60_000
    )
    no_exception(page)
    frozen = plotly_points(page)
    page.wait_for_timeout(2_500)
    assert plotly_points(page) == frozen, "The chart still grows after Stop"


def test_upload_over_the_servers_limit_is_refused_with_a_message(page, tmp_path):
    """A model file larger than the server's upload limit (server.maxUploadSize) is refused
    in the browser, with a message, before any byte reaches the page's code."""
    limit_mb = tomllib.loads((REPO_ROOT / ".streamlit/config.toml").read_text())["server"][
        "maxUploadSize"
    ]
    huge = tmp_path / "huge.keras"
    with open(huge, "wb") as file:
        file.truncate((limit_mb + 1) * 1024 * 1024)
    open_page(page, "/cifar10")
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="snapshot")
    uploader.locator('input[type="file"]').set_input_files(str(huge))
    uploader.get_by_text("or smaller").wait_for()
    assert f"{limit_mb}" in uploader.inner_text()
    no_exception(page)
    screenshot(page, "cifar10-oversized-upload")
