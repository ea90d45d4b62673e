"""The architecture explorer page, driven through the app's own navigation with AppTest.

Expected numbers come from `cnnlib.arithmetic.analyse` of networks built here independently of
the page, and from Keras itself for the exported code.
"""

import dataclasses
import json
import os
import re
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


def layer_selector(at: AppTest):
    """The "Layer" selector; its key follows the table's revision."""
    return at.selectbox(key=f"explorer_w_layer_{at.session_state['explorer_table']['revision']}")


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
    layer_selector(at).set_value(2)  # the first MaxPooling2D
    at.button(key="explorer_btn_up").click().run()
    assert at.session_state[NETWORK].layers[1:3] == (start.layers[2], start.layers[1])
    layer_selector(at).set_value(1)
    at.button(key="explorer_btn_remove").click().run()  # drop the pooling layer again
    assert at.session_state[NETWORK].layers[1] == start.layers[1]
    # A whole inception block from GoogLeNet after the first convolution.
    layer_selector(at).set_value(1)
    at.selectbox(key="explorer_w_block").set_value("GoogLeNet (Inception v1): inception (3a)")
    at.button(key="explorer_btn_insert_block").click().run()
    network = at.session_state[NETWORK]
    assert isinstance(network.layers[2], L.Parallel) and network.layers[2].name == "inception (3a)"
    assert params(at) == analyse(network).total_params
    assert any("inception (3a)" in e.label for e in at.expander)  # shown as a block, expanded
    assert not at.exception and not at.error
    # Inside the block: the first branch's 1×1 convolution gets 8 filters instead of 64.
    layer_selector(at).set_value(2).run()
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
        "from cnnlib.keras_source import keras_layer_names; "
        "names = keras_layer_names(REGISTRY['googlenet'].network); "
        "assert names['6'] == 'block6_concat', names['6']; "
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
    table = at.dataframe[0].value
    assert table.loc["2 MaxPooling2D", "Keras computes"] == "13×13×32"
    assert table.loc["2 MaxPooling2D", "agrees"] == "✗"
    reasons = next(m.value for m in at.markdown if m.value.startswith("- **2 MaxPooling2D**"))
    assert "13" in reasons.splitlines()[0]
    show_tab(at, "Case studies")
    titles = at.dataframe[0].value["network"]
    width = json.loads(at.dataframe[0].proto.columns)["network"]["width"]
    assert width >= 6.5 * max(len(title) for title in titles)  # no title cut off
    at.selectbox(key="explorer_w_case").set_value("lecture_figure8").run()
    source = next(c.value for c in at.caption if c.value.startswith("Source"))
    # Escaped for Markdown, except the web address, where a backslash would be shown.
    assert "https://www.researchgate.net/" in source and "which_283433254" in source
    assert "Yoon Joong Kim" in source and "\\" not in source.split("https://")[1]
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
    assert not at.exception and not at.error and not at.toggle(key="explorer_w_conv_play").value
    # Not whole: the lecture's formula is named as the reason, and the slide goes on to show
    # what Keras computes instead of hiding behind a switch.
    assert any("(8 − 3) / 2 = 2.5 is not whole" in w.value for w in at.warning)
    assert any("what Keras computes" in c.value for c in at.caption)
    assert any(c.value.startswith("rows     ⌊(8 − 3 + 2·0) / 2⌋ + 1 = ⌊2.5⌋") for c in at.code)
    assert any(c.value.count("·") >= 9 for c in at.code)  # the 3×3 multiply-and-sum
    assert at.slider(key="explorer_w_conv_position").max == 3 * 3 - 1  # Keras's 3×3 output
    at.number_input(key="explorer_w_conv_h").set_value(3)
    at.number_input(key="explorer_w_conv_k").set_value(7).run()
    assert any("does not fit" in e.value for e in at.error)  # a kernel that cannot fit at all
    show_tab(at, "Concepts", "Pooling")
    at.number_input(key="explorer_w_pool_size").set_value(7).run()
    assert any("(7 − 2) / 2 = 2.5 is not whole" in w.value for w in at.warning)
    assert any(c.value.startswith("max(") for c in at.code)
    at.number_input(key="explorer_w_pool_size").set_value(8).run()
    assert any(c.value.startswith("max(") for c in at.code) and not at.warning


