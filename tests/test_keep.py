"""Nothing lost, little held (issue 12, items 9 and 10): a finished model is kept lean and
saved to the library at once; a session keeps a bounded number of models in memory; a server
killed while saving leaves no damaged file in the library."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest
from test_library import trained_record

from cnnlib.library import ModelLibrary
from cnnlib.runs import lean_model

REPO = Path(__file__).resolve().parents[1]


def test_a_lean_model_reads_as_the_trained_one_without_optimizer_state():
    record = trained_record()
    assert record.model.optimizer is not None and record.model.optimizer.variables
    lean = lean_model(record.model)
    assert getattr(lean, "optimizer", None) is None
    images = np.random.default_rng(1).random((5, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(
        lean.predict(images, verbose=0),
        record.model.predict(images, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert lean.count_params() == record.model.count_params()


def test_a_session_keeps_its_newest_models_and_the_rest_stay_in_the_library(
    small_home, monkeypatch
):
    monkeypatch.setenv("CNNLAB_MAX_SESSION_MODELS", "1")
    at = AppTest.from_file("../app.py", default_timeout=120).run()
    at.switch_page("views/mnist.py").run()
    at.number_input(key="mnist_w_epochs").set_value(1)
    at.select_slider(key="mnist_w_train_size_mnist").set_value(500)
    at.run()
    for name in ("first", "second"):
        at.text_input(key="mnist_w_model_name").set_value(name).run()
        at.button(key="mnist_start").click().run()
        assert at.session_state["mnist_state"].run.job.wait(240)
        at.run()
        assert not at.exception, at.exception
    assert list(at.session_state["models"]) == ["second"]
    assert "keeps its 1 newest models" in at.session_state["models_note"]
    # The one that left memory is in the library and loads again.
    names = {entry["name"] for entry in ModelLibrary().list()}
    assert names == {"first", "second"}
    assert ModelLibrary().load("first").model is not None


def test_killing_the_server_while_it_saves_leaves_only_whole_files(tmp_path):
    """A process saving models one after another is killed with SIGKILL mid-run; every file
    the library then lists loads, and the models saved before the kill are all there."""
    home = tmp_path / "home"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from test_library import trained_record
        from cnnlib.library import ModelLibrary

        record = trained_record()
        library = ModelLibrary()
        for number in range(1000):
            record.name = f"run {{number}}"
            library.save(record)
            print(number, flush=True)
        """
    )
    env = {**os.environ, "CNNLAB_HOME": str(home), "CNNLAB_OFFLINE": "1"}
    saver = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    saved = []
    deadline = time.monotonic() + 180
    while len(saved) < 5 and time.monotonic() < deadline:
        line = saver.stdout.readline()
        if not line:
            break
        saved.append(int(line))
    saver.send_signal(signal.SIGKILL)
    saver.wait(30)
    assert len(saved) >= 5, "the saving process did not get going"
    library = ModelLibrary(home)
    entries = library.list()
    names = {entry["name"] for entry in entries}
    assert {f"run {number}" for number in saved} <= names
    assert all(entry["error"] is None for entry in entries), entries
    for entry in entries:
        assert library.load(entry["name"]).model is not None
