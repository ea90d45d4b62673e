"""No English sentence left on a page shown in Korean: every page is rendered with AppTest in
Korean and the text a student reads (titles, markdown, captions, messages, labels, help texts,
options) is searched for runs of three or more English words. Code (`st.code`, inline `code`),
Keras layer names, file paths, addresses and numbers are not sentences and are left out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnlib.i18n import _, language
from cnnlib.registry import REGISTRY
from tests.test_i18n import open_in_korean
from views._catalog import PAGES

SCRIPTS = ["views/home.py", *(entry.path for entry in PAGES)]

# What is not a sentence: inline code, links' addresses, paths and file names, and words that
# stay in English in the Korean lecture (Keras's names, its arguments and the datasets').
_NOT_PROSE = [
    re.compile(r"`[^`]*`"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"https?://\S+"),
    re.compile(r"(?:[\w.~-]*/)+[\w.-]*"),
    re.compile(r"\b[\w-]+\.(?:py|json|keras|npz|gz|zip|png|jpe?g|tgz|md|toml)\b"),
    re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"),  # snake_case settings: batch_size, use_bias
    re.compile(r"\b[A-Z][a-z]*[A-Z0-9]\w*\b"),  # CamelCase names: Conv2D, MaxPooling2D, ReLU
]
_RUN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*(?:[ \t]+[A-Za-z]+(?:['’-][A-Za-z]+)*){2,}")
# Names and fixed terms that are English in Korean text too.
_ALLOWED = {
    "CNN Lab",
    "ConvNetJS",
    "Karpathy",
    "TensorFlow Playground",
    "CNN Explainer",
    "CNN(2): Convolutional Neural Networks",  # the lecture's own title
    "CNN(2) Convolutional Neural Networks",  # the same, as the registry's citation writes it
    "Yoon Joong Kim",  # the lecture's author
}


def english_runs(text: str) -> list[str]:
    """Runs of three or more English words in `text`, outside code, names and paths."""
    for name in _ALLOWED:
        text = text.replace(name, " ")
    for pattern in _NOT_PROSE:
        text = pattern.sub(" ", text)
    return [match.group(0) for match in _RUN.finditer(text)]


def texts(at: AppTest, data_keys: tuple[str, ...] = ()) -> list[str]:
    """What a student reads on the page: every element's text but code's. The values of the
    widgets whose keys start with one of `data_keys` are data, not text, and left out."""
    found = []

    def walk(node) -> None:
        kind = type(node).__name__
        if kind == "Code":
            return
        options = getattr(node, "options", None)
        # A choice widget's value is its option as the code knows it (often an English key);
        # the student reads the options, shown through the widget's format function.
        shown = ("label", "help", "placeholder", "body", "caption")
        data_field = bool(data_keys) and str(getattr(node, "key", None) or "").startswith(data_keys)
        data = isinstance(options, list) or data_field
        for attribute in shown if data else ("value", *shown):
            try:
                value = getattr(node, attribute, None)
            except Exception:  # some elements compute their value from state they lack here
                value = None
            if isinstance(value, str) and value:
                found.append(value)
        if kind in ("Dataframe", "Table"):
            found.extend(table_texts(node.value))
        if isinstance(options, list):
            found.extend(option for option in options if isinstance(option, str))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def table_texts(frame) -> list[str]:
    """A table's column headers, index labels and text cells (`st.dataframe`, `st.table`)."""
    found = [str(name) for name in [*frame.columns, *frame.index] if isinstance(name, str)]
    for column in frame.columns:
        found.extend(value for value in frame[column].tolist() if isinstance(value, str))
    return found


def test_tables_are_read_too():
    import pandas as pd

    frame = pd.DataFrame({"layer": ["Conv2D", "same padding keeps the size"], "n": [1, 2]})
    runs = {run for text in table_texts(frame) for run in english_runs(text)}
    assert runs == {"same padding keeps the size"}


def test_the_heuristic_finds_english_and_spares_code_and_names():
    assert english_runs("학습 시작: Choose a network first") == ["Choose a network first"]
    assert english_runs("`keras.layers.Conv2D(32, 3)` 계층과 MaxPooling2D 풀링") == []
    assert english_runs("파일 cnnlab/data/mnist.npz 과 batch_size") == []


def test_every_registry_entry_speaks_korean():
    """Each entry's title, summary, count note and reasons beside the lecture's shapes, not only
    those the pages below happen to show. Sources are left out: a citation keeps its paper's
    title and authors in English."""
    with language("ko"):
        for entry in REGISTRY.values():
            shown = [entry.shown_title(), entry.shown_summary(), entry.shown_count_note()]
            shown += [why for _index, _stated, why in entry.shown_lecture_shapes()]
            english = {run for text in shown for run in english_runs(text)}
            assert not english, f"English left in {entry.key} in Korean: {sorted(english)}"