MARKDOWN_ELEMENTS = ("markdown", "caption", "info", "warning", "success", "error", "table")


def shown_as_markdown(at: AppTest) -> list[str]:
    """The text of every element Streamlit renders as Markdown, expander labels included."""
    texts = []
    for kind in MARKDOWN_ELEMENTS:
        for element in getattr(at, kind):
            value = element.value
            if kind == "table":  # every cell of an st.table is Markdown
                texts += [str(cell) for cell in value.to_numpy().ravel()]
            else:
                texts.append(value)
    return texts + [e.label for e in at.expander]


def test_lecture_check_keeps_every_asterisk_of_the_lecture(small_home):
    at = show_tab(open_page(), "Lecture check")
    for key in ("mnist_one_conv", "mnist_two_conv"):
        at.selectbox(key="explorer_w_check").set_value(key).run()
        assert not at.exception
        stated = [text for _, text, _ in REGISTRY[key].lecture_shapes if "*" in text]
        assert stated, key  # "6272 = 14*14*32", "3136 = 7*7*64"
        # Shown as plain text: in a dataframe, whose cells are not read as Markdown ...
        shown = list(at.dataframe[0].value["the lecture's comment"])
        assert all(text in shown for text in stated), key
        # ... and nowhere as Markdown that would turn 7*7*64 into 7, an italic 7, and 64.
        for text in shown_as_markdown(at):
            assert re.search(r"\d\*\d", text) is None, text


def test_names_from_a_file_are_not_read_as_markdown(small_home):
    at = open_page()
    lenet = REGISTRY["lenet5"].network
    block = L.Parallel(((L.Conv2D(4, 1),), ()), merge="concat", name="my *bold* block_1")
    network = dataclasses.replace(
        lenet, name="net_v2 *draft*", layers=(lenet.layers[0], block, *lenet.layers[1:])
    )
    show_tab(at, "Keras and export")
    upload(at, "my_net.json", network.to_json().encode())
    assert not at.exception and not at.error
    texts = shown_as_markdown(at)
    assert any("Loaded 'net\\_v2 \\*draft\\*' from my\\_net.json" in t for t in texts)
    show_tab(at, "Network")
    layer_selector(at).set_value(1).run()
    texts = [text for text in shown_as_markdown(at) if "bold" in text]
    assert len(texts) >= 2  # the block's row in the analysis, its detail and its editor
    for text in texts:
        assert "my \\*bold\\* block\\_1" in text, text


def test_layer_selector_follows_load(small_home):
    """After Load the selector shows the new network's layer, not the old one's label."""
    at = load(open_page(), "lecture_figure8")
    before = layer_selector(at)
    assert before.value == 1 and before.options[0].startswith("1 · Conv2D 12 5×5")
    load(at, "resnet50")
    after = layer_selector(at)
    assert after.value == 1 and after.options[0] == "1 · ZeroPadding2D 3×3"
    # A new widget, not the old one with new options: the browser keeps a selectbox's text
    # while its id stays, so the old one went on showing Figure 8's "Conv2D 12 5×5".
    assert after.id != before.id
    assert any(m.value.startswith("**Layer 1: ZeroPadding2D**") for m in at.markdown)
    # A whole-layer edit keeps the selection on the layer that moved.
    layer_selector(at).set_value(3).run()
    at.button(key="explorer_btn_up").click().run()
    assert layer_selector(at).value == 2
    assert at.session_state[NETWORK].layers[2] == REGISTRY["resnet50"].network.layers[3]


