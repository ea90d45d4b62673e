"""The architecture explorer's widgets: the network editor, the per-layer analysis, the lecture
check, the case studies, Keras build-and-compare, export and import.

The network being edited lives in `st.session_state[_state.EXPLORER_NETWORK]` and is always
one that `cnnlib.arithmetic.analyse` accepts: an edit that makes an impossible stack shows the
error and keeps the last good network. The table editor starts from a snapshot of rows
(`_state.EXPLORER_TABLE`); edits are read back from it on every run, and the snapshot is
renewed (a new revision, so a fresh editor) only when the network is replaced or the rows
need tidying. TensorFlow is imported only when the user asks for Keras (build or code).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import Analysis, LayerRow, analyse
from cnnlib.figures_architecture import cost_bars, volume_diagram
from cnnlib.layers import MAX_SPEC_BYTES, Input, Network, Parallel
from cnnlib.registry import REGISTRY
from views import _state

DEFAULT_KEY = "mnist_two_conv"  # the lecture's main model is where a first visit starts
EMPTY = "__empty__"
EMPTY_NETWORK = Network("my network", (Input((28, 28, 1)),))
# Building allocates every weight: VGG-16 (138 M parameters) needs about 0.6 GB.
MAX_BUILD_PARAMS = 150_000_000

_COLUMN_CONFIG = {
    "layer": st.column_config.SelectboxColumn(
        "layer", options=ne.ROW_KINDS + ("Parallel",), required=True, default="Conv2D"
    ),
    "size": st.column_config.NumberColumn(
        "filters / units", min_value=1, max_value=ne.MAX_FILTERS, step=1
    ),
    "window": st.column_config.TextColumn(
        "kernel / pool / pad",
        help="3 or 3×5 (height × width). Zero padding: 1, 1×2 or top,bottom,left,right.",
    ),
    "stride": st.column_config.TextColumn(
        "stride", help="1 or 2×1. A blank pooling stride equals the pool window."
    ),
    "padding": st.column_config.SelectboxColumn("padding", options=["valid", "same"]),
    "activation": st.column_config.SelectboxColumn("activation", options=ne.ACTIVATION_CHOICES),
    "rate": st.column_config.NumberColumn("dropout rate", min_value=0.0, max_value=0.99, step=0.05),
    "bias": st.column_config.CheckboxColumn("bias"),
    "about": st.column_config.TextColumn("block", disabled=True),
}
_VISIBLE = ["layer", "about"] + [c for c in ne.COLUMNS if c not in ("layer", "block")]


# ---------------------------------------------------------------------------------------------
# Numbers as text


def count_text(n: int) -> str:
    """15,480,000,000 -> "15.5 G"; small numbers in full."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:,}"


def bytes_text(n: int) -> str:
    for size, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def shape_text(shape: tuple[int, ...]) -> str:
    return ne.format_shape(shape)


def title_of(key: str) -> str:
    return "Empty stack" if key == EMPTY else REGISTRY[key].title


# ---------------------------------------------------------------------------------------------
# The network in session state


def load_network(network: Network, source: str | None) -> None:
    """Make `network` the one being edited and give the table editor a fresh start."""
    st.session_state[_state.EXPLORER_NETWORK] = network
    st.session_state[_state.EXPLORER_SOURCE] = source
    _rebase(network)


def _rebase(network: Network) -> None:
    table = st.session_state.get(_state.EXPLORER_TABLE) or {"revision": 0}
    st.session_state[_state.EXPLORER_TABLE] = {
        "revision": table["revision"] + 1,
        "rows": ne.network_to_rows(network),
        "shape": network.input_shape,
        "name": network.name,
    }


def current_network() -> Network:
    """The network being edited; a first visit starts from the lecture's two-layer model."""
    network = st.session_state.get(_state.EXPLORER_NETWORK)
    if network is None:
        load_network(REGISTRY[DEFAULT_KEY].network, DEFAULT_KEY)
    elif st.session_state.get(_state.EXPLORER_TABLE) is None:
        _rebase(network)
    return st.session_state[_state.EXPLORER_NETWORK]


