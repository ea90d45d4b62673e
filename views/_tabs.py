"""A page's tabs that compute only while open, and stay open across a language switch.

By default Streamlit runs and sends every tab's content, shown or not. On the MNIST page that
put the whole trainer into the browser's page while the student drew a digit, and each stroke's
reading went through a re-render of all of it: about 130 ms of the browser's JavaScript per
stroke in a Chromium trace on a 2-core machine. Tabs made here rerun the page when the student
picks one, and only the open tab's content is drawn: a drawing's reading then reached the
screen in a median of 95 ms instead of 138 (`benchmarks/draw_latency.py`).

A picked tab is remembered by its name (not its label, which changes with the language), so a
language switch and a visit to another page come back to the same tab.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from cnnlib.i18n import _


def page_tabs(key: str, labels: Mapping[str, str]) -> dict[str, object]:
    """Tabs named by `labels` (name → English label, marked with `N_`), shown in the page's
    language; returns name → tab container, whose `.open` says whether to draw its content.
    The first tab is open on a first visit."""
    shown = {name: _(label) for name, label in labels.items()}
    remembered = f"{key}_open"  # the open tab's name, the same in every language
    if st.session_state.get(key) not in shown.values():
        name = st.session_state.get(remembered)
        if name in shown:
            st.session_state[key] = shown[name]
    containers = st.tabs(list(shown.values()), key=key, on_change="rerun")
    tabs = dict(zip(shown, containers, strict=True))
    for name, tab in tabs.items():
        if tab.open:
            st.session_state[remembered] = name
    return tabs
