"""A run: one training job together with what it was started from — the network, the dataset
profile and which of the dataset's images it trains on — and the one way a finished run
becomes a saved model record, whichever page (or the ensemble trainer) started it.

Also here, because every page that trains asks them: whether a network can train on a
profile's images (`network_problem`, the memory budget included), the unique-name rule for
the session's models, and how long an epoch should take. Streamlit is not imported; pages hold
their runs in their session state and draw them from `Run.snapshot()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from cnnlib.i18n import N_, _
from cnnlib.layers import Activation, Dense, Network
from cnnlib.profiles import DatasetProfile
from cnnlib.training.state import JobState

# Effective multiply-accumulates per second when training on this project's reference machine
# (2 CPU cores, float32, batch 128): `benchmarks/draw_predict.py --training` measured
# 1.3e10-2.4e10 for the four MNIST models with the machine quiet, and 1e9-7e9 while other
# work shared it. A page prefers the speed of the session's own last run.
REFERENCE_MACS_PER_S = 1.0e10
# The per-epoch columns a model record keeps, whichever page trained it (pages translate the
# names where they show them as column headers).
HISTORY_KEYS = (
    N_("epoch"),
    N_("loss"),
    N_("accuracy"),
    N_("val_loss"),
    N_("val_accuracy"),
    N_("test_accuracy"),
    N_("seconds"),
)
# The settings a student can change while a run trains, and what the pages call them.
LIVE_SETTINGS = ("learning_rate", "momentum", "batch_size", "weight_decay")
SETTING_NAMES = {
    "learning_rate": N_("learning rate"),
    "momentum": N_("momentum"),
    "batch_size": N_("batch size"),
    "weight_decay": N_("weight decay"),
}


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape)


def network_problem(
    network: Network, profile: DatasetProfile, batch_size: int | None = None
) -> str | None:
    """Why `network` cannot be trained on `profile`'s images and classes (with batches of
    `batch_size`, checked against the memory budget), or None when it can."""
    from cnnlib.arithmetic import analyse
    from cnnlib.budget import check_budget

    try:
        analysis = analyse(network)
    except ValueError as error:
        return _("This network cannot be built: {error}").format(error=error)
    if tuple(network.input_shape) != tuple(profile.input_shape):
        return _(
            "This network takes {shape} inputs, but {dataset} images are {wanted}. Set its "
            "Input to {wanted} in the architecture explorer."
        ).format(
            shape=_shape(network.input_shape),
            dataset=profile.label,
            wanted=_shape(profile.input_shape),
        )
    if tuple(analysis.output_shape) != (profile.num_classes,):
        return _(
            "This network ends with {shape} outputs; it needs {classes}, one per class. End it "
            "with Dense({classes}, softmax)."
        ).format(shape=_shape(analysis.output_shape), classes=profile.num_classes)
    last = network.layers[-1]
    if not (isinstance(last, Dense | Activation) and last.activation == "softmax"):
        return _(
            "The last layer must turn scores into probabilities: give the final Dense layer "
            "activation 'softmax'."
        )
    if batch_size is not None:
        try:
            check_budget(network, batch_size)
        except ValueError as error:
            return str(error)
    return None


def model_problem(input_shape: tuple[int, ...], num_classes: int, profile: DatasetProfile):
    """Why a saved model reading `input_shape` into `num_classes` classes cannot continue
    training on `profile`'s images, naming both shapes, or None when it can."""
    if tuple(input_shape) != tuple(profile.input_shape):
        return _(
            "This snapshot cannot be used here: it reads {shape} images, but {dataset} images "
            "are {wanted}: choose the dataset it was made for, or another snapshot."
        ).format(
            shape=_shape(input_shape), dataset=profile.label, wanted=_shape(profile.input_shape)
        )
    if num_classes != profile.num_classes:
        return _(
            "This snapshot cannot be used here: it tells {classes} classes apart, but "
            "{dataset} has {wanted}: choose the dataset it was made for, or another snapshot."
        ).format(classes=num_classes, dataset=profile.label, wanted=profile.num_classes)
    return None


def unique_name(wanted: str, taken: Any) -> str:
    """`wanted`, or `wanted (2)`, `(3)`... whichever is not taken."""
    wanted = wanted.strip() or "model"
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted} ({number})" in taken:
        number += 1
    return f"{wanted} ({number})"


