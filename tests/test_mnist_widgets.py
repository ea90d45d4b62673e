"""The MNIST drawing panel's fast figures against `cnnlib.figures`, which they stand in for:
for any reading, the chart the browser receives must be the one `probability_bars` and
`feature_map_grid` would have drawn (the maps in single precision)."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.io as pio
import pytest

from cnnlib import figures
from views import _mnist_widgets as mw


def sent(figure) -> dict:
    """The figure as Streamlit sends it, with typed arrays decoded to plain lists."""

    def plain(value):
        if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            if "shape" in value:
                array = array.reshape([int(size) for size in value["shape"].split(",")])
            return array.astype(float).tolist()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return plain(json.loads(pio.to_json(figure, validate=False)))


@pytest.mark.parametrize("seed", range(4))
def test_probability_figure_is_the_probability_bars_figure(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(10, 0.3)).astype(np.float32)
    names = [str(digit) for digit in range(10)]
    ours = sent(mw.probability_figure(probabilities, names))
    theirs = sent(figures.probability_bars(probabilities, names))
    assert ours == theirs
    # The predicted digit's bar stands out.
    assert ours["data"][0]["marker"]["color"][int(probabilities.argmax())] == (
        figures.CORRECT_COLOUR
    )


@pytest.mark.parametrize("shape", [(26, 26, 32), (11, 11, 64), (5, 5, 3)])
def test_feature_map_figure_is_the_feature_map_grid(shape):
    rng = np.random.default_rng(1)
    values = rng.gamma(1.0, size=shape).astype(np.float32)
    values[:, :, 1] = 0.0  # a filter that finds nothing
    ours = sent(mw.feature_map_figure(values, "conv2d_1"))
    theirs = sent(figures.feature_map_grid(values, title="conv2d_1", columns=8))
    ours_z = np.asarray(ours["data"][0].pop("z"), dtype=float)
    theirs_z = np.asarray(theirs["data"][0].pop("z"), dtype=float)
    assert ours == theirs
    np.testing.assert_array_equal(np.isnan(ours_z), np.isnan(theirs_z))
    np.testing.assert_allclose(ours_z, theirs_z, atol=1e-6, equal_nan=True)


def test_the_fast_figures_follow_each_sessions_language():
    from cnnlib.i18n import language

    names = [str(digit) for digit in range(10)]
    probabilities = np.full(10, 0.1, dtype=np.float32)
    maps = np.random.default_rng(0).random((6, 6, 4)).astype(np.float32)
    # One session's language is never another's: each figure matches `cnnlib.figures` in the
    # language of the script run that asks for it, whichever language asked first.
    for code in ("en", "ko", "en", "ko"):
        with language(code):
            assert sent(mw.probability_figure(probabilities, names)) == sent(
                figures.probability_bars(probabilities, names)
            )
            fast = sent(mw.feature_map_figure(maps, "conv"))
            full = sent(figures.feature_map_grid(maps.astype(np.float32), title="conv", columns=8))
            assert fast["data"][0]["hovertemplate"] == full["data"][0]["hovertemplate"]
    with language("ko"):
        korean = sent(mw.probability_figure(probabilities, names))
    assert korean["layout"]["yaxis"]["title"]["text"] != "probability"
