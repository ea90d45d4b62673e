"""MNIST digits: train the lecture's Keras models live, compare the test accuracy with the
lecture's, then draw digits for a trained model to read, feature map by feature map, and ask
why it read them so; or look inside a model with an image of your own and its filters.

The run lives in the session, so it keeps training (and its charts keep updating) while the
student uses other widgets or other pages.
"""

import streamlit as st

from cnnlib import profiles
from cnnlib.i18n import N_, _
from views import _mnist_widgets as mw
from views._data import dataset_caption, get_dataset
from views._insight import look_inside
from views._models import model_panel
from views._tabs import page_tabs
from views._trainer import trainer

PROFILE = profiles.MNIST

st.title(_("MNIST digits"))
st.caption(
    _(
        "Lecture sections 5.2 and 5.3: train a CNN on 28×28 handwritten digits, aim for the "
        "exercise's 99.3% test accuracy, then draw a digit and watch the network read it."
    )
)
# Only the open tab is drawn: a stroke on the drawing pad must not re-render the trainer.
tabs = page_tabs(
    "mnist_tab",
    {
        "train": N_("Train"),
        "draw": N_("Draw a digit"),
        "inside": N_("Look inside a model"),
        "models": N_("Models"),
    },
)

with tabs["train"]:
    if tabs["train"].open:
        dataset = get_dataset(PROFILE.name)
        st.caption(dataset_caption(dataset))
        mw.lecture_settings_button(dataset)
        trainer("mnist", PROFILE, dataset, after_results=mw.test_accuracy)

with tabs["draw"]:
    if tabs["draw"].open:
        mw.drawing_panel()

with tabs["inside"]:
    if tabs["inside"].open:
        look_inside("mnist", PROFILE.input_shape, PROFILE.num_classes, PROFILE.name, "MNIST")

with tabs["models"]:
    if tabs["models"].open:
        model_panel("mnist", "mnist", PROFILE.input_shape, PROFILE.num_classes)
