"""A student's own images: checked, imported into uint8 arrays, stored in the data folder.

An upload is a `.zip` of one folder per class (the layout Keras's `image_dataset_from_directory`
reads), optionally below `train/` and `test/` (and `validation/`) top folders, or a `.npz` with
`x_train`, `y_train`, `x_test`, `y_test` and optionally `class_names`. `inspect_upload` reads it
one file at a time (JPEGs at a reduced scale), keeping nothing but a few samples per class, and
returns an `UploadReport` of plain values: images per class, sizes, colour modes, duplicates,
skipped files, imbalance, samples. `import_upload` then decodes one image at a time straight
into the final arrays (Pillow resizes; `ImportSettings.fit` says whether the aspect ratio is
kept by padding or by a centre crop), splits them, stratified and seeded, into training,
validation and test parts when the upload has no split, and stores the set atomically below
`data/own/<name>/` as one `.npz` of uint8 arrays and a `meta.json`. `list_stored`,
`load_stored` (a `Dataset` whose `x_val`/`y_val` the trainer uses as its validation data) and
`delete_stored` manage what is stored. `default_network` proposes a network for a new set from
its image size, and `example_zip` builds the offline example, scikit-learn's 1,797 handwritten
digits, as a zip of PNGs that goes through the same import.

Everything a user can get wrong raises `OwnDataError`, a `ValueError` whose message says what
to change; a refused upload writes nothing and leaves the stored sets as they were. Caps on
size, file count and pixels (`Limits`) are checked from the zip's directory and the images'
headers before anything is decompressed in full. This module knows nothing of Streamlit.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from cnnlib.datasets import Dataset, DatasetError, Phrase, english_phrases, phrase, show_phrases
from cnnlib.i18n import N_, _, ngettext
from cnnlib.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    Network,
)
from cnnlib.paths import data_dir

Progress = Callable[[float, str], None]  # progress(fraction done in [0, 1], message)

OWN_FOLDER = "own"  # below the data folder
NAME_PREFIX = "own:"  # Dataset.name of a stored set is "own:<folder name>"
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
FORMAT_VERSION = 1
TARGET_SIZES = (8, 16, 28, 32, 48, 64, 96)  # square sides offered for the imported images
COLOURS = ("grayscale", "rgb")
FITS = ("pad", "crop")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLIT_FOLDERS = {"train": "train", "test": "test", "validation": "val", "val": "val"}
# Files that archivers and file managers add, ignored without a word.
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
JUNK_FOLDERS = {"__macosx"}
SAMPLES_PER_CLASS = 8
SAMPLE_SIDE = 48  # pixels of each sample shown in the report
MIN_IMAGES_PER_CLASS = 3  # one each for training, validation and test
IMBALANCE_WARNING = 3.0  # largest class over smallest class that earns a warning
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# What a damaged or hostile image file raises in Pillow (its PNG reader raises SyntaxError).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile)
# Reading a member raises NotImplementedError for compression methods zipfile lacks
# (Deflate64) and RuntimeError for encrypted members.
DECODE_ERRORS += (Image.DecompressionBombError, NotImplementedError, RuntimeError)


class OwnDataError(DatasetError):
    """An upload or a stored set that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Limits:
    """Caps checked before anything is decompressed in full."""

    max_upload_bytes: int = 200 * 2**20  # the upload itself (Streamlit's default cap too)
    max_files: int = 50_000  # members of the zip, folders included
    max_unpacked_bytes: int = 2 * 2**30  # sum of the members' sizes as the directory states
    max_ratio: float = 200.0  # unpacked / packed size of one member above 1 MiB
    max_image_pixels: int = 25_000_000  # one image, from its header (a 5000 x 5000 photo)
    max_total_pixels: int = 500_000_000  # all images together, from their headers
    max_output_bytes: int = 2 * 2**30  # the imported arrays


@dataclass(frozen=True)
class ImportSettings:
    """How an upload becomes arrays; the defaults suit small pictures."""

    size: int = 32  # side of the square images stored, in pixels
    colour: str = "rgb"  # "grayscale" (1 channel) or "rgb" (3 channels)
    fit: str = "pad"  # "pad": whole image, bars in its border colour; "crop": centre square
    validation_fraction: float = 0.1  # of each class, when the upload has no validation part
    test_fraction: float = 0.2  # of each class, when the upload has no test part
    seed: int = 0  # fixes the split and the order of the images
    drop_duplicates: bool = True  # keep one of each group of byte-identical files

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 4 <= self.size <= 256:
            raise OwnDataError(
                _(
                    "size must be a whole number of pixels from 4 to 256, such as {sizes}; got "
                    "{value}."
                ).format(sizes=", ".join(map(str, TARGET_SIZES)), value=repr(self.size))
            )
        if self.colour not in COLOURS:
            raise OwnDataError(
                _("colour must be one of {choices}; got {value}.").format(
                    choices=", ".join(COLOURS), value=repr(self.colour)
                )
            )
        if self.fit not in FITS:
            raise OwnDataError(
                _("fit must be one of {choices}; got {value}.").format(
                    choices=", ".join(FITS), value=repr(self.fit)
                )
            )
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value < 0.5:
                raise OwnDataError(
                    _("{setting} must be a fraction from 0 up to 0.5; got {value}.").format(
                        setting=name, value=repr(value)
                    )
                )
        if self.validation_fraction + self.test_fraction >= 0.8:
            raise OwnDataError(
                _(
                    "validation_fraction and test_fraction together leave too few training "
                    "images; keep their sum below 0.8."
                )
            )

    @property
    def channels(self) -> int:
        return 1 if self.colour == "grayscale" else 3


@dataclass(frozen=True)
class SkippedFile:
    path: str  # as named in the upload
    reason: str  # why it was not imported, in words


@dataclass(frozen=True)
class _Entry:
    """One image of an upload: where it is and what it is."""

    member: str  # zip member name, or "x_train[17]" for an .npz image
    path: str  # the name shown to the user (decoded, normalised)
    label: int
    part: str | None  # "train", "val" or "test" when the upload splits, else None
    digest: str  # SHA-256 of the file's bytes (of the pixels for an .npz)


