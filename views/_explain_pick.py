"""Explain one of the test images a page shows: the student picks an image (and, where several
models read it, the model), and `_explain_widgets.explain_panel` shows why that model read it
as it did. The trainer's gallery of misread images and the ensemble's rescued and lost images
plug it in under their pictures.

The panel sits in an expander that computes only while it is open, so a page that shows test
images stays as fast as before for a student who does not ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from cnnlib.i18n import _
from views._explain_widgets import explain_panel


def explain_picked(
    title: str,
    models: dict[str, Any],
    images: Any,
    choices: dict[int, str],
    class_names: Sequence[str],
    key: str,
) -> None:
    """An expander titled `title`: pick one of `choices` (index into `images` -> how to name
    it), and one of `models` (name -> Keras model) when there are several, then explain."""
    if not choices or not models:
        return
    box = st.expander(title, icon=":material/psychology:", key=f"{key}_open", on_change="rerun")
    with box:
        if not box.open:
            return
        picker, chooser = st.columns(2)
        image_key = f"{key}_image"
        if st.session_state.get(image_key) not in choices:
            st.session_state[image_key] = next(iter(choices))
        index = picker.selectbox(_("Image"), list(choices), format_func=choices.get, key=image_key)
        name = next(iter(models))
        if len(models) > 1:
            model_key = f"{key}_model"
            if st.session_state.get(model_key) not in models:
                st.session_state[model_key] = name
            name = chooser.selectbox(_("Model that explains"), list(models), key=model_key)
        explain_panel(models[name], images[index], class_names, key=f"{key}_why")


def mistake_choices(mistakes: list[dict], class_names: Sequence[str]) -> dict[int, str]:
    """`cnnlib.metrics.misclassified`'s mistakes as picker entries, most confident first."""
    return {
        mistake["index"]: _("Test image {index}: a {truth} read as {predicted} ({share})").format(
            index=mistake["index"],
            truth=class_names[mistake["true"]],
            predicted=class_names[mistake["predicted"]],
            share=f"{mistake['probability']:.0%}",
        )
        for mistake in mistakes
    }
