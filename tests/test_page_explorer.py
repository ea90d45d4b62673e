"""The architecture explorer page, driven through the app's own navigation with AppTest.

Expected numbers come from `cnnlib.arithmetic.analyse` of networks built here independently of
the page, and from Keras itself for the exported code.
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnlib import layers as L
from cnnlib.arithmetic import analyse
from cnnlib.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
NETWORK = "explorer_network"


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/explorer.py").run()
    assert not at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def params(at: AppTest) -> int:
    return int(metric(at, "Parameters").replace(",", ""))


def table_key(at: AppTest) -> str:
    return f"explorer_table_{at.session_state['explorer_table']['revision']}"


def edit_cells(at: AppTest, edited=None, added=(), deleted=()) -> AppTest:
    at.session_state[table_key(at)] = {
        "edited_rows": edited or {},
        "added_rows": list(added),
        "deleted_rows": list(deleted),
    }
    return at.run()


def show_tab(at: AppTest, name: str, concept: str | None = None) -> AppTest:
    """Open a tab of the page (only the open tab runs) and, in Concepts, one of its tabs."""
    at.session_state["explorer_w_tab"] = name
    if concept is not None:
        at.session_state["explorer_w_concept"] = concept
    return at.run()


def load(at: AppTest, key: str) -> AppTest:
    at.selectbox(key="explorer_w_start").set_value(key)
    return at.button(key="explorer_load").click().run()


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="explorer_upload_file").set_value((name, content, "application/json"))
    return at.run()


def test_every_registry_entry_loads_and_tensorflow_stays_unloaded(small_home):
    # A fresh interpreter, so that nothing else in the test session has loaded TensorFlow.
    script = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from streamlit.testing.v1 import AppTest
from cnnlib.arithmetic import analyse
from cnnlib.registry import REGISTRY
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=60)
at.run()
at.switch_page("views/explorer.py").run()
report = {{}}
for key, entry in [("__empty__", None), *REGISTRY.items()]:
    at.selectbox(key="explorer_w_start").set_value(key)
    at.button(key="explorer_load").click().run()
    shown = next(m.value for m in at.metric if m.label == "Parameters")
    expected = 0 if entry is None else analyse(entry.network).total_params
    report[key] = {{
        "exceptions": [e.value for e in at.exception],
        "errors": [e.value for e in at.error],
        "shown": shown,
        "expected": f"{{expected:,}}",
    }}
report["modules"] = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print(json.dumps(report))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report.pop("modules") == []
    assert set(report) == {"__empty__", *REGISTRY}
    for key, item in report.items():
        assert item["exceptions"] == [] and item["errors"] == [], key
        assert item["shown"] == item["expected"], key


def test_editing_a_layer_changes_the_totals_and_the_shared_network(small_home):
    at = open_page()
    start = REGISTRY["mnist_two_conv"].network
    assert at.session_state[NETWORK] == start
    assert params(at) == analyse(start).total_params
    edit_cells(at, edited={0: {"size": 64}})  # first Conv2D: 32 -> 64 filters
    layers = list(start.layers)
    layers[1] = dataclasses.replace(layers[1], filters=64)
    expected = dataclasses.replace(start, layers=tuple(layers))
    assert not at.exception and not at.error
    assert at.session_state[NETWORK] == expected
    assert params(at) == analyse(expected).total_params != analyse(start).total_params
    # Another page and back: the table shows the edited network, not the one it started from.
    at.switch_page("views/home.py").run()
    at.switch_page("views/explorer.py").run()
    assert at.session_state[NETWORK] == expected
    assert at.data_editor[0].value["size"].iloc[0] == 64
    # A rectangular input changes the totals too.
    at.text_input(
        key=f"explorer_w_shape_{at.session_state['explorer_table']['revision']}"
    ).set_value("120×160×1").run()
    rectangular = dataclasses.replace(expected, layers=(L.Input((120, 160, 1)), *layers[1:]))
    assert at.session_state[NETWORK].input_shape == (120, 160, 1)
    assert params(at) == analyse(rectangular).total_params


def test_added_rows_take_defaults_and_whole_layer_tools_work(small_home):
    at = open_page()
    start = at.session_state[NETWORK]
    edit_cells(at, added=[{"layer": "Dense", "size": 7, "activation": "softmax"}])
    assert at.session_state[NETWORK].layers[-1] == L.Dense(7, activation="softmax")
    at.selectbox(key="explorer_w_layer").set_value(2)  # the first MaxPooling2D
    at.button(key="explorer_btn_up").click().run()
    assert at.session_state[NETWORK].layers[1:3] == (start.layers[2], start.layers[1])
    at.selectbox(key="explorer_w_layer").set_value(1)
    at.button(key="explorer_btn_remove").click().run()  # drop the pooling layer again
    assert at.session_state[NETWORK].layers[1] == start.layers[1]
    # A whole inception block from GoogLeNet after the first convolution.
    at.selectbox(key="explorer_w_layer").set_value(1)
    at.selectbox(key="explorer_w_block").set_value("GoogLeNet (Inception v1): inception (3a)")
    at.button(key="explorer_btn_insert_block").click().run()
    network = at.session_state[NETWORK]
    assert isinstance(network.layers[2], L.Parallel) and network.layers[2].name == "inception (3a)"
    assert params(at) == analyse(network).total_params
    assert any("inception (3a)" in e.label for e in at.expander)  # shown as a block, expanded
    assert not at.exception and not at.error
    # Inside the block: the first branch's 1×1 convolution gets 8 filters instead of 64.
    at.selectbox(key="explorer_w_layer").set_value(2).run()
    revision = at.session_state["explorer_table"]["revision"]
    at.session_state[f"explorer_branch_{revision}_2_0"] = {
        "edited_rows": {0: {"size": 8}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key=f"explorer_btn_apply_block_{revision}").click().run()
    block = at.session_state[NETWORK].layers[2]
    assert block.branches[0] == (L.Conv2D(8, 1),)
    assert block.branches[1:] == network.layers[2].branches[1:]
    assert (
        params(at)
        == analyse(at.session_state[NETWORK]).total_params
        < analyse(network).total_params
    )


def test_an_impossible_stack_shows_the_error_and_keeps_the_last_good_network(small_home):
    at = open_page()
    good = at.session_state[NETWORK]
    shown = params(at)
    edit_cells(at, edited={0: {"window": "30"}})  # a 30×30 kernel on a 28×28 input
    assert not at.exception
    assert any("does not fit" in e.value for e in at.error)
    assert at.session_state[NETWORK] == good and params(at) == shown
    edit_cells(at, edited={0: {"window": "3×"}})
    assert any("Row 1 (Conv2D)" in e.value for e in at.error)
    assert at.session_state[NETWORK] == good


def test_code_export_needs_no_tensorflow():
    """The code is written as the network changes, so writing it must not load TensorFlow."""
    probe = (
        "import sys; from cnnlib.keras_source import keras_code; "
        "from cnnlib.registry import REGISTRY; "
        "code = keras_code(REGISTRY['googlenet'].network, 'functional'); "
        "assert 'layers.Concatenate()' in code; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_exported_code_builds_the_pages_parameter_count_and_keras_agrees(small_home):
    pytest.importorskip("keras")
    at = open_page()
    for key, style in (("mnist_one_conv", "sequential"), ("kim_cnn", "functional")):
        load(at, key)
        shown = params(at)
        show_tab(at, "Keras and export")
        at.radio(key="explorer_w_style").set_value(style).run()
        assert not at.exception
        code = at.code[-1].value
        namespace: dict = {}
        exec(compile(code, f"{key}.py", "exec"), namespace)
        assert namespace["model"].count_params() == shown, key
        at.button(key="explorer_btn_build").click().run()
        assert not at.exception
        assert any(s.value.startswith("Keras agrees") for s in at.success), key
        show_tab(at, "Network")


def test_json_import_round_trip_and_bad_files_keep_the_current_network(small_home):
    at = open_page()
    lenet = REGISTRY["lenet5"].network
    edited = dataclasses.replace(lenet, name="my LeNet", layers=lenet.layers[:-1] + (L.Dense(3),))
    show_tab(at, "Keras and export")
    upload(at, "mine.json", edited.to_json().encode())
    assert not at.exception and not at.error
    assert at.session_state[NETWORK] == edited
    refused = {
        "broken.json": (b"{not json", "not valid JSON"),
        "shape.json": (
            json.dumps(
                {
                    "name": "x",
                    "layers": [{"type": "Input", "shape": [28, 28, 1]}, {"type": "Dense"}],
                }
            ).encode(),
            "Dense needs a vector",
        ),
        "other.json": (b'{"hello": 1}', '"name" and "layers"'),
        "big.json": (b" " * (L.MAX_SPEC_BYTES + 1) + b"{}", "at most"),
    }
    for name, (content, message) in refused.items():
        upload(at, name, content)
        assert not at.exception
        assert any(message in e.value and "is kept" in e.value for e in at.error), name
        assert at.session_state[NETWORK] == edited, name
    show_tab(at, "Network")
    assert params(at) == analyse(edited).total_params
    assert (
        at.text_input(key=f"explorer_w_name_{at.session_state['explorer_table']['revision']}").value
        == "my LeNet"
    )


def test_lecture_check_and_case_studies(small_home):
    at = show_tab(open_page(), "Lecture check")
    at.selectbox(key="explorer_w_check").set_value("mnist_one_conv").run()
    assert any("3 of 5 stated shapes agree" in w.value for w in at.warning)
    table = at.table[0].value
    assert table.loc["2 MaxPooling2D", "Keras computes"] == "13×13×32"
    assert table.loc["2 MaxPooling2D", "agrees"] == "✗"
    assert "13" in table.loc["2 MaxPooling2D", "why"]
    show_tab(at, "Case studies")
    at.selectbox(key="explorer_w_case").set_value("alexnet").run()
    assert any("two GPUs" in i.value for i in at.info)
    at.button(key="explorer_btn_case_load").click().run()
    assert at.session_state[NETWORK] == REGISTRY["alexnet"].network


def test_convolution_concepts_refuse_what_does_not_tile_and_explain_the_rest(small_home):
    at = show_tab(open_page(), "Concepts", "Convolution")
    assert any("MNIST digit" in o for o in at.selectbox(key="explorer_w_conv_input").options)
    formula = next(c.value for c in at.code if c.value.count("·") >= 9)
    assert formula.endswith(tuple("0123456789"))
    at.number_input(key="explorer_w_conv_h").set_value(8)
    at.number_input(key="explorer_w_conv_w").set_value(8)
    at.number_input(key="explorer_w_conv_s").set_value(2).run()
    assert any("(8 − 3) / 2 = 2.5 is not whole" in e.value for e in at.error)
    at.toggle(key="explorer_w_conv_floor").set_value(True).run()
    assert not at.exception
    assert any("not whole" in w.value for w in at.warning)
    show_tab(at, "Concepts", "Pooling")
    at.number_input(key="explorer_w_pool_size").set_value(7).run()
    assert any("(7 − 2) / 2 = 2.5 is not whole" in e.value for e in at.error)
    assert not any(c.value.startswith("max(") for c in at.code)
    at.number_input(key="explorer_w_pool_size").set_value(8).run()
    assert any(c.value.startswith("max(") for c in at.code)
