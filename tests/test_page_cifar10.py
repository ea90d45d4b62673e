"""The CIFAR-10 live page through Streamlit's AppTest, on small batches in the real CIFAR-10
format written by the tests (see `small_home`)."""

import json
import shutil
import time

import keras
import numpy as np
import pytest
from keras import layers
from streamlit.testing.v1 import AppTest

from cnnlib.library import ModelRecord, record_to_bytes
from cnnlib.registry import REGISTRY

PAGE = "views/cifar10.py"


def open_page(epochs=1, train_size=500):
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    at.number_input(key="cifar_w_epochs").set_value(epochs)
    at.select_slider(key="cifar_w_train_size_cifar10").set_value(train_size)
    at.run()
    return at


def press(at, *labels):
    """Click the button with one of `labels` (the start button's label follows the state)."""
    [button] = [b for b in at.button if b.label in labels]
    button.click()
    at.run()


def job_of(at):
    return at.session_state["cifar_state"].run.job


def test_page_loads_with_the_convnetjs_network_and_its_controls(small_home):
    at = open_page()
    labels = [b.label for b in at.button]
    assert labels[:4] == ["Start training", "Pause", "Stop", "Clear graph"]
    network_text = at.text_area(key="cifar_w_network_json_cifar10").value
    assert '"Conv2D"' in network_text and '"filters": 16' in network_text
    # The parameter count shown is the registry network's, worked out without Keras.
    assert any("22,466 parameters" in c.value for c in at.caption)
    assert not at.error


def test_short_run_shows_statistics_layers_stream_and_test_results(small_home):
    at = open_page(epochs=2)
    press(at, "Start training")
    job = job_of(at)
    assert job.wait(timeout=120), "the two-epoch run on 450 images should finish"
    at.run()
    at.run()  # the run that notices the end redraws once more
    assert not at.exception, at.exception
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["error"] is None
    metric_labels = [m.label for m in at.metric]
    for label in ("Forward + backward / example", "Weight-decay loss", "Examples seen"):
        assert label in metric_labels
    assert [m.value for m in at.metric if m.label == "Examples seen"] == [
        f"{snap['examples_seen']:,}"
    ]
    # Per-layer panels from the live probe: each layer's kind and output shape, formulas.
    texts = " ".join(m.value for m in at.markdown)
    assert "Conv2D → 32 × 32 × 16" in texts
    captions = " ".join(c.value for c in at.caption)
    assert "16 × (5 × 5 × 3) + 16 = 1,216" in captions
    assert "activations: min" in captions
    # ConvNetJS's view of backpropagation beside them: the loss on the probe image, per layer
    # the ranges of the activation and weight gradients, and gradient maps.
    assert "Loss on this image:" in captions
    assert "activation gradients: min" in captions and "weight gradients: min" in captions
    shown = [text for element in at.get("image") for text in element.captions]
    assert "Gradient maps (grey 0, light +, dark −)" in shown
    assert shown.count("Gradient maps (grey 0, light +, dark −)") == shown.count("Activation maps")
    assert "accuracy on the last" in texts
    assert any(m.value.startswith("**Test accuracy") for m in at.markdown)
    # The finished model joins the session's models for the ensemble page.
    [record] = at.session_state["models"].values()
    assert record.dataset == "cifar10" and record.test_accuracy == snap["test"]["accuracy"]
    assert record.model.count_params() == 22466

    # A streamed test image explained on request: the picker starts at the first image shown,
    # and the explanation is for the class the kept model reads it as.
    run = at.session_state["cifar_state"].run
    key = f"stream_explain_{id(run)}"
    at.session_state[f"{key}_open"] = True
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key=f"{key}_image").value == 0
    first = snap["probe"]["stream"][-8:][0]["image"]
    from cnnlib.inference import predict_proba

    read_as = record.class_names[int(predict_proba(record.model, first)[0].argmax())]
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert f"Saliency for {read_as}" in titles and f"Occlusion for {read_as}" in titles


def test_learning_rate_change_reaches_the_running_optimizer(small_home):
    at = open_page(epochs=50)
    press(at, "Start training")
    job = job_of(at)
    deadline = time.monotonic() + 60
    while job.snapshot()["step"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    at.number_input(key="cifar_w_learning_rate").set_value(0.0025)
    at.run()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        model = job.model
        if model is not None and np.isclose(float(model.optimizer.learning_rate), 0.0025):
            break
        time.sleep(0.2)
    assert job.snapshot()["learning_rate"] == pytest.approx(0.0025)
    assert float(job.model.optimizer.learning_rate) == pytest.approx(0.0025)
    press(at, "Stop")
    assert job.wait(timeout=60)
    assert job.snapshot()["stopped_early"] is True


def test_snapshot_made_for_other_images_is_refused_with_a_message(small_home):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")]
    )
    record = ModelRecord(
        name="digits",
        model=model,
        dataset="mnist",
        input_shape=(28, 28, 1),
        class_names=[str(i) for i in range(10)],
    )
    at = open_page()
    at.file_uploader(key="cifar_snapshot_upload").set_value(
        ("digits.keras", record_to_bytes(record), "application/zip")
    )
    at.run()
    assert not at.exception
    [message] = [e.value for e in at.error]
    assert "cannot be used" in message and "28" in message and "32" in message
    assert at.session_state["cifar_state"].snapshot is None


