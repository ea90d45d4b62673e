"""CIFAR-10 live: ConvNetJS's training demo rebuilt on Keras, steerable while it trains."""

import streamlit as st

from views import _cifar_run as run
from views import _cifar_widgets as widgets
from views import _state
from views._data import LABELS, dataset_caption, get_dataset

st.title("CIFAR-10 live")
st.caption(
    "The lecture's section 5.4 points to Karpathy's ConvNetJS demo, which trains a small CNN on "
    "CIFAR-10 in the browser. This is the same experience with real Keras underneath: edit the "
    "network, steer training while it runs and watch what every layer does."
)

name = (
    st.segmented_control(
        "Dataset", list(LABELS), format_func=LABELS.get, default="cifar10", key="cifar_w_dataset"
    )
    or "cifar10"
)
dataset = get_dataset(name)
st.caption(dataset_caption(dataset))

left, right = st.columns([2, 3], gap="large")
with left:
    network = widgets.network_panel(dataset)
with right:
    settings, train_size = widgets.settings_panel(dataset)
    run.snapshot_upload(dataset)

run.controls(network, dataset, train_size, settings)
run.live_view()
widgets.runs_overlay(st.session_state[_state.CIFAR_RUNS])