@pytest.mark.parametrize("page", SCRIPTS, ids=lambda path: Path(path).stem)
def test_no_english_sentence_on_a_page_shown_in_korean(small_home, page):
    at = open_in_korean(page)
    switch_labels = {"Language · 언어"}
    english = {run for text in texts(at) if text not in switch_labels for run in english_runs(text)}
    assert not english, f"English left on {page} in Korean: {sorted(english)}"


# The MNIST page draws only its open tab (`views._tabs.page_tabs`), so each is opened in turn.
MNIST_TABS = ["draw", "inside", "models"]


@pytest.mark.parametrize("tab", MNIST_TABS)
def test_no_english_sentence_in_the_mnist_pages_other_tabs_in_korean(small_home, tab):
    at = open_in_korean("views/mnist.py")
    at.session_state["mnist_tab_open"] = tab
    if "mnist_tab" in at.session_state:
        del at.session_state["mnist_tab"]
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["mnist_tab_open"] == tab
    english = {run for text in texts(at) for run in english_runs(text)}
    assert not english, f"English left in the MNIST page's {tab} tab in Korean: {english}"


def test_no_english_sentence_in_the_own_data_example_in_korean(small_home):
    """The example set, chosen: its description and the report of its images."""
    from views._own_data_widgets import EXAMPLE

    at = open_in_korean("views/own_data.py")
    at.radio(key="own_data_w_source").set_value(EXAMPLE).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert any("UCI" in text for text in shown)
    english = {run for text in shown for run in english_runs(text)}
    assert not english, f"English left in the own-data example in Korean: {english}"


@pytest.mark.parametrize("key", ["kim_cnn", "googlenet", "resnet50"])
def test_no_english_sentence_in_a_case_study_opened_from_a_link_in_korean(key):
    """A case study's blocks, its layer table and the note on the link that opened it."""
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.query_params["lang"] = "ko"
    at.run()
    at.query_params["net"] = key
    at.switch_page("views/explorer.py").run()
    assert not at.exception, at.exception
    # The name field holds the network's own name, which stays as it is written (like a Keras
    # model's name: links and saved networks carry it); the page names it by its title.
    shown = texts(at, data_keys=("explorer_w_name_",))
    assert any(REGISTRY[key].network.layers[1].__class__.__name__ in text for text in shown)
    english = {run for text in shown for run in english_runs(text)}
    assert not english, f"English left in {key} opened in the explorer in Korean: {english}"


EXPLORER_TABS = ["Network", "Lecture check", "Concepts", "Case studies", "Keras and export"]
CONCEPTS = [
    "Convolution",
    "Channels and filters",
    "1×1 convolution",
    "Dilated",
    "Depthwise separable",
    "Pooling",
    "Upsampling",
    "Transposed",
    "Activation maps",
]


@pytest.mark.parametrize(
    ("tab", "concept"),
    [(tab, None) for tab in EXPLORER_TABS if tab != "Concepts"]
    + [("Concepts", concept) for concept in CONCEPTS],
)
def test_no_english_sentence_in_the_explorers_tabs_in_korean(tab, concept):
    at = open_in_korean("views/explorer.py")
    with language("ko"):
        at.session_state["explorer_w_tab"] = _(tab)
        if concept is not None:
            at.session_state["explorer_w_concept"] = _(concept)
    at.run()
    assert not at.exception, at.exception
    english = {run for text in texts(at) for run in english_runs(text)}
    assert not english, f"English left in the explorer's {concept or tab} in Korean: {english}"


def test_block_names_and_ensemble_members_are_named_in_korean():
    """A case study's block names stay English in the network (it is stored and shared as it
    is) and are shown translated; an ensemble's members are named in the language of the
    session that trains them."""
    from cnnlib import ensemble, network_edit
    from cnnlib.layers import shown_block_name

    blocks = network_edit.collect_blocks({e.title: e.network for e in REGISTRY.values()})
    assert any(block.name == "inception (3a)" for _label, block in blocks)
    with language("ko"):
        assert shown_block_name("inception (3a)") == "인셉션 (3a)"
        assert shown_block_name("conv2 block 1") == "conv2 블록 1"
        assert shown_block_name("my block") == "my block"
        labels = [
            label
            for label, _block in network_edit.collect_blocks(
                {e.shown_title(): e.network for e in REGISTRY.values()}
            )
        ]
        english = {run for label in labels for run in english_runs(label)}
        assert not english, sorted(english)
        names = [spec.name for spec in ensemble.plan_members(["mnist_one_conv"], 2)]
    assert all("시드" in name and not english_runs(name) for name in names), names
    english_names = [spec.name for spec in ensemble.plan_members(["mnist_one_conv"], 2)]
    assert english_names == ["MNIST, one convolution · seed 0", "MNIST, one convolution · seed 1"]
