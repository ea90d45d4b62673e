"""Writers of small dataset files in the exact formats of the real ones, for tests.

Tests never use the network: they write what they need with these functions and point
`CNNLAB_HOME` at a temporary folder (the `small_home` fixture in `conftest.py` does all of it).

- `synthetic_digits(n, seed)`: images a small CNN learns to classify within one epoch of a few
  hundred examples (each class is a distinct stroke pattern, shifted and noisy), so a page test
  can train briefly and show a better-than-chance accuracy.
- `write_small_home(home)`: MNIST IDX files and CIFAR-10 batches made from those images, in
  `home/data`, laid out as the loaders in `cnnlib.datasets` expect.
- `write_mnist_idx`, `write_mnist_npz`, `write_cifar_batches`, `write_cifar_tar_gz`,
  `write_cifar_batch_file`: one real format each (IDX; Keras's mnist.npz; the Python 2 pickles
  of cifar-10-batches-py and the tarball they come in). `python2_pickle` pickles as those
  batches were pickled, for tests that need a malformed batch.
- `write_hostile_pickle(path)`: a CIFAR-looking batch whose unpickling would run code.

Nothing here imports TensorFlow; NumPy does all the work.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shlex
import struct
import tarfile
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


# --- Synthetic images -------------------------------------------------------------------------


def _templates(size: int) -> np.ndarray:
    """Ten stroke patterns on a size×size canvas, as float masks in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    t = 0.08  # stroke half-width, as a fraction of the image side
    inside = (xx > 0.2) & (xx < 0.8) & (yy > 0.2) & (yy < 0.8)
    vertical = (np.abs(xx - 0.5) < t) & inside
    horizontal = (np.abs(yy - 0.5) < t) & inside
    falling = (np.abs(yy - xx) < 1.4 * t) & inside
    rising = (np.abs(yy + xx - 1) < 1.4 * t) & inside
    masks = [
        np.abs(np.hypot(xx - 0.5, yy - 0.5) - 0.3) < t,  # ring
        vertical,
        horizontal,
        falling,
        rising,
        vertical | horizontal,  # plus
        falling | rising,  # cross
        np.abs(np.maximum(np.abs(xx - 0.5), np.abs(yy - 0.5)) - 0.3) < t,  # square outline
        ((np.abs(yy - 0.3) < t) | (np.abs(yy - 0.7) < t)) & inside,  # two horizontal bars
        ((np.abs(xx - 0.3) < t) | (np.abs(xx - 0.7) < t)) & inside,  # two vertical bars
    ]
    return np.stack(masks).astype(np.float32)


def synthetic_digits(
    n: int, seed: int, size: int = 28, channels: int = 1, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of shape (size, size, channels), uint8, and their int64 labels.

    Class k is the k-th of ten stroke patterns (ring, bars, diagonals, plus, cross, square...),
    shifted by up to 2 pixels, at a random brightness, over Gaussian noise. With 3 channels each
    image gets a random tint that says nothing about its class. Classes are balanced (they
    differ in count by at most one) and shuffled; the same seed gives the same images.
    """
    if not 1 <= num_classes <= 10:
        raise ValueError(f"num_classes must be between 1 and 10, got {num_classes}.")
    if size < 8 or channels not in (1, 3):
        raise ValueError(f"use size >= 8 and channels 1 or 3, got size={size}, {channels=}.")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    templates = _templates(size)
    shifts = rng.integers(-2, 3, size=(n, 2))
    images = np.empty((n, size, size), dtype=np.float32)
    for i, (label, (dy, dx)) in enumerate(zip(labels, shifts, strict=True)):
        images[i] = np.roll(templates[label], (dy, dx), axis=(0, 1))
    images *= rng.uniform(150, 255, size=(n, 1, 1)).astype(np.float32)
    images = images[..., None] * rng.uniform(0.5, 1.0, size=(n, 1, 1, channels)).astype(np.float32)
    images += 30 + 20 * rng.standard_normal(size=images.shape, dtype=np.float32)
    return np.clip(images, 0, 255).astype(np.uint8), labels


# --- MNIST ------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: magic 0x0000080N (unsigned bytes, N dimensions), big-endian sizes, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist_idx(folder, x_train, y_train, x_test, y_test, gz: bool = False) -> Path:
    """Write the four MNIST IDX files (standard names, `.gz` added when `gz`) into `folder`.

    Images may be (N, H, W) or (N, H, W, 1). Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for key, name in MNIST_FILES.items():
        array = np.asarray(arrays[key])
        if key.startswith("x") and array.ndim == 4:
            array = array[..., 0]
        data = _idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / name).write_bytes(data)
    return folder


