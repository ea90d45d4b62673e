"""The explorer's Keras tab: build the network in Keras and set Keras's own summary beside
this page's numbers, export it as Python or JSON, and import a network file.

Pairing Keras's layers with the arithmetic's rows is `cnnlib.keras_source.keras_comparison`'s,
and the code is `cnnlib.keras_source.keras_code`'s. TensorFlow is imported only when the user
asks to build.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from cnnlib import network_edit as ne
from cnnlib.arithmetic import Analysis, analyse, format_bytes
from cnnlib.i18n import _, ngettext
from cnnlib.keras_source import COMPARISON_COLUMNS, NOT_IN_KERAS, keras_code, keras_comparison
from cnnlib.layers import MAX_SPEC_BYTES, Network, Parallel
from views import _state
from views._explorer_network import notice, replace_network
from views._explorer_text import escape_markdown

# Building allocates every weight: VGG-16 (138 M parameters) needs about 0.6 GB.
MAX_BUILD_PARAMS = 150_000_000


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


def keras_tab(network: Network) -> None:
    """The explorer's "Keras and export" tab: build the network in Keras and compare, export
    it as JSON or Keras code, import a JSON network."""
    st.subheader(_("Build in Keras and compare"))
    build_and_compare(network, analyse(network))
    st.subheader(_("Export"))
    json_export(network)
    keras_code_export(network)
    st.subheader(_("Import"))
    json_import()


def build_and_compare(network: Network, analysis: Analysis) -> None:
    st.caption(
        _(
            "Builds this network with Keras, the first time loading TensorFlow (a few seconds), "
            "and sets Keras's own per-layer summary beside this page's numbers."
        )
    )
    too_big = analysis.total_params > MAX_BUILD_PARAMS
    if too_big:
        st.warning(
            _(
                "{params} parameters would need {memory} of memory; building is limited to "
                "{limit} parameters. Make the dense layers smaller to build it."
            ).format(
                params=f"{analysis.total_params:,}",
                memory=format_bytes(4 * analysis.total_params),
                limit=f"{MAX_BUILD_PARAMS:,}",
            )
        )
    if st.button(_("Build in Keras and compare"), key="explorer_btn_build", disabled=too_big):
        with st.spinner(_("Building the model in Keras…")):
            try:
                st.session_state[_state.EXPLORER_KERAS] = _keras_summary(network)
            except (ValueError, MemoryError) as err:
                st.error(
                    escape_markdown(
                        _("Keras could not build this network: {error}").format(error=err)
                    )
                )
                return
    result = st.session_state.get(_state.EXPLORER_KERAS)
    if not result:
        return
    if result["network"] != network:
        st.info(_("The network has changed since it was built: build it again to compare."))
        return
    comparison = pd.DataFrame(keras_comparison(network, analysis, result["rows"]))
    same_totals = (
        result["trainable"] == analysis.trainable_params
        and result["non_trainable"] == analysis.non_trainable_params
        and tuple(result["output_shape"]) == tuple(analysis.output_shape)
    )
    disagreements = int((comparison["agree"] == "✗").sum()) if len(comparison) else 0
    if same_totals and not disagreements:
        st.success(
            _(
                "Keras agrees: {params} parameters ({trainable} trainable), output {shape}, and "
                "every layer's shape and parameter count match."
            ).format(
                params=f"{result['trainable'] + result['non_trainable']:,}",
                trainable=f"{result['trainable']:,}",
                shape=ne.format_shape(analysis.output_shape),
            )
        )
    else:
        st.error(
            ngettext(
                "Keras disagrees: it counts {trainable} trainable and {frozen} non-trainable "
                "parameters against this page's {ours} and {ours_frozen}; {count} layer differs "
                "(marked ✗).",
                "Keras disagrees: it counts {trainable} trainable and {frozen} non-trainable "
                "parameters against this page's {ours} and {ours_frozen}; {count} layers differ "
                "(marked ✗).",
                disagreements,
            ).format(
                trainable=f"{result['trainable']:,}",
                frozen=f"{result['non_trainable']:,}",
                ours=f"{analysis.trainable_params:,}",
                ours_frozen=f"{analysis.non_trainable_params:,}",
                count=disagreements,
            )
        )
    shown = comparison.rename(columns={name: _(name) for name in COMPARISON_COLUMNS})
    if len(shown):
        layer = _("Keras layer")
        shown[layer] = shown[layer].str.replace(NOT_IN_KERAS, _(NOT_IN_KERAS), regex=False)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            _("parameters here"): st.column_config.NumberColumn(format="localized"),
            _("parameters in Keras"): st.column_config.NumberColumn(format="localized"),
        },
    )


def keras_code_export(network: Network) -> None:
    has_blocks = any(isinstance(layer, Parallel) for layer in network.layers)
    style = st.radio(
        _("Code style"),
        ["sequential", "functional"],
        horizontal=True,
        key="explorer_w_style",
        help=_("Networks with parallel blocks can only be written in the functional style."),
    )
    if has_blocks and style == "sequential":
        st.info(
            _(
                "This network has parallel blocks, which keras.Sequential cannot express: the "
                "code is written in the functional style."
            )
        )
        style = "functional"
    key = (network.to_json(), style)
    cached = st.session_state.get(_state.EXPLORER_CODE)
    if not cached or cached["key"] != key:
        # Writing the code needs no TensorFlow, so it follows every edit at once.
        try:
            cached = {"key": key, "code": keras_code(network, style)}
        except ValueError as err:
            st.error(escape_markdown(err))
            return
        st.session_state[_state.EXPLORER_CODE] = cached
    st.code(cached["code"], language="python")
    st.download_button(
        _("Download the Python file"),
        cached["code"],
        file_name=f"{_file_stem(network.name)}.py",
        mime="text/x-python",
        key="explorer_download_code",
    )


def _file_stem(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "_", name).strip("_").lower() or "network"


def json_export(network: Network) -> None:
    st.download_button(
        _("Download the network as JSON"),
        network.to_json(),
        file_name=f"{_file_stem(network.name)}.json",
        mime="application/json",
        key="explorer_download_json",
    )


def json_import() -> None:
    upload = st.file_uploader(
        _("Load a network file (JSON exported by CNN Lab)"),
        type=["json"],
        key="explorer_upload_file",
        max_upload_size=1,
    )
    if upload is not None and upload.file_id != st.session_state.get(_state.EXPLORER_UPLOAD):
        st.session_state[_state.EXPLORER_UPLOAD] = upload.file_id
        _import(upload)
    if notice():
        st.success(escape_markdown(notice()))


def _import(upload: Any) -> None:
    data = upload.getvalue()
    try:
        if len(data) > MAX_SPEC_BYTES:
            raise ValueError(
                _(
                    "The file is {size} bytes; a network file is at most {limit}. Upload a "
                    "network exported by CNN Lab."
                ).format(size=f"{len(data):,}", limit=f"{MAX_SPEC_BYTES:,}")
            )
        network = Network.from_json(data)
        analysis = analyse(network)
    except ValueError as err:
        st.error(
            escape_markdown(
                _("Could not load {name}: {error} The network you were editing is kept.").format(
                    name=upload.name, error=err
                )
            )
        )
        return
    layers = len(network.layers) - 1
    message = ngettext(
        "Loaded {network} from {file}: {count} layer, {params} parameters. It is in the editor "
        "on the Network tab.",
        "Loaded {network} from {file}: {count} layers, {params} parameters. It is in the editor "
        "on the Network tab.",
        layers,
    ).format(
        network=repr(network.name),
        file=upload.name,
        count=layers,
        params=f"{analysis.total_params:,}",
    )
    replace_network(network, None, message)
    st.rerun()
