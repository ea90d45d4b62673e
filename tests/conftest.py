"""Fixtures shared by the whole test suite.

Data: `small_home` gives a CNN Lab home folder holding small MNIST and CIFAR-10 sets in the real
file formats (see `datafiles.py`), with CNNLAB_HOME pointing at it and CNNLAB_OFFLINE=1, so that
no loader ever waits on the network.
"""

from __future__ import annotations

import pytest
from datafiles import write_small_home


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    """A home folder with 600 + 200 synthetic images per dataset, used through the environment."""
    home = tmp_path / "cnnlab-home"
    write_small_home(home)
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    yield home
