"""Widgets of the CIFAR-10 live page: the network editor, the settings that steer a running
job, the live statistics and network view, and the comparison of runs.

Each function draws one part of the screen and returns plain values; training itself is
`cnnlib.training`, the live looks inside the network `cnnlib.probes`.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import figures, figures_live, registry
from cnnlib.arithmetic import analyse
from cnnlib.layers import Network
from cnnlib.training import OPTIMIZERS, TrainSettings
from views import _state

EXPLORER_CHOICE = "The network from the architecture explorer"
# Test images shown per probe and kept on screen.
STREAM_COLUMNS = 4


def network_panel(dataset) -> Network | None:
    """The network definition, shown and editable as JSON; returns it when it is valid for
    the dataset, else shows why and returns None."""
    # ConvNetJS's own network for the dataset comes first: this page is its demo.
    entries = sorted(
        registry.for_dataset(dataset.name), key=lambda e: not e.key.startswith("convnetjs")
    )
    choices = {entry.title: entry.network for entry in entries}
    explorer = st.session_state.get(_state.EXPLORER_NETWORK)
    if explorer is not None:
        choices[EXPLORER_CHOICE] = explorer
    start = st.selectbox(
        "Start from",
        list(choices),
        key=f"cifar_w_start_from_{dataset.name}",
        help="Registry networks for "
        "this dataset, or the one you built in the architecture explorer.",
    )
    if st.session_state.get("cifar_w_loaded_from") != (dataset.name, start):
        st.session_state["cifar_w_network_text"] = choices[start].to_json()
        st.session_state["cifar_w_loaded_from"] = (dataset.name, start)
    text = st.text_area(
        "Network definition (JSON; edit it, then press Start or Change network)",
        key="cifar_w_network_text",
        height=260,
    )
    try:
        network = Network.from_json(text)
        analysis = analyse(network)
    except ValueError as error:
        st.error(f"This network cannot be built: {error}")
        return None
    expected = tuple(dataset.input_shape)
    if tuple(network.input_shape) != expected:
        st.error(
            f"The network takes {network.input_shape} inputs but {dataset.name} images are "
            f"{expected}: set the Input layer's shape to {list(expected)}."
        )
        return None
    if analysis.output_shape != (dataset.num_classes,):
        st.error(
            f"The network ends with {analysis.output_shape} outputs; end it with a Dense layer "
            f"of {dataset.num_classes} units and softmax, one per class."
        )
        return None
    st.caption(
        f"{analysis.total_params:,} parameters · {analysis.total_macs / 1e6:,.1f} M "
        "multiply-accumulates per image"
    )
    return network


def settings_panel(dataset) -> tuple[TrainSettings, int]:
    """Training settings; learning rate, momentum, batch size and weight decay also steer a
    job that is already running. Returns the settings and the training-set size."""
    job = st.session_state.get(_state.CIFAR_JOB)

    def steer(setting: str) -> None:
        if job is not None and job.snapshot()["state"] in ("running", "paused", "queued"):
            getattr(job, f"set_{setting}")(st.session_state[f"cifar_w_{setting}"])

    left, right = st.columns(2)
    optimizer = left.selectbox("Optimizer", OPTIMIZERS, index=1, key="cifar_w_optimizer")
    learning_rate = right.number_input(
        "Learning rate",
        min_value=1e-6,
        max_value=10.0,
        value=0.01,
        format="%.5f",
        key="cifar_w_learning_rate",
        on_change=steer,
        args=("learning_rate",),
    )
    momentum = left.slider(
        "Momentum (SGD)",
        0.0,
        0.99,
        0.9,
        0.01,
        key="cifar_w_momentum",
        on_change=steer,
        args=("momentum",),
    )
    batch_size = right.select_slider(
        "Batch size",
        [1, 4, 8, 16, 32, 64, 128, 256, 512],
        value=128,
        key="cifar_w_batch_size",
        on_change=steer,
        args=("batch_size",),
    )
    weight_decay = left.number_input(
        "Weight decay (L2)",
        min_value=0.0,
        max_value=0.1,
        value=0.0001,
        format="%.5f",
        key="cifar_w_weight_decay",
        on_change=steer,
        args=("weight_decay",),
    )
    epochs = right.number_input("Epochs", 1, 200, 10, key="cifar_w_epochs")
    shift = left.slider("Random shifts (pixels)", 0, 4, 2, key="cifar_w_shift")
    flip = right.toggle(
        "Random horizontal flips",
        value=dataset.name == "cifar10",
        key=f"cifar_w_flip_{dataset.name}",
        help="Right for photos; wrong for digits, where a flipped 2 is not a 2.",
    )
    precision = left.selectbox(
        "Precision",
        ("auto", "float32", "mixed_bfloat16"),
        key="cifar_w_precision",
        help="auto picks bfloat16 where the CPU computes it natively, float32 elsewhere.",
    )
    available = len(dataset.x_train)
    sizes = [n for n in (500, 1000, 2000, 5000, 10000, 20000) if n < available] + [available]
    train_size = right.select_slider(
        "Training images",
        sizes,
        value=available,
        key=f"cifar_w_train_size_{dataset.name}",
        help="Fewer images make quick experiments; all of them give the best network.",
    )
    settings = TrainSettings(
        epochs=int(epochs),
        batch_size=int(batch_size),
        optimizer=optimizer,
        learning_rate=float(learning_rate),
        momentum=float(momentum),
        weight_decay=float(weight_decay),
        validation_split=0.1,
        augment_shift=int(shift),
        augment_flip=bool(flip),
        precision=precision,
        test_each_epoch=True,
    )
    return settings, int(train_size)


def statistics(snap: dict) -> None:
    """ConvNetJS's statistics panel, as moving averages."""
    history = snap["batch_history"]
    epochs = snap["epoch_history"]
    timing = snap["timing"]
    cells = st.columns(4)
    ms = timing.get("forward_backward_ms_per_example")
    cells[0].metric("Forward + backward / example", "—" if ms is None else f"{ms:.3f} ms")
    cells[1].metric("Classification loss", _last(history.get("loss_smooth"), "{:.3f}"))
    cells[2].metric("Weight-decay loss", f"{snap['weight_decay_loss']:.4f}")
    cells[3].metric("Training accuracy", _last(history.get("accuracy_smooth"), "{:.1%}"))
    cells = st.columns(4)
    val = [e["val_accuracy"] for e in epochs if e.get("val_accuracy") is not None]
    test = [e["test_accuracy"] for e in epochs if e.get("test_accuracy") is not None]
    cells[0].metric("Validation accuracy", f"{val[-1]:.1%}" if val else "after epoch 1")
    cells[1].metric("Test accuracy (full set)", f"{test[-1]:.1%}" if test else "after epoch 1")
    cells[2].metric("Examples seen", f"{snap['examples_seen']:,}")
    speed = snap.get("samples_per_s")
    cells[3].metric("Images / s", "—" if not speed else f"{speed:,.0f}")


