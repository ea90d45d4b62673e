"""Ensembles (lecture section 5.5): combine several trained models into one better answer, see
when and why it beats its members, and why it must be scored on the test set."""

import streamlit as st

from cnnlib.i18n import _, ngettext
from views import _ensemble_members as members
from views import _ensemble_results as results
from views import _ensemble_widgets as widgets
from views import _state

st.title(_("Ensembles"))
st.markdown(
    _(
        "Several models trained on the same data make *different* mistakes. Averaging their "
        "softmax outputs, as the lecture does in section 5.5, lets the majority outvote each "
        "one's errors. Here you can also let them vote, weigh them by validation accuracy, or "
        "train a small model on top of them (stacking), and see which images the ensemble fixes."
    )
)

picked, trained = st.tabs([_("Pick trained models"), _("Train new members")])
with trained:
    members.train_panel()
    members.runs_panel()
with picked:
    keys = widgets.member_picker()
    clicked = st.button(
        _("Build the ensemble"), type="primary", icon=":material/groups:", disabled=len(keys) < 2
    )

state = _state.ensemble()
if clicked or state.autobuild:
    state.autobuild = None
    records = widgets.resolve_members(keys)
    if records is not None:
        bundle = widgets.build(records)
        if bundle is not None:
            state.result = bundle

bundle = state.result
if bundle is not None:
    st.divider()
    count = len(bundle["result"].member_names)
    st.header(
        ngettext("Ensemble of {count} member", "Ensemble of {count} members", count).format(
            count=count
        )
    )
    results.show_result(bundle)
