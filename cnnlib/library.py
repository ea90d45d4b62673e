"""Trained models as plain records, stored as `.keras` files that carry CNN Lab's metadata.

A `ModelRecord` is a Keras model plus what a page needs to know about it: dataset, input
shape, class names, the network spec it was built from, training settings, history and test
accuracy. `record_to_bytes` writes the model with `model.save` and adds one more entry,
`cnnlab.json`, to the same zip, so a single file carries model, spec, settings and accuracy
(Keras's own `keras.saving.load_model` ignores the extra entry). `record_from_bytes` reads such
a file, or a plain Keras file, always in Keras's safe mode; a bad upload raises `ValueError`
with a short message saying what to do. `ModelLibrary` keeps records as files in the model
folder (`cnnlib.paths.models_dir()`), the one thing sessions share, or, for a logged-in user
(`ModelLibrary.for_user`), in that user's own folder below it. Which records a browser session
holds, and who its user is, is the page's business, not this module's.

Freeing a model: `release(record)` drops the record's reference to its model and the model's
traced step functions, then runs the garbage collector; it touches nothing shared, so it is
safe while other sessions train. Do not call `keras.backend.clear_session()` in the dashboard:
it swaps out Keras's per-thread state for every thread at once and clears TensorFlow's graph
and kernel caches under other sessions' running jobs, and it does not return the memory a
trained model leaves behind anyway (see `cnnlib.training.settings.avoid_graph_leak` for what does).
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cnnlib.datasets import CIFAR10_CLASS_NAMES, MNIST_CLASS_NAMES
from cnnlib.i18n import _
from cnnlib.layers import Network
from cnnlib.paths import models_dir

METADATA_ENTRY = "cnnlab.json"  # CNN Lab's entry inside the .keras zip
METADATA_FORMAT = 1  # version of the cnnlab.json layout
MAX_NAME_LENGTH = 100  # characters of a model name
# Bytes of a model name as a file name (UTF-8, where Hangul letters take 3 bytes each). File
# systems allow 255; the rest is room for ".keras" and the temporary name used while saving.
MAX_NAME_BYTES = 200
# The folder below the model folder that holds each logged-in user's own library.
USERS_FOLDER = "users"

MNIST_CLASSES = list(MNIST_CLASS_NAMES)
CIFAR10_CLASSES = list(CIFAR10_CLASS_NAMES)
# A plain Keras file says nothing of its dataset; these input shapes (with 10 classes) are
# recognised so that an uploaded MNIST or CIFAR-10 model gets its class names.
_KNOWN_DATASETS = {
    ((28, 28, 1), 10): ("mnist", MNIST_CLASSES),
    ((32, 32, 3), 10): ("cifar10", CIFAR10_CLASSES),
}

# Entries Keras writes into a .keras zip; anything else (CNN Lab's metadata, assets) is extra.
_KERAS_CONFIG = "config.json"
_KERAS_WEIGHTS = ("model.weights.h5", "model.weights.npz")
# Layers that run code or read files named by the uploaded file itself.
_REFUSED_CLASSES = {"Lambda", "__lambda__", "TFSMLayer"}
# A member that unpacks to much more than it stores is a decompression bomb, not a model.
_BOMB_FLOOR_BYTES = 256 * 1024 * 1024
_BOMB_RATIO = 100
# Limits on an upload's zip directory, checked before anything is inflated. A model file holds
# Keras's three entries and CNN Lab's metadata. The weights and Adam's state of the largest
# network the training budget admits (150 M parameters) unpack to 1.8 GB.
MAX_MEMBERS = 64
MAX_UNPACKED_BYTES = 2 * 2**30
_MAX_DIRECTORY_BYTES = 1024 * MAX_MEMBERS  # a directory entry is a name and a few numbers
_END_OF_DIRECTORY = b"PK\x05\x06"  # the zip's last record: entry count, directory size
_END_SEARCH_BYTES = 22 + 65_535  # the record and the longest comment that may follow it


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    name: str  # shown to the user; the library's file name is made from it
    model: Any  # the keras.Model; None once released
    dataset: str  # "mnist", "cifar10", ... or "unknown" for an upload that does not say
    input_shape: tuple[int, ...]  # one example, without the batch axis, e.g. (28, 28, 1)
    class_names: list[str]  # one per output unit, in output order
    network: Network | None = None  # the spec it was built from; None for plain Keras files
    settings: dict[str, Any] = field(default_factory=dict)  # training settings (epochs, ...)
    test_accuracy: float | None = None  # on the held-out test set, 0..1
    history: dict[str, list[float | None]] = field(default_factory=dict)  # per-epoch values
    created: str = field(default_factory=_now)  # ISO 8601, UTC
    test_loss: float | None = None
    precision: str = "float32"  # "float32" or "mixed_bfloat16"
    validation_fraction: float | None = None  # share of training data held out for validation
    source: str = "trained"  # "trained" in this dashboard, or "upload" for a plain Keras file

    def metadata(self) -> dict[str, Any]:
        """Everything but the model, as plain JSON-ready values."""
        return {
            "format": METADATA_FORMAT,
            "name": self.name,
            "dataset": self.dataset,
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
            "network": self.network.to_dict() if self.network is not None else None,
            "settings": self.settings,
            "test_accuracy": self.test_accuracy,
            "history": self.history,
            "created": self.created,
            "test_loss": self.test_loss,
            "precision": self.precision,
            "validation_fraction": self.validation_fraction,
            "source": self.source,
        }


def release(record: ModelRecord) -> None:
    """Free `record`'s model once nothing else holds it; the record keeps its metadata.

    Safe while other sessions' models train in the same process: it touches only this model.
    Keras models hold reference cycles (layers, trackers, traced step functions that capture
    the variables), so memory returns only after the cycle collector runs.
    """
    model = record.model
    record.model = None
    if model is not None:
        # The traced train/test/predict functions keep graphs and captured variables alive.
        for attribute in ("train_function", "test_function", "predict_function"):
            if hasattr(model, attribute):
                setattr(model, attribute, None)
        del model
    gc.collect()


# ---------------------------------------------------------------------------------------------
# Bytes


def record_to_bytes(record: ModelRecord) -> bytes:
    """The record as a `.keras` file: Keras's own entries plus `cnnlab.json`."""
    if record.model is None:
        raise ValueError(
            _("The model {name} was released; train or load it again.").format(
                name=repr(record.name)
            )
        )
    try:
        metadata = json.dumps(record.metadata(), default=_plain, indent=1)
    except TypeError as err:
        raise ValueError(
            _("The model's settings cannot be saved: {error}.").format(error=err)
        ) from None
    try:
        with tempfile.TemporaryDirectory(prefix="cnnlab-") as folder:
            path = Path(folder) / "model.keras"
            record.model.save(path)
            with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(METADATA_ENTRY, metadata)
            return path.read_bytes()
    except OSError as err:
        raise ValueError(
            _(
                "The model {name} could not be written ({error}). The server's temporary folder "
                "may be full; try again later or tell the teacher."
            ).format(name=repr(record.name), error=err.strerror or err)
        ) from None


