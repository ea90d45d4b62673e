"""The explorer's network editor: name, input shape and the layer table, the whole-layer
tools (move, duplicate, remove, insert a layer or a case study's block) and the branch editor
of a parallel block.

Reading rows into layers and every edit are `cnnlib.network_edit`'s; this module lays out the
widgets and keeps the last network that worked when an edit makes an impossible stack.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import Analysis, analyse
from cnnlib.i18n import _
from cnnlib.layers import Network, Parallel
from cnnlib.registry import REGISTRY
from views import _state
from views._explorer_network import current_network, load_network, rebase, revision
from views._explorer_text import escape_markdown


def _column_config() -> dict:
    """The layer table's columns, their headings and help in the current language."""
    return {
        "layer": st.column_config.SelectboxColumn(
            _("layer"),
            options=ne.ROW_KINDS + ("Parallel",),
            required=True,
            default="Conv2D",
            width=170,  # "GlobalAveragePooling2D" in full
        ),
        "size": st.column_config.NumberColumn(
            _("filters / units"),
            min_value=1,
            max_value=ne.MAX_FILTERS,
            step=1,
            help=_(
                "Filters of a convolution, units of a Dense layer; for DepthwiseConv2D the maps "
                "per input channel (its depth multiplier, usually 1)."
            ),
        ),
        "window": st.column_config.TextColumn(
            _("kernel / pool / pad"),
            help=_(
                "3 or 3×5 (height × width); a dilated kernel: 3×3 dilation 2. Zero padding: 1, "
                "1×2 or top,bottom,left,right. Upsampling: 2, 2×3 or 2×2 bilinear."
            ),
        ),
        "stride": st.column_config.TextColumn(
            _("stride"), help=_("1 or 2×1. A blank pooling stride equals the pool window.")
        ),
        "padding": st.column_config.SelectboxColumn(_("padding"), options=["valid", "same"]),
        "activation": st.column_config.SelectboxColumn(
            _("activation"), options=ne.ACTIVATION_CHOICES
        ),
        "rate": st.column_config.NumberColumn(
            _("dropout rate"), min_value=0.0, max_value=0.99, step=0.05
        ),
        "bias": st.column_config.CheckboxColumn(_("bias")),
        "about": st.column_config.TextColumn(_("block"), disabled=True, width="large"),
    }


# A block's description is long: it comes last, after the cells a student edits.
_VISIBLE = ["layer"] + [c for c in ne.COLUMNS if c not in ("layer", "block")] + ["about"]


def table_height(rows: int, most: int = 640) -> int:
    """Pixels that show `rows` rows and the header without scrolling, up to `most`."""
    return min(most, 35 * (rows + 1) + 3)


def layer_key() -> str:
    """The layer selector's key. It changes with the table's revision, so that a loaded or
    rearranged network gets a fresh selector: a kept one would go on showing the label of the
    previous network's layer, as the browser keeps a selectbox's text while its key stays."""
    return f"explorer_w_layer_{revision()}"


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    # Rows are numbered from 1, as the network's layers are below the Input (layer 0).
    frame = pd.DataFrame(rows, columns=list(ne.COLUMNS), index=range(1, len(rows) + 1))
    frame["size"] = frame["size"].astype("Int64")
    frame["rate"] = frame["rate"].astype("Float64")
    frame["bias"] = frame["bias"].astype("boolean")
    for column in ("layer", "window", "stride", "padding", "activation", "block"):
        frame[column] = frame[column].astype("string")
    frame["about"] = [
        ne.describe(ne.row_to_layer(row)) if row["layer"] == "Parallel" else "" for row in rows
    ]
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    plain = frame.astype(object).where(frame.notna(), None)
    return [{k: row.get(k) for k in ne.COLUMNS} for row in plain.to_dict("records")]


def _stale(table: dict[str, Any], network: Network) -> bool:
    return (
        table["rows"] != ne.network_to_rows(network)
        or tuple(table["shape"]) != tuple(network.input_shape)
        or table["name"] != network.name
    )


def edit_network() -> tuple[Network, Analysis, str | None]:
    """Name, input shape and the layer table; returns the network now in force, its analysis
    and the error that kept the last edit out (None when the edit was taken)."""
    network = current_network()
    table = st.session_state[_state.EXPLORER_TABLE]
    if f"explorer_table_{table['revision']}" not in st.session_state and _stale(table, network):
        # Streamlit forgets a table's edits once it is not drawn (another page was shown):
        # start a fresh table from the network those edits made.
        rebase(network)
        table = st.session_state[_state.EXPLORER_TABLE]
    number = table["revision"]
    left, right = st.columns([3, 2])
    name = left.text_input(_("Name"), table["name"], key=f"explorer_w_name_{number}")
    shape = right.text_input(
        _("Input shape (height × width × channels)"),
        ne.format_shape(table["shape"]),
        key=f"explorer_w_shape_{number}",
        help=_("Rectangular inputs are fine, e.g. 120×160×1."),
    )
    edited = st.data_editor(
        _frame(table["rows"]),
        key=f"explorer_table_{number}",
        num_rows="dynamic",
        column_order=_VISIBLE,
        column_config=_column_config(),
        hide_index=False,
        width="stretch",
        height=table_height(len(table["rows"]) + 1),
        placeholder="",
    )
    st.caption(
        _(
            "Edit any cell; add a row with + and delete rows by selecting them. Blank cells take "
            "Keras's defaults. Reorder, duplicate and insert blocks with the tools below."
        )
    )
    rows = _records(edited)
    try:
        candidate = ne.rows_to_network(name.strip() or "my network", ne.parse_shape(shape), rows)
        analysis = analyse(candidate)
    except ValueError as err:
        return network, analyse(network), str(err)
    if candidate != network:
        st.session_state[_state.EXPLORER_NETWORK] = candidate
        st.session_state[_state.EXPLORER_CODE] = None
    pending = any(ne.is_pending(row) for row in rows)
    if not pending and ne.normalised_rows(rows) != ne.network_to_rows(candidate):
        # Show the settings as read (defaults filled in, sizes tidied) in a fresh editor.
        rebase(candidate)
        st.rerun()
    return candidate, analysis, None


