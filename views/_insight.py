"""The "Look inside a model" tab of a training page: pick one of the session's models that
reads the page's images, then try an image of your own on it, see what each filter of a layer
looks for among its test images, or open its layers large on one test image.

Each part is a tab that computes only while it is open, so the page stays as fast as before for
a student who is training. The panels are `_explain_widgets`'; the session's models are
`_models.models_for`'s; the test images come from the dataset the model was trained on.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnlib.figures_live import to_rgb_uint8, upscale
from cnnlib.i18n import N_, _
from views._datasets import known, page_dataset
from views._explain_widgets import filters_panel, layer_maps_panel, own_image_panel
from views._models import models_for

OWN_IMAGE = N_("Your own image")
FILTERS = N_("What each filter looks for")
MAPS = N_("A test image's layers, large")
PICTURE_SIDE = 140  # pixels: the chosen test image is enlarged to about this size


def look_inside(
    page: str, input_shape: tuple[int, ...], num_classes: int, dataset_name: str, what: str
) -> None:
    """The tab's content for `page`, whose images are `dataset_name`'s (`what` names them)."""
    record = _pick_model(page, input_shape, num_classes, what)
    if record is None:
        return
    own, filters, maps = st.tabs(
        [_(OWN_IMAGE), _(FILTERS), _(MAPS)], key=f"{page}_w_inside_part", on_change="rerun"
    )
    if own.open:
        with own:
            own_image_panel(record.model, record.class_names, key=f"{page}_own_image")
    if filters.open:
        with filters:
            filters_panel(record.model, _test_images(record, dataset_name), key=f"{page}_filters")
    if maps.open:
        with maps:
            _layers_large(page, record, _test_images(record, dataset_name))


def _pick_model(page: str, input_shape, num_classes: int, what: str) -> Any:
    models = models_for(input_shape, num_classes)
    if not models:
        st.info(
            _(
                "No {dataset} model in this session yet. Train one in the Train tab, or load one "
                "in the Models tab; then look inside it here."
            ).format(dataset=what)
        )
        return None
    names = list(models)
    key = f"{page}_w_inside_model"
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[-1]
    name = st.selectbox(_("Model to look inside"), names, key=key, persist_state="session")
    return models[name]


def _test_images(record: Any, dataset_name: str) -> Any:
    """The test images of the dataset the model was trained on, or the page's own when the
    model does not say (a plain Keras upload)."""
    name = record.dataset if known(record.dataset) else dataset_name
    dataset = page_dataset(name)
    if tuple(dataset.input_shape) != tuple(record.input_shape):
        dataset = page_dataset(dataset_name)
    return dataset.x_test


def _layers_large(page: str, record: Any, images: Any) -> None:
    key = f"{page}_w_inside_image"
    if not 0 <= st.session_state.get(key, 0) < len(images):
        st.session_state[key] = 0
    index = st.slider(_("Test image"), 0, len(images) - 1, key=key)
    picture, layers = st.columns([1, 4])
    shown = to_rgb_uint8(images[index])
    picture.image(
        upscale(shown, max(1, PICTURE_SIDE // max(shown.shape[:2]))),
        caption=_("Test image {index}").format(index=index),
    )
    with layers:
        layer_maps_panel(record.model, images[index], key=f"{page}_maps")
