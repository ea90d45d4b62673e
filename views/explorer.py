"""Architecture explorer: build any CNN layer by layer and see every shape, parameter and
operation, with the formulas that give them; check the lecture's stated shapes; try
convolution (plain, dilated, transposed, depthwise separable, 1×1), channels, pooling,
upsampling and activation maps by hand; read the case studies; build the network in Keras to
compare; export it as Keras code or JSON and load it back.

Nothing here trains, and TensorFlow is loaded only when the user asks for Keras.
"""

import streamlit as st

from cnnlib.i18n import N_, _
from views import _explorer_concepts as concepts
from views import _explorer_editor as editor
from views import _explorer_family as family
from views import _explorer_keras as export
from views import _explorer_lecture as lecture
from views import _explorer_network as network_state
from views import _explorer_table as table
from views import _share
from views._explorer_text import escape_markdown
from views._tabs import page_tabs

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
tabs = page_tabs(
    "explorer_w_tab",
    {
        "network": N_("Network"),
        "check": N_("Lecture check"),
        "concepts": N_("Concepts"),
        "cases": N_("Case studies"),
        "keras": N_("Keras and export"),
    },
)
network_tab, check_tab, concept_tab, case_tab, keras_tab = tabs.values()

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
        lecture.lecture_check()

if concept_tab.open:
    with concept_tab:
        slides = {
            "convolution": (N_("Convolution"), concepts.convolution_concept),
            "channels": (N_("Channels and filters"), concepts.channels_concept),
            "pointwise": (N_("1×1 convolution"), family.pointwise_concept),
            "dilated": (N_("Dilated"), family.dilation_concept),
            "separable": (N_("Depthwise separable"), family.separable_concept),
            "pooling": (N_("Pooling"), concepts.pooling_concept),
            "upsampling": (N_("Upsampling"), family.upsampling_concept),
            "transposed": (N_("Transposed"), family.transposed_concept),
            "maps": (N_("Activation maps"), concepts.activation_concept),
        }
        shown = page_tabs(
            "explorer_w_concept", {name: label for name, (label, _show) in slides.items()}
        )
        for name, tab in shown.items():
            if tab.open:
                with tab:
                    slides[name][1]()

if case_tab.open:
    with case_tab:
        lecture.case_studies()

if keras_tab.open:
    with keras_tab:
        export.keras_tab(network_state.current_network())

_share.explorer_link(share_note, share_slot)
