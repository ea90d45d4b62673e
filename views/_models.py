"""Widgets every training page can share: the time-per-epoch estimate, the run controls and
live view of a `cnnlib.training.TrainingJob`, the results of a finished run, and the panel that
keeps, saves, loads, uploads and downloads trained models.

Each function draws one part of the screen for one page; `page` is the page's key prefix
("mnist", "cifar"), so that two pages using the same widget never share a widget key. Value
widgets are keyed "<page>_w_<name>" (kept across page switches by `_state`), buttons and
uploaders "<page>_<name>", charts "<page>_chart_<name>". Training, inference and figures are
`cnnlib`'s.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from cnnlib import figures, library
from cnnlib.arithmetic import analyse
from cnnlib.metrics import misclassified
from cnnlib.layers import Activation, Dense, Network
from views import _state

ACTIVE_STATES = ("queued", "running", "paused", "stopping")
# Effective multiply-accumulates per second when training on this project's reference machine
# (2 CPU cores, float32, batch 128): `benchmarks/draw_predict.py --training` measured
# 1.3e10-2.4e10 for the four MNIST models with the machine quiet, and 1e9-7e9 while other
# work shared it. A page prefers the speed of the session's own last run.
REFERENCE_MACS_PER_S = 1.0e10
# Learning rates offered while training: a log scale from 1e-5 to 1 (Adadelta's usual value).
LEARNING_RATES = [
    round(10**exponent * mantissa, 6) for exponent in range(-5, 0) for mantissa in (1, 2, 5)
] + [1.0]
LIVE_REFRESH_S = 1.0  # seconds between redraws of a running job


# --- Before training ---------------------------------------------------------------------------


def network_problem(network: Network, input_shape: tuple[int, ...], num_classes: int) -> str | None:
    """Why `network` cannot be trained on images of `input_shape` with `num_classes` classes,
    or None when it can."""
    try:
        analysis = analyse(network)
    except ValueError as error:
        return f"This network cannot be built: {error}"
    if tuple(network.input_shape) != tuple(input_shape):
        return (
            f"This network takes {_shape(network.input_shape)} inputs, but the images are "
            f"{_shape(input_shape)}. Set its Input to {_shape(input_shape)} in the architecture "
            "explorer."
        )
    if tuple(analysis.output_shape) != (num_classes,):
        return (
            f"This network ends with {_shape(analysis.output_shape)} outputs; it needs "
            f"{num_classes}, one per class. End it with Dense({num_classes}, softmax)."
        )
    last = network.layers[-1]
    ends_in_softmax = (isinstance(last, Dense) and last.activation == "softmax") or (
        isinstance(last, Activation) and last.activation == "softmax"
    )
    if not ends_in_softmax:
        return (
            "The last layer must turn scores into probabilities: give the final Dense layer "
            "activation 'softmax'."
        )
    return None


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape)


def estimate_epoch_seconds(
    macs: int, train_images: int, validation_images: int, runs: list[dict], network_json: str
) -> tuple[float, str]:
    """Seconds one epoch should take, and how the figure was worked out.

    Training an image costs about 3 × its forward MACs (forward pass, then gradients for the
    inputs and the weights); validating costs 1 ×. The speed is, in order of preference: this
    session's last run of the same network (images per second), its last run of any network
    (MACs per second), or the reference machine's measured speed.
    """
    work = 3 * macs * train_images + macs * validation_images
    same = [run for run in runs if run["network_json"] == network_json]
    if same:
        rate = same[-1]["samples_per_s"]
        seconds = (train_images + validation_images / 3) / rate
        return seconds, f"measured: your last run of this network trained {rate:,.0f} images/s"
    if runs:
        speed = 3 * runs[-1]["macs"] * runs[-1]["samples_per_s"]
        return work / speed, (
            f"from {macs / 1e6:.2f} M multiply-adds per image at {speed:.2g}/s, the speed of "
            "your last run"
        )
    return work / REFERENCE_MACS_PER_S, (
        f"from {macs / 1e6:.2f} M multiply-adds per image at {REFERENCE_MACS_PER_S:.0e}/s, "
        "measured on a 2-core machine; your first run here measures this one"
    )


def measured_speed(snap: dict, images: int) -> float | None:
    """Training images per second a finished run achieved, for later estimates, or None.

    The first epoch also traces the train step, so a run's last epoch after the first is the
    measure; validation images count a third of a training image (no backward pass).
    """
    epochs = snap["epoch_history"]
    if len(epochs) < 2 or not epochs[-1].get("seconds"):
        return None
    validation = round(images * snap["settings"].get("validation_split", 0.0))
    return (images - validation + validation / 3) / epochs[-1]["seconds"]


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def unique_name(wanted: str, taken: Any) -> str:
    """`wanted`, or `wanted (2)`, `(3)`... whichever is not taken."""
    wanted = wanted.strip() or "model"
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted} ({number})" in taken:
        number += 1
    return f"{wanted} ({number})"


# --- While training ----------------------------------------------------------------------------


def is_active(job: Any) -> bool:
    return job is not None and job.state in ACTIVE_STATES


def start_live_controls(page: str, learning_rate: float) -> None:
    """Set the live controls to a new job's settings; call it when the job starts."""
    st.session_state[f"{page}_w_live_learning_rate"] = learning_rate


