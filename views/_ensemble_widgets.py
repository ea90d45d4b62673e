"""Widgets of the ensemble page: picking members, training new ones, building the ensemble and
showing what it measured.

Members come from the session's models (`_state.MODELS`) and the saved library; new members
train through the training engine, queued on its scheduler, with one progress bar each. Each
member's probabilities on the test set, the validation images no member learned from, and a
sample of training images are predicted once and kept in `_state.ENSEMBLE_CACHE`. The numbers
are `cnnlib.ensemble`'s, the charts `cnnlib.figures_ensemble`'s.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from cnnlib import ensemble, registry
from cnnlib.library import ModelLibrary
from cnnlib.metrics import predict_in_chunks
from cnnlib.training import TrainSettings
from views import _state
from views._data import LABELS, get_dataset
from views._session_guard import guard_job

SESSION, LIBRARY = "session", "library"
MEMBERS_KEY = "ensemble_w_members"
TRAIN_SIZES = (1000, 2000, 5000, 10_000, 20_000, 0)  # 0: the whole training set
VALIDATION_SPLIT = 0.1  # as the MNIST page trains; the held-out tenth weighs the members


# --- Picking members ---------------------------------------------------------------------------


def _library_entries() -> list[dict]:
    try:
        return [entry for entry in ModelLibrary().list() if entry["error"] is None]
    except OSError:
        return []


def member_picker() -> list[str]:
    """A multiselect over the session's and the library's models; returns the picked keys."""
    models = st.session_state[_state.MODELS]
    library = {entry["name"]: entry for entry in _library_entries()}
    options = [f"{SESSION}:{name}" for name in models]
    options += [f"{LIBRARY}:{name}" for name in library]

    def describe(key: str) -> str:
        origin, name = key.split(":", 1)
        if origin == SESSION:
            record = models[name]
            dataset, accuracy = record.dataset, record.test_accuracy
        else:
            dataset, accuracy = library[name]["dataset"], library[name]["test_accuracy"]
        score = "" if accuracy is None else f", {accuracy:.2%}"
        return f"{name} ({LABELS.get(dataset, dataset or '?')}{score}, {origin})"

    pending = st.session_state[_state.ENSEMBLE_AUTOBUILD]
    if pending:
        st.session_state[MEMBERS_KEY] = [key for key in pending if key in options]
    elif MEMBERS_KEY in st.session_state:
        # Keep the choice valid when models were renamed, deleted or released elsewhere.
        st.session_state[MEMBERS_KEY] = [k for k in st.session_state[MEMBERS_KEY] if k in options]
    if not options:
        st.info(
            "No trained models yet. Train some on the MNIST page, or train several at once "
            "under **Train new members**."
        )
    return st.multiselect(
        "Members",
        options,
        format_func=describe,
        key=MEMBERS_KEY,
        placeholder="Pick two or more models of one dataset",
    )


def resolve_members(keys: list[str]) -> list | None:
    """The ModelRecords behind picked keys, loading library models once; None on failure."""
    models = st.session_state[_state.MODELS]
    loaded = st.session_state[_state.ENSEMBLE_LOADED]
    records = []
    for key in keys:
        origin, name = key.split(":", 1)
        if origin == SESSION:
            if name not in models:
                st.warning(f"{name} is no longer in this session; pick the members again.")
                return None
            records.append(models[name])
            continue
        if name not in loaded:
            try:
                with st.spinner(f"Loading {name} from the library…"):
                    loaded[name] = ModelLibrary().load(name)
            except ValueError as error:
                st.error(f"{name} cannot be loaded: {error}")
                return None
        records.append(loaded[name])
    for record in records:
        if record.model is None:
            st.error(f"{record.name} was released from memory; load or train it again.")
            return None
    return records


# --- Building ---------------------------------------------------------------------------------


def _probabilities(record, part: str, images: np.ndarray, indices: np.ndarray | None):
    """The member's probabilities on `images`, predicted once per member and image set."""
    digest = None if indices is None else hashlib.sha1(indices.tobytes()).hexdigest()
    key = (record.name, record.created, id(record.model), part, digest)
    cache = st.session_state[_state.ENSEMBLE_CACHE]
    if key not in cache:
        cache[key] = predict_in_chunks(record.model, images)
    return cache[key]