def test_json_import_and_case_study_load_say_what_was_loaded(small_home):
    at = show_tab(open_page(), "Keras and export")
    lenet = REGISTRY["lenet5"].network
    upload(at, "lenet.json", lenet.to_json().encode())
    assert not at.exception and not at.error
    layers = len(lenet.layers) - 1
    total = analyse(lenet).total_params
    assert any(
        f"from lenet.json: {layers} layers, {total:,} parameters" in s.value for s in at.success
    )
    show_tab(at, "Case studies")
    at.selectbox(key="explorer_w_case").set_value("vgg16").run()
    at.button(key="explorer_btn_case_load").click().run()
    assert any("Loaded VGG-16 into the editor" in s.value for s in at.success)


def test_keras_comparison_pairs_every_keras_layer_with_its_row():
    pytest.importorskip("keras")
    from cnnlib.build import build_model, keras_summary_rows
    from cnnlib.keras_source import keras_comparison

    block = L.Parallel(((L.Conv2D(8, 3, padding="same"),), ()), merge="add", activation="relu")
    network = L.Network(
        "residual", (L.Input((8, 8, 8)), block, L.Flatten(), L.Dense(3, activation="softmax"))
    )
    analysis = analyse(network)
    rows = keras_summary_rows(build_model(network))
    table = {row["Keras layer"]: row for row in keras_comparison(network, analysis, rows)}
    assert set(table) == {
        "block1_branch1_conv2d_1",
        "block1_add",
        "block1_relu",
        "flatten_1",
        "dense_1",
    }
    assert all(row["agree"] == "✓" for row in table.values())
    assert table["block1_add"]["parameters here"] == 0
    assert table["block1_add"]["output here"] == "8×8×8"
    assert table["dense_1"]["parameters here"] == 8 * 8 * 8 * 3 + 3
    # A layer Keras counts differently, and one it does not have, are flagged.
    changed = [
        dict(row, params=row["params"] + 1) if row["name"] == "dense_1" else row for row in rows
    ]
    changed = [row for row in changed if row["name"] != "flatten_1"]
    table = {row["Keras layer"]: row for row in keras_comparison(network, analysis, changed)}
    assert table["dense_1"]["agree"] == "✗"
    assert table["flatten_1 (not in the Keras model)"]["agree"] == "✗"


def test_analysis_columns_are_wide_enough_for_their_longest_text(small_home):
    """No setting or formula cut off at a fixed width: each text column fits its longest."""
    at = load(open_page(), "lecture_figure8")  # rectangular: "height …; width …" formulas
    editor, analysis = at.dataframe[0], at.dataframe[1]
    widths = json.loads(analysis.proto.columns)
    for column in ("settings", "how", "output size"):
        longest = max(len(str(text)) for text in analysis.value[column])
        assert widths[column]["width"] >= 6.5 * longest, column
    assert "height (120 − 5 + 2·0) / 1 + 1 = 116" in analysis.value["output size"][1]
    # The editor's layer column holds the longest layer name, and the block text comes last.
    layer = json.loads(editor.proto.columns)["layer"]
    assert layer["width"] >= 6.5 * len("GlobalAveragePooling2D")
    assert list(editor.proto.column_order)[-1] == "about"


def test_escaped_text_reads_as_written():
    from views._explorer_text import escape_markdown

    assert escape_markdown("3136 = 7*7*64") == "3136 = 7\\*7\\*64"
    assert escape_markdown("net_v2 [draft] `x` #1 | $5 <b> ~a~") == (
        "net\\_v2 \\[draft\\] \\`x\\` \\#1 \\| \\$5 \\<b\\> \\~a\\~"
    )
    assert escape_markdown("- first\n2. second") == "\\- first\n2\\. second"
    assert escape_markdown("a :red[b] :smile: c: d") == "a \\:red\\[b\\] \\:smile: c: d"
    # Web addresses are links by themselves: a backslash in one would be shown.
    text = "after https://example.org/a_b*c) and x_y"
    assert escape_markdown(text) == "after https://example.org/a_b*c) and x\\_y"


