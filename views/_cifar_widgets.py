"""The CIFAR-10 page's live panels, as ConvNetJS shows them: the network layer by layer
(activation range, activation maps and filters, with each layer's parameter formula) and the
test images streaming by with the model's top three answers. The probe that collects them
while training is `cnnlib.probes`; the trainer that runs them is `_trainer`'s.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import figures_live
from cnnlib.arithmetic import analyse
from cnnlib.layers import Network

# Test images shown per probe and kept on screen.
STREAM_COLUMNS = 4


def network_view(run, snap: dict) -> None:
    """Per layer: kind, output shape, sizes, activation range, parameter formula, activation
    maps of the current training image and the filters, as ConvNetJS shows them."""
    probe = snap.get("probe")
    if not probe:
        st.info("The network view appears once training has run for a second.")
        return
    rows = _rows_by_keras_name(run.network)
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
    st.image(figures_live.prediction_strip(probe["stream"][-8:], columns=STREAM_COLUMNS))
