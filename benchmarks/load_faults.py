"""A classroom's load and a few hostile students, on one server (issue 12).

Starts the dashboard on the test suite's small synthetic datasets, then drives N browser
sessions at once (default 6), each training a short MNIST run; one extra session submits a
network far too large for memory on the CIFAR-10 page and another uploads a zip bomb as a
model. Prints how many normal sessions finished their run, the server's peak memory, how long
a page switch takes while they train, what each hostile session saw and whether the server
stayed up. Then it kills the server with SIGKILL in the middle of a run, starts it again and
prints how many finished models the library holds and whether every file in it loads.

Targets: every normal session finishes, the server never dies, peak memory stays under the
budget, nothing finished is lost. Run from the project folder (needs Debian's chromium):
`.venv/bin/python benchmarks/load_faults.py [--sessions 6]`. Prints the load average with
its figures: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parents[1] / "tests")]

from playwright.sync_api import sync_playwright  # noqa: E402
from test_library import deflated_zeros, stored_entries, trained_record, zip_file  # noqa: E402

from benchmarks._common import load_average  # noqa: E402
from cnnlib.library import ModelLibrary, record_to_bytes  # noqa: E402
from tests.browser import harness  # noqa: E402

RUN_TIMEOUT_MS = 600_000
OVERSIZED = {
    "name": "one wide layer",
    "layers": [
        {"type": "Input", "shape": [32, 32, 3]},
        {"type": "Conv2D", "filters": 16384, "kernel_size": [1, 1]},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ],
}


class PeakMemory(threading.Thread):
    """Samples the server's resident memory twice a second."""

    def __init__(self, server) -> None:
        super().__init__(daemon=True)
        self.server, self.peak_kb, self.running = server, 0, True

    def run(self) -> None:
        while self.running and self.server.is_running():
            try:
                self.peak_kb = max(self.peak_kb, self.server.rss_kb())
            except (OSError, RuntimeError):
                pass
            time.sleep(0.5)


def errors(page) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="stAlert"]').all_inner_texts()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    args = parser.parse_args()
    print(f"Load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="cnnlab-load-") as folder, sync_playwright() as pw:
        folder = Path(folder)
        home = harness.write_home(folder / "home")
        bomb_path = folder / "bomb.keras"
        zeros = deflated_zeros(240 * 2**20)
        bomb_path.write_bytes(
            zip_file(
                stored_entries(record_to_bytes(trained_record()))
                + [(f"pad{i}", 8, *zeros) for i in range(4)]
            )
        )
        browser = harness.launch_chromium(pw)
        server = harness.start_server(home, folder / "server.log")
        memory = PeakMemory(server)
        memory.start()
        try:
            pages = [harness.new_context(browser, server.url).new_page() for _ in range(2)]
            students = []
            for number in range(args.sessions):
                page = harness.new_context(browser, server.url).new_page()
                harness.open_page(page, "/mnist")
                harness.start_mnist_run(page, f"student-{number + 1}")
                students.append(page)
            print(f"{args.sessions} sessions started their runs; load average {load_average()}")

            hostile, bomber = pages
            harness.open_page(hostile, "/cifar10")
            box = hostile.get_by_label("Edit it, then press Start or Change network")
            box.fill(json.dumps(OVERSIZED))
            box.press("Control+Enter")
            harness.wait_for_app(hostile)
            print("oversized network:", [text for text in errors(hostile) if "GiB" in text])

            harness.open_page(bomber, "/mnist")
            bomber.get_by_role("tab", name="Models").click()
            bomber.get_by_role("tab", name="Upload a .keras file").click()
            harness.upload_file(bomber, "A model saved by CNN Lab", bomb_path)
            bomber.get_by_text("did not unpack it", exact=False).first.wait_for(
                timeout=RUN_TIMEOUT_MS
            )
            print("zip bomb upload:  ", [text for text in errors(bomber) if "unpack" in text])

            started = time.monotonic()
            harness.navigate(students[0], "Architecture explorer")
            harness.navigate(students[0], "MNIST digits")
            print(f"page switch there and back while training: {time.monotonic() - started:.2f} s")

            finished = 0
            for number, page in enumerate(students, start=1):
                try:
                    page.get_by_text(f"Kept in this session as 'student-{number}'").wait_for(
                        timeout=RUN_TIMEOUT_MS
                    )
                    finished += 1
                except harness.PlaywrightTimeout:
                    print(f"student-{number} did not finish")
            print(
                f"normal sessions that finished their run: {finished} of {args.sessions}; "
                f"server up: {server.is_running()}; peak memory {memory.peak_kb / 1024:.0f} MiB; "
                f"load average {load_average()}"
            )

            harness.start_mnist_run(students[0], "killed-mid-run", long_run=True)
            time.sleep(3)
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(30)
            print("server killed with SIGKILL in the middle of a run")
        finally:
            memory.running = False
            server.stop()
        again = harness.start_server(home, folder / "server-again.log")
        try:
            library = ModelLibrary(home)
            entries = library.list()
            loaded = sum(library.load(entry["name"]).model is not None for entry in entries)
            students_kept = sum(entry["name"].startswith("student-") for entry in entries)
            print(
                f"after the restart: {len(entries)} models in the library, {students_kept} of "
                f"them the students' finished runs; {loaded} of {len(entries)} load; damaged "
                f"files: {sum(entry['error'] is not None for entry in entries)}"
            )
        finally:
            again.stop()
            browser.close()
    print(f"Load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
