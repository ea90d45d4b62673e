"""AppTest of the ensemble page on the small synthetic datasets of `small_home`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from streamlit.testing.v1 import AppTest

from cnnlib import datasets
from cnnlib.library import ModelRecord

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "views/ensemble.py"
MEMBERS = "ensemble_w_members"
TIMEOUT = 120


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    return at


def _tiny_record(name: str, dataset, seed: int, epochs: int = 3) -> ModelRecord:
    """A small dense softmax model trained on the first 90% of the training images, as the
    training engine would with validation_split=0.1."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(dataset.input_shape),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dense(len(dataset.class_names), activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keep = int(len(dataset.y_train) * 0.9)
    accuracy = None
    if epochs:  # an untrained model is enough where only the members' metadata matters
        model.fit(dataset.x_train[:keep] / 255.0, dataset.y_train[:keep], epochs=epochs, verbose=0)
        accuracy = float(
            (model.predict(dataset.x_test / 255.0, verbose=0).argmax(1) == dataset.y_test).mean()
        )
    return ModelRecord(
        name=name,
        model=model,
        dataset=dataset.name,
        input_shape=dataset.input_shape,
        class_names=list(dataset.class_names),
        settings={"validation_split": 0.1, "train_images": len(dataset.y_train)},
        test_accuracy=accuracy,
        validation_fraction=0.1,
    )


def test_page_loads_and_says_how_to_get_members(small_home):
    at = _open()
    assert any("No trained models yet" in info.value for info in at.info)
    assert next(b for b in at.button if b.label == "Build the ensemble").disabled
    assert at.session_state["ensemble_state"].result is None


def test_builds_an_ensemble_from_session_models(small_home):
    mnist = datasets.load_mnist()
    records = {name: _tiny_record(name, mnist, seed) for seed, name in enumerate("abc")}
    at = _open()
    at.session_state["models"] = records
    at.run()
    at.multiselect(key=MEMBERS).set_value([f"session:{name}" for name in records]).run()
    build = next(b for b in at.button if b.label == "Build the ensemble")
    build.click().run()
    assert not at.exception
    assert not at.error
    result = at.session_state["ensemble_state"].result["result"]
    # Independent reference: average the models' own predictions on the test images.
    probabilities = [
        r.model.predict(mnist.x_test.astype(np.float32) / 255, verbose=0) for r in records.values()
    ]
    expected = (np.mean(probabilities, axis=0).argmax(1) == mnist.y_test).mean()
    assert result.combiner_test_accuracy["average"] == pytest.approx(expected)
    assert set(result.combiner_test_accuracy) == {"average", "vote", "weighted", "stacking"}
    # The validation images are the last tenth of the training set, which no member saw.
    assert at.session_state["ensemble_state"].result["validation_images"] == 60
    assert sum(result.weights) == pytest.approx(1.0)
    # The page shows the table, the charts and the pitfall's explanation.
    assert len(at.dataframe) == 1
    assert any("Average of probabilities" in m.label for m in at.metric)
    assert any("X_train" in md.value for md in at.markdown)
    # The pitfall's lesson is told from the measured gap, whatever its sign.
    train, test = result.train_vs_test["average of probabilities"]
    lesson = next(md.value for md in at.markdown if "a gap of" in md.value)
    assert f"{(train - test) * 100:+.2f} points" in lesson
    assert ("too rosy" in lesson) == (train - test > 0.005)


def test_members_of_different_datasets_are_refused(small_home):
    mnist, cifar = datasets.load_mnist(), datasets.load_cifar10()
    records = {
        "digits": _tiny_record("digits", mnist, 0, epochs=0),
        "digits 2": _tiny_record("digits 2", mnist, 1, epochs=0),
        "photos": _tiny_record("photos", cifar, 0, epochs=0),
    }
    at = _open()
    at.session_state["models"] = records
    at.run()
    at.multiselect(key=MEMBERS).set_value([f"session:{name}" for name in records]).run()
    next(b for b in at.button if b.label == "Build the ensemble").click().run()
    assert not at.exception
    message = " ".join(error.value for error in at.error)
    assert "dataset" in message and "photos (cifar10)" in message and "digits" in message
    assert at.session_state["ensemble_state"].result is None
    # Nothing the user had is lost.
    assert set(at.session_state["models"]) == set(records)


