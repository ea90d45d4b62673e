"""Widgets of the ensemble page: picking members, training new ones, building the ensemble and
showing what it measured.

Members come from the session's models (`_state.MODELS`) and the saved library; new members
train through the training engine, queued on its scheduler, with one progress bar each. Each
member's probabilities on the test set, the validation images no member learned from, and a
sample of training images are predicted once and kept in the ensemble state's cache. The numbers
are `cnnlib.ensemble`'s, the charts `cnnlib.figures_ensemble`'s.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from cnnlib import ensemble, profiles, registry
from cnnlib.i18n import _
from cnnlib.metrics import predict_in_chunks
from cnnlib.training import JobState, TrainSettings
from views import _datasets, _state
from views._data import LABELS, get_dataset
from views._session_guard import guard_job
from views._trainer import progress as trainer_progress
from views._user import session_library

SESSION, LIBRARY = "session", "library"
MEMBERS_KEY = "ensemble_w_members"
TRAIN_SIZES = (1000, 2000, 5000, 10_000, 20_000, 0)  # 0: the whole training set
VALIDATION_SPLIT = 0.1  # as the MNIST page trains; the held-out tenth weighs the members


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


# --- Training new members ---------------------------------------------------------------------


def _initial(key: str, value) -> str:
    """Give a value widget its first value through the session state, never as a default:
    Streamlit refuses a `value=` beside a value kept for the widget."""
    st.session_state.setdefault(key, value)
    return key


def train_panel() -> None:
    """Settings for K new members and the button that queues them on the training engine."""
    busy = any(entry["status"] == "training" for entry in _state.ensemble().member_runs)
    left, right = st.columns(2)
    name = left.selectbox(
        _("Dataset"), list(LABELS), format_func=LABELS.get, key=_initial("ensemble_w_data", "mnist")
    )
    entries = {entry.key: entry for entry in registry.for_dataset(name)}
    mode = left.radio(
        _("Members differ by"),
        ("seeds", "architectures"),
        format_func={
            "seeds": _("seed (one architecture)"),
            "architectures": _("architecture (registry)"),
        }.get,
        key=_initial("ensemble_w_mode", "seeds"),
        horizontal=True,
    )
    if mode == "seeds":
        keys = list(entries)
        default = "mnist_two_conv" if "mnist_two_conv" in keys else keys[0]
        key = left.selectbox(
            _("Architecture"),
            keys,
            format_func=lambda k: entries[k].title,
            key=_initial(f"ensemble_w_architecture_{name}", default),
        )
        architectures = [key]
        per = left.slider(_("Members"), 2, 8, key=_initial("ensemble_w_count", 3))
    else:
        architectures = left.multiselect(
            _("Architectures"),
            list(entries),
            format_func=lambda k: entries[k].title,
            key=_initial(f"ensemble_w_architectures_{name}", list(entries)),
        )
        per = left.slider(
            _("Members per architecture"), 1, 3, key=_initial("ensemble_w_per_architecture", 1)
        )
    epochs = right.slider(
        _("Epochs"), 1, 12, key=_initial("ensemble_w_epochs", 2), help=_("The lecture trains 12.")
    )
    size = right.selectbox(
        _("Training images"),
        TRAIN_SIZES,
        format_func={n: _("all") if n == 0 else f"{n:,}" for n in TRAIN_SIZES}.get,
        key=_initial("ensemble_w_train_images", 0),
        help=_("Fewer images train faster; every member gets the same images."),
    )
    shift = right.slider(
        _("Random shifts (pixels)"),
        0,
        3,
        key=_initial("ensemble_w_shift", 0),
        help=_("Data augmentation: each batch is moved by up to this many pixels."),
    )
    seed = right.number_input(_("First seed"), 0, 1_000_000, key=_initial("ensemble_w_seed", 0))
    right.caption(
        _(
            "Batch 128, Adam at 0.001 as in the lecture; the last {share} of the training images "
            "is held out for validation."
        ).format(share=f"{VALIDATION_SPLIT:.0%}")
    )
    if st.button(_("Train the members"), icon=":material/model_training:", disabled=busy):
        _start(name, architectures, per, epochs, size, shift, int(seed))


def _start(name, architectures, per, epochs, size, shift, seed) -> None:
    state = _state.ensemble()
    try:
        specs = ensemble.plan_members(
            architectures, per, seed, taken=list(st.session_state[_state.MODELS])
        )
        settings = TrainSettings(
            epochs=epochs,
            batch_size=128,
            validation_split=VALIDATION_SPLIT,
            augment_shift=shift,
            augment_flip=name == "cifar10" and shift > 0,
        )
    except ValueError as error:
        st.error(str(error))
        return
    dataset = get_dataset(name)
    profile = profiles.get(name)
    state.member_runs[:] = [entry for entry in state.member_runs if entry["status"] == "training"]
    for spec in specs:
        try:
            run = ensemble.start_member_run(
                spec, profile, dataset, settings, size or None, data_seed=seed
            )
        except ValueError as error:
            st.error(f"{spec.name}: {error}")
            continue
        guard_job(run.job)
        state.member_runs.append({"run": run, "status": "training", "message": ""})
    st.rerun()


def _collect(entry: dict) -> None:
    """Turn a finished member run into a session model (once) and let its job go."""
    run = entry["run"]
    snap = run.snapshot()
    if not JobState(snap["state"]).ended:
        return
    if snap["state"] == JobState.FAILED:
        entry["status"], entry["message"] = "failed", snap["error"] or _("Training failed.")
    elif snap["stopped_early"]:
        entry["status"], entry["message"] = "stopped", _("stopped before the last epoch, not kept")
    else:
        name = _state.keep_run(run)
        record = st.session_state[_state.MODELS][name]
        # The job already computed the test-set probabilities: keep them for the ensemble.
        key = (record.name, record.created, id(record.model), "test", None)
        _state.ensemble().cache[key] = run.job.test_probabilities
        entry["status"], entry["name"] = "done", name
        entry["message"] = _("test accuracy {accuracy}").format(
            accuracy=f"{record.test_accuracy:.2%}"
        )
    run.release()


def runs_panel() -> None:
    """One progress bar per member being trained, redrawn every second while any trains."""
    entries = _state.ensemble().member_runs
    if not entries:
        return
    active = any(entry["status"] == "training" for entry in entries)

    @st.fragment(run_every=1.0 if active else None)
    def progress() -> None:
        for entry in entries:
            if entry["status"] == "training":
                _collect(entry)
        for entry in entries:
            _progress_line(entry)
        still = any(entry["status"] == "training" for entry in entries)
        if active and not still:
            done = [f"{SESSION}:{e['name']}" for e in entries if e["status"] == "done"]
            _state.ensemble().autobuild = done if len(done) >= 2 else None
            st.rerun()
        if still and st.button(_("Stop training the members"), icon=":material/stop:"):
            for entry in entries:
                entry["run"].job.stop()

    progress()


def _progress_line(entry: dict) -> None:
    run = entry["run"]
    if entry["status"] == "training":
        trainer_progress(run.snapshot(), prefix=f"{run.name}: ")
    elif entry["status"] == "done":
        st.progress(
            1.0,
            text=_("{name}: trained, {result}").format(name=entry["name"], result=entry["message"]),
        )
    elif entry["status"] == "failed":
        st.error(f"{run.name}: {entry['message']}")
    else:
        st.caption(f"{run.name}: {entry['message']}")
