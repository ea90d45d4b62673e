"""Tests of `cnnlib.own_data` on zips and .npz files written here with Pillow and NumPy.

Images are real PNG, JPEG, BMP and GIF files of several sizes and modes; class names include
Korean, written with and without the zip's UTF-8 flag. The checks compare against independent
references: pixels the test itself put in a file, Pillow's own crop, scikit-learn's digits
array, Keras's parameter count. Every refused upload is shown to leave the stored sets as
they were.
"""

from __future__ import annotations

import io
import json
import stat
import unicodedata
import zipfile
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from cnnlib import own_data
from cnnlib.arithmetic import analyse
from cnnlib.own_data import ImportSettings, Limits, OwnDataError


def png(pixels: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode)
    image.save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def random_image(rng, size=(12, 12), channels=1) -> np.ndarray:
    shape = (size[1], size[0]) if channels == 1 else (size[1], size[0], channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return out.getvalue()


class RawNameInfo(zipfile.ZipInfo):
    """A member whose name is written as the given bytes, without the UTF-8 flag, as Korean
    Windows and macOS archivers write names."""

    def __init__(self, raw: bytes):
        super().__init__(raw.decode("cp437"))
        self.raw = raw

    def _encodeFilenameFlags(self):
        return self.raw, self.flag_bits & ~0x800


def grey_set(rng, classes=("cat", "dog"), per_class=10, size=(12, 12)):
    """Distinct random grayscale PNGs: {member name: pixels}."""
    return {
        f"{name}/{index:03d}.png": random_image(rng, size)
        for name in classes
        for index in range(per_class)
    }


def zip_of(images: dict[str, np.ndarray]) -> bytes:
    return make_zip({name: png(pixels) for name, pixels in images.items()})


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def stored(home):
    """One set already imported, to show that refused uploads leave it alone."""
    rng = np.random.default_rng(99)
    data = zip_of(grey_set(rng, ("a", "b"), 5))
    info = own_data.import_upload(
        data, "kept", ImportSettings(size=12, colour="grayscale"), home=home
    )
    return info, own_data.load_stored(info.name, home=home)


def assert_unchanged(home, stored) -> None:
    info, before = stored
    assert [item.name for item in own_data.list_stored(home)] == [info.name]
    after = own_data.load_stored(info.name, home=home)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(after, f"x_{part}"), getattr(before, f"x_{part}"))


# --- Reading zips ------------------------------------------------------------------------------


def test_mixed_formats_sizes_modes_and_korean_names_are_reported(home):
    rng = np.random.default_rng(0)
    files = {}
    for index in range(4):
        files[f"고양이/{index}.png"] = png(random_image(rng, (20, 10), 3))  # RGB PNG
        files[f"고양이/{index}.jpg"] = png(random_image(rng, (32, 32), 3), fmt="JPEG")
        files[f"강아지/{index}.png"] = png(random_image(rng, (16, 16), 4), "RGBA")
        files[f"강아지/{index}.bmp"] = png(random_image(rng, (16, 16)), fmt="BMP")
        files[f"새/{index}.gif"] = png(random_image(rng, (8, 24)), fmt="GIF")
    report = own_data.inspect_upload(make_zip(files), "animals.zip")
    assert report.kind == "zip" and not report.has_split
    assert report.class_names == tuple(sorted(("고양이", "강아지", "새")))
    assert report.counts == (8, 8, 4) and report.total_images == 20
    assert report.sizes == {(20, 10): 4, (32, 32): 4, (16, 16): 8, (8, 24): 4}
    assert report.modes == {"RGB": 8, "RGBA": 4, "L": 4, "P": 4}
    assert report.skipped == () and report.duplicates == ()
    assert [len(sample) for sample in report.samples] == [8, 8, 4]
    assert all(sample.shape[1:] == (48, 48, 3) for sample in report.samples)
    assert report.suggested.colour == "rgb"
    assert report.class_table()[2] == {"class": "새", "images": 4}

    info = own_data.import_upload(
        make_zip(files), "동물", ImportSettings(size=28), report=report, home=home
    )
    dataset = own_data.load_stored(info.name, home=home)
    assert dataset.name == "own:동물" and dataset.class_names == report.class_names
    assert dataset.input_shape == (28, 28, 3)
    assert len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test) == 20
    # Eight images: a fifth to test and a tenth (at least one) to validation in each class.
    assert Counter(dataset.y_test.tolist()) == {0: 2, 1: 2, 2: 1}
    assert Counter(dataset.y_val.tolist()) == {0: 1, 1: 1, 2: 1}