def _prune_cache() -> None:
    """Forget the probabilities of models that have left the session."""
    records = [*st.session_state[_state.MODELS].values()]
    records += st.session_state[_state.ENSEMBLE_LOADED].values()
    live = {(r.name, r.created, id(r.model)) for r in records}
    cache = st.session_state[_state.ENSEMBLE_CACHE]
    for key in [key for key in cache if key[:3] not in live]:
        del cache[key]


def build(records: list) -> dict | None:
    """Check the members, predict what is missing and evaluate; a bundle for `show_result`."""
    _prune_cache()
    try:
        ensemble.check_members(records)
    except ValueError as error:
        st.error(f"These members cannot form an ensemble. {error}")
        return None
    name = records[0].dataset
    if name not in LABELS:
        st.error(
            "CNN Lab cannot tell which dataset these models were trained on; ensembles are "
            "built from MNIST or CIFAR-10 models."
        )
        return None
    dataset = get_dataset(name)
    if tuple(records[0].input_shape) != tuple(dataset.input_shape):
        st.error(f"The members take {records[0].input_shape} inputs, not {name}'s images.")
        return None
    trained_on = {r.name: ensemble.record_training_indices(r, dataset.y_train) for r in records}
    sets = ensemble.judging_sets(len(dataset.y_train), trained_on)
    bar = st.progress(0.0, text="Predicting…")
    members = []
    for i, record in enumerate(records):
        bar.progress(i / len(records), text=f"Predicting with {record.name}…")
        members.append(
            ensemble.MemberPredictions(
                record.name,
                test=_probabilities(record, "test", dataset.x_test, None),
                validation=None
                if sets.validation is None
                else _probabilities(
                    record, "validation", dataset.x_train[sets.validation], sets.validation
                ),
                train=None
                if sets.train_sample is None
                else _probabilities(
                    record, "train", dataset.x_train[sets.train_sample], sets.train_sample
                ),
            )
        )
    bar.empty()
    labels = {
        part: None if indices is None else dataset.y_train[indices]
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
    `_state.keep_widget_values` writes values back, and a widget may not have both."""
    st.session_state.setdefault(key, value)
    return key


def train_panel() -> None:
    """Settings for K new members and the button that queues them on the training engine."""
    busy = any(run["status"] == "training" for run in st.session_state[_state.ENSEMBLE_RUNS])
    left, right = st.columns(2)
    name = left.selectbox(
        "Dataset", list(LABELS), format_func=LABELS.get, key=_initial("ensemble_w_data", "mnist")
    )
    entries = {entry.key: entry for entry in registry.for_dataset(name)}
    mode = left.radio(
        "Members differ by",
        ("seeds", "architectures"),
        format_func={
            "seeds": "seed (one architecture)",
            "architectures": "architecture (registry)",
        }.get,
        key=_initial("ensemble_w_mode", "seeds"),
        horizontal=True,
    )
    if mode == "seeds":
        keys = list(entries)
        default = "mnist_two_conv" if "mnist_two_conv" in keys else keys[0]
        key = left.selectbox(
            "Architecture",
            keys,
            format_func=lambda k: entries[k].title,
            key=_initial(f"ensemble_w_architecture_{name}", default),
        )
        architectures = [key]
        per = left.slider("Members", 2, 8, key=_initial("ensemble_w_count", 3))
    else:
        architectures = left.multiselect(
            "Architectures",
            list(entries),
            format_func=lambda k: entries[k].title,
            key=_initial(f"ensemble_w_architectures_{name}", list(entries)),
        )
        per = left.slider(
            "Members per architecture", 1, 3, key=_initial("ensemble_w_per_architecture", 1)
        )
    epochs = right.slider(
        "Epochs", 1, 12, key=_initial("ensemble_w_epochs", 2), help="The lecture trains 12."
    )
    size = right.selectbox(
        "Training images",
        TRAIN_SIZES,
        format_func=lambda n: "all" if n == 0 else f"{n:,}",
        key=_initial("ensemble_w_train_images", 0),
        help="Fewer images train faster; every member gets the same images.",
    )
    shift = right.slider(
        "Random shifts (pixels)",
        0,
        3,
        key=_initial("ensemble_w_shift", 0),
        help="Data augmentation: each batch is moved by up to this many pixels.",
    )
    seed = right.number_input("First seed", 0, 1_000_000, key=_initial("ensemble_w_seed", 0))
    right.caption(
        f"Batch 128, Adam at 0.001 as in the lecture; the last {VALIDATION_SPLIT:.0%} of the "
        "training images is held out for validation."
    )
    if st.button("Train the members", icon=":material/model_training:", disabled=busy):
        _start(name, architectures, per, epochs, size, shift, int(seed))


def _start(name, architectures, per, epochs, size, shift, seed) -> None:
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
    train_images = len(dataset.y_train) if size == 0 else min(size, len(dataset.y_train))
    data = ensemble.member_training_data(dataset, train_images, data_seed=seed)
    runs = st.session_state[_state.ENSEMBLE_RUNS]
    runs[:] = [run for run in runs if run["status"] == "training"]
    for spec in specs:
        try:
            job = ensemble.start_member_job(spec, data, settings)
        except ValueError as error:
            st.error(f"{spec.name}: {error}")
            continue
        guard_job(job)
        runs.append(
            {
                "spec": spec,
                "job": job,
                "dataset": name,
                "train_images": train_images,
                "data_seed": seed,
                "status": "training",
                "message": "",
            }
        )
    st.rerun()


def _collect(run: dict) -> None:
    """Turn a finished member job into a session model (once) and let the job go."""
    job = run["job"]
    snap = job.snapshot()
    if snap["state"] not in ("finished", "failed"):
        return
    if snap["state"] == "failed":
        run["status"], run["message"] = "failed", snap["error"] or "Training failed."
    elif snap["stopped_early"]:
        run["status"], run["message"] = "stopped", "stopped before the last epoch, not kept"
    else:
        dataset = get_dataset(run["dataset"])
        record = ensemble.record_from_job(
            job, run["spec"], dataset, run["train_images"], run["data_seed"]
        )
        models = st.session_state[_state.MODELS]
        base, copy = record.name, 2
        while record.name in models:
            record.name, copy = f"{base} ({copy})", copy + 1
        models[record.name] = record
        # The job already computed the test-set probabilities: keep them for the ensemble.
        key = (record.name, record.created, id(record.model), "test", None)
        st.session_state[_state.ENSEMBLE_CACHE][key] = job.test_probabilities
        run["status"], run["name"] = "done", record.name
        run["message"] = f"test accuracy {record.test_accuracy:.2%}"
    job.release()
    run["job"] = None


def runs_panel() -> None:
    """One progress bar per member being trained, redrawn every second while any trains."""
    runs = st.session_state[_state.ENSEMBLE_RUNS]
    if not runs:
        return
    active = any(run["status"] == "training" for run in runs)

    @st.fragment(run_every=1.0 if active else None)
    def progress() -> None:
        for run in runs:
            if run["job"] is not None:
                _collect(run)
        for run in runs:
            _progress_line(run)
        still = any(run["status"] == "training" for run in runs)
        if active and not still:
            done = [f"{SESSION}:{run['name']}" for run in runs if run["status"] == "done"]
            st.session_state[_state.ENSEMBLE_AUTOBUILD] = done if len(done) >= 2 else None
            st.rerun()
        if still and st.button("Stop training the members", icon=":material/stop:"):
            for run in runs:
                if run["job"] is not None:
                    run["job"].stop()

    progress()


def _progress_line(run: dict) -> None:
    name = run["spec"].name
    if run["status"] != "training":
        if run["status"] == "done":
            st.progress(1.0, text=f"{run['name']}: trained, {run['message']}")
        elif run["status"] == "failed":
            st.error(f"{name}: {run['message']}")
        else:
            st.caption(f"{name}: {run['message']}")
        return
    snap = run["job"].snapshot()
    if snap["state"] == "queued":
        place = snap["queue_position"]
        text = f"{name}: waiting for its turn" + (f" (number {place} in line)" if place else "")
    else:
        eta = snap["eta_s"]
        text = f"{name}: epoch {snap['epoch']}/{snap['epochs']}" + (
            f", about {eta:.0f} s left" if eta else ""
        )
    st.progress(snap["progress"], text=text)
