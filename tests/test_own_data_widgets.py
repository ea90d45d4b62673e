"""The "your own data" panel through Streamlit's AppTest: the example and an uploaded zip of
Korean class folders are checked, shown with a sample grid, imported only after a
confirmation, listed, and deleted only after a second one; a refused upload shows why and
stores nothing."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnlib import own_data


def panel_app():
    from views._own_data_widgets import own_data_panel

    own_data_panel("own")


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    return home


def open_panel() -> AppTest:
    at = AppTest.from_function(panel_app, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def korean_zip(classes=("고양이", "강아지"), per_class=6) -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in classes:
            for index in range(per_class):
                image = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
                data = io.BytesIO()
                image.save(data, format="PNG")
                archive.writestr(f"photos/{name}/{index}.png", data.getvalue())
    return out.getvalue()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_example_is_reported_and_imported_only_after_confirmation(home):
    at = open_panel()
    assert at.caption[-1].value.startswith("No stored sets yet")
    at.radio(key="own_w_source").set_value(at.radio(key="own_w_source").options[1]).run()
    assert not at.exception, at.exception
    assert metric(at, "Images") == "1,797" and metric(at, "Classes") == "10"
    # One row of 8 samples per digit.
    grids = at.get("image")
    assert len(grids) == 10 and all(len(grid.value) == 8 for grid in grids)
    assert at.select_slider(key="own_w_size").value == 8
    assert at.radio(key="own_w_colour").value == "grayscale"
    at.select_slider(key="own_w_size").set_value(16)
    at.button(key="own_import").click().run()
    assert own_data.list_stored() == []  # asked, not yet done
    assert any("Import 1,797 images" in m.value for m in at.markdown)
    at.button(key="own_confirm_import").click().run()
    assert not at.exception, at.exception
    assert at.success, [e.value for e in at.error]
    (info,) = own_data.list_stored()
    assert info.title == own_data.EXAMPLE_TITLE and info.input_shape == (16, 16, 1)
    assert sum(info.counts.values()) == 1797
    assert any(info.title in m.value for m in at.markdown)


def test_uploaded_korean_zip_is_imported_listed_and_deleted_after_confirmation(home):
    at = open_panel()
    at.file_uploader(key="own_upload").upload("동물.zip", korean_zip(), "application/zip")
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["class"]) == ["강아지", "고양이"] and list(table["images"]) == [6, 6]
    assert at.text_input(key="own_w_title").value == "동물"
    assert at.radio(key="own_w_colour").value == "rgb"
    at.radio(key="own_w_fit").set_value("crop")
    at.button(key="own_import").click().run()
    at.button(key="own_confirm_import").click().run()
    assert not at.exception, at.exception
    (info,) = own_data.list_stored()
    assert info.name == "동물" and info.class_names == ("강아지", "고양이")
    assert info.settings["fit"] == "crop" and info.input_shape == (16, 16, 3)

    at.button(key="own_delete_동물").click().run()
    assert len(own_data.list_stored()) == 1  # asked, not yet done
    at.button(key="own_delete_yes").click().run()
    assert not at.exception, at.exception
    assert own_data.list_stored() == []


def test_same_name_needs_replace_and_refused_upload_stores_nothing(home):
    own_data.import_upload(korean_zip(), "동물", home=home)
    at = open_panel()
    at.file_uploader(key="own_upload").upload(
        "동물.zip", korean_zip(("새", "물고기")), "application/zip"
    )
    at.run()
    at.button(key="own_import").click().run()
    assert at.button(key="own_confirm_import").disabled
    at.checkbox(key="own_replace").check().run()
    at.button(key="own_confirm_import").click().run()
    assert not at.exception, at.exception
    (info,) = own_data.list_stored()
    assert info.class_names == ("물고기", "새")

    at.file_uploader(key="own_upload").clear()
    at.file_uploader(key="own_upload").upload("one.zip", korean_zip(("하나",)), "application/zip")
    at.run()
    assert not at.exception, at.exception
    assert any("at least two" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "own_import"]
    assert own_data.list_stored() == [info]


def dataset_app():
    import streamlit as st

    from views._own_data_stored import stored_dataset

    first, again = stored_dataset("own:동물"), stored_dataset("동물")
    st.session_state["same"] = first is again
    st.session_state["classes"] = first.class_names
    st.session_state["val"] = len(first.x_val)


def test_stored_dataset_is_read_once_and_afresh_after_a_new_import(home):
    own_data.import_upload(korean_zip(), "동물", home=home)
    at = AppTest.from_function(dataset_app, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.session_state["same"] and at.session_state["classes"] == ("강아지", "고양이")
    assert at.session_state["val"] == 2
    own_data.import_upload(korean_zip(("새", "물고기")), "동물", home=home, replace=True)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["classes"] == ("물고기", "새")