def test_unflagged_names_in_cp949_utf8_and_cp437_are_read_as_written(home):
    rng = np.random.default_rng(1)
    pixels = [random_image(rng) for _ in range(9)]
    decomposed = unicodedata.normalize("NFD", "강아지")  # as macOS stores Hangul
    names = [
        "고양이".encode("cp949"),  # Korean Windows: CP949, no UTF-8 flag
        decomposed.encode("utf-8"),  # macOS: UTF-8, no flag
        "café".encode("cp437"),  # the zip standard's CP437
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for folder_index, folder in enumerate(names):
            for index in range(3):
                member = RawNameInfo(folder + f"/{index}.png".encode())
                archive.writestr(member, png(pixels[folder_index * 3 + index]))
    report = own_data.inspect_upload(out.getvalue())
    assert report.class_names == ("café", "강아지", "고양이")
    assert report.counts == (3, 3, 3)
    info = own_data.import_upload(out.getvalue(), "names", ImportSettings(size=12), home=home)
    assert info.class_names == report.class_names and sum(info.counts.values()) == 9


def test_own_split_folders_are_kept_and_validation_comes_from_training(home):
    rng = np.random.default_rng(2)
    train = grey_set(rng, ("가", "나"), 10)
    test = grey_set(rng, ("가", "나"), 3)
    files = {f"set/train/{name}": pixels for name, pixels in train.items()}
    files |= {f"set/test/{name}": pixels for name, pixels in test.items()}
    report = own_data.inspect_upload(zip_of(files))
    assert report.has_split and report.part_counts == {"test": (3, 3), "train": (10, 10)}
    info = own_data.import_upload(
        zip_of(files),
        "split",
        ImportSettings(size=12, colour="grayscale"),
        report=report,
        home=home,
    )
    assert info.counts == {"train": 18, "val": 2, "test": 6}
    dataset = own_data.load_stored(info.name, home=home)
    expected = sorted(p.tobytes() for p in test.values())
    assert sorted(image[:, :, 0].tobytes() for image in dataset.x_test) == expected


def test_stored_set_loads_back_with_every_image_and_label_intact(home):
    rng = np.random.default_rng(3)
    images = grey_set(rng, ("zero", "one", "two"), 12, size=(16, 16))
    info = own_data.import_upload(
        zip_of(images), "exact", ImportSettings(size=16, colour="grayscale"), home=home
    )
    dataset = own_data.load_stored(info.dataset_name, home=home)
    expected = {pixels.tobytes(): name.split("/")[0] for name, pixels in images.items()}
    found = {}
    for part in ("train", "val", "test"):
        x, y = getattr(dataset, f"x_{part}"), getattr(dataset, f"y_{part}")
        assert x.dtype == np.uint8 and not x.flags.writeable
        for image, label in zip(x, y, strict=True):
            found[image[:, :, 0].tobytes()] = dataset.class_names[label]
    assert found == expected
    meta = json.loads((own_data.own_dir(home) / info.name / "meta.json").read_text("utf-8"))
    assert meta["class_names"] == ["one", "two", "zero"] and meta["input_shape"] == [16, 16, 1]


def test_a_stored_set_says_where_it_came_from_in_the_pages_language(home):
    """The metadata keeps the source's English and its phrases; pages show them translated,
    and a damaged or foreign phrase list falls back to the English."""
    from cnnlib.i18n import language

    rng = np.random.default_rng(5)
    info = own_data.import_upload(
        zip_of(grey_set(rng, ("a", "b"), 6)),
        "digits",
        ImportSettings(size=12, colour="grayscale", seed=3),
        filename="digits.zip",
        home=home,
    )
    assert info.source == "digits.zip; padded to 12×12 grayscale; a stratified split with seed 3"
    assert info.shown_source() == info.source
    with language("ko"):
        korean = info.shown_source()
        loaded = own_data.load_stored(info.name, home=home).shown_source()
    assert korean == "digits.zip; 12×12 흑백으로 패딩함; 시드 3의 층화 분할"
    assert loaded == "digits; " + korean
    meta_file = own_data.own_dir(home) / info.name / "meta.json"
    meta = json.loads(meta_file.read_text("utf-8"))
    meta["source_phrases"] = [["{__class__}", {}]]
    meta_file.write_text(json.dumps(meta), "utf-8")
    with language("ko"):
        assert own_data.list_stored(home)[0].shown_source() == info.source


def test_split_is_stratified_and_fixed_by_its_seed(home):
    rng = np.random.default_rng(4)
    images = grey_set(rng, ("a", "b", "c"), 30) | grey_set(rng, ("d",), 11)
    data = zip_of(images)
    report = own_data.inspect_upload(data)
    settings = ImportSettings(size=12, colour="grayscale", seed=7, test_fraction=0.2)
    first = own_data.load_stored(
        own_data.import_upload(data, "s1", settings, report=report, home=home).name, home=home
    )
    again = own_data.load_stored(
        own_data.import_upload(data, "s2", settings, report=report, home=home).name, home=home
    )
    other = own_data.load_stored(
        own_data.import_upload(
            data,
            "s3",
            ImportSettings(size=12, colour="grayscale", seed=8),
            report=report,
            home=home,
        ).name,
        home=home,
    )
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, f"x_{part}"), getattr(again, f"x_{part}"))
    assert not np.array_equal(first.x_test, other.x_test)
    assert Counter(first.y_test.tolist()) == {0: 6, 1: 6, 2: 6, 3: 2}
    assert Counter(first.y_val.tolist()) == {0: 3, 1: 3, 2: 3, 3: 1}
    # The images of each part are shuffled, not sorted by class.
    assert len(set(first.y_train[:10].tolist())) > 1


