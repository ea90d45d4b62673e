"""The MNIST page through Streamlit's AppTest, on the small synthetic datasets of `small_home`:
it loads with its controls, a one-epoch run of a few hundred images finishes and shows a test
accuracy that matches the kept model's own predictions, that model saved to the library loads
back in a new session with the same weights, the dropout sliders change the network trained,
and networks it cannot train are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnlib import datasets, registry
from cnnlib.arithmetic import analyse
from cnnlib.layers import Conv2D, Dense, Flatten, Input, Network
from views import _state

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "views/mnist.py"


def open_page(timeout: float = 120) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the page's tabs, as a click on it does: only the open tab is drawn."""
    at.session_state["mnist_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label_start: str):
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric starting {label_start!r}: {[m.label for m in at.metric]}"
    return found[0]


def start_tiny_run(at: AppTest, network_key: str = "mnist_one_conv", epochs: int = 1):
    """Start a run of `epochs` on 500 images from the Train tab; return it."""
    at.selectbox(key="mnist_w_network_mnist").set_value(network_key)
    at.number_input(key="mnist_w_epochs").set_value(epochs)
    at.select_slider(key="mnist_w_train_size_mnist").set_value(500)
    at.run()
    at.button(key="mnist_start").click()
    at.run()
    run = at.session_state[_state.MNIST].run
    assert run is not None, [e.value for e in at.error]
    return run


def train_tiny_run(at: AppTest, network_key: str = "mnist_one_conv"):
    job = start_tiny_run(at, network_key).job
    assert job.wait(timeout=240), "the tiny run did not finish in time"
    at.run()
    assert not at.exception, at.exception
    return job


def test_page_loads_with_its_controls(small_home):
    at = open_page()
    assert at.title[0].value == "MNIST digits"
    assert at.button(key="mnist_start").disabled is False
    labels = {
        widget.label for widget in [*at.slider, *at.select_slider, *at.selectbox, *at.number_input]
    }
    for label in ("Epochs", "Batch size", "Learning rate", "Training images", "Optimizer"):
        assert label in labels
    # The dataset is named with where it came from: the small home's IDX files.
    assert any("600 training and 200 test images" in c.value for c in at.caption)
    # The parameter count is the arithmetic's for the chosen registry network.
    key = at.selectbox(key="mnist_w_network_mnist").value
    expected = analyse(registry.get(key).network).total_params
    assert metric(at, "Parameters").value == f"{expected:,}"
    # Nothing trained yet: the draw tab asks for a model rather than showing a canvas.
    open_tab(at, "Draw a digit")
    assert any("No MNIST model in this session yet" in info.value for info in at.info)


def test_settings_survive_a_visit_to_another_page(small_home):
    at = open_page()
    at.selectbox(key="mnist_w_network_mnist").set_value("mnist_two_conv")
    at.run()
    at.number_input(key="mnist_w_epochs").set_value(7)
    at.selectbox(key="mnist_w_optimizer").set_value("sgd")
    [s for s in at.slider if s.label.startswith("Dropout")][0].set_value(0.4)
    at.run()
    at.switch_page("views/home.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert at.selectbox(key="mnist_w_network_mnist").value == "mnist_two_conv"
    assert at.number_input(key="mnist_w_epochs").value == 7
    assert at.selectbox(key="mnist_w_optimizer").value == "sgd"
    assert [s.value for s in at.slider if s.label.startswith("Dropout")] == [0.4, 0.25, 0.25]
    # The lecture's settings button sets the lecture's run in one go.
    at.button(key="mnist_lecture_settings").click()
    at.run()
    assert at.number_input(key="mnist_w_epochs").value == 12
    assert at.selectbox(key="mnist_w_optimizer").value == "adam"
    assert at.select_slider(key="mnist_w_train_size_mnist").value == 600  # all of the small set
    assert at.checkbox(key="mnist_w_validation").value is False
    assert at.selectbox(key="mnist_w_precision").value == "float32"
    assert at.selectbox(key="mnist_w_schedule").value == "constant"
    assert at.slider(key="mnist_w_shift").value == 0


def test_dropout_sliders_edit_the_network_that_is_trained(small_home):
    at = open_page()
    at.selectbox(key="mnist_w_network_mnist").set_value("mnist_two_conv")
    at.run()
    sliders = [s for s in at.slider if s.label.startswith("Dropout")]
    assert [s.value for s in sliders] == [0.25, 0.25, 0.25]
    sliders[1].set_value(0.5)
    at.number_input(key="mnist_w_epochs").set_value(1)
    at.select_slider(key="mnist_w_train_size_mnist").set_value(500)
    at.run()
    at.button(key="mnist_start").click()
    at.run()
    run = at.session_state[_state.MNIST].run
    job = run.job
    job.stop()
    job.wait(timeout=240)
    network = run.network
    rates = [layer.rate for layer in network.layers if type(layer).__name__ == "Dropout"]
    assert rates == [0.25, 0.5, 0.25]
    dropouts = [layer for layer in job.model.layers if type(layer).__name__ == "Dropout"]
    assert [layer.rate for layer in dropouts] == [0.25, 0.5, 0.25]


def test_a_tiny_run_shows_its_test_accuracy_and_its_saved_model_loads_back(small_home):
    at = open_page()
    job = train_tiny_run(at)
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["epoch"] == 1
    shown = metric(at, "Test accuracy on")
    # The figure on the page is the kept model's accuracy on the test images, computed here
    # independently from its predictions.
    from cnnlib.inference import predict_proba

    test = datasets.load_mnist(allow_download=False)
    models = at.session_state[_state.MODELS]
    assert list(models) == ["MNIST, one convolution"]
    record = models["MNIST, one convolution"]
    # Kept lean (weights and configuration, no optimizer state) and saved at once.
    assert getattr(record.model, "optimizer", None) is None
    assert (small_home / "models" / "MNIST, one convolution.keras").is_file()
    accuracy = float(
        (predict_proba(record.model, test.x_test).argmax(axis=1) == test.y_test).mean()
    )
    assert shown.value == f"{accuracy:.2%}"
    assert record.test_accuracy == pytest.approx(accuracy)
    assert accuracy > 0.2  # ten classes: chance is 0.1, and the synthetic digits are easy
    assert metric(at, "The lecture's figure").value == "98.80%"
    # Results below it: the confusion matrix and per-class chart, and the draw tab is ready.
    assert any("Confusion matrix" in m.value for m in at.markdown)
    open_tab(at, "Draw a digit")
    assert any("Draw a digit on the black square" in info.value for info in at.info)

    # Saved to the library under a new name, it loads back in another session.
    open_tab(at, "Models")
    at.text_input(key="mnist_w_save_name").set_value("tiny digits")
    at.run()
    at.button(key="mnist_save").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert (small_home / "models" / "tiny digits.keras").is_file()
    fresh = open_tab(open_page(), "Models")
    assert fresh.session_state[_state.MODELS] == {}
    # The finished run was saved to the library by itself, under its own name, and the copy
    # saved by hand is there beside it.
    picker = fresh.selectbox(key="mnist_w_library_model")
    names = {option.split(" · ")[0] for option in picker.options}
    assert names >= {"MNIST, one convolution", "tiny digits"}
    picker.set_value("tiny digits").run()
    fresh.button(key="mnist_load").click()
    fresh.run()
    assert not fresh.exception, fresh.exception
    loaded = fresh.session_state[_state.MODELS]["tiny digits"]
    assert loaded.dataset == "mnist" and loaded.class_names == [str(d) for d in range(10)]
    assert loaded.test_accuracy == pytest.approx(record.test_accuracy)
    np.testing.assert_allclose(
        predict_proba(loaded.model, test.x_test[:20]),
        predict_proba(record.model, test.x_test[:20]),
        atol=1e-6,
    )
    # The loaded model is offered for drawing in that session.
    open_tab(fresh, "Draw a digit")
    assert fresh.selectbox(key="mnist_w_draw_model").value == "tiny digits"


def test_a_network_for_other_images_is_refused(small_home):
    at = open_page()
    colour = Network(
        "colour net",
        (Input((32, 32, 3)), Conv2D(4), Flatten(), Dense(10, activation="softmax")),
    )
    at.session_state[_state.EXPLORER_NETWORK] = colour
    at.run()
    at.selectbox(key="mnist_w_network_mnist").set_value("explorer")
    at.run()
    assert any("32×32×3" in e.value and "28×28×1" in e.value for e in at.error)
    assert at.button(key="mnist_start").disabled
    # Without a softmax at the end, the scores are not probabilities: refused too.
    logits = Network("no softmax", (Input((28, 28, 1)), Flatten(), Dense(10, activation=None)))
    at.session_state[_state.EXPLORER_NETWORK] = logits
    at.run()
    assert any("softmax" in e.value for e in at.error)
    assert at.button(key="mnist_start").disabled
    assert at.session_state[_state.MNIST].run is None


def test_uploads_that_are_not_mnist_models_are_refused_and_lose_nothing(small_home, tmp_path):
    import keras
    from keras import layers

    from cnnlib import library

    def saved(model) -> bytes:
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        return path.read_bytes()

    def classifier(shape, name):
        return keras.Sequential(
            [keras.Input(shape), layers.Flatten(), layers.Dense(10, activation="softmax")],
            name=name,
        )

    at = open_tab(open_page(), "Models")
    models = at.session_state[_state.MODELS]
    mine = classifier((28, 28, 1), "mine")
    models["mine"] = library.ModelRecord(
        name="mine",
        model=mine,
        dataset="mnist",
        input_shape=(28, 28, 1),
        class_names=[str(d) for d in range(10)],
    )
    good = saved(classifier((28, 28, 1), "plain_mnist"))
    refused = [
        ("notes.keras", b"these are my notes", "not a Keras model file"),
        ("cut.keras", good[: len(good) // 2], "truncated or damaged"),
        ("colour.keras", saved(classifier((32, 32, 3), "colour")), "28×28×1"),
    ]
    for file_name, data, message in refused:
        at.file_uploader(key="mnist_model_file").set_value((file_name, data, "application/zip"))
        at.run()
        assert not at.exception, at.exception
        assert any(message in error.value for error in at.error), [e.value for e in at.error]
        assert list(at.session_state[_state.MODELS]) == ["mine"]
        assert at.session_state[_state.MODELS]["mine"].model is mine
    # A plain Keras file of the right shape is taken in, with MNIST's class names.
    at.file_uploader(key="mnist_model_file").set_value(("plain.keras", good, "application/zip"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert list(at.session_state[_state.MODELS]) == ["mine", "plain"]
    assert at.session_state[_state.MODELS]["plain"].class_names == [str(d) for d in range(10)]


def tiny_trained_record(name: str = "tiny") -> Any:
    """A small convolutional model fitted for two epochs on the small home's digits."""
    import keras
    from keras import layers

    from cnnlib.library import ModelRecord

    data = datasets.load_mnist(allow_download=False)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(6, 3, activation="relu", name="conv"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data.x_train / 255.0, data.y_train, epochs=2, verbose=0)
    return ModelRecord(
        name=name,
        model=model,
        dataset="mnist",
        input_shape=(28, 28, 1),
        class_names=[str(digit) for digit in range(10)],
    )


def chart_titles(at: AppTest) -> list[str]:
    import json

    return [
        json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")
    ]


def png_bytes(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_model_reads_your_own_image_and_shows_why(small_home):
    from cnnlib import own_image
    from cnnlib.inference import predict_proba

    record = tiny_trained_record()
    at = open_page()
    at.session_state[_state.MODELS] = {"tiny": record}
    open_tab(at, "Look inside a model")
    assert at.selectbox(key="mnist_w_inside_model").value == "tiny"
    with np.load(Path(__file__).parent / "fixtures" / "mnist_t10k_first40.npz") as saved:
        digit = saved["x_test"][0]
    upload = png_bytes(255 - digit)  # a real test digit, dark on white as on paper
    at.file_uploader(key="mnist_own_image_upload").upload("digit.png", upload, "image/png")
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    # The model's top three for the prepared image, the winner first.
    prepared = own_image.prepare_for_model(upload, (28, 28, 1)).image
    probabilities = predict_proba(record.model, prepared)[0]
    best = int(probabilities.argmax())
    texts = [bar.proto.text for bar in at.get("progress")]
    assert f"1. {best}: {probabilities[best]:.1%}" in texts
    # Why: the three overlays for its answer, and its layer opened large.
    titles = chart_titles(at)
    assert f"Saliency for {best}" in titles and f"Occlusion for {best}" in titles
    assert f"Grad-CAM for {best} on conv" in titles
    assert any("all 6 channels" in title for title in titles)


def test_what_each_filter_looks_for_and_a_test_images_layers_large(small_home):
    from cnnlib import explain

    record = tiny_trained_record()
    at = open_page()
    at.session_state[_state.MODELS] = {"tiny": record}
    at.session_state["mnist_w_inside_part"] = "What each filter looks for"
    open_tab(at, "Look inside a model")
    at.button(key="mnist_filters_run").click().run()
    assert not at.exception, at.exception
    # Searched among the model's own test set: the small home's 200 MNIST test images.
    test = datasets.load_mnist(allow_download=False)
    assert explain.cached_filter_views(record.model, "conv", test.x_test, k=9)
    captions = [text for element in at.get("image") for text in element.captions]
    assert "What filter 0 looks for" in captions

    at.session_state["mnist_w_inside_part"] = "A test image's layers, large"
    at.session_state["mnist_w_inside_image"] = 7
    at.run()
    assert not at.exception, at.exception
    captions = [text for element in at.get("image") for text in element.captions]
    assert "Test image 7" in captions
    assert any(title.startswith("conv") and "all 6 channels" in title for title in chart_titles(at))


def test_the_exercise_design_offers_its_recipe_and_trains_with_it(small_home):
    at = open_page()
    at.selectbox(key="mnist_w_network_mnist").set_value("exercise")
    at.run()
    assert at.selectbox(key="mnist_w_schedule").value == "constant"  # the lecture's way first
    at.button(key="mnist_use_recipe").click()
    at.run()
    assert not at.exception
    recipe = registry.get("exercise").recipe
    assert at.number_input(key="mnist_w_epochs").value == recipe["epochs"] == 12
    assert at.selectbox(key="mnist_w_schedule").value == recipe["schedule"] == "cosine"
    assert at.slider(key="mnist_w_shift").value == recipe["augment_shift"] == 2
    assert at.select_slider(key="mnist_w_train_size_mnist").value == 600  # all of the small set
    assert not any(b.key == "mnist_use_recipe" for b in at.button)  # nothing left to apply
    assert any("this design's recipe" in c.value for c in at.caption)
    # A short run of it: the job trains with the schedule and the shifts.
    at.number_input(key="mnist_w_epochs").set_value(1)
    at.run()
    at.button(key="mnist_start").click()
    at.run()
    job = at.session_state[_state.MNIST].run.job
    assert job.wait(120)
    snap = job.snapshot()
    assert snap["state"] == "finished"
    assert (snap["settings"]["schedule"], snap["settings"]["augment_shift"]) == ("cosine", 2)


def test_only_the_open_tab_is_drawn_and_it_stays_open_across_a_language_switch(small_home):
    from views import _language

    at = open_page()
    at.number_input(key="mnist_w_epochs").set_value(7).run()
    # The trainer is drawn on the Train tab only: a stroke on the Draw tab re-renders none of it.
    assert at.button(key="mnist_start")
    open_tab(at, "Draw a digit")
    assert "mnist_start" not in [button.key for button in at.button]
    assert any("No MNIST model in this session yet" in info.value for info in at.info)
    # A language switch renames the tabs; the Draw tab stays open, under its Korean name.
    at.sidebar.radio(key=_language.SWITCH).set_value("ko").run()
    assert not at.exception, at.exception
    assert at.session_state["mnist_tab"] == "숫자 그리기"
    assert "mnist_start" not in [button.key for button in at.button]
    assert any("MNIST 모델이" in info.value for info in at.info), [i.value for i in at.info]
    # So does a visit to another page.
    at.switch_page("views/home.py").run()
    at.switch_page(PAGE).run()
    assert at.session_state["mnist_tab"] == "숫자 그리기"
    # Back on the Train tab, the trainer has kept its settings.
    open_tab(at, "학습")
    assert at.number_input(key="mnist_w_epochs").value == 7


def test_the_draw_tab_says_when_a_run_is_training_on_the_train_tab(small_home):
    at = open_page()
    run = start_tiny_run(at, epochs=200)
    assert run.state.active
    try:
        open_tab(at, "Draw a digit")
        assert any("is training on the Train tab" in caption.value for caption in at.caption), [
            caption.value for caption in at.caption
        ]
    finally:
        run.job.stop()
        assert run.job.wait(timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not any("is training on the Train tab" in caption.value for caption in at.caption)
