"""How fast is a student's own dataset imported, and how much memory does the import take?

Writes a zip of 10,000 PNG images of 32×32 pixels in 10 class folders (smooth colour blobs
with a little noise, so they compress like small photos, not like noise), then times
`cnnlib.own_data.inspect_upload` (the check report) and `import_upload` (decode, resize,
split, store) and prints images per second for each. A second pass of each under
`tracemalloc` measures the peak of memory allocated during the call (NumPy's arrays included,
the upload's own bytes not) beside the size of the final arrays: a streamed import stays near
one copy of the final arrays, a naive one holds every decoded image twice.

Each figure is printed with the load average, because the machine may be shared: a
throughput measured under load is a lower bound.

Run from the project folder:  .venv/bin/python benchmarks/own_data.py [--images 10000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_average  # noqa: E402
from cnnlib import own_data  # noqa: E402
from cnnlib.own_data import ImportSettings  # noqa: E402


def photo_like_zip(count: int, side: int, classes: int = 10, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            image = Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC)
            pixels = np.asarray(image, dtype=np.int16) + rng.integers(-8, 9, (side, side, 3))
            data = io.BytesIO()
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(data, format="PNG")
            archive.writestr(f"class_{index % classes}/{index:05d}.png", data.getvalue())
    return out.getvalue()


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="PNG files in the zip")
    parser.add_argument("--side", type=int, default=32, help="width and height of each PNG")
    arguments = parser.parse_args()
    count, side = arguments.images, arguments.side

    data, seconds = timed(lambda: photo_like_zip(count, side))
    print(
        f"zip of {count:,} {side}×{side} PNGs: {len(data) / 2**20:.1f} MB, written in "
        f"{seconds:.1f} s (load {load_average()})"
    )
    cases = [
        ("same size, colour", ImportSettings(size=side, colour="rgb")),
        ("resized to 28×28, grayscale", ImportSettings(size=28, colour="grayscale")),
    ]
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as folder:
        report, seconds = timed(lambda: own_data.inspect_upload(data, "bench.zip"))
        print(
            f"check report: {count / seconds:,.0f} images/s "
            f"({seconds:.2f} s; load {load_average()})"
        )
        peak = peak_bytes(lambda: own_data.inspect_upload(data, "bench.zip"))
        print(f"check report: peak memory {peak / 2**20:.1f} MB (load {load_average()})")
        for number, (label, settings) in enumerate(cases):

            def run(suffix: str, settings=settings, number=number):
                return own_data.import_upload(
                    data, f"bench {number} {suffix}", settings, report=report, home=folder
                )

            info, seconds = timed(lambda run=run: run("timed"))
            print(
                f"import, {label}: {count / seconds:,.0f} images/s ({seconds:.2f} s; "
                f"load {load_average()})"
            )
            peak = peak_bytes(lambda run=run: run("traced"))
            dataset = own_data.load_stored(info.name, home=folder)
            final = sum(
                getattr(dataset, f"x_{part}").nbytes + getattr(dataset, f"y_{part}").nbytes
                for part in ("train", "val", "test")
            )
            print(
                f"import, {label}: peak memory {peak / 2**20:.1f} MB for final arrays of "
                f"{final / 2**20:.1f} MB ({peak / final:.2f}×), stored file "
                f"{info.nbytes / 2**20:.1f} MB (load {load_average()})"
            )


if __name__ == "__main__":
    main()
