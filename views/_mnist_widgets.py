"""Widgets of the MNIST page: choosing and tuning a network, starting a run, the test accuracy
beside the lecture's, and the drawing canvas that a trained model reads.

Each function draws one part of the screen; `choose_run` returns a plain `RunChoice`.
Shared training widgets are in `_training_widgets`; preprocessing a drawing, predicting and
figures are `cnnlib`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from cnnlib import datasets, registry
from cnnlib.arithmetic import analyse
from cnnlib.drawing import preprocess_drawing
from cnnlib.layers import Dropout, Network
from cnnlib.precision import PRECISIONS
from views import _state
from views import _training_widgets as tw

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
EXPLORER_CHOICE = "explorer"
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
TRAIN_SIZES = [500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000]
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adadelta")
PRECISION_WORDS = {
    "auto": "auto (bfloat16 where the CPU computes it natively)",
    "float32": "float32 (as the lecture)",
    "mixed_bfloat16": "mixed bfloat16",
}
CANVAS_SIDE = 280  # pixels: ten canvas pixels per MNIST pixel
PEN_WIDTH = 20  # a 200-pixel digit drawn with it shrinks to MNIST's 2-pixel strokes


@dataclass
class RunChoice:
    """What the student chose: the network (dropout rates applied) and how to train it."""

    network: Network
    key: str  # registry key, or "explorer"
    title: str
    lecture_accuracy: float | None  # the lecture's test accuracy for this model, if it gives one
    settings: dict[str, Any]  # TrainSettings arguments
    train_images: int  # how many training images to use (before the validation split)
    name: str  # the name the trained model will get in the session
    problem: str | None  # why it cannot be trained, or None


def _networks() -> dict[str, tuple[str, Network, float | None]]:
    choices = {
        entry.key: (entry.title, entry.network, entry.lecture_accuracy)
        for entry in registry.for_dataset("mnist")
    }
    explorer = st.session_state.get(_state.EXPLORER_NETWORK)
    if explorer is not None:
        choices[EXPLORER_CHOICE] = (
            f"From the architecture explorer: {explorer.name}",
            explorer,
            None,
        )
    return choices


def use_lecture_settings(train_size: int) -> None:
    """Button callback: the lecture's 12 epochs of batch 128 with Adam on every image, with
    no images held out (the lecture validates on the test set, which this page keeps for the
    final test)."""
    st.session_state.update(
        {
            "mnist_w_epochs": 12,
            "mnist_w_batch_size": 128,
            "mnist_w_optimizer": "adam",
            "mnist_w_learning_rate": 0.001,
            "mnist_w_train_size": train_size,
            "mnist_w_validation": False,
            "mnist_w_precision": "float32",
        }
    )


def choose_run(dataset: datasets.Dataset) -> RunChoice:
    """The model picker and training settings, with size, cost and time estimate."""
    choices = _networks()
    if st.session_state.get("mnist_w_network") not in choices:
        # The explorer's network was chosen last time but is gone now: start from the first.
        st.session_state["mnist_w_network"] = next(iter(choices))
    key = st.selectbox(
        "Network",
        list(choices),
        format_func=lambda k: choices[k][0],
        key="mnist_w_network",
        persist_state="session",
        help="The lecture's MNIST models from the registry, or the network you built in the "
        "architecture explorer.",
    )
    title, network, lecture_accuracy = choices[key]
    if key != EXPLORER_CHOICE:
        st.caption(registry.get(key).summary)
    network = _dropout_sliders(key, network)
    sizes = [size for size in TRAIN_SIZES if size < len(dataset.x_train)] + [len(dataset.x_train)]
    # Defaults go into the session state rather than into the widgets, since the lecture
    # button and page switches set these keys too. A quick run by default: 3 epochs of 10,000.
    defaults = {
        "mnist_w_epochs": 3,
        "mnist_w_batch_size": 128,
        "mnist_w_learning_rate": 0.001,
        "mnist_w_validation": True,
        "mnist_w_seed": 0,
        # float32, as the lecture trained: its accuracies are the ones the page compares with.
        "mnist_w_precision": "float32",
        "mnist_w_train_size": min(10_000, sizes[-1]),
    }
    for widget_key, value in defaults.items():
        st.session_state.setdefault(widget_key, value)
    if st.session_state["mnist_w_train_size"] not in sizes:
        st.session_state["mnist_w_train_size"] = sizes[-1]
    left, middle, right = st.columns(3)
    with left:
        epochs = st.slider("Epochs", 1, 30, key="mnist_w_epochs", persist_state="session")
        batch_size = st.select_slider(
            "Batch size", BATCH_SIZES, key="mnist_w_batch_size", persist_state="session"
        )
        train_images = st.select_slider(
            "Training images",
            sizes,
            key="mnist_w_train_size",
            persist_state="session",
            format_func=lambda n: f"{n:,}" + (" (all)" if n == sizes[-1] else ""),
            help="Fewer images train faster; the lecture uses all 60,000.",
        )
    with middle:
        optimizer = st.selectbox(
            "Optimizer", OPTIMIZERS, key="mnist_w_optimizer", persist_state="session"
        )
        learning_rate = st.select_slider(
            "Learning rate",
            tw.LEARNING_RATES,
            key="mnist_w_learning_rate",
            persist_state="session",
            format_func=lambda value: f"{value:g}",
        )
        validation = st.checkbox(
            "Hold out the last 10% of the training images for validation",
            key="mnist_w_validation",
            persist_state="session",
        )
    with right:
        seed = st.number_input(
            "Seed", 0, 2**31 - 1, step=1, key="mnist_w_seed", persist_state="session"
        )
        precision = st.selectbox(
            "Precision",
            PRECISIONS,
            format_func=PRECISION_WORDS.get,
            key="mnist_w_precision",
            persist_state="session",
        )
        name = st.text_input(
            "Name for the trained model",
            placeholder=title,
            key="mnist_w_model_name",
            persist_state="session",
        )
    st.button(
        "Use the lecture's settings",
        key="mnist_lecture_settings",
        on_click=use_lecture_settings,
        args=(sizes[-1],),
        help="12 epochs, batch 128, Adam at 0.001, all training images, none held out.",
    )
    settings = {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "validation_split": 0.1 if validation else 0.0,
        "seed": int(seed),
        "precision": precision,
    }
    return RunChoice(
        network=network,
        key=key,
        title=title,
        lecture_accuracy=lecture_accuracy,
        settings=settings,
        train_images=int(train_images),
        name=name.strip() or title,
        problem=tw.network_problem(network, INPUT_SHAPE, NUM_CLASSES),
    )


def _dropout_sliders(key: str, network: Network) -> Network:
    """One slider per top-level Dropout layer; returns the network with those rates."""
    positions = [i for i, layer in enumerate(network.layers) if isinstance(layer, Dropout)]
    if not positions:
        return network
    layers = list(network.layers)
    columns = st.columns(len(positions))
    for number, (column, position) in enumerate(zip(columns, positions, strict=True), start=1):
        widget_key = f"mnist_w_dropout_{key}_{position}"
        st.session_state.setdefault(widget_key, float(layers[position].rate))
        rate = column.slider(
            f"Dropout {number} (layer {position})",
            0.0,
            0.9,
            step=0.05,
            key=widget_key,
            persist_state="session",
        )
        layers[position] = dataclasses.replace(layers[position], rate=float(rate))
    return Network(network.name, tuple(layers))


def cost(choice: RunChoice, dataset: datasets.Dataset) -> None:
    """Parameter count, operations per image and the time an epoch should take."""
    if choice.problem:
        return
    analysis = analyse(choice.network)
    validation = int(round(choice.train_images * choice.settings["validation_split"]))
    seconds, how = tw.estimate_epoch_seconds(
        analysis.total_macs,
        choice.train_images - validation,
        validation,
        st.session_state[_state.MNIST_RUNS],
        choice.network.to_json(),
    )
    params, macs, epoch = st.columns(3)
    params.metric("Parameters", f"{analysis.total_params:,}")
    macs.metric("Multiply-adds per image", f"{analysis.total_macs / 1e6:.2f} M")
    epoch.metric("Time per epoch (estimate)", tw.format_seconds(seconds), help=how)
    epochs = choice.settings["epochs"]
    total = tw.format_seconds(seconds * epochs)
    st.caption(f"Estimate {how}. Training for {epochs} epoch{'s' * (epochs > 1)}: {total}.")


def test_accuracy(snap: dict, info: dict) -> None:
    """The run's test accuracy beside the figure the lecture reports for the same model."""
    test = snap.get("test")
    if not test:
        return
    accuracy = test["accuracy"]
    lecture = info.get("lecture_accuracy")
    settings = snap["settings"]
    ours, theirs = st.columns(2)
    ours.metric(
        f"Test accuracy on {len(info['data'].y_test):,} test images",
        f"{accuracy:.2%}",
        delta=None if lecture is None else f"{(accuracy - lecture) * 100:+.2f} points",
    )
    if lecture is None:
        theirs.metric("The lecture's figure", "—", help="The lecture reports none for this model.")
        return
    theirs.metric("The lecture's figure", f"{lecture:.2%}")
    images = round(len(info["data"].y_train) * (1 - settings["validation_split"]))
    epochs = len(snap["epoch_history"])
    if (images, epochs, settings["batch_size"]) != (60_000, 12, 128):
        st.caption(
            "The lecture trained on all 60,000 images for 12 epochs of batch 128; this run "
            f"trained on {images:,} images for {epochs} epoch{'s' * (epochs != 1)} of batch "
            f'{settings["batch_size"]}, so the two figures are not like for like. "Use the '
            "lecture's settings\" sets up a run that is."
        )