def _last(values, template: str) -> str:
    return template.format(values[-1]) if values else "—"


def progress_line(snap: dict) -> None:
    state = snap["state"]
    eta = snap.get("eta_s")
    text = (
        f"{state} · epoch {snap['epoch']} of {snap['epochs']} · batch {snap['batch']} of "
        f"{snap['batches_per_epoch']} · {snap['precision']}"
        + (f" · about {eta:,.0f} s left" if eta else "")
    )
    if state == "queued" and snap.get("queue_position") is not None:
        text = f"waiting for a free trainer: place {snap['queue_position']} in the queue"
    st.progress(snap["progress"], text=text)
    if snap.get("error"):
        st.error(snap["error"])


def network_view(snap: dict, network: Network | None) -> None:
    """Per layer: kind, output shape, sizes, activation range, parameter formula, activation
    maps of the current training image and the filters, as ConvNetJS shows them."""
    probe = snap.get("probe")
    if not probe:
        st.info("The network view appears once training has run for a second.")
        return
    rows = _rows_by_keras_name(network)
    st.image(probe["image"], width=96, caption=f"Current training image: {probe['image_label']}")
    for layer in probe["layers"]:
        row = rows.get(layer["name"])
        title = f"{layer['kind']} → {' × '.join(map(str, layer['shape']))}"
        with st.container(border=True):
            left, right = st.columns([1, 3])
            left.markdown(f"**{title}**")
            if row is not None:
                left.caption(row.settings)
                if row.trainable:
                    left.caption(f"parameters: {row.param_formula}")
            left.caption(f"activations: min {layer['min']:.3f}, max {layer['max']:.3f}")
            if layer.get("maps"):
                right.image(
                    figures_live.mosaic(layer["maps"], columns=8, cell=40),
                    caption="Activation maps",
                )
            if layer.get("filters"):
                filters = layer["filters"]
                note = "in colour" if filters["colour"] else "first input channel of each"
                right.image(
                    figures_live.mosaic(filters["images"], columns=16, cell=24),
                    caption=f"Filters ({note})",
                )


