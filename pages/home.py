"""Home: what CNN Lab is and the order in which to visit its pages."""

import streamlit as st

st.title("CNN Lab")
st.write(
    "Learn convolutional neural networks by building them, training them live and looking "
    "inside them, with real Keras underneath."
)
