"""The stored sets of "your own data": read once and shared by every session
(`stored_dataset`), chosen on a page (`stored_set_picker`) and named (`stored_caption`), and
listed with a delete button that asks first (`stored_sets`). The work is `cnnlib.own_data`'s.
"""

from __future__ import annotations

import streamlit as st

from cnnlib import own_data
from cnnlib.arithmetic import format_bytes
from cnnlib.i18n import _
from cnnlib.own_data import OwnDataError, StoredInfo


def stored_dataset(name: str) -> own_data.OwnDataset:
    """The stored set `name` ("<name>" or "own:<name>"), read once per server process and
    shared, like MNIST: stored sets are read-only and live in the shared data folder. A set
    imported again under the same name is read afresh. Raises OwnDataError as `load_stored`.
    """
    name = name.removeprefix(own_data.NAME_PREFIX)
    stamp = next((info.created for info in own_data.list_stored() if info.name == name), "")
    return _cached_dataset(name, str(own_data.own_dir()), stamp)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_dataset(name: str, folder: str, created: str) -> own_data.OwnDataset:
    return own_data.load_stored(name)


def stored_set_picker(key: str, imported: str | None, followed: str) -> StoredInfo | None:
    """A picker over the stored sets, newest first, keyed `key`; it moves to the set
    `imported` once, the first time it sees it (`followed` is the session key that remembers
    which import it moved to). None when nothing is stored."""
    stored = {info.name: info for info in own_data.list_stored()}
    if not stored:
        return None
    if imported in stored and st.session_state.get(followed) != imported:
        st.session_state[followed] = imported
        st.session_state[key] = imported
    if st.session_state.get(key) not in stored:
        st.session_state[key] = next(iter(stored))
    name = st.selectbox(
        _("Dataset"),
        list(stored),
        format_func=lambda name: stored[name].title,
        key=key,
        persist_state="session",
        help=_("Your stored sets, newest first. Import another in the Import tab."),
    )
    return stored[name]


def stored_caption(info: StoredInfo) -> str:
    """One line on a stored set: its parts, image size, classes and where it came from."""
    height, width, channels = info.input_shape
    counts = info.counts
    return _(
        "{title}: {train} training, {val} validation and {test} test images of {shape} in "
        "{classes} classes ({names}), from {source}."
    ).format(
        title=info.title,
        train=f"{counts['train']:,}",
        val=f"{counts['val']:,}",
        test=f"{counts['test']:,}",
        shape=f"{height}×{width}×{channels}",
        classes=len(info.class_names),
        names=", ".join(info.class_names[:8]) + (", …" if len(info.class_names) > 8 else ""),
        source=info.shown_source(),
    )


def stored_sets(key: str) -> None:
    """The stored sets, each with its counts and a delete button that asks first; the
    session keys are `key`'s, as `own_data_panel(key)`'s."""
    stored = own_data.list_stored()
    if not stored:
        st.caption(_("No stored sets yet. An imported set stays here for later sessions."))
        return
    deleting = st.session_state.get(f"{key}_deleting")
    for info in stored:
        height, width, channels = info.input_shape
        text, button = st.columns([5, 1])
        text.markdown(
            _(
                "**{title}** · {classes} classes · {train} / {val} / {test} training / "
                "validation / test images of {shape} · {size} · {created}"
            ).format(
                title=info.title,
                classes=len(info.class_names),
                train=f"{info.counts['train']:,}",
                val=f"{info.counts['val']:,}",
                test=f"{info.counts['test']:,}",
                shape=f"{height}×{width}×{channels}",
                size=format_bytes(info.nbytes),
                created=info.created[:10],
            )
        )
        if button.button(_("Delete"), key=f"{key}_delete_{info.name}"):
            st.session_state[f"{key}_deleting"] = deleting = info.name
        if deleting == info.name:
            st.warning(
                _("Delete {title} for good? Models trained on it are kept.").format(
                    title=repr(info.title)
                )
            )
            yes, no = st.columns(2)
            if yes.button(_("Delete for good"), key=f"{key}_delete_yes"):
                try:
                    own_data.delete_stored(info.name)
                except OwnDataError as error:
                    st.error(str(error))
                st.session_state[f"{key}_deleting"] = None
                if st.session_state.get(f"{key}_imported") == info.name:
                    st.session_state[f"{key}_imported"] = None
                st.rerun()
            if no.button(_("Keep it"), key=f"{key}_delete_no"):
                st.session_state[f"{key}_deleting"] = None
                st.rerun()
