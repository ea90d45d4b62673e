"""The explorer's analysis of the network being edited: totals, the per-layer table (with
each block's inner layers), one layer's formulas written out, and the volume and cost
diagrams. The numbers are `cnnlib.arithmetic`'s and the pictures
`cnnlib.figures_architecture`'s.
"""

from __future__ import annotations

import unicodedata

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import Analysis, LayerRow, format_bytes
from cnnlib.figures_architecture import cost_bars, volume_diagram
from cnnlib.i18n import N_, _
from views._explorer_editor import table_height
from views._explorer_text import escape_markdown


def totals(analysis: Analysis) -> None:
    first, second = st.columns(3), st.columns(3)
    first[0].metric(_("Parameters"), f"{analysis.total_params:,}")
    first[1].metric(_("Trainable"), f"{analysis.trainable_params:,}")
    first[2].metric(_("Non-trainable"), f"{analysis.non_trainable_params:,}")
    second[0].metric(_("Multiply-accumulates"), ne.format_count(analysis.total_macs))
    second[1].metric(_("Activation memory"), format_bytes(analysis.activation_bytes))
    second[2].metric(_("Output"), ne.format_shape(analysis.output_shape))


_FIXED_COLUMNS = {
    "#": st.column_config.TextColumn(width=40),
    N_("layer"): st.column_config.TextColumn(width=150),
    N_("output"): st.column_config.TextColumn(width=95),
    N_("parameters"): st.column_config.NumberColumn(format="localized", width=95),
    N_("MACs"): st.column_config.NumberColumn(format="localized", width=110),
    N_("memory"): st.column_config.TextColumn(width=80),
}
# Settings and formulas are as wide as their longest text (the table scrolls sideways), so
# that no formula is cut off; about 6.8 pixels a character at the table's font size.
_TEXT_COLUMNS = (N_("settings"), N_("how"), N_("output size"))
PIXELS_PER_CHARACTER = 6.8
MAX_TEXT_WIDTH = 900


def _column_config(frame: pd.DataFrame) -> dict:
    """Column widths under the column names as the table shows them (translated)."""
    config = {_(name): column for name, column in _FIXED_COLUMNS.items()}
    for column in _TEXT_COLUMNS:
        longest = max((len(str(text)) for text in frame[_(column)]), default=0)
        width = int(min(MAX_TEXT_WIDTH, max(80, PIXELS_PER_CHARACTER * longest + 24)))
        config[_(column)] = st.column_config.TextColumn(width=width)
    return config


def _rows_frame(rows: list[LayerRow]) -> pd.DataFrame:
    """The rows' table, its column names in the current language."""
    return _english_rows_frame(rows).rename(columns=_)


def _english_rows_frame(rows: list[LayerRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": [row.path for row in rows],
            "layer": [row.kind for row in rows],
            "settings": [row.settings for row in rows],
            "output": [ne.format_shape(row.output_shape) for row in rows],
            "parameters": [row.params for row in rows],
            "how": [row.param_formula for row in rows],
            "MACs": [row.macs for row in rows],
            "memory": [format_bytes(row.activation_bytes) for row in rows],
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
            title = _("Block {index}: {settings} → {shape}, {params} parameters").format(
                index=row.index,
                settings=row.settings,
                shape=ne.format_shape(row.output_shape),
                params=f"{row.params:,}",
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
                        _("Merge: {formula}. Parameters: {params}.").format(
                            formula=row.size_formula, params=row.param_formula or 0
                        )
                    )
                )


def layer_detail(analysis: Analysis, position: int | None) -> None:
    """The chosen layer's formulas written out with its own numbers."""
    if position is None or position >= len(analysis.rows):
        return
    row = analysis.rows[position]
    st.markdown(
        _("**Layer {position}: {kind}** {settings}  \ninput {input} → output {output}").format(
            position=position,
            kind=row.kind,
            settings=escape_markdown(row.settings),
            input=ne.format_shape(row.input_shape),
            output=ne.format_shape(row.output_shape),
        )
    )
    lines = []
    if row.size_formula:
        lines.append((_("output size"), row.size_formula))
    if row.param_formula:
        lines.append((_("parameters"), row.param_formula))
    if row.mac_formula:
        lines.append(("MACs", row.mac_formula))
    elif row.macs:
        lines.append(("MACs", f"{row.macs:,}"))
    if row.comparison:
        lines.append((_("against"), row.comparison))
    if not row.children:
        memory = _("{shape} × 4 bytes = {size}").format(
            shape=" × ".join(map(str, row.output_shape)), size=format_bytes(row.activation_bytes)
        )
    else:
        memory = _("{size} (everything inside the block)").format(
            size=format_bytes(row.activation_bytes)
        )
    lines.append((_("memory"), memory))
    width = max(14, *(_columns(label) + 3 for label, _text in lines))
    lines = [label + " " * (width - _columns(label)) + text for label, text in lines]
    st.code("\n".join(lines), language=None)


def _columns(text: str) -> int:
    """How many monospace columns `text` takes: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def diagrams(analysis: Analysis) -> None:
    st.plotly_chart(volume_diagram(analysis.rows), key="explorer_fig_volumes")
    st.caption(
        _(
            "Each box is a layer's output: height and depth follow the feature map's height and "
            "width, thickness its channels (log scale). Layers that keep the shape (dropout, "
            "batch normalisation, activations) are in the hover text of the box before them."
        )
    )
    st.plotly_chart(cost_bars(analysis.rows), key="explorer_fig_costs")
