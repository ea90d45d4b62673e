"""Drives the dashboard in a real browser: starts `streamlit run app.py`, launches Debian's
Chromium through Playwright, and waits on what a user would wait for.

Plain functions and one small class, no pytest: `conftest.py` beside this file turns them into
fixtures, and the scripts in `benchmarks/` use them directly. Playwright never downloads a
browser here; it drives the system's `chromium` (the README's test command installs it).

What a page must look like to count as loaded, as Streamlit's own browser tests check it: the
`stApp` element reports a live connection (`data-test-connection-state="CONNECTED"`) and a
finished script run (`data-test-script-state="notRunning"`).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

# The shapes of `shapes_zip`: its class folders, named in Korean, and what each holds.
SHAPE_CLASSES = {"동그라미": "circle", "네모": "square"}

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "test-output"  # the test run's output folder (gitignored)
SCREENSHOT_DIR = OUTPUT_DIR / "screenshots"

# Headless Chromium in a container: no sandbox (no user namespaces), no GPU, and none of the
# background traffic a first run would start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Generous defaults: the machine may be busy, and a page's first visit imports TensorFlow.
LOAD_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 1000}
MAX_SCREENSHOT_HEIGHT = 8000  # pixels; longer pages are cut there
HEALTH_TIMEOUT_S = 90.0

_APP = '[data-testid="stApp"]'
_CONNECTED = f'{_APP}[data-test-connection-state="CONNECTED"]'
_SCRIPT_IDLE = f'{_APP}[data-test-script-state="notRunning"]'
_SCRIPT_RUNNING = f'{_APP}[data-test-script-state="running"]'


def find_chromium() -> str | None:
    """The path of the system's Chromium, or None when it is not installed."""
    return shutil.which("chromium")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_home(home: Path) -> Path:
    """Fill `home` (a CNNLAB_HOME) with the test suite's small datasets and return it."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.datafiles import write_small_home

    home.mkdir(parents=True, exist_ok=True)
    write_small_home(home)
    return home


@dataclass
class StreamlitServer:
    """A running `streamlit run app.py`; `stop()` ends it and every process it started."""

    process: subprocess.Popen
    port: int
    home: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 120) -> str:
        """The last `lines` lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_count(self, text: str) -> int:
        """How many times `text` occurs in the server's log so far."""
        return self.log_path.read_text(errors="replace").count(text)

    def wait_for_log(self, text: str, timeout_s: float = 30.0, count: int = 1) -> bool:
        """Wait until `text` occurs `count` times in the server's log; False if not in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log_count(text) >= count:
                return True
            time.sleep(0.2)
        return False

    def rss_kb(self) -> int:
        """The server's resident memory in KiB (VmRSS of /proc/<pid>/status)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"No VmRSS for server process {self.process.pid}")
        return int(match.group(1))

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        """Terminate the server's process group, then kill it if it has not gone in time."""
        if self.process.poll() is not None:
            return
        # The server runs in a process group of its own (start_new_session), so this reaches
        # anything it started and nothing else.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout_s)
        except ProcessLookupError:
            pass


def start_server(
    home: Path,
    log_path: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = HEALTH_TIMEOUT_S,
    project: Path = REPO_ROOT,
) -> StreamlitServer:
    """Start `<this python> -m streamlit run app.py` in `project` (this checkout unless
    another is given, as a benchmark comparing versions does) with CNNLAB_HOME=`home`, offline.

    Returns once `/_stcore/health` answers "ok". If the server exits or does not answer
    within `timeout_s`, it is stopped and RuntimeError carries the end of its log.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CNNLAB_HOME=str(home),
        CNNLAB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        # Keep TensorFlow's start-up chatter out of the log so real errors stand out.
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra_env or {})
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Tests never edit sources while the server runs; watching them costs CPU.
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = StreamlitServer(process=process, port=port, home=home, log_path=log_path)
    try:
        wait_for_health(server, timeout_s)
    except Exception:
        server.stop()
        raise
    return server


def wait_for_health(server: StreamlitServer, timeout_s: float = HEALTH_TIMEOUT_S) -> float:
    """Poll `/_stcore/health` until it answers "ok"; return the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        if not server.is_running():
            raise RuntimeError(
                f"The Streamlit server exited with code {server.process.returncode} before "
                f"answering its health check. Server log:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200 and answer.read().strip() == b"ok":
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"The Streamlit server did not answer {server.url}/_stcore/health within "
        f"{timeout_s:.0f} s. Server log:\n{server.log_tail()}"
    )


