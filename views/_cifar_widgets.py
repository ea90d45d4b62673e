"""The CIFAR-10 page's live panels, as ConvNetJS shows them: the network layer by layer
(activation range, activation maps and filters, with each layer's parameter formula, and the
gradients of the loss beside them) and the test images streaming by with the model's top three
answers, any of which a finished run explains on request. The probe that collects them while
training is `cnnlib.probes`; the trainer that runs them is `_trainer`'s.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import figures_live
from cnnlib.arithmetic import analyse
from cnnlib.layers import Network
from views._explain_pick import explain_picked

# Test images shown per probe and kept on screen.
STREAM_COLUMNS = 4
GRADIENT_TEXT = (
    "Gradients say how the loss would change if a value grew: the training step moves each "
    "weight against its gradient."
)
GRADIENT_HELP = (
    "As ConvNetJS shows backpropagation: for every layer, the gradient of this image's loss "
    "with respect to the layer's outputs (its maps: mid-grey is 0, light is positive, dark is "
    "negative, each map on its own scale) and with respect to its weights. Gradients that "
    "shrink to nothing in the first layers mean those layers barely learn."
)


def network_view(run, snap: dict) -> None:
    """Per layer: kind, output shape, sizes, activation range, parameter formula, activation
    maps of the current training image and the filters, as ConvNetJS shows them; with the
    probe's gradients, ConvNetJS's view of backpropagation beside them: the range of the loss's
    gradient for the layer's outputs and weights, and the gradient maps."""
    probe = snap.get("probe")
    if not probe:
        st.info("The network view appears once training has run for a second.")
        return
    rows = _rows_by_keras_name(run.network)
    picture, reading = st.columns([1, 5])
    picture.image(
        probe["image"], width=96, caption=f"Current training image: {probe['image_label']}"
    )
    if "probe_loss" in probe:
        reading.caption(
            f"Loss on this image: {probe['probe_loss']:.4f}. {GRADIENT_TEXT}",
            help=GRADIENT_HELP,
        )
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
            if "grad_min" in layer:
                left.caption(
                    f"activation gradients: min {layer['grad_min']:.2e}, "
                    f"max {layer['grad_max']:.2e}"
                )
            if "weight_grad_min" in layer:
                left.caption(
                    f"weights: min {layer['weight_min']:.3f}, max {layer['weight_max']:.3f}; "
                    f"weight gradients: min {layer['weight_grad_min']:.2e}, "
                    f"max {layer['weight_grad_max']:.2e}"
                )
            if layer.get("maps"):
                activations, gradients = (
                    right.columns(2) if layer.get("grad_maps") else (right, None)
                )
                activations.image(
                    figures_live.mosaic(layer["maps"], columns=8, cell=40),
                    caption="Activation maps",
                )
                if gradients is not None:
                    gradients.image(
                        figures_live.mosaic(layer["grad_maps"], columns=8, cell=40),
                        caption="Gradient maps (grey 0, light +, dark −)",
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


def test_stream(run, snap: dict) -> None:
    probe = snap.get("probe")
    if not probe or not probe.get("stream"):
        return
    accuracy = probe.get("stream_accuracy")
    st.markdown(
        f"**Test images as they stream by** (each prediction averaged over flipped and shifted "
        f"copies) · accuracy on the last {probe['stream_count']} test images: "
        f"**{accuracy:.1%}**"
    )
    shown = probe["stream"][-8:]
    st.image(figures_live.prediction_strip(shown, columns=STREAM_COLUMNS))
    model = run.job.model if run.job.model is not None else run.kept_model
    if run.state.ended and model is not None:
        explain_picked(
            "Why did it say that? Pick one of these test images",
            {run.name: model},
            [item["image"] for item in shown],
            {
                number: f"Image {number + 1}: a {item['truth']}, read as {item['top'][0][0]}"
                for number, item in enumerate(shown)
            },
            run.profile.class_names,
            key=f"stream_explain_{id(run)}",
        )
