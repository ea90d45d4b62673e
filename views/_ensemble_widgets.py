"""Widgets of the ensemble page: picking members and building the ensemble (training new
members is `_ensemble_members`', showing the result `_ensemble_results`').

Members come from the session's models (`_state.MODELS`) and the saved library. Each
member's probabilities on the test set, the validation images no member learned from, and a
sample of training images are predicted once and kept in the ensemble state's cache. The numbers
are `cnnlib.ensemble`'s, the charts `cnnlib.figures_ensemble`'s.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from cnnlib import ensemble
from cnnlib.i18n import _
from cnnlib.metrics import predict_in_chunks
from views import _datasets, _state
from views._data import LABELS
from views._user import session_library

SESSION, LIBRARY = "session", "library"
MEMBERS_KEY = "ensemble_w_members"


# --- Picking members ---------------------------------------------------------------------------


def _library_entries() -> list[dict]:
    try:
        return [entry for entry in session_library().list() if entry["error"] is None]
    except OSError:
        return []


def member_picker() -> list[str]:
    """A multiselect over the session's and the library's models; returns the picked keys."""
    models = st.session_state[_state.MODELS]
    library = {entry["name"]: entry for entry in _library_entries()}
    options = [f"{SESSION}:{name}" for name in models]
    options += [f"{LIBRARY}:{name}" for name in library]
    # Translated now, in this script run: a format function may be called elsewhere.
    origins = {SESSION: _("session"), LIBRARY: _("library")}

    def describe(key: str) -> str:
        origin, name = key.split(":", 1)
        if origin == SESSION:
            record = models[name]
            dataset, accuracy = record.dataset, record.test_accuracy
        else:
            dataset, accuracy = library[name]["dataset"], library[name]["test_accuracy"]
        score = "" if accuracy is None else f", {accuracy:.2%}"
        return f"{name} ({LABELS.get(dataset, dataset or '?')}{score}, {origins[origin]})"

    pending = _state.ensemble().autobuild
    if pending:
        st.session_state[MEMBERS_KEY] = [key for key in pending if key in options]
    elif MEMBERS_KEY in st.session_state:
        # Keep the choice valid when models were renamed, deleted or released elsewhere.
        st.session_state[MEMBERS_KEY] = [k for k in st.session_state[MEMBERS_KEY] if k in options]
    if not options:
        st.info(
            _(
                "No trained models yet. Train some on the MNIST page, or train several at once "
                "under **Train new members**."
            )
        )
    return st.multiselect(
        _("Members"),
        options,
        format_func=describe,
        key=MEMBERS_KEY,
        placeholder=_("Pick two or more models of one dataset"),
    )


def resolve_members(keys: list[str]) -> list | None:
    """The ModelRecords behind picked keys, loading library models once; None on failure."""
    models = st.session_state[_state.MODELS]
    loaded = _state.ensemble().loaded
    records = []
    for key in keys:
        origin, name = key.split(":", 1)
        if origin == SESSION:
            if name not in models:
                st.warning(
                    _("{name} is no longer in this session; pick the members again.").format(
                        name=name
                    )
                )
                return None
            records.append(models[name])
            continue
        if name not in loaded:
            try:
                with st.spinner(_("Loading {name} from the library…").format(name=name)):
                    loaded[name] = session_library().load(name)
            except ValueError as error:
                st.error(_("{name} cannot be loaded: {error}").format(name=name, error=error))
                return None
        records.append(loaded[name])
    for record in records:
        if record.model is None:
            st.error(
                _("{name} was released from memory; load or train it again.").format(
                    name=record.name
                )
            )
            return None
    return records


# --- Building ---------------------------------------------------------------------------------


def _probabilities(record, part: str, images: np.ndarray, indices: np.ndarray | None):
    """The member's probabilities on `images`, predicted once per member and image set."""
    digest = None if indices is None else hashlib.sha1(indices.tobytes()).hexdigest()
    key = (record.name, record.created, id(record.model), part, digest)
    cache = _state.ensemble().cache
    if key not in cache:
        cache[key] = predict_in_chunks(record.model, images)
    return cache[key]


def _prune_cache() -> None:
    """Forget the probabilities of models that have left the session."""
    records = [*st.session_state[_state.MODELS].values()]
    records += _state.ensemble().loaded.values()
    live = {(r.name, r.created, id(r.model)) for r in records}
    cache = _state.ensemble().cache
    for key in [key for key in cache if key[:3] not in live]:
        del cache[key]


def build(records: list) -> dict | None:
    """Check the members, predict what is missing and evaluate; a bundle for `show_result`."""
    _prune_cache()
    try:
        ensemble.check_members(records)
    except ValueError as error:
        st.error(_("These members cannot form an ensemble. {error}").format(error=error))
        return None
    name = records[0].dataset
    if not _datasets.known(name):
        st.error(
            _(
                "CNN Lab cannot tell which dataset these models were trained on; ensembles are "
                "built from MNIST, CIFAR-10 or your own stored sets' models."
            )
        )
        return None
    dataset = _datasets.page_dataset(name)
    if tuple(records[0].input_shape) != tuple(dataset.input_shape):
        st.error(
            _("The members take {shape} inputs, not {dataset}'s images.").format(
                shape=records[0].input_shape, dataset=name
            )
        )
        return None
    # The training images, then a stored set's own validation part when it has one.
    pool_x, pool_y = _datasets.judging_pool(dataset)
    trained_on = {r.name: _datasets.trained_on(r, dataset) for r in records}
    sets = ensemble.judging_sets(len(pool_y), trained_on)
    bar = st.progress(0.0, text=_("Predicting…"))
    members = []
    for i, record in enumerate(records):
        bar.progress(i / len(records), text=_("Predicting with {name}…").format(name=record.name))
        members.append(
            ensemble.MemberPredictions(
                record.name,
                test=_probabilities(record, "test", dataset.x_test, None),
                validation=None
                if sets.validation is None
                else _probabilities(record, "validation", pool_x[sets.validation], sets.validation),
                train=None
                if sets.train_sample is None
                else _probabilities(record, "train", pool_x[sets.train_sample], sets.train_sample),
            )
        )
    bar.empty()
    labels = {
        part: None if indices is None else pool_y[indices]
        for part, indices in (("validation", sets.validation), ("train", sets.train_sample))
    }
    result = ensemble.evaluate_ensemble(
        members,
        dataset.y_test,
        validation_labels=labels["validation"],
        train_labels=labels["train"],
        class_names=dataset.class_names,
    )
    return {
        "result": result,
        "dataset": name,
        "validation_images": 0 if sets.validation is None else len(sets.validation),
        "train_images": 0 if sets.train_sample is None else len(sets.train_sample),
        "notes": sets.notes + [n for n in result.notes if n not in " ".join(sets.notes)],
    }
