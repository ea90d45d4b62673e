"""How long a drawing takes to become a prediction, and how fast the MNIST models train.

Part 1, drawing to prediction: for each MNIST model of the registry (built untrained by
`cnnlib.build`; timing does not depend on the weights), draw random pen strokes on a 280×280
RGBA canvas like the page's, then time `preprocess_drawing` + `predict_proba`, and separately
the feature maps the page shows beside the prediction, and the charts of both as the page builds
them for each stroke (filled into figures built once) beside building them anew with
`cnnlib.figures`, as the page did before. Prints medians and the 95th percentile in
milliseconds; the target is under 50 ms for preprocess + predict. The whole way from a stroke to
the reading on screen, in Chromium, is `draw_latency.py`'s.

Part 2, training throughput (`--training`): trains each model for two short epochs on random
images and prints examples per second and the effective multiply-accumulates per second
(3 × forward MACs per example, for the forward and backward passes). The MNIST page's
time-per-epoch estimate divides by that figure.

Run from the project folder: `.venv/bin/python benchmarks/draw_predict.py [--training]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnlib import arithmetic, registry  # noqa: E402
from cnnlib.drawing import preprocess_drawing  # noqa: E402

CANVAS = 280
TARGET_MS = 50.0


def random_drawing(rng: np.random.Generator) -> np.ndarray:
    """White pen strokes on black, as the page's canvas returns them: (280, 280, 4) uint8."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 4)):
        points = [tuple(rng.integers(40, 240, size=2).tolist()) for _ in range(rng.integers(2, 7))]
        pen.line(points, fill=(255, 255, 255, 255), width=18, joint="curve")
    return np.asarray(image)


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000, q))


def time_charts(probabilities: np.ndarray, maps: list) -> tuple[float, float]:
    """Seconds to build a stroke's charts (probability bars, one feature-map grid per layer)
    with `cnnlib.figures` anew, and as the page builds them, from templates made once."""
    import plotly.io as pio

    from cnnlib.figures import feature_map_grid, probability_bars
    from views._mnist_widgets import feature_map_figure, probability_figure

    names = [str(digit) for digit in range(10)]
    started = time.perf_counter()
    anew = [probability_bars(probabilities, names)]
    anew += [feature_map_grid(values, title=layer, columns=8) for layer, values in maps]
    for figure in anew:
        pio.to_json(figure.to_dict(), validate=False)  # as st.plotly_chart sends it
    middle = time.perf_counter()
    fast = [probability_figure(probabilities, names)]
    fast += [feature_map_figure(values, layer) for layer, values in maps]
    for figure in fast:
        pio.to_json(figure.to_dict(), validate=False)
    return middle - started, time.perf_counter() - middle


def time_drawing(models: list, repeats: int) -> None:
    from cnnlib.build import build_model
    from cnnlib.inference import feature_maps, predict_proba

    rng = np.random.default_rng(0)
    drawings = [random_drawing(rng) for _ in range(32)]
    header = (
        f"{'model':<28} {'params':>9} {'MACs':>11}  {'pre+predict median':>18} {'p95':>7}"
        f"  {'preprocess':>10}  {'feature maps':>12}  {'< 50 ms':>7}"
        f"  {'charts anew':>11}  {'charts now':>10}"
    )
    print(header)
    print("-" * len(header))
    for entry in models:
        analysis = arithmetic.analyse(entry.network)
        model = build_model(entry.network)
        # The first calls trace the compiled functions; a page pays that once per model.
        predict_proba(model, preprocess_drawing(drawings[0]))
        feature_maps(model, preprocess_drawing(drawings[0]))
        total, pre, maps, anew, now = [], [], [], [], []
        for index in range(repeats):
            drawing = drawings[index % len(drawings)]
            started = time.perf_counter()
            image = preprocess_drawing(drawing)
            middle = time.perf_counter()
            probabilities = predict_proba(model, image)[0]
            ended = time.perf_counter()
            layers = feature_maps(model, image)
            maps.append(time.perf_counter() - ended)
            if index < max(repeats // 4, 1):
                charts = time_charts(probabilities, layers)
                anew.append(charts[0])
                now.append(charts[1])
            total.append(ended - started)
            pre.append(middle - started)
        median, p95 = percentile_ms(total, 50), percentile_ms(total, 95)
        print(
            f"{entry.key:<28} {analysis.total_params:>9,} {analysis.total_macs:>11,}  "
            f"{median:>15.2f} ms {p95:>4.1f} ms  {statistics.median(pre) * 1000:>7.2f} ms"
            f"  {percentile_ms(maps, 50):>9.2f} ms  {'yes' if p95 < TARGET_MS else 'NO':>7}"
            f"  {percentile_ms(anew, 50):>8.1f} ms  {percentile_ms(now, 50):>7.1f} ms"
        )


def time_training(models: list, images: int) -> None:
    from cnnlib.build import build_model
    from cnnlib.training import TrainingJob, TrainSettings

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(images, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, size=images)
    data = SimpleNamespace(
        x_train=x, y_train=y, x_test=x[:200], y_test=y[:200], class_names=list("0123456789")
    )
    settings = TrainSettings(epochs=2, batch_size=128, precision="float32", validation_split=0)
    print(f"\nTraining throughput, batch 128, float32, second epoch of {images:,} images:")
    print(f"{'model':<28} {'examples/s':>10} {'effective MAC/s':>16}")
    for entry in models:
        network = entry.network
        job = TrainingJob(lambda policy, n=network: build_model(n, policy), data, settings)
        job.start().wait()
        snap = job.snapshot()
        if snap["error"]:
            print(f"{entry.key:<28} failed: {snap['error']}")
            continue
        seconds = snap["epoch_history"][-1]["seconds"]
        rate = images / seconds
        macs = arithmetic.analyse(network).total_macs
        print(f"{entry.key:<28} {rate:>10,.0f} {3 * macs * rate:>16.3g}")
        job.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200, help="drawings timed per model")
    parser.add_argument("--training", action="store_true", help="also time training")
    parser.add_argument("--images", type=int, default=3000, help="training images per epoch")
    args = parser.parse_args()
    models = registry.for_dataset("mnist")
    time_drawing(models, args.repeats)
    if args.training:
        time_training(models, args.images)


if __name__ == "__main__":
    main()