def test_snapshot_of_the_right_shape_starts_the_next_run(small_home):
    network = REGISTRY["convnetjs_cifar10"].network
    from cnnlib.build import build_model

    model = build_model(network)
    weights = [w.copy() for w in model.get_weights()]
    record = ModelRecord(
        name="my snapshot",
        model=model,
        dataset="cifar10",
        input_shape=(32, 32, 3),
        class_names=[str(i) for i in range(10)],
        network=network,
    )
    at = open_page()
    at.file_uploader(key="cifar_snapshot_upload").set_value(
        ("my_snapshot.keras", record_to_bytes(record), "application/zip")
    )
    at.run()
    assert any("starts from the snapshot 'my snapshot'" in c.value for c in at.caption)
    press(at, "Start training")
    job = job_of(at)
    assert job.wait(timeout=120)
    # Training continued from the uploaded weights: same shapes, changed values.
    trained = job.model.get_weights()
    assert [w.shape for w in trained] == [w.shape for w in weights]
    assert not np.allclose(trained[0], weights[0])


def test_invalid_network_text_is_refused_and_start_disabled(small_home):
    at = open_page()
    at.text_area(key="cifar_w_network_json_cifar10").set_value('{"name": "x", "layers": [')
    at.run()
    assert not at.exception
    assert any("not valid JSON" in e.value for e in at.error)
    [start] = [b for b in at.button if b.label == "Start training"]
    assert start.disabled


def test_missing_cifar_says_where_to_put_the_archive(small_home):
    shutil.rmtree(small_home / "data" / "cifar-10-batches-py")
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    [message] = [e.value for e in at.error]
    assert "cifar-10-python.tar.gz" in message and str(small_home / "data") in message
    assert not at.button  # nothing to train on, nothing fake offered


def test_mnist_shaped_data_uses_the_convnetjs_mnist_network(small_home):
    at = open_page()
    at.segmented_control(key="cifar_w_dataset").set_value("mnist")
    at.run()
    assert not at.exception
    text = at.text_area(key="cifar_w_network_json_mnist").value
    assert "28" in text and "ConvNetJS MNIST" in text


def test_diverging_learning_rate_ends_the_run_with_advice_and_keeps_models(small_home):
    at = open_page(epochs=8)
    earlier = ModelRecord(
        name="kept earlier",
        model=keras.Sequential(
            [keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10, activation="softmax")]
        ),
        dataset="cifar10",
        input_shape=(32, 32, 3),
        class_names=[str(i) for i in range(10)],
    )
    at.session_state["models"]["kept earlier"] = earlier  # a model the student already had
    at.selectbox(key="cifar_w_optimizer").set_value("adam")
    at.number_input(key="cifar_w_learning_rate").set_value(10.0)
    at.run()
    press(at, "Start training")
    job = job_of(at)
    assert job.wait(timeout=120)
    at.run()
    assert not at.exception
    snap = job.snapshot()
    assert snap["state"] == "failed"
    [message] = [e.value for e in at.error]
    assert "Lower it" in message and "learning rate" in message
    # Nothing the student had is lost, and the settings stay as they were.
    assert at.session_state["models"]["kept earlier"] is earlier
    assert at.number_input(key="cifar_w_learning_rate").value == 10.0


