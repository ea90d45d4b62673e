"""Any dataset a page may ask for by the name a model record carries: MNIST and CIFAR-10
through `_data.get_dataset`, a stored set of the student's own ("own:<name>") through
`_own_data_stored.stored_dataset`. Either way a dataset that cannot be had stops the page
with the loader's message.

Also here, for the ensemble page: which images of a stored set a member learned from. A stored
set brings its own validation part, which the trainer validates on instead of holding out the
last tenth of the training images, so a member trained on the whole set learned from all of
them and the validation part is the images no member saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from cnnlib import ensemble
from cnnlib.own_data import NAME_PREFIX, OwnDataError
from views._data import LABELS, get_dataset
from views._own_data_stored import stored_dataset


def is_stored(name: str | None) -> bool:
    return bool(name) and str(name).startswith(NAME_PREFIX)


def known(name: str | None) -> bool:
    """Whether CNN Lab can load the dataset a model record names."""
    return name in LABELS or is_stored(name)


def page_dataset(name: str) -> Any:
    """The dataset `name`, built in or stored; stops the page with the reason if it is gone."""
    if not is_stored(name):
        return get_dataset(name)
    try:
        return stored_dataset(name)
    except OwnDataError as error:
        st.error(str(error), icon=":material/folder_off:")
        st.stop()


def judging_pool(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """The images an ensemble may judge its members on, and their labels: the training images,
    followed by a stored set's validation part when it has one."""
    x_val = getattr(dataset, "x_val", None)
    if x_val is None:
        return dataset.x_train, dataset.y_train
    return (
        np.concatenate([dataset.x_train, x_val]),
        np.concatenate([dataset.y_train, dataset.y_val]),
    )


def trained_on(record: Any, dataset: Any) -> np.ndarray | None:
    """Indices into `judging_pool(dataset)` of the images the record's model learned from, or
    None when unknown."""
    indices = ensemble.record_training_indices(record, dataset.y_train)
    count = (record.settings or {}).get("train_images")
    whole = count is not None and int(count) >= len(dataset.y_train)
    if indices is not None and whole and getattr(dataset, "x_val", None) is not None:
        # Validated on the stored part: every training image was learned from.
        return np.arange(len(dataset.y_train))
    return indices