def test_crop_and_pad_place_the_image_as_stated(home):
    # A 64×32 white image with a black 16×16 square in its centre.
    pixels = np.full((32, 64), 255, np.uint8)
    pixels[8:24, 24:40] = 0
    files = {f"{label}/{index}.png": png(pixels) for label in "ab" for index in range(3)}
    # Make each file distinct, so none is dropped as a duplicate.
    files = {name: data + bytes(index) for index, (name, data) in enumerate(files.items())}
    data = make_zip(files)
    crop = own_data.load_stored(
        own_data.import_upload(
            data, "crop", ImportSettings(size=32, colour="grayscale", fit="crop"), home=home
        ).name,
        home=home,
    ).x_train[0, :, :, 0]
    # The centre 32×32 square needs no scaling: the black square lands at rows and columns 8..23.
    expected = np.full((32, 32), 255, np.uint8)
    expected[8:24, 8:24] = 0
    np.testing.assert_array_equal(crop, expected)
    pad = own_data.load_stored(
        own_data.import_upload(
            data, "pad", ImportSettings(size=32, colour="grayscale", fit="pad"), home=home
        ).name,
        home=home,
    ).x_train[0, :, :, 0]
    # Halved to 32×16 and centred: white bars above and below, the square now 8×8.
    assert (pad[:8] == 255).all() and (pad[24:] == 255).all()
    assert (pad[13:19, 13:19] < 40).all() and (pad[8:24, :8] > 215).all()


def test_transparent_and_16_bit_images_become_visible_pixels(home):
    rng = np.random.default_rng(5)
    files = {}
    for index in range(3):
        clear = np.zeros((10, 10, 4), np.uint8)  # fully transparent, darker than black
        clear[:, :, :3] = index
        files[f"clear/{index}.png"] = png(clear, "RGBA")
        deep = Image.fromarray(np.full((10, 10), 65535 - index, np.uint16))
        out = io.BytesIO()
        deep.save(out, format="PNG")
        files[f"deep/{index}.png"] = out.getvalue()
        files[f"plain/{index}.png"] = png(random_image(rng, (10, 10)))
    report = own_data.inspect_upload(make_zip(files))
    assert report.modes["RGBA"] == 3 and report.modes["I;16"] == 3
    dataset = own_data.load_stored(
        own_data.import_upload(
            make_zip(files),
            "modes",
            ImportSettings(size=10, colour="grayscale"),
            report=report,
            home=home,
        ).name,
        home=home,
    )
    x = np.concatenate([dataset.x_train, dataset.x_val, dataset.x_test])
    y = np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test])
    names = dataset.class_names
    assert (x[y == names.index("clear")] == 255).all()  # laid over white
    assert (x[y == names.index("deep")] == 255).all()  # 65535 is full white, not clipped garbage


