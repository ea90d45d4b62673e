"""The MNIST page's own panels: the lecture's settings in one click, a run's test accuracy
beside the lecture's, and the drawing pad that a trained model reads, with why it read the
drawing so and its layers opened large on request. The pad (`_drawing_pad`) sends each stroke
at once, and a stroke's charts are filled into figures built once, so that the reading follows
the pen. Training itself is the one trainer's (`_trainer`);
preprocessing a drawing, predicting and figures are `cnnlib`'s, explanations
`_explain_widgets`'.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import streamlit as st

from cnnlib import i18n, registry
from cnnlib.drawing import preprocess_drawing
from cnnlib.i18n import _, ngettext
from views import _state
from views._drawing_pad import drawing_pad
from views._explain_widgets import explain_panel, layer_maps_panel
from views._models import models_for

INPUT_SHAPE = (28, 28, 1)
RUN_WATCH_S = 2.0  # seconds between looks at a run that trains while the student draws
NUM_CLASSES = 10


def use_lecture_settings(train_size: int) -> None:
    """Button callback: the lecture's run (`registry.LECTURE_MNIST_SETTINGS`: 12 epochs of
    batch 128 with Adam) on every image, with none held out (the lecture validates on the test
    set, which this page keeps for the final test), in float32 as the lecture trained, at a
    constant learning rate and with no shifted images."""
    lecture = registry.LECTURE_MNIST_SETTINGS
    st.session_state.update(
        {
            "mnist_w_epochs": lecture["epochs"],
            "mnist_w_batch_size": lecture["batch_size"],
            "mnist_w_optimizer": lecture["optimizer"],
            "mnist_w_learning_rate": lecture["learning_rate"],
            "mnist_w_train_size_mnist": train_size,
            "mnist_w_validation": False,
            "mnist_w_precision": "float32",
            "mnist_w_schedule": "constant",
            "mnist_w_shift": 0,
        }
    )


def lecture_settings_button(dataset) -> None:
    st.button(
        _("Use the lecture's settings"),
        key="mnist_lecture_settings",
        on_click=use_lecture_settings,
        args=(len(dataset.y_train),),
        help=_("12 epochs, batch 128, Adam at 0.001, all training images, none held out."),
    )


def test_accuracy(run, snap: dict) -> None:
    """The run's test accuracy beside the figure the lecture reports for the same model."""
    accuracy = snap["test"]["accuracy"]
    lecture = run.lecture_accuracy
    settings = snap["settings"]
    ours, theirs = st.columns(2)
    ours.metric(
        _("Test accuracy on {count} test images").format(count=f"{len(run.data.y_test):,}"),
        f"{accuracy:.2%}",
        delta=None
        if lecture is None
        else _("{points} points").format(points=f"{(accuracy - lecture) * 100:+.2f}"),
    )
    if lecture is None:
        theirs.metric(
            _("The lecture's figure"), "—", help=_("The lecture reports none for this model.")
        )
        return
    theirs.metric(_("The lecture's figure"), f"{lecture:.2%}")
    images = round(run.train_images * (1 - settings["validation_split"]))
    epochs = len(snap["epoch_history"])
    if (images, epochs, settings["batch_size"]) != (60_000, 12, 128):
        st.caption(
            ngettext(
                "The lecture trained on all 60,000 images for 12 epochs of batch 128; this run "
                "trained on {images} images for {epochs} epoch of batch {batch}, so the two "
                'figures are not like for like. "{button}" sets up a run that is.',
                "The lecture trained on all 60,000 images for 12 epochs of batch 128; this run "
                "trained on {images} images for {epochs} epochs of batch {batch}, so the two "
                'figures are not like for like. "{button}" sets up a run that is.',
                epochs,
            ).format(
                images=f"{images:,}",
                epochs=epochs,
                batch=settings["batch_size"],
                button=_("Use the lecture's settings"),
            )
        )


def drawing_panel() -> None:
    """Draw a digit and watch a model of the session read it."""
    run = _state.trainer("mnist").run
    if run is not None and run.kept_as is None and run.state.active:
        _training_elsewhere()
    models = models_for(INPUT_SHAPE, NUM_CLASSES)
    if not models:
        st.info(
            _(
                "No MNIST model in this session yet. Train one in the Train tab, or load one in "
                "the Models tab; then draw a digit here."
            )
        )
        return
    names = list(models)
    if st.session_state.get("mnist_w_draw_model") not in names:
        st.session_state["mnist_w_draw_model"] = names[-1]
    name = st.selectbox(
        _("Model that reads your drawing"), names, key="mnist_w_draw_model", persist_state="session"
    )
    from cnnlib.inference import warm_up

    # Compiled now, while the student picks up the pen, rather than after the first stroke.
    warm_up(models[name].model)
    _drawing_fragment(name)


@st.fragment(run_every=RUN_WATCH_S)
def _training_elsewhere() -> None:
    """While the Train tab's run trains (that tab is not drawn), say so, and draw the page
    again when the run ends, so that its model joins the models offered here."""
    run = _state.trainer("mnist").run
    if run is None or not run.state.active:
        st.rerun()
    st.caption(
        _("{name} is training on the Train tab; its model is offered here when it ends.").format(
            name=run.name
        ),
    )