def estimate_epoch_seconds(
    macs: int, train_images: int, validation_images: int, speeds: list[dict], network_json: str
) -> tuple[float, str]:
    """Seconds one epoch should take, and how the figure was worked out.

    Training an image costs about 3 × its forward MACs (forward pass, then gradients for the
    inputs and the weights); validating costs 1 ×. The speed is, in order of preference: this
    session's last run of the same network (images per second), its last run of any network
    (MACs per second), or the reference machine's measured speed. `speeds` holds one
    {"network_json", "macs", "samples_per_s"} per finished run (`Run.speed()`).
    """
    work = 3 * macs * train_images + macs * validation_images
    same = [run for run in speeds if run["network_json"] == network_json]
    if same:
        rate = same[-1]["samples_per_s"]
        seconds = (train_images + validation_images / 3) / rate
        return seconds, _("measured: your last run of this network trained {rate} images/s").format(
            rate=f"{rate:,.0f}"
        )
    if speeds:
        speed = 3 * speeds[-1]["macs"] * speeds[-1]["samples_per_s"]
        return work / speed, _(
            "from {macs} M multiply-adds per image at {speed}/s, the speed of your last run"
        ).format(macs=f"{macs / 1e6:.2f}", speed=f"{speed:.2g}")
    return work / REFERENCE_MACS_PER_S, _(
        "from {macs} M multiply-adds per image at {speed}/s, measured on a 2-core machine; "
        "your first run here measures this one"
    ).format(macs=f"{macs / 1e6:.2f}", speed=f"{REFERENCE_MACS_PER_S:.0e}")


def duration_text(seconds: float | None) -> str:
    """A duration for people: "40 s", "3 min 05 s", "1 h 02 min"; "—" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return _("less than a second")
    if seconds < 60:
        return _("{seconds} s").format(seconds=f"{seconds:.0f}")
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=f"{rest:02d}")
    hours, minutes = divmod(minutes, 60)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{minutes:02d}")


def lean_model(model: Any) -> Any:
    """A copy of a trained Keras model with its configuration and weights only: no optimizer
    state and no compiled train step, which cost a kept model about eight times its weights.
    Training it again builds a fresh optimizer (`TrainingJob` compiles an initial model)."""
    # Built from its configuration, not `keras.models.clone_model`, which compiles the copy
    # with an optimizer of its own when the original was compiled.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def epoch_columns(entries: list[dict]) -> dict[str, list]:
    """A snapshot's per-epoch entries as one list per key (`HISTORY_KEYS`)."""
    return {key: [entry.get(key) for entry in entries] for key in HISTORY_KEYS}


def change_text(change: dict) -> str:
    """One live change for a table: "learning rate 0.001 from epoch 2, batch 31"."""
    return _("{setting} {value} from epoch {epoch}, batch {batch}").format(
        setting=setting_name(change["setting"]),
        value=f"{change['value']:g}",
        epoch=change["epoch"],
        batch=change["batch"] + 1,
    )


def setting_name(setting: str) -> str:
    """A live setting's name as the pages show it ("learning_rate" → "learning rate")."""
    return _(SETTING_NAMES.get(setting, setting.replace("_", " ")))