def _plain(value: Any) -> Any:
    """JSON for the NumPy numbers and arrays, and sets, that end up in settings and histories."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not a plain value")


def record_from_bytes(
    data: bytes,
    expected_input_shape: tuple[int, ...] | None = None,
    expected_classes: int | None = None,
    name: str | None = None,
) -> ModelRecord:
    """Read a `.keras` file (CNN Lab's or a plain Keras one) into a record, in safe mode.

    `expected_input_shape` (e.g. (28, 28, 1)) and `expected_classes` (e.g. 10) refuse models
    made for another dataset. `name` is used when the file carries no CNN Lab name. Every
    refusal is a `ValueError` whose message says what to do.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(_("Pass the file's contents as bytes."))
    data = bytes(data)
    archive = _open_archive(data)
    with archive:
        config = _read_json(archive, _KERAS_CONFIG)
        _refuse_code(config)
        metadata = (
            _read_json(archive, METADATA_ENTRY) if METADATA_ENTRY in archive.namelist() else None
        )
        model = _load_keras(archive)
    input_shape, classes = _model_io(model)
    if expected_input_shape is not None and tuple(expected_input_shape) != input_shape:
        raise ValueError(
            _(
                "This model takes {shape} inputs, but this page feeds it {page_shape} images. "
                "Upload a model trained on this page's dataset."
            ).format(
                shape=_shape_text(input_shape),
                page_shape=_shape_text(tuple(expected_input_shape)),
            )
        )
    if expected_classes is not None and expected_classes != classes:
        raise ValueError(
            _(
                "This model answers with {classes} classes, but this page has {expected}. "
                "Upload a model trained on this page's dataset."
            ).format(classes=classes, expected=expected_classes)
        )
    if metadata is None:
        return _inferred_record(model, input_shape, classes, name)
    return _record_from_metadata(metadata, model, input_shape, classes)


def _open_archive(data: bytes) -> zipfile.ZipFile:
    if not data:
        raise ValueError(_("The file is empty. Choose a .keras model file."))
    if data.startswith(b"\x89HDF"):
        raise ValueError(
            _(
                "This is an old-style HDF5 (.h5) model. CNN Lab reads .keras files: load it in "
                "Keras and save it again with model.save('name.keras')."
            )
        )
    _check_directory(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        if data.startswith(b"PK\x03\x04"):
            raise ValueError(
                _(
                    "The file is truncated or damaged (its zip directory is missing). Download "
                    "or copy it again and upload the complete file."
                )
            ) from None
        raise ValueError(
            _("This is not a Keras model file. Upload a .keras file saved with model.save.")
        ) from None
    names = archive.namelist()
    if _KERAS_CONFIG not in names or not any(entry in names for entry in _KERAS_WEIGHTS):
        archive.close()
        raise ValueError(
            _(
                "This zip file is not a Keras model (it has no config.json and weights). "
                "Upload a .keras file saved with model.save."
            )
        )
    members = archive.infolist()
    unpacked = sum(info.file_size for info in members)
    problem = None
    if len(members) > MAX_MEMBERS:
        problem = _too_many_members(len(members))
    elif unpacked > MAX_UNPACKED_BYTES or (
        unpacked > _BOMB_FLOOR_BYTES and unpacked > _BOMB_RATIO * len(data)
    ):
        problem = _(
            "The file's {count} entries would unpack to {unpacked} bytes from {size}; a model "
            "file unpacks to at most {limit}, and weights do not shrink that much when zipped. "
            "CNN Lab did not unpack it. Upload the .keras file exactly as model.save wrote it, "
            "with nothing added."
        ).format(
            count=len(members),
            unpacked=f"{unpacked:,}",
            size=f"{len(data):,}",
            limit=f"{MAX_UNPACKED_BYTES:,}",
        )
    if problem is not None:
        archive.close()
        raise ValueError(problem)
    for info in members:
        if info.file_size > _BOMB_FLOOR_BYTES and info.file_size > _BOMB_RATIO * max(
            info.compress_size, 1
        ):
            archive.close()
            raise ValueError(
                _(
                    "The file's entry {entry} unpacks to {size} bytes; refusing it. Upload a "
                    ".keras file saved with model.save."
                ).format(entry=repr(info.filename), size=f"{info.file_size:,}")
            )
    try:
        damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError):
        damaged = "?"
    if damaged is not None:
        archive.close()
        raise ValueError(
            _(
                "The file is truncated or damaged (an entry fails its checksum). Download or "
                "copy it again and upload the complete file."
            )
        )
    return archive


def _check_directory(data: bytes) -> None:
    """Refuse, from the zip's end record alone, a directory larger than a model file has:
    opening the zip would read every entry of it into memory. A file without the record is
    left to `zipfile`, which says it is damaged or not a zip."""
    end = data.rfind(_END_OF_DIRECTORY, max(len(data) - _END_SEARCH_BYTES, 0))
    if end < 0 or len(data) < end + 22:
        return
    entries, directory_bytes = struct.unpack("<HI", data[end + 10 : end + 16])
    if entries > MAX_MEMBERS or directory_bytes > _MAX_DIRECTORY_BYTES:
        raise ValueError(_too_many_members(entries, directory_bytes))


def _too_many_members(entries: int, directory_bytes: int | None = None) -> str:
    if directory_bytes is None:
        listed = _("{count} entries").format(count=f"{entries:,}")
    else:
        listed = _("{count} entries in a {size}-byte directory").format(
            count=f"{entries:,}", size=f"{directory_bytes:,}"
        )
    return _(
        "The file lists {listed}; a Keras model file has a handful (config.json, metadata.json, "
        "the weights), and CNN Lab reads at most {limit}. Upload the .keras file exactly as "
        "model.save wrote it, not a zip with other files added."
    ).format(listed=listed, limit=MAX_MEMBERS)


def _read_json(archive: zipfile.ZipFile, entry: str) -> Any:
    try:
        return json.loads(archive.read(entry))
    except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile, RecursionError):
        raise ValueError(
            _(
                "The file's {entry} is damaged. Save the model again and upload the new file."
            ).format(entry=entry)
        ) from None


