"""Training new ensemble members: their settings, and one progress line each while they train.

Members train through the training engine as runs (`cnnlib.ensemble.start_member_run`), queued
on its scheduler; a finished member is kept like any finished run (`_state.keep_run`) and its
test-set probabilities go to the ensemble state's cache.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnlib import ensemble, profiles, registry
from cnnlib.i18n import _
from cnnlib.training import JobState, TrainSettings
from views import _state
from views._data import LABELS, get_dataset
from views._ensemble_widgets import SESSION
from views._session_guard import guard_job
from views._trainer import progress as trainer_progress

TRAIN_SIZES = (1000, 2000, 5000, 10_000, 20_000, 0)  # 0: the whole training set
VALIDATION_SPLIT = 0.1  # as the MNIST page trains; the held-out tenth weighs the members
# The fast best setting (`benchmarks/ensemble.py --settings fast`): seven members of the
# exercise design, each trained with its recipe on every image, none held out. Measured on a
# 2-core CPU: 99.63% test accuracy for their average, 6.6 minutes of training in all; five or
# seven members holding out a tenth reached 99.55-99.60%.
FAST_BEST = {
    "ensemble_w_data": "mnist",
    "ensemble_w_mode": "seeds",
    "ensemble_w_architecture_mnist": "exercise",
    "ensemble_w_count": 7,
    "ensemble_w_epochs": registry.get("exercise").recipe["epochs"],
    "ensemble_w_train_images": 0,
    "ensemble_w_shift": registry.get("exercise").recipe["augment_shift"],
    "ensemble_w_recipe": True,
    "ensemble_w_hold_out": False,
}


def use_fast_best() -> None:
    """Button callback: the widgets take the fast best setting."""
    st.session_state.update(FAST_BEST)


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
    # Titles made now, in this script run: a format function may be called elsewhere.
    titles = {key: entry.shown_title() for key, entry in entries.items()}
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
            format_func=titles.get,
            key=_initial(f"ensemble_w_architecture_{name}", default),
        )
        architectures = [key]
        per = left.slider(_("Members"), 2, 8, key=_initial("ensemble_w_count", 3))
    else:
        architectures = left.multiselect(
            _("Architectures"),
            list(entries),
            format_func=titles.get,
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
    recipe = right.toggle(
        _("Each design's own recipe"),
        key=_initial("ensemble_w_recipe", False),
        help=_(
            "Members of a design the registry gives a training recipe (the exercise's: a cosine "
            "learning-rate schedule from 0.002 and shifts of up to 2 pixels) train with it; the "
            "others train as the lecture does."
        ),
    )
    hold_out = right.toggle(
        _("Hold out the last {share} of the training images").format(
            share=f"{VALIDATION_SPLIT:.0%}"
        ),
        key=_initial("ensemble_w_hold_out", True),
        help=_(
            "Images no member learned from: the weighted average and the stacking are fitted on "
            "them. Without them the members learn from every image, which makes each a little "
            "better, and the ensemble is combined by the average or the vote."
        ),
    )
    seed = right.number_input(_("First seed"), 0, 1_000_000, key=_initial("ensemble_w_seed", 0))
    right.caption(_("Batch 128, Adam at 0.001 as in the lecture."))
    train, fast = st.columns(2)
    fast.button(
        _("Fast best setting"),
        key="ensemble_fast_best",
        on_click=use_fast_best,
        disabled=busy,
        help=_(
            "Seven members of the exercise design, each with its recipe (12 epochs, a cosine "
            "schedule from 0.002 and shifts of up to 2 pixels), on every training image with "
            "none held out. Measured on a 2-core CPU: their average scored 99.63%, on the test "
            "set, after 6.6 minutes of training in all."
        ),
    )
    if train.button(_("Train the members"), icon=":material/model_training:", disabled=busy):
        split = VALIDATION_SPLIT if hold_out else 0.0
        _start(name, architectures, per, epochs, size, shift, recipe, int(seed), split)


def _with_recipe(settings: TrainSettings, architecture: str) -> TrainSettings:
    """`settings` with the design's own learning rate, schedule and shifts, where the registry
    gives it a recipe."""
    recipe = registry.get(architecture).recipe or {}
    changes = {key: recipe[key] for key in ("learning_rate", "schedule", "augment_shift")}
    return dataclasses.replace(settings, **changes) if recipe else settings


def _start(name, architectures, per, epochs, size, shift, recipe, seed, split) -> None:
    state = _state.ensemble()
    try:
        specs = ensemble.plan_members(
            architectures, per, seed, taken=list(st.session_state[_state.MODELS])
        )
        settings = TrainSettings(
            epochs=epochs,
            batch_size=128,
            validation_split=split,
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
            own = _with_recipe(settings, spec.architecture) if recipe else settings
            run = ensemble.start_member_run(
                spec, profile, dataset, own, size or None, data_seed=seed
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
