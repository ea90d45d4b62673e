"""MNIST digits: train the lecture's Keras models live, compare the test accuracy with the
lecture's, then draw digits for a trained model to read, feature map by feature map, and ask
why it read them so; or look inside a model with an image of your own and its filters.

The run lives in the session, so it keeps training (and its charts keep updating) while the
student uses other widgets or other pages.
"""

import streamlit as st

from cnnlib import profiles
from cnnlib.i18n import _
from views import _mnist_widgets as mw
from views._data import dataset_caption, get_dataset
from views._insight import look_inside
from views._models import model_panel
from views._trainer import trainer

PROFILE = profiles.MNIST

st.title(_("MNIST digits"))
st.caption(
    _(
        "Lecture sections 5.2 and 5.3: train a CNN on 28×28 handwritten digits, aim for the "
        "exercise's 99.3% test accuracy, then draw a digit and watch the network read it."
    )
)
train_tab, draw_tab, inside_tab, models_tab = st.tabs(
    [_("Train"), _("Draw a digit"), _("Look inside a model"), _("Models")]
)

# The drawing and model tabs are drawn first: they work without the dataset, which the
# training tab may still be fetching (or fail to find).
with draw_tab:
    mw.drawing_panel()

with models_tab:
    model_panel("mnist", "mnist", PROFILE.input_shape, PROFILE.num_classes)

with train_tab:
    dataset = get_dataset(PROFILE.name)
    st.caption(dataset_caption(dataset))
    mw.lecture_settings_button(dataset)
    trainer("mnist", PROFILE, dataset, after_results=mw.test_accuracy)

# After the training tab: its filter pictures need the test images, loaded there.
with inside_tab:
    look_inside("mnist", PROFILE.input_shape, PROFILE.num_classes, PROFILE.name, "MNIST")
