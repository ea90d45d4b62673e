"""Tests of cnnlib.library: .keras files with CNN Lab's metadata, bad uploads, the model folder.

Models are tiny (an 8×8 image, a few hundred weights) so that every save and load takes a
fraction of a second. The references are Keras itself (its own `load_model`, its predictions)
and the bytes of the zip format.
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import time
import weakref
import zipfile
import zlib

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib import layers as L
from cnnlib.build import build_model, compile_model
from cnnlib.library import (
    METADATA_ENTRY,
    ModelLibrary,
    ModelRecord,
    load_record,
    record_from_bytes,
    record_to_bytes,
    release,
    safe_name,
    save_record,
)

NETWORK = L.Network(
    "tiny",
    (
        L.Input((8, 8, 1)),
        L.Conv2D(2, 3),
        L.BatchNormalization(),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ),
)
IMAGES = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
LABELS = np.arange(16) % 3


def trained_record(name: str = "tiny run", precision: str = "float32") -> ModelRecord:
    model = compile_model(build_model(NETWORK, dtype_policy=precision))
    history = model.fit(IMAGES, LABELS, epochs=2, batch_size=8, verbose=0).history
    return ModelRecord(
        name=name,
        model=model,
        dataset="shapes",
        input_shape=(8, 8, 1),
        class_names=["circle", "square", "triangle"],
        network=NETWORK,
        settings={"epochs": 2, "batch_size": np.int64(8), "optimizer": "adam", "lr": 1e-3},
        test_accuracy=0.75,
        history={**history, "val_accuracy": [None, 0.5]},
        test_loss=0.61,
        precision=precision,
        validation_fraction=0.1,
    )


def plain_keras_bytes(model: keras.Model, tmp_path) -> bytes:
    path = tmp_path / "plain.keras"
    model.save(path)
    return path.read_bytes()


def small_classifier(input_shape, classes) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


@pytest.fixture(scope="module")
def record() -> ModelRecord:
    return trained_record()


@pytest.fixture(scope="module")
def saved(record) -> bytes:
    return record_to_bytes(record)


# --- round trip --------------------------------------------------------------------------------


def test_round_trip_keeps_weights_spec_settings_and_results(record, saved):
    loaded = record_from_bytes(saved)
    np.testing.assert_array_equal(
        loaded.model.predict(IMAGES, verbose=0), record.model.predict(IMAGES, verbose=0)
    )
    assert loaded.network == NETWORK
    assert loaded.settings == {"epochs": 2, "batch_size": 8, "optimizer": "adam", "lr": 1e-3}
    assert loaded.test_accuracy == 0.75 and loaded.test_loss == 0.61
    assert loaded.history["loss"] == pytest.approx(record.history["loss"])
    assert loaded.history["val_accuracy"] == [None, 0.5]
    for key in ("name", "dataset", "input_shape", "class_names", "created", "precision"):
        assert getattr(loaded, key) == getattr(record, key), key
    assert loaded.validation_fraction == 0.1 and loaded.source == "trained"


def test_mixed_precision_record_round_trips(tmp_path):
    record = trained_record(precision="mixed_bfloat16")
    loaded = load_record(save_record(record, tmp_path / "mixed.keras"))
    assert loaded.precision == "mixed_bfloat16"
    assert loaded.model.layers[1].compute_dtype == "bfloat16"
    np.testing.assert_array_equal(
        loaded.model.predict(IMAGES, verbose=0), record.model.predict(IMAGES, verbose=0)
    )


def test_keras_alone_loads_a_cnn_lab_file_and_ignores_the_metadata(record, saved, tmp_path):
    assert METADATA_ENTRY in zipfile.ZipFile(io.BytesIO(saved)).namelist()
    path = tmp_path / "from_cnn_lab.keras"
    path.write_bytes(saved)
    model = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        model.predict(IMAGES, verbose=0), record.model.predict(IMAGES, verbose=0)
    )


def test_plain_keras_file_loads_with_inferred_metadata(tmp_path):
    model = small_classifier((28, 28, 1), 10)
    loaded = record_from_bytes(plain_keras_bytes(model, tmp_path), (28, 28, 1), 10, name="mine")
    assert (loaded.name, loaded.dataset, loaded.source) == ("mine", "mnist", "upload")
    assert loaded.class_names == [str(d) for d in range(10)]
    assert loaded.input_shape == (28, 28, 1) and loaded.network is None
    other = record_from_bytes(plain_keras_bytes(small_classifier((5, 7, 2), 4), tmp_path))
    assert other.dataset == "unknown" and other.class_names == ["0", "1", "2", "3"]
    assert other.input_shape == (5, 7, 2)


# --- bad uploads -------------------------------------------------------------------------------


def test_truncated_file_is_refused(saved):
    for cut in (len(saved) // 2, len(saved) - 10):
        with pytest.raises(ValueError, match="truncated or damaged"):
            record_from_bytes(saved[:cut])


def test_file_with_a_corrupted_entry_is_refused(saved):
    archive = zipfile.ZipFile(io.BytesIO(saved))
    weights = archive.getinfo("model.weights.h5")
    # Flip a byte in the middle of the stored weights: the zip directory is intact, the CRC is not.
    offset = weights.header_offset + 30 + len(weights.filename) + weights.compress_size // 2
    damaged = bytearray(saved)
    damaged[offset] ^= 0xFF
    with pytest.raises(ValueError, match="damaged"):
        record_from_bytes(bytes(damaged))


def test_random_bytes_and_empty_files_are_refused():
    noise = np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match="not a Keras model file"):
        record_from_bytes(noise)
    with pytest.raises(ValueError, match="empty"):
        record_from_bytes(b"")
    with pytest.raises(ValueError, match=r"\.h5"):
        record_from_bytes(b"\x89HDF\r\n\x1a\n" + noise)


def test_zip_that_is_not_a_keras_file_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "my homework")
    with pytest.raises(ValueError, match="not a Keras model"):
        record_from_bytes(buffer.getvalue())


FLAG = "CNNLAB_TEST_LAMBDA_RAN"


def _marking_lambda():
    # Self-contained so that it also runs after being rebuilt from bytecode in another module.
    return lambda t: (__import__("os").environ.__setitem__("CNNLAB_TEST_LAMBDA_RAN", "1"), t)[1]


def test_model_with_a_lambda_layer_is_refused_and_its_code_never_runs(tmp_path, monkeypatch):
    inputs = keras.Input((4,))
    x = layers.Lambda(_marking_lambda())(inputs)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(x))
    path = tmp_path / "code.keras"
    model.save(path)
    monkeypatch.delenv(FLAG, raising=False)  # building the model above ran the lambda once

    with pytest.raises(ValueError, match="Lambda layer.*never runs code"):
        record_from_bytes(path.read_bytes())
    assert FLAG not in os.environ

    # The flag does catch the lambda running: Keras's unsafe mode runs it on loading.
    keras.saving.load_model(path, safe_mode=False)
    assert os.environ.get(FLAG) == "1"


def test_lambda_hidden_in_an_activation_is_refused(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Activation(_marking_lambda())(inputs))
    with pytest.warns(UserWarning, match="lambda"):
        data = plain_keras_bytes(model, tmp_path)
    with pytest.raises(ValueError, match="Python code.*never runs code"):
        record_from_bytes(data)


def test_layer_from_outside_keras_is_refused(saved):
    source = zipfile.ZipFile(io.BytesIO(saved))
    config = json.loads(source.read("config.json"))
    config["config"]["layers"][1]["module"] = "os"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            data = json.dumps(config) if info.filename == "config.json" else source.read(info)
            archive.writestr(info.filename, data)
    with pytest.raises(ValueError, match="not part of Keras"):
        record_from_bytes(buffer.getvalue())


def test_wrong_input_shape_names_both_shapes(saved):
    with pytest.raises(ValueError) as refused:
        record_from_bytes(saved, expected_input_shape=(28, 28, 1))
    assert "8×8×1" in str(refused.value) and "28×28×1" in str(refused.value)


def test_wrong_number_of_classes_names_both_counts(saved):
    with pytest.raises(ValueError) as refused:
        record_from_bytes(saved, expected_input_shape=(8, 8, 1), expected_classes=10)
    assert "3 classes" in str(refused.value) and "10" in str(refused.value)
    assert record_from_bytes(saved, (8, 8, 1), 3).class_names == ["circle", "square", "triangle"]


def test_damaged_metadata_is_refused(saved):
    source = zipfile.ZipFile(io.BytesIO(saved))
    for replacement in ("{not json", json.dumps({"format": 1, "name": 3})):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for info in source.infolist():
                data = replacement if info.filename == METADATA_ENTRY else source.read(info)
                archive.writestr(info.filename, data)
        with pytest.raises(ValueError, match="damaged"):
            record_from_bytes(buffer.getvalue())


# --- memory ------------------------------------------------------------------------------------


def test_release_frees_the_model_and_keeps_the_metadata():
    record = trained_record("to free")
    alive = weakref.ref(record.model)
    release(record)
    assert record.model is None and alive() is None
    assert record.test_accuracy == 0.75
    with pytest.raises(ValueError, match="released"):
        record_to_bytes(record)


# --- the library folder ------------------------------------------------------------------------


def test_library_saves_lists_loads_and_deletes(record, tmp_path):
    library = ModelLibrary(home=tmp_path)
    assert library.list() == []
    path = library.save(record)
    assert path == tmp_path / "models" / "tiny run.keras"
    [entry] = library.list()
    assert entry["name"] == "tiny run" and entry["dataset"] == "shapes"
    assert entry["test_accuracy"] == 0.75 and entry["created"] == record.created
    assert entry["size"] == path.stat().st_size and entry["error"] is None
    loaded = library.load("tiny run", expected_input_shape=(8, 8, 1), expected_classes=3)
    np.testing.assert_array_equal(
        loaded.model.predict(IMAGES, verbose=0), record.model.predict(IMAGES, verbose=0)
    )
    with pytest.raises(ValueError, match="already in the library"):
        library.save(record)
    library.save(record, overwrite=True)
    library.delete("tiny run")
    assert library.list() == []
    with pytest.raises(ValueError, match="no model named"):
        library.delete("tiny run")
    with pytest.raises(ValueError, match="no model named"):
        library.load("tiny run")


def test_library_stores_a_sanitised_name_and_lists_damaged_files(record, tmp_path):
    library = ModelLibrary(home=tmp_path)
    renamed = ModelRecord(**{**record.__dict__, "name": "run: 2*"})
    path = library.save(renamed)
    assert path.name == "run_ 2_.keras"
    assert library.load("run_ 2_").name == "run_ 2_"
    (tmp_path / "models" / "broken.keras").write_bytes(b"PK\x03\x04 cut short")
    (tmp_path / "models" / ".half-written.tmp").write_bytes(b"")
    entries = {entry["name"]: entry for entry in library.list()}
    assert sorted(entries) == ["broken", "run_ 2_"]
    assert "damaged" in entries["broken"]["error"]


def test_unusable_names_are_refused():
    for name in ("", "   ", "../escape", "a/b", "a\\b", ".hidden", "x" * 101, 7):
        with pytest.raises(ValueError):
            safe_name(name)
    assert safe_name("  MNIST (two conv) 99.3%  ") == "MNIST (two conv) 99.3_"
    assert safe_name("한글 모델") == "한글 모델"


def test_save_record_needs_a_keras_suffix(record, tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        save_record(record, tmp_path / "model.h5")
    with pytest.raises(ValueError, match="no model file"):
        load_record(tmp_path / "missing.keras")


# --- resource limits (issue 12) ----------------------------------------------------------------


def zip_file(entries) -> bytes:
    """A zip written byte by byte from its specification: local headers, data, directory, end
    record. `entries` holds (name, method, stored bytes, CRC-32, unpacked size); method 0 is
    stored, 8 deflated. Independent of `zipfile`, which the reader under test uses."""
    out = io.BytesIO()
    directory = []
    for name, method, payload, crc, size in entries:
        encoded, offset = name.encode(), out.tell()
        sizes = (crc, len(payload), size, len(encoded))
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, *sizes, 0))
        out.write(encoded + payload)
        directory.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                *sizes,
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start, listing = out.tell(), b"".join(directory)
    count = len(entries)
    out.write(listing)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(listing), start, 0))
    return out.getvalue()


def stored_entries(data: bytes):
    """The entries of a zip, unpacked and stored again, in `zip_file`'s form."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (info.filename, 0, archive.read(info), info.CRC, info.file_size)
            for info in archive.infolist()
        ]


