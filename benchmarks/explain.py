"""How long the explanations take: saliency + Grad-CAM for a drawn digit, occlusion, filter
maximisation for a layer of 32 filters, and the live probe with and without its gradients.

Part 1: for each MNIST model of the registry (built untrained by `cnnlib.build`; timing does
not depend on the weights), random pen strokes on a 280×280 canvas are prepared as the MNIST
page prepares a drawing, then `saliency` followed by `grad_cam` on the last convolution are
timed for the predicted class (target: p95 under 50 ms), and `occlusion` with the panel's
patch for a 28×28 image. Part 2: `maximise_filters` for the first layer of 32 filters of each
MNIST model that has one (target: under 5 s), once as a page first meets it (compiling the
ascent included) and once more with a new seed (compiled, not cached). Part 3: one call of the
CIFAR-10 page's `LiveProbe` on the ConvNetJS CIFAR-10 network, with gradients and without;
the page calls it about once a second, so its cost is the share of training time it takes.
Part 4 (`--training`): the live page's path (a `TrainingJob` with that probe every second) in
images/s with the gradient views on and off, the second of two epochs, alternating.

The machine may be shared: the 1-minute load average is printed beside every figure, and
figures taken under load are not the machine's. Run from the project folder:
`.venv/bin/python benchmarks/explain.py [--repeats 100] [--steps 64] [--training]
[--train-size 20000]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draw_predict import random_drawing  # noqa: E402
from train_speed import BATCH_SIZE, real_or_random  # noqa: E402

from cnnlib import explain, registry  # noqa: E402
from cnnlib.drawing import preprocess_drawing  # noqa: E402

TARGET_MS = 50.0
TARGET_MAXIMISE_S = 5.0
OCCLUSION_PATCH = 6  # the explain panel's default patch for a 28×28 image
FILTERS = 32


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000, q))


def time_saliency_and_grad_cam(models: list, repeats: int) -> None:
    from cnnlib.build import build_model
    from cnnlib.inference import predict_proba

    rng = np.random.default_rng(0)
    drawings = [
        d for d in (preprocess_drawing(random_drawing(rng)) for _ in range(32)) if d is not None
    ]
    print(
        f"Saliency + Grad-CAM for a drawn digit, {repeats} drawings per model "
        f"(target p95 < {TARGET_MS:.0f} ms); occlusion with a {OCCLUSION_PATCH}-pixel patch:"
    )
    header = (
        f"{'model':<18} {'sal+cam median':>14} {'p95':>9} {'< 50 ms':>7}  "
        f"{'occlusion median':>16} {'p95':>9}  {'load':>9}"
    )
    print(header)
    print("-" * len(header))
    for entry in models:
        model = build_model(entry.network)
        first = drawings[0]
        # The first calls trace the compiled gradient function; a page pays that once per model.
        explain.grad_cam(model, first, 0)
        explain.occlusion(model, first, 0, patch=OCCLUSION_PATCH, stride=OCCLUSION_PATCH // 2)
        both, hidden = [], []
        for index in range(repeats):
            image = drawings[index % len(drawings)]
            predicted = int(predict_proba(model, image)[0].argmax())
            started = time.perf_counter()
            explain.saliency(model, image, predicted)
            explain.grad_cam(model, image, predicted)
            middle = time.perf_counter()
            if index % 4 == 0:  # occlusion is slower and less at issue: a quarter of the runs
                explain.occlusion(
                    model, image, predicted, patch=OCCLUSION_PATCH, stride=OCCLUSION_PATCH // 2
                )
                hidden.append(time.perf_counter() - middle)
            both.append(middle - started)
        p95 = percentile_ms(both, 95)
        print(
            f"{entry.key:<18} {percentile_ms(both, 50):>11.2f} ms {p95:>6.2f} ms "
            f"{'yes' if p95 < TARGET_MS else 'NO':>7}  {percentile_ms(hidden, 50):>13.2f} ms "
            f"{percentile_ms(hidden, 95):>6.2f} ms  {load():>9}"
        )


def time_maximisation(models: list, steps: int) -> None:
    from cnnlib.build import build_model
    from cnnlib.inference import conv_layer_names

    print(
        f"\nFilter maximisation, {steps} steps, every filter of the first {FILTERS}-filter "
        f"layer at once (target < {TARGET_MAXIMISE_S:.0f} s):"
    )
    for entry in models:
        model = build_model(entry.network)
        layers = [
            name for name in conv_layer_names(model) if model.get_layer(name).filters == FILTERS
        ]
        if not layers:
            print(f"{entry.key:<18} has no layer of {FILTERS} filters")
            continue
        timings = []
        for seed in (0, 1):
            settings = explain.AscentSettings(steps=steps, seed=seed)
            started = time.perf_counter()
            explain.maximise_filters(model, layers[0], settings=settings)
            timings.append((time.perf_counter() - started, load()))
        (first, first_load), (again, again_load) = timings
        verdict = "yes" if again < TARGET_MAXIMISE_S else "NO"
        print(
            f"{entry.key:<18} {layers[0]:<10} first {first:5.2f} s ({first_load})   "
            f"compiled {again:5.2f} s ({again_load})   < 5 s: {verdict}"
        )


def time_probe(repeats: int) -> None:
    from cnnlib.build import build_model
    from cnnlib.probes import LiveProbe, ProbeConfig

    network = registry.get("convnetjs_cifar10").network
    rng = np.random.default_rng(0)
    x_test = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    y_test = rng.integers(0, 10, 200)
    names = [str(n) for n in range(10)]
    print(f"\nLive probe on the ConvNetJS CIFAR-10 network, median of {repeats} calls:")
    results = {}
    for policy in ("float32", "mixed_bfloat16"):
        model = build_model(network, policy)
        for gradients in (False, True):
            probe = LiveProbe(x_test, y_test, names, ProbeConfig(gradients=gradients))
            info = {"x": x_test[:8].astype(np.float32) / 255, "y": y_test[:8], "step": 0}
            probe(model, info)  # builds and traces once
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                probe(model, info)
                times.append(time.perf_counter() - started)
            results[policy, gradients] = statistics.median(times)
            print(
                f"{policy:<15} gradients {'on ' if gradients else 'off'}  "
                f"{results[policy, gradients] * 1000:7.2f} ms per call  ({load()})"
            )
        extra = results[policy, True] - results[policy, False]
        print(f"{policy:<15} gradients add {extra * 1000:+.2f} ms per call, once a second")


def live_training_speed(network, policy: str, data, gradients: bool) -> float:
    """Images/s of the live page's path in its second epoch, as benchmarks/cifar_live.py
    trains it, with the probe's gradient views on or off."""
    from cnnlib.build import build_model
    from cnnlib.probes import LiveProbe, ProbeConfig
    from cnnlib.scheduler import JobScheduler
    from cnnlib.training import TrainingJob, TrainSettings

    settings = TrainSettings(
        epochs=2,
        batch_size=BATCH_SIZE,
        optimizer="adam",
        validation_split=0.0,
        precision=policy,
        seed=0,
        augment_shift=2,
        augment_flip=True,
    )
    probe = LiveProbe(data.x_test, data.y_test, data.class_names, ProbeConfig(gradients=gradients))
    job = TrainingJob(
        lambda dtype: build_model(network, dtype),
        data,
        settings,
        name="benchmark",
        probe=probe,
        probe_interval=1.0,
        scheduler=JobScheduler(1),
    )
    job.start()
    while not job.wait(1.0):
        job.snapshot()  # as the live page reads it, once a second
    snapshot = job.snapshot()
    if snapshot["state"] != "finished":
        raise RuntimeError(f"The benchmark job ended {snapshot['state']}: {snapshot['error']}")
    return len(data.x_train) / snapshot["epoch_history"][1]["seconds"]