def _rows_by_keras_name(network: Network | None) -> dict:
    if network is None:
        return {}
    from cnnlib.build import keras_layer_names

    names = keras_layer_names(network)
    return {names[row.path]: row for row in analyse(network).rows if row.path in names}


def test_stream(snap: dict) -> None:
    probe = snap.get("probe")
    if not probe or not probe.get("stream"):
        return
    accuracy = probe.get("stream_accuracy")
    st.markdown(
        f"**Test images as they stream by** (each prediction averaged over flipped and shifted "
        f"copies) · accuracy on the last {probe['stream_count']} test images: "
        f"**{accuracy:.1%}**"
    )
    st.image(figures_live.prediction_strip(probe["stream"][-8:], columns=STREAM_COLUMNS))


def loss_graph(snap: dict) -> None:
    figure = figures.training_curves(
        snap["batch_history"],
        _epoch_columns(snap["epoch_history"]),
        steps_per_epoch=snap["batches_per_epoch"],
        height=300,
    )
    st.plotly_chart(figure, key="cifar_w_loss_graph")


def _epoch_columns(entries: list[dict]) -> dict:
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
    return {key: [entry.get(key) for entry in entries] for key in keys}


def results(snap: dict, class_names, probabilities, dataset) -> None:
    """After training: full test accuracy, confusion matrix, per-class accuracy and the test
    images the network gets most confidently wrong."""
    test = snap.get("test")
    if not test:
        return
    st.subheader(f"Test accuracy {test['accuracy']:.2%} on {len(dataset.y_test):,} images")
    left, right = st.columns(2)
    left.plotly_chart(
        figures.confusion_matrix_figure(test["confusion"], class_names), key="cifar_w_confusion"
    )
    right.plotly_chart(
        figures.per_class_accuracy_figure(
            test["per_class_accuracy"], class_names, overall=test["accuracy"]
        ),
        key="cifar_w_per_class",
    )
    if probabilities is not None and len(probabilities) == len(dataset.y_test):
        from cnnlib.metrics import misclassified

        picks = [item["index"] for item in misclassified(probabilities, dataset.y_test, 16)]
        if len(picks):
            st.markdown("**The test images it gets most confidently wrong**")
            st.image(
                figures_live.prediction_strip(
                    [
                        _stream_item(dataset, probabilities, int(index), class_names)
                        for index in picks
                    ],
                    columns=STREAM_COLUMNS,
                )
            )


def _stream_item(dataset, probabilities, index: int, class_names) -> dict:
    row = probabilities[index]
    top = row.argsort()[::-1][:3]
    return {
        "image": dataset.x_test[index],
        "truth": class_names[int(dataset.y_test[index])],
        "top": [(class_names[int(c)], float(row[c])) for c in top],
        "correct": bool(top[0] == dataset.y_test[index]),
    }


def runs_overlay(runs: list[dict]) -> None:
    """Several runs of this session on one chart, with their settings."""
    if len(runs) < 1:
        return
    import pandas as pd
    import plotly.graph_objects as go

    loss, accuracy = go.Figure(), go.Figure()
    for run in runs:
        history = run["batch_history"]
        seen = [step * run["batch_size"] for step in history.get("step", [])]
        loss.add_trace(go.Scatter(x=seen, y=history.get("loss_smooth"), name=run["label"]))
        epochs = run["epoch_history"]
        accuracy.add_trace(
            go.Scatter(
                x=[e["epoch"] for e in epochs],
                y=[e.get("test_accuracy") or e.get("val_accuracy") for e in epochs],
                mode="lines+markers",
                name=run["label"],
            )
        )
    loss.update_layout(
        title="Smoothed training loss",
        xaxis_title="examples seen",
        height=300,
        template="plotly_white",
    )
    accuracy.update_layout(
        title="Test accuracy per epoch",
        xaxis_title="epoch",
        height=300,
        template="plotly_white",
        yaxis_range=[0, 1],
    )
    left, right = st.columns(2)
    left.plotly_chart(loss, key="cifar_w_runs_loss")
    right.plotly_chart(accuracy, key="cifar_w_runs_accuracy")
    st.dataframe(pd.DataFrame([run["row"] for run in runs]), hide_index=True, width="stretch")