def test_trains_new_members_through_the_engine_and_builds_the_ensemble(small_home):
    at = _open()
    at.slider(key="ensemble_w_count").set_value(2)
    at.slider(key="ensemble_w_epochs").set_value(1)
    next(b for b in at.button if b.label == "Train the members").click().run()
    assert not at.exception
    runs = at.session_state["ensemble_state"].member_runs
    assert len(runs) == 2 and all(run["status"] == "training" for run in runs)
    for run in runs:
        assert run["run"].job.wait(TIMEOUT)
    at.run()
    assert not at.exception
    models = at.session_state["models"]
    assert len(models) == 2
    for record in models.values():
        assert record.settings["train_images"] == 600
        assert record.settings["architecture"] == "mnist_two_conv"
    seeds = sorted(record.settings["seed"] for record in models.values())
    assert seeds == [0, 1]
    # Once both have finished, the ensemble of the new members is built by itself.
    bundle = at.session_state["ensemble_state"].result
    assert bundle is not None
    assert sorted(bundle["result"].member_names) == sorted(models)
    assert bundle["validation_images"] == 60


def test_fast_best_setting_trains_exercise_members_with_their_recipe(small_home):
    at = _open()
    at.button(key="ensemble_fast_best").click().run()
    assert not at.exception
    assert at.selectbox(key="ensemble_w_architecture_mnist").value == "exercise"
    assert at.slider(key="ensemble_w_count").value == 7
    assert at.slider(key="ensemble_w_epochs").value == 12
    assert at.slider(key="ensemble_w_shift").value == 2
    assert at.toggle(key="ensemble_w_recipe").value is True
    assert at.toggle(key="ensemble_w_hold_out").value is False  # every image: the average
    # Shortened for the test: two members, one epoch.
    at.slider(key="ensemble_w_count").set_value(2)
    at.slider(key="ensemble_w_epochs").set_value(1)
    next(b for b in at.button if b.label == "Train the members").click().run()
    assert not at.exception
    runs = at.session_state["ensemble_state"].member_runs
    assert len(runs) == 2
    for entry in runs:
        job = entry["run"].job
        assert job.wait(TIMEOUT)
        snap = job.snapshot()
        assert snap["state"] == "finished"
        assert snap["settings"]["schedule"] == "cosine"
        assert snap["settings"]["augment_shift"] == 2
        assert snap["settings"]["validation_split"] == 0.0
        assert snap["learning_rate"] == 0.002  # the recipe's, not the lecture's 0.001
        assert snap["learning_rate_now"] < 0.1 * snap["learning_rate"]  # it fell
    at.run()
    assert not at.exception
    models = at.session_state["models"]
    assert {record.settings["architecture"] for record in models.values()} == {"exercise"}


def test_members_of_unknown_training_data_get_average_and_vote_only(small_home):
    mnist = datasets.load_mnist()
    records = {name: _tiny_record(name, mnist, seed, epochs=0) for seed, name in enumerate("xy")}
    for record in records.values():
        del record.settings["train_images"]  # as a record that does not say what it learned
    at = _open()
    at.session_state["models"] = records
    at.run()
    at.multiselect(key=MEMBERS).set_value([f"session:{name}" for name in records]).run()
    next(b for b in at.button if b.label == "Build the ensemble").click().run()
    assert not at.exception
    result = at.session_state["ensemble_state"].result["result"]
    assert set(result.combiner_test_accuracy) == {"average", "vote"}
    notes = " ".join(info.value for info in at.info)
    assert "not known which training images x, y learned from" in notes


def test_the_same_model_twice_is_named_and_names_keep_their_underscores(small_home):
    mnist = datasets.load_mnist()
    first = _tiny_record("net_a", mnist, 0, epochs=0)
    records = {"net_a": first, "net_a copy": dataclasses.replace(first, name="net_a copy")}
    at = _open()
    at.session_state["models"] = records
    at.run()
    at.multiselect(key=MEMBERS).set_value([f"session:{name}" for name in records]).run()
    next(b for b in at.button if b.label == "Build the ensemble").click().run()
    assert not at.exception and not at.error
    notes = [info.value for info in at.info]
    # Escaped for Markdown, so that "net_a" is not read as the start of an italic.
    assert any(
        note.startswith("net\\_a and net\\_a copy give exactly the same probabilities")
        for note in notes
    ), notes
    best = next(c.value for c in at.caption if c.value.startswith("Under each test image"))
    assert "(net\\_a" in best
    # The accuracy table's model column is as wide as the longest name.
    table = at.dataframe[0]
    width = json.loads(table.proto.columns)["model"]["width"]
    assert width >= 6.5 * max(len(name) for name in table.value["model"])
