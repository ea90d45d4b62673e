"""The CIFAR-10 page's training run: its buttons, the live view that redraws while it trains,
and what happens to a run when it ends or is replaced.

The job lives in this session's state; only the live fragment reads it, once a second, from
its plain-data snapshot. No Streamlit call is made from the training thread.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import datasets
from cnnlib.build import build_model
from cnnlib.library import ModelRecord, record_from_bytes, record_to_bytes, release
from cnnlib.probes import LiveProbe
from cnnlib.training import TrainingJob
from views import _cifar_widgets as widgets
from views import _state
from views._data import LABELS
from views._session_guard import guard_job

ACTIVE = ("queued", "running", "paused", "stopping")
# Seconds between two redraws of the live view while a job is active.
REFRESH_S = 1.0


def _job() -> TrainingJob | None:
    return st.session_state.get(_state.CIFAR_JOB)


def snapshot_upload(dataset) -> None:
    """Start from a snapshot: a `.keras` file saved from this page (or any Keras model made
    for this dataset's images and classes)."""
    upload = st.file_uploader(
        "Start from a snapshot (.keras)", type=["keras"], key="cifar_b_snapshot_upload"
    )
    if upload is None:
        st.session_state[_state.CIFAR_SNAPSHOT] = None
        return
    current = st.session_state.get(_state.CIFAR_SNAPSHOT)
    if current is not None and current.get("file_id") == upload.file_id:
        st.caption(f"Next run starts from the snapshot {current['record'].name!r}.")
        return
    try:
        record = record_from_bytes(
            upload.getvalue(),
            expected_input_shape=tuple(dataset.input_shape),
            expected_classes=dataset.num_classes,
            name=upload.name.removesuffix(".keras"),
        )
    except ValueError as error:
        st.session_state[_state.CIFAR_SNAPSHOT] = None
        st.error(f"That snapshot cannot be used: {error}")
        return
    st.session_state[_state.CIFAR_SNAPSHOT] = {"file_id": upload.file_id, "record": record}
    st.caption(f"Next run starts from the snapshot {record.name!r}.")


def controls(network, dataset, train_size: int, settings) -> None:
    job = _job()
    state = job.snapshot()["state"] if job is not None else None
    active = state in ACTIVE
    snapshot = st.session_state.get(_state.CIFAR_SNAPSHOT)
    buttons = st.columns(5)
    start_label = "Change network (restart)" if active else "Start training"
    can_start = network is not None or snapshot is not None
    if buttons[0].button(start_label, type="primary", disabled=not can_start, width="stretch"):
        _start(network, dataset, train_size, settings, snapshot)
        st.rerun()
    paused = state == "paused"
    if buttons[1].button(
        "Resume" if paused else "Pause",
        disabled=state not in ("running", "paused", "queued"),
        width="stretch",
    ):
        job.resume() if paused else job.pause()
        st.rerun()
    if buttons[2].button("Stop", disabled=not active, width="stretch"):
        job.stop()
        st.rerun()
    if buttons[3].button("Clear graph", disabled=job is None, width="stretch"):
        job.clear_batch_history()
    if job is not None and state in ("paused", "finished"):
        info = st.session_state[_state.CIFAR_JOB_INFO]
        buttons[4].download_button(
            "Save snapshot",
            data=lambda: record_to_bytes(_record(job, info)),
            file_name=f"{info['label']}.keras".replace(" ", "_"),
            mime="application/zip",
            width="stretch",
        )


def _start(network, dataset, train_size, settings, snapshot) -> None:
    _retire_current()
    runs = st.session_state[_state.CIFAR_RUNS]
    start_record = snapshot["record"] if snapshot is not None else None
    if start_record is not None and start_record.model is None:
        start_record = None  # already used by an earlier run, which took over its model
    if start_record is not None:
        # The snapshot's own network, when it carries one; else the editor's, for labels only.
        network = start_record.network or network
    training = dataset
    if train_size < len(dataset.x_train):
        training = datasets.subset(dataset, train_size, len(dataset.x_test), seed=settings.seed)
    label = (
        f"run {len(runs) + 1}: {network.name if network else 'snapshot'} on {LABELS[dataset.name]}"
    )
    probe = LiveProbe(dataset.x_test, dataset.y_test, dataset.class_names)
    job = TrainingJob(
        (lambda policy: build_model(network, dtype_policy=policy)) if network else None,
        training,
        settings,
        name=label,
        probe=probe,
        probe_interval=REFRESH_S,
        initial_model=start_record.model if start_record is not None else None,
    )
    if start_record is not None:
        start_record.model = None  # the job trains it from here on
        st.session_state[_state.CIFAR_SNAPSHOT] = None
    st.session_state[_state.CIFAR_JOB] = job
    st.session_state[_state.CIFAR_JOB_INFO] = {
        "network": network,
        "dataset": dataset,
        "label": label,
        "kept": False,
        "train_size": len(training.x_train),
    }
    job.start()
    guard_job(job)


def _retire_current() -> None:
    """Stop this session's previous job and keep its curves for the comparison chart."""
    job = _job()
    if job is None:
        return
    job.stop()
    job.wait(timeout=30)
    _archive(job)
    release_job_model = not st.session_state[_state.CIFAR_JOB_INFO]["kept"]
    if release_job_model:
        job.release()
    st.session_state[_state.CIFAR_JOB] = None


def _archive(job: TrainingJob) -> None:
    info = st.session_state[_state.CIFAR_JOB_INFO]
    snap = job.snapshot()
    runs = st.session_state[_state.CIFAR_RUNS]
    if any(run["label"] == info["label"] for run in runs):
        return
    settings = snap["settings"]
    test = snap.get("test") or {}
    runs.append(
        {
            "label": info["label"],
            "batch_size": snap["batch_size"],
            "batch_history": snap["batch_history"],
            "epoch_history": snap["epoch_history"],
            "row": {
                "run": info["label"],
                "optimizer": settings["optimizer"],
                "learning rate": snap["learning_rate"],
                "momentum": snap["momentum"],
                "batch size": snap["batch_size"],
                "weight decay": snap["weight_decay"],
                "precision": snap["precision"],
                "training images": info["train_size"],
                "epochs done": len(snap["epoch_history"]),
                "test accuracy": test.get("accuracy"),
            },
        }
    )


def _record(job: TrainingJob, info: dict) -> ModelRecord:
    snap = job.snapshot()
    dataset = info["dataset"]
    test = snap.get("test") or {}
    return ModelRecord(
        name=info["label"],
        model=job.model,
        dataset=dataset.name,
        input_shape=tuple(dataset.input_shape),
        class_names=list(dataset.class_names),
        network=info["network"],
        # The ensemble page needs to know which images the model trained on.
        settings={**snap["settings"], "train_images": info["train_size"]},
        test_accuracy=test.get("accuracy"),
        test_loss=test.get("loss"),
        history={
            key: [entry.get(key) for entry in snap["epoch_history"]]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy", "test_accuracy")
        },
        precision=snap["precision"],
        validation_fraction=snap["settings"]["validation_split"],
    )


def _keep_finished(job: TrainingJob) -> None:
    """A finished run's model joins the session's models, where the ensemble page finds it."""
    info = st.session_state[_state.CIFAR_JOB_INFO]
    if info["kept"] or job.model is None:
        return
    models = st.session_state[_state.MODELS]
    old = models.get(info["label"])
    if old is not None and old.model is not job.model:
        release(old)
    models[info["label"]] = _record(job, info)
    info["kept"] = True
    _archive(job)


def live_view() -> None:
    job = _job()
    if job is None:
        st.info("Choose a network and settings, then press **Start training**.")
        return
    active = job.snapshot()["state"] in ACTIVE
    st.fragment(run_every=REFRESH_S if active else None)(_draw)()


def _draw() -> None:
    job = _job()
    if job is None:
        return
    snap = job.snapshot()
    info = st.session_state[_state.CIFAR_JOB_INFO]
    if snap["state"] == "finished" and not info["kept"]:
        _keep_finished(job)
    widgets.progress_line(snap)
    widgets.statistics(snap)
    widgets.loss_graph(snap)
    net_tab, stream_tab, results_tab = st.tabs(
        ["Network, layer by layer", "Test images", "Results on the test set"]
    )
    with net_tab:
        widgets.network_view(snap, info["network"])
    with stream_tab:
        widgets.test_stream(snap)
    with results_tab:
        dataset = info["dataset"]
        if snap.get("test"):
            widgets.results(snap, dataset.class_names, job.test_probabilities, dataset)
        else:
            st.info("Full test-set results appear at the end of each epoch and when training ends.")
    if snap["state"] not in ACTIVE and st.session_state[_state.CIFAR_LIVE_ACTIVE]:
        # The run just ended: redraw the whole page once so the fragment stops refreshing and
        # the buttons show the new state.
        st.session_state[_state.CIFAR_LIVE_ACTIVE] = False
        st.rerun()
    st.session_state[_state.CIFAR_LIVE_ACTIVE] = snap["state"] in ACTIVE
