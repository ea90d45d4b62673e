"""Korean and English: the catalogs are complete and compiled, the language follows the URL, the
session's choice and the browser in that order, two sessions in two languages never mix, and
Korean reaches the pages, the Plotly figures and the pictures drawn with Pillow (checked by
their pixels, not only their text)."""

from __future__ import annotations

import gettext
import io
import string
import subprocess
import threading
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from cnnlib import datasets, figures, figures_live, i18n
from views import _language

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "cnnlab.po"
MO = PO.with_suffix(".mo")
WORKFLOW = "run the README's Languages steps (extract, update, translate, compile)"


def korean_catalog():
    with PO.open("rb") as file:
        return read_po(file, locale="ko")


def messages():
    return [message for message in korean_catalog() if message.id]


def fields(text: str) -> set[str]:
    """The named placeholders of a str.format template."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def forms(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def test_every_message_has_a_korean_translation_that_is_not_fuzzy():
    found = messages()
    assert len(found) > 150
    untranslated = [m.id for m in found if not all(s.strip() for s in forms(m.string))]
    fuzzy = [m.id for m in found if m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated[:5]}; {WORKFLOW}"
    assert not fuzzy, f"fuzzy: {fuzzy[:5]}"


def test_placeholders_match_between_languages():
    catalog = korean_catalog()
    errors = [(m.id, problems) for m, problems in catalog.check() if problems]
    assert not errors, errors[:5]
    for message in catalog:
        if not message.id:
            continue
        wanted = set().union(*(fields(text) for text in forms(message.id)))
        for translation in forms(message.string):
            assert fields(translation) == wanted, (message.id, translation)


def test_translations_add_no_markdown_strikethrough():
    """Pages show most texts as Markdown, where two tildes strike the text between them
    through; Korean writes ranges as 0~4, so a translation must use a dash instead."""
    added = [
        translation
        for message in messages()
        for translation in forms(message.string)
        if "~" in translation and not any("~" in text for text in forms(message.id))
    ]
    assert not added, added[:3]


def test_the_compiled_catalog_is_the_po_file_compiled():
    compiled = io.BytesIO()
    write_mo(compiled, korean_catalog())
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)._catalog
    with MO.open("rb") as file:
        committed = gettext.GNUTranslations(file)._catalog
    assert committed == expected, f"locale/ko/LC_MESSAGES/cnnlab.mo is stale: {WORKFLOW}"


def test_every_string_marked_in_the_sources_is_in_the_catalog():
    with (ROOT / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    marked = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, options_map)
    }
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in messages()}
    missing = sorted(marked - known)
    assert not missing, f"not in the catalog: {missing[:5]}; {WORKFLOW}"


def test_the_language_is_chosen_from_the_url_then_the_session_then_the_browser():
    assert i18n.choose(url="ko", chosen="en", browser="en-US") == "ko"
    assert i18n.choose(url="en", chosen="ko", browser="ko-KR") == "en"
    assert i18n.choose(url="fr", chosen="ko", browser="en-US") == "ko"
    assert i18n.choose(url=None, chosen=None, browser="ko-KR") == "ko"
    assert i18n.choose(url=None, chosen=None, browser="ko_KR") == "ko"
    assert i18n.choose(url=["ko"], chosen=None, browser="de-DE") == "en"
    assert i18n.choose() == "en"


def test_messages_follow_the_language_and_keep_their_placeholders():
    template = "Epoch {epoch} of {epochs}, batch {batch} of {batches}"
    with i18n.language("ko"):
        korean = i18n._(template).format(epoch=2, epochs=12, batch=31, batches=469)
        one = i18n.ngettext(
            "Estimate {how}. Training for {epochs} epoch: about {duration}.",
            "Estimate {how}. Training for {epochs} epochs: about {duration}.",
            1,
        )
    assert korean == "에포크 2/12, 배치 31/469"
    assert "에포크" in one
    assert i18n._(template) == template
    with pytest.raises(ValueError, match="language must be one of"):
        i18n.set_language("fr")


def test_two_threads_in_two_languages_never_mix():
    barrier = threading.Barrier(2)
    seen: dict[str, set[str]] = {}

    def speak(code: str) -> None:
        i18n.set_language(code)
        words = set()
        for _ in range(200):
            barrier.wait()
            words.add(i18n._("Start training"))
        seen[code] = words

    threads = [threading.Thread(target=speak, args=(code,)) for code in ("ko", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"ko": {"학습 시작"}, "en": {"Start training"}}


def test_built_in_class_names_are_translated_and_a_students_own_are_not():
    with i18n.language("ko"):
        cifar = datasets.display_names(datasets.CIFAR10_CLASS_NAMES)
        digits = datasets.display_names(datasets.MNIST_CLASS_NAMES)
        own = datasets.display_names(("cat", "dog"))
    assert cifar[:3] == ("비행기", "자동차", "새") and len(set(cifar)) == 10
    assert digits == datasets.MNIST_CLASS_NAMES
    assert own == ("cat", "dog")


def home(at: AppTest) -> str:
    return " ".join(element.value for element in [*at.subheader, *at.markdown])


def test_english_when_nothing_asks_for_korean():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "Where to start" in home(at)
    assert at.sidebar.radio(key=_language.SWITCH).value == "en"


def test_the_browsers_language_chooses_korean_and_the_url_wins_over_it():
    at = AppTest.from_file(APP, default_timeout=60)
    at.context["locale"] = "ko-KR"
    at.run()
    assert not at.exception
    assert "어디서 시작할까요" in home(at) and "Where to start" not in home(at)
    assert "합성곱" in home(at)  # the explorer's description, in the lecture's words

    at = AppTest.from_file(APP, default_timeout=60)
    at.context["locale"] = "ko-KR"
    at.query_params["lang"] = "en"
    at.run()
    assert "Where to start" in home(at)

    at = AppTest.from_file(APP, default_timeout=60)
    at.context["locale"] = "en-US"
    at.query_params["lang"] = "ko"
    at.run()
    assert "어디서 시작할까요" in home(at)


def test_the_switch_translates_the_page_and_keeps_its_state(small_home):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/mnist.py").run()
    assert not at.exception, at.exception
    at.number_input(key="mnist_w_epochs").set_value(7).run()
    assert at.number_input(key="mnist_w_epochs").label == "Epochs"
    at.sidebar.radio(key=_language.SWITCH).set_value("ko").run()
    assert not at.exception, at.exception
    assert at.number_input(key="mnist_w_epochs").label == "에포크"
    assert at.number_input(key="mnist_w_epochs").value == 7
    assert at.query_params["lang"] == "ko"
    # The choice survives a visit to another page, and so do the settings.
    at.switch_page("views/home.py").run()
    assert "어디서 시작할까요" in home(at)
    at.switch_page("views/mnist.py").run()
    assert at.number_input(key="mnist_w_epochs").value == 7
    at.sidebar.radio(key=_language.SWITCH).set_value("en").run()
    assert at.number_input(key="mnist_w_epochs").label == "Epochs"


def test_two_sessions_in_two_languages_do_not_mix():
    # Runs of the two sessions interleave, as a server's would; AppTest itself cannot run two
    # sessions on two threads at once (its runtime stand-in is shared), so the threads of
    # two languages are tested on the runtime alone above.
    sessions = {"ko": AppTest.from_file(APP, default_timeout=60), "en": None}
    sessions["en"] = AppTest.from_file(APP, default_timeout=60)
    sessions["ko"].query_params["lang"] = "ko"
    for _ in range(3):
        for code in ("ko", "en"):
            sessions[code].run()
            assert not sessions[code].exception, sessions[code].exception
    assert "어디서 시작할까요" in home(sessions["ko"]) and "Where" not in home(sessions["ko"])
    assert "Where to start" in home(sessions["en"]) and "어디서" not in home(sessions["en"])


def test_pictures_draw_hangul_as_letters_not_boxes():
    path = figures_live.hangul_font()
    assert path is not None, figures_live.NO_HANGUL_FONT
    assert figures_live.can_draw("비행기")
    font = figures_live.default_font(24)
    missing = font.getmask("\uffff")
    masks = {}
    for letter in "비행기자동차":
        mask = font.getmask(letter)
        assert max(mask) > 0, letter  # ink
        assert (bytes(mask), mask.size) != (bytes(missing), missing.size), letter
        masks[letter] = (bytes(mask), mask.size)
    assert len(set(masks.values())) == len(masks)  # each letter its own shape: no boxes


def test_a_prediction_strip_labels_its_bars_in_korean():
    image = [[0] * 8] * 8
    korean = [{"image": image, "truth": "비행기", "top": [("비행기", 0.9)], "correct": True}]
    boxes = [{"image": image, "truth": "\uffff" * 3, "top": [("\uffff" * 3, 0.9)]}]
    drawn = figures_live.prediction_strip(korean, columns=1)
    unknown = figures_live.prediction_strip(boxes, columns=1)
    assert drawn.shape == unknown.shape
    assert (drawn != unknown).any()


def test_without_a_hangul_font_pictures_say_so_instead_of_drawing_boxes(monkeypatch):
    monkeypatch.setattr(figures_live, "hangul_font", lambda: None)
    assert not figures_live.can_draw("비행기")
    assert figures_live.can_draw("airplane")
    with i18n.language("ko"):
        note = i18n._(figures_live.NO_HANGUL_FONT)
    assert "fonts-nanum" in note and "한글" in note


def test_plotly_figures_speak_korean_in_a_font_with_hangul():
    with i18n.language("ko"):
        loss, accuracy = figures.runs_overlay([])
        curves = figures.training_curves({}, {"epoch": [1], "loss": [0.5]}, steps_per_epoch=10)
    assert loss.layout.title.text == "학습 손실 (이동 평균)"
    assert loss.layout.xaxis.title.text == "본 예제 수"
    assert [a.text for a in curves.layout.annotations][:2] == ["손실", "정확도"]
    family = loss.layout.font.family
    installed = subprocess.run(
        ["fc-list", ":lang=ko", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert any(name.strip().strip('"') in installed for name in family.split(",")[2:-1]), (
        "no family of FONT_FAMILY with Hangul is installed"
    )


def test_the_trainers_controls_all_speak_korean(small_home):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "ko"
    at.run()
    at.switch_page("views/mnist.py").run()
    assert not at.exception, at.exception
    widgets = [
        *at.number_input,
        *at.slider,
        *at.select_slider,
        *at.selectbox,
        *at.checkbox,
        *at.toggle,
        *at.text_input,
        *at.button,
    ]
    buttons = {"mnist_start", "mnist_pause", "mnist_stop", "mnist_clear"}
    trainer = [w for w in widgets if w.key and (w.key.startswith("mnist_w_") or w.key in buttons)]
    assert len(trainer) >= 15
    english = [w.label for w in trainer if not figures_live.has_hangul(w.label)]
    assert not english, f"labels left in English: {english}"
    assert all(figures_live.has_hangul(m.label) for m in at.metric)


PAGES = ["views/home.py", "views/explorer.py", "views/mnist.py", "views/cifar10.py"]
PAGES += ["views/ensemble.py", "views/own_data.py"]


def open_in_korean(page: str) -> AppTest:
    """The dashboard opened with ?lang=ko and switched to `page`, run without exceptions."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "ko"
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_labels_its_controls_and_titles_in_korean(small_home, page):
    at = open_in_korean(page)
    widgets = [
        *at.number_input,
        *at.slider,
        *at.select_slider,
        *at.selectbox,
        *at.multiselect,
        *at.checkbox,
        *at.toggle,
        *at.radio,
        *at.text_input,
        *at.button,
    ]
    labels = [w.label for w in widgets if w.label and w.key != _language.SWITCH]
    labels += [element.value for element in [*at.title, *at.header, *at.subheader]]
    labels += [m.label for m in at.metric]
    english = [text for text in labels if text != "CNN Lab" and not figures_live.has_hangul(text)]
    assert not english, f"left in English on {page}: {english}"
