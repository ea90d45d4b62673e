"""The network the explorer edits, held in session state, and the picker that loads one.

`st.session_state[_state.EXPLORER_NETWORK]` is always a network `cnnlib.arithmetic.analyse`
accepts. The table editor starts from a snapshot of its rows (`_state.EXPLORER_TABLE`) with a
revision number; loading or replacing the network renews the snapshot under a new revision,
so every widget keyed by the revision starts afresh. A snapshot may carry a notice (what was
loaded from where), shown until the next snapshot: a toast alone would be lost in the rerun
that follows a load.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.i18n import _
from cnnlib.layers import Input, Network
from cnnlib.registry import REGISTRY
from views import _state

DEFAULT_KEY = "mnist_two_conv"  # the lecture's main model is where a first visit starts
EMPTY = "__empty__"
EMPTY_NETWORK = Network("my network", (Input((28, 28, 1)),))


def title_of(key: str) -> str:
    return _("Empty stack") if key == EMPTY else REGISTRY[key].shown_title()


def load_network(network: Network, source: str | None, notice: str | None = None) -> None:
    """Make `network` the one being edited and give the table editor a fresh start."""
    st.session_state[_state.EXPLORER_NETWORK] = network
    st.session_state[_state.EXPLORER_SOURCE] = source
    rebase(network, notice)


def replace_network(network: Network, source: str | None, notice: str | None = None) -> None:
    """Load a whole new network (from the registry or a file): nothing built in Keras for
    the previous one applies any more."""
    load_network(network, source, notice)
    st.session_state[_state.EXPLORER_KERAS] = None


def rebase(network: Network, notice: str | None = None) -> None:
    """A new snapshot of `network`'s rows under the next revision."""
    table = st.session_state.get(_state.EXPLORER_TABLE) or {"revision": 0}
    st.session_state[_state.EXPLORER_TABLE] = {
        "revision": table["revision"] + 1,
        "rows": ne.network_to_rows(network),
        "shape": network.input_shape,
        "name": network.name,
        "notice": notice,
    }


def notice() -> str | None:
    """What the last load said (e.g. "Loaded 'LeNet' from lenet.json."), until the next edit
    that renews the table."""
    table = st.session_state.get(_state.EXPLORER_TABLE) or {}
    return table.get("notice")


def revision() -> int:
    return st.session_state[_state.EXPLORER_TABLE]["revision"]


def current_network() -> Network:
    """The network being edited; a first visit starts from the lecture's two-layer model."""
    network = st.session_state.get(_state.EXPLORER_NETWORK)
    if network is None:
        load_network(REGISTRY[DEFAULT_KEY].network, DEFAULT_KEY)
    elif st.session_state.get(_state.EXPLORER_TABLE) is None:
        rebase(network)
    return st.session_state[_state.EXPLORER_NETWORK]


def pick_entry(label: str, keys: list[str], key: str, where=st) -> str:
    """A registry entry picked from `keys`, starting at the one the network was loaded from."""
    source = st.session_state.get(_state.EXPLORER_SOURCE)
    return where.selectbox(
        label,
        keys,
        index=keys.index(source) if source in keys else 0,
        # Titles made now, in this script run: a format function may be called elsewhere.
        format_func={key: title_of(key) for key in keys}.get,
        key=key,
    )


def start_picker() -> None:
    """Pick a registry entry (or an empty stack) and load it into the editor."""
    current_network()
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    choice = pick_entry(_("Start from"), [EMPTY, *REGISTRY], "explorer_w_start", left)
    if right.button(_("Load"), key="explorer_load", width="stretch"):
        network = EMPTY_NETWORK if choice == EMPTY else REGISTRY[choice].network
        replace_network(network, None if choice == EMPTY else choice)
        st.rerun()
