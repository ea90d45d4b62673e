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
EXPLORER_SOURCE = "explorer_source"  # registry key the network was loaded from, or None
EXPLORER_TABLE = "explorer_table"  # {"revision": int, "rows": [...]}: what the table editor shows
EXPLORER_KERAS = "explorer_keras"  # last "Build in Keras" result (a dict), or None
EXPLORER_CODE = "explorer_code"  # {"key": (network JSON, style), "code": str} of the last export
EXPLORER_UPLOAD = "explorer_upload"  # id of the last network file imported, so it loads once
# The explorer's widgets use keys starting with "explorer_w_".

# MNIST page.
MNIST_JOB = "mnist_job"  # the cnnlib.training.TrainingJob of this session, or None
MNIST_JOB_INFO = "mnist_job_info"  # that job's network, names, data, MACs; see mnist.start()
MNIST_RUNS = "mnist_runs"  # speed of this session's finished runs, for the time estimate
MNIST_UPLOAD = "mnist_upload"  # id of the last model file uploaded, so it loads once
# The MNIST page's widgets use keys starting with "mnist_w_".

# CIFAR-10 page.
CIFAR_JOB = "cifar_job"  # the cnnlib.training.TrainingJob of this session, or None
CIFAR_JOB_INFO = "cifar_job_info"  # {"network", "dataset", "label", "kept"} of that job
CIFAR_RUNS = "cifar_runs"  # earlier runs of this session, for the comparison chart
CIFAR_SNAPSHOT = "cifar_snapshot"  # {"file_id", "record"} uploaded to start from, or None
CIFAR_LIVE_ACTIVE = "cifar_live_active"  # whether the live view last saw an active job
# The CIFAR-10 page's widgets use keys starting with "cifar_w_".

# Ensemble page.
ENSEMBLE_RESULT = "ensemble_result"  # the last evaluated ensemble, or None
ENSEMBLE_RUNS = "ensemble_runs"  # members being trained: list of dicts, see _ensemble_widgets
ENSEMBLE_CACHE = "ensemble_cache"  # (member, set, images) -> member's probabilities there
ENSEMBLE_LOADED = "ensemble_loaded"  # library name -> ModelRecord loaded to join an ensemble
ENSEMBLE_AUTOBUILD = "ensemble_autobuild"  # picker keys of new members to build with, or None
# The ensemble page's widgets use keys starting with "ensemble_w_".

_DEFAULTS = {
    MODELS: dict,
    EXPLORER_NETWORK: lambda: None,
    EXPLORER_SOURCE: lambda: None,
    EXPLORER_TABLE: lambda: None,
    EXPLORER_KERAS: lambda: None,
    EXPLORER_CODE: lambda: None,
    EXPLORER_UPLOAD: lambda: None,
    MNIST_JOB: lambda: None,
    MNIST_JOB_INFO: lambda: None,
    MNIST_RUNS: list,
    MNIST_UPLOAD: lambda: None,
    CIFAR_JOB: lambda: None,
    CIFAR_JOB_INFO: lambda: None,
    CIFAR_RUNS: list,
    CIFAR_SNAPSHOT: lambda: None,
    CIFAR_LIVE_ACTIVE: lambda: False,
    ENSEMBLE_RESULT: lambda: None,
    ENSEMBLE_RUNS: list,
    ENSEMBLE_CACHE: dict,
    ENSEMBLE_LOADED: dict,
    ENSEMBLE_AUTOBUILD: lambda: None,
}


# Value widgets (sliders, selects, text inputs...) are keyed "<page>_w_<name>"; buttons and
# file uploaders never use that infix, because Streamlit refuses to have their values set.
WIDGET_INFIX = "_w_"


# Each value widget's last value is also kept under this prefix, out of Streamlit's reach.
_KEPT = "kept:"


def keep_widget_values() -> None:
    """Keep every value widget's setting while its page is not shown.

    Streamlit forgets a widget's value at the end of a run that does not draw it, so a
    student who visits another page would come back to the defaults. `app.py` calls this at
    the start of each run, before any widget is drawn: every value widget's value is copied
    aside, and a value Streamlit has forgotten is put back.
    """
    state = st.session_state
    for key in list(state.keys()):
        if not isinstance(key, str):
            continue
        if key.startswith(_KEPT):
            widget_key = key.removeprefix(_KEPT)
            if widget_key not in state:
                state[widget_key] = state[key]
        elif WIDGET_INFIX in key:
            state[_KEPT + key] = state[key]


def keep_keras_state() -> None:
    """Stop Streamlit from resetting Keras after every script run.

    After each run (a live view's once-a-second refresh included) Streamlit calls
    `keras.backend.clear_session()`, meant for apps that build a model per run. Here models
    train for minutes in background threads while the pages redraw: the reset, and the full
    garbage collection it starts, stalled training for minutes in the server. Worse, the
    reset empties Keras's state in every thread at once, so a mixed-precision job compiling
    its step at that moment fails with "Input 'filter' of 'Conv2D' Op has type float32 that
    does not match type bfloat16". Matplotlib, the only other module Streamlit tidies this
    way, is not used by CNN Lab.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = lambda: None


def init() -> None:
    """Give every missing key its default; existing values are left alone."""
    for key, make_default in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = make_default()
