"""Architecture explorer: build any CNN layer by layer and see every shape, parameter and
operation, with the formulas that give them; check the lecture's stated shapes; try
convolution (plain, dilated, transposed, depthwise separable, 1×1), channels, pooling,
upsampling and activation maps by hand; read the case studies; build the network in Keras to
compare; export it as Keras code or JSON and load it back.

Nothing here trains, and TensorFlow is loaded only when the user asks for Keras.
"""

import streamlit as st

from cnnlib.arithmetic import analyse
from cnnlib.i18n import _
from views import _explorer_concepts as concepts
from views import _explorer_editor as editor
from views import _explorer_family as family
from views import _explorer_keras as export
from views import _explorer_lecture as lecture
from views import _explorer_network as network_state
from views import _explorer_table as table
from views import _share
from views._explorer_text import escape_markdown

st.title(_("Architecture explorer"))
st.caption(
    _(
        "Start from a lecture model or a case study, or from an empty stack, and change "
        "anything: the shapes, parameters and operations update as you type. The MNIST and "
        "CIFAR-10 pages can train the network you leave here."
    )
)
network_state.current_network()
_share.open_explorer_link()
share_note = _share.note_slot()
network_state.start_picker()
share_slot = st.container()
# Only the open tab runs: the others hold figures that take time to build.
network_tab, check_tab, concept_tab, case_tab, keras_tab = st.tabs(
    [_("Network"), _("Lecture check"), _("Concepts"), _("Case studies"), _("Keras and export")],
    key="explorer_w_tab",
    on_change="rerun",
)

if network_tab.open:
    with network_tab:
        network, analysis, error = editor.edit_network()
        if error:
            st.error(escape_markdown(error))
            st.caption(_("The numbers below are for the last network that worked."))
        position = editor.layer_tools(network)
        table.totals(analysis)
        table.analysis_table(analysis)
        table.layer_detail(analysis, position)
        table.diagrams(analysis)

if check_tab.open:
    with check_tab:
        st.markdown(
            _(
                "The lecture's listings write each layer's output shape in a comment. Here they "
                "are beside what Keras actually computes, with the reason wherever they differ."
            )
        )
        lecture.lecture_check()

if concept_tab.open:
    with concept_tab:
        slides = {
            _("Convolution"): concepts.convolution_concept,
            _("Channels and filters"): concepts.channels_concept,
            _("1×1 convolution"): family.pointwise_concept,
            _("Dilated"): family.dilation_concept,
            _("Depthwise separable"): family.separable_concept,
            _("Pooling"): concepts.pooling_concept,
            _("Upsampling"): family.upsampling_concept,
            _("Transposed"): family.transposed_concept,
            _("Activation maps"): concepts.activation_concept,
        }
        tabs = st.tabs(list(slides), key="explorer_w_concept", on_change="rerun")
        for tab, show in zip(tabs, slides.values(), strict=True):
            if tab.open:
                with tab:
                    show()

if case_tab.open:
    with case_tab:
        lecture.case_studies()

if keras_tab.open:
    with keras_tab:
        network = network_state.current_network()
        analysis = analyse(network)
        st.subheader(_("Build in Keras and compare"))
        export.build_and_compare(network, analysis)
        st.subheader(_("Export"))
        export.json_export(network)
        export.keras_code_export(network)
        st.subheader(_("Import"))
        export.json_import()

_share.explorer_link(share_note, share_slot)
