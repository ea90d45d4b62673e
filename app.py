"""CNN Lab's entry point: sets up the page, the session state and the navigation."""

import streamlit as st

from pages import _state

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
_state.init()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
]
st.navigation(pages).run()
