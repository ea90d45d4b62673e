"""Where the trainer's network comes from: the picker (the profile's own network, the
registry's networks for the dataset, the explorer's), its dropout rates, its JSON, and a saved
model to continue from instead. Checking a choice is `cnnlib.runs`'.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from cnnlib import own_data, registry
from cnnlib.arithmetic import analyse
from cnnlib.i18n import _
from cnnlib.layers import Dropout, Network
from cnnlib.profiles import DatasetProfile
from cnnlib.runs import model_problem, network_problem
from views import _state

EXPLORER = "explorer"
PROFILE = "profile"  # the choice of the profile's own network
SHARED = "shared"  # the choice of a network a shared link brought


def first_value(key: str, value: Any) -> str:
    """Give a widget its first value through the session state (never as `value=`, which
    Streamlit refuses beside a value set by a button or a persisted one)."""
    st.session_state.setdefault(key, value)
    return key


def _networks(page: str, profile: DatasetProfile) -> dict[str, tuple[str, Network, float | None]]:
    choices = {}
    shared = _state.trainer(page).shared
    if shared is not None:
        choices[SHARED] = (_("From a shared link: {name}").format(name=shared.name), shared, None)
    if profile.network is not None:
        # An imported set's own network, chosen for its image size, comes first.
        shown = own_data.shown_network_name(profile.network.name)
        choices[PROFILE] = (f"{profile.label}: {shown}", profile.network, None)
    for key in profile.networks:
        entry = registry.get(key)
        choices[key] = (entry.shown_title(), entry.network, entry.lecture_accuracy)
    explorer = st.session_state.get(_state.EXPLORER_NETWORK)
    if explorer is not None:
        # A case study as it stands is named by its title in the page's language.
        source = registry.REGISTRY.get(st.session_state.get(_state.EXPLORER_SOURCE) or "")
        name = source.shown_title() if source and source.network == explorer else explorer.name
        choices[EXPLORER] = (
            _("From the architecture explorer: {name}").format(name=name),
            explorer,
            None,
        )
    return choices


def network_panel(page: str, profile: DatasetProfile):
    """The network picker, its dropout rates and its JSON; returns (network or None,
    registry key, lecture accuracy, title, problem)."""
    choices = _networks(page, profile)
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
        st.caption(registry.get(picked).shown_summary())
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


def dropout_key(page: str, picked: str, position: int) -> str:
    """The session key of the slider of the Dropout layer at `position` of the network
    `picked`."""
    return f"{page}_w_dropout_{picked}_{position}"


def dropout_positions(network: Network) -> list[int]:
    """Where the top-level Dropout layers are: the ones with a slider."""
    return [i for i, layer in enumerate(network.layers) if isinstance(layer, Dropout)]


def _dropout_sliders(page: str, key: str, network: Network) -> Network:
    """One slider per top-level Dropout layer; returns the network with those rates."""
    positions = dropout_positions(network)
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
            key=first_value(dropout_key(page, key, position), float(layers[position].rate)),
            persist_state="session",
        )
        layers[position] = dataclasses.replace(layers[position], rate=float(rate))
    return Network(network.name, tuple(layers))


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