@dataclass(frozen=True)
class UploadReport:
    """What an upload holds, found before anything is imported."""

    kind: str  # "zip" or "npz"
    filename: str
    class_names: tuple[str, ...]
    counts: tuple[int, ...]  # readable images per class
    part_counts: dict[str, tuple[int, ...]]  # per part of an upload's own split, else {}
    sizes: dict[tuple[int, int], int]  # (width, height) -> images
    modes: dict[str, int]  # Pillow mode ("L", "RGB", "RGBA", "P"...) -> images
    duplicates: tuple[tuple[str, ...], ...]  # groups of identical files, first one kept
    skipped: tuple[SkippedFile, ...]  # not images or unreadable; never imported
    warnings: tuple[str, ...]
    samples: tuple[np.ndarray, ...]  # per class: uint8 (k, SAMPLE_SIDE, SAMPLE_SIDE, 3)
    suggested: ImportSettings  # a size and colour that suit the images found
    entries: tuple[_Entry, ...] = field(repr=False, default=())  # what import_upload reads

    @property
    def total_images(self) -> int:
        return sum(self.counts)

    @property
    def has_split(self) -> bool:
        return bool(self.part_counts)

    @property
    def imbalance(self) -> float:
        """The largest class's image count over the smallest's (1.0 when balanced)."""
        return max(self.counts) / max(min(self.counts), 1)

    def class_table(self) -> list[dict[str, Any]]:
        """One row per class: name, images, and per-part counts when the upload splits."""
        rows = []
        for index, name in enumerate(self.class_names):
            row: dict[str, Any] = {"class": name, "images": self.counts[index]}
            for part, counts in self.part_counts.items():
                row[part] = counts[index]
            rows.append(row)
        return rows


@dataclass(frozen=True)
class StoredInfo:
    """One stored set, as `list_stored` finds it."""

    name: str  # folder name below data/own; pass it to load_stored and delete_stored
    title: str  # as the user typed it
    class_names: tuple[str, ...]
    input_shape: tuple[int, int, int]
    counts: dict[str, int]  # images in "train", "val" and "test"
    source: str  # in English; `shown_source()` in the page's language
    created: str  # ISO 8601 time of the import, to the microsecond: it tells imports apart
    settings: dict[str, Any]  # the ImportSettings used
    nbytes: int  # size of the stored arrays file
    source_parts: tuple[Phrase, ...] = ()  # what `source` says, as phrases to translate

    def shown_source(self) -> str:
        """Where the set came from, in the current language."""
        return show_phrases(self.source_parts) if self.source_parts else self.source

    @property
    def dataset_name(self) -> str:
        return NAME_PREFIX + self.name


@dataclass(frozen=True, eq=False, repr=False)
class OwnDataset(Dataset):
    """A stored set: a `Dataset` plus the validation part split off when it was imported.

    `cnnlib.training` uses `x_val`/`y_val` when a dataset has them, so every model trained on
    the set validates on the same stratified images.
    """

    # None when the set was imported without a validation part: the trainer then holds out
    # the last fraction of the training images, as it does for MNIST.
    x_val: np.ndarray | None = None  # uint8 (V, height, width, channels)
    y_val: np.ndarray | None = None  # int64 (V,)

    def __post_init__(self) -> None:
        super().__post_init__()
        x, y = self.x_val, self.y_val
        if x is None or len(x) == 0:
            object.__setattr__(self, "x_val", None)
            object.__setattr__(self, "y_val", None)
            return
        if x.dtype != np.uint8 or x.shape[1:] != self.x_train.shape[1:] or len(x) != len(y):
            raise ValueError(
                "x_val must hold uint8 images of the training images' shape, "
                "with one label each in y_val."
            )
        x, y = x.view(), np.asarray(y).astype(np.int64, copy=False).view()
        x.flags.writeable = y.flags.writeable = False
        object.__setattr__(self, "x_val", x)
        object.__setattr__(self, "y_val", y)


# --- Reading an upload ------------------------------------------------------------------------


def inspect_upload(
    source: bytes | str | os.PathLike | BinaryIO,
    filename: str = "",
    limits: Limits = Limits(),
) -> UploadReport:
    """Check an upload (.zip of class folders or .npz) and report what it holds.

    Every image is decoded once to find damaged files, and dropped at once; nothing is
    written. Raises OwnDataError when the upload cannot become a dataset, saying what to change.
    """
    with _open_zip(source, filename, limits) as archive:
        if _is_npz(archive, filename):
            return _inspect_npz(archive, filename, limits)
        return _inspect_folders(archive, filename, limits)