def _refuse_code(config: Any) -> None:
    """Refuse, before Keras sees the file, layers that carry code or come from outside Keras."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and _looks_like_bytecode(node):
            raise ValueError(
                _(
                    "This model contains Python code (a lambda function); CNN Lab never runs "
                    "code from a file. Rebuild the model with standard Keras layers and save it "
                    "again."
                )
            )
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        class_name = node.get("class_name")
        if class_name in _REFUSED_CLASSES:
            raise ValueError(
                _(
                    "This model contains a {layer} layer, which holds Python code; CNN Lab never "
                    "runs code from a file. Rebuild the model with standard Keras layers and "
                    "save it again."
                ).format(layer=class_name.strip("_").title())
            )
        module = node.get("module")
        if isinstance(module, str) and module != "keras" and not module.startswith("keras."):
            raise ValueError(
                _(
                    "This model uses {layer} from {module}, which is not part of Keras; CNN Lab "
                    "loads only models made of standard Keras layers."
                ).format(layer=repr(class_name), module=repr(module))
            )
        stack.extend(node.values())


_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")


def _looks_like_bytecode(text: str) -> bool:
    """Keras stores a Python function as base64 of its marshalled code object, whose first
    byte is 0xE3; no other string in a model's configuration decodes to that."""
    if len(text) < 32 or not text.startswith("4") or not _BASE64.fullmatch(text):
        return False
    try:
        return base64.b64decode(text)[:1] == b"\xe3"
    except (ValueError, binascii.Error):
        return False