def layer_tools(network: Network) -> int | None:
    """Move, duplicate, remove and insert whole layers; returns the selected position."""
    positions = list(range(1, len(network.layers)))
    last = len(positions)
    cols = st.columns([3, 1, 1, 1, 1], vertical_alignment="bottom")
    if positions:
        position = cols[0].selectbox(
            _("Layer"),
            positions,
            format_func=lambda p: f"{p} · {ne.describe(network.layers[p])}",
            key=layer_key(),
        )
    else:
        position = None
        cols[0].info(_("The stack is empty: insert a first layer below."))
    # Each edit names the position the selector moves to, so it follows the layer; the
    # English name keys the button, the label is translated.
    actions = {
        "Up": (lambda: ne.move_layer(network, position, -1), lambda: position - 1),
        "Down": (lambda: ne.move_layer(network, position, 1), lambda: position + 1),
        "Duplicate": (
            lambda: ne.insert_layer(network, position + 1, network.layers[position]),
            lambda: position + 1,
        ),
        "Remove": (lambda: ne.remove_layer(network, position), lambda: min(position, last - 1)),
    }
    labels = {"Up": _("Up"), "Down": _("Down"), "Duplicate": _("Duplicate"), "Remove": _("Remove")}
    for col, (name, (action, then)) in zip(cols[1:], actions.items(), strict=True):
        if col.button(labels[name], key=f"explorer_btn_{name.lower()}", disabled=position is None):
            _apply(action, then())
    after = position or 0
    cols = st.columns([3, 1, 3, 1], vertical_alignment="bottom")
    kind = cols[0].selectbox(_("New layer"), ne.ROW_KINDS, key="explorer_w_kind")
    if cols[1].button(
        _("Insert"), key="explorer_btn_insert", help=_("Insert below the selected layer")
    ):
        _apply(lambda: ne.insert_layer(network, after + 1, ne.default_layer(kind)), after + 1)
    # The options are labelled by the English titles, whatever the language (a switch keeps the
    # choice); the labels shown are made from the titles in the current language.
    blocks = ne.collect_blocks({e.title: e.network for e in REGISTRY.values()})
    shown = ne.collect_blocks({e.shown_title(): e.network for e in REGISTRY.values()})
    titles = [title for title, _block in blocks]
    labels = dict(zip(titles, [title for title, _block in shown], strict=True))
    label = cols[2].selectbox(
        _("Block from a case study"), titles, format_func=labels.get, key="explorer_w_block"
    )
    if cols[3].button(_("Insert"), key="explorer_btn_insert_block", disabled=not titles):
        block = dict(blocks)[label]
        _apply(lambda: ne.insert_layer(network, after + 1, block), after + 1)
    if position is not None and isinstance(network.layers[position], Parallel):
        _block_editor(network, position)
    return position


def _apply(make: Any, select: int | None = None) -> None:
    """Run a whole-layer edit; take the result only if it is a possible network, and select
    layer `select` in it."""
    try:
        network = make()
        analyse(network)
    except ValueError as err:
        st.error(escape_markdown(err))
        return
    load_network(network, st.session_state.get(_state.EXPLORER_SOURCE))
    if select is not None and 1 <= select < len(network.layers):
        st.session_state[layer_key()] = select
    st.rerun()


def _block_editor(network: Network, position: int) -> None:
    block = network.layers[position]
    number = revision()
    title = _("Edit the branches of {block}").format(block=ne.describe(block))
    with st.expander(escape_markdown(title)):
        st.caption(_("An empty branch is the identity: the block's input passed on unchanged."))
        edited = []
        for branch_number, branch in enumerate(block.branches):
            heading = (
                _("**Branch {number}**") if branch else _("**Branch {number}** (identity)")
            ).format(number=branch_number + 1)
            st.markdown(heading)
            rows = [ne.layer_to_row(layer) for layer in branch]
            frame = st.data_editor(
                _frame(rows),
                key=f"explorer_branch_{number}_{position}_{branch_number}",
                num_rows="dynamic",
                column_order=_VISIBLE,
                column_config=_column_config(),
                width="stretch",
                placeholder="",
            )
            edited.append(_records(frame))
        if st.button(_("Apply to the block"), key=f"explorer_btn_apply_block_{number}"):

            def rebuilt() -> Network:
                new = block
                for index, rows in enumerate(edited):
                    new = ne.update_branch(new, index, rows)
                return ne.replace_layer(network, position, new)

            _apply(rebuilt, position)