def time_live_training(train_size: int, repeats: int) -> None:
    from cnnlib.training import resolve_precision

    network = registry.get("convnetjs_cifar10").network
    data, source = real_or_random("cifar10", train_size)
    policy = resolve_precision("auto")
    print(f"\nLive CIFAR-10 page path, {policy}, {source}, {len(data.x_train):,} images/epoch:")
    speeds: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(repeats):
        for gradients in (False, True) if repeat % 2 == 0 else (True, False):
            speeds[gradients].append(live_training_speed(network, policy, data, gradients))
            print(
                f"  gradients {'on ' if gradients else 'off'} repeat {repeat + 1}: "
                f"{speeds[gradients][-1]:8,.0f} images/s  ({load()})",
                flush=True,
            )
    off, on = statistics.median(speeds[False]), statistics.median(speeds[True])
    print(f"  medians: off {off:,.0f}, on {on:,.0f} images/s, on/off {on / off:.3f}  ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100, help="timed calls per model")
    parser.add_argument("--steps", type=int, default=explain.AscentSettings().steps)
    parser.add_argument("--no-probe", action="store_true", help="skip the live-probe timing")
    parser.add_argument("--training", action="store_true", help="also time the live page")
    parser.add_argument("--train-size", type=int, default=20_000, help="images per epoch")
    parser.add_argument("--training-repeats", type=int, default=3)
    args = parser.parse_args()
    models = registry.for_dataset("mnist")
    print(f"{os.cpu_count()} CPUs; {load()} at the start\n")
    time_saliency_and_grad_cam(models, args.repeats)
    time_maximisation(models, args.steps)
    if not args.no_probe:
        time_probe(max(5, args.repeats // 5))
    if args.training:
        time_live_training(args.train_size, args.training_repeats)


if __name__ == "__main__":
    main()