def start_picker() -> None:
    """Pick a registry entry (or an empty stack) and load it into the editor."""
    current_network()
    keys = [EMPTY, *REGISTRY]
    source = st.session_state.get(_state.EXPLORER_SOURCE)
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    choice = left.selectbox(
        "Start from",
        keys,
        index=keys.index(source) if source in keys else 0,
        format_func=title_of,
        key="explorer_w_start",
    )
    if right.button("Load", key="explorer_load", width="stretch"):
        network = EMPTY_NETWORK if choice == EMPTY else REGISTRY[choice].network
        load_network(network, None if choice == EMPTY else choice)
        st.session_state[_state.EXPLORER_KERAS] = None
        st.rerun()


# ---------------------------------------------------------------------------------------------
# The editor


def _table_height(rows: int, most: int = 640) -> int:
    """Pixels that show `rows` rows and the header without scrolling, up to `most`."""
    return min(most, 35 * (rows + 1) + 3)


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


def _normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (None if ne.is_blank(v) else v) for k, v in row.items()}
        for row in rows
        if not ne.is_pending(row)
    ]


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
        _rebase(network)
        table = st.session_state[_state.EXPLORER_TABLE]
    revision = table["revision"]
    left, right = st.columns([3, 2])
    name = left.text_input("Name", table["name"], key=f"explorer_w_name_{revision}")
    shape = right.text_input(
        "Input shape (height × width × channels)",
        shape_text(table["shape"]),
        key=f"explorer_w_shape_{revision}",
        help="Rectangular inputs are fine, e.g. 120×160×1.",
    )
    edited = st.data_editor(
        _frame(table["rows"]),
        key=f"explorer_table_{revision}",
        num_rows="dynamic",
        column_order=_VISIBLE,
        column_config=_COLUMN_CONFIG,
        hide_index=False,
        width="stretch",
        height=_table_height(len(table["rows"]) + 1),
        placeholder="",
    )
    st.caption(
        "Edit any cell; add a row with + and delete rows by selecting them. Blank cells take "
        "Keras's defaults. Reorder, duplicate and insert blocks with the tools below."
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
    if not pending and _normalised(rows) != ne.network_to_rows(candidate):
        # Show the settings as read (defaults filled in, sizes tidied) in a fresh editor.
        _rebase(candidate)
        st.rerun()
    return candidate, analysis, None


def layer_tools(network: Network) -> int | None:
    """Move, duplicate, remove and insert whole layers; returns the selected position."""
    positions = list(range(1, len(network.layers)))
    cols = st.columns([3, 1, 1, 1, 1], vertical_alignment="bottom")
    if positions:
        position = cols[0].selectbox(
            "Layer",
            positions,
            format_func=lambda p: f"{p} · {ne.describe(network.layers[p])}",
            key="explorer_w_layer",
        )
    else:
        position = None
        cols[0].info("The stack is empty: insert a first layer below.")
    actions = {
        "Up": lambda: ne.move_layer(network, position, -1),
        "Down": lambda: ne.move_layer(network, position, 1),
        "Duplicate": lambda: ne.insert_layer(network, position + 1, network.layers[position]),
        "Remove": lambda: ne.remove_layer(network, position),
    }
    for col, (label, action) in zip(cols[1:], actions.items(), strict=True):
        if col.button(label, key=f"explorer_btn_{label.lower()}", disabled=position is None):
            _apply(action)
    after = position or 0
    cols = st.columns([3, 1, 3, 1], vertical_alignment="bottom")
    kind = cols[0].selectbox("New layer", ne.ROW_KINDS, key="explorer_w_kind")
    if cols[1].button("Insert", key="explorer_btn_insert", help="Insert below the selected layer"):
        _apply(lambda: ne.insert_layer(network, after + 1, ne.default_layer(kind)))
    blocks = ne.collect_blocks({e.title: e.network for e in REGISTRY.values()})
    labels = [label for label, _ in blocks]
    label = cols[2].selectbox("Block from a case study", labels, key="explorer_w_block")
    if cols[3].button("Insert", key="explorer_btn_insert_block", disabled=not labels):
        block = dict(blocks)[label]
        _apply(lambda: ne.insert_layer(network, after + 1, block))
    if position is not None and isinstance(network.layers[position], Parallel):
        _block_editor(network, position)
    return position


def _apply(make: Any) -> None:
    """Run a whole-layer edit; take the result only if it is a possible network."""
    try:
        network = make()
        analyse(network)
    except ValueError as err:
        st.error(f"{err}")
        return
    load_network(network, st.session_state.get(_state.EXPLORER_SOURCE))
    st.rerun()


def _block_editor(network: Network, position: int) -> None:
    block = network.layers[position]
    revision = st.session_state[_state.EXPLORER_TABLE]["revision"]
    with st.expander(f"Edit the branches of {ne.describe(block)}"):
        st.caption("An empty branch is the identity: the block's input passed on unchanged.")
        edited = []
        for number, branch in enumerate(block.branches):
            st.markdown(f"**Branch {number + 1}**" + ("" if branch else " (identity)"))
            rows = [ne.layer_to_row(layer) for layer in branch]
            frame = st.data_editor(
                _frame(rows),
                key=f"explorer_branch_{revision}_{position}_{number}",
                num_rows="dynamic",
                column_order=_VISIBLE,
                column_config=_COLUMN_CONFIG,
                width="stretch",
                placeholder="",
            )
            edited.append(_records(frame))
        if st.button("Apply to the block", key=f"explorer_btn_apply_block_{revision}"):

            def rebuilt() -> Network:
                new = block
                for number, rows in enumerate(edited):
                    new = ne.update_branch(new, number, rows)
                return ne.replace_layer(network, position, new)

            _apply(rebuilt)


# ---------------------------------------------------------------------------------------------
# The analysis


def totals(analysis: Analysis) -> None:
    first, second = st.columns(3), st.columns(3)
    first[0].metric("Parameters", f"{analysis.total_params:,}")
    first[1].metric("Trainable", f"{analysis.trainable_params:,}")
    first[2].metric("Non-trainable", f"{analysis.non_trainable_params:,}")
    second[0].metric("Multiply-accumulates", count_text(analysis.total_macs))
    second[1].metric("Activation memory", bytes_text(analysis.activation_bytes))
    second[2].metric("Output", shape_text(analysis.output_shape))


_ANALYSIS_COLUMNS = {
    "#": st.column_config.TextColumn(width=40),
    "layer": st.column_config.TextColumn(width=130),
    "settings": st.column_config.TextColumn(width=190),
    "output": st.column_config.TextColumn(width=85),
    "parameters": st.column_config.NumberColumn(format="localized", width=90),
    "how": st.column_config.TextColumn(width=210),
    "MACs": st.column_config.NumberColumn(format="localized", width=100),
    "memory": st.column_config.TextColumn(width=75),
    "output size": st.column_config.TextColumn(width=230),
}


def _rows_frame(rows: list[LayerRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": [row.path for row in rows],
            "layer": [row.kind for row in rows],
            "settings": [row.settings for row in rows],
            "output": [shape_text(row.output_shape) for row in rows],
            "parameters": [row.params for row in rows],
            "how": [row.param_formula for row in rows],
            "MACs": [row.macs for row in rows],
            "memory": [bytes_text(row.activation_bytes) for row in rows],
            "output size": [row.size_formula for row in rows],
        }
    )


def analysis_table(analysis: Analysis) -> None:
    st.dataframe(
        _rows_frame(analysis.rows),
        hide_index=True,
        width="stretch",
        height=_table_height(len(analysis.rows), most=800),
        column_config=_ANALYSIS_COLUMNS,
    )
    for row in analysis.rows:
        if row.children:
            title = (
                f"Block {row.index}: {row.settings} → {shape_text(row.output_shape)}, "
                f"{row.params:,} parameters"
            )
            with st.expander(title):
                st.dataframe(
                    _rows_frame(row.children),
                    hide_index=True,
                    width="stretch",
                    height=_table_height(len(row.children)),
                    column_config=_ANALYSIS_COLUMNS,
                )
                st.caption(f"Merge: {row.size_formula}. Parameters: {row.param_formula or 0}.")


def layer_detail(analysis: Analysis, position: int | None) -> None:
    """The chosen layer's formulas written out with its own numbers."""
    if position is None or position >= len(analysis.rows):
        return
    row = analysis.rows[position]
    st.markdown(
        f"**Layer {position}: {row.kind}** {row.settings}  \n"
        f"input {shape_text(row.input_shape)} → output {shape_text(row.output_shape)}"
    )
    lines = []
    if row.size_formula:
        lines.append(f"output size   {row.size_formula}")
    if row.param_formula:
        lines.append(f"parameters    {row.param_formula}")
    if row.kind == "Conv2D":
        h, w, f = row.output_shape
        per = row.macs // max(h * w * f, 1)
        lines.append(f"MACs          {h} × {w} × {f} × {per:,} = {row.macs:,}")
    elif row.macs:
        lines.append(f"MACs          {row.macs:,}")
    lines.append(
        f"memory        {' × '.join(map(str, row.output_shape))} × 4 bytes = "
        f"{bytes_text(row.activation_bytes)}"
        if not row.children
        else f"memory        {bytes_text(row.activation_bytes)} (everything inside the block)"
    )
    st.code("\n".join(lines), language=None)


def diagrams(analysis: Analysis) -> None:
    st.plotly_chart(volume_diagram(analysis.rows), key="explorer_fig_volumes")
    st.caption(
        "Each box is a layer's output: height and depth follow the feature map's height and "
        "width, thickness its channels (log scale). Layers that keep the shape (dropout, "
        "batch normalisation, activations) are in the hover text of the box before them."
    )
    st.plotly_chart(cost_bars(analysis.rows), key="explorer_fig_costs")


# ---------------------------------------------------------------------------------------------
# Lecture check and case studies


def lecture_check() -> None:
    entries = [entry for entry in REGISTRY.values() if entry.lecture_shapes]
    keys = [entry.key for entry in entries]
    source = st.session_state.get(_state.EXPLORER_SOURCE)
    key = st.selectbox(
        "Lecture model",
        keys,
        index=keys.index(source) if source in keys else 0,
        format_func=title_of,
        key="explorer_w_check",
    )
    entry = REGISTRY[key]
    truth = analyse(entry.network)
    rows = []
    for index, stated, why in entry.lecture_shapes:
        row = truth.rows[index]
        agrees = ne.stated_shape_matches(stated, row.output_shape)
        rows.append(
            {
                "layer": f"{index} {row.kind}",
                "settings": row.settings,
                "the lecture's comment": stated,
                "Keras computes": shape_text(row.output_shape),
                "agrees": "✓" if agrees else "✗",
                "why": why if not agrees or why else "",
            }
        )
    wrong = sum(1 for row in rows if row["agrees"] == "✗")
    message = f"{len(rows) - wrong} of {len(rows)} stated shapes agree with Keras."
    (st.warning if wrong else st.success)(message)
    st.table(pd.DataFrame(rows).set_index("layer"))
    st.caption(
        "The check is made on the network as the lecture's code writes it: 'valid' padding "
        "unless the code asks for 'same'. Output size = ⌊(W − F + 2P) / S⌋ + 1."
    )


def case_studies() -> None:
    table = []
    for entry in REGISTRY.values():
        ours = analyse(entry.network).total_params
        published = entry.published_params
        table.append(
            {
                "network": entry.title,
                "parameters here": f"{ours:,}",
                "published": "—" if published is None else f"{published:,}",
                "difference": "—" if published is None else f"{ours - published:+,}",
            }
        )
    st.dataframe(
        pd.DataFrame(table),
        hide_index=True,
        width="stretch",
        height=_table_height(len(table)),
    )
    key = st.selectbox("Case study", list(REGISTRY), format_func=title_of, key="explorer_w_case")
    entry = REGISTRY[key]
    ours = analyse(entry.network).total_params
    st.markdown(f"**{entry.title}: what it introduced.** {entry.summary}")
    st.caption(f"Source: {entry.source}")
    cols = st.columns(2)
    cols[0].metric("Our count", f"{ours:,}")
    if entry.published_params is not None:
        delta = ours - entry.published_params
        cols[1].metric(
            "Published", f"{entry.published_params:,}", f"{delta:+,}" if delta else "same"
        )
    if entry.count_note:
        st.info(entry.count_note)
    if st.button("Load into the editor", key="explorer_btn_case_load"):
        load_network(entry.network, key)
        st.session_state[_state.EXPLORER_KERAS] = None
        st.rerun()


# ---------------------------------------------------------------------------------------------
# Keras: build and compare, code


def _snake(class_name: str) -> str:
    step = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", step).lower()


def expected_keras_layers(network: Network, analysis: Analysis) -> list[tuple[str, LayerRow]]:
    """The Keras layer name `cnnlib.build.build_model` gives each layer, with its row here.

    Block merges and post-merge activations are named too, paired with the block's row (their
    output is the block's output; they have no parameters of their own)."""
    return _names(network.layers[1:], analysis.rows[1:], "", Counter())


def _names(stack, rows, prefix: str, counter: Counter) -> list[tuple[str, Any]]:
    local = counter if not prefix else Counter()
    out: list[tuple[str, Any]] = []
    for position, (spec, row) in enumerate(zip(stack, rows, strict=True), start=1):
        if isinstance(spec, Parallel):
            block = f"{prefix}_block{position}" if prefix else f"block{row.index}"
            for number, branch in enumerate(spec.branches, start=1):
                start = f"{row.path}.b{number}."
                inner = [child for child in row.children if child.path.startswith(start)]
                out += _names(branch, inner, f"{block}_branch{number}", Counter())
            merge = {"merge": row}
            if len(spec.branches) > 1:
                out.append((f"{block}_{'add' if spec.merge == 'add' else 'concat'}", merge))
            if spec.activation is not None:
                out.append((f"{block}_{spec.activation}", merge))
            continue
        kind = _snake(type(spec).__name__)
        local[kind] += 1
        out.append((f"{prefix}_{kind}_{local[kind]}" if prefix else f"{kind}_{local[kind]}", row))
    return out


def keras_comparison(network: Network, analysis: Analysis, keras_rows: list[dict]) -> pd.DataFrame:
    """One row per Keras layer beside this page's numbers for it, agreement flagged."""
    ours = dict(expected_keras_layers(network, analysis))
    table = []
    for item in keras_rows:
        if item["class"] == "InputLayer":
            continue
        mine = ours.pop(item["name"], None)
        merged = isinstance(mine, dict)
        row = mine["merge"] if merged else mine
        our_params = 0 if merged else (row.params if row is not None else None)
        our_shape = shape_text(row.output_shape) if row is not None else "—"
        keras_shape = shape_text(item["output_shape"]) if item["output_shape"] else "—"
        table.append(
            {
                "Keras layer": item["name"],
                "output here": our_shape,
                "output in Keras": keras_shape,
                "parameters here": our_params,
                "parameters in Keras": item["params"],
                "agree": "✓"
                if row is not None and our_shape == keras_shape and our_params == item["params"]
                else "✗",
            }
        )
    for name, row in ours.items():
        row = row["merge"] if isinstance(row, dict) else row
        table.append(
            {
                "Keras layer": f"{name} (not in the Keras model)",
                "output here": shape_text(row.output_shape),
                "output in Keras": "—",
                "parameters here": row.params,
                "parameters in Keras": None,
                "agree": "✗",
            }
        )
    return pd.DataFrame(table)


def _keras_summary(network: Network) -> dict[str, Any]:
    from cnnlib.build import build_model, keras_summary_rows  # loads TensorFlow

    model = build_model(network)
    rows = keras_summary_rows(model)
    return {
        "network": network,
        "rows": rows,
        "trainable": sum(r["trainable_params"] for r in rows),
        "non_trainable": sum(r["non_trainable_params"] for r in rows),
        "output_shape": tuple(model.output.shape[1:]),
    }


def build_and_compare(network: Network, analysis: Analysis) -> None:
    st.caption(
        "Builds this network with Keras, the first time loading TensorFlow (a few seconds), "
        "and sets Keras's own per-layer summary beside this page's numbers."
    )
    too_big = analysis.total_params > MAX_BUILD_PARAMS
    if too_big:
        st.warning(
            f"{analysis.total_params:,} parameters would need "
            f"{bytes_text(4 * analysis.total_params)} of memory; building is limited to "
            f"{MAX_BUILD_PARAMS:,} parameters. Make the dense layers smaller to build it."
        )
    if st.button("Build in Keras and compare", key="explorer_btn_build", disabled=too_big):
        with st.spinner("Building the model in Keras…"):
            try:
                st.session_state[_state.EXPLORER_KERAS] = _keras_summary(network)
            except (ValueError, MemoryError) as err:
                st.error(f"Keras could not build this network: {err}")
                return
    result = st.session_state.get(_state.EXPLORER_KERAS)
    if not result:
        return
    if result["network"] != network:
        st.info("The network has changed since it was built: build it again to compare.")
        return
    comparison = keras_comparison(network, analysis, result["rows"])
    same_totals = (
        result["trainable"] == analysis.trainable_params
        and result["non_trainable"] == analysis.non_trainable_params
        and tuple(result["output_shape"]) == tuple(analysis.output_shape)
    )
    disagreements = int((comparison["agree"] == "✗").sum()) if len(comparison) else 0
    if same_totals and not disagreements:
        st.success(
            f"Keras agrees: {result['trainable'] + result['non_trainable']:,} parameters "
            f"({result['trainable']:,} trainable), output {shape_text(analysis.output_shape)}, "
            f"and every layer's shape and parameter count match."
        )
    else:
        st.error(
            f"Keras disagrees: it counts {result['trainable']:,} trainable and "
            f"{result['non_trainable']:,} non-trainable parameters against this page's "
            f"{analysis.trainable_params:,} and {analysis.non_trainable_params:,}; "
            f"{disagreements} layer(s) differ (marked ✗)."
        )
    st.dataframe(
        comparison,
        hide_index=True,
        width="stretch",
        column_config={
            "parameters here": st.column_config.NumberColumn(format="localized"),
            "parameters in Keras": st.column_config.NumberColumn(format="localized"),
        },
    )


def keras_code_export(network: Network) -> None:
    has_blocks = any(isinstance(layer, Parallel) for layer in network.layers)
    style = st.radio(
        "Code style",
        ["sequential", "functional"],
        horizontal=True,
        key="explorer_w_style",
        help="Networks with parallel blocks can only be written in the functional style.",
    )
    if has_blocks and style == "sequential":
        st.info(
            "This network has parallel blocks, which keras.Sequential cannot express: "
            "the code is written in the functional style."
        )
        style = "functional"
    key = (network.to_json(), style)
    cached = st.session_state.get(_state.EXPLORER_CODE)
    if not cached or cached["key"] != key:
        # Writing the code needs no TensorFlow, so it follows every edit at once.
        from cnnlib.keras_source import keras_code

        try:
            cached = {"key": key, "code": keras_code(network, style)}
        except ValueError as err:
            st.error(str(err))
            return
        st.session_state[_state.EXPLORER_CODE] = cached
    st.code(cached["code"], language="python")
    st.download_button(
        "Download the Python file",
        cached["code"],
        file_name=f"{_file_stem(network.name)}.py",
        mime="text/x-python",
        key="explorer_download_code",
    )


def _file_stem(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "_", name).strip("_").lower() or "network"


def json_export(network: Network) -> None:
    st.download_button(
        "Download the network as JSON",
        network.to_json(),
        file_name=f"{_file_stem(network.name)}.json",
        mime="application/json",
        key="explorer_download_json",
    )


def json_import() -> None:
    upload = st.file_uploader(
        "Load a network file (JSON exported by CNN Lab)",
        type=["json"],
        key="explorer_upload_file",
        max_upload_size=1,
    )
    if upload is None or upload.file_id == st.session_state.get(_state.EXPLORER_UPLOAD):
        return
    st.session_state[_state.EXPLORER_UPLOAD] = upload.file_id
    data = upload.getvalue()
    try:
        if len(data) > MAX_SPEC_BYTES:
            raise ValueError(
                f"The file is {len(data):,} bytes; a network file is at most "
                f"{MAX_SPEC_BYTES:,}. Upload a network exported by CNN Lab."
            )
        network = Network.from_json(data)
        analyse(network)
    except ValueError as err:
        st.error(f"Could not load {upload.name}: {err} The network you were editing is kept.")
        return
    load_network(network, None)
    st.session_state[_state.EXPLORER_KERAS] = None
    st.toast(f"Loaded {network.name!r} from {upload.name}.")
    st.rerun()
