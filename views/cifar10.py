"""CIFAR-10 live: ConvNetJS's training demo rebuilt on Keras, steerable while it trains, with
its gradients shown beside the activations; then a look inside any model of the session."""

import streamlit as st

from cnnlib import profiles
from cnnlib.i18n import _
from views import _cifar_widgets as widgets
from views import _share
from views._data import dataset_caption, get_dataset
from views._insight import look_inside
from views._trainer import trainer

st.title(_("CIFAR-10 live"))
st.caption(
    _(
        "The lecture's section 5.4 points to Karpathy's ConvNetJS demo, which trains a small "
        "CNN on CIFAR-10 in the browser. This is the same experience with real Keras underneath: "
        "edit the network, steer training while it runs and watch what every layer does."
    )
)
_share.open_trainer_link("cifar", datasets=list(profiles.PROFILES))
name = (
    st.segmented_control(
        _("Dataset"),
        list(profiles.PROFILES),
        format_func=lambda key: profiles.get(key).label,
        default="cifar10",
        key="cifar_w_dataset",
        persist_state="session",
    )
    or "cifar10"
)
profile = profiles.with_live_view(profiles.get(name))
dataset = get_dataset(name)
st.caption(dataset_caption(dataset))
trainer(
    "cifar",
    profile,
    dataset,
    live_panels={
        _("Network, layer by layer"): widgets.network_view,
        _("Test images"): widgets.test_stream,
    },
)

st.header(_("Look inside a model"))
look_inside("cifar", profile.input_shape, profile.num_classes, name, profile.label)