def live_view(job: Any, info: dict, page: str, on_finish: Callable[[Any, dict], None]) -> None:
    """Controls, progress and live curves of `job`, redrawn every second while it is active.

    The view is a fragment: it redraws on its own while the user works elsewhere on the page,
    and a page left and visited again draws it anew from the job in the session. When the job
    ends, `on_finish(job, snapshot)` runs once (`info["finished"]` records it) and the whole
    page reruns to show the results.
    """

    @st.fragment(run_every=LIVE_REFRESH_S if is_active(job) else None)
    def view() -> None:
        snap = job.snapshot()
        if snap["state"] not in ACTIVE_STATES and not info.get("finished"):
            info["finished"] = True
            on_finish(job, snap)
            st.rerun()
        run_controls(job, snap, page)
        progress(snap)
        st.plotly_chart(
            figures.training_curves(
                snap["batch_history"],
                epoch_columns(snap["epoch_history"]),
                steps_per_epoch=snap["batches_per_epoch"],
            ),
            key=f"{page}_chart_live_curves",
        )

    view()


def run_controls(job: Any, snap: dict, page: str) -> None:
    """Pause or resume, stop, and change the learning rate while the job runs."""
    state = snap["state"]
    if state not in ACTIVE_STATES:
        return
    pause, stop, rate = st.columns([1, 1, 3], vertical_alignment="bottom")
    if state == "paused":
        if pause.button("Resume", key=f"{page}_resume", icon=":material/play_arrow:"):
            job.resume()
            st.rerun(scope="fragment")
    elif pause.button(
        "Pause", key=f"{page}_pause", icon=":material/pause:", disabled=state == "stopping"
    ):
        job.pause()
        st.rerun(scope="fragment")
    if stop.button(
        "Stop", key=f"{page}_stop", icon=":material/stop:", disabled=state == "stopping"
    ):
        job.stop()
        st.rerun(scope="fragment")
    key = f"{page}_w_live_learning_rate"
    current = st.session_state.get(key, snap["learning_rate"])
    rate.select_slider(
        "Learning rate (applies from the next batch)",
        options=sorted(set(LEARNING_RATES) | {snap["learning_rate"], current}),
        key=key,
        persist_state="session",
        format_func=lambda value: f"{value:g}",
        on_change=lambda: job.set_learning_rate(st.session_state[key]),
    )