def test_quick_start_stop_start_and_page_switches_leave_one_live_job(small_home):
    at = open_page(epochs=50)
    press(at, "Start training")
    first = job_of(at)
    press(at, "Stop")
    press(at, "Start training", "Change network (restart)")
    second = job_of(at)
    at.switch_page("views/home.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    press(at, "Start training", "Change network (restart)")
    third = job_of(at)
    assert not at.exception
    assert len({id(first), id(second), id(third)}) == 3
    # Each replaced job ends within a batch and keeps its curves for the comparison chart.
    assert first.wait(timeout=60) and second.wait(timeout=60)
    assert first.snapshot()["stopped_early"] and second.snapshot()["stopped_early"]
    assert third.snapshot()["state"] in ("queued", "running")
    assert len(at.session_state["cifar_state"].runs) >= 2
    press(at, "Stop")
    assert third.wait(timeout=60)


def test_settings_and_network_survive_a_page_round_trip(small_home):
    """The CIFAR-10 page forgot epochs, learning rate and the network text on any visit to
    another page, so that Start was disabled with "not valid JSON"."""
    at = open_page(epochs=7)
    at.number_input(key="cifar_w_learning_rate").set_value(0.003)
    edited = at.text_area(key="cifar_w_network_json_cifar10").value.replace(
        '"filters": 16', '"filters": 12'
    )
    at.text_area(key="cifar_w_network_json_cifar10").set_value(edited)
    at.run()
    at.switch_page("views/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.number_input(key="cifar_w_epochs").value == 7
    assert at.number_input(key="cifar_w_learning_rate").value == pytest.approx(0.003)
    assert at.text_area(key="cifar_w_network_json_cifar10").value == edited
    [start] = [b for b in at.button if b.label == "Start training"]
    assert not start.disabled and not at.error


def test_a_snapshot_that_does_not_fit_the_chosen_dataset_is_refused_before_start(small_home):
    """A CIFAR-10 snapshot with the MNIST dataset chosen raised an uncaught ValueError at
    Start; now the page names both shapes at once and starts nothing."""
    from cnnlib.build import build_model

    network = REGISTRY["convnetjs_cifar10"].network
    record = ModelRecord(
        name="colour snapshot",
        model=build_model(network),
        dataset="cifar10",
        input_shape=(32, 32, 3),
        class_names=[str(i) for i in range(10)],
        network=network,
    )
    at = open_page()
    at.file_uploader(key="cifar_snapshot_upload").set_value(
        ("colour.keras", record_to_bytes(record), "application/zip")
    )
    at.run()
    at.segmented_control(key="cifar_w_dataset").set_value("mnist")
    at.run()
    assert not at.exception
    assert any("32×32×3" in e.value and "28×28×1" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert at.session_state["cifar_state"].snapshot is None
    assert at.session_state["cifar_state"].run is None


def test_epochs_above_the_limit_are_refused_visibly(small_home):
    at = open_page()
    at.number_input(key="cifar_w_epochs").set_value(5000)
    at.run()
    assert at.number_input(key="cifar_w_epochs").value == 5000  # not silently replaced
    assert any("epochs" in e.value and "1,000" in e.value for e in at.error)
    [start] = [b for b in at.button if b.label == "Start training"]
    assert start.disabled


def test_a_live_change_is_recorded_marked_and_shown_in_the_runs_table(small_home):
    at = open_page(epochs=50)
    press(at, "Start training")
    job = job_of(at)
    deadline = time.monotonic() + 60
    while job.snapshot()["step"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    at.number_input(key="cifar_w_learning_rate").set_value(0.002)
    at.run()
    deadline = time.monotonic() + 60
    while not job.snapshot()["changes"] and time.monotonic() < deadline:
        time.sleep(0.2)
    [change] = job.snapshot()["changes"]
    assert change["setting"] == "learning_rate" and change["value"] == pytest.approx(0.002)
    assert change["step"] >= 2 and change["epoch"] >= 1
    press(at, "Stop")
    assert job.wait(timeout=60)
    at.run()
    press(at, "Start training")  # the stopped run joins the comparison of runs
    press(at, "Stop")
    job_of(at).wait(timeout=60)
    at.run()
    [table] = [frame.value for frame in at.dataframe if "changes while training" in frame.value]
    first = table.iloc[0]
    assert first["learning rate"] == pytest.approx(0.002)
    assert "learning rate 0.002 from epoch" in first["changes while training"]
    # The change is marked on the run's curves as well.
    from cnnlib import figures

    history = job.snapshot()["batch_history"]
    figure = figures.training_curves(history, {}, steps_per_epoch=10, changes=[change])
    assert any("0.002" in (a.text or "") for a in figure.layout.annotations)


def test_your_own_photo_is_read_and_explained_by_a_colour_model(small_home):
    import io

    from PIL import Image

    from cnnlib import own_image
    from cnnlib.inference import predict_proba

    at = open_page()
    assert any("No CIFAR-10 model in this session yet" in info.value for info in at.info)
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(4, 3, activation="relu", name="colour_conv"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    names += ["dog", "frog", "horse", "ship", "truck"]
    at.session_state["models"] = {
        "colour": ModelRecord(
            name="colour",
            model=model,
            dataset="cifar10",
            input_shape=(32, 32, 3),
            class_names=names,
        )
    }
    at.run()
    rng = np.random.default_rng(0)
    photo = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(photo, format="JPEG")
    at.file_uploader(key="cifar_own_image_upload").upload(
        "photo.jpg", photo.getvalue(), "image/jpeg"
    )
    at.run()
    assert not at.exception, at.exception
    prepared = own_image.prepare_for_model(photo.getvalue(), (32, 32, 3)).image
    read_as = names[int(predict_proba(model, prepared)[0].argmax())]
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert f"Saliency for {read_as}" in titles
    assert f"Grad-CAM for {read_as} on colour_conv" in titles