def test_duplicates_are_reported_and_dropped(home):
    rng = np.random.default_rng(6)
    images = grey_set(rng, ("a", "b"), 6)
    files = {name: png(pixels) for name, pixels in images.items()}
    files["b/copy-of-a0.png"] = files["a/000.png"]
    files["a/again.png"] = files["a/001.png"]
    report = own_data.inspect_upload(make_zip(files))
    assert sorted(map(sorted, report.duplicates)) == [
        ["a/000.png", "b/copy-of-a0.png"],
        ["a/001.png", "a/again.png"],
    ]
    assert any("exact copies" in warning for warning in report.warnings)
    info = own_data.import_upload(make_zip(files), "dups", ImportSettings(size=12), home=home)
    assert sum(info.counts.values()) == 12
    kept = own_data.import_upload(
        make_zip(files), "dups-kept", ImportSettings(size=12, drop_duplicates=False), home=home
    )
    assert sum(kept.counts.values()) == 14


def test_unreadable_and_non_image_files_are_listed_and_skipped(home):
    rng = np.random.default_rng(7)
    images = grey_set(rng, ("a", "b"), 5)
    files = {name: png(pixels) for name, pixels in images.items()}
    files["a/notes.txt"] = b"taken on Tuesday"
    files["b/broken.png"] = png(random_image(rng, (40, 40)))[:60]  # header, then cut off
    files["b/fake.jpg"] = b"not a jpeg at all"
    files["__MACOSX/a/._000.png"] = b"resource fork"
    files[".DS_Store"] = b"finder"
    report = own_data.inspect_upload(make_zip(files))
    skipped = {item.path: item.reason for item in report.skipped}
    assert set(skipped) == {"a/notes.txt", "b/broken.png", "b/fake.jpg"}
    assert skipped["a/notes.txt"].startswith("not an image")
    assert skipped["b/broken.png"].startswith("unreadable")
    assert report.counts == (5, 5)
    info = own_data.import_upload(make_zip(files), "skips", ImportSettings(size=12), home=home)
    assert sum(info.counts.values()) == 10


def test_a_zipped_folder_with_a_readme_is_unwrapped_and_the_readme_skipped(home):
    rng = np.random.default_rng(17)
    files = {f"flowers/{k}": png(v) for k, v in grey_set(rng, ("rose", "tulip"), 4).items()}
    files["flowers/README.md"] = b"# my flowers"
    files["flowers/rose/notes/when.txt"] = b"May"
    report = own_data.inspect_upload(make_zip(files))
    assert report.class_names == ("rose", "tulip") and report.counts == (4, 4)
    assert {item.path for item in report.skipped} == {
        "flowers/README.md",
        "flowers/rose/notes/when.txt",
    }
    assert report.duplicates == () and report.entries[0].path == "flowers/rose/000.png"


def test_imbalance_is_warned_about():
    rng = np.random.default_rng(8)
    report = own_data.inspect_upload(
        zip_of(grey_set(rng, ("big",), 15) | grey_set(rng, ("small",), 3))
    )
    assert report.imbalance == 5.0
    assert any("imbalanced" in warning and "'big'" in warning for warning in report.warnings)


# --- .npz uploads ------------------------------------------------------------------------------


