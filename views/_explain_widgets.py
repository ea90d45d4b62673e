"""Panels that show what a trained model learned, for any page to place: why it read an image
as it did (`explain_panel`), what each filter of a layer looks for (`filters_panel`), a layer's
maps and filters drawn large (`layer_maps_panel`), and an image of the student's own
(`own_image_panel`).

Each panel takes a Keras model and plain data (images as uint8 0..255 or float 0..1, class
names), draws itself, and keeps its widgets under the `key` prefix the page gives, so one page
can hold several. Computing is `cnnlib.explain`'s and `cnnlib.own_image`'s, pictures are
`cnnlib.figures_explain`'s; the model's own cache in `cnnlib.explain` makes a revisit instant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from cnnlib import explain, own_image
from cnnlib import figures_explain as fx
from cnnlib.figures_live import mosaic, to_rgb_uint8, upscale
from cnnlib.i18n import _, ngettext
from cnnlib.inference import (
    as_batch,
    conv_layer_names,
    feature_maps,
    model_input_shape,
    predict_proba,
)

PATCH_SIDES = (2, 3, 4, 6, 8, 10, 12)  # occlusion patch sides offered, in pixels
STEP_SIDE = 112  # pixels: small preparation steps are enlarged to about this size
MAX_FILTER_IMAGES = 2_000  # the top images of each filter are searched among this many
TOP_K = 9  # images shown per filter, as DeepVis shows


def _digest(array: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=6).hexdigest()


def _model_image(model: Any, image: Any) -> np.ndarray:
    """The image as the model reads it: float32 (H, W, C) in 0..1."""
    batch = as_batch(image, model_input_shape(model))
    if len(batch) != 1:
        raise ValueError(
            _("Explain one image at a time; got {count} images.").format(count=len(batch))
        )
    return batch[0]


def explain_panel(model: Any, image: Any, class_names: Sequence[str], key: str) -> None:
    """Saliency, Grad-CAM and occlusion for one image, each over the image with its one-line
    reading. A selector picks the class to explain; it starts at the model's answer each time
    the image changes."""
    picture = _model_image(model, image)
    probabilities = predict_proba(model, picture)[0]
    predicted = int(probabilities.argmax())
    names = [str(name) for name in class_names]
    if len(names) != len(probabilities):
        raise ValueError(
            _("{count} class names for a model with {classes} outputs").format(
                count=len(names), classes=len(probabilities)
            )
        )

    # Labels made now, in this script run: a format function may be called elsewhere.
    described = {
        index: (
            _("{name} ({share}) — the model's answer")
            if index == predicted
            else _("{name} ({share})")
        ).format(name=name, share=f"{probabilities[index]:.0%}")
        for index, name in enumerate(names)
    }

    convolutions = conv_layer_names(model)
    choose_class, choose_layer, choose_patch = st.columns(3)
    with choose_class:
        # The image's digest in the key gives each new image a fresh selector, so it starts at
        # the model's answer rather than at the class chosen for the previous image.
        class_index = st.selectbox(
            _("Explain the class"),
            range(len(names)),
            index=predicted,
            format_func=described.get,
            key=f"{key}_class_{_digest(picture)}",
            help=_("Pick another class to ask why the model did not answer it."),
        )
    with choose_layer:
        layer = (
            st.selectbox(
                _("Grad-CAM layer"),
                convolutions,
                index=len(convolutions) - 1,
                key=f"{key}_layer",
                help=_(
                    "The last convolution sees the largest parts of the image; earlier ones "
                    "give finer but less specific maps."
                ),
            )
            if convolutions
            else None
        )
    side = min(picture.shape[:2])
    sides = [size for size in PATCH_SIDES if size < side] or [1]
    default_patch = min(sides, key=lambda size: abs(size - side / 5))
    with choose_patch:
        patch = st.select_slider(
            _("Occlusion patch (pixels)"), sides, value=default_patch, key=f"{key}_patch"
        )
    # A digit's background is black: hiding part of it with black erases ink, while a grey
    # patch would add a blot of its own. Colour images are hidden with mid-grey.
    fill = 0.0 if picture.shape[2] == 1 else 0.5
    name = names[class_index]

    saliency_column, cam_column, occlusion_column = st.columns(3)
    with saliency_column:
        heat = explain.saliency_map(explain.saliency(model, picture, class_index))
        st.plotly_chart(
            fx.overlay_figure(
                picture,
                heat,
                _("Saliency for {name}").format(name=name),
                scale=fx.SALIENCY_SCALE,
                colour_label="|d score / d pixel|",
            ),
            key=f"{key}_saliency",
        )
        st.caption(_(explain.SALIENCY_TEXT))
    with cam_column:
        if layer is None:
            st.info(_("This model has no convolution layer, so Grad-CAM has nothing to look at."))
        else:
            heat = explain.grad_cam(model, picture, class_index, layer_name=layer)
            st.plotly_chart(
                fx.overlay_figure(
                    picture,
                    heat,
                    _("Grad-CAM for {name} on {layer}").format(name=name, layer=layer),
                    scale=fx.GRAD_CAM_SCALE,
                    colour_label=_("evidence (logit)"),
                ),
                key=f"{key}_grad_cam",
            )
            st.caption(_(explain.GRAD_CAM_TEXT))
    with occlusion_column:
        heat = explain.occlusion(
            model, picture, class_index, patch=patch, stride=max(1, patch // 2), fill=fill
        )
        st.plotly_chart(
            fx.overlay_figure(
                picture,
                heat,
                _("Occlusion for {name}").format(name=name),
                scale=fx.OCCLUSION_SCALE,
                signed=True,
                colour_label=_("probability drop"),
            ),
            key=f"{key}_occlusion",
        )
        patch_colour = (
            _("The patch is black (erasing ink).") if fill == 0.0 else _("The patch is grey.")
        )
        st.caption(f"{_(explain.OCCLUSION_TEXT)} {patch_colour}")


def filters_panel(model: Any, images: Any, key: str) -> None:
    """Per convolution layer: the input that excites each filter most, and the test images
    that excite a chosen filter most. Computed on request, then kept for the model."""
    convolutions = conv_layer_names(model)
    if not convolutions:
        st.info(_("This model has no convolution layer, so it has no filters to look at."))
        return
    pool = as_batch(np.asarray(images)[:MAX_FILTER_IMAGES], model_input_shape(model))
    layer = st.selectbox(_("Convolution layer"), convolutions, key=f"{key}_layer")
    filters = int(model.get_layer(layer).filters)
    if not explain.cached_filter_views(model, layer, pool, k=TOP_K):
        st.caption(
            ngettext(
                "Finding what the {count} filter of {layer} looks for takes a few seconds; the "
                "result is kept for this model until its weights change.",
                "Finding what the {count} filters of {layer} look for takes a few seconds; the "
                "result is kept for this model until its weights change.",
                filters,
            ).format(count=filters, layer=layer)
        )
        label = _("Show what the filters of {layer} look for").format(layer=layer)
        if not st.button(label, key=f"{key}_run"):
            return
    with st.spinner(_("Climbing the filters of {layer}…").format(layer=layer)):
        maximised = explain.maximise_filters(model, layer)
        indices, responses = explain.top_images(model, layer, pool, k=TOP_K)
    st.image(
        mosaic(list(maximised), columns=min(filters, 16), cell=64),
        caption=f"{_(explain.MAXIMISE_TEXT)} "
        + _("Filters 0 to {last}, left to right.").format(last=filters - 1),
    )
    chosen = st.selectbox(_("Filter"), range(filters), key=f"{key}_filter_{layer}")
    own, top = st.columns([1, 2])
    with own:
        st.image(
            upscale(to_rgb_uint8(maximised[chosen]), max(1, 192 // maximised.shape[1])),
            caption=_("What filter {number} looks for").format(number=chosen),
        )
    with top:
        st.image(
            mosaic([pool[index] for index in indices[chosen]], columns=3, cell=64),
            caption=f"{_(explain.TOP_IMAGES_TEXT)} "
            + _("Strongest responses: {values}").format(
                values=", ".join(f"{value:.2f}" for value in responses[chosen])
            ),
        )


def layer_maps_panel(model: Any, image: Any, key: str) -> None:
    """A convolution layer opened large: all its activation maps for the image on one stated
    scale, and all its filters on another."""
    convolutions = conv_layer_names(model)
    if not convolutions:
        st.info(_("This model has no convolution layer to open."))
        return
    layer = st.selectbox(_("Open a layer"), convolutions, key=f"{key}_layer")
    maps = dict(feature_maps(model, image))[layer]
    maps_tab, filters_tab = st.tabs([_("Activation maps"), _("Filters")])
    with maps_tab:
        st.plotly_chart(fx.layer_maps_figure(maps, layer), key=f"{key}_maps")
    with filters_tab:
        kernel = model.get_layer(layer).get_weights()[0]
        channel = 0
        if kernel.shape[2] > 1:
            channel = st.selectbox(
                _("Input channel"), range(kernel.shape[2]), key=f"{key}_channel_{layer}"
            )
        st.plotly_chart(
            fx.layer_filters_figure(kernel, layer, input_channel=channel),
            key=f"{key}_filters",
        )


def own_image_panel(model: Any, class_names: Sequence[str], key: str) -> None:
    """Upload a PNG or JPEG: the preparation step by step, the model's top three classes, the
    layers opened large and the explanations of its answer."""
    upload = st.file_uploader(
        _("Your own image (PNG or JPEG)"),
        type=["png", "jpg", "jpeg"],
        key=f"{key}_upload",
        max_upload_size=own_image.MAX_FILE_BYTES // 2**20,
    )
    if upload is None:
        st.caption(
            _(
                "A digit written on paper or drawn in any program works for digit models; any "
                "photo works for colour models. It is prepared the way the training images were."
            )
        )
        return
    try:
        prepared = own_image.prepare_for_model(upload.getvalue(), model_input_shape(model))
    except ValueError as error:
        st.error(str(error))
        return
    columns = st.columns(len(prepared.steps))
    for column, (caption, step) in zip(columns, prepared.steps, strict=True):
        picture = to_rgb_uint8(step)
        with column:
            st.image(upscale(picture, max(1, STEP_SIDE // max(picture.shape[:2]))), caption=caption)
    probabilities = predict_proba(model, prepared.image)[0]
    names = [str(name) for name in class_names]
    top = np.argsort(-probabilities, kind="stable")[:3]
    for rank, index in enumerate(top, start=1):
        st.progress(
            float(probabilities[index]),
            text=f"{rank}. {names[index]}: {probabilities[index]:.1%}",
        )
    layer_maps_panel(model, prepared.image, key=f"{key}_maps")
    explain_panel(model, prepared.image, names, key=f"{key}_explain")