def _load_keras(archive: zipfile.ZipFile) -> Any:
    """Load with Keras's safe mode from a copy holding only Keras's own entries.

    Keras unpacks the whole archive to a temporary folder when it holds more than its three
    entries, so the metadata entry is left out of the copy it reads.
    """
    import keras

    with tempfile.TemporaryDirectory(prefix="cnnlab-") as folder:
        path = Path(folder) / "upload.keras"
        with zipfile.ZipFile(path, "w") as copy:
            for info in archive.infolist():
                if info.filename != METADATA_ENTRY:
                    copy.writestr(info, archive.read(info.filename))
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as err:  # Keras raises many kinds; the user needs one message.
            text = " ".join(str(err).split())
            if "lambda" in text.lower():
                raise ValueError(
                    _(
                        "This model contains Python code (a lambda); CNN Lab never runs code "
                        "from a file. Rebuild the model with standard Keras layers."
                    )
                ) from None
            raise ValueError(
                _(
                    "Keras could not read this model ({error}). Upload a .keras file saved with "
                    "model.save."
                ).format(error=f"{type(err).__name__}: {text[:200]}")
            ) from None


def _model_io(model: Any) -> tuple[tuple[int, ...], int]:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            _(
                "This model has several inputs or outputs; CNN Lab uses image classifiers with "
                "one input and one output."
            )
        )
    input_shape = tuple(model.inputs[0].shape[1:])
    output_shape = tuple(model.outputs[0].shape[1:])
    if any(size is None for size in input_shape) or len(output_shape) != 1:
        raise ValueError(
            _(
                "This model takes {input} and returns {output}; CNN Lab uses image classifiers "
                "with a fixed input size and one score per class."
            ).format(input=input_shape, output=output_shape)
        )
    return tuple(int(size) for size in input_shape), int(output_shape[0])


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape)


