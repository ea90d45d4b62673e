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
from cnnlib.datasets import display_names
from cnnlib.i18n import N_, _
from cnnlib.layers import Network
from views._explain_pick import explain_picked

# Test images shown per probe and kept on screen.
STREAM_COLUMNS = 4
GRADIENT_TEXT = N_(
    "Gradients say how the loss would change if a value grew: the training step moves each "
    "weight against its gradient."
)
GRADIENT_HELP = N_(
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
        st.info(_("The network view appears once training has run for a second."))
        return
    rows = _rows_by_keras_name(run.network)
    names = _names(run.profile.class_names)
    picture, reading = st.columns([1, 5])
    label = names.get(probe["image_label"], probe["image_label"])
    picture.image(
        probe["image"], width=96, caption=_("Current training image: {label}").format(label=label)
    )
    if "probe_loss" in probe:
        reading.caption(
            _("Loss on this image: {loss}.").format(loss=f"{probe['probe_loss']:.4f}")
            + " "
            + _(GRADIENT_TEXT),
            help=_(GRADIENT_HELP),
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
                    left.caption(_("parameters: {formula}").format(formula=row.param_formula))
            left.caption(
                _("activations: min {low}, max {high}").format(
                    low=f"{layer['min']:.3f}", high=f"{layer['max']:.3f}"
                )
            )
            if "grad_min" in layer:
                left.caption(
                    _("activation gradients: min {low}, max {high}").format(
                        low=f"{layer['grad_min']:.2e}", high=f"{layer['grad_max']:.2e}"
                    )
                )
            if "weight_grad_min" in layer:
                left.caption(
                    _(
                        "weights: min {low}, max {high}; weight gradients: min {grad_low}, "
                        "max {grad_high}"
                    ).format(
                        low=f"{layer['weight_min']:.3f}",
                        high=f"{layer['weight_max']:.3f}",
                        grad_low=f"{layer['weight_grad_min']:.2e}",
                        grad_high=f"{layer['weight_grad_max']:.2e}",
                    )
                )
            if layer.get("maps"):
                activations, gradients = (
                    right.columns(2) if layer.get("grad_maps") else (right, None)
                )
                activations.image(
                    figures_live.mosaic(layer["maps"], columns=8, cell=40),
                    caption=_("Activation maps"),
                )
                if gradients is not None:
                    gradients.image(
                        figures_live.mosaic(layer["grad_maps"], columns=8, cell=40),
                        caption=_("Gradient maps (grey 0, light +, dark −)"),
                    )
            if layer.get("filters"):
                filters = layer["filters"]
                caption = (
                    _("Filters (in colour)")
                    if filters["colour"]
                    else _("Filters (first input channel of each)")
                )
                right.image(
                    figures_live.mosaic(filters["images"], columns=16, cell=24), caption=caption
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
        _(
            "**Test images as they stream by** (each prediction averaged over flipped and "
            "shifted copies) · accuracy on the last {count} test images: **{accuracy}**"
        ).format(count=probe["stream_count"], accuracy=f"{accuracy:.1%}")
    )
    names = _names(run.profile.class_names)
    shown = [_renamed(item, names) for item in probe["stream"][-8:]]
    st.image(figures_live.prediction_strip(shown, columns=STREAM_COLUMNS))
    model = run.job.model if run.job.model is not None else run.kept_model
    if run.state.ended and model is not None:
        explain_picked(
            _("Why did it say that? Pick one of these test images"),
            {run.name: model},
            [item["image"] for item in shown],
            {
                number: _("Image {number}: a {truth}, read as {predicted}").format(
                    number=number + 1, truth=item["truth"], predicted=item["top"][0][0]
                )
                for number, item in enumerate(shown)
            },
            display_names(run.profile.class_names),
            key=f"stream_explain_{id(run)}",
        )


def _names(class_names) -> dict[str, str]:
    """Each class name as the page shows it; English where pictures cannot draw Hangul."""
    shown = dict(zip(class_names, display_names(class_names), strict=True))
    if not figures_live.can_draw(*shown.values()):
        st.caption(_(figures_live.NO_HANGUL_FONT))
        return {name: name for name in class_names}
    return shown


def _renamed(item: dict, names: dict[str, str]) -> dict:
    """A streamed test image with its class names as the page shows them."""
    return {
        **item,
        "truth": names.get(item["truth"], item["truth"]),
        "top": [(names.get(name, name), share) for name, share in item["top"]],
    }
