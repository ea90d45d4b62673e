"""Every `st.session_state` key the dashboard uses, named in one place.

Keys are prefixed by the page that owns them (`mnist_`, `cifar_`, `ensemble_`, `explorer_`);
`models` is shared: the trained models of this browser session, by name. `init()` runs once
per script run from `app.py` and only fills in keys that are missing, so nothing a user made
is ever overwritten by a rerun.
"""

from __future__ import annotations

import streamlit as st

# Shared across pages: name -> cnnlib.library.ModelRecord of each model trained or loaded
# in this session.
MODELS = "models"

# Architecture explorer.
EXPLORER_NETWORK = "explorer_network"  # the cnnlib.layers.Network being edited

# MNIST page.
MNIST_JOB = "mnist_job"  # the cnnlib.training.TrainingJob of this session, or None

# CIFAR-10 page.
CIFAR_JOB = "cifar_job"  # the cnnlib.training.TrainingJob of this session, or None

# Ensemble page.
ENSEMBLE_RESULT = "ensemble_result"  # the last evaluated ensemble, or None

_DEFAULTS = {
    MODELS: dict,
    EXPLORER_NETWORK: lambda: None,
    MNIST_JOB: lambda: None,
    CIFAR_JOB: lambda: None,
    ENSEMBLE_RESULT: lambda: None,
}


def init() -> None:
    """Give every missing key its default; existing values are left alone."""
    for key, make_default in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = make_default()
