"""How soon a newcomer sees the home page: starts the dashboard, waits for its health check, then
times, in Chromium, navigation start to the moment the "CNN Lab" title is visible.

The first load is the cold one (a new server, a new session); the next loads are warm (each a new
browser context, so a new session, on the same server). The target is a cold figure under 2 s.

Run from the project folder:  .venv/bin/python benchmarks/first_paint.py [--runs 5]
It uses the small synthetic datasets of the test suite in a temporary CNNLAB_HOME and needs
Debian's chromium (the README's test command installs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import harness  # noqa: E402

TARGET_S = 2.0

# Resolves, at the first animation frame where the home page's title is laid out and visible,
# to the milliseconds since navigation started (performance.now() counts from there).
_TITLE_VISIBLE_MS = """() => {
    const title = [...document.querySelectorAll('h1')].find(h => h.textContent.includes('CNN Lab'));
    return title && title.offsetParent !== null ? performance.now() : null;
}"""


def time_first_paint(browser, server) -> float:
    """One load of "/" in a new context: seconds from navigation start to the title visible."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto("/", wait_until="commit")
        handle = page.wait_for_function(_TITLE_VISIBLE_MS, polling="raf", timeout=60_000)
        return handle.json_value() / 1000
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="loads in all, the first cold")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as folder, sync_playwright() as pw:
        # The browser starts before the server so that its own start-up is not counted.
        browser = harness.launch_chromium(pw)
        home = harness.write_home(Path(folder) / "home")
        started = time.monotonic()
        server = harness.start_server(home, Path(folder) / "server.log")
        health_s = time.monotonic() - started
        try:
            loads = []
            for _ in range(arguments.runs):
                loads.append(time_first_paint(browser, server))
        finally:
            server.stop()
            browser.close()

    cold = loads[0]
    print(f"server start to health check answered: {health_s:.2f} s")
    print(f"cold load: title visible {cold:.2f} s after navigation start")
    if len(loads) > 1:
        warm = loads[1:]
        print(
            f"warm loads ({len(warm)}): title visible median {statistics.median(warm):.2f} s, "
            f"max {max(warm):.2f} s"
        )
    verdict = "within" if cold < TARGET_S else "OVER"
    print(f"first paint {cold:.2f} s: {verdict} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
