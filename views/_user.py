"""Whose model library a browser session uses.

When the dashboard has logins (Streamlit's `st.login` with an OpenID Connect provider in
`.streamlit/secrets.toml`), a logged-in student gets a library of their own
(`ModelLibrary.for_user`, keyed by their login's issuer and subject, or their e-mail address
when the provider gives no subject). A visitor who has not logged in gets a library for this
browser session only, and the models panel offers the login. Without logins the dashboard is
the single-user tool it always was: one shared library, and the models panel says so when
more than one browser is connected. The rule itself is `cnnlib.library`'s; this module only
reads who the user is and how many sessions the server holds.
"""

from __future__ import annotations

import streamlit as st
from streamlit import auth_util, runtime
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnlib.i18n import _
from cnnlib.library import ModelLibrary


def auth_configured() -> bool:
    """True when the server has logins: an `[auth]` section in the secrets, or a user the
    server has identified (a login flag on `st.user`)."""
    try:
        if auth_util.get_secrets_auth_section():
            return True
    except Exception:  # noqa: BLE001 - a damaged secrets file means no logins here
        pass
    return "is_logged_in" in st.user.to_dict()


def user_id() -> str | None:
    """The logged-in user's identity, stable across logins; None when nobody is logged in."""
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return None
    subject = str(info.get("sub") or "").strip()
    if subject:
        return f"{info.get('iss') or ''}|{subject}"
    email = str(info.get("email") or "").strip().lower()
    return f"email|{email}" if email else None


def connected_sessions() -> int:
    """How many browser sessions the server has connected now (1 outside a real server)."""
    if not runtime.exists():
        return 1
    server = runtime.get_instance()
    # AppTest stands a mock in for the runtime; it has no sessions to count.
    if type(server) is not Runtime:
        return 1
    # The runtime has no public count; its session manager's is the one Streamlit keeps.
    count = getattr(getattr(server, "_session_mgr", None), "num_active_sessions", None)
    return int(count()) if callable(count) else 1


def session_library(announce: bool = False) -> ModelLibrary:
    """The model library of this session's user. With `announce`, also say on the page whose
    library it is when that matters: the login offer, or the warning that several browsers
    share one library."""
    if auth_configured():
        user = user_id()
        if user is not None:
            return ModelLibrary.for_user(user)
        if announce:
            st.info(
                _(
                    "Log in to keep models of your own: until then, what you save here stays "
                    "with this browser tab."
                ),
                icon=":material/login:",
            )
            st.button(_("Log in"), key="user_login", on_click=st.login, icon=":material/login:")
        context = get_script_run_ctx()
        session = context.session_id if context is not None else "no session"
        return ModelLibrary.for_user(f"session|{session}")
    if announce:
        sessions = connected_sessions()
        if sessions > 1:
            st.warning(
                _(
                    "This dashboard has no logins, so it is a single-user tool: {count} "
                    "browsers are connected now and share one model library, where each can "
                    "load, replace or delete the others' models. A teacher can give every "
                    "student a library of their own by setting up logins (see deploy/README.md)."
                ).format(count=sessions),
                icon=":material/group:",
            )
    return ModelLibrary()