def npz_bytes(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def npz_arrays(rng, n_train=30, n_test=9, shape=(10, 10), classes=3):
    return {
        "x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train) % classes,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test) % classes,
    }


def test_npz_with_korean_class_names_imports_pixels_unchanged(home):
    rng = np.random.default_rng(9)
    arrays = npz_arrays(rng, shape=(10, 10, 3))
    arrays["class_names"] = np.array(["사과", "배", "감"])
    report = own_data.inspect_upload(npz_bytes(**arrays), "fruit.npz")
    assert report.kind == "npz" and report.class_names == ("사과", "배", "감")
    assert report.part_counts == {"test": (3, 3, 3), "train": (10, 10, 10)}
    assert report.modes == {"RGB": 39} and report.suggested.size == 8
    info = own_data.import_upload(
        npz_bytes(**arrays), "fruit", ImportSettings(size=10), filename="fruit.npz", home=home
    )
    dataset = own_data.load_stored(info.name, home=home)
    assert dataset.class_names == ("사과", "배", "감")
    train = np.concatenate([dataset.x_train, dataset.x_val])
    labels = np.concatenate([dataset.y_train, dataset.y_val])
    as_set = lambda x, y: sorted(zip((im.tobytes() for im in x), y.tolist(), strict=True))  # noqa: E731
    assert as_set(train, labels) == as_set(arrays["x_train"], arrays["y_train"])
    assert as_set(dataset.x_test, dataset.y_test) == as_set(arrays["x_test"], arrays["y_test"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32) / 255), "uint8"),
        (lambda a: a.update(x_train=a["x_train"][:, :, :, None].repeat(2, 3)), "1 or 3"),
        (lambda a: a.update(x_train=a["x_train"].reshape(30, 100)), "shape"),
        (lambda a: a.update(y_train=np.eye(3)[a["y_train"]]), "argmax"),
        (lambda a: a.update(y_test=a["y_test"][:5]), "one integer label per image"),
        (lambda a: a.update(y_train=a["y_train"] * 0.5), "integers"),
        (lambda a: a.pop("y_test"), "no y_test"),
        (lambda a: a.update(class_names=np.array(["a", "b"])), "one name per label"),
        (lambda a: a.update(class_names=np.array(["a", "b", "c"], dtype=object)), "objects"),
        (lambda a: a.update(x_test=np.zeros((9, 12, 12), np.uint8)), "one image size"),
        (lambda a: a.update(y_train=a["y_train"] - 1), "start at 0"),
    ],
)
def test_bad_npz_files_are_refused_with_what_to_change(home, stored, change, message):
    arrays = npz_arrays(np.random.default_rng(10))
    change(arrays)
    with pytest.raises(OwnDataError, match=message):
        own_data.import_upload(
            npz_bytes(**arrays), "kept", filename="bad.npz", home=home, replace=True
        )
    assert_unchanged(home, stored)


# --- Refused zips ------------------------------------------------------------------------------


def symlink_zip() -> bytes:
    rng = np.random.default_rng(11)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, pixels in grey_set(rng, ("a", "b"), 3).items():
            archive.writestr(name, png(pixels))
        link = zipfile.ZipInfo("a/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


def bomb_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/bomb.png", bytes(8 * 2**20))  # 8 MiB of zeros packs to ~8 KB
        archive.writestr("b/x.png", png(np.zeros((4, 4))))
    return out.getvalue()


def files_with(extra: dict[str, bytes], classes=("a", "b")) -> bytes:
    rng = np.random.default_rng(12)
    files = {name: png(pixels) for name, pixels in grey_set(rng, classes, 4).items()}
    return make_zip(files | extra)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: files_with({}, classes=("only",)), "at least two"),
        (lambda: files_with({"c/": b""}), "'c'.*no readable images"),
        (lambda: files_with({"c/readme.txt": b"x"}), "'c'.*no readable images"),
        (lambda: files_with({"a/sub/x.png": png(np.zeros((4, 4)))}), "folders inside class"),
        (lambda: files_with({"loose.png": png(np.zeros((4, 4)))}), "outside any class folder"),
        (lambda: files_with({"train/a/x.png": png(np.zeros((4, 4)))}), "mixes split folders"),
        (
            lambda: make_zip(
                {"train/a/x.png": png(np.zeros((4, 4))), "train/b/x.png": png(np.ones((4, 4)))}
            ),
            "both train/ and test/",
        ),
        (lambda: make_zip({"a/x.txt": b"1", "b/y.csv": b"2"}), "holds no images"),
        (lambda: files_with({"../evil.png": png(np.zeros((4, 4)))}), "outside the archive"),
        (lambda: files_with({"/etc/evil.png": png(np.zeros((4, 4)))}), "outside the archive"),
        (lambda: files_with({"C:/evil.png": png(np.zeros((4, 4)))}), "outside the archive"),
        (symlink_zip, "link"),
        (bomb_zip, "zip bomb"),
        (lambda: b"PK\x03\x04 this is not really a zip", "not a readable"),
        (lambda: files_with({"a/tiny.png": png(np.zeros((2, 2)))}), None),
    ],
)
def test_bad_zips_are_refused_with_what_to_change(home, stored, upload, message):
    data = upload()
    if message is None:  # the control case: the same helpers make an acceptable zip
        assert own_data.inspect_upload(data).total_images == 9
        return
    with pytest.raises(OwnDataError, match=message):
        own_data.import_upload(data, "kept", home=home, replace=True)
    assert_unchanged(home, stored)