def test_the_table_takes_the_convolution_family_and_explains_the_savings(small_home):
    at = open_page()
    start = at.session_state[NETWORK]
    edit_cells(at, edited={0: {"layer": "DepthwiseConv2D", "size": 1, "window": "3×3 dilation 2"}})
    assert not at.exception and not at.error
    depthwise = L.DepthwiseConv2D(3, padding="valid", dilation_rate=2)
    assert at.session_state[NETWORK].layers[1] == depthwise
    expected = dataclasses.replace(start, layers=(start.layers[0], depthwise, *start.layers[2:]))
    assert params(at) == analyse(expected).total_params
    detail = next(c.value for c in at.code if c.value.startswith("output size"))
    assert "3 dilated by 2 spans 3 + (3 − 1)·(2 − 1) = 5; (28 − 5 + 2·0) / 1 + 1 = 24" in detail
    assert "against       a plain 3×3 Conv2D making the same 1 maps" in detail
    edit_cells(at, added=[{"layer": "UpSampling2D"}])  # after the last Dense: not a volume
    assert any("UpSampling2D needs a height × width × channels volume" in e.value for e in at.error)
    assert at.session_state[NETWORK].layers[1] == depthwise


def test_convolution_family_slides_animate_and_show_the_checkerboard(small_home):
    at = show_tab(open_page(), "Concepts", "Transposed")
    assert not at.exception and not at.error
    assert any("get 1, 2 or 4 patches" in w.value for w in at.warning)  # kernel 3, stride 2
    assert any(c.value == "rows and columns  (4 − 1)·2 + 3 = 9" for c in at.code)
    at.toggle(key="explorer_w_tr_play").set_value(True).run()
    first = at.slider(key="explorer_w_tr_position").value
    at.run()
    assert at.slider(key="explorer_w_tr_position").value == (first + 1) % 16
    at.toggle(key="explorer_w_tr_play").set_value(False)
    at.number_input(key="explorer_w_tr_k").set_value(4).run()
    assert not at.warning and any("Even" in i.value for i in at.info)
    show_tab(at, "Concepts", "Dilated")
    assert not at.exception and not at.error
    assert any("3 dilated by 2 spans" in c.value for c in at.code)
    assert at.slider(key="explorer_w_dil_position").max == 5 * 5 - 1  # 9 − 5 + 1 = 5
    show_tab(at, "Concepts", "Depthwise separable")
    assert not at.exception
    savings = at.dataframe[-1].value
    mobilenet = savings[savings["layer"].str.startswith("a MobileNet layer")].iloc[0]
    assert mobilenet["Conv2D parameters"] == 2_359_808
    assert mobilenet["SeparableConv2D parameters"] == 267_264
    assert mobilenet["MACs saved"] == "8.8×"
    assert any(c.value.startswith("depthwise 1 at (0, 0) = ") for c in at.code)
    show_tab(at, "Concepts", "1×1 convolution")
    assert not at.exception
    assert any("parameters   2 × (1 × 1 × 3) + 2 = 8" in c.value for c in at.code)
    assert any(c.value.startswith("pixel (0, 0) has channels") for c in at.code)
    show_tab(at, "Concepts", "Upsampling")
    assert not at.exception
    at.selectbox(key="explorer_w_up_interpolation").set_value("bilinear").run()
    assert any(c.value == "rows and columns  4 × 2 = 8" for c in at.code)
    assert any(c.value.startswith("input (0, 0) = ") for c in at.code)


def test_the_open_tab_and_concept_stay_open_across_a_language_switch(small_home):
    from views import _language

    at = show_tab(open_page(), "Concepts", "Pooling")
    assert not at.exception, at.exception
    at.sidebar.radio(key=_language.SWITCH).set_value("ko").run()
    assert not at.exception, at.exception
    assert at.session_state["explorer_w_tab"] == "개념"
    assert at.session_state["explorer_w_concept"] == "풀링"
