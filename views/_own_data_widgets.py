"""The "your own data" panel: upload a .zip of class folders or a .npz (or take the offline
example), read the check report with a sample grid per class, choose size, colour and aspect
ratio, import after a confirmation, and see or delete the stored sets.

`own_data_panel(key)` draws it all; every session-state key it uses starts with `key`
(`<key>_w_*` for value widgets, `<key>_report`, `<key>_confirm`, `<key>_deleting`,
`<key>_imported`, `<key>_flash`). The stored sets, as a list to delete from and as a page's
picker, are `_own_data_stored`'s. The work is `cnnlib.own_data`'s; this module only lays it
out.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnnlib import own_data
from cnnlib.i18n import N_, _, ngettext
from cnnlib.own_data import ImportSettings, OwnDataError, UploadReport
from views._own_data_stored import stored_sets

# The choices' values are these English words; what a page shows is their translation.
UPLOAD = N_("Upload a .zip or .npz")
EXAMPLE = N_("Example: scikit-learn's handwritten digits")
COLOUR_LABELS = {"grayscale": N_("Grayscale (1 channel)"), "rgb": N_("Colour (3 channels, RGB)")}
FIT_LABELS = {
    "pad": N_("Pad: keep the whole image, fill the bars with its border colour"),
    "crop": N_("Crop: keep the centre square, cut the longer side"),
}


def _translated(words: dict) -> dict:
    """Choice labels translated now, in this script run: a format function may be called
    elsewhere."""
    return {key: _(text) for key, text in words.items()}


SHOWN_CLASSES = 20  # sample rows drawn; the table lists every class


@st.cache_data(show_spinner=False, max_entries=1)
def _example_bytes() -> bytes:
    return own_data.example_zip()


def own_data_panel(key: str = "own") -> str | None:
    """Draw the panel; return the stored name of the set imported in this session, or None."""
    source = st.radio(
        _("Images"),
        [UPLOAD, EXAMPLE],
        format_func=_translated({UPLOAD: UPLOAD, EXAMPLE: EXAMPLE}).get,
        key=f"{key}_w_source",
        horizontal=True,
    )
    payload = None  # (id, file name, bytes) of what is being looked at
    if source == UPLOAD:
        upload = st.file_uploader(
            _(
                "A .zip with one folder of images per class (optionally inside train/ and "
                "test/), or a .npz with x_train, y_train, x_test, y_test and class_names"
            ),
            type=["zip", "npz"],
            key=f"{key}_upload",
        )
        if upload is not None:
            payload = (upload.file_id, upload.name, upload.getvalue())
    else:
        st.caption(
            _("{source}, packed as a zip of PNG files in folders 0 to 9.").format(
                source=_(own_data.EXAMPLE_SOURCE)
            )
        )
        payload = ("example", own_data.EXAMPLE_FILENAME, _example_bytes())
    if payload is not None:
        report = _report(key, payload)
        if report is not None:
            _show_report(report)
            _import_form(key, payload, report)
    st.subheader(_("Stored sets"))
    stored_sets(key)
    return st.session_state.get(f"{key}_imported")


def _report(key: str, payload: tuple[str, str, bytes]) -> UploadReport | None:
    """The check report of the upload, made once per file; shows why when there is none."""
    file_id, filename, data = payload
    held = st.session_state.get(f"{key}_report")
    if held is None or held["id"] != file_id:
        held = {"id": file_id, "report": None, "error": None}
        with st.spinner(_("Checking {file}…").format(file=filename)):
            try:
                held["report"] = own_data.inspect_upload(data, filename)
            except OwnDataError as error:
                held["error"] = str(error)
        st.session_state[f"{key}_report"] = held
        st.session_state.pop(f"{key}_confirm", None)
        if held["report"] is not None:
            _suggest_settings(key, held["report"], filename)
    if held["error"]:
        st.error(held["error"], icon=":material/block:")
    return held["report"]


def _suggest_settings(key: str, report: UploadReport, filename: str) -> None:
    suggested = report.suggested
    title = own_data.EXAMPLE_TITLE if filename == own_data.EXAMPLE_FILENAME else Path(filename).stem
    st.session_state[f"{key}_w_size"] = suggested.size
    st.session_state[f"{key}_w_colour"] = suggested.colour
    st.session_state[f"{key}_w_title"] = title


def _show_report(report: UploadReport) -> None:
    st.subheader(_("What the upload holds"))
    columns = st.columns(4)
    columns[0].metric(_("Images"), f"{report.total_images:,}")
    columns[1].metric(_("Classes"), len(report.class_names))
    columns[2].metric(_("Skipped files"), len(report.skipped))
    columns[3].metric(_("Duplicate groups"), len(report.duplicates))
    for warning in report.warnings:
        st.warning(warning, icon=":material/warning:")
    left, right = st.columns([3, 2])
    with left:
        st.caption(
            _("Images per class and per part of the upload's own split")
            if report.has_split
            else _("Images per class")
        )
        headers = {
            "class": _("class"),
            "images": _("images"),
            "train": _("training"),
            "val": _("validation"),
            "test": _("test"),
        }
        rows = [{headers.get(k, k): v for k, v in row.items()} for row in report.class_table()]
        st.dataframe(rows, hide_index=True, width="stretch")
    with right:
        st.caption(_("Sizes found (width × height)"))
        sizes = [{_("size"): f"{w}×{h}", _("images"): n} for (w, h), n in report.sizes.items()]
        st.dataframe(sizes[:10], hide_index=True, width="stretch")
        st.caption(_("Colour modes found (Pillow's names: L grey, RGB, RGBA with transparency)"))
        modes = [{_("mode"): mode, _("images"): n} for mode, n in report.modes.items()]
        st.dataframe(modes, hide_index=True, width="stretch")
    if report.skipped:
        title = _("Skipped files ({count}): never imported").format(
            count=f"{len(report.skipped):,}"
        )
        with st.expander(title):
            st.dataframe(
                [{_("file"): item.path, _("why"): item.reason} for item in report.skipped],
                hide_index=True,
                width="stretch",
            )
    if report.duplicates:
        title = ngettext(
            "Identical files ({count} group)",
            "Identical files ({count} groups)",
            len(report.duplicates),
        ).format(count=f"{len(report.duplicates):,}")
        with st.expander(title):
            st.dataframe(
                [
                    {_("kept"): group[0], _("copies"): ", ".join(group[1:])}
                    for group in report.duplicates
                ],
                hide_index=True,
                width="stretch",
            )
    st.caption(_("Samples of each class, as the upload has them"))
    for name, samples in list(zip(report.class_names, report.samples, strict=True))[:SHOWN_CLASSES]:
        label, images = st.columns([1, 6])
        label.markdown(f"**{name}**")
        if len(samples):
            images.image(list(samples), width=48)
    if len(report.class_names) > SHOWN_CLASSES:
        st.caption(_("Samples of the first {count} classes are shown.").format(count=SHOWN_CLASSES))


def _import_form(key: str, payload: tuple[str, str, bytes], report: UploadReport) -> None:
    st.subheader(_("Import"))
    flash = st.session_state.pop(f"{key}_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    left, right = st.columns(2)
    size = left.select_slider(
        _("Image size"),
        options=own_data.TARGET_SIZES,
        format_func=lambda side: f"{side}×{side}",
        key=f"{key}_w_size",
        help=_(
            "Every image is resized to this square. Larger sizes show more detail and train "
            "more slowly."
        ),
    )
    colour = left.radio(
        _("Colour"),
        own_data.COLOURS,
        format_func=_translated(COLOUR_LABELS).get,
        key=f"{key}_w_colour",
        horizontal=True,
    )
    fit = right.radio(
        _("Images that are not square"),
        own_data.FITS,
        format_func=_translated(FIT_LABELS).get,
        key=f"{key}_w_fit",
    )
    validation, test, seed = 0.1, 0.2, 0
    if not report.has_split:
        validation = left.slider(
            _("Validation share of each class"), 0.05, 0.3, 0.1, 0.05, key=f"{key}_w_validation"
        )
        test = left.slider(_("Test share of each class"), 0.05, 0.4, 0.2, 0.05, key=f"{key}_w_test")
        seed = right.number_input(_("Split seed"), 0, 2**31 - 1, 0, key=f"{key}_w_seed")
    drop = True
    if report.duplicates:
        drop = right.checkbox(
            _("Keep one copy of identical files"), value=True, key=f"{key}_w_drop_duplicates"
        )
    title = right.text_input(_("Name of the dataset"), key=f"{key}_w_title", max_chars=60)
    try:
        settings = ImportSettings(
            size=int(size),
            colour=colour,
            fit=fit,
            validation_fraction=float(validation),
            test_fraction=float(test),
            seed=int(seed),
            drop_duplicates=bool(drop),
        )
        name = own_data.safe_name(title)
    except OwnDataError as error:
        st.error(str(error))
        return
    channels = settings.channels
    megabytes = report.total_images * size * size * channels / 2**20
    if st.button(_("Import…"), key=f"{key}_import", type="primary"):
        st.session_state[f"{key}_confirm"] = True
    if not st.session_state.get(f"{key}_confirm"):
        return
    exists = any(info.name == name for info in own_data.list_stored())
    with st.container(border=True):
        question = (
            _(
                "Import {images} images of **{classes} classes** as **{title}**, each {shape} "
                "(padded), about {megabytes} MB before compression, into CNN Lab's data folder?"
            )
            if fit == "pad"
            else _(
                "Import {images} images of **{classes} classes** as **{title}**, each {shape} "
                "(centre-cropped), about {megabytes} MB before compression, into CNN Lab's data "
                "folder?"
            )
        )
        st.markdown(
            question.format(
                images=f"{report.total_images:,}",
                classes=len(report.class_names),
                title=title.strip(),
                shape=f"{size}×{size}×{channels}",
                megabytes=f"{megabytes:,.1f}",
            )
        )
        replace = False
        if exists:
            st.warning(_("A stored set called {name} exists already.").format(name=repr(name)))
            replace = st.checkbox(_("Replace it"), key=f"{key}_replace")
        go, cancel = st.columns(2)
        if cancel.button(_("Cancel"), key=f"{key}_cancel"):
            st.session_state[f"{key}_confirm"] = False
            st.rerun()
        if not go.button(
            _("Confirm import"), key=f"{key}_confirm_import", disabled=exists and not replace
        ):
            return
    _file_id, filename, data = payload
    bar = st.progress(0.0, text=_("Importing…"))

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        info = own_data.import_upload(
            data,
            title,
            settings,
            filename=filename,
            report=report,
            replace=replace,
            progress=progress,
        )
    except OwnDataError as error:
        bar.empty()
        st.error(str(error), icon=":material/block:")
        return
    bar.empty()
    st.session_state[f"{key}_confirm"] = False
    st.session_state[f"{key}_imported"] = info.name
    counts = info.counts
    st.session_state[f"{key}_flash"] = _(
        "Stored {title}: {train} training, {val} validation and {test} test images."
    ).format(
        title=repr(info.title),
        train=f"{counts['train']:,}",
        val=f"{counts['val']:,}",
        test=f"{counts['test']:,}",
    )
    # Drawn again without the question just answered; the message waits in the state.
    st.rerun()
