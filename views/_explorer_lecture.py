"""The explorer's lecture check (the shapes the lecture's code comments state, beside what
Keras computes) and its case studies (published parameter counts beside ours, with what each
network introduced).

The comparison is `cnnlib.network_edit.compare_stated_shapes`'s; the lecture's own text is
shown as plain text, never as Markdown, so that "3136 = 7*7*64" keeps its asterisks.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import analyse
from cnnlib.i18n import _
from cnnlib.registry import REGISTRY
from views._explorer_editor import table_height
from views._explorer_network import notice, pick_entry, replace_network, title_of
from views._explorer_text import escape_markdown


def lecture_check() -> None:
    st.markdown(
        _(
            "The lecture's listings write each layer's output shape in a comment. Here they "
            "are beside what Keras actually computes, with the reason wherever they differ."
        )
    )
    keys = [entry.key for entry in REGISTRY.values() if entry.lecture_shapes]
    entry = REGISTRY[pick_entry(_("Lecture model"), keys, "explorer_w_check")]
    rows = ne.compare_stated_shapes(entry.network, entry.shown_lecture_shapes())
    wrong = sum(1 for row in rows if not row["agrees"])
    message = _("{agree} of {count} stated shapes agree with Keras.").format(
        agree=len(rows) - wrong, count=len(rows)
    )
    (st.warning if wrong else st.success)(message)
    table = pd.DataFrame(
        {
            _("layer"): [row["layer"] for row in rows],
            _("settings"): [row["settings"] for row in rows],
            _("the lecture's comment"): [row["stated"] for row in rows],
            _("Keras computes"): [row["true"] for row in rows],
            _("agrees"): ["✓" if row["agrees"] else "✗" for row in rows],
        }
    ).set_index(_("layer"))
    # A dataframe shows its cells as text; st.table would read them as Markdown.
    st.dataframe(table, width="stretch", height=table_height(len(rows)))
    # The reasons are sentences: written out below, where they are not cut to a cell's width.
    reasons = [
        f"- **{escape_markdown(row['layer'])}**: {escape_markdown(row['why'])}"
        for row in rows
        if row["why"]
    ]
    if reasons:
        st.markdown("\n".join(reasons))
    st.caption(
        _(
            "The check is made on the network as the lecture's code writes it: 'valid' padding "
            "unless the code asks for 'same'. Output size = ⌊(W − F + 2P) / S⌋ + 1."
        )
    )


def case_studies() -> None:
    table = []
    for entry in REGISTRY.values():
        ours = analyse(entry.network).total_params
        published = entry.published_params
        table.append(
            {
                "network": entry.shown_title(),
                "parameters here": f"{ours:,}",
                "published": "—" if published is None else f"{published:,}",
                "difference": "—" if published is None else f"{ours - published:+,}",
            }
        )
    longest = max(len(row["network"]) for row in table)
    headers = {
        "network": _("network"),
        "parameters here": _("parameters here"),
        "published": _("published"),
        "difference": _("difference"),
    }
    st.dataframe(
        pd.DataFrame(table).rename(columns=headers),
        hide_index=True,
        width="stretch",
        height=table_height(len(table)),
        # As wide as the longest title, so that none is cut off.
        column_config={
            headers["network"]: st.column_config.TextColumn(width=int(6.8 * longest + 24))
        },
    )
    key = st.selectbox(
        _("Case study"),
        list(REGISTRY),
        format_func={key: title_of(key) for key in REGISTRY}.get,
        key="explorer_w_case",
    )
    entry = REGISTRY[key]
    ours = analyse(entry.network).total_params
    st.markdown(
        _("**{title}: what it introduced.** {summary}").format(
            title=escape_markdown(entry.shown_title()),
            summary=escape_markdown(entry.shown_summary()),
        )
    )
    st.caption(escape_markdown(_("Source: {source}").format(source=entry.shown_source())))
    cols = st.columns(2)
    cols[0].metric(_("Our count"), f"{ours:,}")
    if entry.published_params is not None:
        delta = ours - entry.published_params
        cols[1].metric(
            _("Published"), f"{entry.published_params:,}", f"{delta:+,}" if delta else _("same")
        )
    if entry.count_note:
        st.info(escape_markdown(entry.shown_count_note()))
    if st.button(_("Load into the editor"), key="explorer_btn_case_load"):
        replace_network(
            entry.network,
            key,
            _("Loaded {title} into the editor.").format(title=entry.shown_title()),
        )
        st.rerun()
    if notice():
        st.success(escape_markdown(notice()))