def _open_zip(source, filename: str, limits: Limits) -> zipfile.ZipFile:
    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        filename = filename or Path(source).name
        size = Path(source).stat().st_size
    else:
        source.seek(0, io.SEEK_END)
        size = source.tell()
        source.seek(0)
    if size > limits.max_upload_bytes:
        raise OwnDataError(
            _(
                "{file} is {size} MB; the limit is {limit} MB. Upload fewer or smaller images."
            ).format(
                file=filename or _("The upload"),
                size=f"{size / 2**20:,.1f}",
                limit=f"{limits.max_upload_bytes / 2**20:,.0f}",
            )
        )
    try:
        archive = zipfile.ZipFile(source)
    # A damaged central directory can also surface as a ValueError (a negative seek).
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise OwnDataError(
            _(
                "{file} is not a readable .zip or .npz file ({error}). Upload a .zip of one "
                "folder per class, or a .npz saved with numpy.savez."
            ).format(file=filename or _("The upload"), error=error)
        ) from None
    try:
        _check_directory(archive, filename, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_directory(archive: zipfile.ZipFile, filename: str, limits: Limits) -> None:
    """Refuse hostile or oversized archives from their directory alone."""
    infos = archive.infolist()
    what = filename or _("the upload")
    if len(infos) > limits.max_files:
        raise OwnDataError(
            _("{file} holds {count} files; the limit is {limit}. Upload fewer images.").format(
                file=what, count=f"{len(infos):,}", limit=f"{limits.max_files:,}"
            )
        )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limits.max_unpacked_bytes:
        raise OwnDataError(
            _(
                "{file} would unpack to {size} MB; the limit is {limit} MB. Upload fewer or "
                "smaller images."
            ).format(
                file=what,
                size=f"{unpacked / 2**20:,.0f}",
                limit=f"{limits.max_unpacked_bytes / 2**20:,.0f}",
            )
        )
    seen = set()
    for info in infos:
        name = member_name(info)
        parts = name.split("/")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise OwnDataError(
                _(
                    "{file} contains the path {name}, which points outside the archive. Make the "
                    "zip again from the folder itself."
                ).format(file=what, name=repr(name))
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise OwnDataError(
                _(
                    "{file} contains the link {name}. Links are not imported; put the real image "
                    "files in the folder and make the zip again."
                ).format(file=what, name=repr(name))
            )
        if name in seen:
            raise OwnDataError(
                _("{file} lists {name} twice. Make the zip again.").format(
                    file=what, name=repr(name)
                )
            )
        seen.add(name)
        if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise OwnDataError(
                _(
                    "{name} in {file} claims to unpack to {size} MB from {packed} bytes, as a zip "
                    "bomb does. Upload real images."
                ).format(
                    name=repr(name),
                    file=what,
                    size=f"{info.file_size / 2**20:,.0f}",
                    packed=f"{info.compress_size:,}",
                )
            )


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as its author saw it, NFC-normalised, with '/' separators.

    Zips flag UTF-8 names; unflagged names are CP437 by the standard, but macOS writes UTF-8
    and Korean Windows writes CP949 without the flag, so unflagged names are tried as UTF-8,
    then CP949, and only then taken as CP437.
    """
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = info.orig_filename.encode("cp437")
        for encoding in ("utf-8", "cp949"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    # macOS writes Hangul decomposed into jamo; the same class name must be one name.
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _is_npz(archive: zipfile.ZipFile, filename: str) -> bool:
    if filename.lower().endswith(".npz"):
        return True
    return any(member_name(info) == "x_train.npy" for info in archive.infolist())


def _is_junk(parts: tuple[str, ...]) -> bool:
    return (
        any(part.lower() in JUNK_FOLDERS for part in parts)
        or parts[-1].lower() in JUNK_NAMES
        or any(part.startswith(".") for part in parts)
    )


def _inspect_folders(archive: zipfile.ZipFile, filename: str, limits: Limits) -> UploadReport:
    what = filename or _("the upload")
    files: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
    folders: set[tuple[str, ...]] = set()
    for info in archive.infolist():
        parts = tuple(part for part in member_name(info).split("/") if part)
        if not parts or _is_junk(parts):
            continue
        if info.is_dir():
            folders.add(parts)
        else:
            files.append((parts, info))
            folders.update(parts[:depth] for depth in range(1, len(parts)))
    if not files:
        raise OwnDataError(
            _("{file} is empty. Put one folder of images per class in the zip.").format(file=what)
        )
    images = [(p, i) for p, i in files if Path(p[-1]).suffix.lower() in IMAGE_SUFFIXES]
    # Other files never decide the layout: they are listed as skipped wherever they are.
    skipped = [
        SkippedFile("/".join(p), _("not an image file (by its name)"))
        for p, i in sorted(files, key=lambda item: item[0])
        if Path(p[-1]).suffix.lower() not in IMAGE_SUFFIXES
    ]
    if not images:
        raise OwnDataError(
            _(
                "{file} holds no images, only {count} other files. Put PNG, JPEG, BMP, GIF or "
                "WebP images in one folder per class."
            ).format(file=what, count=f"{len(files):,}")
        )
    prefix = _wrapper_prefix([parts for parts, _ in images])
    inner = {parts: parts[len(prefix) :] for parts, _ in images}
    folders = {
        f[len(prefix) :] for f in folders if f[: len(prefix)] == prefix and len(f) > len(prefix)
    }
    tops = {rel[0] for rel in inner.values() if len(rel) > 1}
    split_tops = {top for top in tops if top.lower() in SPLIT_FOLDERS}
    if split_tops and split_tops != tops:
        others = sorted(tops - split_tops)
        raise OwnDataError(
            _(
                "{file} mixes split folders ({splits}) with other folders ({others}) at the top. "
                "Put every class folder inside train/ and test/, or use class folders alone."
            ).format(file=what, splits=", ".join(sorted(split_tops)), others=", ".join(others[:5]))
        )
    depth = 3 if split_tops else 2
    loose = [rel for rel in inner.values() if len(rel) < depth]
    nested = [rel for rel in inner.values() if len(rel) > depth]
    where = _("train/<class>/ or test/<class>/") if split_tops else _("a class folder")
    if loose:
        raise OwnDataError(
            _(
                "{file} has images outside any class folder, such as {example}. Put every image "
                "in {where}; a class is named after its folder."
            ).format(file=what, example=repr("/".join(loose[0])), where=where)
        )
    if nested:
        raise OwnDataError(
            _(
                "{file} has folders inside class folders, such as {example}. Put each image "
                "directly in {where}: one folder level per class, so that no class hides inside "
                "another."
            ).format(file=what, example=repr("/".join(nested[0][:-1])), where=where)
        )
    if split_tops:
        parts_found = {SPLIT_FOLDERS[top.lower()] for top in split_tops}
        if "train" not in parts_found or "test" not in parts_found:
            raise OwnDataError(
                _(
                    "{file} has {splits}/ but needs both train/ and test/ (validation/ is "
                    "optional). Add the missing folder, or drop the split folders and let CNN Lab "
                    "split the images."
                ).format(file=what, splits=", ".join(sorted(split_tops)))
            )
    # Classes: folder names, wherever they appear, sorted so labels do not depend on the zip.
    class_folders = {
        f[-1] for f in folders if len(f) == depth - 1 and (not split_tops or f[0] in split_tops)
    }
    class_names = tuple(sorted(class_folders))
    label_of = {name: index for index, name in enumerate(class_names)}
    if len(class_names) < 2:
        message = (
            _(
                "{file} has one class ({names}); a classifier needs at least two. Add a folder of "
                "images for each other class."
            )
            if class_names
            else _(
                "{file} has no class folder; a classifier needs at least two. Add a folder of "
                "images for each class."
            )
        )
        raise OwnDataError(message.format(file=what, names=", ".join(class_names)))
    entries: list[_Entry] = []
    sizes: Counter = Counter()
    modes: Counter = Counter()
    digests: dict[str, list[str]] = defaultdict(list)
    total_pixels = 0
    for parts, info in sorted(images, key=lambda item: item[0]):
        path, rel = "/".join(parts), inner[parts]
        try:
            data = archive.read(info)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            mode = image.mode
        except DECODE_ERRORS as error:
            skipped.append(SkippedFile(path, _("unreadable ({error})").format(error=_short(error))))
            continue
        # The caps are checked from the header, before the pixels are decoded.
        if width * height > limits.max_image_pixels:
            raise OwnDataError(
                _(
                    "{file} is {width} × {height} pixels; the limit for one image is {limit} "
                    "pixels. Shrink it before uploading."
                ).format(
                    file=path,
                    width=f"{width:,}",
                    height=f"{height:,}",
                    limit=f"{limits.max_image_pixels:,}",
                )
            )
        if total_pixels + width * height > limits.max_total_pixels:
            raise OwnDataError(
                _(
                    "The images of {file} hold more than {limit} pixels in all. Shrink them or "
                    "upload fewer."
                ).format(file=what, limit=f"{limits.max_total_pixels:,}")
            )
        try:
            # A damaged file can have a sound header: decode it now, so the report lists it.
            # A JPEG decodes at a reduced scale here, which is quick and checks as much.
            with image:
                image.draft(image.mode, (SAMPLE_SIDE, SAMPLE_SIDE))
                image.load()
        except DECODE_ERRORS as error:
            skipped.append(SkippedFile(path, _("unreadable ({error})").format(error=_short(error))))
            continue
        total_pixels += width * height
        digest = hashlib.sha256(data).hexdigest()
        digests[digest].append(path)
        part = SPLIT_FOLDERS[rel[0].lower()] if split_tops else None
        entries.append(_Entry(info.filename, path, label_of[rel[-2]], part, digest))
        sizes[(width, height)] += 1
        modes[mode] += 1
    if not entries:
        raise OwnDataError(
            _(
                "{file} holds no readable images ({count} files skipped). Put PNG, JPEG, BMP, "
                "GIF or WebP images in the class folders."
            ).format(file=what, count=f"{len(skipped):,}")
        )

    def decode(entry: _Entry) -> Image.Image:
        return _open_image(archive.read(entry.member))

    return _report("zip", filename, class_names, entries, skipped, sizes, modes, digests, decode)


def _wrapper_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The folders that wrap everything ("flowers/" when a folder itself was zipped)."""
    prefix: tuple[str, ...] = ()
    while True:
        firsts = {parts[len(prefix)] for parts in paths}
        if len(firsts) != 1 or any(len(parts) < len(prefix) + 3 for parts in paths):
            return prefix
        (first,) = firsts
        if first.lower() in SPLIT_FOLDERS:
            return prefix
        prefix += (first,)


def _report(kind, filename, class_names, entries, skipped, sizes, modes, digests, decode):
    what = filename or _("the upload")
    counts = [0] * len(class_names)
    for entry in entries:
        counts[entry.label] += 1
    empty = [name for name, count in zip(class_names, counts, strict=True) if count == 0]
    if empty:
        raise OwnDataError(
            ngettext(
                "The class {names} of {file} has no readable images. Add images to its folder "
                "or remove the folder (in a .npz: drop its class name).",
                "The classes {names} of {file} have no readable images. Add images to their "
                "folders or remove the folders (in a .npz: drop their class names).",
                len(empty),
            ).format(names=", ".join(map(repr, empty)), file=what)
        )
    parts = sorted({entry.part for entry in entries if entry.part})
    part_counts = {}
    for part in parts:
        row = [0] * len(class_names)
        for entry in entries:
            if entry.part == part:
                row[entry.label] += 1
        part_counts[part] = tuple(row)
    warnings = []
    if "train" in part_counts:
        missing = [name for name, n in zip(class_names, part_counts["train"], strict=True) if not n]
        if missing:
            raise OwnDataError(
                ngettext(
                    "The class {names} of {file} has test images but no training images. Add "
                    "training images for it, or remove it from test/.",
                    "The classes {names} of {file} have test images but no training images. Add "
                    "training images for them, or remove them from test/.",
                    len(missing),
                ).format(names=", ".join(map(repr, missing)), file=what)
            )
        for part in [part for part in ("test", "val") if part in part_counts]:
            absent = [n for n, c in zip(class_names, part_counts[part], strict=True) if not c]
            if absent:
                message = ngettext(
                    "{count} class has no {part} images ({names}); its accuracy cannot be "
                    "measured.",
                    "{count} classes have no {part} images ({names}); their accuracy cannot be "
                    "measured.",
                    len(absent),
                )
                warnings.append(
                    message.format(count=len(absent), part=part, names=", ".join(absent[:5]))
                )
    else:
        few = [
            name
            for name, count in zip(class_names, counts, strict=True)
            if count < MIN_IMAGES_PER_CLASS
        ]
        if few:
            raise OwnDataError(
                ngettext(
                    "The class {names} of {file} has fewer than {least} images: each class needs "
                    "at least one for training, validation and test. Add images.",
                    "The classes {names} of {file} have fewer than {least} images: each class "
                    "needs at least one for training, validation and test. Add images.",
                    len(few),
                ).format(names=", ".join(map(repr, few)), file=what, least=MIN_IMAGES_PER_CLASS)
            )
    groups = tuple(tuple(paths) for paths in digests.values() if len(paths) > 1)
    if groups:
        copies = sum(len(group) - 1 for group in groups)
        warnings.append(
            ngettext(
                "{count} file is an exact copy of another; duplicates are dropped on import by "
                "default, so that no image is both trained on and tested on.",
                "{count} files are exact copies of another; duplicates are dropped on import by "
                "default, so that no image is both trained on and tested on.",
                copies,
            ).format(count=f"{copies:,}")
        )
    imbalance = max(counts) / min(counts)
    if imbalance >= IMBALANCE_WARNING:
        big, small = class_names[counts.index(max(counts))], class_names[counts.index(min(counts))]
        warnings.append(
            _(
                "The classes are imbalanced: {big} has {ratio}× the images of {small}. A network "
                "can score well by favouring the large class; watch per-class accuracy."
            ).format(big=repr(big), ratio=f"{imbalance:.1f}", small=repr(small))
        )
    if skipped:
        warnings.append(
            ngettext(
                "{count} file is not an image or unreadable and is skipped.",
                "{count} files are not images or unreadable and are skipped.",
                len(skipped),
            ).format(count=f"{len(skipped):,}")
        )
    samples = []
    for label in range(len(class_names)):
        chosen = [entry for entry in entries if entry.label == label][:SAMPLES_PER_CLASS]
        tiles = []
        for entry in chosen:
            try:
                # Small images are enlarged by repeating pixels, so the samples show the
                # pixels a network will get, not a smoothed guess.
                tiles.append(_fit(decode(entry), SAMPLE_SIDE, "rgb", "pad", sharp=True))
            except DECODE_ERRORS:
                continue  # import_upload lists it among the skipped files
        samples.append(
            np.stack(tiles) if tiles else np.zeros((0, SAMPLE_SIDE, SAMPLE_SIDE, 3), np.uint8)
        )
    return UploadReport(
        kind=kind,
        filename=filename,
        class_names=tuple(class_names),
        counts=tuple(counts),
        part_counts=part_counts,
        sizes=dict(sizes.most_common()),
        modes=dict(modes.most_common()),
        duplicates=groups,
        skipped=tuple(skipped),
        warnings=tuple(warnings),
        samples=tuple(samples),
        suggested=_suggest(sizes, modes),
        entries=tuple(entries),
    )


def _suggest(sizes: Counter, modes: Counter) -> ImportSettings:
    """The largest offered size not above the typical image's shorter side; grayscale when
    every image is grayscale."""
    sides = sorted(
        side for (width, height), count in sizes.items() for side in [min(width, height)] * count
    )
    median = sides[len(sides) // 2]
    fitting = [size for size in TARGET_SIZES if size <= min(median, 64)]
    size = fitting[-1] if fitting else TARGET_SIZES[0]
    grey = all(mode in ("1", "L", "LA", "I", "I;16", "F") for mode in modes)
    return ImportSettings(size=size, colour="grayscale" if grey else "rgb")


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 80 else text[:77] + "…"


# --- .npz uploads -----------------------------------------------------------------------------


def _npz_header(archive: zipfile.ZipFile, key: str, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one array from its .npy header, without reading the values."""
    try:
        with archive.open(f"{key}.npy") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _fortran_order, dtype = read_header(handle)
    except KeyError:
        raise OwnDataError(
            _(
                "{file} has no {key}. Save it with numpy.savez(file, x_train=..., y_train=..., "
                "x_test=..., y_test=...)."
            ).format(file=what, key=key)
        ) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise OwnDataError(
            _("{key} in {file} is not a readable array ({error}).").format(
                key=key, file=what, error=_short(error)
            )
        ) from None
    if dtype.hasobject:
        raise OwnDataError(
            _(
                "{key} in {file} is an array of Python objects, which is refused because loading "
                "it could run code. Save numbers as uint8/int arrays and names as "
                "numpy.array(names, dtype=str)."
            ).format(key=key, file=what)
        )
    return tuple(shape), dtype


def _npz_array(archive: zipfile.ZipFile, key: str, what: str) -> np.ndarray:
    try:
        with archive.open(f"{key}.npy") as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise OwnDataError(
            _("{key} in {file} is not a readable array ({error}).").format(
                key=key, file=what, error=_short(error)
            )
        ) from None


def _check_npz(archive: zipfile.ZipFile, what: str, limits: Limits) -> dict[str, Any]:
    headers = {key: _npz_header(archive, key, what) for key in NPZ_KEYS}
    names = {member_name(info) for info in archive.infolist()}
    if "class_names.npy" in names:
        headers["class_names"] = _npz_header(archive, "class_names", what)
    pixels = 0
    for part in ("train", "test"):
        (x_shape, x_dtype), (y_shape, y_dtype) = headers[f"x_{part}"], headers[f"y_{part}"]
        if len(x_shape) not in (3, 4) or (len(x_shape) == 4 and x_shape[3] not in (1, 3)):
            raise OwnDataError(
                _(
                    "{key} in {file} has shape {shape}; it must be (images, height, width) for "
                    "grayscale or (images, height, width, 1 or 3) for colour."
                ).format(key=f"x_{part}", file=what, shape=x_shape)
            )
        if x_dtype != np.uint8:
            raise OwnDataError(
                _(
                    "{key} in {file} holds {dtype}; it must hold uint8 pixels 0..255. Convert "
                    "floats in [0, 1] with (x * 255).round().astype('uint8')."
                ).format(key=f"x_{part}", file=what, dtype=x_dtype)
            )
        if len(y_shape) != 1 or y_shape[0] != x_shape[0]:
            hint = _(" (one-hot labels: use y.argmax(axis=1))") if len(y_shape) == 2 else ""
            raise OwnDataError(
                _(
                    "{key} in {file} has shape {shape}; it must be ({count},): one integer label "
                    "per image of {images}{hint}."
                ).format(
                    key=f"y_{part}",
                    file=what,
                    shape=y_shape,
                    count=x_shape[0],
                    images=f"x_{part}",
                    hint=hint,
                )
            )
        if not np.issubdtype(y_dtype, np.integer):
            raise OwnDataError(
                _("{key} in {file} holds {dtype}; labels must be integers 0, 1, 2, ...").format(
                    key=f"y_{part}", file=what, dtype=y_dtype
                )
            )
        if x_shape[0] == 0:
            raise OwnDataError(
                _("{key} in {file} holds no images.").format(key=f"x_{part}", file=what)
            )
        pixels += math.prod(x_shape)
    if headers["x_train"][0][1:3] != headers["x_test"][0][1:3]:
        raise OwnDataError(
            _(
                "x_train holds {train} images but x_test {test} in {file}; give both parts one "
                "image size."
            ).format(train=headers["x_train"][0][1:3], test=headers["x_test"][0][1:3], file=what)
        )
    if pixels > limits.max_total_pixels:
        raise OwnDataError(
            _(
                "The images of {file} hold {count} values; the limit is {limit}. Upload fewer or "
                "smaller images."
            ).format(file=what, count=f"{pixels:,}", limit=f"{limits.max_total_pixels:,}")
        )
    if "class_names" in headers:
        shape, dtype = headers["class_names"]
        if len(shape) != 1 or dtype.kind not in "US":
            raise OwnDataError(
                _(
                    "class_names in {file} has shape {shape} and type {dtype}; it must be a list "
                    "of strings: numpy.array(names, dtype=str)."
                ).format(file=what, shape=shape, dtype=dtype)
            )
    return headers


def _npz_parts(archive: zipfile.ZipFile, what: str, limits: Limits):
    headers = _check_npz(archive, what, limits)
    labels = {
        part: _npz_array(archive, f"y_{part}", what).astype(np.int64) for part in ("train", "test")
    }
    top = max(int(y.max()) for y in labels.values())
    low = min(int(y.min()) for y in labels.values())
    if low < 0:
        raise OwnDataError(
            _("The labels in {file} include {low}; labels start at 0.").format(file=what, low=low)
        )
    if "class_names" in headers:
        raw = _npz_array(archive, "class_names", what)
        names = tuple(
            unicodedata.normalize(
                "NFC", n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
            )
            for n in raw.tolist()
        )
        if len(names) <= top:
            raise OwnDataError(
                _(
                    "{file} has labels up to {top} but only {count} class names; give one name "
                    "per label."
                ).format(file=what, top=top, count=len(names))
            )
        if len(set(names)) != len(names):
            raise OwnDataError(
                _("class_names in {file} repeats a name; give each class its own.").format(
                    file=what
                )
            )
    else:
        names = tuple(str(label) for label in range(top + 1))
    return headers, labels, names


def _inspect_npz(archive: zipfile.ZipFile, filename: str, limits: Limits) -> UploadReport:
    what = filename or _("the upload")
    _headers, labels, names = _npz_parts(archive, what, limits)
    if len(names) < 2:
        raise OwnDataError(
            _("{file} has one class; a classifier needs at least two.").format(file=what)
        )
    entries, sizes, modes = [], Counter(), Counter()
    digests: dict[str, list[str]] = defaultdict(list)
    images = {}
    for part in ("train", "test"):
        x = _npz_array(archive, f"x_{part}", what)
        images[part] = x
        mode = "L" if x.ndim == 3 or x.shape[3] == 1 else "RGB"
        for index in range(len(x)):
            path = f"x_{part}[{index}]"
            digest = hashlib.sha256(x[index].tobytes()).hexdigest()
            digests[digest].append(path)
            entries.append(_Entry(path, path, int(labels[part][index]), part, digest))
        sizes[(x.shape[2], x.shape[1])] += len(x)
        modes[mode] += len(x)

    def decode(entry: _Entry) -> Image.Image:
        part, index = entry.member[2:].rstrip("]").split("[")
        return _array_image(images[part][int(index)])

    return _report("npz", filename, names, entries, [], sizes, modes, digests, decode)


def _array_image(pixels: np.ndarray) -> Image.Image:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(pixels), "L" if pixels.ndim == 2 else "RGB")


# --- Decoding and resizing --------------------------------------------------------------------


def _open_image(data: bytes, size: int | None = None) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    if size is not None:
        # A JPEG can decode straight at 1/2, 1/4 or 1/8 scale, still at least size × size.
        image.draft(image.mode, (size, size))
    image.load()
    # Phone photos are stored sideways with a note saying how to turn them.
    return ImageOps.exif_transpose(image)


def _fit(image: Image.Image, size: int, colour: str, fit: str, sharp: bool = False) -> np.ndarray:
    """The image as a (size, size, channels) uint8 array.

    Transparent pixels are laid over white (drawings are mostly dark on light); 16-bit and
    float images are scaled to 0..255. "pad" keeps the whole image and fills the bars with the
    median colour of its border; "crop" keeps the centre square. Resizing is Lanczos, except
    that `sharp` enlarges small images by repeating pixels.
    """
    image = _eight_bit(image)
    image = image.convert("L" if colour == "grayscale" else "RGB")
    if image.size != (size, size):
        enlarging = max(image.size) <= size
        resample = Image.Resampling.NEAREST if sharp and enlarging else Image.Resampling.LANCZOS
        if fit == "crop":
            image = ImageOps.fit(image, (size, size), method=resample)
        else:
            image = ImageOps.pad(image, (size, size), method=resample, color=_border(image))
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _eight_bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(values / top * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("RGB")
    return image


def _border(image: Image.Image) -> int | tuple[int, ...]:
    pixels = np.asarray(image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    median = np.median(border, axis=0)
    return int(median) if np.ndim(median) == 0 else tuple(int(v) for v in median)


# --- Importing --------------------------------------------------------------------------------


def import_upload(
    source: bytes | str | os.PathLike | BinaryIO,
    title: str,
    settings: ImportSettings = ImportSettings(),
    filename: str = "",
    report: UploadReport | None = None,
    home: str | os.PathLike | None = None,
    replace: bool = False,
    limits: Limits = Limits(),
    progress: Progress | None = None,
) -> StoredInfo:
    """Import an upload as the stored set `title` and return what was stored.

    `report` is `inspect_upload`'s report of the same upload, to skip reading it twice.
    Images are decoded one at a time into the final arrays; files that fail to decode are
    skipped and named in the stored metadata. An existing set of the same name is replaced
    only with `replace=True`, and only once the new one is complete.
    """
    report_progress = progress or (lambda fraction, message: None)
    name = safe_name(title)
    folder = own_dir(home) / name
    if folder.exists() and not replace:
        raise OwnDataError(
            _(
                "A stored set called {name} exists already. Choose another name, or replace it."
            ).format(name=repr(name))
        )
    with _open_zip(source, filename, limits) as archive:
        if report is None:
            report_progress(0.0, _("Checking the upload"))
            report = (_inspect_npz if _is_npz(archive, filename) else _inspect_folders)(
                archive, filename, limits
            )
        entries = _unique(report.entries) if settings.drop_duplicates else list(report.entries)
        parts = _split(entries, len(report.class_names), settings)
        count = sum(len(members) for members in parts.values())
        output_bytes = count * settings.size**2 * settings.channels
        if output_bytes > limits.max_output_bytes:
            raise OwnDataError(
                _(
                    "{count} images of {shape} make {size} MB; the limit is {limit} MB. Choose a "
                    "smaller size."
                ).format(
                    count=f"{count:,}",
                    shape=f"{settings.size}×{settings.size}×{settings.channels}",
                    size=f"{output_bytes / 2**20:,.0f}",
                    limit=f"{limits.max_output_bytes / 2**20:,.0f}",
                )
            )
        npz_images = {}
        if report.kind == "npz":
            npz_images = {p: _npz_array(archive, f"x_{p}", filename) for p in ("train", "test")}
        arrays, skipped = {}, list(report.skipped)
        done = 0
        for part, members in parts.items():
            x = np.empty((len(members), settings.size, settings.size, settings.channels), np.uint8)
            y = np.empty(len(members), np.int64)
            filled = 0
            for entry in members:
                try:
                    if npz_images:
                        source_part, index = entry.member[2:].rstrip("]").split("[")
                        image = _array_image(npz_images[source_part][int(index)])
                    else:
                        image = _open_image(archive.read(entry.member), settings.size)
                    x[filled] = _fit(image, settings.size, settings.colour, settings.fit)
                except DECODE_ERRORS as error:
                    skipped.append(
                        SkippedFile(
                            entry.path, _("unreadable ({error})").format(error=_short(error))
                        )
                    )
                    continue
                y[filled] = entry.label
                filled += 1
                done += 1
                if done % 500 == 0:
                    report_progress(
                        done / max(count, 1),
                        _("Decoded {done} of {count} images").format(
                            done=f"{done:,}", count=f"{count:,}"
                        ),
                    )
            arrays[f"x_{part}"], arrays[f"y_{part}"] = x[:filled], y[:filled]
        del npz_images
    for label, class_name in enumerate(report.class_names):
        if not np.any(arrays["y_train"] == label):
            raise OwnDataError(
                _(
                    "No training image of class {name} could be decoded. Replace its files with "
                    "readable images."
                ).format(name=repr(class_name))
            )
    report_progress(0.95, _("Saving"))
    created = datetime.now(UTC).isoformat(timespec="microseconds")
    source = _source_phrases(report, filename, settings)
    meta = {
        "format": FORMAT_VERSION,
        "title": title.strip() or name,
        "class_names": list(report.class_names),
        "input_shape": [settings.size, settings.size, settings.channels],
        "counts": {part: int(len(arrays[f"y_{part}"])) for part in parts},
        "source": english_phrases(source),
        "source_phrases": [[part.template, dict(part.values)] for part in source],
        "created": created,
        "settings": asdict(settings),
        "skipped": [asdict(item) for item in skipped],
        "duplicates_dropped": len(report.entries) - len(entries),
    }
    _write_atomically(folder, arrays, meta, replace)
    report_progress(1.0, _("Stored as {name}").format(name=name))
    return _info(folder)


# The phrases a stored set's source is made of, by how it was imported: the metadata keeps the
# template and its values, and only these templates are read back.
_SOURCE_TEMPLATES = {
    "{file}",
    N_("an uploaded .{kind}"),
    N_("padded to {size}×{size} grayscale"),
    N_("padded to {size}×{size} rgb"),
    N_("centre-cropped to {size}×{size} grayscale"),
    N_("centre-cropped to {size}×{size} rgb"),
    N_("its own split"),
    N_("a stratified split with seed {seed}"),
}


def _source_phrases(
    report: UploadReport, filename: str, settings: ImportSettings
) -> tuple[Phrase, ...]:
    origin = (
        phrase("{file}", file=filename)
        if filename
        else phrase(N_("an uploaded .{kind}"), kind=report.kind)
    )
    how = "padded" if settings.fit == "pad" else "centre-cropped"
    fitted = phrase(f"{how} to {{size}}×{{size}} {settings.colour}", size=settings.size)
    split = (
        phrase(N_("its own split"))
        if report.has_split
        else phrase(N_("a stratified split with seed {seed}"), seed=settings.seed)
    )
    return origin, fitted, split


def _stored_phrases(meta: dict) -> tuple[Phrase, ...]:
    """The source phrases a set's metadata keeps, or () where it keeps none this module
    wrote (an older set, or a damaged file): its English `source` is shown then."""
    try:
        parts = tuple(
            phrase(template, **{str(key): value for key, value in values.items()})
            for template, values in meta.get("source_phrases", ())
        )
        for part in parts:
            if part.template not in _SOURCE_TEMPLATES:
                return ()
            part.english()
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return ()
    return parts


def _unique(entries: tuple[_Entry, ...]) -> list[_Entry]:
    seen, kept = set(), []
    for entry in entries:
        if entry.digest not in seen:
            seen.add(entry.digest)
            kept.append(entry)
    return kept


def _split(entries: list[_Entry], num_classes: int, settings: ImportSettings) -> dict[str, list]:
    """Training, validation and test entries, each in a seeded random order.

    An upload's own parts are kept; what it lacks is drawn from its training part, class by
    class, so each class keeps its share in every part.
    """
    rng = np.random.default_rng(settings.seed)
    given = {entry.part for entry in entries if entry.part}
    parts: dict[str, list[_Entry]] = {"train": [], "val": [], "test": []}
    pool = []
    for entry in entries:
        if entry.part in ("val", "test"):
            parts[entry.part].append(entry)
        else:
            pool.append(entry)
    fractions = {
        "val": 0.0 if "val" in given else settings.validation_fraction,
        "test": 0.0 if "test" in given else settings.test_fraction,
    }
    for label in range(num_classes):
        members = [entry for entry in pool if entry.label == label]
        order = [members[i] for i in rng.permutation(len(members))]
        taken = 0
        for part in ("test", "val"):
            share = fractions[part]
            count = round(len(members) * share)
            if share > 0 and len(members) >= MIN_IMAGES_PER_CLASS:
                count = max(count, 1)  # every class is measured, however small
            count = min(count, len(members) - taken - 1)  # and keeps a training image
            parts[part].extend(order[taken : taken + count])
            taken += count
        parts["train"].extend(order[taken:])
    for part, members in parts.items():
        parts[part] = [members[i] for i in rng.permutation(len(members))]
    return parts


# --- Storage ----------------------------------------------------------------------------------


def own_dir(home: str | os.PathLike | None = None) -> Path:
    """The folder holding the stored sets: data/own below the CNN Lab home."""
    return data_dir(Path(home) if home is not None else None) / OWN_FOLDER


def safe_name(title: str) -> str:
    """A folder name for `title`: letters of any script, digits, '-' and '_'; at most 60."""
    text = unicodedata.normalize("NFC", str(title)).strip().lower()
    out, dash = [], False
    for char in text:
        if char.isalnum() or char in "_-":
            out.append(char)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    name = "".join(out).strip("-_")[:60].strip("-_")
    if not name:
        raise OwnDataError(_("Give the dataset a name with at least one letter or digit."))
    return name


def _write_atomically(folder: Path, arrays: dict, meta: dict, replace: bool) -> None:
    """Write into a hidden folder beside the target, then rename it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        _save_npz(staging / ARRAYS_FILE, arrays)
        (staging / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
        if folder.exists():
            if not replace:
                raise OwnDataError(
                    _("A stored set called {name} appeared meanwhile.").format(
                        name=repr(folder.name)
                    )
                )
            old = folder.parent / f".{folder.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """What `numpy.savez_compressed` writes, without its 16 MB copies: each array goes to the
    compressor a megabyte at a time, straight from its own memory. Labels are kept as
    uint16, a quarter of int64's size."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            value = np.ascontiguousarray(value.astype(np.uint16) if key.startswith("y_") else value)
            with archive.open(f"{key}.npy", "w", force_zip64=True) as handle:
                header = np.lib.format.header_data_from_array_1_0(value)
                np.lib.format.write_array_header_1_0(handle, header)
                data = memoryview(value).cast("B") if value.size else memoryview(b"")
                for start in range(0, len(data), 2**20):
                    handle.write(data[start : start + 2**20])


def _read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / META_FILE).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OwnDataError(
            _(
                "The stored set {name} has no readable {file} ({error}). Delete it and import it "
                "again."
            ).format(name=repr(folder.name), file=META_FILE, error=_short(error))
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise OwnDataError(
            _(
                "The stored set {name} was written in another format. Delete it and import it "
                "again."
            ).format(name=repr(folder.name))
        )
    return meta


def _info(folder: Path) -> StoredInfo:
    meta = _read_meta(folder)
    arrays = folder / ARRAYS_FILE
    return StoredInfo(
        name=folder.name,
        title=str(meta.get("title", folder.name)),
        class_names=tuple(meta["class_names"]),
        input_shape=tuple(int(v) for v in meta["input_shape"]),
        counts={str(k): int(v) for k, v in meta["counts"].items()},
        source=str(meta.get("source", "")),
        source_parts=_stored_phrases(meta),
        created=str(meta.get("created", "")),
        settings=dict(meta.get("settings", {})),
        nbytes=arrays.stat().st_size if arrays.is_file() else 0,
    )


def list_stored(home: str | os.PathLike | None = None) -> list[StoredInfo]:
    """The stored sets, newest first; a folder with damaged metadata is left out."""
    root = own_dir(home)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            found.append(_info(folder))
        except (OwnDataError, KeyError, TypeError, ValueError, OSError):
            continue
    return sorted(found, key=lambda info: (info.created, info.name), reverse=True)


def load_stored(name: str, home: str | os.PathLike | None = None) -> OwnDataset:
    """The stored set `name` (a folder name or "own:<name>") as a read-only `OwnDataset`."""
    name = name.removeprefix(NAME_PREFIX)
    folder = own_dir(home) / name
    if name != safe_name(name) or not folder.is_dir():
        known = ", ".join(info.name for info in list_stored(home)) or "none"
        raise OwnDataError(
            _("No stored set called {name}. Stored sets: {known}.").format(
                name=repr(name), known=known
            )
        )
    meta = _read_meta(folder)
    parts = _stored_phrases(meta)
    try:
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        shape = tuple(meta["input_shape"])
        for part in ("train", "val", "test"):
            x = arrays[f"x_{part}"]
            if x.dtype != np.uint8 or x.shape[1:] != shape or len(arrays[f"y_{part}"]) != len(x):
                raise ValueError(f"x_{part} does not match its metadata")
        return OwnDataset(
            name=NAME_PREFIX + name,
            x_train=arrays["x_train"],
            y_train=arrays["y_train"].astype(np.int64),
            x_test=arrays["x_test"],
            y_test=arrays["y_test"].astype(np.int64),
            class_names=tuple(meta["class_names"]),
            source=(phrase("{file}", file=meta.get("title", name)), *parts)
            if parts
            else f"{meta.get('title', name)}: {meta.get('source', '')}",
            x_val=arrays["x_val"],
            y_val=arrays["y_val"].astype(np.int64),
        )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise OwnDataError(
            _("The stored set {name} is damaged ({error}). Delete it and import it again.").format(
                name=repr(name), error=_short(error)
            )
        ) from None


def delete_stored(name: str, home: str | os.PathLike | None = None) -> None:
    """Remove the stored set `name`; other sets are untouched."""
    name = name.removeprefix(NAME_PREFIX)
    folder = own_dir(home) / name
    if name != safe_name(name) or not folder.is_dir():
        raise OwnDataError(
            _("No stored set called {name}; nothing was deleted.").format(name=repr(name))
        )
    # Renamed first, so a half-deleted folder never looks like a stored set.
    doomed = folder.parent / f".{name}.deleted"
    shutil.rmtree(doomed, ignore_errors=True)
    folder.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


# --- Default network --------------------------------------------------------------------------


# The names `default_network` gives its networks, kept in English; `shown_network_name` shows them.
_SMALL_NETWORK = N_("ConvNetJS-size network for {size}")
_DEEPER_NETWORK = N_("Deeper network for {size}")


def default_network(input_shape: tuple[int, int, int], num_classes: int) -> Network:
    """A network to start from, chosen by image size.

    Up to 40 pixels a side: ConvNetJS's CIFAR-10 demo network (5×5 convolutions of 16, 20 and
    20 filters, each followed by 2×2 max pooling), with as many poolings as keep the maps at
    least 2 pixels wide. Larger images get a deeper VGG-style stack of 3×3 convolutions (16,
    32, 32, 64, 64, 128 filters, four poolings) ending in global average pooling, so that the
    classifier stays small whatever the image size.
    """
    if len(input_shape) != 3 or not all(isinstance(v, int) and v > 0 for v in input_shape):
        raise ValueError(
            _("input_shape must be (height, width, channels); got {value}.").format(
                value=repr(input_shape)
            )
        )
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            _("num_classes must be at least 2; got {value}.").format(value=repr(num_classes))
        )
    side = min(input_shape[:2])
    if side <= 40:
        layers: list[Any] = [Input(shape=tuple(input_shape))]
        for filters in (16, 20, 20):
            if side // 2 < 2:
                break
            layers += [Conv2D(filters, 5, padding="same"), MaxPooling2D(pool_size=2, strides=2)]
            side //= 2
        layers += [Flatten(), Dense(num_classes, activation="softmax")]
        return Network(_SMALL_NETWORK.format(size=f"{input_shape[0]}×{input_shape[1]}"), layers)
    layers = [
        Input(shape=tuple(input_shape)),
        Conv2D(16, 3, padding="same"),
        MaxPooling2D(pool_size=2),
        Conv2D(32, 3, padding="same"),
        Conv2D(32, 3, padding="same"),
        MaxPooling2D(pool_size=2),
        Conv2D(64, 3, padding="same"),
        Conv2D(64, 3, padding="same"),
        MaxPooling2D(pool_size=2),
        Conv2D(128, 3, padding="same"),
        MaxPooling2D(pool_size=2),
        GlobalAveragePooling2D(),
        Dropout(0.3),
        Dense(num_classes, activation="softmax"),
    ]
    return Network(_DEEPER_NETWORK.format(size=f"{input_shape[0]}×{input_shape[1]}"), layers)


def shown_network_name(name: str) -> str:
    """A `default_network`'s name in the current language (the name itself stays English, as
    networks are stored and shared by it); any other name as it is."""
    for template in (_SMALL_NETWORK, _DEEPER_NETWORK):
        prefix = template.removesuffix("{size}")
        size = name.removeprefix(prefix)
        if size != name and size.replace("×", "").isdigit():
            return _(template).format(size=size)
    return name


# --- The offline example ----------------------------------------------------------------------

EXAMPLE_TITLE = "scikit-learn digits"
EXAMPLE_FILENAME = "sklearn-digits.zip"
EXAMPLE_SOURCE = N_(  # in English; pages show it with `_()`
    "scikit-learn's copy of the UCI optical recognition of handwritten digits test set: "
    "1,797 digits written by 43 people, scanned and reduced to 8×8 pixels of 17 grey levels"
)


def example_zip() -> bytes:
    """scikit-learn's 1,797 real handwritten 8×8 digits as a zip of PNGs in folders 0..9.

    The digits ship inside scikit-learn, so no download is needed; they are stored as the
    files a student would upload, so the example goes through the whole import path.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    # 17 grey levels, 0 (white paper) .. 16 (ink); stored as MNIST draws digits: light on dark.
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
            png = io.BytesIO()
            Image.fromarray(image, "L").save(png, format="PNG")
            archive.writestr(f"digits/{label}/{index:04d}.png", png.getvalue())
    return buffer.getvalue()