def progress(snap: dict) -> None:
    state = snap["state"]
    epoch, epochs = snap["epoch"], snap["epochs"]
    words = {
        "queued": "Waiting for a free training slot"
        + (f" (position {snap['queue_position']})" if snap.get("queue_position") else ""),
        "running": f"Epoch {epoch} of {epochs}, batch {snap['batch']} of "
        f"{snap['batches_per_epoch']}",
        "paused": f"Paused in epoch {epoch} of {epochs}",
        "stopping": "Stopping: measuring the test accuracy of the weights so far",
        "finished": "Finished" + (" (stopped early)" if snap["stopped_early"] else ""),
        "failed": "Failed",
    }
    eta = f" · about {format_seconds(snap['eta_s'])} left" if snap["eta_s"] else ""
    speed = f" · {snap['samples_per_s']:,.0f} images/s" if snap["samples_per_s"] else ""
    st.progress(float(snap["progress"]), text=f"{words.get(state, state)}{eta}{speed}")


def epoch_columns(entries: list[dict]) -> dict[str, list]:
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
    return {key: [entry.get(key) for entry in entries] for key in keys}


# --- After training ----------------------------------------------------------------------------


def results(snap: dict, probabilities: Any, x_test: Any, y_test: Any, page: str) -> None:
    """Confusion matrix, per-class accuracy and the most confident mistakes of a finished run."""
    test = snap.get("test")
    if not test:
        return
    class_names = test["class_names"]
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
        st.plotly_chart(
            figures.confusion_matrix_figure(test["confusion"], class_names),
            key=f"{page}_chart_confusion",
        )
    with right:
        st.markdown("**Accuracy per class**")
        st.plotly_chart(
            figures.per_class_accuracy_figure(
                test["per_class_accuracy"], class_names, overall=test["accuracy"]
            ),
            key=f"{page}_chart_per_class",
        )
    if probabilities is None or len(probabilities) != len(y_test):
        return
    mistakes = misclassified(probabilities, y_test, k=24)
    st.markdown(
        f"**Misread test images** ({sum(1 for _ in mistakes)} most confident of "
        f"{int((probabilities.argmax(axis=1) != y_test).sum()):,} mistakes): true label → "
        "the model's answer (its probability)"
    )
    if not mistakes:
        st.success("The model reads every test image correctly.")
        return
    st.plotly_chart(
        figures.image_gallery(
            [x_test[item["index"]] for item in mistakes],
            [
                f"{class_names[item['true']]} → {class_names[item['predicted']]} "
                f"({item['probability']:.0%})"
                for item in mistakes
            ],
            columns=8,
            caption_colours=[figures.WRONG_COLOUR] * len(mistakes),
        ),
        key=f"{page}_chart_mistakes",
    )


def record_from_job(
    job: Any, snap: dict, name: str, dataset: str, network: Network, train_images: int
) -> Any:
    """A `ModelRecord` of a finished job's model and results. `train_images` is the size of
    the training data before the validation split, which tells the ensemble page which
    images the model saw."""
    test = snap.get("test") or {}
    return library.ModelRecord(
        name=name,
        model=job.model,
        dataset=dataset,
        input_shape=tuple(int(size) for size in job.model.input_shape[1:]),
        class_names=list(test.get("class_names") or []),
        network=network,
        settings={**snap["settings"], "train_images": int(train_images)},
        test_accuracy=test.get("accuracy"),
        test_loss=test.get("loss"),
        history=epoch_columns(snap["epoch_history"]),
        precision=snap["precision"],
        validation_fraction=snap["settings"].get("validation_split"),
    )


# --- Models of the session and the library -----------------------------------------------------


