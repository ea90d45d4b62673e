"""Fixtures for the browser tests: one dashboard server and one Chromium for the whole run, a
fresh browser context (a new Streamlit session) for each test.

Using it in a test module of this folder::

    from harness import navigate, no_exception, open_page, screenshot, start_mnist_run

    def test_a_trained_model_reaches_the_ensemble_page(page):
        open_page(page, "/mnist")           # a path of the server; loading a URL = new session
        start_mnist_run(page, "my-net")
        navigate(page, "Ensembles")         # the sidebar keeps the session (and its models)
        no_exception(page)
        screenshot(page, "ensemble-after-training")  # -> test-output/screenshots/...png

`harness` also has `wait_for_app`, `wait_until_drawn`, `click_and_wait`, `set_slider`,
`fill_text`, `choose_option`/`chosen_option` (select boxes), `plotly_points`/`wait_for_points`
(live charts), `shapes_zip` (a small upload for the own-data page) and `new_context`; see
their docstrings.

Fixtures:
- `streamlit_server` (session): `streamlit run app.py` on a free port of 127.0.0.1 with
  CNNLAB_HOME set to a temporary folder holding the small test datasets and CNNLAB_OFFLINE=1;
  a `harness.StreamlitServer` (`.url`, `.home`, `.rss_kb()`, `.log_tail()`, `.log_count()`,
  `.wait_for_log()`). Stopped, with everything it started, at the end of the run. Its log is
  in pytest's temporary folder (`.log_path`); its tail is attached to the report of every
  failing test. It runs two training slots (CNNLAB_MAX_JOBS=2) so two sessions can train at
  once.
- `start_fresh_server`: a factory for a server of the test's own, stopped after the test.
- `chromium_browser` (session): Debian's Chromium launched headless through Playwright.
- `browser_context` / `page`: a new context (cookies, storage and so a new Streamlit session)
  whose base URL is the server, closed after the test. A failing test leaves a screenshot
  named `FAILED-<test>.png`.
- `two_sessions`: two pages in two contexts, i.e. two independent users.

Every test in this folder is marked `browser`. Without Chromium the tests are skipped with the
reason, except under CI (CI=true), where they fail and say how to install it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The harness module beside this file, and the project itself (for `views._catalog`), must be
# importable whatever import mode pytest runs in.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))

import harness  # noqa: E402 - importable once the folder is on sys.path

_HERE = Path(__file__).resolve().parent
_server: harness.StreamlitServer | None = None
# Two training slots, so that two sessions can train at the same time (the default is one,
# and a second job waits in the queue).
_SERVER_ENV = {"CNNLAB_MAX_JOBS": "2"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Keep each phase's report on the item so fixtures can tell whether the test failed.
    setattr(item, f"report_{report.when}", report)
    if report.failed and _server is not None and "streamlit_server" in item.fixturenames:
        report.sections.append(("Streamlit server log (last lines)", _server.log_tail(80)))
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = harness.find_chromium()
    if path is None:
        message = (
            "Chromium is not installed: run the README's test command (bash scripts/test.sh), "
            "which installs Debian's chromium package for the browser tests."
        )
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def cnnlab_home(tmp_path_factory) -> Path:
    """A CNNLAB_HOME holding the small synthetic MNIST and CIFAR-10 sets, shared by servers."""
    return harness.write_home(tmp_path_factory.mktemp("cnnlab-home"))


@pytest.fixture(scope="session")
def server_log_dir(tmp_path_factory) -> Path:
    """Where this run's server logs go: a folder of its own, so that runs never share a log."""
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def streamlit_server(cnnlab_home, server_log_dir):
    global _server
    try:
        server = harness.start_server(
            cnnlab_home, server_log_dir / "streamlit-server.log", extra_env=_SERVER_ENV
        )
    except RuntimeError as error:
        pytest.fail(str(error))
    _server = server
    yield server
    _server = None
    server.stop()


@pytest.fixture
def start_fresh_server(cnnlab_home, server_log_dir, request):
    """Start a server of the test's own (for what only a new server shows, such as the first
    request it ever gets); it is stopped after the test. Call it as `start_fresh_server()`."""
    servers = []

    def start() -> harness.StreamlitServer:
        log_path = server_log_dir / f"{request.node.name}-{len(servers)}.log"
        try:
            servers.append(harness.start_server(cnnlab_home, log_path, extra_env=_SERVER_ENV))
        except RuntimeError as error:
            pytest.fail(str(error))
        return servers[-1]

    yield start
    for server in servers:
        if _failed(request):
            print(f"Log of the test's own server:\n{server.log_tail(80)}")
        server.stop()


@pytest.fixture(scope="session")
def chromium_browser(chromium_path):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = harness.launch_chromium(playwright, chromium_path)
        yield browser
        browser.close()
    finally:
        playwright.stop()


def _failed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is not None and report.failed


@pytest.fixture
def browser_context(chromium_browser, streamlit_server):
    context = harness.new_context(chromium_browser, streamlit_server.url)
    yield context
    context.close()


@pytest.fixture
def page(browser_context, request):
    page = browser_context.new_page()
    yield page
    if _failed(request) and not page.is_closed():
        harness.screenshot(page, f"FAILED-{request.node.name}")


@pytest.fixture
def two_sessions(chromium_browser, streamlit_server, request):
    """Two pages in two browser contexts: two users with separate Streamlit sessions."""
    contexts = [harness.new_context(chromium_browser, streamlit_server.url) for _ in range(2)]
    pages = [context.new_page() for context in contexts]
    yield pages[0], pages[1]
    for index, page in enumerate(pages):
        if _failed(request) and not page.is_closed():
            harness.screenshot(page, f"FAILED-{request.node.name}-session{index + 1}")
    for context in contexts:
        context.close()