def launch_chromium(playwright, executable_path: str | None = None):
    """Launch headless Debian Chromium through a started Playwright instance."""
    executable_path = executable_path or find_chromium()
    if executable_path is None:
        raise RuntimeError(
            "Chromium is not installed. Run the README's test command (scripts/test.sh), "
            "which installs Debian's chromium package."
        )
    return playwright.chromium.launch(
        executable_path=executable_path, headless=True, args=CHROMIUM_ARGS
    )


def new_context(browser, base_url: str):
    """A new browser context (a new user, so a new Streamlit session) for `base_url`."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(LOAD_TIMEOUT_MS)
    return context


def wait_for_app(page, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Wait until the page is connected to the server and its script run has finished."""
    page.wait_for_selector(_CONNECTED, state="attached", timeout=timeout_ms)
    page.wait_for_selector(_SCRIPT_IDLE, state="attached", timeout=timeout_ms)


def wait_until_drawn(page, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Wait until the main area shows no placeholder: a finished script run can still leave
    grey skeletons where its widgets are about to be drawn."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stMain"] [data-testid="stSkeleton"]')""",
        timeout=timeout_ms,
    )


def open_page(page, url_path: str, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Load `url_path` ("/", "/mnist", ...) of the server the page's context points at."""
    page.goto(url_path, wait_until="domcontentloaded", timeout=timeout_ms)
    wait_for_app(page, timeout_ms)


def click_and_wait(page, locator, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Click `locator` and wait for the rerun it causes to finish.

    A rerun can be over before the browser reports it as started, so the wait for the
    running state is short and allowed to miss; the wait for the idle state is not.
    """
    locator.click(timeout=timeout_ms)
    try:
        page.wait_for_selector(_SCRIPT_RUNNING, state="attached", timeout=2_000)
    except PlaywrightTimeout:
        pass
    wait_for_app(page, timeout_ms)


def navigate(page, title: str, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Go to the page called `title` through the sidebar, staying in the same session.

    `page.goto` or a reload opens a new Streamlit session (its models and jobs are left
    behind); clicking the navigation does not.
    """
    link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first
    link.click(timeout=timeout_ms)
    page.wait_for_timeout(300)
    wait_for_app(page, timeout_ms)


def choose_option(page, label: str, option: str, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Pick `option` (its text as shown) in the select box labelled `label`; wait for the
    rerun. The list closes again when the page scrolls just after it opened (as it does when
    the box had first to be scrolled into view), so opening is tried until the option shows."""
    combobox = page.get_by_role("combobox", name=label, exact=True)
    opener = page.locator('[data-testid="stSelectbox"]').filter(has=combobox).first
    choice = page.get_by_role("option", name=option, exact=True)
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        opener.get_by_role("button", name="Open").click(timeout=timeout_ms)
        try:
            choice.wait_for(timeout=3_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    click_and_wait(page, choice, timeout_ms)


def chosen_option(page, label: str) -> str:
    """The text the select box labelled `label` shows as chosen."""
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def set_slider(page, label: str, key: str) -> None:
    """Move the slider (or select slider) labelled `label` with a key: "Home", "End",
    "ArrowLeft", "ArrowRight"; then wait for the rerun."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")
    thumb.focus()
    thumb.press(key)
    page.wait_for_timeout(300)
    wait_for_app(page)


def fill_text(page, label: str, text: str) -> None:
    """Type `text` into the text input labelled `label` and commit it (Enter)."""
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    page.wait_for_timeout(300)
    wait_for_app(page)


def plotly_points(page) -> int:
    """How many data points the page's visible Plotly charts draw, over all their traces.

    Plotly keeps each trace's length as `_length` in the chart element's `_fullData`; charts of
    zero height are stale copies Streamlit keeps while a fragment redraws, and are skipped.
    """
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
            .filter(chart => chart.getBoundingClientRect().height > 0)
            .map(chart => chart.querySelector('.js-plotly-plot'))
            .filter(plot => plot && plot._fullData)
            .reduce((total, plot) => total + plot._fullData.reduce(
                (sum, trace) => sum + (trace._length || 0), 0), 0)"""
    )


def start_mnist_run(
    page, name: str, long_run: bool = False, timeout_ms: int = LOAD_TIMEOUT_MS
) -> None:
    """On the MNIST page's Train tab: name the model, then start training.

    The short run (one epoch of batch 128 on the fewest training images offered) ends in
    seconds on an idle machine; `long_run` (30 epochs of batch 16) trains long enough to
    watch and has to be stopped. Returns once the run's heading shows.
    """
    if long_run:
        fill_text(page, "Epochs", "30")
        set_slider(page, "Batch size", "Home")
    else:
        fill_text(page, "Epochs", "1")
        set_slider(page, "Training images", "Home")
    fill_text(page, "Name for the trained model", name)
    page.get_by_role("button", name="Start training").click()
    # While a job runs its view redraws every second, so the page is seldom idle: wait for
    # the run's heading instead, which stays once a short run has ended.
    page.get_by_role("heading", name=f"Run: {name}").wait_for(timeout=timeout_ms)


def wait_for_points(page, more_than: int, timeout_s: float = 180.0) -> int:
    """Wait until the page's charts draw more than `more_than` points; return the count."""
    deadline = time.monotonic() + timeout_s
    count = plotly_points(page)
    while count <= more_than:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"The charts still draw {count} points after {timeout_s:.0f} s "
                f"(waiting for more than {more_than})."
            )
        page.wait_for_timeout(250)
        count = plotly_points(page)
    return count


def exception_texts(page) -> list[str]:
    """The text of every exception box Streamlit shows on the page."""
    return [box.inner_text() for box in page.locator('[data-testid="stException"]').all()]


def no_exception(page) -> None:
    """Raise AssertionError, with their text, if the page shows any exception box."""
    texts = exception_texts(page)
    if texts:
        shown = "\n---\n".join(text[:2000] for text in texts)
        raise AssertionError(f"The page shows {len(texts)} exception box(es):\n{shown}")


def screenshot(page, name: str) -> Path:
    """Save a PNG of the whole page as test-output/screenshots/<name>.png; return its path.

    Streamlit scrolls its main area inside the window, so a "full page" capture would stop at
    the window's edge: the window is made as tall as the content for the capture.
    """
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "page"
    path = SCREENSHOT_DIR / f"{safe_name}.png"
    viewport = page.viewport_size or VIEWPORT
    content_height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return main ? main.scrollHeight : document.documentElement.scrollHeight;
        }"""
    )
    height = max(viewport["height"], min(int(content_height), MAX_SCREENSHOT_HEIGHT))
    page.set_viewport_size({"width": viewport["width"], "height": height})
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(viewport)
    return path


def draw_seven(page) -> None:
    """Draw a 7 on the MNIST page's canvas in one mouse stroke: the bar across the top, then
    the long diagonal down."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    left, top = box["x"], box["y"]
    page.mouse.move(left + 80, top + 60)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(left + 80 + step * 8, top + 60)
    for step in range(1, 26):
        page.mouse.move(left + 200 - step * 3.6, top + 60 + step * 7.6)
    page.mouse.up()


