"""The explanation panels through Streamlit's AppTest, each in a small script of its own with a
tiny seeded model: the class selector starts at the model's answer and follows a new image,
the three overlays and their readings appear for the chosen class, filter pictures are
computed on request and then shown at once, and an uploaded image is prepared step by step
or refused with its message."""

from __future__ import annotations

import io
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnlib import explain
from cnnlib.inference import predict_proba

NAMES = [f"digit {n}" for n in range(4)]


def tiny_digit_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu", name="conv_a"),
            layers.MaxPooling2D(2),
            layers.Conv2D(6, 3, activation="relu", name="conv_b"),
            layers.Flatten(),
            layers.Dense(4, activation="softmax"),
        ]
    )


def digit_images(count: int = 12, seed: int = 1) -> np.ndarray:
    """Bright blobs on black, uint8 (count, 28, 28, 1), as test sets hold images."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), dtype=np.uint8)
    for image in images:
        top, left = rng.integers(2, 16, size=2)
        image[top : top + 10, left : left + rng.integers(3, 10)] = rng.integers(120, 256)
    return images


def explain_script():
    import streamlit as st

    from views._explain_widgets import explain_panel

    state = st.session_state
    explain_panel(state["model"], state["image"], state["names"], key="why")


def filters_script():
    import streamlit as st

    from views._explain_widgets import filters_panel

    filters_panel(st.session_state["model"], st.session_state["images"], key="filters")


def own_image_script():
    import streamlit as st

    from views._explain_widgets import own_image_panel

    own_image_panel(st.session_state["model"], st.session_state["names"], key="own")


def start(script, **state) -> AppTest:
    at = AppTest.from_function(script, default_timeout=120)
    for name, value in state.items():
        at.session_state[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> list[str]:
    return [
        json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")
    ]


def class_selector(at: AppTest):
    found = [box for box in at.selectbox if box.label == "Explain the class"]
    assert len(found) == 1
    return found[0]


def test_explain_panel_starts_at_the_answer_and_explains_any_class():
    model = tiny_digit_model()
    images = digit_images()
    predicted = predict_proba(model, images).argmax(axis=1)
    first = int(predicted[0])
    at = start(explain_script, model=model, image=images[0], names=NAMES)
    assert class_selector(at).value == first
    titles = chart_titles(at)
    assert len(titles) == 3
    assert titles[0] == f"Saliency for {NAMES[first]}"
    assert titles[1] == f"Grad-CAM for {NAMES[first]} on conv_b"
    captions = " ".join(caption.value for caption in at.caption)
    for text in (explain.SALIENCY_TEXT, explain.GRAD_CAM_TEXT, explain.OCCLUSION_TEXT):
        assert text in captions

    other = (first + 1) % 4
    class_selector(at).set_value(other)
    at.selectbox(key="why_layer").set_value("conv_a")
    at.run()
    assert not at.exception, at.exception
    assert chart_titles(at)[:2] == [
        f"Saliency for {NAMES[other]}",
        f"Grad-CAM for {NAMES[other]} on conv_a",
    ]

    # A new image: the selector starts again at the model's answer for it.
    second = next(index for index in range(1, len(images)) if predicted[index] != other)
    at.session_state["image"] = images[second]
    at.run()
    assert not at.exception, at.exception
    assert class_selector(at).value == int(predicted[second])


def test_filters_panel_computes_on_request_then_shows_at_once():
    model = tiny_digit_model()
    images = digit_images(30)
    at = start(filters_script, model=model, images=images)
    assert len(at.get("image")) == 0
    at.button(key="filters_run").click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 3  # all filters, the chosen one large, its top images
    assert explain.cached_filter_views(model, "conv_a", images, k=9)

    at.selectbox(key="filters_filter_conv_a").set_value(3)
    at.run()
    assert not at.exception, at.exception
    assert len(at.button) == 0  # cached: shown without asking again
    _, responses = explain.top_images(model, "conv_a", images, k=9)
    captions = [text for element in at.get("image") for text in element.captions]
    assert "What filter 3 looks for" in captions
    shown = captions[-1].split("Strongest responses: ")[1].split(", ")
    np.testing.assert_allclose([float(value) for value in shown], responses[3], atol=0.006)


def png_bytes(array: np.ndarray, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


def test_own_image_panel_shows_the_steps_top_three_and_explanations():
    model = tiny_digit_model()
    with np.load(Path(__file__).parent / "fixtures" / "mnist_t10k_first40.npz") as saved:
        digit = saved["x_test"][0]
    at = start(own_image_script, model=model, names=NAMES)
    at.file_uploader(key="own_upload").upload("seven.png", png_bytes(255 - digit), "image/png")
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    step_captions = [text for element in at.get("image") for text in element.captions]
    assert step_captions[0] == "your image" and "inverted (light background)" in step_captions
    assert step_captions[-1] == "centred by mass in 28×28"
    progress = [bar.proto.text for bar in at.get("progress")]
    assert len(progress) == 3 and progress[0].startswith("1. ")
    # Open layers large (maps and filters) and the three explanations.
    titles = chart_titles(at)
    assert any("all 4 channels" in title for title in titles)
    assert sum(title.startswith(("Saliency", "Grad-CAM", "Occlusion")) for title in titles) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a picture at all", "not an image"),
        (png_bytes(np.zeros((8, 8, 4), np.uint8) + 255, "PNG"), "No digit found"),
    ],
    ids=["text", "empty-picture"],
)
def test_own_image_panel_refuses_bad_files_with_their_message(content, message):
    at = start(own_image_script, model=tiny_digit_model(), names=NAMES)
    at.file_uploader(key="own_upload").upload("upload.png", content, "image/png")
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert len(at.get("plotly_chart")) == 0


def tiny_colour_model(seed: int = 2) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(4, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(4),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def test_colour_model_gets_a_centre_crop_and_a_grey_occlusion_patch():
    model = tiny_colour_model()
    names = ["cat", "dog", "ship"]
    photo = np.random.default_rng(3).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    at = start(own_image_script, model=model, names=names)
    at.file_uploader(key="own_upload").upload("photo.jpg", png_bytes(photo, "JPEG"), "image/jpeg")
    at.run()
    assert not at.exception, at.exception
    step_captions = [text for element in at.get("image") for text in element.captions]
    assert step_captions == ["your image", "centre crop", "resized to 32×32"]
    assert len(at.get("progress")) == 3
    assert any(caption.value.endswith("The patch is grey.") for caption in at.caption)
    predicted = int(predict_proba(model, explain_input(photo)).argmax())
    assert class_selector(at).value == predicted


def explain_input(photo: np.ndarray) -> np.ndarray:
    """The 32×32 model input of the photo: its centre 60×60 averaged down (independent of the
    preparation's code, through Pillow's box filter on a JPEG round trip)."""
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(photo, "JPEG"))))
    square = Image.fromarray(decoded[:, 15:75])
    return np.asarray(square.resize((32, 32), Image.Resampling.BOX), dtype=np.float32) / 255
