"""The trainer's settings panel: how to train the network `_trainer_network` picks, and what
it costs.

Every value widget keeps its value across page switches (`persist_state="session"`); its
first value comes from the dataset profile. Learning rate, momentum, batch size and weight
decay also steer a running job. `choose` returns a plain `Choice`; checking it is
`cnnlib.runs`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from cnnlib import registry
from cnnlib.arithmetic import analyse
from cnnlib.i18n import N_, _, ngettext
from cnnlib.layers import Network
from cnnlib.precision import PRECISIONS
from cnnlib.profiles import DatasetProfile
from cnnlib.runs import duration_text, estimate_epoch_seconds, network_problem
from cnnlib.training import OPTIMIZERS, SCHEDULES, TrainSettings
from views._trainer_network import first_value, network_panel

BATCH_SIZES = [1, 4, 8, 16, 32, 64, 128, 256, 512]
SCHEDULE_WORDS = {
    "constant": N_("constant (as the lecture)"),
    "cosine": N_("cosine: falls to zero by the last batch"),
}
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


def choose(page: str, profile: DatasetProfile, dataset, state, running) -> Choice:
    """The network and settings panel; `running` is the page's active run, whose steerable
    settings follow the widgets."""
    network, architecture, lecture, title, problem = network_panel(page, profile)
    left, middle, right = st.columns(3)
    p = profile.settings

    def steer(setting: str) -> None:
        if running is not None and running.state.active:
            getattr(running.job, f"set_{setting}")(st.session_state[f"{page}_w_{setting}"])

    def widget(column, kind, label, key, first, **options):
        return getattr(column, kind)(
            label, key=first_value(f"{page}_w_{key}", first), persist_state="session", **options
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
        schedule = widget(
            st,
            "selectbox",
            _("Learning-rate schedule"),
            "schedule",
            p.get("schedule", "constant"),
            options=SCHEDULES,
            format_func={key: _(words) for key, words in SCHEDULE_WORDS.items()}.get,
            help=_(
                "Cosine starts at the learning rate above and lowers it smoothly to zero at the "
                "end of the run, so the last epochs make small, careful steps."
            ),
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
            p.get("precision", "auto"),
            options=PRECISIONS,
            # Translated now, in this script run: a format function may be called elsewhere.
            format_func={key: _(words) for key, words in PRECISION_WORDS.items()}.get,
            help=_(
                "Measured on a 2-core CPU with native bfloat16 (AVX512-BF16): mixed bfloat16 "
                "trained the lecture's two-convolution model 1.5 times as fast as float32, and "
                "the exercise design reached 99.43% to 99.51% (five seeds) in it, above the "
                "99.35% the lecture reports in float32. On a CPU without native bfloat16, auto "
                "keeps float32, which is faster there."
            ),
        )
        name = widget(
            st, "text_input", _("Name for the trained model"), "model_name", "", placeholder=title
        ).strip()
    values = {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "schedule": schedule,
        "momentum": float(momentum),
        "weight_decay": float(weight_decay),
        "validation_split": 0.1 if validation else 0.0,
        "augment_shift": int(shift),
        "augment_flip": bool(flip),
        "seed": int(seed),
        "precision": precision,
        "test_each_epoch": bool(p.get("test_each_epoch", False)),
    }
    if architecture is not None:
        _recipe(page, architecture, values, sizes[-1], size_key)
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


RECIPE_WIDGETS = {  # recipe key -> the widget's key after the page's prefix
    "epochs": "epochs",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate",
    "schedule": "schedule",
    "augment_shift": "shift",
}


def _recipe(page: str, architecture: str, values: dict, all_images: int, size_key: str) -> None:
    """Where the chosen design has a training recipe of its own, say what it changes from the
    lecture's and offer it with one click."""
    entry = registry.get(architecture)
    if not entry.recipe:
        return
    recipe = {key: entry.recipe[key] for key in RECIPE_WIDGETS if key in entry.recipe}
    if all(values[key] == value for key, value in recipe.items()):
        st.caption(_("Training with this design's recipe."))
        return

    def use() -> None:
        for key, value in recipe.items():
            st.session_state[f"{page}_w_{RECIPE_WIDGETS[key]}"] = value
        st.session_state[f"{page}_w_{size_key}"] = all_images

    st.button(
        _("Use this design's recipe"),
        key=f"{page}_use_recipe",
        on_click=use,
        help=_(
            "{epochs} epochs of batch {batch} with {optimizer} at {rate}, a {schedule} learning-"
            "rate schedule and random shifts of up to {shift} pixels, on every training image. "
            "The design's description says what each change buys."
        ).format(
            epochs=recipe.get("epochs", 12),
            batch=recipe.get("batch_size", 128),
            optimizer=recipe.get("optimizer", "adam"),
            rate=f"{recipe.get('learning_rate', 1e-3):g}",
            schedule=recipe.get("schedule", "constant"),
            shift=recipe.get("augment_shift", 0),
        ),
    )


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
