"""The own-data page through Streamlit's AppTest: with nothing stored it says how to start;
scikit-learn's handwritten digits, imported through `cnnlib.own_data` as a student's zip would
be, train through the one trainer with the network chosen for their size, validate on the
stored validation part, and the model is kept with the set's name and classes; one of its
mistakes is explained on request; and the ensemble page builds an ensemble of the set's
models, weighing them on the images no member learned from."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from streamlit.testing.v1 import AppTest

from cnnlib import ensemble, own_data
from cnnlib.inference import predict_proba
from cnnlib.library import ModelRecord
from cnnlib.own_data import ImportSettings
from views import _state
from views._own_data_widgets import EXAMPLE, UPLOAD

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "views/own_data.py"
TIMEOUT = 120


@pytest.fixture
def digits(small_home):
    """The offline example imported at 8×8 grey, as the Import tab suggests it."""
    return own_data.import_upload(
        own_data.example_zip(),
        own_data.EXAMPLE_TITLE,
        ImportSettings(size=8, colour="grayscale"),
        filename=own_data.EXAMPLE_FILENAME,
    )


def open_page(page: str = PAGE) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        title = json.loads(chart.proto.spec)["layout"].get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def test_with_nothing_stored_the_page_offers_the_import_only(small_home):
    at = open_page()
    assert at.title[0].value == "Your own data"
    assert any("No stored set yet" in info.value for info in at.info)
    # The import panel is there, with the example one click away.
    assert at.radio(key="own_data_w_source").options == [UPLOAD, EXAMPLE]
    assert not [b for b in at.button if b.key == "own_start"]


def test_an_imported_set_trains_through_the_trainer_and_its_model_is_kept(digits):
    at = open_page()
    assert at.selectbox(key="own_w_dataset").value == digits.name
    network_key = f"own_w_network_{digits.dataset_name}"
    # The network chosen for 8×8 images comes first; MNIST's are not offered for 8×8 images.
    assert at.selectbox(key=network_key).value == "profile"
    assert len(at.selectbox(key=network_key).options) == 1
    assert at.selectbox(key=network_key).options[0].startswith(own_data.EXAMPLE_TITLE)
    network = json.loads(at.text_area(key=f"own_w_network_json_{digits.dataset_name}").value)
    assert network["layers"][0] == {"type": "Input", "shape": [8, 8, 1]}
    assert [layer["type"] for layer in network["layers"]].count("Conv2D") == 2
    at.number_input(key="own_w_epochs").set_value(1)
    at.selectbox(key="own_w_precision").set_value("float32").run()
    at.button(key="own_start").click().run()
    run = at.session_state[_state.OWN].run
    assert run is not None, [e.value for e in at.error]
    assert run.job.wait(timeout=240), "one epoch of 8×8 digits should finish in time"
    at.run()
    at.run()  # the run that notices the end redraws once more
    assert not at.exception, at.exception
    snap = run.job.snapshot()
    assert snap["state"] == "finished" and snap["error"] is None

    # Kept in the session under the set's name and classes, whichever page trains.
    [(name, record)] = at.session_state[_state.MODELS].items()
    assert run.kept_as == name and record.dataset == digits.dataset_name
    assert record.class_names == [str(digit) for digit in range(10)]
    assert record.input_shape == (8, 8, 1)
    stored = own_data.load_stored(digits.name)
    test = predict_proba(record.model, stored.x_test).argmax(axis=1)
    accuracy = float((test == stored.y_test).mean())
    assert record.test_accuracy == pytest.approx(accuracy)
    assert any(m.value.startswith(f"**Test accuracy {accuracy:.2%}") for m in at.markdown)
    # It validated on the stored validation part, not on a tail of the training images.
    val = predict_proba(record.model, stored.x_val).argmax(axis=1)
    assert snap["epoch_history"][-1]["val_accuracy"] == pytest.approx(
        float((val == stored.y_val).mean()), abs=1.5 / len(stored.y_val)
    )
    # The live layer view ran with its gradients.
    captions = " ".join(c.value for c in at.caption)
    assert "activation gradients: min" in captions and "weight gradients: min" in captions

    # One of its mistakes, explained: saliency, Grad-CAM and occlusion for the class it read.
    assert accuracy < 1.0
    at.session_state[f"trainer_mistake_{id(run)}_open"] = True
    at.run()
    assert not at.exception, at.exception
    picked = at.selectbox(key=f"trainer_mistake_{id(run)}_image")
    index = int(picked.value)
    assert test[index] != stored.y_test[index]
    read_as = str(test[index])
    titles = chart_titles(at)
    assert f"Saliency for {read_as}" in titles
    assert any(t.startswith(f"Grad-CAM for {read_as} on ") for t in titles)
    assert f"Occlusion for {read_as}" in titles


def untrained_member(name: str, info, seed: int) -> ModelRecord:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(info.input_shape),
            layers.Conv2D(4, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(len(info.class_names), activation="softmax"),
        ]
    )
    return ModelRecord(
        name=name,
        model=model,
        dataset=info.dataset_name,
        input_shape=info.input_shape,
        class_names=list(info.class_names),
        settings={"validation_split": 0.1, "train_images": info.counts["train"]},
        validation_fraction=0.1,
    )


def test_the_ensemble_page_weighs_own_set_members_on_its_validation_part(digits):
    at = open_page("views/ensemble.py")
    at.session_state[_state.MODELS] = {
        name: untrained_member(name, digits, seed) for seed, name in enumerate(("a", "b"))
    }
    at.run()
    at.multiselect(key="ensemble_w_members").set_value(["session:a", "session:b"]).run()
    next(b for b in at.button if b.label == "Build the ensemble").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    bundle = at.session_state[_state.ENSEMBLE].result
    assert bundle is not None and bundle["dataset"] == digits.dataset_name
    # Members trained on every training image validate on the stored part, which no member
    # learned from; the whole training set is what they share.
    assert bundle["validation_images"] == digits.counts["val"]
    assert bundle["train_images"] == min(digits.counts["train"], ensemble.TRAIN_SAMPLE_IMAGES)
    assert bundle["result"].weights is not None
    assert np.isclose(sum(bundle["result"].weights), 1.0)

    # An image the average fixed or broke, explained by a member on request: the best first.
    result = bundle["result"]
    assert result.rescued or result.lost  # two random members disagree on many images
    at.session_state["ensemble_explain_open"] = True
    at.run()
    assert not at.exception, at.exception
    best = result.member_names[result.best_member]
    assert at.selectbox(key="ensemble_explain_model").value == best
    index = int(at.selectbox(key="ensemble_explain_image").value)
    assert index == (result.rescued or result.lost)[0]
    image = own_data.load_stored(digits.name).x_test[index]
    members = at.session_state[_state.MODELS]
    read_as = str(int(predict_proba(members[best].model, image)[0].argmax()))
    assert f"Saliency for {read_as}" in chart_titles(at)