def upload_file(page, label_text: str, path: Path) -> None:
    """Give the file uploader whose label contains `label_text` the file at `path`, as a user
    choosing it in the file dialog would; then wait for the rerun."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label_text).first
    uploader.locator('input[type="file"]').set_input_files(str(path))
    page.wait_for_timeout(300)
    wait_for_app(page)


def open_expander(page, label: str) -> None:
    """Open the expander whose title reads `label` and wait for the rerun it may cause."""
    expander = page.locator('[data-testid="stExpander"]').filter(has_text=label).first
    expander.get_by_text(label, exact=True).first.click()
    page.wait_for_timeout(300)
    wait_for_app(page)


def plotly_chart_titled(page, title_start: str):
    """The first visible Plotly chart whose title starts with `title_start`, once drawn."""
    chart = (
        page.locator('[data-testid="stPlotlyChart"]')
        .filter(has=page.locator(".gtitle", has_text=title_start))
        .first
    )
    chart.wait_for(state="visible")
    return chart


def shapes_zip(per_class: int = 12) -> bytes:
    """A zip of class folders as a student uploads it to the own-data page: light circles and
    squares on dark backgrounds in folders named in Korean (`SHAPE_CLASSES`), PNG and JPEG
    files of several sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for folder, shape in SHAPE_CLASSES.items():
            for index in range(per_class):
                side = int(rng.integers(24, 48))
                yy, xx = np.mgrid[:side, :side] / side - 0.5
                if shape == "circle":
                    mask = xx**2 + yy**2 < 0.12
                else:
                    mask = (abs(xx) < 0.3) & (abs(yy) < 0.3)
                pixels = np.where(mask, 220, 30).astype(np.uint8)
                pixels = np.stack([pixels, pixels // 2, 255 - pixels], axis=-1)
                data = io.BytesIO()
                kind = "PNG" if index % 2 else "JPEG"
                Image.fromarray(pixels).save(data, format=kind)
                archive.writestr(f"shapes/{folder}/{index}.{kind.lower()}", data.getvalue())
    return out.getvalue()