def drawing_panel() -> None:
    """Draw a digit and watch a model of the session read it."""
    models = tw.models_for(INPUT_SHAPE, NUM_CLASSES)
    if not models:
        st.info(
            "No MNIST model in this session yet. Train one in the Train tab, or load one in the "
            "Models tab; then draw a digit here."
        )
        return
    names = list(models)
    if st.session_state.get("mnist_w_draw_model") not in names:
        st.session_state["mnist_w_draw_model"] = names[-1]
    name = st.selectbox(
        "Model that reads your drawing", names, key="mnist_w_draw_model", persist_state="session"
    )
    _drawing_fragment(name)


@st.fragment
def _drawing_fragment(name: str) -> None:
    # A fragment, so that each stroke reruns only this part of the page.
    from streamlit_drawable_canvas import st_canvas

    record = tw.models_for(INPUT_SHAPE, NUM_CLASSES).get(name)
    if record is None:
        st.warning("That model has left the session; choose another.")
        return
    left, right = st.columns([1, 2])
    with left:
        st.caption(
            "Draw one digit, large, as on paper. The toolbar over the canvas undoes, redoes and "
            "clears it (the bin)."
        )
        # The toolbar floats just above the canvas: leave it room so it hides no text.
        st.space(40)
        canvas = st_canvas(
            stroke_width=PEN_WIDTH,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key="mnist_canvas",
        )
    image = None if canvas.image_data is None else preprocess_drawing(canvas.image_data)
    with right:
        if image is None:
            st.info("Draw a digit on the black square: the model's reading appears here.")
            return
        _reading(record, image)
    _feature_maps(record, image)


