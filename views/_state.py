"""Everything a browser session holds, named in one place: the session's models, one typed
state object per training page, and the explorer's keys.

`init()` runs at the start of every script run (from `app.py`) and only fills in what is
missing, so nothing a user made is ever replaced by a rerun. Widget values are kept across
page switches by Streamlit itself (`persist_state="session"` on each value widget), not here.
Widgets are keyed "<page>_w_<name>", buttons and uploaders "<page>_<name>".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from cnnlib.i18n import _

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

# What the last automatic save or the cap on models in memory did, for the models panel.
MODELS_NOTE = "models_note"

# The training pages' state objects.
MNIST = "mnist_state"
CIFAR = "cifar_state"
OWN = "own_state"
ENSEMBLE = "ensemble_state"
TRAINER_PAGES = {"mnist": MNIST, "cifar": CIFAR, "own": OWN}

# Links that share a setup (`_share`): one LinkState per page that makes them.
LINKS = {
    "explorer": "explorer_link",
    "mnist": "mnist_link",
    "cifar": "cifar_link",
    "own": "own_link",
}

# The "your own data" panel on the own-data page (`_own_data_widgets.own_data_panel` with the
# key OWN_DATA): its value widgets are "own_data_w_*", its uploader "own_data_upload".
OWN_DATA = "own_data"
OWN_DATA_REPORT = "own_data_report"  # {"id", "report", "error"} of the upload last checked
OWN_DATA_CONFIRM = "own_data_confirm"  # True while the import asks to be confirmed
OWN_DATA_IMPORTED = "own_data_imported"  # stored name of the set imported last, or None
OWN_DATA_DELETING = "own_data_deleting"  # stored name of the set asked to be deleted, or None
OWN_DATA_FLASH = "own_data_flash"  # message of the import just done, shown once, or None
# The own-data page's dataset picker ("own_w_dataset") moves once to each new import.
OWN_FOLLOWED = "own_followed_import"  # stored name of the import it last moved to, or None


@dataclass
class TrainerState:
    """What one training page holds: its current run, the runs before it and their speeds."""

    run: Any = None  # the cnnlib.runs.Run being trained or last trained, or None
    runs: list[dict] = field(default_factory=list)  # Run.summary() of earlier runs
    speeds: list[dict] = field(default_factory=list)  # Run.speed() of finished runs
    snapshot: dict | None = None  # {"file_id", "record"}: an uploaded model to continue
    upload_id: str | None = None  # the model file last read by the models panel
    shared: Any = None  # the cnnlib.layers.Network a shared link brought, or None


@dataclass
class LinkState:
    """A page's shared link: what the URL last held, and a link being opened."""

    seen: dict | None = None  # the setup parameters last read from or written to the URL
    pending: Any = None  # a cnnlib.share.TrainerLink read but not yet given to the widgets
    note: str | None = None  # what the last link opened did, or why it was refused
    refused: bool = False  # whether the note says why a link was refused
    fresh: bool = False  # the note is from this script run: the run's own write keeps it


@dataclass
class EnsembleState:
    """What the ensemble page holds."""

    result: dict | None = None  # the last evaluated ensemble (see _ensemble_widgets.build)
    member_runs: list[dict] = field(default_factory=list)  # {"run", "status", "message"}
    cache: dict = field(default_factory=dict)  # (member, set, images) -> its probabilities
    loaded: dict = field(default_factory=dict)  # library name -> ModelRecord loaded for it
    autobuild: list[str] | None = None  # picker keys of new members to build with, or None


_DEFAULTS = {
    MODELS: dict,
    MODELS_NOTE: lambda: None,
    EXPLORER_NETWORK: lambda: None,
    EXPLORER_SOURCE: lambda: None,
    EXPLORER_TABLE: lambda: None,
    EXPLORER_KERAS: lambda: None,
    EXPLORER_CODE: lambda: None,
    EXPLORER_UPLOAD: lambda: None,
    MNIST: TrainerState,
    CIFAR: TrainerState,
    OWN: TrainerState,
    OWN_DATA_REPORT: lambda: None,
    OWN_DATA_CONFIRM: lambda: False,
    OWN_DATA_IMPORTED: lambda: None,
    OWN_DATA_DELETING: lambda: None,
    OWN_DATA_FLASH: lambda: None,
    OWN_FOLLOWED: lambda: None,
    ENSEMBLE: EnsembleState,
    **{key: LinkState for key in LINKS.values()},
}


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


def trainer(page: str) -> TrainerState:
    return st.session_state[TRAINER_PAGES[page]]


def link(page: str) -> LinkState:
    return st.session_state[LINKS[page]]


def ensemble() -> EnsembleState:
    return st.session_state[ENSEMBLE]


def max_session_models() -> int:
    """How many models a session keeps in memory (CNNLAB_MAX_SESSION_MODELS, default 12);
    every finished model is in the model library as well, so the oldest can leave memory."""
    import os

    value = os.environ.get("CNNLAB_MAX_SESSION_MODELS", "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else 12


def keep_run(run) -> str:
    """Keep a finished run's model: a lean copy (weights and configuration) joins the
    session's models and is saved to the model library at once, so that a closed tab or a
    server restart loses nothing; returns its name in the session."""
    from cnnlib.runs import unique_name

    models = st.session_state[MODELS]
    name = unique_name(run.name, models)
    record = run.record(name, lean=True)
    run.job.hand_over_model()
    run.kept_as, run.kept_model = name, record.model
    models[name] = record
    _autosave(record)
    _cap(models)
    return name


def _autosave(record) -> None:
    import dataclasses

    from cnnlib.runs import unique_name
    from views._user import session_library

    library = session_library()
    try:
        taken = {entry["name"] for entry in library.list()}
        stored = library.save(dataclasses.replace(record, name=unique_name(record.name, taken)))
    except (ValueError, OSError) as error:
        st.session_state[MODELS_NOTE] = _(
            "{name} is kept in this session but could not be saved to the library: {error}"
        ).format(name=repr(record.name), error=error)
        return
    record.settings["library_name"] = stored.stem
    st.session_state[MODELS_NOTE] = _("{name} is saved in the model library as {stored}.").format(
        name=repr(record.name), stored=repr(stored.stem)
    )


def _cap(models: dict) -> None:
    """Let the oldest models leave memory beyond `max_session_models()`; each one is in the
    library (saved now if it was not), so nothing is lost."""
    from cnnlib.library import release

    limit = max_session_models()
    while len(models) > limit:
        oldest = next(iter(models))
        record = models.pop(oldest)
        if "library_name" not in record.settings and record.model is not None:
            _autosave(record)
        release(record)
        st.session_state[MODELS_NOTE] = _(
            "This session keeps its {limit} newest models in memory; {name} left it and is in "
            "the model library, where you can load it again."
        ).format(limit=limit, name=repr(oldest))


def keep_finished_runs() -> None:
    """Keep the model of every run of this session that finished since the last script run,
    whichever page is shown, so that no page has to be visited for its model to join the
    session's models (where the other pages find it)."""
    for key in TRAINER_PAGES.values():
        state = st.session_state[key]
        run = state.run
        if run is None or run.kept_as is not None or not run.finished_with_model:
            continue
        keep_run(run)
        speed = run.speed()
        if speed:
            state.speeds.append(speed)
