"""Hostile and careless input on the pages (issue 12, items 1 to 5): each gets a message that
says what to change, never a traceback, and nothing the student had is lost."""

from __future__ import annotations

import json
import struct

from streamlit.testing.v1 import AppTest
from test_hardening import nested_blocks_json
from test_library import deflated_zeros, stored_entries, trained_record, zip_file

from cnnlib import datasets
from cnnlib.library import ModelRecord, record_to_bytes

APP = "../app.py"


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _start_disabled(at: AppTest) -> bool:
    [start] = [b for b in at.button if b.label in ("Start training", "Change network (restart)")]
    return start.disabled


def test_an_oversized_network_is_refused_before_anything_is_built(small_home):
    at = _open("views/cifar10.py")
    key = "cifar_w_network_json_cifar10"
    huge = {
        "name": "one wide layer",
        "layers": [
            {"type": "Input", "shape": [32, 32, 3]},
            {"type": "Conv2D", "filters": 16384, "kernel_size": [1, 1]},
            {"type": "GlobalAveragePooling2D"},
            {"type": "Dense", "units": 10, "activation": "softmax"},
        ],
    }
    at.text_area(key=key).set_value(json.dumps(huge)).run()
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "Conv2D" in messages and "batch" in messages, messages
    assert _start_disabled(at)
    assert at.session_state["cifar_state"].run is None


def test_deeply_nested_networks_are_refused_with_a_message(small_home):
    at = _open("views/cifar10.py")
    key = "cifar_w_network_json_cifar10"
    for text in (nested_blocks_json(331), "[" * 5000 + "]" * 5000):
        at.text_area(key=key).set_value(text).run()
        assert not at.exception
        assert any("cannot be built" in e.value for e in at.error), [e.value for e in at.error]
        assert _start_disabled(at)


def test_a_zip_bomb_upload_is_refused_and_the_session_keeps_its_models(small_home):
    at = _open("views/mnist.py")
    at.session_state["mnist_tab"] = "Models"  # where models are uploaded
    at.run()
    earlier = trained_record("kept earlier")
    at.session_state["models"]["kept earlier"] = earlier
    record = trained_record()
    zeros = deflated_zeros(240 * 2**20)
    bomb = zip_file(
        stored_entries(record_to_bytes(record)) + [(f"pad{i}", 8, *zeros) for i in range(4)]
    )
    at.file_uploader(key="mnist_model_file").set_value(("bomb.keras", bomb, "application/zip"))
    at.run()
    assert not at.exception
    assert any("unpack" in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["models"] == {"kept earlier": earlier}


def test_a_name_too_long_for_a_file_gets_a_message_and_no_file(small_home):
    import keras
    from keras import layers

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")]
    )
    digits = ModelRecord(
        name="digits",
        model=model,
        dataset="mnist",
        input_shape=(28, 28, 1),
        class_names=[str(d) for d in range(10)],
    )
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.session_state["models"]["digits"] = digits
    at.switch_page("views/mnist.py").run()
    at.session_state["mnist_tab"] = "Models"  # where models are saved
    at.run()
    at.text_input(key="mnist_w_save_name").set_value("가" * 81).run()
    at.button(key="mnist_save").click().run()
    assert not at.exception
    assert any("Hangul" in e.value or "too long" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert not list((small_home / "models").glob("*.keras"))
    assert at.session_state["models"]["digits"] is digits


def test_a_dataset_file_whose_header_overflows_gets_a_message(small_home):
    path = small_home / "data" / "t10k-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">II", datasets.IDX_LABELS_MAGIC, 2**32 - 1) + bytes(10))
    at = _open("views/mnist.py")
    messages = [e.value for e in at.error]
    assert any("header claims 4,294," in message for message in messages), messages