def _reading(record: Any, image: np.ndarray) -> None:
    from cnnlib.figures import probability_bars
    from cnnlib.inference import predict_proba

    probabilities = predict_proba(record.model, image)[0]
    best = int(probabilities.argmax())
    seen, bars = st.columns([1, 2])
    with seen:
        big = np.repeat(np.repeat((image * 255).astype(np.uint8), 5, axis=0), 5, axis=1)
        st.image(big, caption="What the model sees: 28×28, centred by mass")
        st.metric("It reads", record.class_names[best])
        st.caption(f"with probability {probabilities[best]:.1%}")
    with bars:
        st.plotly_chart(
            probability_bars(probabilities, record.class_names), key="mnist_chart_probabilities"
        )


def _feature_maps(record: Any, image: np.ndarray) -> None:
    from cnnlib.figures import feature_map_grid
    from cnnlib.inference import feature_maps

    maps = feature_maps(record.model, image)
    if not maps:
        st.caption("This model has no convolution layers, so there are no feature maps to show.")
        return
    st.markdown(
        "**Feature maps**: what each convolution filter finds in your drawing (bright = strong "
        "response), layer by layer."
    )
    tabs = st.tabs(
        [f"{name} · {values.shape[0]}×{values.shape[1]}×{values.shape[2]}" for name, values in maps]
    )
    for tab, (layer, values) in zip(tabs, maps, strict=True):
        with tab:
            st.plotly_chart(
                feature_map_grid(values, title=layer, columns=8), key=f"mnist_chart_maps_{layer}"
            )
