"""The trainer's settings panel: which network (from the registry, the explorer or edited as
JSON), how to train it, what it costs, and a saved model to continue from.

Every value widget keeps its value across page switches (`persist_state="session"`); its
first value comes from the dataset profile. Learning rate, momentum, batch size and weight
decay also steer a running job. `choose` returns a plain `Choice`; checking it is
`cnnlib.runs`'.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import streamlit as st

from cnnlib import registry
from cnnlib.arithmetic import analyse
from cnnlib.i18n import N_, _, ngettext
from cnnlib.layers import Dropout, Network
from cnnlib.precision import PRECISIONS
from cnnlib.profiles import DatasetProfile
from cnnlib.runs import duration_text, estimate_epoch_seconds, model_problem, network_problem
from cnnlib.training import OPTIMIZERS, TrainSettings
from views import _state

EXPLORER = "explorer"
PROFILE = "profile"  # the choice of the profile's own network
BATCH_SIZES = [1, 4, 8, 16, 32, 64, 128, 256, 512]
PRECISION_WORDS = {
    "auto": N_("auto (bfloat16 where the CPU computes it natively)"),
    "float32": N_("float32 (as the lecture)"),
    "mixed_bfloat16": N_("mixed bfloat16"),
}


@dataclass
class Choice:
    """What the student chose: the network (dropout rates applied) and how to train it."""

    network: Network | None  # None when the JSON cannot be read
    architecture: str | None  # registry key, or None for the explorer's or an edited network
    lecture_accuracy: float | None  # the lecture's test accuracy for this model, if any
    values: dict[str, Any]  # TrainSettings arguments
    train_images: int  # training images to use, before the validation split
    name: str  # the name the trained model gets in the session
    problem: str | None  # why it cannot be trained, or None

    def settings(self) -> TrainSettings:
        return TrainSettings(**self.values)


def _default(key: str, value: Any) -> str:
    """Give a widget its first value through the session state (never as `value=`, which
    Streamlit refuses beside a value set by a button or a persisted one)."""
    st.session_state.setdefault(key, value)
    return key


def _networks(profile: DatasetProfile) -> dict[str, tuple[str, Network, float | None]]:
    choices = {}
    if profile.network is not None:
        # An imported set's own network, chosen for its image size, comes first.
        choices[PROFILE] = (f"{profile.label}: {profile.network.name}", profile.network, None)
    for key in profile.networks:
        entry = registry.get(key)
        choices[key] = (entry.title, entry.network, entry.lecture_accuracy)
    explorer = st.session_state.get(_state.EXPLORER_NETWORK)
    if explorer is not None:
        choices[EXPLORER] = (
            _("From the architecture explorer: {name}").format(name=explorer.name),
            explorer,
            None,
        )
    return choices


def choose(page: str, profile: DatasetProfile, dataset, state, running) -> Choice:
    """The network and settings panel; `running` is the page's active run, whose steerable
    settings follow the widgets."""
    network, architecture, lecture, title, problem = _network_panel(page, profile)
    left, middle, right = st.columns(3)
    p = profile.settings

    def steer(setting: str) -> None:
        if running is not None and running.state.active:
            getattr(running.job, f"set_{setting}")(st.session_state[f"{page}_w_{setting}"])

    def widget(column, kind, label, key, first, **options):
        return getattr(column, kind)(
            label, key=_default(f"{page}_w_{key}", first), persist_state="session", **options
        )

    with left:
        epochs = widget(
            st,
            "number_input",
            _("Epochs"),
            "epochs",
            p.get("epochs", 3),
            min_value=1,
            step=1,
            help=_("Passes over the training images; the lecture trains 12."),
        )
        batch_size = widget(
            st,
            "select_slider",
            _("Batch size"),
            "batch_size",
            p.get("batch_size", 128),
            options=BATCH_SIZES,
            on_change=steer,
            args=("batch_size",),
        )
        sizes = profile.train_size_choices(len(dataset.y_train))
        first_size = profile.default_train_size or sizes[-1]
        size_key = f"train_size_{profile.name}"
        if st.session_state.get(f"{page}_w_{size_key}", sizes[-1]) not in sizes:
            st.session_state[f"{page}_w_{size_key}"] = sizes[-1]
        train_images = widget(
            st,
            "select_slider",
            _("Training images"),
            size_key,
            min(first_size, sizes[-1]),
            options=sizes,
            format_func={
                **{n: f"{n:,}" for n in sizes},
                sizes[-1]: _("{count} (all)").format(count=f"{sizes[-1]:,}"),
            }.get,
            help=_("Fewer images train faster; the lecture uses them all."),
        )
        validation = widget(
            st,
            "checkbox",
            _("Hold out {share} for validation").format(share="10%"),
            "validation",
            p.get("validation_split", 0.1) > 0,
            help=_("The last tenth of the training images, never trained on."),
        )
    with middle:
        optimizer = widget(
            st,
            "selectbox",
            _("Optimizer"),
            "optimizer",
            p.get("optimizer", "adam"),
            options=OPTIMIZERS,
        )
        learning_rate = widget(
            st,
            "number_input",
            _("Learning rate"),
            "learning_rate",
            p.get("learning_rate", 1e-3),
            min_value=1e-6,
            format="%g",
            on_change=steer,
            args=("learning_rate",),
            help=_("Changes apply to a running job from its next batch."),
        )
        momentum = widget(
            st,
            "slider",
            _("Momentum (SGD)"),
            "momentum",
            p.get("momentum", 0.9),
            min_value=0.0,
            max_value=0.99,
            step=0.01,
            on_change=steer,
            args=("momentum",),
        )
        weight_decay = widget(
            st,
            "number_input",
            _("Weight decay (L2)"),
            "weight_decay",
            p.get("weight_decay", 0.0),
            min_value=0.0,
            format="%g",
            on_change=steer,
            args=("weight_decay",),
        )
    with right:
        shift = widget(
            st,
            "slider",
            _("Random shifts (pixels)"),
            "shift",
            p.get("augment_shift", 0),
            min_value=0,
            max_value=4,
        )
        flip = False
        if profile.flip:
            flip = widget(
                st,
                "toggle",
                _("Random horizontal flips"),
                "flip",
                p.get("augment_flip", False),
                help=_("Right for photos; wrong for digits, where a flipped 2 is not a 2."),
            )
        seed = widget(st, "number_input", _("Seed"), "seed", 0, min_value=0, step=1)
        precision = widget(
            st,
            "selectbox",
            _("Precision"),
            "precision",
            "float32" if page == "mnist" else "auto",
            options=PRECISIONS,
            # Translated now, in this script run: a format function may be called elsewhere.
            format_func={key: _(words) for key, words in PRECISION_WORDS.items()}.get,
        )
        name = widget(
            st, "text_input", _("Name for the trained model"), "model_name", "", placeholder=title
        ).strip()
    values = {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "momentum": float(momentum),
        "weight_decay": float(weight_decay),
        "validation_split": 0.1 if validation else 0.0,
        "augment_shift": int(shift),
        "augment_flip": bool(flip),
        "seed": int(seed),
        "precision": precision,
        "test_each_epoch": bool(p.get("test_each_epoch", False)),
    }
    try:
        TrainSettings(**values)
    except ValueError as error:
        problem = problem or _("Change a setting: {error}").format(error=error)
    if network is not None and not problem:
        problem = network_problem(network, profile, values["batch_size"])
    if problem:
        st.error(problem)
    elif network is not None:
        _cost(network, values, int(train_images), state)
    if running is not None:
        st.caption(
            _(
                "Learning rate, momentum, batch size and weight decay steer the running job; the "
                "other settings apply to the next run."
            )
        )
    return Choice(network, architecture, lecture, values, int(train_images), name or title, problem)


def _network_panel(page: str, profile: DatasetProfile):
    """The network picker, its dropout rates and its JSON; returns (network or None,
    registry key, lecture accuracy, title, problem)."""
    choices = _networks(profile)
    key = f"{page}_w_network_{profile.name}"
    if st.session_state.get(key) not in choices:
        st.session_state[key] = next(iter(choices))
    picked = st.selectbox(
        _("Network"),
        list(choices),
        format_func=lambda k: choices[k][0],
        key=key,
        persist_state="session",
        help=_("Registry networks for this dataset, or the one you built in the explorer."),
    )
    title, network, lecture = choices[picked]
    if picked in registry.REGISTRY:
        st.caption(registry.get(picked).summary)
    network = _dropout_sliders(page, picked, network)
    text_key = f"{page}_w_network_json_{profile.name}"
    source = (picked, network.to_json())
    if st.session_state.get(f"{page}_w_network_source_{profile.name}") != source:
        st.session_state[text_key] = network.to_json()
        st.session_state[f"{page}_w_network_source_{profile.name}"] = source
    with st.expander(_("Network definition (JSON)"), expanded=profile.live_view):
        text = st.text_area(
            _("Edit it, then press Start or Change network"),
            key=text_key,
            height=240,
            persist_state="session",
        )
    architecture = picked if picked in registry.REGISTRY else None
    try:
        edited = Network.from_json(text)
    except ValueError as error:
        return (
            None,
            None,
            None,
            title,
            _("This network cannot be built: {error}").format(error=error),
        )
    if edited != network:
        architecture, lecture = None, None
    analysis = analyse(edited) if network_problem(edited, profile) is None else None
    if analysis is not None:
        st.caption(
            _("{params} parameters · {macs} M multiply-adds per image").format(
                params=f"{analysis.total_params:,}", macs=f"{analysis.total_macs / 1e6:,.2f}"
            )
        )
    return edited, architecture, lecture, title, None


def _dropout_sliders(page: str, key: str, network: Network) -> Network:
    """One slider per top-level Dropout layer; returns the network with those rates."""
    positions = [i for i, layer in enumerate(network.layers) if isinstance(layer, Dropout)]
    if not positions:
        return network
    layers = list(network.layers)
    columns = st.columns(len(positions))
    for number, (column, position) in enumerate(zip(columns, positions, strict=True), start=1):
        rate = column.slider(
            _("Dropout {number} (layer {position})").format(number=number, position=position),
            0.0,
            0.9,
            step=0.05,
            key=_default(f"{page}_w_dropout_{key}_{position}", float(layers[position].rate)),
            persist_state="session",
        )
        layers[position] = dataclasses.replace(layers[position], rate=float(rate))
    return Network(network.name, tuple(layers))


def _cost(network: Network, values: dict, train_images: int, state) -> None:
    """Parameter count, operations per image and the time an epoch should take."""
    analysis = analyse(network)
    validation = int(round(train_images * values["validation_split"]))
    seconds, how = estimate_epoch_seconds(
        analysis.total_macs,
        train_images - validation,
        validation,
        state.speeds,
        network.to_json(),
    )
    params, macs, epoch = st.columns(3)
    params.metric(_("Parameters"), f"{analysis.total_params:,}")
    macs.metric(_("Multiply-adds per image"), f"{analysis.total_macs / 1e6:.2f} M")
    epoch.metric(_("Time per epoch (estimate)"), duration_text(seconds), help=how)
    epochs = values["epochs"]
    st.caption(
        ngettext(
            "Estimate {how}. Training for {epochs} epoch: about {duration}.",
            "Estimate {how}. Training for {epochs} epochs: about {duration}.",
            epochs,
        ).format(how=how, epochs=epochs, duration=duration_text(seconds * epochs))
    )


def snapshot_upload(page: str, profile: DatasetProfile, state) -> None:
    """Continue from a snapshot: a `.keras` file saved from a trainer page (or any Keras
    model made for this dataset's images and classes), checked against the profile now and
    again at Start."""
    from cnnlib.library import record_from_bytes

    upload = st.file_uploader(
        _("Start from a snapshot (.keras)"), type=["keras"], key=f"{page}_snapshot_upload"
    )
    if upload is None:
        state.snapshot = None
        return
    current = state.snapshot
    if current is None or current.get("file_id") != upload.file_id:
        try:
            record = record_from_bytes(upload.getvalue(), name=upload.name.removesuffix(".keras"))
        except ValueError as error:
            state.snapshot = None
            st.error(_("That snapshot cannot be used: {error}").format(error=error))
            return
        state.snapshot = current = {"file_id": upload.file_id, "record": record}
    record = current["record"]
    problem = model_problem(tuple(record.input_shape), int(record.model.output_shape[-1]), profile)
    if problem:
        st.error(problem)
        state.snapshot = None
        return
    st.caption(_("Next run starts from the snapshot {name}.").format(name=repr(record.name)))