def models_for(input_shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    """The session's models that read images of `input_shape` into `num_classes` classes."""
    return {
        name: record
        for name, record in st.session_state[_state.MODELS].items()
        if record.model is not None
        and tuple(record.input_shape) == tuple(input_shape)
        and len(record.class_names) == num_classes
    }


def model_panel(page: str, dataset: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Keep, save, download, load and upload models for this page's dataset."""
    mine = models_for(input_shape, num_classes)
    shelf = library.ModelLibrary()
    session_tab, library_tab, upload_tab = st.tabs(
        ["In this session", "Model library", "Upload a .keras file"]
    )
    with session_tab:
        if not mine:
            st.info("No model yet: train one above, or load one from the library.")
        else:
            _session_models(page, mine, shelf)
    with library_tab:
        _library_models(page, dataset, input_shape, num_classes, shelf)
    with upload_tab:
        _upload(page, input_shape, num_classes)


def _session_models(page: str, mine: dict[str, Any], shelf: library.ModelLibrary) -> None:
    rows = [
        {
            "name": name,
            "test accuracy": record.test_accuracy,
            "epochs": record.settings.get("epochs"),
            "source": record.source,
            "created": record.created,
        }
        for name, record in mine.items()
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={"test accuracy": st.column_config.NumberColumn(format="percent")},
    )
    name = st.selectbox("Model", list(mine), key=f"{page}_w_session_model", persist_state="session")
    if name is None:
        return
    record = mine[name]
    save_as = st.text_input(
        "Name in the library", placeholder=name, key=f"{page}_w_save_name", persist_state="session"
    ).strip()
    overwrite = st.checkbox(
        "Replace a saved model of that name", key=f"{page}_w_overwrite", persist_state="session"
    )
    save, download, remove = st.columns(3)
    if save.button("Save to library", key=f"{page}_save", icon=":material/save:"):
        try:
            stored = dataclasses.replace(record, name=save_as) if save_as else record
            path = shelf.save(stored, overwrite=overwrite)
            st.toast(f"Saved as {path.stem!r} in the model library.")
        except ValueError as error:
            st.error(str(error))
    download.download_button(
        "Download .keras",
        data=lambda: library.record_to_bytes(record),
        file_name=f"{library.safe_name(name)}.keras",
        mime="application/octet-stream",
        key=f"{page}_download",
        icon=":material/download:",
        on_click="ignore",
    )
    if remove.button("Remove from session", key=f"{page}_remove", icon=":material/delete:"):
        models = st.session_state[_state.MODELS]
        models.pop(name, None)
        library.release(record)
        st.rerun()


def _library_models(page, dataset, input_shape, num_classes, shelf) -> None:
    entries = [
        entry
        for entry in shelf.list()
        if entry["error"] is None and entry["dataset"] in (dataset, None, "unknown")
    ]
    if not entries:
        st.info(f"The model library has no {dataset.upper()} model yet: save one from the session.")
        return
    labels = {
        entry["name"]: f"{entry['name']}"
        + (f" · {entry['test_accuracy']:.2%}" if entry["test_accuracy"] is not None else "")
        for entry in entries
    }
    name = st.selectbox(
        "Saved model",
        list(labels),
        format_func=labels.get,
        key=f"{page}_w_library_model",
        persist_state="session",
    )
    if st.button("Load into session", key=f"{page}_load", icon=":material/upload:"):
        try:
            record = shelf.load(
                name, expected_input_shape=input_shape, expected_classes=num_classes
            )
        except ValueError as error:
            st.error(str(error))
            return
        _keep(record)


def _upload(page: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    upload = st.file_uploader(
        "A model saved by CNN Lab or by Keras (`model.save('name.keras')`)",
        type=["keras"],
        key=f"{page}_model_file",
    )
    # The uploader keeps its file across reruns; `<page>_upload` remembers which one was read.
    if upload is None or st.session_state.get(f"{page}_upload") == upload.file_id:
        return
    st.session_state[f"{page}_upload"] = upload.file_id
    try:
        record = library.record_from_bytes(
            upload.getvalue(),
            expected_input_shape=input_shape,
            expected_classes=num_classes,
            name=upload.name.removesuffix(".keras"),
        )
    except ValueError as error:
        st.error(str(error))
        return
    _keep(record)


def _keep(record: Any) -> None:
    models = st.session_state[_state.MODELS]
    record.name = unique_name(record.name, models)
    models[record.name] = record
    st.toast(f"{record.name!r} is ready in this session.")
    st.rerun()
