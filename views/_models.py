"""The panel that keeps, saves, downloads, loads and uploads trained models for a page's
dataset: the session's models, the model library and `.keras` uploads. Saving and loading are
`cnnlib.library`'s; this module only lays them out and says what happened."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from cnnlib import library
from cnnlib.i18n import _
from cnnlib.runs import unique_name
from views import _state
from views._user import session_library


def models_for(input_shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    """The session's models that read images of `input_shape` into `num_classes` classes."""
    return {
        name: record
        for name, record in st.session_state[_state.MODELS].items()
        if record.model is not None
        and tuple(record.input_shape) == tuple(input_shape)
        and len(record.class_names) == num_classes
    }


def model_panel(page: str, dataset: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Keep, save, download, load and upload models for this page's dataset."""
    mine = models_for(input_shape, num_classes)
    note = st.session_state.get(_state.MODELS_NOTE)
    if note:
        st.caption(note)
    shelf = session_library(announce=True)
    session_tab, library_tab, upload_tab = st.tabs(
        [_("In this session"), _("Model library"), _("Upload a .keras file")]
    )
    with session_tab:
        if not mine:
            st.info(_("No model yet: train one above, or load one from the library."))
        else:
            _session_models(page, mine, shelf)
    with library_tab:
        _library_models(page, dataset, input_shape, num_classes, shelf)
    with upload_tab:
        _upload(page, input_shape, num_classes)


def _shown_origin(source: str) -> str:
    """A model's stored origin ("trained", "upload") in the page's language."""
    return {"trained": _("trained here"), "upload": _("uploaded Keras file")}.get(source, source)


def _session_models(page: str, mine: dict[str, Any], shelf: library.ModelLibrary) -> None:
    rows = [
        {
            _("name"): name,
            _("test accuracy"): record.test_accuracy,
            _("epochs"): record.settings.get("epochs"),
            _("source"): _shown_origin(record.source),
            _("created"): record.created,
        }
        for name, record in mine.items()
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={_("test accuracy"): st.column_config.NumberColumn(format="percent")},
    )
    name = st.selectbox(
        _("Model"), list(mine), key=f"{page}_w_session_model", persist_state="session"
    )
    if name is None:
        return
    record = mine[name]
    save_as = st.text_input(
        _("Name in the library"),
        placeholder=name,
        key=f"{page}_w_save_name",
        persist_state="session",
    ).strip()
    overwrite = st.checkbox(
        _("Replace a saved model of that name"), key=f"{page}_w_overwrite", persist_state="session"
    )
    save, download, remove = st.columns(3)
    if save.button(_("Save to library"), key=f"{page}_save", icon=":material/save:"):
        try:
            stored = dataclasses.replace(record, name=save_as) if save_as else record
            path = shelf.save(stored, overwrite=overwrite)
            st.toast(_("Saved as {name} in the model library.").format(name=repr(path.stem)))
        except ValueError as error:
            st.error(str(error))
    download.download_button(
        _("Download .keras"),
        data=lambda: library.record_to_bytes(record),
        file_name=f"{library.safe_name(name)}.keras",
        mime="application/octet-stream",
        key=f"{page}_download",
        icon=":material/download:",
        on_click="ignore",
    )
    if remove.button(_("Remove from session"), key=f"{page}_remove", icon=":material/delete:"):
        models = st.session_state[_state.MODELS]
        models.pop(name, None)
        library.release(record)
        st.rerun()


def _library_models(page, dataset, input_shape, num_classes, shelf) -> None:
    entries = [
        entry
        for entry in shelf.list()
        if entry["error"] is None and entry["dataset"] in (dataset, None, "unknown")
    ]
    if not entries:
        st.info(
            _("The model library has no {dataset} model yet: save one from the session.").format(
                dataset=dataset.upper()
            )
        )
        return
    labels = {
        entry["name"]: f"{entry['name']}"
        + (f" · {entry['test_accuracy']:.2%}" if entry["test_accuracy"] is not None else "")
        for entry in entries
    }
    name = st.selectbox(
        _("Saved model"),
        list(labels),
        format_func=labels.get,
        key=f"{page}_w_library_model",
        persist_state="session",
    )
    if st.button(_("Load into session"), key=f"{page}_load", icon=":material/upload:"):
        try:
            record = shelf.load(
                name, expected_input_shape=input_shape, expected_classes=num_classes
            )
        except ValueError as error:
            st.error(str(error))
            return
        _keep(record)


def _upload(page: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    upload = st.file_uploader(
        _("A model saved by CNN Lab or by Keras (`model.save('name.keras')`)"),
        type=["keras"],
        key=f"{page}_model_file",
    )
    # The uploader keeps its file across reruns; `<page>_upload` remembers which one was read.
    if upload is None or st.session_state.get(f"{page}_upload") == upload.file_id:
        return
    st.session_state[f"{page}_upload"] = upload.file_id
    try:
        record = library.record_from_bytes(
            upload.getvalue(),
            expected_input_shape=input_shape,
            expected_classes=num_classes,
            name=upload.name.removesuffix(".keras"),
        )
    except ValueError as error:
        st.error(str(error))
        return
    _keep(record)


def _keep(record: Any) -> None:
    models = st.session_state[_state.MODELS]
    record.name = unique_name(record.name, models)
    models[record.name] = record
    st.toast(_("{name} is ready in this session.").format(name=repr(record.name)))
    st.rerun()
