"""Fixtures shared by the whole test suite.

Data: `small_home` gives a CNN Lab home folder holding small MNIST and CIFAR-10 sets in the real
file formats (see `datafiles.py`), with CNNLAB_HOME pointing at it and CNNLAB_OFFLINE=1, so that
no loader ever waits on the network.
"""

from __future__ import annotations

import pytest
from datafiles import write_small_home
from streamlit.runtime.pages_manager import PagesManager


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    """A home folder with 600 + 200 synthetic images per dataset, used through the environment."""
    home = tmp_path / "cnnlab-home"
    write_small_home(home)
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    yield home


@pytest.fixture(autouse=True)
def navigation_as_on_a_running_server(monkeypatch):
    """Make every AppTest run go through `app.py`'s `st.navigation`, as every run does on a
    server after its first request.

    Because a `pages/` folder exists, AppTest starts each run in Streamlit's older multipage
    mode, which runs a page script on its own, without `app.py`; `pages/_state.py`'s
    `route_through_app` covers the one such run a real server makes.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
