"""The language of a session: chosen at the start of every script run and switched in the sidebar.

`?lang=ko` or `?lang=en` in the URL wins; then the session's own choice; on a first visit, the
browser's language (`st.context.locale`); then English. The choice lives in the session state,
so it survives page switches, and the switch writes it into the URL too, so that a copied link
opens in the language on screen. Widgets are keyed, so a switch keeps their values. Catalogs and
the rules of choosing are `cnnlib.i18n`'s.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnlib import figures_live, i18n
from cnnlib.i18n import _

LANGUAGE = "language"  # session state: the code of the language the session speaks
SWITCH = "language_switch"  # the sidebar switch's widget key


def _session_language() -> str | None:
    # A worker thread has no session to ask; it speaks the default language.
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(LANGUAGE)


# A fragment rerun may run on a thread where no script run set the language: it asks the session.
i18n.set_fallback(_session_language)


def use_language() -> str:
    """Decide this run's language, speak it from here on, and return its code."""
    code = i18n.choose(
        url=st.query_params.get("lang"),
        chosen=st.session_state.get(LANGUAGE),
        browser=st.context.locale,
    )
    st.session_state[LANGUAGE] = code
    i18n.set_language(code)
    return code


def _switched() -> None:
    code = st.session_state[SWITCH]
    st.session_state[LANGUAGE] = code
    st.query_params["lang"] = code
    # A choice widget shows its option's label in the language it was drawn in, and the
    # browser keeps showing (and sends back) that label until the server gives it the value
    # again: so every value widget (keyed `*_w_*`) is given its value again, to be drawn with
    # the new language's label. Without this, a select box showed its English choice among
    # Korean options, and the choice fell back to the default on the next switch.
    for key in [key for key in st.session_state if "_w_" in str(key)]:
        st.session_state[key] = st.session_state[key]


def language_switch() -> None:
    """The sidebar's 한국어 / English switch, with a note when Korean cannot be drawn in
    pictures on this server."""
    st.session_state[SWITCH] = st.session_state[LANGUAGE]
    st.sidebar.radio(
        "Language · 언어",
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.get,
        key=SWITCH,
        horizontal=True,
        on_change=_switched,
    )
    if st.session_state[LANGUAGE] == "ko" and figures_live.hangul_font() is None:
        st.sidebar.warning(_(figures_live.NO_HANGUL_FONT), icon=":material/font_download_off:")