def deflated_zeros(size: int):
    """`size` zero bytes deflated, as a zip entry's payload, CRC-32 and size. Each 16 MiB
    chunk is compressed once: a full flush makes every chunk's deflate blocks independent,
    so the same bytes repeat."""
    chunk = 16 * 2**20
    assert size % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // chunk):
        crc = zlib.crc32(bytes(chunk), crc)
    return block * (size // chunk) + b"\x03\x00", crc, size


def test_the_zip_writer_writes_what_zipfile_reads(saved):
    entries = stored_entries(saved) + [("zeros", 8, *deflated_zeros(32 * 2**20))]
    with zipfile.ZipFile(io.BytesIO(zip_file(entries))) as archive:
        assert archive.testzip() is None
        assert archive.read("zeros") == bytes(32 * 2**20)
        assert archive.read(METADATA_ENTRY) == zipfile.ZipFile(io.BytesIO(saved)).read(
            METADATA_ENTRY
        )
    assert record_from_bytes(zip_file(stored_entries(saved))).name == "tiny run"


def test_a_small_model_with_huge_zero_members_is_refused_before_unpacking(saved):
    # The file: a valid model plus four members of 240 MiB of zeros, each under the
    # one-member limit, together about 1 GB from about 1 MB.
    zeros = deflated_zeros(240 * 2**20)
    bomb = zip_file(stored_entries(saved) + [(f"pad{i}.bin", 8, *zeros) for i in range(4)])
    assert len(bomb) < 2 * 2**20
    start = time.process_time()
    with pytest.raises(ValueError, match="would unpack to 1,006,") as refused:
        record_from_bytes(bomb)
    assert time.process_time() - start < 0.5
    assert "did not unpack it" in str(refused.value)


def test_an_upload_larger_than_any_model_unpacked_is_refused(saved):
    # Stored (not compressed) members cannot be a bomb, but 3 GiB is no model either; the
    # directory claims it, and nothing is read.
    entries = stored_entries(saved)
    name, method, payload, crc, _ = entries[-1]
    claimed = zip_file(entries[:-1] + [(name, method, payload, crc, 3 * 2**30)])
    with pytest.raises(ValueError, match="at most 2,147,483,648"):
        record_from_bytes(claimed)


def test_a_zip_with_many_members_is_refused_from_its_directory(saved):
    many = zip_file(stored_entries(saved) + [(f"f{i}", 0, b"", 0, 0) for i in range(100)])
    with pytest.raises(ValueError, match=r"lists 104 entries.*at most 64"):
        record_from_bytes(many)
    # An end record that understates the count is caught by the directory's own size.
    thousands = zip_file([(f"{i:06d}" * 40, 0, b"", 0, 0) for i in range(1000)])
    end = thousands.rindex(b"PK\x05\x06")
    lying = thousands[: end + 8] + struct.pack("<2H", 4, 4) + thousands[end + 12 :]
    with pytest.raises(ValueError, match="lists 4 entries in a 286,000-byte directory"):
        record_from_bytes(lying)


def test_a_deeply_nested_metadata_entry_is_damaged_not_a_crash(saved):
    entries = stored_entries(saved)
    nested = b"[" * 100_000 + b"]" * 100_000
    entries = [e for e in entries if e[0] != METADATA_ENTRY]
    entries.append((METADATA_ENTRY, 0, nested, zlib.crc32(nested), len(nested)))
    with pytest.raises(ValueError, match="cnnlab.json is damaged"):
        record_from_bytes(zip_file(entries))


# --- names and the file system (issue 12) ------------------------------------------------------


def test_names_are_limited_in_bytes_as_file_names_are():
    assert safe_name("가" * 66) == "가" * 66  # 198 bytes
    for name in ("가" * 81, "가" * 67, "é" * 90 + "가" * 10):
        with pytest.raises(ValueError, match="at most 200 bytes"):
            safe_name(name)
    with pytest.raises(ValueError, match=r"takes 243 \(a Hangul letter takes 3"):
        safe_name("가" * 81)
    assert safe_name("x" * 100) == "x" * 100


def test_saving_an_81_hangul_letter_name_is_a_value_error_and_leaves_no_file(record, tmp_path):
    library = ModelLibrary(home=tmp_path)
    long_name = ModelRecord(**{**record.__dict__, "name": "모" * 81})
    with pytest.raises(ValueError, match="Shorten it"):
        library.save(long_name)
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []
    longest = ModelRecord(**{**record.__dict__, "name": "모" * 66})
    path = library.save(longest)
    assert len(path.name.encode()) == 66 * 3 + len(".keras")
    assert library.load("모" * 66).name == "모" * 66


def test_a_failing_file_system_is_a_value_error_that_says_what_to_do(record, tmp_path, monkeypatch):
    library = ModelLibrary(home=tmp_path)

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", disk_full)
    with pytest.raises(ValueError, match=r"No space left on device\)\. Try a shorter name"):
        library.save(record)
    assert [p.name for p in (tmp_path / "models").iterdir()] == []
    (tmp_path / "blocked").write_text("a file where the model folder should be")
    with pytest.raises(ValueError, match="could not be saved"):
        ModelLibrary(home=tmp_path / "blocked").save(record)