def test_split_needs_three_images_per_class_and_training_images_per_class(home):
    rng = np.random.default_rng(13)
    with pytest.raises(OwnDataError, match="'b'.*fewer than 3"):
        own_data.inspect_upload(zip_of(grey_set(rng, ("a",), 5) | grey_set(rng, ("b",), 2)))
    files = {f"train/{k}": v for k, v in grey_set(rng, ("a",), 3).items()}
    files |= {f"test/{k}": v for k, v in grey_set(rng, ("a", "b"), 2).items()}
    with pytest.raises(OwnDataError, match="'b'.*no training"):
        own_data.inspect_upload(zip_of(files))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (Limits(max_upload_bytes=1000), "the limit is 0 MB"),
        (Limits(max_files=5), "holds 8 files; the limit is 5"),
        (Limits(max_unpacked_bytes=500), "would unpack"),
        (Limits(max_image_pixels=100), "the limit for one image"),
        (Limits(max_total_pixels=500), "more than 500 pixels"),
        (Limits(max_output_bytes=1000), "Choose a smaller size"),
    ],
)
def test_caps_refuse_oversized_uploads(home, stored, limits, message):
    data = files_with({})
    with pytest.raises(OwnDataError, match=message):
        own_data.import_upload(
            data, "kept", ImportSettings(size=12), home=home, replace=True, limits=limits
        )
    assert_unchanged(home, stored)


def test_an_existing_name_is_replaced_only_when_asked(home, stored):
    rng = np.random.default_rng(14)
    data = zip_of(grey_set(rng, ("x", "y", "z"), 4))
    with pytest.raises(OwnDataError, match="exists already"):
        own_data.import_upload(data, "Kept", home=home)
    assert_unchanged(home, stored)
    info = own_data.import_upload(data, "Kept", home=home, replace=True)
    assert info.class_names == ("x", "y", "z")
    assert [item.name for item in own_data.list_stored(home)] == ["kept"]
    assert not [path for path in own_data.own_dir(home).iterdir() if path.name.startswith(".")]


def test_sets_are_listed_and_deleted_one_at_a_time(home, stored):
    rng = np.random.default_rng(15)
    own_data.import_upload(zip_of(grey_set(rng)), "Second set!", home=home)
    assert {item.name for item in own_data.list_stored(home)} == {"kept", "second-set"}
    own_data.delete_stored("own:second-set", home=home)
    assert_unchanged(home, stored)
    with pytest.raises(OwnDataError, match="No stored set"):
        own_data.delete_stored("../kept", home=home)
    with pytest.raises(OwnDataError, match="No stored set called 'gone'"):
        own_data.load_stored("gone", home=home)
    assert_unchanged(home, stored)


