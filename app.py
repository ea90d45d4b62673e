"""CNN Lab's entry point: sets up the page, the session state, the language and the navigation."""

import streamlit as st

from cnnlib.i18n import _
from views import _language, _state
from views._catalog import PAGES

_state.keep_keras_state()
st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
_state.init()
_state.keep_finished_runs()
_language.use_language()

home = st.Page("views/home.py", title=_("Home"), icon=":material/home:", default=True)
navigation = st.navigation(
    [home] + [st.Page(entry.path, title=_(entry.title), icon=entry.icon) for entry in PAGES]
)
_language.language_switch()
navigation.run()