def write_mnist_npz(path, x_train, y_train, x_test, y_test) -> Path:
    """Write `mnist.npz` in Keras's layout: x_train (N, 28, 28) uint8, y_train (N,) uint8, ..."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        x_train=np.asarray(x_train, dtype=np.uint8).reshape(np.shape(x_train)[:3]),
        y_train=np.asarray(y_train, dtype=np.uint8),
        x_test=np.asarray(x_test, dtype=np.uint8).reshape(np.shape(x_test)[:3]),
        y_test=np.asarray(y_test, dtype=np.uint8),
    )
    return path


# --- CIFAR-10 ---------------------------------------------------------------------------------


class _Python2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did when the CIFAR-10 batches were made.

    Python 2 strings were bytes and went out as (SHORT_)BINSTRING; Python 3 would write bytes
    through a `_codecs.encode` call instead, which real batches never contain. NumPy was
    `numpy.core.multiarray` then.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin-1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_string
    dispatch[str] = save_py2_string

    def save_global(self, obj, name=None):
        if _is_reconstruct(obj):
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _is_reconstruct(obj) -> bool:
    return getattr(obj, "__name__", "") == "_reconstruct" and "multiarray" in getattr(
        obj, "__module__", ""
    )


def python2_pickle(obj) -> bytes:
    """`obj` pickled as Python 2 did it (protocol 2, bytes as strings), like real batches."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_cifar_batch_file(path, data_rows, labels, batch_label: str = "testing batch 1 of 1"):
    """Write one batch exactly as CIFAR-10 ships it: a protocol-2 pickle of a dict with bytes
    keys b"batch_label", b"data" (uint8 N×3072: the red plane, then green, then blue, each 32×32
    row by row), b"labels" (list of int) and b"filenames" (list of bytes)."""
    data_rows = np.ascontiguousarray(data_rows, dtype=np.uint8)
    if data_rows.ndim != 2 or data_rows.shape[1] != 3072:
        raise ValueError(f"data rows must be N×3072, got {data_rows.shape}.")
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(label) for label in labels],
        b"data": data_rows,
        b"filenames": [f"synthetic_{i}.png".encode() for i in range(len(data_rows))],
    }
    Path(path).write_bytes(python2_pickle(batch))
    return Path(path)


def _rows(images) -> np.ndarray:
    """(N, 32, 32, 3) images -> N×3072 rows in CIFAR's plane order."""
    images = np.asarray(images, dtype=np.uint8)
    if images.shape[1:] != (32, 32, 3):
        raise ValueError(f"CIFAR images must be (N, 32, 32, 3), got {images.shape}.")
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def write_cifar_batches(data_folder, x_train, y_train, x_test, y_test) -> Path:
    """Write `data_folder/cifar-10-batches-py/` as in the real archive: data_batch_1..5 (the
    training images split in five), test_batch and batches.meta. Returns that folder."""
    folder = Path(data_folder) / CIFAR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    train_rows, y_train = _rows(x_train), np.asarray(y_train)
    parts = np.array_split(np.arange(len(train_rows)), 5)
    for number, part in enumerate(parts, start=1):
        write_cifar_batch_file(
            folder / f"data_batch_{number}",
            train_rows[part],
            y_train[part],
            f"training batch {number} of 5",
        )
    write_cifar_batch_file(folder / "test_batch", _rows(x_test), y_test, "testing batch 1 of 1")
    meta = {
        b"num_cases_per_batch": len(parts[0]),
        b"label_names": [name.encode() for name in CIFAR_CLASS_NAMES],
        b"num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(python2_pickle(meta))
    (folder / "readme.html").write_text("<meta HTTP-EQUIV='REFRESH'>\n")
    return folder


def write_cifar_tar_gz(path, x_train, y_train, x_test, y_test, extra_members=()) -> Path:
    """Write `cifar-10-python.tar.gz` as distributed: every file under `cifar-10-batches-py/`.

    `extra_members` is a sequence of (member name, bytes) added as they are, for tests of
    archives that try to write outside their folder.
    """
    path = Path(path)
    staging = path.parent / f".{path.name}.staging"
    folder = write_cifar_batches(staging, x_train, y_train, x_test, y_test)
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for file in sorted(folder.iterdir()):
            archive.add(file, arcname=f"{CIFAR_FOLDER}/{file.name}")
        for name, data in extra_members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    staging.rmdir()
    return path


class _Call:
    """Unpickles as `function(argument)`: the classic pickle attack."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def write_hostile_pickle(path, marker=None, via: str = "os.system") -> Path:
    """Write a CIFAR-looking batch whose unpickling runs code that creates the file `marker`.

    `via` picks the gadget: "os.system" (a shell command), "eval" or "exec" (builtins called
    through a pickle reduce). `marker` defaults to `path` with ".ran" appended. Returns the
    marker path, which exists afterwards only if something unpickled the file unrestricted.
    """
    path = Path(path)
    marker = Path(marker) if marker is not None else path.with_name(path.name + ".ran")
    statement = f"open({str(marker)!r}, 'w').close()"
    gadgets = {
        "os.system": (os.system, f"touch {shlex.quote(str(marker))}"),
        "eval": (eval, statement),
        "exec": (exec, statement),
    }
    if via not in gadgets:
        raise ValueError(f"via must be one of {sorted(gadgets)}, got {via!r}.")
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [0],
        b"data": _Call(*gadgets[via]),
        b"filenames": [b"x.png"],
    }
    path.write_bytes(python2_pickle(batch))
    return marker


# --- A whole home folder ----------------------------------------------------------------------


def write_small_home(home, n_train: int = 600, n_test: int = 200) -> Path:
    """Write small MNIST (raw IDX, 28×28×1) and CIFAR-10 (batches folder, 32×32×3) datasets of
    synthetic images into `home/data`, where `cnnlib.datasets` looks with CNNLAB_HOME=home.

    Returns the data folder. The images are `synthetic_digits`, so both sets are learnable.
    """
    data = Path(home) / "data"
    x_train, y_train = synthetic_digits(n_train, seed=1)
    x_test, y_test = synthetic_digits(n_test, seed=2)
    write_mnist_idx(data, x_train, y_train, x_test, y_test)
    x_train, y_train = synthetic_digits(n_train, seed=3, size=32, channels=3)
    x_test, y_test = synthetic_digits(n_test, seed=4, size=32, channels=3)
    write_cifar_batches(data, x_train, y_train, x_test, y_test)
    return data
