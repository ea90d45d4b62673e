"""Home: what CNN Lab is and the order in which to visit its pages."""

from pathlib import Path

import streamlit as st

from cnnlib.i18n import _
from views._catalog import PAGES

st.title("CNN Lab")
st.markdown(
    _(
        "Learn convolutional neural networks by **building** them, **training** them live and "
        "**looking inside** them. Every model here is a real Keras model; every number on a "
        "page is computed, not typed in. The pages follow the lecture *CNN(2): Convolutional "
        "Neural Networks* in order."
    )
)

st.subheader(_("Where to start"))
_app_dir = Path(__file__).resolve().parent.parent
for step, entry in enumerate((e for e in PAGES if (_app_dir / e.path).exists()), start=1):
    with st.container(border=True):
        st.page_link(entry.path, label=f"{step}. {_(entry.title)}", icon=entry.icon)
        st.write(_(entry.teaches))
        st.caption(_("Lecture: {sections}").format(sections=_(entry.lecture)))

st.subheader(_("How the pieces fit"))
st.markdown(
    _(
        "- Networks you build in the **architecture explorer** can be trained on the MNIST and "
        "CIFAR-10 pages.\n"
        "- Models you train stay in this browser session under a name; save them to the model "
        "library to keep them, or download them as `.keras` files.\n"
        "- The **ensembles** page combines the models of this session and of the library."
    )
)
st.caption(
    _(
        "Training runs on this server's CPU. When several people train at once, jobs wait in a "
        "queue and each page shows its place in it."
    )
)