@dataclass
class Run:
    """One training job and what it was started from."""

    job: Any  # the cnnlib.training.TrainingJob
    profile: DatasetProfile
    network: Network | None  # the spec it builds; None when it continues an uploaded model
    data: Any  # what the job trains on: the dataset or a subset of it
    name: str  # the name its model gets in the session when kept
    label: str  # how comparisons name the run, e.g. "run 2: ConvNetJS CIFAR-10"
    train_images: int  # training images before the validation split
    data_seed: int  # the seed `cnnlib.datasets.subset` picked those images with
    architecture: str | None = None  # registry key, when the network came from the registry
    lecture_accuracy: float | None = None  # the lecture's figure for this network, if any
    kept_as: str | None = None  # the name its model was kept under, once kept
    kept_model: Any = None  # the lean copy kept in the session, once the job handed it over
    extra: dict = field(default_factory=dict)  # a page's own notes on the run

    @property
    def state(self) -> JobState:
        return JobState(self.job.state)

    def snapshot(self) -> dict:
        return self.job.snapshot()

    @property
    def finished_with_model(self) -> bool:
        """Ended without failing, with its trained model and test results there to keep."""
        snap = self.snapshot()
        return snap["state"] == JobState.FINISHED and bool(snap["test"]) and self.job.model

    def record(self, name: str | None = None, lean: bool = False) -> Any:
        """The `cnnlib.library.ModelRecord` of this run's model and results: the one record
        format, whichever page trained it. Works on a paused run too (its weights so far).
        `lean` keeps only the weights and the configuration (`lean_model`)."""
        from cnnlib.library import ModelRecord

        snap = self.snapshot()
        model = self.job.model
        if model is None:
            model, lean = self.kept_model, False
        if model is None:
            raise ValueError(
                _("{run} has no model to save yet; wait until it trains.").format(run=self.label)
            )
        test = snap.get("test") or {}
        settings = {
            **snap["settings"],
            # The values in use at the end, after any live change, and the changes.
            **{setting: snap[setting] for setting in LIVE_SETTINGS},
            "changes": snap["changes"],
            "train_images": int(self.train_images),
            "data_seed": int(self.data_seed),
            "architecture": self.architecture,
        }
        return ModelRecord(
            name=name or self.kept_as or self.name,
            model=lean_model(model) if lean else model,
            dataset=self.profile.name,
            input_shape=tuple(self.profile.input_shape),
            class_names=list(self.profile.class_names),
            network=self.network,
            settings=settings,
            test_accuracy=test.get("accuracy"),
            test_loss=test.get("loss"),
            history=epoch_columns(snap["epoch_history"]),
            precision=snap["precision"],
            validation_fraction=snap["settings"]["validation_split"],
        )

    def speed(self) -> dict | None:
        """{"network_json", "macs", "samples_per_s"} of a finished run, for later estimates,
        or None. The first epoch also traces the train step, so the last epoch after the first
        is the measure; validation images count a third of a training image."""
        from cnnlib.arithmetic import analyse

        snap = self.snapshot()
        epochs = snap["epoch_history"]
        if self.network is None or len(epochs) < 2 or not epochs[-1].get("seconds"):
            return None
        images = self.train_images
        validation = round(images * snap["settings"].get("validation_split", 0.0))
        return {
            "network_json": self.network.to_json(),
            "macs": analyse(self.network).total_macs,
            "samples_per_s": (images - validation + validation / 3) / epochs[-1]["seconds"],
        }

    def summary(self) -> dict:
        """The run for the comparison of runs: its curves and one table row, with the live
        settings as they were at the end and every change made while it trained. The row's
        column names are English; the page translates them where it shows the table."""
        snap = self.snapshot()
        test = snap.get("test") or {}
        return {
            "label": self.label,
            "batch_size": snap["batch_size"],
            "batch_history": snap["batch_history"],
            "epoch_history": snap["epoch_history"],
            "changes": snap["changes"],
            "row": {
                N_("run"): self.label,
                N_("optimizer"): snap["settings"]["optimizer"],
                N_("learning rate"): snap["learning_rate"],
                N_("momentum"): snap["momentum"],
                N_("batch size"): snap["batch_size"],
                N_("weight decay"): snap["weight_decay"],
                N_("changes while training"): "; ".join(map(change_text, snap["changes"]))
                or _("none"),
                N_("precision"): snap["precision"],
                N_("training images"): self.train_images,
                N_("epochs done"): len(snap["epoch_history"]),
                N_("test accuracy"): test.get("accuracy"),
            },
        }

    def release(self) -> None:
        """Stop the job; its model is dropped unless it was kept in the session."""
        if self.kept_as is None:
            self.job.release()
        else:
            self.job.stop()


def start_run(
    profile: DatasetProfile,
    dataset: Any,
    network: Network | None,
    settings: Any,
    *,
    name: str,
    label: str | None = None,
    train_images: int | None = None,
    data_seed: int | None = None,
    architecture: str | None = None,
    lecture_accuracy: float | None = None,
    initial_model: Any = None,
    probe_interval: float | None = None,
    scheduler: Any = None,
) -> Run:
    """Check, then queue one training run; raises ValueError with what to change.

    `network` must fit `profile` (see `network_problem`, memory budget included) unless
    `initial_model`, a Keras model to continue training, is given instead. `train_images`
    (default: all) are picked from `dataset` by `cnnlib.datasets.subset` with `data_seed`
    (default: the training seed), balanced across classes; the test set stays whole.
    `probe_interval` turns on the live layer view, probed that many seconds apart.
    """
    from cnnlib.build import build_model
    from cnnlib.datasets import subset
    from cnnlib.engines import default_engine
    from cnnlib.inference import model_input_shape

    if initial_model is not None:
        problem = model_problem(
            model_input_shape(initial_model), int(initial_model.output_shape[-1]), profile
        )
    elif network is not None:
        problem = network_problem(network, profile, settings.batch_size)
    else:
        problem = _("Choose a network to train, or a snapshot to continue from.")
    if problem:
        raise ValueError(problem)
    available = len(dataset.y_train)
    train_images = available if train_images is None else min(int(train_images), available)
    data_seed = settings.seed if data_seed is None else int(data_seed)
    data = dataset
    if train_images < available:
        data = subset(dataset, train_images, len(dataset.y_test), seed=data_seed)
    probe = None
    if probe_interval:
        from cnnlib.probes import LiveProbe

        probe = LiveProbe(dataset.x_test, dataset.y_test, dataset.class_names)
    job = default_engine().make_job(
        (lambda policy: build_model(network, dtype_policy=policy))
        if initial_model is None
        else None,
        data,
        settings,
        name=name,
        probe=probe,
        probe_interval=probe_interval or 1.0,
        initial_model=initial_model,
        scheduler=scheduler,
    )
    run = Run(
        job=job,
        profile=profile,
        network=network,
        data=data,
        name=name,
        label=label or name,
        train_images=train_images,
        data_seed=data_seed,
        architecture=architecture,
        lecture_accuracy=lecture_accuracy,
    )
    job.start()
    return run


def with_seed(settings: Any, seed: int) -> Any:
    """The same training settings with another seed (ensemble members differ by it)."""
    return replace(settings, seed=int(seed))
