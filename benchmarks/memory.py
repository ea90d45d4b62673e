"""Does the server's memory hold over many training runs? Starts the dashboard, and in one
browser session trains ten short MNIST runs in a row, printing the server's resident memory
(VmRSS) after each.

Every run's model stays in the session (that is the dashboard's promise), so some growth per
run is expected: about the size of one small model. What must not happen is growth that keeps
accelerating or that is much larger than the models kept (Keras graphs, old jobs, figures not
freed). The summary prints the growth per run over the second half of the runs.

Run from the project folder:  .venv/bin/python benchmarks/memory.py [--runs 10] [--remove]
With --remove each model is removed from the session after its run, so any growth left is
memory the server did not free.
It uses the test suite's small synthetic datasets in a temporary CNNLAB_HOME (the default
run, 3 epochs on 540 images, ends in seconds) and needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import harness  # noqa: E402

RUN_TIMEOUT_MS = 300_000


def mib(kib: int) -> float:
    return kib / 1024


def remove_from_session(page) -> None:
    """Models tab, "In this session": remove the selected (the only) model; back to Train."""
    page.get_by_role("tab", name="Models").click()
    harness.click_and_wait(page, page.get_by_role("button", name="Remove from session"))
    page.get_by_text("No model yet").first.wait_for()
    page.get_by_role("tab", name="Train").click()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="training runs in a row")
    parser.add_argument(
        "--remove",
        action="store_true",
        help="remove each model from the session after its run (Models tab), so that what "
        "is left over is what the server failed to free",
    )
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as folder, sync_playwright() as pw:
        browser = harness.launch_chromium(pw)
        home = harness.write_home(Path(folder) / "home")
        server = harness.start_server(home, Path(folder) / "server.log")
        try:
            page = harness.new_context(browser, server.url).new_page()
            harness.open_page(page, "/mnist")
            baseline = server.rss_kb()
            print(f"MNIST page loaded:  {mib(baseline):7.1f} MiB")
            readings = []
            for run in range(1, arguments.runs + 1):
                started = time.monotonic()
                name = f"memory-run-{run}"
                harness.start_mnist_run(page, name)
                page.get_by_text(f"Kept in this session as '{name}'").wait_for(
                    timeout=RUN_TIMEOUT_MS
                )
                harness.wait_for_app(page)
                harness.no_exception(page)
                if arguments.remove:
                    remove_from_session(page)
                readings.append(server.rss_kb())
                print(
                    f"after run {run:2d}: {mib(readings[-1]):7.1f} MiB "
                    f"({mib(readings[-1] - baseline):+6.1f} MiB since the page loaded, "
                    f"run took {time.monotonic() - started:4.1f} s)",
                    flush=True,
                )
        except Exception:
            print(f"Server log:\n{server.log_tail(60)}")
            raise
        finally:
            server.stop()
            browser.close()

    half = len(readings) // 2
    if len(readings) >= 4:
        late = readings[half:]
        per_run = (late[-1] - late[0]) / (len(late) - 1)
        print(
            f"growth over runs {half + 1}-{len(readings)}: {mib(per_run):+.1f} MiB per run; "
            f"first run to last: {mib(readings[-1] - readings[0]):+.1f} MiB"
        )


if __name__ == "__main__":
    main()