@st.fragment
def _drawing_fragment(name: str) -> None:
    # A fragment, so that each stroke reruns only this part of the page.
    record = models_for(INPUT_SHAPE, NUM_CLASSES).get(name)
    if record is None:
        st.warning(_("That model has left the session; choose another."))
        return
    left, right = st.columns([1, 2])
    with left:
        st.caption(
            _(
                "Draw one digit, large, as on paper. The toolbar over the canvas undoes, redoes "
                "and clears it (the bin)."
            )
        )
        drawing = drawing_pad()
    image = None if drawing is None else preprocess_drawing(drawing)
    with right:
        if image is None:
            st.info(_("Draw a digit on the black square: the model's reading appears here."))
            # Empty bars until the first stroke: the browser loads its chart code now, not
            # while the student waits for the first reading.
            st.plotly_chart(
                probability_figure(np.zeros(len(record.class_names)), record.class_names),
                key="mnist_chart_probabilities_empty",
            )
            return
        _reading(record, image)
    # The reading comes first and stays fast: the explanations and the large maps are
    # computed only while their expander is open.
    why = st.expander(
        _("Why did it say that?"),
        icon=":material/psychology:",
        key="mnist_w_draw_why",
        on_change="rerun",
    )
    with why:
        if why.open:
            explain_panel(record.model, image, record.class_names, key="mnist_draw_explain")
    _feature_maps(record, image)
    large = st.expander(
        _("Open a layer large: all its maps and filters"),
        icon=":material/zoom_in:",
        key="mnist_w_draw_large",
        on_change="rerun",
    )
    with large:
        if large.open:
            layer_maps_panel(record.model, image, key="mnist_draw_maps")


def _reading(record: Any, image: np.ndarray) -> None:
    from cnnlib.inference import predict_proba

    probabilities = predict_proba(record.model, image)[0]
    best = int(probabilities.argmax())
    seen, bars = st.columns([1, 2])
    with seen:
        big = np.repeat(np.repeat((image * 255).astype(np.uint8), 5, axis=0), 5, axis=1)
        st.image(big, caption=_("What the model sees: 28×28, centred by mass"))
        st.metric(_("It reads"), record.class_names[best])
        st.caption(_("with probability {share}").format(share=f"{probabilities[best]:.1%}"))
    with bars:
        st.plotly_chart(
            probability_figure(probabilities, record.class_names),
            key="mnist_chart_probabilities",
        )


def _feature_maps(record: Any, image: np.ndarray) -> None:
    from cnnlib.inference import feature_maps

    maps = feature_maps(record.model, image)
    if not maps:
        st.caption(_("This model has no convolution layers, so there are no feature maps to show."))
        return
    st.markdown(
        _(
            "**Feature maps**: what each convolution filter finds in your drawing (bright = "
            "strong response), layer by layer."
        )
    )
    tabs = st.tabs(
        [f"{name} · {values.shape[0]}×{values.shape[1]}×{values.shape[2]}" for name, values in maps]
    )
    for tab, (layer, values) in zip(tabs, maps, strict=True):
        with tab:
            st.plotly_chart(feature_map_figure(values, layer), key=f"mnist_chart_maps_{layer}")


# Each stroke redraws the probabilities and the feature maps. Building a Plotly figure with
# `cnnlib.figures` validates every property, its template's too: 15-80 ms a figure on this
# machine, many times the model's reading. So each kind of figure is built there once (per
# class list, per layer and shape) as a template, and a stroke puts its numbers into a copy,
# unvalidated; `tests/test_mnist_widgets.py` checks that the browser receives the same chart.


@functools.lru_cache(maxsize=32)
def _bars_template(class_names: tuple[str, ...], language: str) -> dict:
    # `language` is part of the key: the template's axis titles are in it.
    from cnnlib.figures import probability_bars

    uniform = np.full(len(class_names), 1 / len(class_names))
    return probability_bars(uniform, class_names).to_dict()


def probability_figure(probabilities: np.ndarray, class_names) -> Any:
    """`cnnlib.figures.probability_bars(probabilities, class_names)`, from its template."""
    import plotly.graph_objects as go

    from cnnlib.figures import BAR_COLOUR, CORRECT_COLOUR

    values = np.asarray(probabilities, dtype=float).reshape(-1)
    names = tuple(str(name) for name in class_names)
    figure = copy.deepcopy(_bars_template(names, i18n.current()))
    colours = [BAR_COLOUR] * len(values)
    if values.max() > 0:
        colours[int(values.argmax())] = CORRECT_COLOUR
    figure["data"][0].update(
        y=values, text=[f"{v:.0%}" if v >= 0.005 else "" for v in values], marker={"color": colours}
    )
    return go.Figure(figure, _validate=False)


@functools.lru_cache(maxsize=64)
def _grid_template(layer: str, shape: tuple[int, int, int], language: str) -> dict:
    # `language` is part of the key: the template's hover text is in it.
    from cnnlib.figures import feature_map_grid

    figure = feature_map_grid(np.zeros(shape, dtype=np.float32), title=layer, columns=8).to_dict()
    # The numbers of a stroke replace these.
    figure["data"][0].pop("z")
    figure["data"][0].pop("customdata")
    return figure


def feature_map_figure(values: np.ndarray, layer: str) -> Any:
    """`cnnlib.figures.feature_map_grid(values, title=layer, columns=8)`, from its template,
    with the maps in single precision: half the bytes to send, and no visible difference."""
    import plotly.graph_objects as go

    from cnnlib.figures import feature_map_mosaic

    mosaic, channel_of = feature_map_mosaic(values, columns=8)
    figure = copy.deepcopy(_grid_template(layer, tuple(values.shape), i18n.current()))
    figure["data"][0].update(z=mosaic.astype(np.float32), customdata=channel_of.astype(np.int8))
    return go.Figure(figure, _validate=False)
