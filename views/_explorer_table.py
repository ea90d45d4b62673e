"""The explorer's analysis of the network being edited: totals, the per-layer table (with
each block's inner layers), one layer's formulas written out, and the volume and cost
diagrams. The numbers are `cnnlib.arithmetic`'s and the pictures
`cnnlib.figures_architecture`'s.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import Analysis, LayerRow
from cnnlib.figures_architecture import cost_bars, volume_diagram
from views._explorer_editor import table_height
from views._explorer_text import escape_markdown


def totals(analysis: Analysis) -> None:
    first, second = st.columns(3), st.columns(3)
    first[0].metric("Parameters", f"{analysis.total_params:,}")
    first[1].metric("Trainable", f"{analysis.trainable_params:,}")
    first[2].metric("Non-trainable", f"{analysis.non_trainable_params:,}")
    second[0].metric("Multiply-accumulates", ne.format_count(analysis.total_macs))
    second[1].metric("Activation memory", ne.format_bytes(analysis.activation_bytes))
    second[2].metric("Output", ne.format_shape(analysis.output_shape))


_FIXED_COLUMNS = {
    "#": st.column_config.TextColumn(width=40),
    "layer": st.column_config.TextColumn(width=150),
    "output": st.column_config.TextColumn(width=95),
    "parameters": st.column_config.NumberColumn(format="localized", width=95),
    "MACs": st.column_config.NumberColumn(format="localized", width=110),
    "memory": st.column_config.TextColumn(width=80),
}
# Settings and formulas are as wide as their longest text (the table scrolls sideways), so
# that no formula is cut off; about 6.8 pixels a character at the table's font size.
_TEXT_COLUMNS = ("settings", "how", "output size")
PIXELS_PER_CHARACTER = 6.8
MAX_TEXT_WIDTH = 900


def _column_config(frame: pd.DataFrame) -> dict:
    config = dict(_FIXED_COLUMNS)
    for column in _TEXT_COLUMNS:
        longest = max((len(str(text)) for text in frame[column]), default=0)
        width = int(min(MAX_TEXT_WIDTH, max(80, PIXELS_PER_CHARACTER * longest + 24)))
        config[column] = st.column_config.TextColumn(width=width)
    return config


def _rows_frame(rows: list[LayerRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": [row.path for row in rows],
            "layer": [row.kind for row in rows],
            "settings": [row.settings for row in rows],
            "output": [ne.format_shape(row.output_shape) for row in rows],
            "parameters": [row.params for row in rows],
            "how": [row.param_formula for row in rows],
            "MACs": [row.macs for row in rows],
            "memory": [ne.format_bytes(row.activation_bytes) for row in rows],
            "output size": [row.size_formula for row in rows],
        }
    )


def analysis_table(analysis: Analysis) -> None:
    frame = _rows_frame(analysis.rows)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=table_height(len(analysis.rows), most=800),
        column_config=_column_config(frame),
    )
    for row in analysis.rows:
        if row.children:
            title = (
                f"Block {row.index}: {row.settings} → {ne.format_shape(row.output_shape)}, "
                f"{row.params:,} parameters"
            )
            with st.expander(escape_markdown(title)):
                inner = _rows_frame(row.children)
                st.dataframe(
                    inner,
                    hide_index=True,
                    width="stretch",
                    height=table_height(len(row.children)),
                    column_config=_column_config(inner),
                )
                st.caption(
                    escape_markdown(
                        f"Merge: {row.size_formula}. Parameters: {row.param_formula or 0}."
                    )
                )


def layer_detail(analysis: Analysis, position: int | None) -> None:
    """The chosen layer's formulas written out with its own numbers."""
    if position is None or position >= len(analysis.rows):
        return
    row = analysis.rows[position]
    st.markdown(
        f"**Layer {position}: {row.kind}** {escape_markdown(row.settings)}  \n"
        f"input {ne.format_shape(row.input_shape)} → output {ne.format_shape(row.output_shape)}"
    )
    lines = []
    if row.size_formula:
        lines.append(f"output size   {row.size_formula}")
    if row.param_formula:
        lines.append(f"parameters    {row.param_formula}")
    if row.mac_formula:
        lines.append(f"MACs          {row.mac_formula}")
    elif row.macs:
        lines.append(f"MACs          {row.macs:,}")
    if row.comparison:
        lines.append(f"against       {row.comparison}")
    lines.append(
        f"memory        {' × '.join(map(str, row.output_shape))} × 4 bytes = "
        f"{ne.format_bytes(row.activation_bytes)}"
        if not row.children
        else f"memory        {ne.format_bytes(row.activation_bytes)} (everything inside the block)"
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
