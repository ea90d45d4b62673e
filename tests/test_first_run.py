"""The dashboard as a newcomer first meets it: a home page that says what each page teaches and
in which order to visit them, pages that open fast (no TensorFlow before it is needed), pages
that open on a fresh machine with no datasets yet, and server settings that hide tracebacks.

Each page's own bad-input tests belong to that page's test module; what is here spans pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from views import _state
from views._catalog import PAGES

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = str(REPO_ROOT / "app.py")
EXISTING = list(PAGES)

# Runs in a fresh interpreter, so that modules other tests imported do not count: renders the
# home page and the explorer with AppTest, then reports what got imported.
_IMPORT_PROBE = """
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest

app = sys.argv[1]
at = AppTest.from_file(app, default_timeout=60).run()
report = {"home": [e.value for e in at.exception], "home_title": [t.value for t in at.title]}
at.switch_page("views/explorer.py").run()
report["explorer"] = [e.value for e in at.exception]
report["explorer_title"] = [t.value for t in at.title]
report["tensorflow"] = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("REPORT" + json.dumps(report))
"""


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """An empty CNNLAB_HOME, offline: a machine where nothing has been fetched yet.

    AppTest reads the project's config, which hides error details from users; a failing test
    should show them, so they are switched on for the test's duration.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    shown = st_config.get_option("client.showErrorDetails")
    st_config.set_option("client.showErrorDetails", "full")
    yield home
    st_config.set_option("client.showErrorDetails", shown)


def _errors(at) -> list[str]:
    """Each exception a page showed: its message and the last lines of its traceback."""
    return [f"{element.value}\n" + "\n".join(element.stack_trace[-6:]) for element in at.exception]


def test_home_and_explorer_render_without_importing_tensorflow(fresh_home):
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, APP],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("REPORT"))
    assert report["home"] == [] and report["home_title"] == ["CNN Lab"]
    if "explorer" in report:
        assert report["explorer"] == [] and report["explorer_title"]
    assert report["tensorflow"] == [], "Opening these pages imported " + ", ".join(
        report["tensorflow"][:5]
    )


def test_home_lists_each_page_with_what_it_teaches_in_visiting_order(fresh_home):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert _errors(at) == []
    links = [element.proto for element in at.get("page_link")]
    assert [link.label for link in links] == [
        f"{step}. {entry.title}" for step, entry in enumerate(EXISTING, start=1)
    ]
    assert [link.page for link in links] == [Path(entry.path).stem for entry in EXISTING]
    texts = [element.value for element in at.markdown]
    captions = [element.value for element in at.caption]
    for entry in EXISTING:
        assert entry.teaches in texts, f"The home page does not say what {entry.title} teaches"
        assert any(entry.lecture in caption for caption in captions)


_EACH_PAGE = [pytest.param(entry.path, id=Path(entry.path).stem) for entry in EXISTING]
# The pages that train need a dataset on disk.
_NEEDS_DATA = ("views/mnist.py", "views/cifar10.py")


@pytest.mark.parametrize("script", _EACH_PAGE)
def test_every_page_opens_on_a_fresh_machine_without_datasets(fresh_home, script):
    """No dataset on disk and no network: a page says where to put the files, and never
    shows a traceback."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(script).run()
    assert _errors(at) == []
    assert at.title or at.header, f"{script} shows no heading"
    messages = [element.value for element in [*at.error, *at.warning]]
    data_folder = str(fresh_home / "data")
    assert all(data_folder in message for message in messages), messages
    if script in _NEEDS_DATA:
        assert messages, f"{script} does not say that its dataset is missing"
    # Whatever the page says about the missing data, the session's shared state survives it.
    assert isinstance(at.session_state[_state.MODELS], dict)


@pytest.mark.parametrize("script", _EACH_PAGE)
def test_bookmarked_page_runs_inside_the_apps_navigation(fresh_home, script):
    """A bookmarked page (a server's very first request included) runs inside `app.py`'s
    `st.navigation`, after the session set-up: no page script ever runs on its own."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(script).run()
    assert _errors(at) == []
    app_ran = _state.MODELS in at.session_state
    assert app_ran, f"{script} ran without app.py's session set-up"


def test_switching_pages_keeps_what_the_session_holds(fresh_home):
    """Every page switch reruns app.py; `_state.init` must never replace what a session holds."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    held = {
        key: at.session_state[key]
        for key in (_state.MODELS, _state.MNIST, _state.CIFAR, _state.ENSEMBLE)
    }
    for entry in EXISTING:
        at.switch_page(entry.path).run()
        assert _errors(at) == [], entry.path
    at.switch_page("views/home.py").run()
    for key, value in held.items():
        assert at.session_state[key] is value, f"{key} was replaced by a page switch"


def test_server_settings_hide_tracebacks_and_limit_uploads():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    # A page's unexpected error must reach the user as a short message, not a traceback.
    assert config["client"]["showErrorDetails"] in ("none", False)
    assert config["browser"]["gatherUsageStats"] is False
    # Model and network files are small; a bounded upload keeps a mistaken file from filling
    # the server's memory.
    assert 1 <= config["server"]["maxUploadSize"] <= 200
    assert config["server"]["headless"] is True