def test_a_damaged_stored_set_says_to_import_it_again(home, stored):
    info, _ = stored
    (own_data.own_dir(home) / info.name / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(OwnDataError, match="damaged.*import it again"):
        own_data.load_stored(info.name, home=home)


def test_settings_and_names_are_checked():
    with pytest.raises(OwnDataError, match="colour"):
        ImportSettings(colour="sepia")
    with pytest.raises(OwnDataError, match="fit"):
        ImportSettings(fit="stretch")
    with pytest.raises(OwnDataError, match="below 0.8"):
        ImportSettings(validation_fraction=0.4, test_fraction=0.45)
    assert own_data.safe_name("  My 꽃 사진 (v2) ") == "my-꽃-사진-v2"
    with pytest.raises(OwnDataError, match="letter or digit"):
        own_data.safe_name("../..")


# --- Default network and the example -----------------------------------------------------------


@pytest.mark.parametrize("side", [8, 16, 28, 32, 48, 64, 96])
@pytest.mark.parametrize("channels", [1, 3])
def test_default_network_fits_every_offered_size(side, channels):
    network = own_data.default_network((side, side, channels), 7)
    analysis = analyse(network)
    assert network.input_shape == (side, side, channels)
    assert analysis.output_shape == (7,)
    deep = side > 40
    assert network.name.startswith("Deeper" if deep else "ConvNetJS")
    assert sum(type(layer).__name__ == "Conv2D" for layer in network.layers) == (
        6 if deep else min(3, {8: 2}.get(side, 3))
    )


def test_default_network_parameters_match_keras():
    from cnnlib.build import build_model

    for shape in ((28, 28, 1), (64, 64, 3)):
        network = own_data.default_network(shape, 5)
        assert build_model(network).count_params() == analyse(network).total_params


def test_example_is_scikit_learns_digits_through_the_import_path(home):
    from sklearn.datasets import load_digits

    report = own_data.inspect_upload(own_data.example_zip(), own_data.EXAMPLE_FILENAME)
    assert report.class_names == tuple("0123456789")
    assert report.total_images == 1797 and report.sizes == {(8, 8): 1797}
    assert report.suggested == ImportSettings(size=8, colour="grayscale")
    info = own_data.import_upload(
        own_data.example_zip(), own_data.EXAMPLE_TITLE, report.suggested, home=home
    )
    dataset = own_data.load_stored(info.name, home=home)
    x = np.concatenate([dataset.x_train, dataset.x_val, dataset.x_test])[:, :, :, 0]
    y = np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test])
    digits = load_digits()
    expected = np.round(digits.images * 255 / 16).astype(np.uint8)
    # Byte-identical digits would be dropped as duplicates; scikit-learn's set has none.
    assert sorted(zip((i.tobytes() for i in x), y.tolist(), strict=True)) == sorted(
        zip((i.tobytes() for i in expected), digits.target.tolist(), strict=True)
    )


def test_the_trainer_validates_on_the_stored_validation_part(home):
    from cnnlib.training.data import TrainingData
    from cnnlib.training.settings import TrainSettings

    rng = np.random.default_rng(16)
    info = own_data.import_upload(zip_of(grey_set(rng, ("a", "b"), 20)), "val", home=home)
    dataset = own_data.load_stored(info.name, home=home)
    data = TrainingData(dataset, TrainSettings())
    np.testing.assert_array_equal(data.x_val, dataset.x_val)
    assert len(data.x_train) == len(dataset.x_train) == info.counts["train"]


def test_without_a_validation_part_the_trainer_holds_out_its_own(home):
    from cnnlib.training.data import TrainingData
    from cnnlib.training.settings import TrainSettings

    rng = np.random.default_rng(18)
    settings = ImportSettings(size=12, validation_fraction=0)
    info = own_data.import_upload(
        zip_of(grey_set(rng, ("a", "b"), 20)), "noval", settings, home=home
    )
    dataset = own_data.load_stored(info.name, home=home)
    assert info.counts["val"] == 0 and dataset.x_val is None
    data = TrainingData(dataset, TrainSettings(validation_split=0.25))
    assert len(data.x_val) == 8 and len(data.x_train) == 24


def test_a_class_of_three_images_gives_one_to_each_part(home):
    rng = np.random.default_rng(19)
    info = own_data.import_upload(zip_of(grey_set(rng, ("a", "b"), 3)), "three", home=home)
    assert info.counts == {"train": 2, "val": 2, "test": 2}