def _precision(model: Any) -> str:
    names = {getattr(layer.dtype_policy, "name", "float32") for layer in model.layers}
    return "mixed_bfloat16" if "mixed_bfloat16" in names else "float32"


def _inferred_record(
    model: Any, input_shape: tuple[int, ...], classes: int, name: str | None
) -> ModelRecord:
    dataset, class_names = _KNOWN_DATASETS.get(
        (input_shape, classes), ("unknown", [str(i) for i in range(classes)])
    )
    return ModelRecord(
        name=name or model.name,
        model=model,
        dataset=dataset,
        input_shape=input_shape,
        class_names=list(class_names),
        precision=_precision(model),
        source="upload",
    )


def _record_from_metadata(
    metadata: Any, model: Any, input_shape: tuple[int, ...], classes: int
) -> ModelRecord:
    def damaged(what: str) -> ValueError:
        return ValueError(
            _(
                "The file's CNN Lab metadata is damaged ({what}). Save the model again from CNN "
                "Lab, or upload the plain Keras file."
            ).format(what=what)
        )

    if not isinstance(metadata, dict) or not isinstance(metadata.get("format"), int):
        raise damaged(_("not a metadata object"))
    if metadata["format"] > METADATA_FORMAT:
        raise ValueError(_("This file was saved by a newer CNN Lab; update CNN Lab to load it."))
    text_fields = ("name", "dataset", "created", "precision", "source")
    for key in text_fields:
        if not isinstance(metadata.get(key), str):
            raise damaged(_("{key} is not text").format(key=key))
    class_names = metadata.get("class_names")
    if not isinstance(class_names, list) or not all(isinstance(n, str) for n in class_names):
        raise damaged(_("class_names is not a list of names"))
    if len(class_names) != classes:
        raise damaged(
            _("{count} class names for a model with {classes} outputs").format(
                count=len(class_names), classes=classes
            )
        )
    if metadata.get("input_shape") != list(input_shape):
        raise damaged(
            _("input shape {shape} for a model taking {expected}").format(
                shape=metadata.get("input_shape"), expected=input_shape
            )
        )
    for key in ("settings", "history"):
        if not isinstance(metadata.get(key), dict):
            raise damaged(_("{key} is not an object").format(key=key))
    history = metadata["history"]
    if not all(
        isinstance(v, list) and all(x is None or _is_number(x) for x in v) for v in history.values()
    ):
        raise damaged(_("history is not lists of numbers"))
    numbers = {}
    for key in ("test_accuracy", "test_loss", "validation_fraction"):
        value = metadata.get(key)
        if value is not None and not _is_number(value):
            raise damaged(_("{key} is not a number").format(key=key))
        numbers[key] = None if value is None else float(value)
    network = None
    if metadata.get("network") is not None:
        try:
            network = Network.from_dict(metadata["network"])
        except ValueError as err:
            raise damaged(f"network: {err}") from None
    return ModelRecord(
        name=metadata["name"],
        model=model,
        dataset=metadata["dataset"],
        input_shape=input_shape,
        class_names=list(class_names),
        network=network,
        settings=metadata["settings"],
        history={
            key: [None if x is None else float(x) for x in values]
            for key, values in history.items()
        },
        created=metadata["created"],
        precision=metadata["precision"],
        source=metadata["source"],
        **numbers,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Files


def save_record(record: ModelRecord, path: str | Path) -> Path:
    """Write `record` to `path` (a `.keras` file), replacing it in one step."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(
            _("Model files end in .keras; rename {name}.").format(name=repr(path.name))
        )
    _write_atomically(path, record_to_bytes(record), overwrite=True)
    return path


def load_record(
    path: str | Path,
    expected_input_shape: tuple[int, ...] | None = None,
    expected_classes: int | None = None,
) -> ModelRecord:
    """Read a `.keras` file from disk; see `record_from_bytes`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(_("There is no model file {name}.").format(name=repr(path.name))) from None
    return record_from_bytes(data, expected_input_shape, expected_classes, name=path.stem)


def _write_atomically(path: Path, data: bytes, overwrite: bool) -> None:
    """Write to a hidden temporary file in the same folder, then move it into place, so that
    other sessions never see half a file. Without `overwrite`, an existing file wins. Any
    failure of the file system is a ValueError saying what to do."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent
        )
    except OSError as err:
        raise _unwritable(path, err) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        if overwrite:
            os.replace(temporary, path)
        else:
            # A hard link fails if the name exists, even when two sessions save at once.
            os.link(temporary, path)
    except FileExistsError:
        raise ValueError(
            _(
                "A model named {name} is already in the library; choose another name or "
                "overwrite it."
            ).format(name=repr(path.stem))
        ) from None
    except OSError as err:
        raise _unwritable(path, err) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _unwritable(path: Path, err: OSError) -> ValueError:
    return ValueError(
        _(
            "The model could not be saved as {name} ({error}). Try a shorter name; if that fails "
            "too, the model folder may be full or read-only: download the model instead and tell "
            "the teacher."
        ).format(name=repr(path.name), error=err.strerror or err)
    )


_UNSAFE = re.compile(r"[^\w .()+,=@-]")


def safe_name(name: str) -> str:
    """The library's file name (without .keras) for a model name; refuses unusable names.

    Path separators, a leading dot, and empty or very long names are refused; any other
    character that is not a letter, digit, space or one of `_ . ( ) + , = @ -` becomes `_`.
    Length is counted twice: at most MAX_NAME_LENGTH characters, and at most MAX_NAME_BYTES
    bytes as a UTF-8 file name, where letters beyond ASCII (Hangul, accented) take 2 to 4.
    """
    if not isinstance(name, str):
        raise ValueError(_("A model name must be text."))
    name = name.strip()
    if not name:
        raise ValueError(_("Give the model a name."))
    if "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(
            _("A model name cannot contain '/' or '\\': {name}. Remove them.").format(
                name=repr(name)
            )
        )
    if name.startswith("."):
        raise ValueError(_("A model name cannot start with a dot: {name}.").format(name=repr(name)))
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            _("A model name has at most {limit} characters; shorten it.").format(
                limit=MAX_NAME_LENGTH
            )
        )
    safe = _UNSAFE.sub("_", name)
    size = len(safe.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ValueError(
            _(
                "A model name can take at most {limit} bytes as a file name, and this one takes "
                "{size} (a Hangul letter takes 3, a Latin letter 1). Shorten it, e.g. to "
                "{letters} Hangul letters."
            ).format(limit=MAX_NAME_BYTES, size=size, letters=MAX_NAME_BYTES // 3)
        )
    return safe


def owner_folder(user_id: str) -> str:
    """The folder name of a user's own library: a hash of their identity, so that it holds no
    personal data, cannot name another folder, and is the same at every login."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("A library's owner must be a user's identity (non-empty text).")
    return hashlib.sha256(f"cnnlab-user:{user_id}".encode()).hexdigest()[:32]


class ModelLibrary:
    """The saved models in one folder, one `.keras` file per model.

    Without an `owner` the folder is the model folder itself, shared by every session: a
    dashboard without logins is a single-user tool. With one (`for_user`), it is that user's
    own folder below `models/users/`; listing, loading, saving and deleting never leave it, so
    nobody reaches another user's models, and the shared folder's list never shows them.
    """

    def __init__(self, home: Path | None = None, owner: str | None = None) -> None:
        self.owner = owner
        self.folder = models_dir(home)
        if owner is not None:
            self.folder = self.folder / USERS_FOLDER / owner_folder(owner)

    @classmethod
    def for_user(cls, user_id: str, home: Path | None = None) -> ModelLibrary:
        """The library of the user identified by `user_id` (e.g. their login's subject)."""
        owner_folder(user_id)  # refuses None and empty identities: never the shared library
        return cls(home, owner=user_id)

    def path(self, name: str) -> Path:
        return self.folder / f"{safe_name(name)}.keras"

    def list(self) -> list[dict[str, Any]]:
        """One dict per saved model, by name: {"name": str (what `load` takes), "dataset":
        str | None, "test_accuracy": float | None, "created": str | None, "path": str,
        "size": int (bytes), "error": str | None (why the file cannot be read)}."""
        if not self.folder.is_dir():
            return []
        entries = []
        for path in sorted(self.folder.glob("*.keras")):
            if path.name.startswith("."):
                continue
            entry: dict[str, Any] = {
                "name": path.stem,
                "dataset": None,
                "test_accuracy": None,
                "created": None,
                "path": str(path),
                "size": 0,
                "error": None,
            }
            try:
                entry["size"] = path.stat().st_size
                entry.update(_peek_metadata(path))
            except FileNotFoundError:
                continue  # deleted by another session meanwhile
            except ValueError as err:
                entry["error"] = str(err)
            entries.append(entry)
        return entries

    def save(self, record: ModelRecord, overwrite: bool = False) -> Path:
        """Store `record` as `<safe name>.keras`; the stored name is the safe name."""
        name = safe_name(record.name)
        path = self.folder / f"{name}.keras"
        stored = replace(record, name=name) if name != record.name else record
        _write_atomically(path, record_to_bytes(stored), overwrite=overwrite)
        return path

    def load(
        self,
        name: str,
        expected_input_shape: tuple[int, ...] | None = None,
        expected_classes: int | None = None,
    ) -> ModelRecord:
        path = self.path(name)
        if not path.is_file():
            raise ValueError(
                _("There is no model named {name} in the library.").format(name=repr(name))
            )
        return load_record(path, expected_input_shape, expected_classes)

    def delete(self, name: str) -> None:
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            raise ValueError(
                _("There is no model named {name} in the library.").format(name=repr(name))
            ) from None


def _peek_metadata(path: Path) -> dict[str, Any]:
    """Dataset, accuracy and date from a file's cnnlab.json, without loading the model."""
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_ENTRY not in archive.namelist():
                return {}
            metadata = json.loads(archive.read(METADATA_ENTRY))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError):
        raise ValueError(_("The file is damaged; delete it or save the model again.")) from None
    if not isinstance(metadata, dict):
        raise ValueError(_("The file's CNN Lab metadata is damaged."))
    accuracy = metadata.get("test_accuracy")
    return {
        "dataset": metadata.get("dataset") if isinstance(metadata.get("dataset"), str) else None,
        "test_accuracy": float(accuracy)
        if _is_number(accuracy) and math.isfinite(accuracy)
        else None,
        "created": metadata.get("created") if isinstance(metadata.get("created"), str) else None,
    }
