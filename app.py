"""CNN Lab's entry point: sets up the page, the session state and the navigation."""

from pathlib import Path

import streamlit as st

from views import _state
from views._catalog import PAGES

_state.keep_keras_state()
st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
_state.init()
_state.keep_widget_values()

_HERE = Path(__file__).parent
home = st.Page("views/home.py", title="Home", icon=":material/home:", default=True)
navigation = st.navigation(
    [home]
    + [
        st.Page(entry.path, title=entry.title, icon=entry.icon)
        for entry in PAGES
        if (_HERE / entry.path).exists()
    ]
)
navigation.run()
