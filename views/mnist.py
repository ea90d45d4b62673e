"""MNIST digits: train the lecture's Keras models live, compare the test accuracy with the
lecture's, then draw digits for a trained model to read, feature map by feature map.

The training job lives in the session, so it keeps running (and its charts keep updating)
while the student uses other widgets or other pages.
"""

import streamlit as st

from views import _mnist_widgets as mw
from views import _state
from views import _training_widgets as tw
from views._data import dataset_caption, get_dataset

st.title("MNIST digits")
st.caption(
    "Lecture sections 5.2 and 5.3: train a CNN on 28×28 handwritten digits, aim for the "
    "exercise's 99.3% test accuracy, then draw a digit and watch the network read it."
)
train_tab, draw_tab, models_tab = st.tabs(["Train", "Draw a digit", "Models"])

# The drawing and model tabs are drawn first: they work without the dataset, which the
# training tab may still be fetching (or fail to find).
with draw_tab:
    mw.drawing_panel()

with models_tab:
    tw.model_panel("mnist", "mnist", mw.INPUT_SHAPE, mw.NUM_CLASSES)


def keep_model(job, snap) -> None:
    """When a run ends: remember its speed, and keep its model in the session."""
    info = st.session_state[_state.MNIST_JOB_INFO]
    speed = tw.measured_speed(snap, len(info["data"].y_train))
    if speed:
        st.session_state[_state.MNIST_RUNS].append(
            {
                "network_json": info["network"].to_json(),
                "macs": info["macs"],
                "samples_per_s": speed,
            }
        )
    if snap["state"] == "finished" and snap.get("test") and job.model is not None:
        models = st.session_state[_state.MODELS]
        name = tw.unique_name(info["name"], models)
        models[name] = tw.record_from_job(
            job, snap, name, "mnist", info["network"], len(info["data"].y_train)
        )
        info["model_name"] = name


def start(choice: mw.RunChoice, dataset) -> bool:
    """Start a training job for `choice`; False (with a message shown) if it cannot start."""
    from cnnlib.arithmetic import analyse
    from cnnlib.build import build_model
    from cnnlib.datasets import subset
    from cnnlib.training import TrainingJob, TrainSettings
    from views._session_guard import guard_job

    network = choice.network
    try:
        settings = TrainSettings(**choice.settings)
        data = dataset
        if choice.train_images < len(dataset.x_train):
            data = subset(dataset, choice.train_images, len(dataset.y_test), seed=settings.seed)
        job = TrainingJob(lambda policy: build_model(network, policy), data, settings, choice.name)
    except ValueError as error:
        st.error(f"Cannot start: {error}")
        return False
    previous = st.session_state[_state.MNIST_JOB]
    if previous is not None:
        # Its model, if it was kept, stays with its record in the session.
        previous.release()
    st.session_state[_state.MNIST_JOB] = job
    st.session_state[_state.MNIST_JOB_INFO] = {
        "network": network,
        "key": choice.key,
        "title": choice.title,
        "name": choice.name,
        "lecture_accuracy": choice.lecture_accuracy,
        "data": data,
        "macs": analyse(network).total_macs,
        "finished": False,
    }
    tw.start_live_controls("mnist", settings.learning_rate)
    job.start()
    guard_job(job)
    return True


with train_tab:
    dataset = get_dataset("mnist")
    st.caption(dataset_caption(dataset))
    choice = mw.choose_run(dataset)
    if choice.problem:
        st.error(choice.problem)
    mw.cost(choice, dataset)
    job = st.session_state[_state.MNIST_JOB]
    running = tw.is_active(job)
    if st.button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        key="mnist_start",
        disabled=running or bool(choice.problem),
        help="Stop the current run first." if running else None,
    ):
        if start(choice, dataset):
            # Redraw the whole page so that Start shows as unavailable while the job runs.
            st.rerun()
    if job is not None:
        info = st.session_state[_state.MNIST_JOB_INFO]
        st.subheader(f"Run: {info['name']}")
        tw.live_view(job, info, "mnist", keep_model)
        snap = job.snapshot()
        if snap["state"] == "failed":
            st.error(snap["error"] or "Training failed.")
        elif snap["state"] == "finished" and snap.get("test"):
            mw.test_accuracy(snap, info)
            if info.get("model_name"):
                st.success(
                    f"Kept in this session as {info['model_name']!r}: draw a digit for it in the "
                    "Draw tab, or save it in the Models tab."
                )
            data = info["data"]
            tw.results(snap, job.test_probabilities, data.x_test, data.y_test, "mnist")
